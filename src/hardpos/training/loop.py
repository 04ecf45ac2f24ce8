"""The one SGD loop every trainer runs, and what they all need around it.

LeNet training (:mod:`hardpos.training.lenet_training`), stacked nets
(:mod:`hardpos.training.stacked`), the ImageNet classifiers
(:mod:`hardpos.training.classifier_finetuning`) and a user's own model
(:mod:`hardpos.experiments.own_model_finetuning`) differ only in how one iteration's
gradients are made: each passes that in as ``step``. The update (Caffe's SGD), the
checkpoint timing, the NaN check before a checkpoint is written, progress and the rate
in the log are here, once; so are the biases' learning-rate multiplier, the batch-order
choice and the label check.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import torch

from hardpos.errors import InputError
from hardpos.training.batches import BatchOrder, MixedBatchOrder
from hardpos.training.solver import Solver, caffe_sgd_step

log = logging.getLogger(__name__)


def lr_multipliers(names: Iterable[str], solver: Solver) -> list[float]:
    """Caffe's per-parameter learning-rate multiplier: ``bias_lr_mult`` for biases (a
    parameter whose name ends in ``bias``), 1 for the rest."""
    return [solver.bias_lr_mult if name.endswith("bias") else 1.0 for name in names]


def batch_order(
    n: int, n_extra: int, extra_fraction: float | None, seed: int, batch_size: int
) -> BatchOrder | MixedBatchOrder:
    """The seeded order of ``n`` examples whose last ``n_extra`` are the added ones:
    shuffled together, or (``extra_fraction``) that share of added ones in every batch."""
    if extra_fraction is None or n_extra == 0:
        return BatchOrder(n, seed, batch_size)
    return MixedBatchOrder(n - n_extra, n_extra, extra_fraction, seed, batch_size)


def check_labels(labels: torch.Tensor, n: int, classes: int | None = None) -> None:
    """One class id per image, each in ``0..classes-1`` (when the classes are known)."""
    if len(labels) != n:
        raise InputError(f"{n} training images but {len(labels)} labels")
    if not len(labels):
        return
    low, high = int(labels.min()), int(labels.max())
    if classes is not None and (low < 0 or high >= classes):
        raise InputError(f"training labels must lie in 0..{classes - 1}")
    if low < 0:
        raise InputError(f"training labels must be class ids >= 0; found {low}")


def sgd_loop(
    *,
    step: Callable[[int], Any],
    params: Sequence[torch.Tensor],
    momentum: Sequence[torch.Tensor],
    lr_mults: Sequence[float],
    solver: Solver,
    first: int,
    iterations: int,
    checkpoint_every: int,
    finite: Callable[[int, Any, float], Any],
    save: Callable[[int], None] | None = None,
    progress: Callable[[int, Any, float], None] | None = None,
    unit: str = "iterations",
    per_iteration: int = 1,
) -> int:
    """Caffe's SGD from iteration ``first`` to ``iterations``; returns the last.

    Each iteration ``step(iteration)`` fills every parameter's ``.grad`` and returns its
    loss (or losses); the update follows. At every ``checkpoint_every``-th iteration and
    the last, ``finite(iteration, loss, lr)`` checks the loss and weights (it raises on a
    NaN, so a diverged run never overwrites a good checkpoint) and gives the values for
    ``progress``; then ``save(iteration)`` and ``progress(iteration, values, lr)``.
    ``per_iteration``: how many ``unit`` one iteration counts for in the logged rate.
    """
    params, momentum, lr_mults = list(params), list(momentum), list(lr_mults)
    started, iteration = time.perf_counter(), first
    while iteration < iterations:
        loss = step(iteration)
        lr = solver.learning_rate(iteration)
        caffe_sgd_step(params, momentum, lr_mults, solver, lr)
        iteration += 1
        if iteration % checkpoint_every == 0 or iteration == iterations:
            values = finite(iteration, loss, lr)
            if save is not None:
                save(iteration)
            if progress is not None:
                progress(iteration, values, lr)
    done = iteration - first
    if done:
        elapsed = time.perf_counter() - started
        rate = done * per_iteration / max(elapsed, 1e-9)
        log.info("%d iterations in %.1f s (%.1f %s/s)", done, elapsed, rate, unit)
    return iteration
