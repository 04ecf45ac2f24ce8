"""InfiMNIST-style deformations of MNIST digits: the paper's augmentation baseline.

The paper (Rozsa, Rudd, Boult 2016, Table 1) compares adversarial training with LeNets
trained on 1M images made by InfiMNIST (Loosli, Canu, Bottou 2007, "Training invariant
support vector machines using selective sampling"). InfiMNIST is a C program that turns
MNIST into an unlimited, reproducible stream: example number i beyond the original
70 000 is a pseudo-random deformation of a training digit, determined by i alone. Its
deformations combine smooth random displacement fields in the spirit of Simard,
Steinkraus and Platt (2003) with small affine changes and translations; the paper sums
them up as "small affine transformations and noise".

We cannot run InfiMNIST here, so this module builds a generator in the same spirit, and
everything made with it is labelled "InfiMNIST-style", never "InfiMNIST":

- an elastic field (Simard et al. 2003): each pixel's two displacement components drawn
  uniform in [-1, 1], smoothed by a Gaussian of standard deviation ``sigma`` pixels and
  scaled by ``alpha`` (:func:`displacement_field`);
- a small random affine map about the image centre: rotation up to
  ``max_rotation_deg``, isotropic scale within ``1 +- max_scale``, horizontal shear up to
  ``max_shear``;
- an integer translation of at most ``max_shift`` pixels in x and in y;

all composed into one sampling grid and applied with a single bilinear ``cv2.remap``
(zero outside the image), then rounded to uint8 (:func:`deform`).

Like InfiMNIST, :func:`infimnist_style` makes image i from ``i`` alone: it deforms source
digit ``i % len(images)`` with its own generator ``np.random.default_rng([seed, i])``, so
any slice can be regenerated on its own and a chunked run equals a one-shot run.

Defaults are calibrated on the one number the paper gives about its InfiMNIST images:
2.199% +- 0.132% of them were misclassified by LeNets trained on MNIST (Section 2). Two
Caffe LeNets trained here (:func:`hardpos.training.train`, 10K iterations, seeds 1 and 2,
0.88% test error) misclassify 2.47% and 2.37% of 60 000 images made with the defaults (seed 0):
``alpha=8, sigma=4`` (each displacement component has a standard deviation of about
0.4 pixel and varies smoothly along a stroke), rotation up to 5 degrees, scale within
5%, shear up to 0.1 and shifts of up to one pixel. The first net misclassifies about 1.6%
of digits that are only shifted by up to a pixel, 2.0% with the default affine part and
no field, 3.7% with ``alpha=12`` and twice the default affine ranges, and with those
ranges 7.7% for ``alpha=34, sigma=6`` and 17% for Simard's ``alpha=34, sigma=4`` (which
on 28x28 smears and tears thin strokes): stronger settings would make a different, harder
baseline than the paper's. With the defaults,
8 digits x 5 deformations (``benchmarks/augment.py --grid``) all stay plainly readable.
"""

from __future__ import annotations

import functools
import logging
import math
import os
import time

import cv2
import numpy as np

from hardpos.errors import InputError
from hardpos.files.datasets import load_dataset
from hardpos.files.images import image_writer

log = logging.getLogger(__name__)

ALPHA = 8.0
SIGMA = 4.0
MAX_ROTATION_DEG = 5.0
MAX_SCALE = 0.05
MAX_SHEAR = 0.1
MAX_SHIFT = 1
DEFAULTS = {
    "alpha": ALPHA,
    "sigma": SIGMA,
    "max_rotation_deg": MAX_ROTATION_DEG,
    "max_scale": MAX_SCALE,
    "max_shear": MAX_SHEAR,
    "max_shift": MAX_SHIFT,
}
OPTION_NAMES = tuple(DEFAULTS)
TRUNCATE = 4.0  # Gaussian kernel radius in standard deviations, as scipy.ndimage's default


def _check_options(
    alpha: float,
    sigma: float,
    max_rotation_deg: float,
    max_scale: float,
    max_shear: float,
    max_shift: int,
) -> None:
    """Raise InputError naming the first magnitude outside its allowed range."""
    checks = (
        ("alpha", alpha, 0.0 <= alpha < np.inf, "a finite number >= 0"),
        ("sigma", sigma, 0.0 < sigma < np.inf, "a finite number > 0"),
        (
            "max_rotation_deg",
            max_rotation_deg,
            0.0 <= max_rotation_deg <= 180.0,
            "a number of degrees in [0, 180]",
        ),
        ("max_scale", max_scale, 0.0 <= max_scale < 1.0, "a number in [0, 1)"),
        ("max_shear", max_shear, 0.0 <= max_shear < np.inf, "a finite number >= 0"),
    )
    for name, value, ok, expected in checks:
        if isinstance(value, bool) or not isinstance(value, int | float | np.number):
            raise InputError(f"{name}={value!r}: expected {expected}")
        if not ok:
            raise InputError(f"{name}={value!r}: expected {expected}")
    if isinstance(max_shift, bool) or not isinstance(max_shift, int | np.integer) or max_shift < 0:
        raise InputError(f"max_shift={max_shift!r}: expected an integer number of pixels >= 0")


def _describe(value: object) -> str:
    """What a wrong input is, for an error message."""
    if isinstance(value, np.ndarray):
        return f"{value.dtype} array of shape {value.shape}"
    return type(value).__name__


def _check_image(image: np.ndarray, name: str = "image") -> None:
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 2:
        raise InputError(f"{name}: expected a uint8 [H, W] array, got a {_describe(image)}")
    if min(image.shape) < 1:
        raise InputError(f"{name}: empty image of shape {image.shape}")


def gaussian_ksize(sigma: float) -> int:
    """The Gaussian kernel width used for the field: ``2 * int(4 * sigma + 0.5) + 1``.

    The radius is scipy.ndimage.gaussian_filter's with its default ``truncate=4.0``, so the
    smoothing equals ``gaussian_filter(u, sigma, mode="mirror")``.
    """
    return 2 * int(TRUNCATE * sigma + 0.5) + 1


def displacement_field(
    rng: np.random.Generator, shape: tuple[int, int], alpha: float, sigma: float
) -> np.ndarray:
    """Simard et al.'s (2003) elastic displacement field, float64 ``[H, W, 2]`` in pixels.

    Draws ``u = rng.uniform(-1, 1, size=(H, W, 2))`` (every pixel's x then y component),
    smooths each component with a normalised Gaussian of standard deviation ``sigma``
    pixels (``cv2.GaussianBlur``, kernel width :func:`gaussian_ksize`, border
    ``BORDER_REFLECT_101``, which is scipy's ``mode="mirror"``) and multiplies by
    ``alpha``. ``field[..., 0]`` is the x and ``field[..., 1]`` the y displacement, the
    layout ``cv2.remap`` takes as a two-channel map. On 28x28 a component has a standard
    deviation of about ``0.2 * alpha / sigma`` pixels (0.4 for alpha=8, sigma=4), a little
    above the infinite-plane value ``0.577 * alpha / (2 * sqrt(pi) * sigma)`` because the
    mirrored border repeats draws.
    """
    _check_options(alpha, sigma, 0.0, 0.0, 0.0, 0)
    if (
        len(shape) != 2
        or not all(isinstance(n, int | np.integer) and not isinstance(n, bool) for n in shape)
        or min(shape) < 1
    ):
        raise InputError(f"shape={shape!r}: expected (height, width), two integers >= 1")
    return _field(rng, (int(shape[0]), int(shape[1])), alpha, sigma)


def _field(
    rng: np.random.Generator, shape: tuple[int, int], alpha: float, sigma: float
) -> np.ndarray:
    ksize = gaussian_ksize(sigma)
    smooth = cv2.GaussianBlur(
        rng.uniform(-1.0, 1.0, size=(*shape, 2)),
        (ksize, ksize),
        sigmaX=sigma,
        sigmaY=sigma,
        borderType=cv2.BORDER_REFLECT_101,
    )
    smooth *= alpha
    return smooth.reshape(*shape, 2)  # [H, W, 2] whatever cv2 makes of a one-pixel side


def _affine(
    rng: np.random.Generator,
    shape: tuple[int, int],
    max_rotation_deg: float,
    max_scale: float,
    max_shear: float,
    max_shift: int,
) -> np.ndarray:
    """Draw the affine part and the shift; return the 2x3 map of centre offsets to source.

    One draw ``v = rng.random(5)`` gives the angle ``(2 v[0] - 1) * max_rotation_deg``,
    the scale ``1 + (2 v[1] - 1) * max_scale``, the horizontal shear
    ``(2 v[2] - 1) * max_shear`` and the shift ``t = (dx, dy)`` with
    ``dy = floor(v[3] * (2 max_shift + 1)) - max_shift`` (``dx`` likewise from ``v[4]``).
    The forward map about the centre ``c`` is ``R(angle) @ [[1, shear], [0, 1]] * scale``
    followed by ``+ t``; the returned ``[M | c - M t]`` with ``M`` its linear inverse
    (written out factor by factor, so zero magnitudes give exactly ``[I | c - t]``) maps a
    pixel's offset from the centre, ``p - c``, to where it samples the source.
    """
    v = rng.random(5)
    theta = math.radians((2.0 * float(v[0]) - 1.0) * max_rotation_deg)
    scale = 1.0 + (2.0 * float(v[1]) - 1.0) * max_scale
    shear = (2.0 * float(v[2]) - 1.0) * max_shear
    width = 2 * max_shift + 1
    shift_y, shift_x = (min(int(u * width), width - 1) - max_shift for u in v[3:5])
    cos, sin = math.cos(theta), math.sin(theta)
    # M = [[1, -shear], [0, 1]] @ R(-angle) / scale
    m00, m01 = (cos + shear * sin) / scale, (sin - shear * cos) / scale
    m10, m11 = -sin / scale, cos / scale
    centre_x, centre_y = (shape[1] - 1) / 2.0, (shape[0] - 1) / 2.0
    return np.array(
        [
            [m00, m01, centre_x - (m00 * shift_x + m01 * shift_y)],
            [m10, m11, centre_y - (m10 * shift_x + m11 * shift_y)],
        ]
    )


@functools.lru_cache(maxsize=8)
def _offsets(height: int, width: int) -> np.ndarray:
    """Pixel positions relative to the image centre, float64 ``[H, W, 2]`` (x, y); read-only."""
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float64)
    offsets = np.stack([xs - (width - 1) / 2.0, ys - (height - 1) / 2.0], axis=-1)
    offsets.flags.writeable = False
    return offsets


def deform(
    image: np.ndarray,
    rng: np.random.Generator,
    *,
    alpha: float = ALPHA,
    sigma: float = SIGMA,
    max_rotation_deg: float = MAX_ROTATION_DEG,
    max_scale: float = MAX_SCALE,
    max_shear: float = MAX_SHEAR,
    max_shift: int = MAX_SHIFT,
) -> np.ndarray:
    """One InfiMNIST-style deformation of a uint8 ``[H, W]`` image (MNIST: 28x28).

    Random draws, always all of them and in this order (so a magnitude set to zero leaves
    the other parts of the deformation as they were): the elastic field
    (:func:`displacement_field`: ``alpha`` pixels per unit of smoothed uniform noise,
    smoothing ``sigma`` pixels), then five uniforms for the rotation angle in
    ``[-max_rotation_deg, max_rotation_deg]`` degrees, the scale in
    ``[1 - max_scale, 1 + max_scale]``, the horizontal shear in ``[-max_shear, max_shear]``
    and the shift ``(dy, dx)``, integers in ``[-max_shift, max_shift]`` with equal
    chances (see :func:`_affine`).

    Output pixel ``p = (x, y)`` samples the source at ``c + M (p - t - c) + d(p)`` with
    ``c`` the image centre, ``M`` the inverse affine map, ``t = (dx, dy)`` the shift and
    ``d`` the elastic field: one bilinear ``cv2.remap`` (coordinates to 1/32 pixel, zero
    outside the source), rounded to the nearest integer and clipped to uint8. With
    ``alpha=0`` and no affine the grid is exactly integer-valued, so the result is the
    image moved by ``t`` with zero fill, and the image itself for ``max_shift=0``.
    """
    _check_image(image)
    _check_options(alpha, sigma, max_rotation_deg, max_scale, max_shear, max_shift)
    return _deform(image, rng, alpha, sigma, max_rotation_deg, max_scale, max_shear, max_shift)


def _deform(
    image: np.ndarray,
    rng: np.random.Generator,
    alpha: float,
    sigma: float,
    max_rotation_deg: float,
    max_scale: float,
    max_shear: float,
    max_shift: int,
) -> np.ndarray:
    """:func:`deform` without the argument checks (the loop of :func:`infimnist_style`)."""
    field = _field(rng, image.shape, alpha, sigma)
    affine = _affine(rng, image.shape, max_rotation_deg, max_scale, max_shear, max_shift)
    source = cv2.transform(_offsets(*image.shape), affine)
    source += field
    warped = cv2.remap(
        image.astype(np.float32),
        source.astype(np.float32),
        None,
        interpolation=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0.0,
    )
    return np.clip(np.rint(warped), 0, 255).astype(np.uint8)


def _check_count(name: str, value: int, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise InputError(f"{name}={value!r}: expected an integer >= {minimum}")


def _magnitudes(options: dict) -> tuple:
    """``deform``'s six magnitudes, defaults filled in, in order; InputError if any is bad."""
    unknown = set(options) - set(DEFAULTS)
    if unknown:
        raise InputError(
            f"unknown deformation option(s) {sorted(unknown)}: expected some of {list(DEFAULTS)}"
        )
    options = {**DEFAULTS, **options}
    _check_options(**options)
    return tuple(options[name] for name in OPTION_NAMES)


def infimnist_style(
    images: np.ndarray,
    labels: np.ndarray,
    count: int,
    *,
    seed: int,
    start: int = 0,
    **deform_options,
) -> tuple[np.ndarray, np.ndarray]:
    """``count`` InfiMNIST-style images: uint8 ``[count, H, W]`` and int64 labels.

    Image ``i`` (``i = start .. start + count - 1``) is ``deform(images[i % N],
    np.random.default_rng([seed, i]), **deform_options)`` with label ``labels[i % N]``, so
    it depends on ``(seed, i)`` only: ``infimnist_style(..., count=a+b, start=0)`` equals
    the runs with ``count=a, start=0`` and ``count=b, start=a`` stacked. ``deform_options``
    are :func:`deform`'s magnitudes.
    """
    if not isinstance(images, np.ndarray) or images.dtype != np.uint8 or images.ndim != 3:
        raise InputError(f"images: expected a uint8 [N, H, W] array, got a {_describe(images)}")
    labels = np.asarray(labels)
    if labels.shape != (len(images),):
        raise InputError(
            f"labels: shape {labels.shape} does not match {len(images)} images (expected "
            f"({len(images)},))"
        )
    if len(images) == 0:
        raise InputError("images: no source images to deform (N = 0)")
    _check_count("count", count, 0)
    _check_count("start", start, 0)
    _check_count("seed", seed, 0)
    magnitudes = _magnitudes(deform_options)

    sources = np.arange(start, start + count, dtype=np.int64) % len(images)
    out = np.empty((count, *images.shape[1:]), dtype=np.uint8)
    for k, index in enumerate(range(start, start + count)):
        rng = np.random.default_rng([seed, index])
        out[k] = _deform(images[sources[k]], rng, *magnitudes)
    return out, labels[sources].astype(np.int64)


def generate_to_file(
    mnist_train: str | os.PathLike,
    count: int,
    seed: int,
    out: str | os.PathLike,
    chunk: int = 50_000,
    **options,
) -> None:
    """Write ``count`` InfiMNIST-style images of ``mnist_train`` to the dataset ``out``.

    ``mnist_train`` is a dataset ``.npz`` written by :func:`hardpos.files.datasets.save_dataset`;
    images are generated ``chunk`` at a time by :func:`infimnist_style` (the result does
    not depend on ``chunk``) and written as they are made (one chunk in memory), atomically.
    """
    _check_count("count", count, 0)
    _check_count("chunk", chunk, 1)
    _magnitudes(options)
    images, labels = load_dataset(mnist_train)
    log.info(
        "InfiMNIST-style: %d images from %d sources of %s, seed %d, options %s",
        count,
        len(images),
        mnist_train,
        seed,
        options or "default",
    )
    began = time.perf_counter()
    with image_writer(out, images.shape[1:], labels=True, count=count) as writer:
        for first in range(0, count, chunk):
            n = min(chunk, count - first)
            writer.append(*infimnist_style(images, labels, n, seed=seed, start=first, **options))
            elapsed = time.perf_counter() - began
            log.info(
                "%d / %d images (%.0f images/s)", first + n, count, (first + n) / max(elapsed, 1e-9)
            )
    log.info("wrote %s", out)
