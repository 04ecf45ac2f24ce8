"""Real MNIST digits, whole-pixel shifts and a float64 numpy SSIM for the similarity
tests."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from paths import mnist_dir

from hardpos.similarity.ssim import C1, C2

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
