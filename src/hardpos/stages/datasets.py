"""Dataset stages: each recipe's fine-tuning images, the PASS buckets, the held-out set."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence

import numpy as np
import pandas as pd

from hardpos.data import save_dataset
from hardpos.errors import DataError
from hardpos.io import load_images, load_table, save_table, write_json
from hardpos.recipes import Recipe, pass_buckets, recipe_mask, sample_heldout, type_names

log = logging.getLogger(__name__)


def _load_generated(images: str | os.PathLike, table: str | os.PathLike):
    adv = load_images(images)
    rows = load_table(table)
    if len(adv) != len(rows):
        raise DataError(f"{images} has {len(adv)} images but {table} has {len(rows)} rows")
    return adv.reshape(len(adv), -1, *adv.shape[-2:]), rows


def _write_subset(out: str | os.PathLike, adv: np.ndarray, rows: pd.DataFrame, summary: dict):
    """Save the chosen images with their true labels, and a JSON summary beside them."""
    save_dataset(out, adv[:, 0] if adv.shape[1] == 1 else adv, rows["label"].to_numpy())
    counts = type_names(rows).value_counts().sort_index() if len(rows) else pd.Series(dtype=int)
    summary = {
        **summary,
        "images": int(len(rows)),
        "by_type": {k: int(v) for k, v in counts.items()},
    }
    if len(rows) and "pass" in rows:
        summary["pass_median"] = float(rows["pass"].median())
    write_json(str(out) + ".json", summary)


def build_trainset(
    *,
    recipe: Recipe,
    net: int | str,
    images: str | os.PathLike | None,
    table: str | os.PathLike | None,
    out: str | os.PathLike,
) -> None:
    """The recipe's images from this net's generated (and PASS-scored) training-split set."""
    if not recipe.adversarial:
        adv, rows = np.zeros((0, 1, 28, 28), np.uint8), pd.DataFrame({"label": []}, dtype=int)
    else:
        adv, rows = _load_generated(images, table)
        keep = recipe_mask(recipe, rows).to_numpy()
        adv, rows = adv[keep], rows[keep]
    log.info("recipe %s on net %s: %d images", recipe.name, net, len(rows))
    _write_subset(out, adv, rows, {"recipe": recipe.name, "net": net, "tau": recipe.tau})


def build_buckets(
    *,
    net: int,
    images: str | os.PathLike,
    table: str | os.PathLike,
    method: str,
    k: int,
    factors: Sequence[float],
    edges: list[float],
    per_bucket: int | None,
    seed: int,
    outs: dict[str, str | os.PathLike],
) -> None:
    """One training set per PASS range, equal in size (Figure 6)."""
    adv, rows = _load_generated(images, table)
    buckets = pass_buckets(
        rows, method=method, k=k, factors=factors, edges=edges, per_bucket=per_bucket, seed=seed
    )
    for name, chosen in buckets.items():
        log.info("bucket %s on net %d: %d images", name, net, len(chosen))
        _write_subset(outs[name], adv[chosen], rows.iloc[chosen], {"recipe": name, "net": net})


def build_heldout(
    *,
    generated: dict[int, list[tuple[str, str]]],
    types: Sequence[str],
    per_type: int,
    seed: int,
    out_set: str | os.PathLike,
    out_table: str | os.PathLike,
) -> None:
    """Sample the held-out set: ``per_type`` adversarials of each type over all base nets.

    ``generated`` maps a base net to its (images, table) pairs on the test split.
    """
    arrays, tables = {}, {}
    for net, pairs in generated.items():
        loaded = [_load_generated(images, table) for images, table in pairs]
        arrays[net] = np.concatenate([a for a, _ in loaded])
        table = pd.concat([t for _, t in loaded], ignore_index=True)
        table["row"] = np.arange(len(table))
        tables[net] = table
    chosen = sample_heldout(tables, types=types, per_type=per_type, seed=seed)
    images = np.stack(
        [arrays[net][row] for net, row in zip(chosen["net"], chosen["row"], strict=True)]
    )
    save_dataset(
        out_set, images[:, 0] if images.shape[1] == 1 else images, chosen["label"].to_numpy()
    )
    save_table(out_table, chosen.drop(columns=["row"]))
    counts = chosen["type"].value_counts()
    log.info(
        "held-out set: %d images; %s", len(chosen), ", ".join(f"{t} {counts[t]}" for t in types)
    )
