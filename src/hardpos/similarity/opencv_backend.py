"""The reference backend: OpenCV's findTransformECC and warpPerspective, one pair at a time.

This is psi of the paper's eq. 1 as this project pins it down: homography ECC with the
original as template and the adversarial as input, identity start, then the adversarial
warped back onto the original's pixel grid with bilinear interpolation and a black border.
"""

from __future__ import annotations

import cv2
import numpy as np

from hardpos.similarity import workers
from hardpos.similarity.inputs import to_grey
from hardpos.similarity.ssim import ssim_map

_WARP_FLAGS = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP


def ecc_homography(
    adv_grey: np.ndarray,
    orig_grey: np.ndarray,
    *,
    iterations: int,
    eps: float,
    gauss_filt_size: int,
) -> tuple[np.ndarray, bool]:
    """Homography mapping original pixels to adversarial pixels, and whether ECC converged.

    ECC cannot run on a constant image (its correlation coefficient is 0/0) and stops with
    StsNoConv when the correlation would be minimised; both cases give the identity and
    ``False``, so the score falls back to plain SSIM.
    """
    identity = np.eye(3, dtype=np.float64)
    if np.ptp(adv_grey) == 0 or np.ptp(orig_grey) == 0:
        return identity, False
    warp = np.eye(3, dtype=np.float32)
    criteria = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, iterations, eps)
    try:
        _, warp = cv2.findTransformECC(
            np.ascontiguousarray(orig_grey, dtype=np.float32),
            np.ascontiguousarray(adv_grey, dtype=np.float32),
            warp,
            cv2.MOTION_HOMOGRAPHY,
            criteria,
            None,
            gauss_filt_size,
        )
    except cv2.error as exc:
        if exc.code != cv2.Error.StsNoConv:
            raise
        return identity, False
    if not np.all(np.isfinite(warp)):
        return identity, False
    return warp.astype(np.float64), True


def warp_back(adv: np.ndarray, homography: np.ndarray) -> np.ndarray:
    """``adv`` ``[C, H, W]`` resampled onto the original's grid: psi(x~, x) in float32."""
    height, width = adv.shape[1:]
    matrix = homography.astype(np.float32)
    return np.stack(
        [
            cv2.warpPerspective(
                np.ascontiguousarray(channel, dtype=np.float32),
                matrix,
                (width, height),
                flags=_WARP_FLAGS,
                borderMode=cv2.BORDER_CONSTANT,
                borderValue=0,
            )
            for channel in adv
        ]
    )


def _score_images(adv: np.ndarray, orig: np.ndarray, **ecc):
    """Scores, convergence flags and homographies of a part of the pairs, one at a time."""
    adv_grey, orig_grey = to_grey(adv), to_grey(orig)
    n = len(adv)
    scores = np.empty(n, dtype=np.float64)
    converged = np.empty(n, dtype=bool)
    homographies = np.empty((n, 3, 3), dtype=np.float64)
    for i in range(n):
        homographies[i], converged[i] = ecc_homography(adv_grey[i], orig_grey[i], **ecc)
        warped = warp_back(adv[i], homographies[i])
        scores[i] = np.mean([ssim_map(w, o).mean() for w, o in zip(warped, orig[i], strict=True)])
    return scores, converged, homographies


_MIN_PAIRS_PER_PROCESS = 32  # below this a worker process costs more than it saves


def pass_scores(
    adv: np.ndarray, orig: np.ndarray, *, processes: int = 1, **ecc
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Scores, convergence flags and homographies for validated float32 NCHW batches.

    The pairs are split into ``processes`` equal parts, scored at once in this process
    and in kept worker processes (:mod:`hardpos.similarity.workers`); each pair is scored
    alone, so the result does not depend on the split. OpenCV's own threads are turned
    off meanwhile: its parallel loops gain little on one pair (7% for 224 x 224 crops)
    and would only compete with the other processes.
    """
    n = len(adv)
    processes = max(1, min(processes, n // _MIN_PAIRS_PER_PROCESS))
    previous = cv2.getNumThreads()
    try:
        if processes > 1:
            cv2.setNumThreads(1)
        results = workers.run_parts(
            _score_images, (adv, orig), ecc, part_size=max(1, -(-n // processes)),
            processes=processes,
        )  # fmt: skip
    finally:
        cv2.setNumThreads(previous)
    if not results:
        return np.empty(0), np.empty(0, dtype=bool), np.empty((0, 3, 3))
    scores, converged, homographies = (np.concatenate(r) for r in zip(*results, strict=True))
    return scores, converged, homographies
