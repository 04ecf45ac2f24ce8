"""SSIM exactly as the paper's eqs. 2 and 3 define it, in float64.

Local statistics come from an 11x11 Gaussian window (sigma 1.5) applied with OpenCV's
default border, BORDER_REFLECT_101 (what ``cv2.GaussianBlur`` does), so a pixel near the
edge is compared with the same neighbours in every backend. Variances and covariance are
population moments (no n/(n-1) correction), as in Wang et al. 2004.
"""

from __future__ import annotations

import cv2
import numpy as np

from hardpos.errors import InputError

WINDOW = 11
SIGMA = 1.5
DATA_RANGE = 255.0
C1 = (0.01 * DATA_RANGE) ** 2
C2 = (0.03 * DATA_RANGE) ** 2
C3 = C2 / 2
ALPHA = BETA = GAMMA = 1.0  # the paper follows Wang et al. and weights L, C, S equally


def _blur(image: np.ndarray) -> np.ndarray:
    """Gaussian-weighted local mean, reflect-101 border."""
    return cv2.GaussianBlur(
        image, (WINDOW, WINDOW), SIGMA, sigmaY=SIGMA, borderType=cv2.BORDER_REFLECT_101
    )


def ssim_map(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Regional SSIM (the paper's eq. 2, RSSIM = L^alpha C^beta S^gamma) at every pixel.

    ``a`` and ``b`` are single-channel ``[H, W]`` images on the [0, 255] scale; the result
    is a float64 ``[H, W]`` map with values in [-1, 1].
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    mu_a, mu_b = _blur(a), _blur(b)
    var_a = np.maximum(_blur(a * a) - mu_a * mu_a, 0.0)
    var_b = np.maximum(_blur(b * b) - mu_b * mu_b, 0.0)
    cov = _blur(a * b) - mu_a * mu_b
    sd_a, sd_b = np.sqrt(var_a), np.sqrt(var_b)
    luminance = (2 * mu_a * mu_b + C1) / (mu_a**2 + mu_b**2 + C1)
    contrast = (2 * sd_a * sd_b + C2) / (var_a + var_b + C2)
    structure = (cov + C3) / (sd_a * sd_b + C3)
    return luminance**ALPHA * contrast**BETA * structure**GAMMA


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """SSIM of two images (the paper's eq. 3): the mean of the RSSIM map over all pixels.

    Accepts one greyscale ``[H, W]`` pair or one ``[C, H, W]`` pair (C = 1 or 3), uint8 or
    float on the [0, 255] scale; for several channels the per-channel SSIMs are averaged.
    Returns a float64 in [-1, 1]; identical images give exactly 1.
    """
    a = np.asarray(a)
    b = np.asarray(b)
    if a.shape != b.shape:
        raise InputError(f"ssim: images differ in shape, {a.shape} vs {b.shape}")
    if a.ndim == 2:
        a, b = a[None], b[None]
    if a.ndim != 3 or a.shape[0] not in (1, 3):
        raise InputError(
            f"ssim: expected one [H, W] or [C, H, W] image (C = 1 or 3), got {a.shape}"
        )
    for name, image in (("a", a), ("b", b)):
        _check_range(image, f"ssim: {name}")
    return float(np.mean([ssim_map(x, y).mean() for x, y in zip(a, b, strict=True)]))


def _check_range(image: np.ndarray, what: str) -> None:
    """Reject dtypes and values that are not images on the [0, 255] scale."""
    if image.dtype != np.uint8 and not np.issubdtype(image.dtype, np.floating):
        raise InputError(f"{what}: expected uint8 or float values in [0, 255], got {image.dtype}")
    if image.dtype != np.uint8 and image.size:
        low, high = float(np.min(image)), float(np.max(image))
        if not (np.isfinite(low) and np.isfinite(high)) or low < 0 or high > 255:
            raise InputError(f"{what}: values must lie in [0, 255], found [{low:g}, {high:g}]")
