"""The fast backend: PASS for many pairs at once in torch (CPU threads or CUDA).

The ECC alignment is :mod:`hardpos.similarity.torch_ecc`; this module warps the
adversarials with the homographies it finds, computes SSIM as separable Gaussian filters
with reflect-101 borders, and spreads the work over processes on the CPU.
"""

from __future__ import annotations

import functools

import numpy as np
import torch
import torch.nn.functional as F

from hardpos.device import batch_for_memory, free_memory
from hardpos.similarity import workers
from hardpos.similarity.filters import gaussian_taps, separable
from hardpos.similarity.inputs import to_grey
from hardpos.similarity.ssim import C1, C2, SIGMA, WINDOW
from hardpos.similarity.torch_ecc import ecc_homographies


def warp_back(images: torch.Tensor, homographies: torch.Tensor) -> torch.Tensor:
    """``images`` ``[B, C, H, W]`` resampled at ``H (x, y, 1)`` for every pixel (x, y):
    bilinear with a zero border, as ``warpPerspective(INTER_LINEAR | WARP_INVERSE_MAP)``."""
    b, _, height, width = images.shape
    opts = {"device": images.device, "dtype": images.dtype}
    h = homographies.to(**opts).permute(1, 2, 0)  # [row, column, B]
    xs, ys = torch.arange(width, **opts), torch.arange(height, **opts)
    # (H c) for all pixels as a sum of a column part and a row part: [3, B, H, W]
    along_x = h[:, 0, :, None] * xs + h[:, 2, :, None]
    proj = along_x[:, :, None, :] + (h[:, 1, :, None] * ys)[:, :, :, None]
    grid = proj[:2] / proj[2]  # planar [2, B, H, W]; grid_sample reads it through strides
    for axis, size in enumerate((width, height)):
        grid[axis].mul_(2.0 / (size - 1)).sub_(1.0)
    return F.grid_sample(
        images, grid.permute(1, 2, 3, 0), mode="bilinear", padding_mode="zeros", align_corners=True
    )


def ssim_scores(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Mean SSIM (eq. 3) of ``[B, C, H, W]`` pairs, averaged over channels: float64 ``[B]``.

    Uses the two-term form (2 mu_a mu_b + C1)(2 cov + C2) / ((mu_a^2 + mu_b^2 + C1)
    (var_a + var_b + C2)), which equals the paper's L*C*S (eq. 2) when C3 = C2 / 2. The
    variances appear only as their sum, so four local moments suffice: a, b, a^2 + b^2
    and ab, laid out ``[H, 4, B*C, W]`` so that each direction of the separable Gaussian
    is one matrix product.
    """
    n, c, height, width = a.shape
    m = n * c
    rows, cols_t = separable(height, width, gaussian_taps(WINDOW, SIGMA), a)
    maps = torch.empty((height, 4, m, width), device=a.device, dtype=a.dtype)
    first, second = maps[:, 0], maps[:, 1]
    first.view(height, n, c, width).copy_(a.permute(2, 0, 1, 3))
    second.view(height, n, c, width).copy_(b.permute(2, 0, 1, 3))
    torch.mul(first, first, out=maps[:, 2]).addcmul_(second, second)
    torch.mul(first, second, out=maps[:, 3])
    filtered = (rows @ maps.view(height, -1)).view(-1, width) @ cols_t
    mu_a, mu_b, squares, ab = filtered.view(height, 4, m, width).unbind(1)
    mu_ab = mu_a * mu_b
    mu_squares = torch.mul(mu_a, mu_a).addcmul_(mu_b, mu_b)
    numerator = ab.sub_(mu_ab).mul_(2.0).add_(C2)  # 2 cov + C2
    numerator.mul_(mu_ab.mul_(2.0).add_(C1))
    denominator = squares.sub_(mu_squares).add_(C2)  # var_a + var_b + C2
    denominator.mul_(mu_squares.add_(C1))
    ssim_map = numerator.div_(denominator)
    means = ssim_map.sum(dim=(0, 2), dtype=torch.float64) / (height * width)
    return means.view(n, c).mean(dim=1)


def _score_part(adv, orig, adv_grey, orig_grey, device, dtype, capacity, ecc):
    """PASS for one part of the numpy inputs: (scores, converged, homographies)."""
    to = functools.partial(torch.as_tensor, device=device, dtype=dtype)
    with torch.inference_mode():
        warps, ok = ecc_homographies(to(adv_grey), to(orig_grey), capacity=capacity, **ecc)
        scores = np.empty(len(adv), dtype=np.float64)
        for start in range(0, len(adv), capacity):
            part = slice(start, start + capacity)
            warped = warp_back(to(adv[part]), to(warps[part]))
            scores[part] = ssim_scores(warped, to(orig[part])).cpu().numpy()
    return scores, ok, warps


def _score_images(adv, orig, **options):
    """:func:`_score_part` on a part of the images, taking their grey versions itself (for
    one channel these are views), so that only the images go to a worker process."""
    return _score_part(adv, orig, to_grey(adv), to_grey(orig), **options)


_MIN_PAIRS_PER_PROCESS = 256  # below this a worker process costs more than it saves

# On CUDA: the ECC and SSIM buffers of the pairs iterating together take about 192 bytes
# per pixel and pair (the workspace's 36 float32 values per pixel and pair, with the
# temporaries of a step about 48); as many pairs iterate as half the free memory holds.
_BYTES_PER_PIXEL_AND_PAIR = 192
GPU_MAX_PAIRS = 8192


def gpu_capacity(pixels: int, device: torch.device) -> int:
    """How many pairs of ``pixels`` pixels iterate together on the CUDA ``device``: as
    many as half its free memory holds, at most :data:`GPU_MAX_PAIRS`."""
    free = free_memory(device)
    if free is None:
        raise ValueError(f"gpu_capacity is for CUDA devices; got {device}")
    return batch_for_memory(
        free, _BYTES_PER_PIXEL_AND_PAIR * pixels, most=GPU_MAX_PAIRS, multiple=1
    )


def pass_scores(
    adv: np.ndarray,
    orig: np.ndarray,
    *,
    device: str | torch.device | None = None,
    batch_size: int | None = None,
    processes: int | None = None,
    capacity: int | None = None,
    dtype: torch.dtype = torch.float32,
    **ecc,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Scores, convergence flags and homographies for validated float32 NCHW batches.

    ``capacity`` pairs iterate together: 64 on the CPU by default, so a step's buffers
    stay near the cache; on CUDA as many as half the device's free memory holds, at most
    8192 (:func:`gpu_capacity`: 8192 pairs of 28 x 28 take 1.2 GB, and 8192 of 224 x 224
    take 79 GB, so smaller devices hold fewer). On the CPU torch runs single-threaded and
    the pairs are split into ``processes`` (default ``torch.get_num_threads()``) equal
    parts, the first scored in this process and each other one in a worker process
    (:mod:`hardpos.similarity.workers`, forked on first use and kept): ECC makes many
    small tensor ops per iteration, and sharing them between cores, by OpenMP inside each
    op or by Python threads between ops, costs more in wake-ups than it gains, most of
    all when another process holds a core. Workers read their part from shared memory
    and send back only scores, flags and homographies. ``batch_size`` overrides the part
    size. Which pairs share a batch changes float32 rounding, so scores can differ in
    their last digits between runs with other sizes (more on the rare pair where ECC
    diverges).
    """
    device = torch.device(device or "cpu")
    on_cpu = device.type == "cpu"
    n = len(adv)
    processes = max(1, processes or torch.get_num_threads()) if on_cpu else 1
    processes = max(1, min(processes, n // _MIN_PAIRS_PER_PROCESS))
    if batch_size is None:
        batch_size = max(1, -(-n // processes))
    if capacity is None:
        capacity = 64 if on_cpu else gpu_capacity(adv.shape[2] * adv.shape[3], device)
    options = {"device": device, "dtype": dtype, "capacity": capacity, "ecc": ecc}
    previous = torch.get_num_threads()
    try:
        if on_cpu:
            torch.set_num_threads(1)
        results = workers.run_parts(
            _score_images, (adv, orig), options, part_size=batch_size, processes=processes
        )
    finally:
        torch.set_num_threads(previous)
    if not results:
        return np.empty(0), np.empty(0, dtype=bool), np.empty((0, 3, 3))
    scores, converged, homographies = (np.concatenate(r) for r in zip(*results, strict=True))
    return scores.astype(np.float64), converged.astype(bool), homographies.astype(np.float64)
