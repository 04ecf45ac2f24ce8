"""Linear image filters as small matrices, with OpenCV's BORDER_REFLECT_101 built in.

A separable filter with a reflect-101 border is a linear map on each row and column, so
``rows @ image @ cols.T`` reproduces ``cv2.GaussianBlur`` or ``cv2.filter2D`` exactly
(up to rounding) for a whole batch in two matrix products, on any torch device.
"""

from __future__ import annotations

import functools

import cv2
import numpy as np
import torch


def reflect101(index: int, size: int) -> int:
    """OpenCV's BORDER_REFLECT_101 index: gfedcb|abcdefgh|gfedcba."""
    if size == 1:
        return 0
    period = 2 * size - 2
    index = abs(index) % period
    return period - index if index >= size else index


@functools.lru_cache(maxsize=64)
def filter_matrix(size: int, taps: tuple[float, ...]) -> np.ndarray:
    """``[size, size]`` float64 matrix of a centred 1-D correlation with reflect-101 border."""
    radius = len(taps) // 2
    matrix = np.zeros((size, size), dtype=np.float64)
    for i in range(size):
        for k, tap in enumerate(taps):
            matrix[i, reflect101(i + k - radius, size)] += tap
    return matrix


def gaussian_taps(size: int, sigma: float = 0.0) -> tuple[float, ...]:
    """The 1-D kernel ``cv2.GaussianBlur`` uses for this size and sigma (0: from the size)."""
    return tuple(cv2.getGaussianKernel(size, sigma, cv2.CV_64F).ravel().tolist())


def separable(height: int, width: int, taps: tuple[float, ...], like: torch.Tensor):
    """Row and column matrices for ``filtered = rows @ image @ cols_t`` on ``like``'s device."""
    rows = torch.as_tensor(filter_matrix(height, taps), device=like.device, dtype=like.dtype)
    cols = torch.as_tensor(filter_matrix(width, taps), device=like.device, dtype=like.dtype)
    return rows, cols.T.contiguous()
