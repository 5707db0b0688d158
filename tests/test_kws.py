"""Keyword spotting: the public MFCC, espeak-ng synthesis, the cached task, and .wav folders."""

from __future__ import annotations

import functools
import wave
from pathlib import Path

import numpy as np
import pytest

from nas.data import kws
from nas.errors import TinyzooError


def test_mfcc_is_49_frames_of_10_coefficients_and_orthonormal() -> None:
    rng = np.random.default_rng(0)
    one = kws.mfcc(rng.uniform(-0.5, 0.5, 16_000))
    assert one.shape == (49, 10, 1) and one.dtype == np.float32
    batch = kws.mfcc(rng.uniform(-0.5, 0.5, (3, 16_000)))
    assert batch.shape == (3, 49, 10, 1)
    # Silence: every log-mel energy is log(1e-6), so an orthonormal DCT puts it all in c0.
    quiet = kws.mfcc(np.zeros(16_000))
    assert np.allclose(quiet[:, 0, 0], np.sqrt(40) * np.log(1e-6), rtol=1e-6)
    assert np.allclose(quiet[:, 1:, 0], 0, atol=1e-4)
    full = np.cos(np.pi / 40 * (np.arange(40)[:, None] + 0.5) * np.arange(40)[None, :])
    full *= np.sqrt(2 / 40)
    full[:, 0] /= np.sqrt(2)
    assert np.allclose(full.T @ full, np.eye(40), atol=1e-12)
    assert np.allclose(kws._dct_matrix(), full[:, :10])


def test_mel_filters_cover_20_to_4000_hz_in_order() -> None:
    m = kws._mel_matrix(16_000)  # (513 FFT bins, 40 filters)
    freqs = np.arange(513) * 16_000 / 1024
    peaks = freqs[m.argmax(axis=0)]
    assert np.all(np.diff(peaks) > 0) and 20 < peaks[0] < 100 and 3500 < peaks[-1] < 4000
    assert m[freqs > 4000].sum() == 0 and m[freqs < 20].sum() == 0
    tone = 0.5 * np.sin(2 * np.pi * 1000 * np.arange(16_000) / 16_000)
    low = 0.5 * np.sin(2 * np.pi * 300 * np.arange(16_000) / 16_000)
    assert not np.allclose(kws.mfcc(tone), kws.mfcc(low), atol=1.0)


@pytest.mark.parametrize(
    ("audio", "rate", "message"),
    [(np.zeros(8000), 16_000, "one second"), (np.zeros(16_000), 8000, "16000 Hz")],
)
def test_mfcc_refuses_other_lengths_and_rates(audio: np.ndarray, rate: int, message: str) -> None:
    with pytest.raises(TinyzooError, match=message):
        kws.mfcc(audio, sample_rate=rate)


def test_synthesis_is_deterministic_and_speakers_differ() -> None:
    a = kws.synthesize("yes", "gmw/en-US", "f2", 150, 50)
    assert np.array_equal(a, kws.synthesize("yes", "gmw/en-US", "f2", 150, 50))
    assert 0.1 < len(a) / kws.SAMPLE_RATE < 1.0 and 0.05 < np.abs(a).max() <= 1.0
    b = kws.synthesize("yes", "gmw/en-US", "m3", 150, 50)
    assert len(a) != len(b) or not np.array_equal(a, b)
    assert kws._plan(0) == kws._plan(0) and kws._plan(0) != kws._plan(1)


def _unsteady_espeak(folder: Path, steady_from: int) -> None:
    """An espeak-ng stand-in on PATH: a 22,050 Hz .wav header, then random samples on its first
    `steady_from - 1` calls and the same 1,000 bytes from then on (calls counted in a file)."""
    exe, calls = folder / "espeak-ng", folder / "calls"
    header = r"RIFF....WAVEfmt \020\0\0\0\01\0\01\0\042\126\0\0"  # octal: any sh's printf
    steady = "head -c 1000 /dev/zero | tr '\\0' '\\101'"  # 1,000 x 'A'
    exe.write_text(
        f"#!/bin/sh\necho >> {calls}\nprintf '{header}'\n"
        f"if [ $(wc -l < {calls}) -ge {steady_from} ]; then {steady}; "
        "else head -c 1000 /dev/urandom; fi\n"
    )
    exe.chmod(0o755)


@pytest.mark.parametrize("steady_from", [3, 99])
def test_synthesis_keeps_the_rendering_that_repeats(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, steady_from: int
) -> None:
    _unsteady_espeak(tmp_path, steady_from)
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")
    if steady_from > kws.RENDERINGS:  # never the same twice within the tries: one clear error
        with pytest.raises(TinyzooError, match="differently each time"):
            kws.synthesize("yes", "gmw/en-US", "f2", 150, 50)
        return
    # Calls 1 and 2 differ, 3 and 4 agree: the agreed rendering, 0x4141 samples, resampled.
    got = kws.synthesize("yes", "gmw/en-US", "f2", 150, 50)
    want = kws._resample(np.full((28 + 1000 - 44) // 2, 0x4141 / 32768.0), 22_050, kws.SAMPLE_RATE)
    assert np.allclose(got, want)
    assert (tmp_path / "calls").read_text().count("\n") == 4


def test_speakers_are_split_so_test_voices_are_never_trained_on() -> None:
    s = kws._speakers(0)
    assert set(s["train"]).isdisjoint(s["val"]) and set(s["train"]).isdisjoint(s["test"])
    assert set(s["val"]).isdisjoint(s["test"])
    assert sorted(s["train"] + s["val"] + s["test"]) == sorted(kws.VARIANTS)
    for split, _, word, _, variant, *_ in kws._plan(0):
        assert not word or variant in s[split]


def test_extra_test_clips_are_new_clips_of_the_test_speakers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """extra_test's clips: drawn from their own stream (no clip of the task's plan repeats) and
    spoken only by the test split's speakers, balanced, generated as the task's are and cached."""
    test_speakers = set(kws._speakers(0)["test"])
    task = {p[-1] for p in kws._plan(0)}  # every clip's own seed
    extra = kws._plan(0, {"test": 50}, stream=1)
    assert extra == kws._plan(0, {"test": 50}, stream=1)
    assert task.isdisjoint(p[-1] for p in extra)
    assert {p[4] for p in extra if p[2]} <= test_speakers
    monkeypatch.setenv("TINYZOO_CACHE", str(tmp_path))
    kws.extra_test.cache_clear()
    x, y = kws.extra_test(0, per_class=2)
    assert x.shape == (24, 49, 10, 1) and np.bincount(y).tolist() == [2] * 12
    assert [p.name.startswith(f"kws-v{kws.VERSION}-s0-x1-") for p in tmp_path.iterdir()] == [True]
    assert not x.flags.writeable
    # Its features are those of the same clips rendered one by one.
    _, label, word, voice, variant, speed, pitch, clip_seed = kws._plan(0, {"test": 2}, 1)[5]
    speech = kws.synthesize(word, voice, variant, speed, pitch) if word else None
    clip = kws._clip(np.random.default_rng(clip_seed), speech)
    assert y[5] == label and np.allclose(x[5], kws.mfcc(clip), atol=1e-5)


@pytest.mark.slow
def test_the_kws_task_is_balanced_cached_and_matches_its_geometry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from nas.data import load_task

    d = load_task("kws")
    assert d.labels == ("silence", "unknown", *kws.KEYWORDS)
    assert d.augmentation == "spec_augment" and d.augment is kws.spec_augment
    assert d.x_train.shape[1:] == (49, 10, 1)
    for y, n in ((d.y_train, 400), (d.y_val, 80), (d.y_test, 80)):
        assert np.bincount(y, minlength=12).tolist() == [n] * 12
    g = d.geometry()
    assert g.shape(49) == (49, 10, 1) and g.num_classes == 12
    assert "nas.data.kws.mfcc" in d.preprocessing(49) and "(49x10x1)" in d.preprocessing(49)
    # Features are not all alike: a keyword's mean differs from silence's.
    assert np.abs(d.x_train[d.y_train == 2].mean(0) - d.x_train[d.y_train == 0].mean(0)).max() > 1


def _write_wav(path: Path, audio: np.ndarray, rate: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes())


def _recordings(root: Path, words: tuple[str, ...], n: int = 4) -> None:
    for w in words:
        for i in range(n):
            variant = kws.VARIANTS[i]
            _write_wav(
                root / w / f"{variant}_{i}.wav",
                kws.synthesize(w, "gmw/en", variant, 150, 50),
                16_000,
            )


def test_a_folder_of_wavs_is_a_task_with_one_class_per_word(tmp_path: Path) -> None:
    from nas.data import load_task

    _recordings(tmp_path, ("yes", "no", "maybe"), n=10)
    d = load_task("mine", data_dir=tmp_path)
    assert d.labels == ("maybe", "no", "yes") and d.x_train.shape[1:] == (49, 10, 1)
    assert len(d.y_train) + len(d.y_val) + len(d.y_test) == 30
    # The model input is exactly mfcc() of the padded recording.
    first = tmp_path / "maybe" / sorted(p.name for p in (tmp_path / "maybe").iterdir())[0]
    pool = np.concatenate([d.x_train, d.x_val, d.x_test])
    want = kws.mfcc(kws._one_second(kws._read_wav(first)))
    assert np.any(np.all(np.isclose(pool, want, atol=1e-5), axis=(1, 2, 3)))


def test_a_speech_commands_folder_gets_the_twelve_classes_and_its_lists(tmp_path: Path) -> None:
    from nas.data import load_task

    _recordings(tmp_path, (*kws.KEYWORDS, "bed"), n=3)  # 3 unknown: the keywords' mean, all kept
    rng = np.random.default_rng(0)
    _write_wav(
        tmp_path / kws.BACKGROUND / "white.wav", 0.1 * rng.standard_normal(5 * 16_000), 16_000
    )
    clips = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.glob("*/*.wav"))
    words = [c for c in clips if not c.startswith("_")]
    (tmp_path / "validation_list.txt").write_text("\n".join(words[0::3]))
    (tmp_path / "testing_list.txt").write_text("\n".join(words[1::3]))
    d = load_task("kws", data_dir=tmp_path)
    assert d.labels == kws.LABELS
    assert d.augment is kws.spec_augment  # a user's recordings get the same augmentation
    # Silence (1 s slices of the background noise, in no list) is shared out like the words.
    assert [(y == 0).sum() for y in (d.y_train, d.y_val, d.y_test)] == [1, 1, 1]
    assert len(d.y_val) == len(words[0::3]) + 1 and len(d.y_test) == len(words[1::3]) + 1
    assert (np.concatenate([d.y_train, d.y_val, d.y_test]) == 1).sum() == 3  # unknown


@pytest.mark.parametrize(
    "case",
    ["one class", "unreadable", "empty class", "no samples", "cut mid-sample", "cut in header",
     "mixed with images", "rate 0", "list not utf-8"],
)  # fmt: skip
def test_bad_speech_folders_are_one_line(tmp_path: Path, case: str) -> None:
    from nas.data import load_task

    _recordings(tmp_path, ("yes",) if case == "one class" else ("yes", "no"), n=5)
    whole = next((tmp_path / "yes").iterdir()).read_bytes()
    if case == "unreadable":
        (tmp_path / "no" / "broken.wav").write_bytes(b"RIFF\x00\x00not a wave file")
        match = r"cannot read audio .*broken\.wav"
    elif case == "no samples":  # a recording of nothing is an export gone wrong, not silence
        _write_wav(tmp_path / "no" / "empty.wav", np.zeros(0), 8000)
        match = r"cannot read audio .*empty\.wav.*: no samples"
    elif case == "cut mid-sample":
        (tmp_path / "no" / "cut.wav").write_bytes(whole[:1001])
        match = r"cannot read audio .*cut\.wav.*: truncated"
    elif case == "cut in header":
        (tmp_path / "no" / "cut.wav").write_bytes(whole[:30])
        match = r"cannot read audio .*cut\.wav.*: \w+ \(a truncated or malformed header\)"
    elif case == "mixed with images":
        from PIL import Image

        Image.new("L", (8, 8), 0).save(tmp_path / "no" / "photo.png")
        match = r"mixes 1 image\(s\) and 10 \.wav recording\(s\)"
    elif case == "rate 0":  # a header the wave module accepts; resampling from it would divide by 0
        _write_wav(tmp_path / "no" / "zero.wav", np.zeros(100), 8000)
        with open(tmp_path / "no" / "zero.wav", "r+b") as f:
            f.seek(24)
            f.write(bytes(4))
        match = r"cannot read audio .*zero\.wav.*: sample rate 0 Hz \(not 4,000 to 384,000 Hz\)"
    elif case == "list not utf-8":
        (tmp_path / "validation_list.txt").write_bytes("yes/caf\xe9.wav\n".encode("latin-1"))
        match = r"cannot read .*validation_list\.txt.*save it as UTF-8"
    elif case == "empty class":
        (tmp_path / "up").mkdir()
        match = r"class 'up' .* has no \.wav files"
    else:
        match = "needs at least two"
    with pytest.raises(TinyzooError, match=match):
        load_task("mine", data_dir=tmp_path)


def test_a_streamed_wav_with_an_unknown_length_reads_to_its_end(tmp_path: Path) -> None:
    import struct

    pcm = (0.3 * np.sin(np.arange(16_000) / 10) * 32767).astype("<i2").tobytes()
    fmt = struct.pack("<IHHIIHH", 16, 1, 1, 16_000, 32_000, 2, 16)
    unknown = struct.pack("<I", 0xFFFFFFFF)  # what a recorder writing to a pipe puts there
    path = tmp_path / "streamed.wav"
    path.write_bytes(b"RIFF" + unknown + b"WAVEfmt " + fmt + b"data" + unknown + pcm)
    audio = kws._read_wav(path)
    assert audio.shape == (16_000,) and np.isclose(np.abs(audio).max(), 0.3, atol=1e-3)


def test_hidden_files_in_a_speech_folder_are_not_recordings(tmp_path: Path) -> None:
    from nas.data import load_task

    _recordings(tmp_path, ("yes", "no"), n=10)
    (tmp_path / "no" / "._x.wav").write_bytes(b"\x00\x05\x16\x07 macOS resource fork")
    d = load_task("mine", data_dir=tmp_path)
    assert len(d.y_train) + len(d.y_val) + len(d.y_test) == 20


def test_spec_augment_shifts_in_time_and_masks_bands_with_the_time_mean() -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 49, 10, 1)).astype(np.float32)
    same = kws.spec_augment(x, np.random.default_rng(1), shift=0, time_mask=0, coef_mask=0)
    np.testing.assert_array_equal(same, x)

    out = kws.spec_augment(x, np.random.default_rng(1))
    again = kws.spec_augment(x, np.random.default_rng(1))
    assert out.shape == x.shape and out.dtype == x.dtype
    np.testing.assert_array_equal(out, again)  # the rng decides everything
    assert not np.array_equal(out, kws.spec_augment(x, np.random.default_rng(2)))
    for i in range(len(x)):
        fill = x[i].mean(axis=0)  # per coefficient: a circular shift keeps the time mean
        near = functools.partial(np.isclose, atol=1e-5)  # the mean, summed in another order
        masked = np.all(near(out[i], fill[None]), axis=(1, 2))  # whole frames
        # Every unmasked frame is some frame of the original, at most 4 frames away.
        shifts = [
            s for s in range(-4, 5)
            if np.all(near(out[i], np.roll(x[i], s, axis=0)) | near(out[i], fill[None]))
        ]  # fmt: skip
        assert shifts, f"map {i} is not a shifted, masked copy"
        assert masked.sum() <= 8
