"""Evaluation stage: a model's error on MNIST test and on the held-out adversarial set."""

from __future__ import annotations

import json
import logging
import os
from typing import Any

import numpy as np

from hardpos.data import is_image_index, load_dataset
from hardpos.device import pick_device
from hardpos.evaluate import predict
from hardpos.io import load_table, write_json
from hardpos.models import load_model, sidecar_path

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
    workers: int = 0,
) -> None:
    """Write one JSON with the model's MNIST test error and, when given, held-out errors.

    When ``mnist_test`` is an image index (ImageNet validation crops), the record holds the
    top-1 and top-5 error instead (:func:`hardpos.stages.imagenet.evaluate_classifier`).
    """
    if is_image_index(mnist_test):
        from hardpos.stages.imagenet import evaluate_classifier

        evaluate_classifier(model=model, index=mnist_test, out=out, meta=meta,
                            workers=workers, device=device)  # fmt: skip
        return
    dev = pick_device(device)
    net = load_model(model, dev)
    images, labels = load_dataset(mnist_test)
    result: dict[str, Any] = {"model": str(model), **(meta or {})}
    side = sidecar_path(model)
    if side.is_file():
        result["train_images"] = json.loads(side.read_text()).get("train_images", 0)
    result["mnist_test"] = _errors(predict(net, images, device=dev) != labels)
    log.info("%s: MNIST test error %.4f", model, result["mnist_test"]["error"])
    if heldout_set is not None:
        adv, adv_labels = load_dataset(heldout_set)
        table = load_table(heldout_table)
        wrong = predict(net, adv, device=dev) != adv_labels
        result.update(heldout_errors(wrong, table, parent_net))
        log.info("%s: held-out error %.4f", model, result["heldout"]["error"])
    write_json(out, result)
