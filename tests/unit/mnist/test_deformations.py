"""InfiMNIST-style deformations: reproducible per (seed, index), exact in the limits, sane."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from hardpos.errors import HardposError, InputError
from hardpos.files.datasets import load_dataset, save_dataset
from hardpos.mnist.deformations import deform, displacement_field, generate_to_file, infimnist_style
from hardpos.mnist.idx import load_mnist

STILL = {"alpha": 0.0, "max_rotation_deg": 0.0, "max_scale": 0.0, "max_shear": 0.0}


def strokes(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` digit-like 28x28 uint8 images (a few thick smooth strokes) and labels 0..9."""
    import cv2

    rng = np.random.default_rng(seed)
    images = np.zeros((n, 28, 28), np.uint8)
    for image in images:
        points = rng.integers(6, 22, size=(4, 2))
        for a, b in zip(points[:-1], points[1:], strict=True):
            cv2.line(image, tuple(map(int, a)), tuple(map(int, b)), 255, thickness=2)
        image[:] = cv2.GaussianBlur(image, (3, 3), 0.8)
    return images, np.arange(n, dtype=np.int64) % 10


def zero_filled_shift(image: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """``np.roll`` by (dy, dx) with the wrapped-around rows and columns set to zero."""
    out = np.roll(image, (dy, dx), axis=(0, 1))
    if dy > 0:
        out[:dy] = 0
    elif dy < 0:
        out[dy:] = 0
    if dx > 0:
        out[:, :dx] = 0
    elif dx < 0:
        out[:, dx:] = 0
    return out


def test_same_seed_and_index_give_identical_images():
    images, labels = strokes(5)
    first, _ = infimnist_style(images, labels, 12, seed=7, start=3)
    again, _ = infimnist_style(images, labels, 12, seed=7, start=3)
    np.testing.assert_array_equal(first, again)
    for k, index in enumerate(range(3, 15)):
        alone = deform(images[index % 5], np.random.default_rng([7, index]))
        np.testing.assert_array_equal(first[k], alone)


def test_chunked_generation_equals_one_shot():
    images, labels = strokes(7)
    whole, whole_labels = infimnist_style(images, labels, 30, seed=3)
    parts = [infimnist_style(images, labels, n, seed=3, start=s) for s, n in ((0, 11), (11, 1))]
    parts.append(infimnist_style(images, labels, 18, seed=3, start=12))
    np.testing.assert_array_equal(np.concatenate([p[0] for p in parts]), whole)
    np.testing.assert_array_equal(np.concatenate([p[1] for p in parts]), whole_labels)


def test_different_indices_and_seeds_give_different_images():
    images, labels = strokes(1)
    out, _ = infimnist_style(images, labels, 20, seed=0)
    flat = out.reshape(20, -1)
    assert len({row.tobytes() for row in flat}) == 20
    other, _ = infimnist_style(images, labels, 20, seed=1)
    assert not any(np.array_equal(a, b) for a, b in zip(out, other, strict=True))


def test_output_is_uint8_28x28_with_the_labels_of_the_sources():
    images, labels = strokes(4)
    labels = np.array([3, 1, 4, 1])
    out, out_labels = infimnist_style(images, labels, 10, seed=0, start=2)
    assert out.shape == (10, 28, 28) and out.dtype == np.uint8
    assert out_labels.dtype == np.int64
    np.testing.assert_array_equal(out_labels, labels[np.arange(2, 12) % 4])
    strong = infimnist_style(images, labels, 10, seed=0, alpha=200.0, max_scale=0.9)[0]
    assert strong.dtype == np.uint8 and strong.min() >= 0 and strong.max() <= 255
    empty, empty_labels = infimnist_style(images, labels, 0, seed=0)
    assert empty.shape == (0, 28, 28) and empty_labels.shape == (0,)


def test_zero_magnitudes_are_the_identity():
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, size=(28, 28), dtype=np.uint8)
    for index in range(5):
        out = deform(image, np.random.default_rng([0, index]), **STILL, max_shift=0)
        np.testing.assert_array_equal(out, image)
    images = np.stack([image, 255 - image])
    out, _ = infimnist_style(images, np.array([0, 1]), 4, seed=9, **STILL, max_shift=0)
    np.testing.assert_array_equal(out, images[[0, 1, 0, 1]])


def test_pure_one_pixel_shift_equals_zero_filled_roll():
    image = np.random.default_rng(2).integers(1, 256, size=(28, 28), dtype=np.uint8)
    candidates = {
        (dy, dx): zero_filled_shift(image, dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)
    }
    seen = set()
    for index in range(80):
        out = deform(image, np.random.default_rng([5, index]), **STILL, max_shift=1)
        matches = [shift for shift, shifted in candidates.items() if np.array_equal(out, shifted)]
        assert len(matches) == 1, f"index {index}: not a zero-filled one-pixel shift"
        seen.add(matches[0])
    assert seen == set(candidates)  # all nine shifts occur, including none


def blob(dx: float, dy: float) -> np.ndarray:
    """A Gaussian spot (sigma 1.2 pixels) at offset (dx, dy) from the centre of a 28x28 image."""
    ys, xs = np.mgrid[0:28, 0:28] - 13.5
    return np.rint(255 * np.exp(-((xs - dx) ** 2 + (ys - dy) ** 2) / (2 * 1.2**2))).astype(np.uint8)


def ink_centre(image: np.ndarray) -> np.ndarray:
    """(x, y) centre of mass relative to the image centre."""
    ys, xs = np.mgrid[0:28, 0:28] - 13.5
    weights = image.astype(np.float64)
    return np.array([(weights * xs).sum(), (weights * ys).sum()]) / weights.sum()


def test_affine_parts_move_an_off_centre_spot_within_their_ranges():
    still = {**STILL, "max_shift": 0}
    spot = blob(8.0, 0.0)
    before = ink_centre(spot)
    angles, scales, shears = [], [], []
    for index in range(40):
        rotated = ink_centre(
            deform(spot, np.random.default_rng([1, index]), **{**still, "max_rotation_deg": 5.0})
        )
        angles.append(np.degrees(np.arctan2(rotated[1], rotated[0])))
        assert np.hypot(*rotated) == pytest.approx(np.hypot(*before), abs=0.05)
        scaled = ink_centre(
            deform(spot, np.random.default_rng([1, index]), **{**still, "max_scale": 0.05})
        )
        scales.append(scaled[0] / before[0])
        assert abs(scaled[1]) < 0.02
        sheared = ink_centre(
            deform(blob(0.0, 8.0), np.random.default_rng([1, index]), **{**still, "max_shear": 0.1})
        )
        shears.append(sheared[0] / 8.0)
        assert sheared[1] == pytest.approx(8.0, abs=0.05)
    assert max(np.abs(angles)) < 5.05 and min(angles) < -2.5 and max(angles) > 2.5
    assert 0.945 < min(scales) < 0.975 and 1.025 < max(scales) < 1.055
    assert max(np.abs(shears)) < 0.105 and min(shears) < -0.05 and max(shears) > 0.05


@pytest.mark.parametrize(("shape", "alpha", "sigma"), [((28, 28), 12.0, 4.0), ((20, 31), 3.0, 1.3)])
def test_field_smoothing_equals_scipy_gaussian_filter_in_float64(shape, alpha, sigma):
    field = displacement_field(np.random.default_rng(4), shape, alpha, sigma)
    uniform = np.random.default_rng(4).uniform(-1.0, 1.0, size=(*shape, 2))
    expected = np.stack(
        [alpha * ndimage.gaussian_filter(uniform[..., c], sigma, mode="mirror") for c in (0, 1)],
        axis=-1,
    )
    assert field.shape == (*shape, 2) and field.dtype == np.float64
    np.testing.assert_allclose(field, expected, rtol=0, atol=1e-12 * alpha)


def test_field_smoothing_equals_a_hand_convolution_with_mirrored_borders():
    """The same in plain numpy: kernel radius int(4 sigma + 0.5), reflect-101 padding."""
    sigma, shape = 4.0, (28, 28)
    field = displacement_field(np.random.default_rng(6), shape, 1.0, sigma)
    uniform = np.random.default_rng(6).uniform(-1.0, 1.0, size=(*shape, 2))
    radius = int(4 * sigma + 0.5)
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    taps /= taps.sum()
    for c in (0, 1):
        padded = np.pad(uniform[..., c], radius, mode="reflect")  # numpy's reflect = 101
        rows = sum(w * padded[:, k : k + shape[1]] for k, w in enumerate(taps))
        both = sum(w * rows[k : k + shape[0], :] for k, w in enumerate(taps))
        np.testing.assert_allclose(field[..., c], both, rtol=0, atol=1e-12)


def test_deformed_mnist_digits_keep_their_ink_and_centre(real_mnist):
    images, labels = load_mnist(real_mnist, "train")
    images, labels = images[:300], labels[:300]
    out, out_labels = infimnist_style(images, labels, 300, seed=0)
    np.testing.assert_array_equal(out_labels, labels)
    src, dst = images.astype(np.float64), out.astype(np.float64)
    ink = dst.sum(axis=(1, 2)) / src.sum(axis=(1, 2))
    assert 0.85 < np.median(ink) < 1.15 and ink.min() > 0.6 and ink.max() < 1.5
    mean_abs = np.abs(dst - src).mean(axis=(1, 2))
    assert np.median(mean_abs) < 40 and mean_abs.max() < 80
    assert (mean_abs > 0).all()
    grid = np.arange(28.0)

    def centre(x):
        mass = x.sum(axis=(1, 2))
        return np.stack(
            [(x.sum(axis=2) * grid).sum(1) / mass, (x.sum(axis=1) * grid).sum(1) / mass], 1
        )

    moved = np.linalg.norm(centre(dst) - centre(src), axis=1)
    assert np.median(moved) < 1.5 and np.quantile(moved, 0.95) < 2.0 and moved.max() < 3.0
    unshifted, _ = infimnist_style(images, labels, 300, seed=0, max_shift=0)
    moved = np.linalg.norm(centre(unshifted.astype(np.float64)) - centre(src), axis=1)
    assert np.quantile(moved, 0.95) < 1.0 and moved.max() < 2.0  # the field and affine part


def test_generate_to_file_writes_what_infimnist_style_makes(tmp_path):
    images, labels = strokes(6)
    save_dataset(tmp_path / "train.npz", images, labels)
    generate_to_file(tmp_path / "train.npz", 17, 5, tmp_path / "aug.npz", chunk=4, alpha=20.0)
    got, got_labels = load_dataset(tmp_path / "aug.npz")
    want, want_labels = infimnist_style(images, labels, 17, seed=5, alpha=20.0)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(got_labels, want_labels)


@pytest.mark.parametrize(
    ("call", "named"),
    [
        (lambda im, lb: deform(im[0].astype(np.float32), np.random.default_rng(0)), "image"),
        (lambda im, lb: deform(im, np.random.default_rng(0)), "image"),
        (lambda im, lb: deform(im[0], np.random.default_rng(0), alpha=-1.0), "alpha=-1.0"),
        (lambda im, lb: deform(im[0], np.random.default_rng(0), sigma=0.0), "sigma=0.0"),
        (lambda im, lb: deform(im[0], np.random.default_rng(0), max_scale=1.0), "max_scale=1.0"),
        (lambda im, lb: deform(im[0], np.random.default_rng(0), max_shift=0.5), "max_shift=0.5"),
        (lambda im, lb: deform(im[0], np.random.default_rng(0), max_shear=np.nan), "max_shear"),
        (lambda im, lb: displacement_field(np.random.default_rng(0), (28,), 1, 1), "shape"),
        (lambda im, lb: infimnist_style(im, lb[:2], 3, seed=0), "labels"),
        (lambda im, lb: infimnist_style(im[:0], lb[:0], 3, seed=0), "images"),
        (lambda im, lb: infimnist_style(im, lb, -1, seed=0), "count=-1"),
        (lambda im, lb: infimnist_style(im, lb, 3, seed=0, start=-2), "start=-2"),
        (lambda im, lb: infimnist_style(im, lb, 3, seed=-1), "seed=-1"),
        (lambda im, lb: infimnist_style(im, lb, 3, seed=0, alpah=3), "alpah"),
        (lambda im, lb: infimnist_style(im.astype(np.int64), lb, 3, seed=0), "images"),
    ],
)
def test_bad_inputs_raise_input_error_naming_the_value(call, named):
    images, labels = strokes(3)
    with pytest.raises(InputError, match=named):
        call(images, labels)


def test_missing_source_file_is_a_hardpos_error(tmp_path):
    with pytest.raises(HardposError, match="missing.npz"):
        generate_to_file(tmp_path / "missing.npz", 3, 0, tmp_path / "out.npz")
    with pytest.raises(InputError, match="chunk=0"):
        generate_to_file(tmp_path / "missing.npz", 3, 0, tmp_path / "out.npz", chunk=0)


_DEFORM_IN_A_PROCESS = """
import hashlib, sys
import numpy as np
sys.path.insert(0, {src!r})
from hardpos.mnist.deformations import infimnist_style
data = np.load({data!r})
out, labels = infimnist_style(data["images"], data["labels"], 9, seed=5, start=2)
print(hashlib.sha256(out.tobytes() + labels.tobytes()).hexdigest())
"""


def test_deformations_are_identical_across_processes_and_hash_seeds(tmp_path):
    """Catches: a random choice not drawn from (seed, index) alone, e.g. one taken from
    Python's salted ``hash`` or from global state set at import. Two fresh interpreters
    with different PYTHONHASHSEED values must give the bytes made in this one."""
    import hashlib
    import os
    import subprocess
    import sys
    from pathlib import Path

    import hardpos

    images, labels = strokes(4)
    np.savez(tmp_path / "src.npz", images=images, labels=labels)
    here, here_labels = infimnist_style(images, labels, 9, seed=5, start=2)
    expected = hashlib.sha256(here.tobytes() + here_labels.tobytes()).hexdigest()
    script = _DEFORM_IN_A_PROCESS.format(
        src=str(Path(hardpos.__file__).resolve().parents[1]), data=str(tmp_path / "src.npz")
    )
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        run = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                             text=True, timeout=300, check=True)  # fmt: skip
        assert run.stdout.strip() == expected, hash_seed
