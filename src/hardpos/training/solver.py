"""Caffe's SGD solver: its hyperparameters, learning-rate policy and update step."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from hardpos.errors import InputError, TrainingError


@dataclass(frozen=True)
class Solver:
    """Caffe's SGD settings, by Caffe's names; the defaults are ``lenet_solver.prototxt``.

    ``lr_policy``: ``inv`` (base_lr * (1 + gamma it) ** -power, LeNet's), ``step``
    (base_lr * gamma ** floor(it / stepsize), BVLC GoogLeNet's), ``poly`` (base_lr * (1 -
    it / max_iter) ** power) or ``fixed``. ``frozen_batchnorm``: batch-norm layers keep
    their running statistics (eval mode) while their scale and shift still learn; BVLC's
    GoogLeNet has no batch norm, so fine-tuning torchvision's one this way stays closest.
    """

    base_lr: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 5e-4
    lr_policy: str = "inv"
    gamma: float = 1e-4
    power: float = 0.75
    stepsize: int = 100_000
    max_iter: int = 10_000
    batch_size: int = 64
    bias_lr_mult: float = 2.0
    frozen_batchnorm: bool = False

    def __post_init__(self) -> None:
        if self.lr_policy not in LR_POLICIES:
            raise InputError(
                f"solver lr_policy {self.lr_policy!r}: expected one of {', '.join(LR_POLICIES)}"
            )

    def learning_rate(self, iteration: int) -> float:
        """The learning rate of ``iteration`` under ``lr_policy``."""
        if self.lr_policy == "inv":
            return self.base_lr * (1.0 + self.gamma * iteration) ** (-self.power)
        if self.lr_policy == "step":
            return self.base_lr * self.gamma ** (iteration // self.stepsize)
        if self.lr_policy == "poly":
            return self.base_lr * max(0.0, 1.0 - iteration / self.max_iter) ** self.power
        return self.base_lr

    @classmethod
    def from_config(cls, cfg: dict) -> Solver:
        """A solver from a config section; keys it does not know are ignored."""
        return cls(**{k: cfg[k] for k in cls.__dataclass_fields__ if k in cfg})


LR_POLICIES = ("inv", "step", "poly", "fixed")


def caffe_sgd_step(
    params: list[torch.Tensor],
    momentum: list[torch.Tensor],
    lr_mults: list[float],
    solver: Solver,
    lr: float,
) -> None:
    """One Caffe SGD update of ``params`` in place, grouped by learning-rate multiplier."""
    groups: dict[float, list[int]] = {}
    for i, mult in enumerate(lr_mults):
        groups.setdefault(mult, []).append(i)
    with torch.no_grad():
        for mult, idx in groups.items():
            p = [params[i] for i in idx]
            g = [params[i].grad for i in idx]
            v = [momentum[i] for i in idx]
            torch._foreach_add_(g, p, alpha=solver.weight_decay)
            torch._foreach_mul_(v, solver.momentum)
            torch._foreach_add_(v, g, alpha=lr * mult)
            torch._foreach_sub_(p, v)


def check_finite(
    iteration: int, loss: torch.Tensor, params: list[torch.Tensor], lr: float
) -> float:
    """Raise :class:`~hardpos.errors.TrainingError` when the loss or any weight is NaN or
    infinite. Called before each checkpoint, so a diverged run never overwrites a good
    checkpoint and is not resumed from a broken one; the weights are checked too, since a
    finite loss can precede the step that broke them."""
    value = float(loss.detach())
    if math.isfinite(value) and all(bool(torch.isfinite(p).all()) for p in params):
        return value
    raise TrainingError(
        f"training diverged by iteration {iteration} (loss {value}, learning rate {lr:g}): "
        "lower the solver's base_lr; the last checkpoint, if any, is from before"
    )
