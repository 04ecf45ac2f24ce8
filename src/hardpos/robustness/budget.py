"""Robust accuracy: the share of images a fixed-budget L-infinity attack cannot break.

Madry et al. (2018) report it at L-inf 0.3 on MNIST with PGD; Croce and Hein (2020) showed
APGD (step sizes that adapt, and the difference-of-logits-ratio loss) breaks models that
PGD left standing. Both attacks here are adv-lib's (``pgd_linf``, ``apgd``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

from hardpos.errors import InputError
from hardpos.robustness.unit_interval import UnitInterval, model_device, unit_images

ATTACKS = ("apgd", "pgd")
LOSSES = ("ce", "dlr")
# a perturbation may exceed the budget by float32 rounding, never by more
_BUDGET_SLACK = 1e-5


@dataclass(frozen=True)
class BudgetAttack:
    """How a budget is attacked (one place for the defaults).

    ``attack``: ``apgd`` (Croce and Hein 2020) or ``pgd`` (Madry et al. 2018, random
    start in the L-inf ball). ``steps`` per restart, ``restarts`` (images a run already
    broke are not attacked again), ``loss``: ``ce`` (cross-entropy) or ``dlr``
    (difference of logits ratio). ``step_size``: PGD's step as a multiple of
    budget / steps (Madry's 2.5; 0.01 per step at 0.3 and 40 steps would be 1.33);
    APGD picks its own.
    """

    attack: str = "apgd"
    steps: int = 100
    restarts: int = 1
    loss: str = "ce"
    step_size: float = 2.5

    def __post_init__(self) -> None:
        if self.attack not in ATTACKS:
            raise InputError(f"robustness attack {self.attack!r} is not one of {ATTACKS}")
        if self.loss not in LOSSES:
            raise InputError(f"robustness loss {self.loss!r} is not one of {LOSSES}")
        if int(self.steps) < 1 or int(self.restarts) < 1:
            raise InputError(
                f"robustness steps and restarts must be >= 1, got {self.steps}, {self.restarts}"
            )
        if not self.step_size > 0:
            raise InputError(f"robustness step_size must be positive, got {self.step_size}")

    def describe(self) -> dict:
        return asdict(self)

    def run(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float) -> torch.Tensor:
        """Adversarial candidates for ``x`` (on [0, 1]) within L-inf ``eps``."""
        from adv_lib.attacks import apgd, pgd_linf

        if self.attack == "apgd":
            return apgd(
                model, x, y, eps=eps, norm=float("inf"), n_iter=int(self.steps),
                n_restarts=int(self.restarts), loss_function=self.loss,
            )  # fmt: skip
        return pgd_linf(
            model, x, y, ε=eps, steps=int(self.steps), restarts=int(self.restarts),
            random_init=True, loss_function=self.loss,
            absolute_step_size=self.step_size * eps / int(self.steps),
        )  # fmt: skip


def _check_budgets(budgets: Sequence[float]) -> list[float]:
    values = [float(b) for b in budgets]
    if not values:
        raise InputError("robustness.linf is empty: give at least one budget such as 0.3")
    for b in values:
        if not 0.0 < b <= 1.0:
            raise InputError(
                f"robustness.linf budget {b} must lie in (0, 1] (0.3 = 76.5 grey levels)"
            )
    return values


def robust_accuracy(
    net: nn.Module,
    images: np.ndarray | torch.Tensor,
    labels: np.ndarray | torch.Tensor,
    *,
    budgets: Sequence[float] = (0.1, 0.2, 0.3),
    attack: BudgetAttack | None = None,
    batch_size: int = 1000,
    seed: int = 0,
) -> dict:
    """Accuracy on clean ``images`` and under ``attack`` at each L-inf budget.

    Parameters
    ----------
    net
        A network taking pixels in [0, 255] (LeNet); it is attacked on [0, 1].
    images, labels
        uint8 images ``[N, 28, 28]`` or ``[N, 1, H, W]`` and their labels.
    budgets
        L-inf budgets on the [0, 1] scale (0.3 = 76.5 grey levels).
    seed
        Seeds the random starts (torch's global generator is forked, not changed).

    Returns
    -------
    dict
        ``clean_accuracy`` and ``robust_accuracy`` (one per budget, in [0, 1]): an image
        counts as robust when it is classified correctly and so is the attack's output.
        ``robust`` holds the per-image booleans ``[len(budgets), N]``; ``max_linf`` the
        largest perturbation the attack returned at each budget (checked <= budget).
    """
    attack = attack or BudgetAttack()
    eps_values = _check_budgets(budgets)
    device = model_device(net)
    model = UnitInterval(net).eval()
    x_all = unit_images(images, device)
    y_all = torch.as_tensor(np.asarray(labels), dtype=torch.int64, device=device)
    if len(x_all) != len(y_all):
        raise InputError(f"{len(x_all)} images but {len(y_all)} labels")
    clean = torch.zeros(len(x_all), dtype=torch.bool, device=device)
    robust = torch.zeros(len(eps_values), len(x_all), dtype=torch.bool, device=device)
    max_linf = [0.0] * len(eps_values)
    devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(int(seed))
        for start in range(0, len(x_all), batch_size):
            part = slice(start, start + batch_size)
            x, y = x_all[part], y_all[part]
            with torch.no_grad():
                clean[part] = model(x).argmax(1) == y
            for b, eps in enumerate(eps_values):
                adv = attack.run(model, x, y, eps).detach()
                linf = float((adv - x).abs().amax()) if len(x) else 0.0
                if linf > eps + _BUDGET_SLACK or adv.min() < 0 or adv.max() > 1:
                    raise RuntimeError(
                        f"{attack.attack} returned a perturbation of L-inf {linf:.6f} "
                        f"outside the budget {eps} or the [0, 1] box"
                    )
                max_linf[b] = max(max_linf[b], linf)
                with torch.no_grad():
                    robust[b, part] = clean[part] & (model(adv).argmax(1) == y)
    n = max(len(x_all), 1)
    return {
        "images": len(x_all),
        "linf": eps_values,
        "clean_accuracy": float(clean.sum()) / n,
        "robust_accuracy": [float(r.sum()) / n for r in robust],
        "robust": robust.cpu().numpy(),
        "max_linf": max_linf,
        "attack": attack.describe(),
    }
