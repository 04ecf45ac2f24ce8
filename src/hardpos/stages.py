"""Workflow stages as plain functions of paths and config values.

Each workflow script calls one of these, so every rule can also be run from Python
without Snakemake. Each function reads its inputs, does one job and writes its outputs
atomically.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import torch

from hardpos.data import load_dataset, load_mnist, save_dataset
from hardpos.device import describe, pick_device
from hardpos.evaluate import error_rate
from hardpos.io import write_json
from hardpos.models import load_model, save_model
from hardpos.train import Solver, train

log = logging.getLogger(__name__)


def set_threads(threads: int) -> None:
    """Use ``threads`` CPU threads for torch (a job's share of the machine)."""
    if threads and threads > 0:
        torch.set_num_threads(int(threads))


def prepare_mnist(mnist_dir: str, split: str, *, download: bool, out: str | os.PathLike) -> None:
    """Read and check one MNIST split and save it as one .npz for the rest of the workflow."""
    images, labels = load_mnist(mnist_dir, split, download=download)
    log.info("MNIST %s: %d images from %s", split, len(images), mnist_dir)
    save_dataset(out, images, labels)


def solver_from_config(cfg: dict[str, Any]) -> Solver:
    """A :class:`Solver` from the ``solver`` section of the config."""
    return Solver(**{k: cfg[k] for k in Solver.__dataclass_fields__ if k in cfg})


def train_net(
    *,
    train_set: str | os.PathLike,
    test_set: str | os.PathLike,
    seed: int,
    iterations: int,
    solver: dict[str, Any],
    checkpoint_every: int,
    out_model: str | os.PathLike,
    checkpoint: str | os.PathLike,
    init: str | os.PathLike | None = None,
    device: str = "auto",
    meta: dict[str, Any] | None = None,
) -> None:
    """Train (or fine-tune from ``init``) a LeNet; write the model, its sidecar and checkpoint."""
    dev = pick_device(device)
    log.info("device: %s", describe(dev))
    images, labels = load_dataset(train_set)
    state = train(
        images,
        labels,
        seed=seed,
        iterations=iterations,
        solver=solver_from_config(solver),
        init=init,
        checkpoint=checkpoint,
        checkpoint_every=checkpoint_every,
        device=dev,
        progress=lambda it, loss, lr: log.info("iteration %d loss %.4f lr %.6f", it, loss, lr),
    )
    test_images, test_labels = load_dataset(test_set)
    metrics = error_rate(state.model, test_images, test_labels, device=dev)
    log.info("MNIST test error %.4f", metrics["error"])
    info = {"seed": seed, "iterations": state.iteration, "train_images": len(images)}
    save_model(out_model, state.model, {**info, "test": metrics, **(meta or {})})


def evaluate_model(
    *,
    model: str | os.PathLike,
    datasets: dict[str, str | os.PathLike],
    out: str | os.PathLike,
    device: str = "auto",
) -> None:
    """Error rate of ``model`` on each named dataset, written as one JSON object."""
    dev = pick_device(device)
    net = load_model(model, dev)
    result = {}
    for name, path in datasets.items():
        images, labels = load_dataset(path)
        result[name] = error_rate(net, images, labels, device=dev)
        log.info("%s on %s: error %.4f", model, name, result[name]["error"])
    write_json(out, {"model": str(model), **result})
