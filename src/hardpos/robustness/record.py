"""One model's robustness record: robust accuracy at each budget and minimal norms.

The workflow's ``robustness`` rule writes one JSON per model with this; Table 1 and the
robust-accuracy figure read them.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any

import numpy as np
import pandas as pd
from torch import nn

from hardpos.device import describe, pick_device
from hardpos.errors import DataError, InputError
from hardpos.files.atomic import write_json
from hardpos.files.datasets import load_dataset
from hardpos.files.json_records import read_json_record
from hardpos.mnist.lenet import load_lenet
from hardpos.robustness.budget import BudgetAttack, robust_accuracy
from hardpos.robustness.minimal_norm import MinimalNormAttack, minimal_norms

log = logging.getLogger(__name__)


def robustness_record(
    net: nn.Module,
    images: np.ndarray,
    labels: np.ndarray,
    *,
    budgets: list[float],
    attack: BudgetAttack,
    min_norm: MinimalNormAttack | None,
    batch_size: int = 1000,
    seed: int = 0,
) -> dict[str, Any]:
    """JSON-ready summary: ``clean_accuracy``, ``robust_accuracy`` per budget (same order
    as ``linf``), and (unless ``min_norm`` is None) median minimal L2 and L-inf in grey
    levels with the number of images the minimum-norm attacks failed on."""
    started = time.perf_counter()
    acc = robust_accuracy(
        net, images, labels, budgets=budgets, attack=attack, batch_size=batch_size, seed=seed
    )
    record: dict[str, Any] = {
        "images": acc["images"],
        "linf": acc["linf"],
        "linf_grey_levels": [255.0 * b for b in acc["linf"]],
        "clean_accuracy": acc["clean_accuracy"],
        "robust_accuracy": acc["robust_accuracy"],
        "attack": acc["attack"],
    }
    for eps, value in zip(acc["linf"], acc["robust_accuracy"], strict=True):
        log.info("robust accuracy at L-inf %g (%.1f grey levels): %.4f", eps, 255 * eps, value)
    if min_norm is not None:
        norms = minimal_norms(
            net, images, labels, attack=min_norm, batch_size=batch_size, seed=seed
        )
        record["min_norm"] = {
            "median_l2": norms["median_l2"],
            "median_linf": norms["median_linf"],
            "failed_l2": norms["failed_l2"],
            "failed_linf": norms["failed_linf"],
            "attack": norms["attack"],
        }
        log.info(
            "median minimal L2 %.1f, L-inf %.1f grey levels",
            norms["median_l2"],
            norms["median_linf"],
        )
    record["seconds"] = time.perf_counter() - started
    return record


def write_robustness(
    *,
    model: str | os.PathLike,
    test_set: str | os.PathLike,
    out: str | os.PathLike,
    images: int | None,
    budgets: list[float],
    attack: dict[str, Any],
    min_norm: dict[str, Any] | None,
    batch_size: int = 1000,
    seed: int = 0,
    device: str = "auto",
    meta: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Attack the first ``images`` of ``test_set`` on the LeNet in ``model``; write the
    record (plus ``meta``: recipe, net, order) to ``out``. ``attack`` and ``min_norm``
    are the config's settings (keys of :class:`BudgetAttack` and
    :class:`MinimalNormAttack`)."""
    dev = pick_device(device)
    log.info("device: %s", describe(dev))
    net = load_lenet(model, device=dev)
    x, y = load_dataset(test_set)
    if images is not None:
        if int(images) < 1:
            raise InputError(f"robustness.images must be >= 1 or null, got {images}")
        x, y = x[: int(images)], y[: int(images)]
    record = robustness_record(
        net, np.asarray(x), np.asarray(y), budgets=budgets,
        attack=_settings(BudgetAttack, attack, "robustness"),
        min_norm=None if min_norm is None
        else _settings(MinimalNormAttack, min_norm, "robustness.min_norm"),
        batch_size=batch_size, seed=seed,
    )  # fmt: skip
    record = {"model": str(model), **(meta or {}), **record}
    write_json(out, record)
    return record


def _settings(cls, values: dict[str, Any], key: str):
    unknown = set(values) - set(cls.__dataclass_fields__)
    if unknown:
        allowed = ", ".join(cls.__dataclass_fields__)
        raise InputError(f"config {key}: unknown keys {sorted(unknown)} (allowed: {allowed})")
    return cls(**values)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def check_record(record: object, path) -> None:
    """A robustness record as :func:`robustness_record` writes it, or a DataError naming
    the file and key: accuracies are numbers in [0, 1], one per budget, budgets positive."""
    if not isinstance(record, dict):
        raise DataError(f"{path}: a robustness record is a JSON object")
    if "robust_accuracy" not in record or "linf" not in record:
        raise DataError(f"{path}: robustness record lacks 'robust_accuracy' or 'linf'")
    budgets, robust = record["linf"], record["robust_accuracy"]
    if not isinstance(budgets, list) or not all(_is_number(b) and b > 0 for b in budgets):
        raise DataError(f"{path}: linf: expected a list of positive budgets, found {budgets!r}")
    if not isinstance(robust, list) or len(robust) != len(budgets):
        raise DataError(f"{path}: robust_accuracy: expected one accuracy per budget "
                        f"({len(budgets)}), found {robust!r}")  # fmt: skip
    for key, value in [("clean_accuracy", record.get("clean_accuracy")),
                       *((f"robust_accuracy[{i}]", a) for i, a in enumerate(robust))]:  # fmt: skip
        if not _is_number(value) or not 0.0 <= value <= 1.0:
            raise DataError(f"{path}: {key}: expected an accuracy in [0, 1], found {value!r}")


def load_records(paths) -> pd.DataFrame:
    """One row per robustness record: model (its file, as in the evaluation records),
    recipe, net, clean and robust accuracy per budget, median minimal norms."""
    rows = []
    for path in paths:
        record = read_json_record(path, "robustness record")
        check_record(record, path)
        norms = record.get("min_norm") or {}
        rows.append(
            {
                "model": record.get("model", str(path)),
                "recipe": record.get("recipe"),
                "net": record.get("net"),
                "linf": list(record["linf"]),
                "clean_accuracy": record["clean_accuracy"],
                "robust_accuracy": list(record["robust_accuracy"]),
                "median_l2": norms.get("median_l2", float("nan")),
                "median_linf": norms.get("median_linf", float("nan")),
            }
        )
    return pd.DataFrame(rows)


def table_columns(records: pd.DataFrame) -> pd.DataFrame:
    """Per model: ``robust_<budget>`` (percent) for each budget and the median minimal
    norms in grey levels, ``min_l2`` and ``min_linf``; Table 1's added columns."""
    out = pd.DataFrame({"model": records["model"]})
    budgets = sorted({b for cols in records["linf"] for b in cols})
    for b in budgets:
        out[f"robust_{b:g}"] = [
            100.0 * dict(zip(lin, acc, strict=True)).get(b, float("nan"))
            for lin, acc in zip(records["linf"], records["robust_accuracy"], strict=True)
        ]
    out["min_l2"] = records["median_l2"].astype(float)
    out["min_linf"] = records["median_linf"].astype(float)
    return out
