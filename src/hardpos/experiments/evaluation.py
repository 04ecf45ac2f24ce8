"""Evaluation stage: a model's error on MNIST test and on the held-out adversarial set."""

from __future__ import annotations

import logging
import os
from typing import Any

import numpy as np

from hardpos.device import pick_device
from hardpos.experiments.models import load_model
from hardpos.files.atomic import write_json
from hardpos.files.datasets import load_dataset
from hardpos.files.parquet import load_table
from hardpos.files.sidecars import image_counts, read_sidecar
from hardpos.imagenet.folders import read_index
from hardpos.metrics.classification import predict, topk_errors

log = logging.getLogger(__name__)


def _errors(wrong: np.ndarray) -> dict[str, Any]:
    n = int(len(wrong))
    count = int(wrong.sum())
    return {"error": count / n if n else float("nan"), "n": n, "wrong": count}


def heldout_errors(wrong: np.ndarray, table, parent_net: int | None) -> dict[str, Any]:
    """Held-out error overall, by adversarial type, and split by the image's parent net.

    ``heldout_own`` counts adversarials made on this model's own parent base net,
    ``heldout_other`` those of the other nets: a fine-tuned net that merely moved its own
    decision boundary improves mostly on the first.
    """
    result = {"heldout": _errors(wrong)}
    if parent_net is not None:
        own = table["net"].to_numpy() == parent_net
        result["heldout_own"] = _errors(wrong[own])
        result["heldout_other"] = _errors(wrong[~own])
    result["heldout_by_type"] = {
        name: _errors(wrong[(table["type"] == name).to_numpy()])
        for name in dict.fromkeys(table["type"])
    }
    return result


def evaluate_model(
    *,
    model: str | os.PathLike,
    mnist_test: str | os.PathLike,
    out: str | os.PathLike,
    heldout_set: str | os.PathLike | None = None,
    heldout_table: str | os.PathLike | None = None,
    parent_net: int | None = None,
    meta: dict[str, Any] | None = None,
    device: str = "auto",
) -> None:
    """Write one JSON with a LeNet's MNIST test error and, when given, held-out errors.

    MNIST only: an ImageNet network's record (top-1 and top-5 error) is
    :func:`evaluate_classifier`'s (the workflow's evaluate rule picks the stage by dataset).
    """
    dev = pick_device(device)
    net = load_model(model, dev)
    images, labels = load_dataset(mnist_test)
    result: dict[str, Any] = {"model": str(model), **(meta or {})}
    result.update(image_counts(read_sidecar(model)))
    result["mnist_test"] = _errors(predict(net, images, device=dev) != labels)
    log.info("%s: MNIST test error %.4f", model, result["mnist_test"]["error"])
    if heldout_set is not None:
        adv, adv_labels = load_dataset(heldout_set)
        table = load_table(heldout_table)
        wrong = predict(net, adv, device=dev) != adv_labels
        result.update(heldout_errors(wrong, table, parent_net))
        log.info("%s: held-out error %.4f", model, result["heldout"]["error"])
    write_json(out, result)


def evaluate_classifier(
    *,
    model: str | os.PathLike,
    index: str | os.PathLike,
    out: str | os.PathLike,
    meta: dict[str, Any] | None = None,
    batch_size: int = 100,
    workers: int = 0,
    device: str = "auto",
) -> None:
    """Top-1 and top-5 error of a network on the validation crops, as one JSON."""
    dev = pick_device(device)
    errors = topk_errors(load_model(model, dev), read_index(index), batch_size=batch_size,
                         workers=workers, device=dev)  # fmt: skip
    counts = image_counts(read_sidecar(model))
    log.info("%s: top-1 error %.4f, top-5 error %.4f on %d crops",
             model, errors["top1"], errors["top5"], errors["n"])  # fmt: skip
    write_json(out, {"model": str(model), **(meta or {}), **counts, **errors})
