"""Keyword spotting on speech synthesised with espeak-ng, as 49x10 MFCC features.

Classes are Speech Commands' twelve (Warden 2018; the KWS task of MLPerf Tiny): the ten
keywords, `unknown` (other words: Speech Commands' auxiliary words) and `silence` (noise
only). A clip is one second at 16 kHz: one word spoken by espeak-ng with a random accent
(voice), speaker (variant), speed and pitch, resampled, scaled by a random gain, shifted to a
random start and mixed with noise (white, pink, brown or mains hum) at a random SNR.

The split is by speaker: the variants are divided 70/15/15 into train, validation and test,
so the test split holds only speakers never heard in training (all accents appear in every
split). Every random choice comes from one seed, and each word's rendering is the one espeak-ng
repeats (`synthesize`), so the same seed and espeak-ng version give the same clips; features
are cached (see `cache_dir`).

`mfcc(audio)` is the exact model input, the 49x10 MFCC shape of Hello Edge (Zhang et al. 2017)
and MLPerf Tiny's KWS, with these parameters: 40 ms Hann windows every 20 ms (49 frames per
second), power spectrum (FFT of 1024), 40 triangular mel filters from 20 to 4,000 Hz, natural
log (of energy + 1e-6), orthonormal DCT-II, the first 10 coefficients.
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from nas.data._dataset import Dataset, _frozen, make_dataset, stratified_split
from nas.data.folder import class_dirs, is_skipped
from nas.errors import TinyzooError

__all__ = [
    "KEYWORDS", "LABELS", "SAMPLE_RATE", "extra_test", "load_kws", "mfcc", "spec_augment",
    "synthesize",
]  # fmt: skip

SAMPLE_RATE = 16_000
KEYWORDS = ("yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go")
# TF's speech_commands order: silence and unknown first, then the keywords.
LABELS = ("silence", "unknown", *KEYWORDS)
UNKNOWN_WORDS = (
    "bed", "bird", "cat", "dog", "eight", "five", "four", "happy", "house", "marvin", "nine",
    "one", "seven", "sheila", "six", "three", "tree", "two", "wow", "zero", "backward",
    "forward", "follow", "learn", "visual",
)  # fmt: skip
# espeak-ng's English voices (accents), by file: "en-gb+VARIANT" would ignore the variant.
VOICES = (
    "gmw/en", "gmw/en-US", "gmw/en-GB-scotland", "gmw/en-GB-x-gbclan", "gmw/en-GB-x-gbcwmd",
    "gmw/en-GB-x-rp", "gmw/en-029",
)  # fmt: skip
# Variants (speakers): human-sounding ones, with whisper, croak and the klatt synthesiser kept
# for variety; robot and novelty voices left out.
VARIANTS = (
    "m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "f1", "f2", "f3", "f4", "f5", "adam",
    "Alex", "Alicia", "Andy", "Annie", "aunty", "belinda", "benjamin", "caleb", "david", "ed",
    "edward", "grandma", "grandpa", "john", "linda", "max", "michel", "Mike", "paul", "pedro",
    "quincy", "rob", "robert", "steph", "travis", "victor", "whisper", "whisperf", "croak",
    "klatt", "klatt2", "klatt3",
)  # fmt: skip
PER_CLASS = {"train": 400, "val": 80, "test": 80}
SPEAKER_SHARES = (0.70, 0.15)  # train, val; test gets the rest
VERSION = 1  # bump when the generator changes: it keys the cache

# MFCC settings (module docstring).
WINDOW, STRIDE, FFT = 640, 320, 1024
N_MELS, N_MFCC, F_LO, F_HI = 40, 10, 20.0, 4000.0
FRAMES = 1 + (SAMPLE_RATE - WINDOW) // STRIDE  # 49
MFCC_CHUNK = 256  # clips per FFT batch: ~300 MB of float64 frames and spectra at most


# --- features ---------------------------------------------------------------------------------


@functools.lru_cache(maxsize=4)
def _mel_matrix(sample_rate: int) -> np.ndarray:
    """(FFT // 2 + 1, N_MELS) triangular filters, equally spaced on the HTK mel scale."""

    def mel(f: np.ndarray) -> np.ndarray:
        return 1127.0 * np.log1p(f / 700.0)

    edges_mel = np.linspace(mel(np.array(F_LO)), mel(np.array(F_HI)), N_MELS + 2)
    edges = 700.0 * np.expm1(edges_mel / 1127.0)
    freqs = np.arange(FFT // 2 + 1) * sample_rate / FFT
    lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    up = (freqs - lo) / (mid - lo)
    down = (hi - freqs) / (hi - mid)
    return np.maximum(0.0, np.minimum(up, down)).T.astype(np.float64)


@functools.lru_cache(maxsize=1)
def _dct_matrix() -> np.ndarray:
    """(N_MELS, N_MFCC) orthonormal DCT-II."""
    n = np.arange(N_MELS)[:, None]
    k = np.arange(N_MFCC)[None, :]
    m = np.cos(np.pi / N_MELS * (n + 0.5) * k) * np.sqrt(2.0 / N_MELS)
    m[:, 0] /= np.sqrt(2.0)
    return m


def mfcc(audio: np.ndarray, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """The model's input for 1 s of mono audio in [-1, 1]: float32 (49, 10, 1).

    A batch (N, 16000) gives (N, 49, 10, 1), computed in chunks so that memory stays small.
    Audio must be 16 kHz and exactly one second.
    """
    if sample_rate != SAMPLE_RATE:
        raise TinyzooError(
            f"mfcc needs {SAMPLE_RATE} Hz audio, got {sample_rate} Hz: resample it first."
        )
    a = np.asarray(audio)
    single = a.ndim == 1
    a = a[None] if single else a
    if a.ndim != 2 or a.shape[1] != SAMPLE_RATE:
        raise TinyzooError(
            f"mfcc needs one second of mono audio ({SAMPLE_RATE} samples), got shape {a.shape}."
        )
    out = np.empty((len(a), FRAMES, N_MFCC, 1), dtype=np.float32)
    for i in range(0, len(a), MFCC_CHUNK):
        out[i : i + MFCC_CHUNK, ..., 0] = _mfcc_rows(a[i : i + MFCC_CHUNK])
    return out[0] if single else out


def spec_augment(
    x: np.ndarray, rng: np.random.Generator, shift: int = 4, time_mask: int = 8, coef_mask: int = 2
) -> np.ndarray:
    """A fresh variant of MFCC maps (N, frames, coefficients, 1) for one epoch of training.

    SpecAugment (Park et al. 2019) on the features: each map is shifted in time by up to
    `shift` frames (circularly), then one band of up to `time_mask` frames and one of up to
    `coef_mask` coefficients are set to the map's mean over time (per coefficient).
    """
    n, t, f = x.shape[:3]
    rows = np.arange(n)[:, None]
    frames = (np.arange(t)[None, :] - rng.integers(-shift, shift + 1, (n, 1))) % t
    out = x[rows, frames]
    fill = out.mean(axis=1, keepdims=True)
    for size, width in ((t, time_mask), (f, coef_mask)):
        w = rng.integers(0, width + 1, (n, 1))
        start = rng.integers(0, size - w + 1)
        band = (np.arange(size)[None, :] >= start) & (np.arange(size)[None, :] < start + w)
        band = band[:, :, None, None] if size == t else band[:, None, :, None]
        out = np.where(band, fill, out)
    return out.astype(x.dtype, copy=False)


def _mfcc_rows(a: np.ndarray) -> np.ndarray:
    starts = np.arange(FRAMES) * STRIDE
    frames = a.astype(np.float64)[:, starts[:, None] + np.arange(WINDOW)[None, :]]  # (N, 49, 640)
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(WINDOW) / WINDOW)  # periodic Hann
    power = np.abs(np.fft.rfft(frames * window, n=FFT)) ** 2
    return np.log(power @ _mel_matrix(SAMPLE_RATE) + 1e-6) @ _dct_matrix()


# --- synthesis --------------------------------------------------------------------------------


def _espeak() -> str:
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise TinyzooError(
            "task kws synthesises speech with espeak-ng, which is not installed. "
            "Run: apt-get install espeak-ng (or `make setup`)."
        )
    return exe


def _espeak_version(exe: str) -> str:
    return subprocess.run([exe, "--version"], capture_output=True, text=True, check=True).stdout


RENDERINGS = 4  # synthesize's tries for two identical renderings


def synthesize(word: str, voice: str, variant: str, speed: int, pitch: int) -> np.ndarray:
    """espeak-ng's rendering of `word`, float64 in [-1, 1] at 16 kHz (any length).

    The same rendering every time: a rendering counts once two in a row agree. espeak-ng
    1.51 repeated itself over 2 x 6,158 renderings (every word of the seed-0 task), but once
    in a test run two renderings of one word in one process differed, for a reason not
    found (its breath noise comes from C's unseeded rand(), the same in every process).
    """
    previous = _render(word, voice, variant, speed, pitch)
    for _ in range(RENDERINGS - 1):
        wav = _render(word, voice, variant, speed, pitch)
        if wav == previous:
            break
        previous = wav
    else:
        raise TinyzooError(
            f"espeak-ng renders {word!r} with voice {voice}+{variant} differently each time "
            f"({RENDERINGS} tries), so the kws clips would not repeat. Compare two runs of "
            f"`espeak-ng -v {voice}+{variant} --stdout {word} | md5sum`; if they differ, "
            "reinstall espeak-ng (apt-get install --reinstall espeak-ng)."
        )
    pcm = np.frombuffer(wav[44 : 44 + (len(wav) - 44) // 2 * 2], dtype="<i2") / 32768.0
    return _resample(pcm, 22_050, SAMPLE_RATE)


def _render(word: str, voice: str, variant: str, speed: int, pitch: int) -> bytes:
    """espeak-ng's .wav bytes for `word` (checked to be 22,050 Hz .wav)."""
    try:
        wav = subprocess.run(
            [_espeak(), "-v", f"{voice}+{variant}", "-s", str(speed), "-p", str(pitch),
             "--stdout", word],
            capture_output=True, check=True,
        ).stdout  # fmt: skip
    except subprocess.CalledProcessError as e:
        raise TinyzooError(
            f"espeak-ng failed on {word!r} with voice {voice}+{variant} (exit {e.returncode}: "
            f"{e.stderr.decode(errors='replace').strip()[:200]}). Reinstall espeak-ng "
            "(apt-get install --reinstall espeak-ng)."
        ) from None
    # A RIFF header (44 bytes, 22,050 Hz, 16-bit mono: espeak-ng's only output format).
    if wav[:4] != b"RIFF" or int.from_bytes(wav[24:28], "little") != 22_050:
        raise TinyzooError(f"espeak-ng gave unexpected audio for {word!r} ({wav[:44]!r}).")
    return wav


def _resample(x: np.ndarray, src: int, dst: int) -> np.ndarray:
    """Band-limited resampling by zero-padding/truncating the spectrum (fine for short clips)."""
    n_out = int(round(len(x) * dst / src))
    if n_out == 0 or len(x) == 0:
        return np.zeros(n_out)
    spec = np.fft.rfft(x)
    keep = n_out // 2 + 1
    out_spec = np.zeros(keep, dtype=complex)
    m = min(keep, len(spec))
    out_spec[:m] = spec[:m]
    return np.fft.irfft(out_spec, n=n_out) * (n_out / len(x))


def _noise(rng: np.random.Generator, kind: str, n: int) -> np.ndarray:
    """Unit-RMS noise: white, pink (1/f), brown (1/f^2) or mains hum (50/60 Hz + harmonics)."""
    if kind == "hum":
        t = np.arange(n) / SAMPLE_RATE
        f0 = rng.choice([50.0, 60.0])
        x = sum(rng.uniform(0.2, 1.0) * np.sin(2 * np.pi * f0 * h * t + rng.uniform(0, 6.3))
                for h in (1, 2, 3, 5))  # fmt: skip
        x = x + 0.05 * rng.standard_normal(n)
    else:
        spec = np.fft.rfft(rng.standard_normal(n))
        f = np.maximum(np.arange(len(spec)), 1.0)
        tilt = {"white": np.ones_like(f), "pink": f**-0.5, "brown": f**-1.0}[kind]
        spec = spec * tilt
        x = np.fft.irfft(spec, n=n)
    return x / (np.sqrt(np.mean(x**2)) + 1e-12)


def _clip(rng: np.random.Generator, speech: np.ndarray | None) -> np.ndarray:
    """One second: `speech` (None for silence) shifted, scaled and mixed with noise."""
    n = SAMPLE_RATE
    noise = _noise(rng, str(rng.choice(["white", "pink", "brown", "hum"])), n)
    if speech is None:  # silence: background noise only, from near-silent to loud
        return np.clip(noise * 10 ** rng.uniform(-4.0, -1.0), -1.0, 1.0)
    voiced = np.flatnonzero(np.abs(speech) > 1e-3)
    s = speech[voiced[0] : voiced[-1] + 1][:n] if len(voiced) else speech[:n]
    start = int(rng.integers(0, n - len(s) + 1))  # time shift: anywhere the word fits
    out = np.zeros(n)
    out[start : start + len(s)] = s
    gain = 10 ** (rng.uniform(-20.0, -1.0) / 20) / (np.max(np.abs(s)) + 1e-12)  # peak, dBFS
    out *= gain
    speech_rms = np.sqrt(np.mean(s**2)) * gain
    out += noise * speech_rms / 10 ** (rng.uniform(5.0, 30.0) / 20)  # SNR 5-30 dB
    return np.clip(out, -1.0, 1.0)


def _speakers(seed: int) -> dict[str, list[str]]:
    rng = np.random.default_rng(seed)
    order = [VARIANTS[i] for i in rng.permutation(len(VARIANTS))]
    a = round(len(order) * SPEAKER_SHARES[0])
    b = a + round(len(order) * SPEAKER_SHARES[1])
    return {"train": order[:a], "val": order[a:b], "test": order[b:]}


def _plan(
    seed: int, counts: dict[str, int] = PER_CLASS, stream: int | None = None
) -> list[tuple[str, int, str, str, str, int, int, int]]:
    """Every clip's (split, label id, word, voice, variant, speed, pitch, clip seed): `counts`
    clips per class and split, drawn from the seed's own stream or, given `stream`, another."""
    rng = np.random.default_rng(seed if stream is None else [seed, stream])
    speakers = _speakers(seed)
    plan = []
    for split, count in counts.items():
        for label_id, label in enumerate(LABELS):
            for _ in range(count):
                if label == "unknown":
                    word = str(rng.choice(UNKNOWN_WORDS))
                else:
                    word = "" if label == "silence" else label
                plan.append((
                    split, label_id, word, str(rng.choice(VOICES)),
                    str(rng.choice(speakers[split])), int(rng.integers(110, 211)),
                    int(rng.integers(20, 81)), int(rng.integers(2**63)),
                ))  # fmt: skip
    return plan


def cache_dir() -> Path:
    """Where generated features are kept: $TINYZOO_CACHE, else ~/.cache/tinyzoo."""
    return Path(os.environ.get("TINYZOO_CACHE") or Path.home() / ".cache" / "tinyzoo")


def _generate(plan: list[tuple[str, int, str, str, str, int, int, int]]) -> dict[str, np.ndarray]:
    """x_SPLIT and y_SPLIT arrays for every split in `plan`, in its order."""
    splits = list(dict.fromkeys(p[0] for p in plan))
    words = {(w, v, var, s, p) for _, _, w, v, var, s, p, _ in plan if w}
    sys.stderr.write(
        f"kws: synthesising {len(words)} utterances with espeak-ng for {len(plan)} clips "
        f"(first use only; cached in {cache_dir()})\n"
    )
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        speech = dict(zip(words, pool.map(lambda k: synthesize(*k), words), strict=True))
    feats: dict[str, list[np.ndarray]] = {split: [] for split in splits}
    labels: dict[str, list[int]] = {split: [] for split in splits}
    pending: dict[str, list[np.ndarray]] = {split: [] for split in splits}
    for split, label_id, word, voice, variant, speed, pitch, clip_seed in plan:
        rng = np.random.default_rng(clip_seed)
        s = speech[(word, voice, variant, speed, pitch)] if word else None
        pending[split].append(_clip(rng, s))
        labels[split].append(label_id)
        if len(pending[split]) == MFCC_CHUNK:  # features as we go: audio is never all held
            feats[split].append(mfcc(np.stack(pending[split])))
            pending[split] = []
    arrays: dict[str, np.ndarray] = {}
    for split in splits:
        if pending[split]:
            feats[split].append(mfcc(np.stack(pending[split])))
        arrays[f"x_{split}"] = np.concatenate(feats[split])
        arrays[f"y_{split}"] = np.asarray(labels[split], dtype=np.int64)
    return arrays


def _cached(seed: int, counts: dict[str, int], stream: int | None) -> dict[str, np.ndarray]:
    """`_plan(seed, counts, stream)`'s arrays, generated on first use and cached."""
    exe = _espeak()
    extra = "" if stream is None else f"|stream{stream}"
    key = hashlib.sha256(f"{VERSION}|{seed}|{counts}|{_espeak_version(exe)}{extra}".encode())
    tag = "" if stream is None else f"-x{stream}"
    path = cache_dir() / f"kws-v{VERSION}-s{seed}{tag}-{key.hexdigest()[:12]}.npz"
    if path.is_file():
        with np.load(path) as f:
            return {k: f[k] for k in f.files}
    arrays = _generate(_plan(seed, counts, stream))
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written whole, then renamed: an interrupted run never leaves a half cache behind.
    with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".npz", delete=False) as tmp:
        np.savez(tmp, **arrays)  # type: ignore[arg-type]
    os.chmod(tmp.name, 0o644)
    os.replace(tmp.name, path)
    return arrays


EXTRA_TEST_PER_CLASS = 800  # extra_test's default: 9,600 clips, ten times the test split


@functools.lru_cache(maxsize=2)
def extra_test(
    seed: int = 0, per_class: int = EXTRA_TEST_PER_CLASS
) -> tuple[np.ndarray, np.ndarray]:
    """(x, y): `per_class` further clips per class of the test split's speakers, for benchmarks.

    The test split's 960 clips measure one model's accuracy to about 0.8 points (one standard
    error), too coarse to tell two models apart by the fraction of a point (docs/RESULTS.md,
    agreement-kws). These clips come from the same speakers (never heard in training), drawn
    from their own random stream: each clip's seed (its time shift, gain and noise) differs
    from every clip's of the task, though a word may be spoken with the same voice, speed and
    pitch as one of the test split's. Like the test split they are never used for training or
    for choosing anything. The task's splits are unchanged. The arrays are read-only.
    """
    arrays = _cached(seed, {"test": per_class}, stream=1)
    return _frozen(arrays["x_test"]), _frozen(arrays["y_test"])


@functools.lru_cache(maxsize=2)
def load_kws(seed: int = 0) -> Dataset:
    """The synthetic keyword-spotting task (module docstring), generated once per seed."""
    arrays = _cached(seed, PER_CLASS, stream=None)
    x = np.concatenate([arrays["x_train"], arrays["x_val"]])
    y = np.concatenate([arrays["y_train"], arrays["y_val"]])
    n_train = len(arrays["y_train"])
    counts = {k: len(arrays[f"y_{k}"]) for k in PER_CLASS}
    return make_dataset(
        name="kws",
        labels=LABELS,
        x=x,
        y=y,
        splits=[np.arange(n_train), np.arange(n_train, len(y))],
        x_test=arrays["x_test"],
        y_test=arrays["y_test"],
        resolutions=(FRAMES,),
        description=(
            f"speech synthesised with espeak-ng (seed {seed}): the ten Speech Commands keywords, "
            f"unknown ({len(UNKNOWN_WORDS)} other words) and silence; {len(VOICES)} accents, "
            f"{len(VARIANTS)} speakers split by speaker into {counts['train']}/{counts['val']}/"
            f"{counts['test']} train/validation/test clips of 1 s at 16 kHz, with random speed, "
            "pitch, gain, time shift and noise (white, pink, brown, hum; 5-30 dB SNR)."
        ),
        base_recipe=(
            "nas.data.kws.mfcc of 1 s of 16 kHz mono audio in [-1, 1]: 40 ms Hann windows every "
            "20 ms, 1024-point power spectrum, 40 mel filters 20-4000 Hz, log(energy + 1e-6), "
            "orthonormal DCT-II, first 10 coefficients"
        ),
    )


# --- a user's recordings: the Speech Commands layout ------------------------------------------

BACKGROUND = "_background_noise_"
MIN_RATE, MAX_RATE = 4_000, 384_000  # sample rates a recording may have (resampled to 16 kHz)
SPEECH_FRACTIONS = (0.8, 0.1)  # train, val when the folder has no validation/testing lists


def _read_wav(path: Path) -> np.ndarray:
    """A .wav as float64 mono 16 kHz in [-1, 1]; TinyzooError naming the file if unreadable."""
    import wave

    try:
        with wave.open(str(path), "rb") as w:
            rate, channels, width = w.getframerate(), w.getnchannels(), w.getsampwidth()
            raw = w.readframes(w.getnframes())
        if width not in (1, 2, 4):
            raise ValueError(f"{8 * width}-bit samples")
        if not raw:
            raise ValueError("no samples")
        if not MIN_RATE <= rate <= MAX_RATE:  # 0 would divide by zero; 1 Hz, a huge resample
            raise ValueError(f"sample rate {rate} Hz (not {MIN_RATE:,} to {MAX_RATE:,} Hz)")
        # Cut inside a sample. A file cut between samples reads as a shorter recording, as does
        # one streamed from a recorder with 0xFFFFFFFF for its length, which the header holds.
        if len(raw) % (channels * width):
            raise ValueError(f"truncated: {len(raw)} B is not whole {channels * width}-byte frames")
    except (OSError, EOFError, ValueError, wave.Error) as exc:
        why = str(exc) or f"{type(exc).__name__} (a truncated or malformed header)"
        raise TinyzooError(
            f"cannot read audio {str(path)!r}: {why}. Use 8/16/32-bit PCM .wav files (Speech "
            "Commands' format is 16-bit mono 16 kHz); delete or re-export that file."
        ) from None
    if width == 1:
        a = (np.frombuffer(raw, dtype=np.uint8).astype(np.float64) - 128.0) / 128.0
    else:
        dtype = "<i2" if width == 2 else "<i4"
        a = np.frombuffer(raw, dtype=dtype) / float(2 ** (8 * width - 1))
    a = a.reshape(-1, channels).mean(axis=1) if channels > 1 else a
    return a if rate == SAMPLE_RATE else _resample(a, rate, SAMPLE_RATE)


def _one_second(a: np.ndarray) -> np.ndarray:
    """Zero-padded at the end or cut to exactly one second, as Speech Commands' own loader does."""
    out = np.zeros(SAMPLE_RATE)
    out[: min(len(a), SAMPLE_RATE)] = a[:SAMPLE_RATE]
    return out


def _wavs(folder: Path) -> list[Path]:
    """The folder's .wav files, less those that are no data (`is_skipped`: hidden ones)."""
    return [
        p
        for p in folder.iterdir()
        if p.is_file() and p.suffix.lower() == ".wav" and not is_skipped(p.name)
    ]


def _listed(root: Path, name: str) -> set[str]:
    f = root / name
    if not f.is_file():
        return set()
    try:
        return set(f.read_text(encoding="utf-8").split())
    except (OSError, UnicodeDecodeError) as exc:
        raise TinyzooError(
            f"cannot read {str(f)!r}: {exc}. It lists one clip path per line (Speech Commands' "
            "format); save it as UTF-8 text, or delete it to split the clips at random."
        ) from None


def load_speech_folder(root: Path, *, name: str, seed: int = 0) -> Dataset:
    """A folder of .wav files, one sub-folder per word (the Speech Commands layout).

    When every one of the ten keywords has a folder, the classes are Speech Commands' twelve:
    the keywords, `unknown` (all other word folders, sampled down to a keyword's average count)
    and `silence` (one-second slices of `_background_noise_/*.wav`, if present). Otherwise each
    sub-folder is a class. `validation_list.txt` and `testing_list.txt` (paths relative to
    `root`) choose the splits, as in Speech Commands; without them the split is 80/10/10,
    stratified, shuffled by `seed`.
    """
    root = Path(root).expanduser()
    dirs = [d for d in class_dirs(root, what=".wav recordings") if d.name != BACKGROUND]
    words = {d.name: sorted(_wavs(d)) for d in dirs}
    empty = [w for w, files in words.items() if not files]
    if empty:
        raise TinyzooError(
            f"class {empty[0]!r} ({root / empty[0]}) has no .wav files. Add recordings to it "
            "or remove the folder."
        )
    rng = np.random.default_rng(seed)
    speech_commands = set(KEYWORDS) <= set(words)
    files: list[tuple[str, Path]] = []
    if speech_commands:
        labels: tuple[str, ...] = LABELS
        mean = round(np.mean([len(words[k]) for k in KEYWORDS]))
        for k in KEYWORDS:
            files += [(k, f) for f in words[k]]
        others = sorted(f for w, fs in words.items() if w not in KEYWORDS for f in fs)
        if others:
            pick = np.sort(rng.permutation(len(others))[:mean])
            files += [("unknown", others[i]) for i in pick]
    else:
        labels = tuple(sorted(words))
        files = [(w, f) for w in labels for f in words[w]]
    slices: list[np.ndarray] = []
    if speech_commands and (root / BACKGROUND).is_dir():
        for a in map(_read_wav, sorted(_wavs(root / BACKGROUND))):
            slices += [
                a[i : i + SAMPLE_RATE] for i in range(0, len(a) - SAMPLE_RATE + 1, SAMPLE_RATE)
            ]
    if speech_commands and not slices:
        labels = LABELS[1:]  # no background noise: no silence class
    feats = [mfcc(_one_second(_read_wav(f))) for _, f in files]  # per file: memory stays small
    y = [labels.index(label) for label, _ in files]
    rel = [str(f.relative_to(root)) for _, f in files]
    n_silence = len(files) // max(1, len(labels) - 1)  # about one word class's share
    silence = [
        mfcc(slices[j] * 10 ** rng.uniform(-2.0, 0.0))  # quiet to as recorded
        for j in rng.permutation(len(slices))[:n_silence]
    ]
    present = sorted(set(y) | ({0} if silence else set()))
    if len(present) < 2:
        raise TinyzooError(
            f"data folder {str(root)!r} gives {len(present)} class with recordings; a classifier "
            "needs at least two. Put each word's .wav files in its own sub-folder."
        )
    val_list, test_list = _listed(root, "validation_list.txt"), _listed(root, "testing_list.txt")
    if val_list or test_list:
        where = [2 if r in test_list else 1 if r in val_list else 0 for r in rel]
        # Silence is in no list: its slices are shared out in the words' proportions.
        share = np.bincount(where, minlength=3) / max(1, len(where))
        cut = np.round(np.cumsum(share)[:2] * len(silence)).astype(int)
        where += [0 if i < cut[0] else 1 if i < cut[1] else 2 for i in range(len(silence))]
        y += [0] * len(silence)
        kinds = np.array(where)
        splits = [np.flatnonzero(kinds == k) for k in (0, 1, 2)]
        how = "by its validation_list.txt / testing_list.txt"
    else:
        y += [0] * len(silence)
        n = len(y)
        n_train, n_val = (round(n * f) for f in SPEECH_FRACTIONS)
        splits = stratified_split(np.asarray(y), (n_train, n_val, n - n_train - n_val), seed=seed)
        how = f"80/10/10, stratified with seed {seed}"
    x = np.stack(feats + silence)
    yy = np.asarray(y, dtype=np.int64)
    if any(len(s) == 0 for s in splits):
        raise TinyzooError(
            f"data folder {str(root)!r}: a split would be empty ({[len(s) for s in splits]} "
            "train/validation/test clips). Add recordings or fix the list files."
        )
    return make_dataset(
        name=name,
        labels=labels,
        x=x,
        y=yy,
        splits=splits,
        resolutions=(FRAMES,),
        description=(
            f"recordings from {root} ({len(yy)} clips, {len(labels)} classes"
            + (", Speech Commands' twelve" if speech_commands else "")
            + f"), split {how}."
        ),
        base_recipe=(
            "the .wav as mono 16 kHz (resampled if needed), zero-padded or cut to 1 s, then "
            "nas.data.kws.mfcc"
        ),
    )
