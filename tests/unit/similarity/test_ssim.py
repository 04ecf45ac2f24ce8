"""hardpos.similarity.ssim: SSIM exactly as specified, against float64 numpy and
scikit-image."""

from __future__ import annotations

import numpy as np
import pytest

from hardpos.similarity import (
    ssim,
    ssim_map,
)
from hardpos.similarity.ssim import C2, C3

from .conftest import _numpy_ssim_map

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
