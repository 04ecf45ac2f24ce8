"""A tiny synthetic ImageFolder tree, for smoke runs and tests (no ImageNet download here)."""

from __future__ import annotations

import colorsys
import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)


def make_synthetic_imagenet(
    out: str | os.PathLike,
    *,
    classes: int,
    train_per_class: int,
    val_per_class: int,
    size: Sequence[int] = (72, 120),
    seed: int = 0,
) -> None:
    """A tiny ImageFolder tree ``out/{train,val}/classNN/*.jpg`` for smoke runs and tests.

    Class ``c`` is a striped pattern of its own hue and stripe angle, with random phase,
    contrast, noise and size (width and height drawn from ``size``), saved as JPEG.
    """
    from PIL import Image

    rng = np.random.default_rng(seed)
    root = Path(out)
    for split, count in (("train", train_per_class), ("val", val_per_class)):
        for c in range(classes):
            folder = root / split / f"class{c:02d}"
            folder.mkdir(parents=True, exist_ok=True)
            hue = np.array(colorsys.hsv_to_rgb(c / classes, 0.7, 0.8))
            angle = np.pi * c / classes
            for i in range(count):
                h, w = (int(v) for v in rng.integers(size[0], size[1] + 1, size=2))
                yy, xx = np.mgrid[0:h, 0:w]
                wave = np.sin((np.cos(angle) * xx + np.sin(angle) * yy) / 3 + rng.uniform(0, 6))
                shade = 0.5 + rng.uniform(0.2, 0.45) * wave
                pixels = 255 * hue[None, None] * shade[..., None] + rng.normal(0, 12, (h, w, 3))
                image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
                image.save(folder / f"{split}_{c:02d}_{i:03d}.jpg", quality=92)
    log.info("synthetic ImageFolder in %s: %d classes", root, classes)
