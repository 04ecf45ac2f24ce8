"""Fine-tuning a classifier of your own on its training images plus hard positives.

The paper's last step (section 5.2: more training on the original images and the
generated ones) for any ``torch.nn.Module`` that maps ``[B, C, H, W]`` to logits, with
the same input conventions as :func:`hardpos.generate` (uint8 pixel values, or floats in
``input_range``; the model's own normalisation by ``mean``/``std``) and the same solver
as the workflow's LeNets (Caffe's SGD with momentum, weight decay, a learning-rate policy
and the biases' learning-rate multiplier: :class:`hardpos.training.solver.Solver`).
The original and the extra images are shuffled together (or, with ``extra_fraction``,
every batch holds that share of extra images), in an order fixed by ``seed``.
A checkpoint (weights, momentum, iteration) is written every ``checkpoint_every``
iterations and a call with the same arguments resumes from it after a kill.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from hardpos.attacks.attack_inputs import class_labels, pixel_values
from hardpos.attacks.classifier import PixelModel
from hardpos.attacks.generation import show_progress
from hardpos.errors import InputError
from hardpos.files.weights import read_weights, save_weights
from hardpos.training.loop import batch_order, lr_multipliers, sgd_loop
from hardpos.training.solver import Solver, check_finite

log = logging.getLogger(__name__)


def _labels(labels: Any, n: int, what: str) -> torch.Tensor:
    y = class_labels(labels, n)
    if len(y) and int(y.min()) < 0:
        raise InputError(f"{what} labels must be class ids >= 0; found {int(y.min())}")
    return y


def finetune(
    model: torch.nn.Module,
    images: np.ndarray | torch.Tensor,
    labels: np.ndarray | torch.Tensor,
    extra_images: np.ndarray | torch.Tensor | None = None,
    extra_labels: np.ndarray | torch.Tensor | None = None,
    *,
    iterations: int,
    solver: Solver | None = None,
    seed: int = 0,
    input_range: Sequence[float] = (0.0, 255.0),
    mean: Sequence[float] | float | None = None,
    std: Sequence[float] | float | None = None,
    extra_fraction: float | None = None,
    checkpoint: str | os.PathLike | None = None,
    checkpoint_every: int = 500,
    device: torch.device | str = "cpu",
    progress: bool | None = None,
) -> torch.nn.Module:
    """Fine-tune ``model`` in place for ``iterations`` SGD steps on ``images`` (``[N, C,
    H, W]`` or ``[N, H, W]``) and ``extra_images`` (the hard positives, same layout) with
    their labels; returns it in eval mode. ``solver``: Caffe's settings (default
    :class:`Solver`'s LeNet ones: base_lr 0.01, momentum 0.9, weight decay 5e-4, ``inv``
    policy, batch 64, biases at twice the rate). ``progress``: a bar on stderr (None: when
    stderr is a terminal). See the module docstring for the rest."""
    solver = solver or Solver()
    if iterations < 1:
        raise InputError(f"iterations: {iterations}; expected at least 1")
    if checkpoint_every < 1:
        raise InputError(f"checkpoint_every: {checkpoint_every}; expected at least 1")
    low, high = (float(v) for v in input_range)
    x, y, n_extra = _training_set(images, labels, extra_images, extra_labels, (low, high))
    device = torch.device(device)
    model = model.to(device)
    pixels = PixelModel(model, channels=int(x.shape[1]), input_range=(low, high), mean=mean,
                        std=std, device=device)  # fmt: skip
    trained = [(name, p) for name, p in model.named_parameters() if p.requires_grad]
    params = [p for _, p in trained]
    identity = {"seed": int(seed), "solver": asdict(solver), "n_examples": len(y),
                "n_extra": n_extra, "extra_fraction": extra_fraction,
                "input_range": [low, high]}  # fmt: skip
    momentum, first = _resume(checkpoint, model, params, identity, device)
    order = batch_order(len(y), n_extra, extra_fraction, seed, solver.batch_size)
    show = show_progress(progress)
    model.train()
    with tqdm(total=iterations, initial=first, unit="it", desc="finetune", disable=not show) as bar:

        def step(iteration: int) -> torch.Tensor:
            idx = order.indices(iteration)
            batch = pixels.model_input(x[idx].to(device))
            logits = model(batch if batch.is_floating_point() else batch.float())
            if iteration == first and int(y.max()) >= logits.shape[1]:
                raise InputError(f"label {int(y.max())}, but the model gives "
                                 f"{logits.shape[1]} classes")  # fmt: skip
            loss = F.cross_entropy(logits, y[idx].to(device))
            for p in params:
                p.grad = None
            loss.backward()
            bar.update(1)
            return loss

        def finite(iteration: int, loss: torch.Tensor, lr: float) -> float:
            value = check_finite(iteration, loss, params, lr)
            bar.set_postfix(loss=f"{value:.4f}", lr=f"{lr:.2e}")
            return value

        def save(iteration: int) -> None:
            if checkpoint is not None:
                blob = {"model": model.state_dict(), "momentum": momentum,
                        "iteration": iteration, "identity": identity}  # fmt: skip
                save_weights(blob, checkpoint)

        sgd_loop(
            step=step, params=params, momentum=momentum,
            lr_mults=lr_multipliers((name for name, _ in trained), solver), solver=solver,
            first=first, iterations=iterations, checkpoint_every=checkpoint_every,
            finite=finite, save=save,
        )  # fmt: skip
    return model.eval()


def _training_set(
    images: np.ndarray | torch.Tensor,
    labels: np.ndarray | torch.Tensor,
    extra_images: np.ndarray | torch.Tensor | None,
    extra_labels: np.ndarray | torch.Tensor | None,
    input_range: tuple[float, float],
) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Pixel values and labels of the training images followed by the extra ones, and
    how many extra ones: the pool that ``extra_fraction`` of every batch is drawn from
    (:class:`hardpos.training.batches.MixedBatchOrder`)."""
    x = torch.as_tensor(np.asarray(pixel_values(images, *input_range)))
    y = _labels(labels, len(x), "training")
    if extra_images is None:
        return x, y, 0
    extra = torch.as_tensor(np.asarray(pixel_values(extra_images, *input_range)))
    if extra.shape[1:] != x.shape[1:]:
        raise InputError(f"extra images are {tuple(extra.shape[1:])} each, the training "
                         f"images {tuple(x.shape[1:])}: one layout for both")  # fmt: skip
    extra_y = _labels(extra_labels if extra_labels is not None else [], len(extra), "extra")
    return torch.cat([x, extra]), torch.cat([y, extra_y]), len(extra)


def _resume(checkpoint, model, params, identity, device) -> tuple[list[torch.Tensor], int]:
    """Momentum buffers and the first iteration: from ``checkpoint`` when it exists and was
    written by the same run (else refused, named), or zeros and 0."""
    zeros = [torch.zeros_like(p) for p in params]
    if checkpoint is None or not Path(checkpoint).is_file():
        return zeros, 0
    blob = read_weights(checkpoint)
    if not isinstance(blob, dict) or blob.get("identity") != identity:
        raise InputError(f"checkpoint {checkpoint} was written by another fine-tuning run "
                         "(other data, seed or solver): delete it or name another")  # fmt: skip
    model.load_state_dict(blob["model"])
    log.info("resuming from %s at iteration %d", checkpoint, blob["iteration"])
    return [m.to(device) for m in blob["momentum"]], int(blob["iteration"])
