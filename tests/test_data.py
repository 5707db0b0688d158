"""nas.data: the builtin tasks, the folder loader, the resize and the Dataset record."""

from __future__ import annotations

import gzip
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from nas.data import TASKS, Dataset, load_task, resize_bilinear
from nas.data._augment import shift_flip
from nas.data._dataset import stratified_split
from nas.data.digits import load_digits
from nas.data.fashion import FILES, find_debian_dir, load_fashion, read_idx
from nas.errors import TinyzooError

ROOT = Path(__file__).resolve().parents[1]


def _check_splits(ds: Dataset, size: int, channels: int) -> None:
    for x, y in ((ds.x_train, ds.y_train), (ds.x_val, ds.y_val), (ds.x_test, ds.y_test)):
        assert x.dtype == np.float32 and y.dtype == np.int64
        assert x.shape == (len(y), size, size, channels)
        assert x.min() >= 0.0 and x.max() <= 1.0
        assert set(np.unique(y)) <= set(range(len(ds.labels)))


def test_tasks_and_import_is_light() -> None:
    assert TASKS == ("fashion", "digits", "kws")
    code = "import sys, nas.data; print(any(m in sys.modules for m in ('tensorflow', 'sklearn')))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert out.stdout.strip() == "False", out.stderr


def test_unknown_task_suggests_close_match() -> None:
    with pytest.raises(TinyzooError, match="Did you mean 'fashion'.*--data DIR"):
        load_task("fashon")


# ---------------------------------------------------------------- digits


def test_digits_splits() -> None:
    ds = load_task("digits")
    _check_splits(ds, 8, 1)
    assert (len(ds.y_train), len(ds.y_val), len(ds.y_test)) == (1258, 270, 269)
    assert ds.labels == tuple("0123456789") and ds.native_size == 8 and ds.resolutions == (8,)
    assert ds.x_train.max() == 1.0  # 16 / 16: scaled by 16, not 255
    for y in (ds.y_train, ds.y_val, ds.y_test):
        assert len(np.unique(y)) == 10
    g = ds.geometry()
    assert (g.resolutions, g.channels, g.num_classes) == ((8,), 1, 10)
    assert ds.preprocessing(8).startswith("integer pixel counts 0..16")


def test_builtin_splits_ignore_seed() -> None:
    a = load_task("digits", seed=0)
    load_digits.cache_clear()
    b = load_task("digits", seed=123)
    assert a is not b
    np.testing.assert_array_equal(a.x_val, b.x_val)
    np.testing.assert_array_equal(a.y_test, b.y_test)


def test_arrays_are_read_only() -> None:
    ds = load_task("digits")
    with pytest.raises(ValueError):
        ds.x_train[0, 0, 0, 0] = 0.5


# ---------------------------------------------------------------- fashion

needs_fashion = pytest.mark.skipif(
    not all((find_debian_dir() / f).is_file() for pair in FILES.values() for f in pair),
    reason="Debian package dataset-fashion-mnist is not installed",
)


@needs_fashion
def test_fashion_splits() -> None:
    ds = load_task("fashion")
    assert (len(ds.y_train), len(ds.y_val), len(ds.y_test)) == (55000, 5000, 10000)
    assert ds.labels[0] == "T-shirt/top" and ds.labels[9] == "Ankle boot"
    assert ds.native_size == 28 and ds.resolutions == (12, 16, 20, 24, 28)
    assert np.bincount(ds.y_val).tolist() == [500] * 10
    assert np.bincount(ds.y_test).tolist() == [1000] * 10
    _check_splits(ds.subset(500, seed=0), 28, 1)  # full splits: same code, 200 MB of checks
    assert ds.x_test.dtype == np.float32 and ds.x_test.max() == 1.0
    assert "dataset-fashion-mnist" in ds.description
    assert load_task("fashion") is ds  # cached: the search loads it once


@needs_fashion
def test_fashion_val_fixed_across_seeds() -> None:
    a = load_task("fashion", seed=0)
    load_fashion.cache_clear()
    b = load_task("fashion", seed=99)
    assert a is not b
    np.testing.assert_array_equal(a.y_val, b.y_val)
    np.testing.assert_array_equal(a.x_val[:50], b.x_val[:50])


@needs_fashion
def test_fashion_resolution_and_recipe() -> None:
    ds = load_task("fashion")
    assert ds.at_resolution(28) is ds
    small = ds.subset(300, seed=1).at_resolution(12)
    assert small.x_train.shape == (300, 12, 12, 1) and small.x_val.shape == (5000, 12, 12, 1)
    assert ds.preprocessing(28) == "uint8 pixels / 255.0 as float32 (28x28x1)"
    assert ds.preprocessing(20) == (
        "uint8 pixels / 255.0 as float32 (28x28x1), resized bilinearly (half-pixel centres, "
        "no antialiasing; tf.image.resize 'bilinear') to 20x20x1"
    )
    with pytest.raises(TinyzooError, match="valid resolutions are 12, 16, 20, 24, 28"):
        ds.at_resolution(14)
    with pytest.raises(TinyzooError, match="already resized"):
        small.at_resolution(16)


def test_shift_flip_moves_mirrors_and_keeps_every_pixel_it_can() -> None:
    x = np.random.default_rng(0).random((64, 12, 10, 1)).astype(np.float32)
    same = shift_flip(x, np.random.default_rng(3), shift=0)
    kept = [np.array_equal(s, i) for s, i in zip(same, x, strict=True)]
    mirrored = [np.array_equal(s, i[:, ::-1]) for s, i in zip(same, x, strict=True)]
    assert all(k or m for k, m in zip(kept, mirrored, strict=True))
    assert 16 < sum(mirrored) < 48  # about half, never all or none
    out = shift_flip(x, np.random.default_rng(3))
    assert out.shape == x.shape and out.dtype == np.float32
    np.testing.assert_array_equal(out, shift_flip(x, np.random.default_rng(3)))
    for o, i in zip(out, x, strict=True):  # each output is a shifted (maybe mirrored) input
        found = False
        for src in (i, i[:, ::-1]):
            for dy in range(-2, 3):
                for dx in range(-2, 3):
                    ref = np.zeros_like(src)
                    ref[max(dy, 0) : 12 + min(dy, 0), max(dx, 0) : 10 + min(dx, 0)] = src[
                        max(-dy, 0) : 12 + min(-dy, 0), max(-dx, 0) : 10 + min(-dx, 0)
                    ]
                    found = found or np.array_equal(o, ref)
        assert found
    assert not np.array_equal(out, same)


def test_each_task_names_its_augmentation() -> None:
    digits = load_task("digits")
    assert digits.augmentation == "none" and digits.augment is None  # a mirrored 2 is no 2


@needs_fashion
def test_fashion_trains_on_shifted_mirrored_images() -> None:
    ds = load_task("fashion")
    assert ds.augment is shift_flip and ds.at_resolution(20).augment is shift_flip


def _write_idx(path: Path, magic: int, payload: bytes, dims: tuple[int, ...]) -> None:
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in dims)
    path.write_bytes(gzip.compress(header + payload))


def test_read_idx_roundtrip_and_corruption(tmp_path: Path) -> None:
    ok = tmp_path / "ok.gz"
    _write_idx(ok, 0x803, bytes(range(24)), (2, 3, 4))
    assert read_idx(ok, 0x803).tolist() == np.arange(24).reshape(2, 3, 4).tolist()
    with pytest.raises(TinyzooError, match="not an IDX file with magic 0x00000801"):
        read_idx(ok, 0x801)
    short = tmp_path / "short.gz"
    _write_idx(short, 0x803, bytes(10), (2, 3, 4))
    with pytest.raises(TinyzooError, match="truncated or corrupt.*reinstall"):
        read_idx(short, 0x803)
    junk = tmp_path / "junk.gz"
    junk.write_bytes(b"not gzip at all")
    with pytest.raises(TinyzooError, match="cannot read .*junk.gz"):
        read_idx(junk, 0x803)


def test_fashion_without_files_or_internet(tmp_path: Path, monkeypatch) -> None:
    def offline() -> None:
        raise OSError("network unreachable")

    fake = types.SimpleNamespace(
        datasets=types.SimpleNamespace(fashion_mnist=types.SimpleNamespace(load_data=offline))
    )
    monkeypatch.setitem(sys.modules, "keras", fake)
    with pytest.raises(TinyzooError, match="apt-get install dataset-fashion-mnist"):
        load_fashion(tmp_path)


# ---------------------------------------------------------------- resize


@pytest.mark.parametrize("size", [4, 8, 12, 20, 28, 40])
def test_resize_matches_tensorflow(size: int) -> None:
    tf = pytest.importorskip("tensorflow")
    x = np.random.default_rng(size).random((3, 28, 28, 2), dtype=np.float32)
    expected = tf.image.resize(x, (size, size), "bilinear", antialias=False).numpy()
    np.testing.assert_allclose(resize_bilinear(x, size), expected, atol=1e-5, rtol=0)


def test_resize_rejects_bad_input() -> None:
    with pytest.raises(TinyzooError, match="NHWC"):
        resize_bilinear(np.zeros((28, 28, 1), np.float32), 12)
    with pytest.raises(TinyzooError, match="positive integer"):
        resize_bilinear(np.zeros((1, 28, 28, 1), np.float32), 0)


# ---------------------------------------------------------------- split and subset


def test_stratified_split_exact_sizes_and_proportions() -> None:
    y = np.repeat(np.arange(3), [50, 30, 20])
    parts = stratified_split(y, (70, 20, 10), seed=0)
    assert [len(p) for p in parts] == [70, 20, 10]
    assert sorted(np.concatenate(parts).tolist()) == list(range(100))
    assert np.bincount(y[parts[1]], minlength=3).tolist() == [10, 6, 4]
    again = stratified_split(y, (70, 20, 10), seed=0)
    assert all(np.array_equal(a, b) for a, b in zip(parts, again, strict=True))
    other = stratified_split(y, (70, 20, 10), seed=1)
    assert not np.array_equal(parts[1], other[1])


def test_subset_is_stratified_and_leaves_val_alone() -> None:
    ds = load_task("digits")
    sub = ds.subset(200, seed=3)
    assert len(sub.y_train) == 200 and np.bincount(sub.y_train).min() >= 19
    assert sub.x_val is ds.x_val and sub.x_test is ds.x_test
    assert not np.array_equal(sub.y_train, ds.subset(200, seed=4).y_train)
    assert ds.subset(10_000, seed=0) is ds
    with pytest.raises(TinyzooError, match="positive integer"):
        ds.subset(0, seed=0)


# ---------------------------------------------------------------- folder


def _png(path: Path, value: int, rgb: bool = False, size: tuple[int, int] = (40, 30)) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    color = (value, 255 - value, 0) if rgb else value
    Image.new("RGB" if rgb else "L", size, color).save(path)


def _folder(root: Path, classes: dict[str, int], *, rgb: bool = False) -> Path:
    for name, n in classes.items():
        for i in range(n):
            _png(root / name / f"{i:02d}.png", 20 * i + 10 * len(name), rgb=rgb)
    return root


def test_folder_grey(tmp_path: Path) -> None:
    root = _folder(tmp_path / "d", {"cat": 5, "dog": 6, "emu": 4})
    (root / "dog" / "notes.txt").write_text("ignored")
    ds = load_task("pets", data_dir=root, seed=0)
    assert ds.name == "pets" and ds.labels == ("cat", "dog", "emu")
    assert (len(ds.y_train), len(ds.y_val), len(ds.y_test)) == (12, 2, 1)
    _check_splits(ds, 32, 1)
    assert ds.resolutions == (16, 24, 32) and ds.native_size == 32
    # A flat grey image stays exactly its value through PIL's bilinear resize.
    first = ds.x_train[ds.y_train == 0][0]
    assert np.allclose(first, first.flat[0]) and first.flat[0] * 255 in {
        10 * 3 + 20 * i for i in range(5)
    }
    assert "first channel kept" in ds.preprocessing(16) and ds.preprocessing(16).endswith("16x16x1")
    assert ds.at_resolution(16).x_val.shape == (2, 16, 16, 1)
    other = load_task("pets", data_dir=root, seed=5)
    assert not np.array_equal(ds.x_train, other.x_train)  # seed shuffles which images go where


@pytest.mark.parametrize(
    ("sizes", "native", "resolutions"),
    [
        ([(16, 16)], 16, (16,)),  # small images are not enlarged
        ([(20, 12), (8, 8)], 20, (16, 20)),  # the largest side; the offered sizes below it
        ([(16, 16), (100, 40)], 32, (16, 24, 32)),  # anything above 32 is shrunk to 32
    ],
)
def test_folder_stored_at_its_largest_side_up_to_32(
    tmp_path: Path, sizes: list[tuple[int, int]], native: int, resolutions: tuple[int, ...]
) -> None:
    for c in ("a", "b"):
        for i in range(6):
            _png(tmp_path / "d" / c / f"{i}.png", 40 * i, size=sizes[i % len(sizes)])
    ds = load_task("small", data_dir=tmp_path / "d")
    assert ds.native_size == native and ds.x_train.shape[1:] == (native, native, 1)
    assert ds.resolutions == resolutions
    assert f"resized to {native}x{native}" in ds.preprocessing(native)


def test_fingerprint_is_the_datas_resized_or_sampled_too(tmp_path: Path) -> None:
    """A search tags its winner (at its input size) and its teacher (native) by the data's
    fingerprint: resizing or sampling must not change it; other data must."""
    root = _folder(tmp_path / "d", {"a": 8, "b": 8})
    ds = load_task("pets", data_dir=root)
    assert ds.at_resolution(16).fingerprint == ds.fingerprint
    assert ds.subset(4, seed=0).at_resolution(24).fingerprint == ds.fingerprint
    assert ds.for_epochs(1).fingerprint == ds.fingerprint
    _png(root / "a" / "new.png", 99)
    assert load_task("pets", data_dir=root).fingerprint != ds.fingerprint


def test_folder_rgb_when_any_image_has_colour(tmp_path: Path) -> None:
    root = _folder(tmp_path / "d", {"a": 5, "b": 5})
    _png(root / "b" / "colour.png", 100, rgb=True)
    ds = load_task("mix", data_dir=root)
    assert ds.x_train.shape[1:] == (32, 32, 3) and ds.geometry().channels == 3


def test_folder_errors(tmp_path: Path) -> None:
    with pytest.raises(TinyzooError, match="does not exist"):
        load_task("x", data_dir=tmp_path / "missing")
    one = _folder(tmp_path / "one", {"only": 12})
    with pytest.raises(TinyzooError, match="at least two"):
        load_task("x", data_dir=one)
    empty = _folder(tmp_path / "empty", {"a": 6, "b": 6})
    (empty / "c").mkdir()
    with pytest.raises(TinyzooError, match="'c'.*has no images"):
        load_task("x", data_dir=empty)
    bad = _folder(tmp_path / "bad", {"a": 6, "b": 6})
    (bad / "b" / "broken.png").write_bytes(b"\x89PNG not really")
    with pytest.raises(TinyzooError, match="cannot read image .*broken.png"):
        load_task("x", data_dir=bad)
    few = _folder(tmp_path / "few", {"a": 2, "b": 3})
    with pytest.raises(TinyzooError, match="has 5 images; at least 10"):
        load_task("x", data_dir=few)
    hidden = _folder(tmp_path / "hidden", {"a": 6, "b": 6})
    (hidden / "a" / "._00.png").write_bytes(b"\x00\x05\x16\x07 macOS resource fork")
    (hidden / "__MACOSX" / "a").mkdir(parents=True)  # what unzipping on macOS leaves
    (hidden / "__MACOSX" / "a" / "._00.png").write_bytes(b"\x00\x05\x16\x07")
    (hidden / ".thumbnails").mkdir()
    (hidden / ".thumbnails" / "x.wav").write_bytes(b"RIFF")  # not a class: no speech folder
    ds = load_task("x", data_dir=hidden)  # the ._ copy is skipped, not read as a broken image
    assert len(ds.y_train) + len(ds.y_val) + len(ds.y_test) == 12 and ds.labels == ("a", "b")


def test_fashion_augments_only_final_trainings_long_enough_for_it_to_pay() -> None:
    from nas.data import load_task
    from nas.data._dataset import AUGMENT_MIN_EPOCHS

    data = load_task("fashion")
    assert data.augmentation == "shift_flip"
    long_enough = AUGMENT_MIN_EPOCHS["shift_flip"]
    assert data.for_epochs(long_enough) is data
    short = data.for_epochs(long_enough - 1)
    assert short.augmentation == "none" and short.augment is None
    assert short.at_resolution(20).augmentation == "none"  # resizing keeps the choice
    digits = load_task("digits")
    assert digits.for_epochs(1) is digits  # no augmentation, nothing to turn off
