"""The smallest perturbation a minimum-norm attack needs to change a network's label.

The paper's minimal adversarials are minimal along one fixed direction (FGS, FGV, hot/cold
with a line search); a minimum-norm attack optimises the direction too, so its norms are
the tighter upper bound on a network's true robustness radius. L2: DDN (Rony et al. 2019)
with 256 quantisation levels, so its adversarials are uint8 images like the paper's; or
FMN (Pintor et al. 2021). L-inf: FMN (no quantisation; its norms may lie a fraction of a
grey level below what a uint8 image needs).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

from hardpos.errors import InputError
from hardpos.robustness.unit_interval import PIXEL_MAX, UnitInterval, model_device, unit_images

L2_ATTACKS = ("ddn", "fmn")


@dataclass(frozen=True)
class MinimalNormAttack:
    """Settings of the minimum-norm attacks (one place for the defaults).

    ``l2``: ``ddn`` (quantised to ``levels`` grey levels; null: not quantised) or ``fmn``;
    the L-inf attack is FMN. ``steps`` for each; ``init_norm``: DDN's first L2 radius on
    [0, 1] (the MNIST setting of its paper is 1).
    """

    l2: str = "ddn"
    steps: int = 100
    levels: int | None = 256
    init_norm: float = 1.0

    def __post_init__(self) -> None:
        if self.l2 not in L2_ATTACKS:
            raise InputError(f"robustness min_norm.l2 {self.l2!r} is not one of {L2_ATTACKS}")
        if int(self.steps) < 1:
            raise InputError(f"robustness min_norm.steps must be >= 1, got {self.steps}")
        if self.levels is not None and int(self.levels) < 2:
            raise InputError(f"robustness min_norm.levels must be >= 2 or null, got {self.levels}")

    def describe(self) -> dict:
        return asdict(self)

    def run_l2(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        from adv_lib.attacks import ddn, fmn

        if self.l2 == "ddn":
            levels = None if self.levels is None else int(self.levels)
            return ddn(model, x, y, steps=int(self.steps), init_norm=self.init_norm, levels=levels)
        return fmn(model, x, y, norm=2, steps=int(self.steps))

    def run_linf(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        from adv_lib.attacks import fmn

        return fmn(model, x, y, norm=float("inf"), steps=int(self.steps))


def _norms(model: nn.Module, x, y, adv, clean, p: float) -> torch.Tensor:
    """Norm of ``adv - x`` in grey levels where ``adv`` is misclassified; 0 where ``x``
    already is; inf where the attack failed (so a median counts failures as the worst)."""
    with torch.no_grad():
        fooled = model(adv).argmax(1) != y
    norms = (adv - x).flatten(1).norm(p=p, dim=1) * PIXEL_MAX
    norms = torch.where(fooled, norms, torch.full_like(norms, float("inf")))
    return torch.where(clean, norms, torch.zeros_like(norms))


def minimal_norms(
    net: nn.Module,
    images: np.ndarray | torch.Tensor,
    labels: np.ndarray | torch.Tensor,
    *,
    attack: MinimalNormAttack | None = None,
    batch_size: int = 1000,
    seed: int = 0,
) -> dict:
    """Per-image minimal L2 and L-inf perturbations, in grey levels ([0, 255] scale).

    An image the net already misclassifies needs 0; one the attack could not move across
    the decision boundary gets inf. Success is checked here by classifying the returned
    image, not taken from the library. ``median_l2`` and ``median_linf`` are over all
    images (the robustness radius below which half the images stay correct).
    """
    attack = attack or MinimalNormAttack()
    device = model_device(net)
    model = UnitInterval(net).eval()
    x_all = unit_images(images, device)
    y_all = torch.as_tensor(np.asarray(labels), dtype=torch.int64, device=device)
    if len(x_all) != len(y_all):
        raise InputError(f"{len(x_all)} images but {len(y_all)} labels")
    l2, linf = [], []
    devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):  # any random draw inside stays seeded
        torch.manual_seed(int(seed))
        for start in range(0, len(x_all), batch_size):
            x, y = x_all[start : start + batch_size], y_all[start : start + batch_size]
            with torch.no_grad():
                clean = model(x).argmax(1) == y
            l2.append(_norms(model, x, y, attack.run_l2(model, x, y).detach(), clean, 2))
            linf.append(_norms(model, x, y, attack.run_linf(model, x, y).detach(), clean, np.inf))
    l2_all = torch.cat(l2).cpu().numpy().astype(np.float64)
    linf_all = torch.cat(linf).cpu().numpy().astype(np.float64)
    return {
        "images": len(x_all),
        "l2": l2_all,
        "linf": linf_all,
        "median_l2": float(np.median(l2_all)) if len(l2_all) else float("nan"),
        "median_linf": float(np.median(linf_all)) if len(linf_all) else float("nan"),
        "failed_l2": int(np.isinf(l2_all).sum()),
        "failed_linf": int(np.isinf(linf_all).sum()),
        "attack": attack.describe(),
    }
