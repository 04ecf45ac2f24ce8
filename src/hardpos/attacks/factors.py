"""The images at ``factor * s_min`` of each searched pair, and their table rows: the
hard positives of the paper (factor 1: the minimal adversarial itself)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from hardpos.attacks.methods import Direction
from hardpos.attacks.search import REASONS, SearchResult


@dataclass(frozen=True)
class Returned:
    """The images at ``factor * s_min`` of each (pair, factor), in that order."""

    step: torch.Tensor
    pixels: torch.Tensor  # float64 [R, D], integral
    x: torch.Tensor  # the originals, one per row
    adv_label: torch.Tensor
    success: torch.Tensor
    reason: np.ndarray


def at_factors(
    result: SearchResult, labels: torch.Tensor, factors: list[float], classify
) -> Returned:
    """Scale each pair's s_min by the factors; scaled images of successful pairs
    (factor != 1) get their own evaluation."""
    n_fac = len(factors)
    n_pairs = len(result.scale)
    dev = result.scale.device
    fac = torch.tensor(factors, dtype=torch.float64, device=dev)
    ok = result.success
    step = torch.where(ok.view(-1, 1), result.scale.view(-1, 1) * fac, result.scale.view(-1, 1))
    rows = torch.arange(n_pairs, device=dev).repeat_interleave(n_fac)
    grid = result.grid.take(rows) if n_fac > 1 else result.grid
    pixels = grid.image(grid.levels(step.reshape(-1)))
    adv_logits = result.logits.repeat_interleave(n_fac, dim=0)
    fresh = ok.repeat_interleave(n_fac) & (fac != 1.0).repeat(n_pairs)
    if bool(fresh.any()):
        adv_logits[fresh] = classify(pixels[fresh]).to(torch.float64)
    adv_label = adv_logits.argmax(dim=1)
    success = adv_label != labels.repeat_interleave(n_fac)
    reason = np.asarray(REASONS, dtype=object)[result.reason.cpu().numpy()]
    reason = np.repeat(reason, n_fac)
    reverted = (ok.repeat_interleave(n_fac) & ~success).cpu().numpy()
    reason[reverted] = "not_misclassified"
    return Returned(step.reshape(-1), pixels, grid.x, adv_label, success, reason)


def factor_rows(
    directions: list[Direction],
    factors: list[float],
    sources: np.ndarray,
    labels: torch.Tensor,
    hot: torch.Tensor,
    result: SearchResult,
    out: Returned,
) -> pd.DataFrame:
    """The chunk's rows: (source, direction, factor) in that order."""
    n_img, n_dir, n_fac = len(sources), len(directions), len(factors)
    diff = out.pixels - out.x
    m = diff.shape[1]
    l2 = diff.square().sum(dim=1).sqrt() / max(m, 1)
    linf = diff.abs().amax(dim=1) if m else torch.zeros(len(diff), dtype=torch.float64)
    hot_rows = hot.repeat_interleave(n_fac)
    ok = result.success
    return pd.DataFrame(
        {
            "source": np.repeat(sources, n_dir * n_fac),
            "label": labels.repeat_interleave(n_fac).cpu().numpy(),
            "method": np.tile(np.repeat([dr.method for dr in directions], n_fac), n_img),
            "k": np.tile(np.repeat([dr.k for dr in directions], n_fac), n_img),
            "hot": hot_rows.cpu().numpy(),
            "factor": np.tile(np.asarray(factors, dtype=np.float64), n_img * n_dir),
            "step": out.step.cpu().numpy(),
            "s_min": torch.where(ok, result.scale, torch.nan)
            .repeat_interleave(n_fac)
            .cpu()
            .numpy(),
            "adv_label": out.adv_label.cpu().numpy(),
            "hot_reached": (out.adv_label == hot_rows).cpu().numpy(),
            "l2_per_pixel": l2.cpu().numpy(),
            "linf": linf.cpu().numpy(),
            "success": out.success.cpu().numpy(),
            "reason": out.reason,
            "evals": result.evals.repeat_interleave(n_fac).cpu().numpy(),
        }
    )
