"""PASS (the paper's section 3): SSIM exactly as specified, ECC alignment, both backends,
eq. 5 filtering, scoring a generated table, and the ``hardpos pass`` command."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pandas as pd
import pytest
from paths import mnist_dir

from hardpos.errors import InputError
from hardpos.similarity import (
    filter_by_tau,
    l2_per_pixel,
    linf,
    pass_score,
    score_generated,
    ssim,
    ssim_map,
)
from hardpos.similarity.pairs import perturbed_pairs
from hardpos.similarity.ssim import C1, C2, C3

MNIST_DIR = mnist_dir()


@pytest.fixture(scope="module")
def digits() -> np.ndarray:
    """200 real MNIST test digits, uint8 [200, 28, 28]."""
    if not (MNIST_DIR / "t10k-images-idx3-ubyte.gz").exists():
        pytest.skip(f"real MNIST not found in {MNIST_DIR} (set HARDPOS_MNIST_DIR)")
    from hardpos.mnist.idx import load_mnist

    images, _ = load_mnist(MNIST_DIR, "test")
    return images[:200]


def _shift(image: np.ndarray, dx: int, dy: int) -> np.ndarray:
    """``image`` moved by whole pixels, the uncovered border black."""
    matrix = np.float32([[1, 0, dx], [0, 1, dy]])
    return cv2.warpAffine(image, matrix, image.shape[::-1], borderValue=0)


def _rotate(image: np.ndarray, degrees: float) -> np.ndarray:
    height, width = image.shape
    matrix = cv2.getRotationMatrix2D(((width - 1) / 2, (height - 1) / 2), degrees, 1.0)
    return cv2.warpAffine(image, matrix, (width, height), flags=cv2.INTER_CUBIC)


def _numpy_ssim_map(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Independent float64 SSIM map: hand-made Gaussian window and reflect-101 padding."""
    x = np.arange(11) - 5
    taps = np.exp(-(x**2) / (2 * 1.5**2))
    taps /= taps.sum()
    window = np.outer(taps, taps)

    def blur(image):
        padded = np.pad(image, 5, mode="reflect")  # numpy's "reflect" is reflect-101
        out = np.zeros_like(image)
        for i in range(11):
            for j in range(11):
                out += window[i, j] * padded[i : i + image.shape[0], j : j + image.shape[1]]
        return out

    a, b = a.astype(np.float64), b.astype(np.float64)
    mu_a, mu_b = blur(a), blur(b)
    var_a, var_b = blur(a * a) - mu_a**2, blur(b * b) - mu_b**2
    cov = blur(a * b) - mu_a * mu_b
    return ((2 * mu_a * mu_b + C1) * (2 * cov + C2)) / (
        (mu_a**2 + mu_b**2 + C1) * (var_a + var_b + C2)
    )


def _opencv_pass(adv: np.ndarray, orig: np.ndarray) -> tuple[float, np.ndarray]:
    """PASS of one uint8 ``[C, H, W]`` pair as this project specifies it, by calling OpenCV here:
    findTransformECC (homography, template the original's luma, input the adversarial's,
    identity start, 50 iterations, eps 1e-3, Gaussian 5), warpPerspective of every channel
    (bilinear, inverse map, black border), then the mean over channels of the numpy SSIM."""

    def grey(x):
        x = x.astype(np.float32)
        return x[0] if len(x) == 1 else 0.299 * x[0] + 0.587 * x[1] + 0.114 * x[2]

    criteria = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 50, 1e-3)
    try:
        _, warp = cv2.findTransformECC(
            grey(orig), grey(adv), np.eye(3, dtype=np.float32), cv2.MOTION_HOMOGRAPHY,
            criteria, None, 5,
        )  # fmt: skip
    except cv2.error as exc:  # StsNoConv: the identity, as the specification says
        assert exc.code == cv2.Error.StsNoConv
        warp = np.eye(3, dtype=np.float32)
    height, width = orig.shape[1:]
    warped = [
        cv2.warpPerspective(c.astype(np.float32), warp, (width, height),
                            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                            borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        for c in adv
    ]  # fmt: skip
    score = np.mean([_numpy_ssim_map(w, o).mean() for w, o in zip(warped, orig, strict=True)])
    return float(score), warp.astype(np.float64)


def _blobs(n: int, size: int = 28, seed: int = 0) -> np.ndarray:
    """Smooth synthetic images (a few Gaussian blobs each), uint8 ``[n, size, size]``: ECC
    has structure to align on without the real MNIST."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    out = np.zeros((n, size, size))
    for i in range(n):
        for _ in range(3):
            cy, cx = rng.uniform(7, size - 7, 2)
            sigma = rng.uniform(1.5, 3.5)
            out[i] += rng.uniform(120, 255) * np.exp(
                -((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * sigma**2)
            )
    return np.clip(out, 0, 255).astype(np.uint8)


# --- SSIM -------------------------------------------------------------------------------


def test_ssim_equals_independent_float64_numpy_computation():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (28, 31)).astype(np.uint8)
    b = np.clip(a + rng.normal(0, 40, a.shape), 0, 255).astype(np.uint8)
    assert ssim(a, b) == pytest.approx(_numpy_ssim_map(a, b).mean(), abs=1e-6)
    np.testing.assert_allclose(ssim_map(a, b), _numpy_ssim_map(a, b), atol=1e-6)


def test_ssim_matches_skimage_where_its_border_handling_agrees():
    """skimage pads with half-sample "reflect" (not reflect-101) and averages only pixels
    at least 5 from the border; there no padding is involved, so the maps must agree."""
    from skimage.metrics import structural_similarity

    rng = np.random.default_rng(1)
    a = rng.integers(0, 256, (32, 30)).astype(np.float64)
    b = np.clip(a + rng.normal(0, 30, a.shape), 0, 255)
    mean, full = structural_similarity(
        a,
        b,
        gaussian_weights=True,
        sigma=1.5,
        use_sample_covariance=False,
        data_range=255,
        full=True,
    )
    ours = ssim_map(a, b)
    np.testing.assert_allclose(ours[5:-5, 5:-5], full[5:-5, 5:-5], atol=1e-6)
    assert ours[5:-5, 5:-5].mean() == pytest.approx(mean, abs=1e-6)


def test_three_term_ssim_with_c3_half_c2_equals_two_term_formula():
    assert C3 == C2 / 2
    rng = np.random.default_rng(2)
    a = rng.integers(0, 256, (20, 20)).astype(np.float64)
    b = rng.integers(0, 256, (20, 20)).astype(np.float64)
    np.testing.assert_allclose(ssim_map(a, b), _numpy_ssim_map(a, b), atol=1e-9)


def test_ssim_of_identical_images_is_one_and_of_colour_is_channel_mean():
    rng = np.random.default_rng(3)
    colour = rng.integers(0, 256, (3, 16, 16)).astype(np.uint8)
    other = rng.integers(0, 256, (3, 16, 16)).astype(np.uint8)
    assert ssim(colour, colour) == 1.0
    expected = np.mean([ssim(colour[c], other[c]) for c in range(3)])
    assert ssim(colour, other) == pytest.approx(expected, abs=1e-12)


# --- PASS behaviour ---------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["opencv", "torch"])
def test_pass_of_an_image_with_itself_is_one(digits, backend):
    result = pass_score(digits[:3], digits[:3], backend)
    np.testing.assert_allclose(result.scores, 1.0, atol=1e-6)
    assert result.converged.all()
    np.testing.assert_allclose(result.homographies, np.eye(3)[None].repeat(3, 0), atol=1e-3)


@pytest.mark.parametrize("backend", ["opencv", "torch"])
def test_one_pixel_shift_scores_as_opencv_ecc_does_and_above_097_where_ecc_aligns(digits, backend):
    """Catches: a backend that does not undo the shift (plain SSIM), or that scores
    differently from OpenCV's ECC. Test digit 2 (a thin "1") stays in: homography ECC
    settles on a poor warp there and scores 0.72, which OpenCV called directly confirms."""
    originals = digits[:6]
    shifted = np.stack([_shift(d, 1, 0) for d in originals])
    result = pass_score(shifted, originals, backend)
    pairs = zip(shifted, originals, strict=True)
    direct = np.array([_opencv_pass(s[None], o[None])[0] for s, o in pairs])
    plain = np.array([ssim(s, o) for s, o in zip(shifted, originals, strict=True)])
    tolerance = 1e-6 if backend == "opencv" else 0.01
    np.testing.assert_allclose(result.scores, direct, atol=tolerance)
    aligned = [0, 1, 3, 4, 5]
    assert (result.scores[aligned] > 0.97).all(), result.scores
    assert direct[2] == pytest.approx(0.72, abs=0.02)
    assert (plain < 0.85).all(), plain
    np.testing.assert_allclose(result.homographies[aligned, 0, 2], 1.0, atol=0.05)


@pytest.mark.parametrize("backend", ["opencv", "torch"])
def test_three_degree_rotation_scores_above_097_while_plain_ssim_drops(digits, backend):
    # Bicubic rotation: bilinear resampling alone blurs strokes enough to cost ~0.02 SSIM.
    originals = digits[[0, 2, 5]]
    rotated = np.stack([_rotate(d, 3.0) for d in originals])
    result = pass_score(rotated, originals, backend)
    plain = np.array([ssim(r, o) for r, o in zip(rotated, originals, strict=True)])
    assert (result.scores > 0.97).all(), result.scores
    assert (plain < result.scores - 0.02).all(), (plain, result.scores)


@pytest.mark.parametrize("backend", ["opencv", "torch"])
def test_constant_original_and_blank_adversarial_are_scored_but_not_converged(digits, backend):
    blank = np.zeros((28, 28), np.uint8)
    grey = np.full((28, 28), 128, np.uint8)
    adv = np.stack([blank, digits[0], grey])
    orig = np.stack([digits[0], grey, grey])
    result = pass_score(adv, orig, backend)
    assert not result.converged.any()
    np.testing.assert_allclose(result.homographies, np.eye(3)[None].repeat(3, 0))
    assert result.scores[2] == pytest.approx(1.0)
    assert result.scores[0] == pytest.approx(ssim(blank, digits[0]))
    assert np.isfinite(result.scores).all()


def test_single_pair_without_batch_axis_and_float_input_are_accepted(digits):
    shifted = _shift(digits[0], 1, 1)
    single = pass_score(shifted, digits[0])
    batch = pass_score(shifted[None].astype(np.float32), digits[:1].astype(np.float64))
    assert single.scores.shape == (1,)
    assert single.scores[0] == pytest.approx(batch.scores[0], abs=1e-9)


def test_colour_pair_is_aligned_on_luma_and_scored_as_mean_over_channels():
    """Catches: ECC on one channel instead of the luma (or other luma weights), template
    and input swapped, a forward instead of an inverse warp, the score of one channel
    instead of the mean. Expected values from cv2.findTransformECC called here."""
    rng = np.random.default_rng(4)
    base = _blobs(3, seed=5)
    orig = np.stack([base[0], base[1] // 2 + 60, 255 - base[2]]).astype(np.uint8)
    adv = np.stack([_shift(c, 1, 0) for c in orig])
    adv[1] = _shift(orig[1], 1, 1)  # the channels disagree: the luma decides
    adv = np.clip(adv + rng.normal(0, 4, adv.shape), 0, 255).astype(np.uint8)
    expected, homography = _opencv_pass(adv, orig)
    result = pass_score(adv[None], orig[None])
    assert result.converged[0]
    np.testing.assert_allclose(result.homographies[0], homography, atol=1e-6)
    assert result.scores[0] == pytest.approx(expected, abs=1e-6)
    single = [_opencv_pass(adv[c : c + 1], orig[c : c + 1])[0] for c in range(3)]
    assert min(abs(expected - s) for s in single) > 1e-3  # the test tells them apart
    fast = pass_score(adv[None], orig[None], "torch")
    assert fast.scores[0] == pytest.approx(expected, abs=0.01)


def test_pass_of_shifted_synthetic_images_equals_opencv_called_directly():
    """Without the real MNIST: both backends against the direct OpenCV computation."""
    orig = _blobs(6, seed=1)
    adv = np.stack([_shift(o, 1, 0) if i % 2 else _rotate(o, 2.0) for i, o in enumerate(orig)])
    ref = pass_score(adv, orig, "opencv")
    fast = pass_score(adv, orig, "torch")
    for i in range(len(orig)):
        expected, homography = _opencv_pass(adv[i][None], orig[i][None])
        assert ref.scores[i] == pytest.approx(expected, abs=1e-6), i
        np.testing.assert_allclose(ref.homographies[i], homography, atol=1e-6)
        assert fast.scores[i] == pytest.approx(expected, abs=0.01), i


@pytest.mark.parametrize(
    ("adv", "orig", "message"),
    [
        (np.zeros((2, 2, 28, 28), np.uint8), np.zeros((2, 2, 28, 28), np.uint8), "[N, 3, H, W]"),
        (np.zeros((28,), np.uint8), np.zeros((28,), np.uint8), "[N, H, W]"),
        (np.zeros((2, 28, 28), np.int32), np.zeros((2, 28, 28), np.int32), "uint8 or float"),
        (np.zeros((2, 28, 28), np.uint8), np.zeros((3, 28, 28), np.uint8), "same shape"),
        (np.full((1, 28, 28), 300.0), np.zeros((1, 28, 28)), "[0, 255]"),
        (np.full((1, 28, 28), np.nan), np.zeros((1, 28, 28)), "[0, 255]"),
        (np.zeros((1, 8, 8), np.uint8), np.zeros((1, 8, 8), np.uint8), "at least 11x11"),
    ],
)
def test_wrong_shape_dtype_or_range_raises_input_error_saying_what_was_expected(adv, orig, message):
    with pytest.raises(InputError, match=message.replace("[", r"\[").replace("]", r"\]")):
        pass_score(adv, orig)


def test_unknown_backend_or_ecc_option_raises_input_error():
    images = np.zeros((1, 28, 28), np.uint8)
    with pytest.raises(InputError, match="backend"):
        pass_score(images, images, "cuda")
    with pytest.raises(InputError, match="iteration"):
        pass_score(images, images, iteration=3)
    with pytest.raises(InputError, match="odd"):
        pass_score(images, images, gauss_filt_size=4)
    with pytest.raises(InputError, match="processes must be a positive integer, got 0"):
        pass_score(images, images, processes=0)


# --- the fast backend -------------------------------------------------------------------


def test_fast_backend_agrees_with_opencv_on_shifted_rotated_and_noisy_digits(digits):
    adv, orig = perturbed_pairs(digits, 300, seed=7)
    ref = pass_score(adv, orig, "opencv")
    fast = pass_score(adv, orig, "torch")
    diff = np.abs(ref.scores - fast.scores)
    assert np.mean(diff < 0.01) >= 0.99, np.sort(diff)[-5:]
    assert diff.mean() < 0.002
    assert np.mean(ref.converged == fast.converged) >= 0.99


def test_fast_backend_scores_the_same_in_forked_worker_processes(digits):
    from hardpos.similarity import torch_backend, workers
    from hardpos.similarity.inputs import as_batch

    adv, orig = perturbed_pairs(digits, 600, seed=8)
    batch = as_batch(adv, orig)
    args = (batch.adv, batch.orig)
    ecc = {"iterations": 50, "eps": 1e-3, "gauss_filt_size": 5}
    forked = torch_backend.pass_scores(*args, processes=2, **ecc)
    inline = torch_backend.pass_scores(*args, processes=1, **ecc)
    # Other batch compositions change float32 rounding: equal but for the last digits,
    # except on the odd pair where ECC diverges and small differences grow.
    assert np.mean(np.abs(forked[0] - inline[0]) < 1e-4) >= 0.98
    assert np.mean(forked[1] == inline[1]) >= 0.99
    # the worker is kept: a second call is served by the same process, with equal results
    pids = [process.pid for process in workers._POOL.processes]
    again = torch_backend.pass_scores(*args, processes=2, **ecc)
    assert [process.pid for process in workers._POOL.processes] == pids
    for first, second in zip(forked, again, strict=True):
        np.testing.assert_array_equal(first, second)


@pytest.mark.parametrize("channels", [1, 3])
def test_reference_backend_gives_identical_results_in_worker_processes(digits, channels):
    from hardpos.similarity import workers

    adv, orig = perturbed_pairs(digits, 160, seed=9)
    if channels == 3:  # colour pairs: the digit tinted differently per channel
        adv = np.stack([adv, adv[:, ::-1], adv.transpose(0, 2, 1)], axis=1)
        orig = np.stack([orig, orig[:, ::-1], orig.transpose(0, 2, 1)], axis=1)
    alone = pass_score(adv, orig, "opencv", processes=1)
    shared = pass_score(adv, orig, "opencv", processes=2)
    assert workers._POOL is not None and all(p.is_alive() for p in workers._POOL.processes)
    # each pair is scored on its own by the same code: the split changes nothing
    np.testing.assert_array_equal(shared.scores, alone.scores)
    np.testing.assert_array_equal(shared.converged, alone.converged)
    np.testing.assert_array_equal(shared.homographies, alone.homographies)


@pytest.mark.parametrize("channels", [1, 3])
def test_fast_ssim_equals_the_float64_reference_in_float64_and_within_float32_rounding(
    channels,
):
    import torch

    from hardpos.similarity.torch_backend import ssim_scores

    rng = np.random.default_rng(11)
    a = rng.integers(0, 256, (6, channels, 28, 28)).astype(np.float64)
    b = np.clip(a + rng.normal(0, 40, a.shape), 0, 255)
    b[0] = a[0]  # identical pair: exactly 1
    b[1] = 0.0  # blank against a digit-like image
    expected = np.array([ssim(x, y) for x, y in zip(a, b, strict=True)])
    exact = ssim_scores(torch.from_numpy(a), torch.from_numpy(b)).numpy()
    np.testing.assert_allclose(exact, expected, atol=1e-10)
    single = ssim_scores(torch.from_numpy(a).float(), torch.from_numpy(b).float()).numpy()
    np.testing.assert_allclose(single, expected, atol=1e-5)


def test_auto_uses_torch_for_a_large_mnist_batch_and_opencv_for_a_few_pairs(digits):
    assert pass_score(digits[:70], digits[:70], "auto").backend == "torch"
    assert pass_score(digits[:3], digits[:3], "auto").backend == "opencv"


def test_auto_uses_torch_for_imagenet_crops_only_on_cuda_where_it_is_the_faster():
    from hardpos.similarity.scoring import _auto

    assert _auto((500, 3, 224, 224), "cuda") == "torch"
    assert _auto((500, 3, 224, 224), "cuda:1") == "torch"
    assert _auto((500, 3, 224, 224), "cpu") == "opencv"
    assert _auto((500, 3, 224, 224)) == "opencv"
    assert _auto((500, 1, 28, 28), "cpu") == "torch"
    assert _auto((500, 3, 64, 64), "cuda") == "opencv"  # not validated at this size


def _photo_pairs(n: int, size: int = 224, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` (perturbed, original) uint8 colour crops ``[n, 3, size, size]`` of the
    photographs scikit-image ships: shifted up to 2 pixels, rotated up to 3 degrees, with
    noise, in turn."""
    from skimage import data

    photos = [data.astronaut(), data.coffee(), data.chelsea(), data.rocket()]
    rng = np.random.default_rng(seed)
    adv, orig = [], []
    for i in range(n):
        photo = photos[i % len(photos)]
        top, left = (int(rng.integers(0, extent - size)) for extent in photo.shape[:2])
        crop = photo[top : top + size, left : left + size].astype(np.float32)
        angle = rng.uniform(-3, 3) if i % 4 in (1, 3) else 0.0
        matrix = cv2.getRotationMatrix2D((size / 2, size / 2), angle, 1.0)
        matrix[:, 2] += rng.uniform(-2, 2, 2) if i % 4 in (0, 3) else 0.0
        moved = cv2.warpAffine(crop, matrix, (size, size), borderMode=cv2.BORDER_REFLECT)
        moved += rng.normal(0, 8 if i % 4 == 2 else 3, moved.shape)
        adv.append(np.clip(np.round(moved), 0, 255).transpose(2, 0, 1))
        orig.append(crop.transpose(2, 0, 1))
    return np.stack(adv).astype(np.uint8), np.stack(orig).astype(np.uint8)


def test_fast_backend_agrees_with_opencv_on_224_pixel_colour_crops():
    """What puts (3, 224, 224) in VALIDATED_SIZES (auto picks torch there on CUDA)."""
    from hardpos.similarity.scoring import VALIDATED_SIZES

    adv, orig = _photo_pairs(24)
    ref = pass_score(adv, orig, "opencv")
    fast = pass_score(adv, orig, "torch")
    diff = np.abs(ref.scores - fast.scores)
    assert (3, 224, 224) in VALIDATED_SIZES
    assert ref.converged.all() and np.mean(diff < 0.01) >= 0.99 and diff.mean() < 0.002
    assert ref.scores.min() > 0.5 and ref.scores.max() < 0.99  # a real range, not all 1


def test_fast_backend_honours_ecc_options(digits):
    adv = np.stack([_shift(d, 1, 0) for d in digits[:4]])
    one = pass_score(adv, digits[:4], "torch", iterations=1)
    ref = pass_score(adv, digits[:4], "opencv", iterations=1)
    # OpenCV inverts its Hessian in float32; one step already differs by ~1e-3 pixels
    np.testing.assert_allclose(one.homographies, ref.homographies, atol=1e-2)
    assert not np.allclose(one.homographies, pass_score(adv, digits[:4], "torch").homographies)


# --- eq. 5 and generated sets -----------------------------------------------------------


def test_filter_by_tau_keeps_misclassified_rows_at_or_above_tau():
    table = pd.DataFrame(
        {"pass": [0.99, 0.95, 0.80, np.nan, 0.97], "success": [True, True, True, True, False]},
        index=[10, 11, 12, 13, 14],
    )
    kept = filter_by_tau(table, 0.95)
    assert list(kept.index) == [10, 11]
    assert list(filter_by_tau(table.drop(columns="success"), 0.97).index) == [10, 14]
    with pytest.raises(InputError, match="'score'"):
        filter_by_tau(table, 0.9, column="score")
    with pytest.raises(InputError, match="tau"):
        filter_by_tau(table, 2.0)


def test_score_generated_adds_pass_and_convergence_columns_per_row(digits):
    orig = digits[[0, 1, 3]]
    adv = np.stack([_shift(orig[2], 1, 0), orig[0], np.zeros((28, 28), np.uint8)])[:, None]
    table = pd.DataFrame({"source": [2, 0, 1], "success": [True, False, True]})
    scored = score_generated(adv, orig, table, backend="opencv", batch_size=2)
    assert list(scored.columns) == ["source", "success", "pass", "ecc_converged"]
    assert scored["pass"].dtype == np.float64 and scored["ecc_converged"].dtype == bool
    assert scored["pass"][1] == pytest.approx(1.0)
    assert scored["pass"][0] > 0.97
    assert list(scored["ecc_converged"]) == [True, True, False]
    assert "pass" not in table.columns
    with pytest.raises(InputError, match="source"):
        score_generated(adv, orig, table.assign(source=[0, 1, 3]))
    with pytest.raises(InputError, match="rows"):
        score_generated(adv[:2], orig, table)


def test_l2_per_pixel_and_linf_are_on_the_255_scale():
    a = np.zeros((2, 2), np.uint8)
    b = np.array([[3, 0], [4, 0]], np.uint8)
    assert l2_per_pixel(a, b) == pytest.approx(5 / 4)
    assert linf(a, b) == 4


# --- the command line -------------------------------------------------------------------


def test_cli_pass_prints_json_for_two_pngs(digits, tmp_path, capsys):
    from hardpos.cli import main

    cv2.imwrite(str(tmp_path / "orig.png"), digits[0])
    cv2.imwrite(str(tmp_path / "adv.png"), _shift(digits[0], 1, 0))
    assert main(["pass", str(tmp_path / "orig.png"), str(tmp_path / "adv.png")]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["pass"] > 0.97 and report["ssim"] < report["pass"]
    assert report["ecc_converged"] is True
    assert report["linf"] == linf(_shift(digits[0], 1, 0), digits[0])
    assert set(report) >= {"pass", "ssim", "l2_per_pixel", "linf", "ecc_converged"}


def test_cli_pass_reports_an_unreadable_file_by_name(tmp_path, capsys):
    from hardpos.cli import main

    (tmp_path / "bad.png").write_bytes(b"not a png")
    np.save(tmp_path / "ok.npy", np.zeros((28, 28), np.uint8))
    assert main(["pass", str(tmp_path / "ok.npy"), str(tmp_path / "bad.png")]) == 2
    assert "bad.png" in capsys.readouterr().err
    assert main(["pass", str(tmp_path / "ok.npy"), str(tmp_path / "missing.png")]) == 2
    assert "missing.png" in capsys.readouterr().err
