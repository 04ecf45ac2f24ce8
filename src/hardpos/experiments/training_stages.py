"""Training stages: base nets, fine-tuning and the InfiMNIST-style baseline."""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hardpos.device import describe, pick_device
from hardpos.errors import DataError, InputError
from hardpos.experiments.models import load_model
from hardpos.files.atomic import atomic_path
from hardpos.files.datasets import load_dataset
from hardpos.files.images import ImageStack
from hardpos.imagenet.classifiers import save_classifier
from hardpos.imagenet.folders import CropDataset, read_index
from hardpos.metrics.classification import error_rate
from hardpos.mnist.lenet import save_model
from hardpos.training.adversarial_objectives import objective_from_recipe
from hardpos.training.checkpoints import save_checkpoint
from hardpos.training.classifier_finetuning import finetune
from hardpos.training.lenet_training import train
from hardpos.training.solver import Solver
from hardpos.training.stacked import train_stacked

log = logging.getLogger(__name__)


def solver_from_config(cfg: dict[str, Any]) -> Solver:
    """A :class:`Solver` from the ``solver`` section of the config."""
    return Solver(**{k: cfg[k] for k in Solver.__dataclass_fields__ if k in cfg})


def train_net(
    *,
    train_sets: list[str | os.PathLike],
    test_set: str | os.PathLike,
    seed: int,
    iterations: int,
    solver: dict[str, Any],
    checkpoint_every: int,
    out_model: str | os.PathLike,
    out_solver: str | os.PathLike,
    checkpoint: str | os.PathLike,
    init: str | os.PathLike | None = None,
    extra_fraction: float | None = None,
    device: str = "auto",
    meta: dict[str, Any] | None = None,
    objective: dict[str, Any] | None = None,
) -> None:
    """Train (or fine-tune from ``init``) a LeNet on the concatenated ``train_sets``.

    ``objective``: an on-the-fly adversarial objective in place of the cross-entropy,
    ``{"method": "fgs-objective" or "pgd-at", **settings}`` (a recipe's
    :meth:`~hardpos.experiments.recipes.Recipe.objective_settings`).

    MNIST only: an ImageNet network is fine-tuned by :func:`finetune_classifier` (the
    workflow's finetune rule picks the stage by dataset).

    The first set is the original data; with ``extra_fraction`` the others form a pool
    that makes up that share of every batch. ``checkpoint`` (not a workflow output, so
    Snakemake never deletes it) is resumed after a kill; the final solver state goes to
    ``out_solver`` for fine-tuning to continue from.
    """
    dev = pick_device(device)
    log.info("device: %s", describe(dev))
    images, labels, n_extra = _lenet_training_set(train_sets)
    state = train(
        images,
        labels,
        seed=seed,
        **_run_keywords(iterations, solver, init, checkpoint, checkpoint_every, n_extra,
                        extra_fraction, dev),
        progress=lambda it, loss, lr: log.info("iteration %d loss %.4f lr %.6f", it, loss, lr),
        objective=_objective(objective),
    )  # fmt: skip
    test_images, test_labels = load_dataset(test_set)
    _save_lenet(
        state, seed, len(images), n_extra, test_images, test_labels, out_model, out_solver, dev,
        meta, objective=objective,
    )  # fmt: skip


def train_nets(
    *,
    train_sets: list[str | os.PathLike],
    test_set: str | os.PathLike,
    seeds: Sequence[int],
    iterations: int,
    solver: dict[str, Any],
    checkpoint_every: int,
    out_models: Sequence[str | os.PathLike],
    out_solvers: Sequence[str | os.PathLike],
    checkpoint: str | os.PathLike,
    init: str | os.PathLike | None = None,
    extra_fraction: float | None = None,
    device: str = "auto",
    meta: dict[str, Any] | None = None,
    compile_step: bool = False,
) -> None:
    """:func:`train_net` for several seeds of one LeNet job at once, stacked in one step
    (:func:`hardpos.training.stacked.train_stacked`): the orderings of one (recipe, base
    net), all from ``init``, or base nets from scratch. Net ``k`` (``seeds[k]``) gets
    ``out_models[k]`` with its sidecar and ``out_solvers[k]``, as :func:`train_net` writes
    them; ``checkpoint`` holds the stacked state."""
    if not len(seeds) == len(out_models) == len(out_solvers):
        raise InputError(
            f"{len(seeds)} seeds need as many model and solver outputs, got "
            f"{len(out_models)} and {len(out_solvers)}"
        )
    dev = pick_device(device)
    log.info("device: %s; %d nets stacked", describe(dev), len(seeds))
    images, labels, n_extra = _lenet_training_set(train_sets)
    states = train_stacked(
        images,
        labels,
        seeds=seeds,
        **_run_keywords(
            iterations, solver, init, checkpoint, checkpoint_every, n_extra, extra_fraction, dev
        ),
        compile_step=compile_step,
        progress=lambda it, losses, lr: log.info(
            "iteration %d losses %s lr %.6f", it, " ".join(f"{v:.4f}" for v in losses), lr
        ),
    )
    test_images, test_labels = load_dataset(test_set)
    for seed, state, model, solver_out in zip(seeds, states, out_models, out_solvers, strict=True):
        _save_lenet(state, seed, len(images), n_extra, test_images, test_labels, model,
                    solver_out, dev, meta)  # fmt: skip


def _run_keywords(
    iterations: int,
    solver: dict[str, Any],
    init: str | os.PathLike | None,
    checkpoint: str | os.PathLike | None,
    checkpoint_every: int,
    n_extra: int,
    extra_fraction: float | None,
    device: torch.device,
) -> dict[str, Any]:
    """The keywords :func:`train` and :func:`train_stacked` share, as one LeNet job gives
    them (an extra fraction only where there are extra images to draw it from)."""
    return {
        "iterations": iterations,
        "solver": solver_from_config(solver),
        "init": init,
        "checkpoint": checkpoint,
        "checkpoint_every": checkpoint_every,
        "n_extra": n_extra,
        "extra_fraction": extra_fraction if n_extra else None,
        "device": device,
    }


def _lenet_training_set(train_sets) -> tuple[np.ndarray, np.ndarray, int]:
    """The concatenated MNIST-style sets as images ``[N, 28, 28]``, labels, and how many
    were added to the first (the original data)."""
    parts = [load_dataset(path) for path in train_sets]
    images = np.concatenate([p[0].reshape(len(p[0]), 28, 28) for p in parts])
    labels = np.concatenate([p[1] for p in parts])
    n_extra = len(images) - len(parts[0][0])
    log.info(
        "training on %d images (%d added to the original %d)",
        len(images),
        n_extra,
        len(parts[0][0]),
    )
    return images, labels, n_extra


def _save_lenet(
    state, seed, n_images, n_extra, test_images, test_labels, out_model, out_solver, dev, meta,
    objective=None,
):  # fmt: skip
    """A trained LeNet's solver state, and its model file with the test error and the
    ``n_images`` it trained on (``n_extra`` of them added) in the sidecar."""
    save_checkpoint(out_solver, state, {"seed": seed, "input_scale": state.model.input_scale})
    metrics = error_rate(state.model, test_images, test_labels, device=dev)
    log.info("seed %d: MNIST test error %.4f", seed, metrics["error"])
    info = {"seed": seed, "iterations": state.iteration, "train_images": int(n_images),
            "added_images": int(n_extra)}  # fmt: skip
    if objective is not None:
        info["objective"] = dict(objective)
    save_model(out_model, state.model, {**info, "test": metrics, **(meta or {})})


def finetune_classifier(
    *,
    train_index: str | os.PathLike,
    added: Sequence[str | os.PathLike],
    init: str | os.PathLike,
    seed: int,
    iterations: int,
    solver: dict[str, Any],
    checkpoint_every: int,
    checkpoint: str | os.PathLike,
    extra_fraction: float | None,
    out_model: str | os.PathLike,
    out_solver: str | os.PathLike,
    workers: int = 0,
    device: str = "auto",
    meta: dict[str, Any] | None = None,
) -> None:
    """Fine-tune the base network ``init`` on the training crops plus the ``added`` images.

    ``out_solver`` receives the final training state (weights, momentum, iteration)."""
    dev = pick_device(device)
    log.info("device: %s", describe(dev))
    index = read_index(train_index)
    crop = CropDataset(index).crop
    # the added images stay in their files (memory-mapped), read per batch
    images = ImageStack(added, shape=(3, crop, crop))
    labels = np.concatenate([np.zeros(0, np.int64)] + [load_dataset(p)[1] for p in added])
    if len(labels) != len(images):
        raise DataError(f"{list(added)}: {len(images)} images but {len(labels)} labels")
    log.info("fine-tuning on %d crops plus %d added images", len(index), len(images))
    model = load_model(init, dev)
    fields = Solver.__dataclass_fields__
    model = finetune(
        model, index, images, labels, seed=seed, iterations=iterations,
        solver=Solver(**{k: v for k, v in solver.items() if k in fields}),
        checkpoint=checkpoint, checkpoint_every=checkpoint_every,
        extra_fraction=extra_fraction, workers=workers, device=dev,
        progress=lambda it, loss, lr: log.info("iteration %d loss %.4f lr %.6f", it, loss, lr),
    )  # fmt: skip
    side = Path(str(init) + ".json")
    base = json.loads(side.read_text()) if side.is_file() else {}
    info = {"seed": seed, "iterations": iterations,
            "train_images": len(index) + len(images), "added_images": len(images)}  # fmt: skip
    save_classifier(out_model, model.cpu(), {**base, **info, "init": str(init), **(meta or {})})
    with atomic_path(out_solver) as tmp:
        shutil.copyfile(checkpoint, tmp)


def _objective(spec: dict[str, Any] | None):
    if spec is None:
        return None
    settings = dict(spec)
    objective = objective_from_recipe(settings.pop("method", None), settings)
    log.info("objective: %s (%d passes per iteration)", objective.describe(), objective.passes)
    return objective
