"""Generation stages: a base net's adversarials of one method family, then their PASS."""

from __future__ import annotations

import logging
import os

import numpy as np

from hardpos.device import describe, pick_device
from hardpos.experiments.models import load_model
from hardpos.experiments.recipes import method_argument
from hardpos.files.atomic import write_json
from hardpos.files.datasets import load_dataset
from hardpos.files.images import image_writer, load_images
from hardpos.files.parquet import load_table, save_table
from hardpos.imagenet.folders import CropDataset, read_index
from hardpos.metrics.classification import iter_correct

log = logging.getLogger(__name__)


def generate_adversarials(
    *,
    model: str | os.PathLike,
    dataset: str | os.PathLike,
    family: str,
    k: int,
    factors: list[float],
    limit: int | None,
    net: int | str,
    out_images: str | os.PathLike,
    out_table: str | os.PathLike,
    batch_size: int,
    max_scale: float | None = None,
    device: str = "auto",
) -> None:
    """Minimal adversarials and hard positives of ``family`` (ranks 1..k) for one base net.

    ``limit`` keeps the first images of the split (smaller runs). The table's ``source``
    indexes the split, ``net`` names the base net. The split is memory-mapped and the
    images are written as they are made, ``batch_size`` (image, direction) pairs at a
    time, so memory does not grow with the split.
    """
    from hardpos.attacks import generate_to_files

    dev = pick_device(device)
    log.info("device: %s", describe(dev))
    images, labels = load_dataset(dataset)
    if limit is not None:
        images, labels = images[:limit], labels[:limit]
    options = {} if max_scale is None else {"max_scale": max_scale}
    table = generate_to_files(
        load_model(model, dev),
        images,
        labels,
        methods=[method_argument(family, k)],
        factors=factors,
        out_images=out_images,
        out_table=out_table,
        device=dev,
        batch_size=batch_size,
        columns={"net": net},
        **options,
    )
    log.info(
        "%s on net %s: %d images, %d rows, %d successful",
        family,
        net,
        len(images),
        len(table),
        table["success"].astype(bool).sum(),
    )


def score_pass(
    *,
    images: str | os.PathLike,
    table: str | os.PathLike,
    dataset: str | os.PathLike,
    out_table: str | os.PathLike,
    backend: str,
    batch_size: int,
    device: str = "auto",
) -> None:
    """Add the PASS score (and whether ECC converged) to each row of a generated table.

    The images and the split are memory-mapped and scored ``batch_size`` pairs at a time."""
    from hardpos.pass_score import score_generated

    originals, _ = load_dataset(dataset)
    scored = score_generated(
        load_images(images),
        originals,
        load_table(table),
        backend=backend,
        batch_size=batch_size,
        device=pick_device(device),
    )
    log.info("PASS: median %.4f over %d images", scored["pass"].median(), len(scored))
    save_table(out_table, scored)


def select_images(
    *,
    model: str | os.PathLike,
    index: str | os.PathLike,
    per_class: int,
    out: str | os.PathLike,
    batch_size: int = 100,
    workers: int = 0,
    device: str = "auto",
) -> None:
    """The first ``per_class`` correctly classified crops of every class (15 in the paper)
    as the dataset the attacks start from; ``out.json`` records their index rows."""
    dev = pick_device(device)
    log.info("device: %s", describe(dev))
    table = read_index(index)
    crop = CropDataset(table).crop
    selected = iter_correct(
        load_model(model, dev), table, per_class=per_class, batch_size=batch_size,
        workers=workers, device=dev,
    )  # fmt: skip
    rows, classes = [], set()
    with image_writer(out, (3, crop, crop), labels=True) as writer:  # one batch in memory
        for images, labels, index_rows in selected:
            writer.append(images, labels)
            rows.append(index_rows)
            classes.update(labels.tolist())
    log.info("%d correctly classified crops of %d classes (asked %d per class)",
             writer.count, len(classes), per_class)  # fmt: skip
    rows = np.concatenate([np.zeros(0, np.int64), *rows])
    write_json(str(out) + ".json", {"rows": rows.tolist(), "per_class": per_class})
