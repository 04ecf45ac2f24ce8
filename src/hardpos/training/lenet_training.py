"""Caffe's SGD solver for LeNet, with seeded orderings and checkpoints that resume exactly.

Caffe updates ``V = momentum * V + lr * lr_mult * (grad + weight_decay * w); w -= V``
(weight decay on every parameter, biases at twice the learning rate) with the ``inv``
policy ``lr = base_lr * (1 + gamma * iter) ** -power``. PyTorch's SGD folds the learning
rate in after the momentum, which differs when the rate changes, so the update is written
out here.

The order of training images is a function of (seed, iteration) alone: iteration ``i``
takes positions ``[i*B, (i+1)*B)`` of an endless stream of seeded epoch permutations. A
run resumed from a checkpoint therefore sees the same batches as one never interrupted.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from hardpos.errors import InputError
from hardpos.mnist.idx import MNIST_CLASSES
from hardpos.mnist.lenet import LeNet
from hardpos.training.adversarial_objectives import Objective
from hardpos.training.checkpoints import TrainState, load_checkpoint, same_run, save_checkpoint
from hardpos.training.loop import batch_order, check_labels, lr_multipliers, sgd_loop
from hardpos.training.solver import Solver, check_finite

log = logging.getLogger(__name__)


def _resume(
    checkpoint: str | os.PathLike, identity: dict, device: torch.device
) -> TrainState | None:
    """The state in ``checkpoint`` if it exists and was written by the same kind of run."""
    if not Path(checkpoint).is_file():
        return None
    state, blob = load_checkpoint(checkpoint, device)
    if not same_run(checkpoint, blob, identity):
        return None
    log.info("resuming from %s at iteration %d", checkpoint, state.iteration)
    return state


def _prepare_images(images: np.ndarray | torch.Tensor) -> torch.Tensor:
    """uint8 ``[N, 28, 28]`` or ``[N, 1, 28, 28]`` -> uint8 tensor ``[N, 1, 28, 28]``
    (read into memory: a read-only memory map cannot back a tensor)."""
    if not isinstance(images, torch.Tensor) and not np.asarray(images).flags.writeable:
        images = np.array(images)
    x = torch.as_tensor(np.asarray(images))
    if x.dtype != torch.uint8:
        raise InputError(f"training images must be uint8 in [0, 255], got {x.dtype}")
    if x.ndim == 3:
        x = x.unsqueeze(1)
    if x.ndim != 4 or x.shape[1] != 1:
        raise InputError(
            f"training images must be [N, 28, 28] or [N, 1, 28, 28], got {tuple(x.shape)}"
        )
    return x.contiguous()


def training_tensors(
    images: np.ndarray | torch.Tensor, labels: np.ndarray | torch.Tensor, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """The training set on ``device``, checked: uint8 images ``[N, 1, 28, 28]`` and one
    MNIST class id (int64) an image."""
    x_all = _prepare_images(images).to(device)
    y_all = torch.as_tensor(np.asarray(labels), dtype=torch.int64).to(device)
    check_labels(y_all, len(x_all), classes=MNIST_CLASSES)
    return x_all, y_all


def data_identity(
    solver: Solver,
    input_scale: float,
    init: str | list[str | None] | None,
    n_examples: int,
    n_extra: int,
    extra_fraction: float | None,
) -> dict:
    """What a checkpoint must share with a run to be resumed by it, beyond the seeds: the
    solver, the input scale, where it started, and the data's sizes and mix."""
    return {
        "solver": asdict(solver),
        "input_scale": input_scale,
        "init": init,
        "n_examples": n_examples,
        "n_extra": int(n_extra),
        "extra_fraction": extra_fraction,
    }


def _starting_state(
    checkpoint: str | os.PathLike | None,
    identity: dict,
    init: str | os.PathLike | None,
    iterations: int,
    device: torch.device,
) -> TrainState:
    """Where a run starts: its own checkpoint when it is this run's, else ``init``, else a
    new LeNet from the seed."""
    state = _resume(checkpoint, identity, device) if checkpoint is not None else None
    if iterations < 0:
        raise InputError(f"iterations: {iterations}; expected a count >= 0")
    if state is None and init is not None:
        state, _ = load_checkpoint(init, device)
        if state.iteration >= iterations:
            raise InputError(
                f"--init {init} is at iteration {state.iteration} already, and iterations "
                f"is {iterations}: nothing to train (the counter continues from the init: "
                f"ask for {state.iteration} + the iterations to add)"
            )
        log.info("continuing from %s at iteration %d", init, state.iteration)
    if state is None:
        model = LeNet(seed=identity["seed"], input_scale=identity["input_scale"]).to(device)
        state = TrainState(model, [torch.zeros_like(p) for p in model.parameters()], 0)
    return state


def train(
    images: np.ndarray | torch.Tensor,
    labels: np.ndarray | torch.Tensor,
    *,
    seed: int,
    iterations: int,
    solver: Solver | None = None,
    init: str | os.PathLike | None = None,
    checkpoint: str | os.PathLike | None = None,
    checkpoint_every: int = 1000,
    n_extra: int = 0,
    extra_fraction: float | None = None,
    input_scale: float = 1.0 / 255.0,
    device: torch.device | str = "cpu",
    progress: Callable[[int, float, float], None] | None = None,
    objective: Objective | None = None,
) -> TrainState:
    """Train Caffe's LeNet with Caffe's solver until the iteration counter reaches ``iterations``.

    ``seed`` sets both the initial weights (ignored when ``init`` is given) and the
    ordering of ``images``. ``init`` is a checkpoint to continue from, with its iteration
    counter and momentum carried on (fine-tuning: pass the base net's checkpoint and a
    larger ``iterations``). ``checkpoint`` is written every ``checkpoint_every``
    iterations and at the end; if it already exists the run resumes from it.
    A checkpoint written with another seed or solver is ignored (and said so in the log).
    ``n_extra``/``extra_fraction``: the last ``n_extra`` examples are a separate pool that
    makes up ``extra_fraction`` of every batch (see :class:`MixedBatchOrder`); without a
    fraction all examples are shuffled together.
    ``progress(iteration, loss, lr)`` is called at every checkpoint.
    ``objective``: the loss of a batch, in place of the cross-entropy, such as the
    adversarial objectives of :mod:`hardpos.training.adversarial_objectives` (made on the
    fly from each batch; ``describe()`` goes into the checkpoint's identity).
    """
    solver = solver or Solver()
    device = torch.device(device)
    x_all, y_all = training_tensors(images, labels, device)
    identity = {
        "seed": int(seed),
        **data_identity(solver, input_scale, str(init) if init else None, len(y_all),
                        n_extra, extra_fraction),
        "objective": objective.describe() if objective is not None else None,
    }  # fmt: skip
    state = _starting_state(checkpoint, identity, init, iterations, device)

    model = state.model.to(memory_format=torch.channels_last).train()
    params = list(model.parameters())
    order = batch_order(len(x_all), int(n_extra), extra_fraction, seed, solver.batch_size)

    def step(iteration: int) -> torch.Tensor:
        idx = order.indices(iteration).to(device)
        x = x_all[idx].float().contiguous(memory_format=torch.channels_last)
        if objective is None:
            loss = F.cross_entropy(model.logits(x), y_all[idx])
        else:
            loss = objective(model, x, y_all[idx], seed=seed, iteration=iteration)
        for p in params:
            p.grad = None
        loss.backward()
        return loss

    def save(iteration: int) -> None:
        state.iteration = iteration
        if checkpoint is not None:
            save_checkpoint(checkpoint, state, identity)

    state.iteration = sgd_loop(
        step=step, params=params, momentum=state.momentum,
        lr_mults=lr_multipliers((name for name, _ in model.named_parameters()), solver),
        solver=solver, first=state.iteration, iterations=iterations,
        checkpoint_every=checkpoint_every,
        finite=lambda iteration, loss, lr: check_finite(iteration, loss, params, lr),
        save=save, progress=progress,
    )  # fmt: skip
    state.model = model.to(memory_format=torch.contiguous_format).eval()
    return state
