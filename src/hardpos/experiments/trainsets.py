"""Dataset stages: each recipe's fine-tuning images, the PASS buckets, the held-out set."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence

import numpy as np
import pandas as pd

from hardpos.errors import DataError
from hardpos.experiments.recipes import (
    Recipe,
    pass_buckets,
    recipe_mask,
    sample_heldout,
    type_names,
)
from hardpos.files.atomic import write_json
from hardpos.files.images import ImageStack, copy_images
from hardpos.files.parquet import load_table, save_table

log = logging.getLogger(__name__)


def _load_generated(pairs: Sequence[tuple[str | os.PathLike, str | os.PathLike]]):
    """Generated (images, table) files as one memory-mapped :class:`ImageStack` and one
    table; each file's image count is checked against its table."""
    stack = ImageStack([images for images, _ in pairs])
    tables = []
    for (images, table), size in zip(pairs, stack.sizes, strict=True):
        rows = load_table(table)
        if len(rows) != size:
            raise DataError(f"{images} has {size} images but {table} has {len(rows)} rows")
        tables.append(rows)
    return stack, pd.concat(tables, ignore_index=True)


def _dataset_shape(item: tuple[int, ...]) -> tuple[int, ...]:
    """How a dataset file stores images of ``item`` = (C, H, W): greyscale as (H, W), the
    layout of the MNIST splits that training reads beside it."""
    return item[1:] if item[0] == 1 else item


def _write_subset(
    out: str | os.PathLike, adv: ImageStack | None, chosen: np.ndarray, rows: pd.DataFrame,
    summary: dict,
) -> None:  # fmt: skip
    """Save the chosen images with their true labels (a bounded chunk at a time; greyscale
    as ``[N, H, W]``), and a JSON summary beside them."""
    item = (1, 28, 28) if adv is None else adv.shape[1:]
    copy_images(out, adv, chosen, rows["label"].to_numpy(), shape=_dataset_shape(item))
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
        adv, rows = None, pd.DataFrame({"label": []}, dtype=int)
        chosen = np.zeros(0, np.int64)
    else:
        adv, rows = _load_generated([(images, table)])
        chosen = np.flatnonzero(recipe_mask(recipe, rows).to_numpy())
        rows = rows.iloc[chosen]
    log.info("recipe %s on net %s: %d images", recipe.name, net, len(rows))
    _write_subset(out, adv, chosen, rows, {"recipe": recipe.name, "net": net, "tau": recipe.tau})


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
    allow_fewer: bool = False,
) -> None:
    """One training set per PASS range, equal in size (Figure 6).

    A bucket that holds fewer than ``per_bucket`` images fails the stage, naming both
    numbers, unless ``allow_fewer`` (then all buckets get the smallest one's count); the
    count used and the one asked go into each set's JSON summary either way. An empty
    bucket always fails: a fine-tuning on no added images is not the recipe."""
    adv, rows = _load_generated([(images, table)])
    buckets = pass_buckets(
        rows, method=method, k=k, factors=factors, edges=edges, per_bucket=per_bucket, seed=seed
    )
    count = min(len(chosen) for chosen in buckets.values())
    if count == 0:
        empty = [name for name, chosen in buckets.items() if len(chosen) == 0]
        message = _bucket_shortfall(table, net, per_bucket, count, edges)
        raise DataError(f"{message}; empty: {', '.join(empty)}")
    if per_bucket is not None and count < per_bucket and not allow_fewer:
        raise DataError(
            _bucket_shortfall(table, net, per_bucket, count, edges)
            + "; lower buckets.per_bucket, or set buckets.allow_fewer: true"
        )
    for name, chosen in buckets.items():
        log.info("bucket %s on net %d: %d images", name, net, len(chosen))
        summary = {"recipe": name, "net": net, "requested": per_bucket}
        _write_subset(outs[name], adv, chosen, rows.iloc[chosen], summary)


def _bucket_shortfall(table, net: int, per_bucket: int | None, count: int, edges) -> str:
    asked = "as many as the smallest holds" if per_bucket is None else f"{per_bucket} asked"
    return (
        f"{table}: PASS buckets of net {net} ({asked} per bucket): the fullest possible "
        f"equal split is {count} per bucket (edges {list(edges)})"
    )


def build_heldout(
    *,
    generated: dict[int, list[tuple[str, str]]],
    types: Sequence[str],
    per_type: int,
    seed: int,
    out_set: str | os.PathLike,
    out_table: str | os.PathLike,
    allow_fewer: bool = False,
) -> None:
    """Sample the held-out set: ``per_type`` adversarials of each type over all base nets.

    ``generated`` maps a base net to its (images, table) pairs on the test split. A type
    with fewer successful adversarials than ``per_type`` fails the stage, naming both
    numbers, unless ``allow_fewer``; the counts asked and used go into a JSON summary
    beside the set (``out_set`` + ``.json``) either way, and the table has a row per image.
    """
    tables, stacks = {}, []
    for net, pairs in generated.items():
        stack, table = _load_generated(pairs)
        # "row" locates an image in the stack of all nets' files, in this order
        table["row"] = sum(len(other) for other in stacks) + np.arange(len(table))
        tables[net] = table
        stacks.append(stack)
    chosen = sample_heldout(tables, types=types, per_type=per_type, seed=seed)
    counts = chosen["type"].value_counts()
    short = {t: int(counts.get(t, 0)) for t in types if counts.get(t, 0) < per_type}
    if short and not allow_fewer:
        listed = ", ".join(f"{t} {n}" for t, n in short.items())
        raise DataError(
            f"held-out set: heldout.per_type is {per_type} but the base nets' test-split "
            f"adversarials supply fewer of {len(short)} type(s): {listed}; lower "
            "heldout.per_type, attack more test images (attack.test_images), or set "
            "heldout.allow_fewer: true"
        )
    images = ImageStack([path for stack in stacks for path in stack.paths])
    copy_images(out_set, images, chosen["row"].to_numpy(), chosen["label"].to_numpy(),
                shape=_dataset_shape(images.shape[1:]))  # fmt: skip
    save_table(out_table, chosen.drop(columns=["row"]))
    summary = {
        "images": int(len(chosen)),
        "per_type_requested": int(per_type),
        "allow_fewer": bool(allow_fewer),
        "by_type": {t: int(counts.get(t, 0)) for t in types},
        "short": short,
    }
    write_json(str(out_set) + ".json", summary)
    log.info(
        "held-out set: %d images; %s", len(chosen), ", ".join(f"{t} {counts[t]}" for t in types)
    )
