"""Random uint8 images for the files tests."""

from __future__ import annotations

import numpy as np


def _images(n: int, shape=(3, 5, 4), seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, *shape), dtype=np.uint8)
