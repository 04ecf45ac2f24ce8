"""Checking and normalising image batches before they are scored.

Every backend sees the same thing: float32 ``[N, C, H, W]`` on the [0, 255] scale with
C = 1 or 3, so shape and range errors are raised once, here, with a message that names
what was expected.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hardpos.errors import InputError
from hardpos.similarity.ssim import WINDOW, _check_range

# ITU-R BT.601 luma, the weights cv2.cvtColor uses for RGB/BGR -> GRAY, here applied to
# hardpos's RGB channel order (torchvision's convention for colour images).
LUMA_RGB = (0.299, 0.587, 0.114)

ECC_DEFAULTS = {"iterations": 50, "eps": 1e-3, "gauss_filt_size": 5}


@dataclass(frozen=True)
class Batch:
    """Validated images: float32 ``[N, C, H, W]`` in [0, 255]; ``single`` if given as 2-D."""

    adv: np.ndarray
    orig: np.ndarray
    single: bool


def as_batch(adv, orig, data_range: float | None = None) -> Batch:
    """Validate an adversarial/original pair of image batches and bring them to NCHW float32.

    Accepted layouts: ``[H, W]`` (one greyscale pair), ``[N, H, W]`` (greyscale batch),
    ``[N, 1, H, W]`` and ``[N, 3, H, W]``; dtype uint8 or float with values in
    ``[0, data_range]`` (see :func:`to_pixel_scale`).
    """
    adv = _to_numpy(adv, "adv")
    orig = _to_numpy(orig, "orig")
    adv, orig = to_pixel_scale(adv, orig, data_range)
    if adv.shape != orig.shape:
        raise InputError(
            f"adv and orig must have the same shape, got adv {adv.shape} and orig {orig.shape}"
        )
    single = adv.ndim == 2
    if adv.ndim == 2:
        adv, orig = adv[None, None], orig[None, None]
    elif adv.ndim == 3:
        adv, orig = adv[:, None], orig[:, None]
    elif adv.ndim != 4 or adv.shape[1] not in (1, 3):
        raise InputError(
            "expected images as [H, W], [N, H, W], [N, 1, H, W] or [N, 3, H, W], "
            f"got shape {adv.shape}"
        )
    height, width = adv.shape[2:]
    if height < WINDOW or width < WINDOW:
        raise InputError(
            f"images must be at least {WINDOW}x{WINDOW} pixels (the SSIM window), "
            f"got {height}x{width}"
        )
    _check_range(adv, "adv")
    _check_range(orig, "orig")
    return Batch(
        adv=np.ascontiguousarray(adv, dtype=np.float32),
        orig=np.ascontiguousarray(orig, dtype=np.float32),
        single=single,
    )


def to_pixel_scale(
    adv: np.ndarray, orig: np.ndarray, data_range: float | None
) -> tuple[np.ndarray, np.ndarray]:
    """Both batches on PASS's [0, 255] scale, where SSIM's constants C1, C2 are set.

    ``data_range``: the value of white. uint8 images are pixel values and need none (255
    if given). Float images are taken as [0, 255] when it is None, except that images whose
    maximum is at most 1 are then an error: on the [0, 255] scale they would be all but
    black and score ~1 whatever they show, so [0, 1] images need ``data_range=1.0`` (and
    truly dark [0, 255] ones ``data_range=255``). Floats in [0, data_range] are multiplied
    by ``255 / data_range``.
    """
    floats = [a for a in (adv, orig) if a.dtype != np.uint8]
    if data_range is None:
        if floats and all(a.size for a in floats):
            largest = max(float(np.max(a)) for a in floats)
            if largest <= 1.0:
                raise InputError(
                    f"float images with values up to {largest:g}: PASS is defined on the "
                    "[0, 255] scale; give data_range=1.0 for images in [0, 1] (or "
                    "data_range=255 if these are dark [0, 255] images)"
                )
        return adv, orig
    try:
        white = float(data_range)
    except (TypeError, ValueError):
        raise InputError(
            f"data_range must be a number such as 1.0 or 255; got {data_range!r}"
        ) from None
    if not (np.isfinite(white) and white > 0):
        raise InputError(f"data_range must be a positive number; got {data_range!r}")
    if white == 255.0:
        return adv, orig
    if not floats or len(floats) < 2:
        raise InputError(
            f"data_range={data_range!r} is for float images in [0, {white:g}]; uint8 images "
            "are pixel values in [0, 255] (give both as floats, or data_range=255)"
        )
    scaled = []
    for name, image in (("adv", adv), ("orig", orig)):
        if image.size:
            low, high = float(np.min(image)), float(np.max(image))
            if not (np.isfinite(low) and np.isfinite(high)) or low < 0 or high > white:
                raise InputError(
                    f"{name}: values must lie in [0, {white:g}] (data_range), found "
                    f"[{low:g}, {high:g}]"
                )
        scaled.append((image.astype(np.float64) * (255.0 / white)).astype(np.float32))
    return scaled[0], scaled[1]


def check_ecc_options(options: dict) -> dict:
    """ECC settings with OpenCV's defaults filled in; unknown or invalid ones rejected."""
    unknown = set(options) - set(ECC_DEFAULTS)
    if unknown:
        raise InputError(
            f"unknown ECC option(s) {sorted(unknown)}; expected some of {sorted(ECC_DEFAULTS)}"
        )
    merged = {**ECC_DEFAULTS, **options}
    iterations, eps, size = merged["iterations"], merged["eps"], merged["gauss_filt_size"]
    if not isinstance(iterations, int | np.integer) or iterations < 1:
        raise InputError(f"iterations must be a positive integer, got {iterations!r}")
    if not isinstance(eps, int | float | np.number) or not eps >= 0:
        raise InputError(f"eps must be a number >= 0, got {eps!r}")
    if not isinstance(size, int | np.integer) or size < 1 or size % 2 == 0:
        raise InputError(f"gauss_filt_size must be a positive odd integer, got {size!r}")
    return {"iterations": int(iterations), "eps": float(eps), "gauss_filt_size": int(size)}


def to_grey(images: np.ndarray) -> np.ndarray:
    """The single channel ECC aligns on: ``[N, H, W]`` float32 (luma for RGB batches)."""
    if images.shape[1] == 1:
        return images[:, 0]
    r, g, b = LUMA_RGB
    return (r * images[:, 0] + g * images[:, 1] + b * images[:, 2]).astype(np.float32)


def _to_numpy(images, name: str) -> np.ndarray:
    """An array from numpy input or a (CPU or CUDA) torch tensor."""
    if hasattr(images, "detach") and hasattr(images, "cpu"):
        images = images.detach().cpu().numpy()
    try:
        array = np.asarray(images)
    except Exception as exc:  # ragged lists and odd objects fail in several ways
        raise InputError(f"{name}: not an image array ({exc})") from None
    if array.dtype != np.uint8 and not np.issubdtype(array.dtype, np.floating):
        raise InputError(f"{name}: expected uint8 or float values in [0, 255], got {array.dtype}")
    return array
