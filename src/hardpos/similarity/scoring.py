"""The public entry point: :func:`pass_score` and its result, plus the L_p distances the
paper reports beside PASS."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from hardpos.errors import InputError
from hardpos.similarity import opencv_backend
from hardpos.similarity.inputs import as_batch, check_ecc_options

BACKENDS = ("auto", "opencv", "torch")

# Image shapes (C, H, W) on which tests/test_pass_score.py checks that the torch backend
# agrees with OpenCV (within 0.01 on >= 99% of shifted, rotated and noisy pairs: a few
# hundred MNIST digits, two dozen 224 x 224 colour crops of scikit-image's photographs;
# mean difference < 0.002), mapped to the device types on which "auto" then picks torch:
# on the CPU torch is 10x faster than OpenCV's per-pair loop on 28 x 28 digits but 2x to
# 3x slower on 224 x 224 crops (ECC's many small tensor ops stop paying off), so there
# only CUDA gets it.
AUTO_TORCH_DEVICES: dict[tuple[int, int, int], frozenset[str]] = {
    (1, 28, 28): frozenset({"cpu", "cuda"}),
    (3, 224, 224): frozenset({"cuda"}),
}
VALIDATED_SIZES = frozenset(AUTO_TORCH_DEVICES)

# Below this many pairs the per-iteration fixed cost of batched torch ops exceeds what
# OpenCV needs for the few pairs, so "auto" keeps the reference backend.
AUTO_MIN_PAIRS = 64


@dataclass(frozen=True)
class PassResult:
    """PASS per pair, as returned by :func:`pass_score`.

    ``scores``: float64 ``[N]`` in [-1, 1]. ``converged``: bool ``[N]``, False where ECC
    stopped without converging (or could not run on a constant image) and the identity
    was used instead. ``homographies``: float64 ``[N, 3, 3]``, mapping original pixel
    coordinates to adversarial ones (OpenCV's WARP_INVERSE_MAP convention).
    ``backend``: the backend that actually ran.
    """

    scores: np.ndarray
    converged: np.ndarray
    homographies: np.ndarray
    backend: str


def pass_score(
    adv,
    orig,
    backend: str = "opencv",
    *,
    device: str | None = None,
    batch_size: int | None = None,
    processes: int | None = None,
    data_range: float | None = None,
    **ecc_options,
) -> PassResult:
    """PASS(adv, orig) = SSIM(psi(adv, orig), orig), the paper's eq. 4, for each pair.

    ``adv`` and ``orig`` are uint8 images, or float images in ``[0, data_range]``, shaped
    ``[N, H, W]``, ``[N, 1, H, W]`` or ``[N, 3, H, W]`` (or one ``[H, W]`` pair). psi is
    OpenCV's findTransformECC with MOTION_HOMOGRAPHY (template ``orig``, input ``adv``,
    identity start) followed by a bilinear inverse-map warp of ``adv`` with a black
    border; SSIM uses an 11x11 Gaussian window (sigma 1.5), reflect-101 borders and the
    mean over all pixels (eq. 3).

    Colour images are aligned on their luma, 0.299 R + 0.587 G + 0.114 B (channels in RGB
    order; the weights of cv2's RGB2GRAY), because ECC needs one channel and luma is what
    the eye's sensitivity to structure follows; all channels are then warped by the same
    homography and the score is the mean of the per-channel SSIMs.

    ``backend``: "opencv" (the reference, one pair at a time), "torch" (batched, on
    ``device``, ``batch_size`` pairs at a time) or "auto" (torch for at least
    ``AUTO_MIN_PAIRS`` pairs of a shape in :data:`VALIDATED_SIZES`, where it was checked
    against OpenCV, on a device where it is the faster one, :data:`AUTO_TORCH_DEVICES`;
    else opencv). ``processes``: on the CPU, how many processes share the
    pairs (default ``torch.get_num_threads()``, the job's threads in the workflow); the
    scores do not depend on it. ``data_range``: the value of white for float images,
    ``1.0`` for images in [0, 1] (scaled to [0, 255] here, where SSIM's constants are
    set); None (the default) means 255 and refuses float images whose maximum is at most
    1, which on the [0, 255] scale would score ~1 whatever they show; uint8 images need
    none. ``ecc_options``: ``iterations`` (50), ``eps`` (0.001),
    ``gauss_filt_size`` (5), OpenCV's defaults.
    """
    if backend not in BACKENDS:
        raise InputError(f"unknown PASS backend {backend!r}; expected one of {BACKENDS}")
    for name, value in (("batch_size", batch_size), ("processes", processes)):
        if value is not None and (not isinstance(value, int) or value < 1):
            raise InputError(f"{name} must be a positive integer, got {value!r}")
    ecc = check_ecc_options(ecc_options)
    batch = as_batch(adv, orig, data_range)
    if backend == "auto":
        backend = _auto(batch.adv.shape, device)
    if backend == "torch":
        from hardpos.similarity import torch_backend

        scores, converged, homographies = torch_backend.pass_scores(
            batch.adv, batch.orig, device=device, batch_size=batch_size, processes=processes, **ecc
        )
    else:
        processes = processes or _default_processes()
        scores, converged, homographies = opencv_backend.pass_scores(
            batch.adv, batch.orig, processes=processes, **ecc
        )
    return PassResult(
        scores=scores, converged=converged, homographies=homographies, backend=backend
    )


def _default_processes() -> int:
    """The CPU budget the workflow gives a job, which sets torch's threads to it."""
    return max(1, torch.get_num_threads())


def _auto(shape: tuple[int, ...], device: str | None = None) -> str:
    """The backend "auto" resolves to for a batch of this NCHW shape on ``device``."""
    n, c, height, width = shape
    kind = "cpu" if device is None else str(device).split(":")[0]
    faster = kind in AUTO_TORCH_DEVICES.get((c, height, width), frozenset())
    return "torch" if faster and n >= AUTO_MIN_PAIRS else "opencv"


def l2_per_pixel(a, b) -> float:
    """The paper's "L2 norm per pixel": ||a - b||_2 / m, m the number of array elements.

    On the [0, 255] scale, with every channel value counted as a pixel, so it is
    comparable between greyscale and colour images of the same size per channel.
    """
    diff = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    return float(np.sqrt(np.sum(diff * diff)) / max(diff.size, 1))


def linf(a, b) -> float:
    """L-infinity distance max |a - b| on the [0, 255] scale."""
    diff = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(diff))) if diff.size else 0.0
