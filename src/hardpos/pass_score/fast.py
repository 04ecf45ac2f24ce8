"""The fast backend: PASS for many pairs at once in torch (CPU threads or CUDA).

The ECC alignment is :mod:`hardpos.pass_score.fast_ecc`; this module warps the
adversarials with the homographies it finds, computes SSIM as separable Gaussian filters
with reflect-101 borders, and spreads the work over threads.
"""

from __future__ import annotations

import functools
import multiprocessing

import numpy as np
import torch
import torch.nn.functional as F

from hardpos.pass_score.fast_ecc import ecc_homographies
from hardpos.pass_score.filters import gaussian_taps, separable
from hardpos.pass_score.ssim import C1, C2, SIGMA, WINDOW


def warp_back(images: torch.Tensor, homographies: torch.Tensor) -> torch.Tensor:
    """``images`` ``[B, C, H, W]`` resampled at ``H (x, y, 1)`` for every pixel (x, y):
    bilinear with a zero border, as ``warpPerspective(INTER_LINEAR | WARP_INVERSE_MAP)``."""
    b, _, height, width = images.shape
    opts = {"device": images.device, "dtype": images.dtype}
    h = homographies.to(**opts)
    xs, ys = torch.arange(width, **opts), torch.arange(height, **opts)
    # (H c) for all pixels as a sum of a row part and a column part: [B, 3, H, W]
    proj = (h[:, :, 0, None] * xs + h[:, :, 2, None])[:, :, None, :] + (h[:, :, 1, None] * ys)[
        :, :, :, None
    ]
    scale = torch.tensor([2.0 / (width - 1), 2.0 / (height - 1)], **opts).view(1, 2, 1, 1)
    grid = (proj[:, :2] / proj[:, 2:] * scale - 1.0).permute(0, 2, 3, 1)
    return F.grid_sample(
        images, grid.contiguous(), mode="bilinear", padding_mode="zeros", align_corners=True
    )


def ssim_scores(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Mean SSIM (eq. 3) of ``[B, C, H, W]`` pairs, averaged over channels: float64 ``[B]``.

    Uses the two-term form (2 mu_a mu_b + C1)(2 cov + C2) / ((mu_a^2 + mu_b^2 + C1)
    (var_a + var_b + C2)), which equals the paper's L*C*S (eq. 2) when C3 = C2 / 2. The
    five local moments are filtered row-major ``[5, H, B*C, W]`` so that each direction
    of the separable Gaussian is one large matrix product.
    """
    n, c, height, width = a.shape
    rows, cols_t = separable(height, width, gaussian_taps(WINDOW, SIGMA), a)
    maps = torch.empty((5, height, n * c, width), device=a.device, dtype=a.dtype)
    maps[0] = a.permute(2, 0, 1, 3).reshape(height, n * c, width)
    maps[1] = b.permute(2, 0, 1, 3).reshape(height, n * c, width)
    torch.mul(maps[0:2], maps[0:2], out=maps[2:4])
    torch.mul(maps[0], maps[1], out=maps[4])
    filtered = torch.matmul(rows, maps.view(5, height, -1)).view(-1, width) @ cols_t
    mu_a, mu_b, aa, bb, ab = filtered.view(5, height, n * c, width)
    mu_ab = mu_a * mu_b
    mu_a2, mu_b2 = mu_a * mu_a, mu_b * mu_b
    numerator = (2 * mu_ab + C1) * (2 * (ab - mu_ab) + C2)
    denominator = (mu_a2 + mu_b2 + C1) * ((aa - mu_a2) + (bb - mu_b2) + C2)
    ssim_map = (numerator / denominator).double()
    return ssim_map.mean(dim=(0, 2)).view(n, c).mean(dim=1)


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


_FORKED: dict = {}  # inputs inherited by forked children; set only while they run
_MIN_PAIRS_PER_PROCESS = 256  # below this a worker process costs more than it saves


def _forked_part(index: int, connection) -> None:
    """Entry point of a forked worker: score one part of the inputs it inherited, send
    the result (or the error) back, and exit."""
    try:
        torch.set_num_threads(1)  # never enter the parent's OpenMP pool after fork
        args = _FORKED["args"]
        part = _FORKED["parts"][index]
        arrays = (array[part] for array in args[:4])
        connection.send(("ok", _score_part(*arrays, *args[4:])))
    except BaseException as exc:  # reported in the parent, which raises it
        connection.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        connection.close()


def _run_forked(args, parts) -> list:
    """Parts 1.. in forked children while this process scores part 0 itself."""
    context = multiprocessing.get_context("fork")
    _FORKED.update(args=args, parts=parts)
    children = []
    try:
        for index in range(1, len(parts)):
            receiver, sender = context.Pipe(duplex=False)
            child = context.Process(target=_forked_part, args=(index, sender), daemon=True)
            child.start()
            sender.close()
            children.append((child, receiver))
        results = [_score_part(*(a[parts[0]] for a in args[:4]), *args[4:])]
        for _child, receiver in children:
            status, payload = receiver.recv()
            if status != "ok":
                raise RuntimeError(f"PASS worker process failed: {payload}")
            results.append(payload)
    finally:
        for child, _ in children:
            child.join()
        _FORKED.clear()
    return results


def _can_fork() -> bool:
    """Fork exists here (not on Windows) and this process may have children."""
    return (
        "fork" in multiprocessing.get_all_start_methods()
        and not multiprocessing.current_process().daemon
    )


def pass_scores(
    adv: np.ndarray,
    orig: np.ndarray,
    adv_grey: np.ndarray,
    orig_grey: np.ndarray,
    *,
    device: str | torch.device | None = None,
    batch_size: int | None = None,
    num_threads: int | None = None,
    capacity: int | None = None,
    dtype: torch.dtype = torch.float32,
    **ecc,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Scores, convergence flags and homographies for validated float32 NCHW batches.

    ``capacity`` pairs (default 64 on the CPU, so a step's buffers stay near the cache;
    8192 on CUDA) iterate together. On the CPU torch runs single-threaded and the pairs
    are split into ``num_threads`` (default ``torch.get_num_threads()``) equal parts, the
    first scored in this process and each other one in a forked child: ECC makes many
    small tensor ops per iteration, and sharing them between cores, by OpenMP inside each
    op or by Python threads between ops, costs more in wake-ups than it gains, most of
    all when another process holds a core. Children inherit the inputs and send back
    only scores, flags and homographies. ``batch_size`` overrides the part size. Which
    pairs share a batch changes float32 rounding, so scores can differ in their last
    digits between runs with other sizes (more on the rare pair where ECC diverges).
    """
    device = torch.device(device or "cpu")
    on_cpu = device.type == "cpu"
    n = len(adv)
    workers = max(1, num_threads or torch.get_num_threads()) if on_cpu else 1
    workers = max(1, min(workers, n // _MIN_PAIRS_PER_PROCESS))
    if batch_size is None:
        batch_size = max(1, -(-n // workers))
    if capacity is None:
        capacity = 64 if on_cpu else 8192
    parts = [slice(start, min(start + batch_size, n)) for start in range(0, n, batch_size)]
    args = (adv, orig, adv_grey, orig_grey, device, dtype, capacity, ecc)
    previous = torch.get_num_threads()
    try:
        if on_cpu:
            torch.set_num_threads(1)
        if workers > 1 and len(parts) > 1 and _can_fork():
            results = []
            for start in range(0, len(parts), workers):
                results += _run_forked(args, parts[start : start + workers])
        else:
            results = [_score_part(*(a[p] for a in args[:4]), *args[4:]) for p in parts]
    finally:
        torch.set_num_threads(previous)
    if not results:
        return np.empty(0), np.empty(0, dtype=bool), np.empty((0, 3, 3))
    scores, converged, homographies = (np.concatenate(r) for r in zip(*results, strict=True))
    return scores.astype(np.float64), converged.astype(bool), homographies.astype(np.float64)
