"""Adversarial training objectives for the LeNet training loop (``train(objective=...)``).

Two modern baselines beside the paper's hard-positive fine-tuning, both made on the fly
from the batch at every iteration. Budgets are on the [0, 1] scale of the papers (0.3 =
76.5 grey levels) and applied to the pixels the network takes ([0, 255]):

- :class:`FGSObjective`: Goodfellow, Shlens and Szegedy (2015), eq. 6:
  ``alpha J(x, y) + (1 - alpha) J(x + eps sign(grad_x J(x, y)), y)``; the adversarial is
  held constant (no gradient through its construction), as in their paper.
- :class:`PGDObjective`: Madry et al. (2018): ``J(x*, y)`` where ``x*`` is PGD's
  approximate maximiser of the loss in the L-inf ball of radius ``eps`` (random start,
  ``steps`` signed-gradient steps of ``step_size``, projection onto the ball and the
  [0, 255] box).

An objective is called as ``objective(model, x, y, seed=..., iteration=...)`` (the
training run's seed and iteration) and returns the loss to back-propagate; its random
draws depend on those two only, so a run resumed from a checkpoint repeats them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # torch is imported where it runs: recipes are checked while the DAG is built
    import torch
    from torch import nn

from hardpos.errors import InputError

PIXEL_MAX = 255.0


class Objective(Protocol):
    """What :func:`hardpos.training.lenet_training.train` calls for each batch's loss."""

    def __call__(
        self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, seed: int, iteration: int
    ) -> torch.Tensor: ...

    def describe(self) -> dict: ...


def _input_gradient(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """grad_x of the summed cross-entropy (summed, so each image's gradient is its own and
    its sign does not depend on the batch size); no parameter gradients accumulate."""
    import torch
    import torch.nn.functional as F

    x = x.detach().requires_grad_(True)
    loss = F.cross_entropy(model(x), y, reduction="sum")
    return torch.autograd.grad(loss, x)[0]


@dataclass(frozen=True)
class FGSObjective:
    """Goodfellow et al.'s adversarial objective; ``eps`` on [0, 1] (their MNIST setting:
    0.25 = 63.75 grey levels), ``alpha`` the weight of the clean term (theirs: 0.5)."""

    eps: float = 0.25
    alpha: float = 0.5

    def __post_init__(self) -> None:
        if not 0.0 < self.eps <= 1.0:
            raise InputError(
                f"fgs-objective eps {self.eps} must lie in (0, 1] (0.25 = 63.75 grey levels)"
            )
        if not 0.0 <= self.alpha <= 1.0:
            raise InputError(f"fgs-objective alpha {self.alpha} must lie in [0, 1]")

    @property
    def passes(self) -> int:
        """Forward/backward passes per iteration (plain training: 1)."""
        return 2

    def describe(self) -> dict:
        return {"method": "fgs-objective", **asdict(self)}

    def __call__(self, model: nn.Module, x, y, *, seed: int, iteration: int) -> torch.Tensor:
        import torch
        import torch.nn.functional as F

        x = x.detach().requires_grad_(True)
        clean = F.cross_entropy(model(x), y)
        # the same forward serves the clean term and the direction
        (grad_x,) = torch.autograd.grad(clean * len(x), x, retain_graph=True)
        adv = (x.detach() + self.eps * PIXEL_MAX * grad_x.sign()).clamp_(0.0, PIXEL_MAX)
        return self.alpha * clean + (1.0 - self.alpha) * F.cross_entropy(model(adv), y)


@dataclass(frozen=True)
class PGDObjective:
    """Madry et al.'s PGD adversarial training; ``eps`` and ``step_size`` on [0, 1] (their
    MNIST setting: 0.3 and 0.01, 40 steps, random start)."""

    eps: float = 0.3
    step_size: float = 0.01
    steps: int = 40
    random_start: bool = True

    def __post_init__(self) -> None:
        if not 0.0 < self.eps <= 1.0:
            raise InputError(f"pgd-at eps {self.eps} must lie in (0, 1] (0.3 = 76.5 grey levels)")
        if not self.step_size > 0:
            raise InputError(f"pgd-at step_size {self.step_size} must be positive")
        if int(self.steps) < 1:
            raise InputError(f"pgd-at steps {self.steps} must be >= 1")

    @property
    def passes(self) -> int:
        return int(self.steps) + 1

    def describe(self) -> dict:
        return {"method": "pgd-at", **asdict(self)}

    def attack(
        self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, seed: int, iteration: int
    ):
        """PGD's adversarial for the batch (detached): the maximiser training sees."""
        import torch

        x = x.detach()
        eps, step = self.eps * PIXEL_MAX, self.step_size * PIXEL_MAX
        low, high = (x - eps).clamp(min=0.0), (x + eps).clamp(max=PIXEL_MAX)
        adv = x.clone()
        if self.random_start:
            generator = torch.Generator().manual_seed(
                (int(seed) + 104_729) * 1_000_003 + int(iteration)
            )
            noise = torch.rand(x.shape, generator=generator, dtype=x.dtype)
            adv = adv + (2.0 * noise.to(x.device) - 1.0) * eps
            adv = torch.maximum(torch.minimum(adv, high), low)
        for _ in range(int(self.steps)):
            grad_x = _input_gradient(model, adv, y)
            adv = adv + step * grad_x.sign()
            adv = torch.maximum(torch.minimum(adv, high), low)
        return adv.detach()

    def __call__(self, model: nn.Module, x, y, *, seed: int, iteration: int) -> torch.Tensor:
        import torch.nn.functional as F

        return F.cross_entropy(model(self.attack(model, x, y, seed=seed, iteration=iteration)), y)


def objective_from_recipe(method: str, settings: dict) -> FGSObjective | PGDObjective:
    """The objective a recipe names (``fgs-objective`` or ``pgd-at``) with its settings;
    errors name the method and key."""
    classes = {"fgs-objective": FGSObjective, "pgd-at": PGDObjective}
    if method not in classes:
        raise InputError(f"training objective {method!r} is not one of {', '.join(classes)}")
    cls = classes[method]
    unknown = set(settings) - set(cls.__dataclass_fields__)
    if unknown:
        allowed = ", ".join(cls.__dataclass_fields__)
        raise InputError(f"{method}: unknown settings {sorted(unknown)} (allowed: {allowed})")
    return cls(**settings)
