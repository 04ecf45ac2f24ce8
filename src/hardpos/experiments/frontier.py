"""Hard positives at the PASS frontier: the farthest scale along a direction whose PASS
still meets tau.

The paper's hard positives scale a minimal adversarial by a fixed factor c (1.05, 1.10);
eq. 5 bounds how far that may go: an adversarial must keep PASS >= tau. The frontier takes
each successful direction as far as that allows: walking outward over the discrete scales
``c * s_min`` for c in ``factors`` (ascending, from 1), the last one before PASS first
falls below tau. Scales are tried ``chunk`` at a time for all directions still walking,
in one batched PASS call, so the cost is a few PASS batches rather than one per scale.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from hardpos.attacks.search import perturb
from hardpos.errors import InputError

Score = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass
class Frontier:
    """Per direction: ``index`` into ``factors`` of the frontier scale (-1: PASS < tau
    already at the first factor), its ``factor``, ``pass_score``, and the uint8 image
    (zeros where there is none); ``evaluated``: PASS computations spent."""

    index: np.ndarray
    factor: np.ndarray
    pass_score: np.ndarray
    images: np.ndarray
    evaluated: int


def _default_score(backend: str, device: str | None, batch_size: int | None) -> Score:
    from hardpos.similarity import pass_score

    def score(adv: np.ndarray, orig: np.ndarray) -> np.ndarray:
        return pass_score(adv, orig, backend, device=device, batch_size=batch_size).scores

    return score


def pass_frontier(
    images: np.ndarray,
    directions: np.ndarray,
    s_min: np.ndarray,
    *,
    tau: float,
    factors: Sequence[float],
    chunk: int = 4,
    score: Score | None = None,
    backend: str = "auto",
    device: str | None = None,
    batch_size: int | None = None,
) -> Frontier:
    """The frontier image of each direction (see the module docstring).

    Parameters
    ----------
    images, directions
        uint8 originals ``[N, ...]`` and their directions (same shape; normalised to
        ``max |d| = 1`` as the attacks do), one row per successful direction.
    s_min
        ``[N]`` minimal adversarial scales (:func:`hardpos.attacks.generate`'s ``s_min``).
    tau
        The PASS threshold of eq. 5.
    factors
        Ascending scale factors, the first usually 1.0 (the minimal adversarial itself).
    score
        PASS of ``(adversarials, originals)`` -> ``[N]``; default :func:`pass_score` with
        ``backend``, ``device``, ``batch_size``.
    """
    factors = np.asarray([float(f) for f in factors])
    if len(factors) == 0 or np.any(np.diff(factors) <= 0) or factors[0] <= 0:
        raise InputError(f"frontier factors must be positive and ascending, got {list(factors)}")
    if chunk < 1:
        raise InputError(f"frontier chunk must be >= 1, got {chunk}")
    images = np.asarray(images)
    s_min = np.asarray(s_min, dtype=np.float64)
    if len(images) != len(s_min) or np.asarray(directions).shape != images.shape:
        raise InputError("frontier: images, directions and s_min must have one row per direction")
    score = score or _default_score(backend, device, batch_size)
    n = len(images)
    index = np.full(n, -1, np.int64)
    best_pass = np.full(n, np.nan)
    best = np.zeros_like(images)
    walking = np.ones(n, bool)
    evaluated = 0
    for start in range(0, len(factors), chunk):
        rows = np.flatnonzero(walking)
        if len(rows) == 0:
            break
        steps = np.arange(start, min(start + chunk, len(factors)))
        pair_rows = np.repeat(rows, len(steps))
        pair_steps = np.tile(steps, len(rows))
        adv = perturb(
            images[pair_rows], directions[pair_rows], factors[pair_steps] * s_min[pair_rows]
        )
        scores = np.asarray(score(adv, images[pair_rows]), dtype=np.float64)
        evaluated += len(pair_rows)
        ok = (scores >= tau).reshape(len(rows), len(steps))
        # scales kept: those before the first one below tau in this chunk
        kept = np.cumprod(ok, axis=1).sum(axis=1)
        for r, row in enumerate(rows):
            if kept[r]:
                pair = r * len(steps) + kept[r] - 1
                index[row] = steps[kept[r] - 1]
                best[row] = adv[pair]
                best_pass[row] = scores[pair]
            if kept[r] < len(steps):
                walking[row] = False
    factor = np.where(index >= 0, factors[np.maximum(index, 0)], np.nan)
    return Frontier(index, factor, best_pass, best, evaluated)
