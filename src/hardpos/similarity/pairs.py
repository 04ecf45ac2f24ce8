"""Synthetic (perturbed, original) pairs: small shifts, rotations and noise of real images.

Before attacks exist these stand in for adversarials when the backends are compared and
benchmarked; they exercise what PASS is for (geometric changes ECC should undo, and
pixel noise it should not).
"""

from __future__ import annotations

import cv2
import numpy as np


def perturbed_pairs(
    images: np.ndarray,
    n: int,
    *,
    seed: int = 0,
    max_shift: float = 2.0,
    max_angle: float = 10.0,
    max_noise: float = 30.0,
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` pairs ``(perturbed, original)``, both uint8 ``[n, H, W]``, from greyscale images.

    Each pair draws one of four kinds: a shift of up to ``max_shift`` pixels (sub-pixel),
    a rotation about the centre of up to ``max_angle`` degrees, Gaussian noise with a
    standard deviation up to ``max_noise`` grey levels, or all three together.
    """
    rng = np.random.default_rng(seed)
    originals = images[rng.integers(0, len(images), size=n)]
    perturbed = np.empty_like(originals)
    height, width = originals.shape[1:]
    centre = ((width - 1) / 2, (height - 1) / 2)
    for i, image in enumerate(originals):
        kind = rng.integers(4)
        angle = rng.uniform(-max_angle, max_angle) if kind in (1, 3) else 0.0
        shift = rng.uniform(-max_shift, max_shift, size=2) if kind in (0, 3) else (0.0, 0.0)
        noise = rng.uniform(0, max_noise) if kind in (2, 3) else 0.0
        matrix = cv2.getRotationMatrix2D(centre, angle, 1.0)
        matrix[:, 2] += shift
        moved = cv2.warpAffine(
            image.astype(np.float32),
            matrix,
            (width, height),
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_CONSTANT,
        )
        moved += rng.normal(0.0, 1.0, moved.shape).astype(np.float32) * noise
        perturbed[i] = np.clip(np.rint(moved), 0, 255).astype(np.uint8)
    return perturbed, originals
