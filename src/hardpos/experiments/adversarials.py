"""Generation stages: a base net's adversarials of one method family, then their PASS."""

from __future__ import annotations

import logging
import numbers
import os

import numpy as np

from hardpos.attacks import generate_to_files
from hardpos.device import describe, pick_device
from hardpos.errors import InputError
from hardpos.experiments.models import load_model
from hardpos.experiments.recipes import method_argument
from hardpos.files.atomic import write_json
from hardpos.files.datasets import load_dataset
from hardpos.files.images import image_writer, load_images
from hardpos.files.parquet import load_table, save_table
from hardpos.imagenet.folders import CropDataset, read_index
from hardpos.metrics.classification import iter_correct, predict

log = logging.getLogger(__name__)


def draw_sources(
    correct: np.ndarray, count: int | float, *, seed: int, key: str = "attack.train_images"
) -> np.ndarray:
    """Sorted indices of the images to attack: ``count`` of the correctly classified ones.

    ``count`` is a number of images (an int, e.g. the paper's 37,663 FGV sources) or a
    share of the correctly classified ones (a float in (0, 1]). The draw walks one
    permutation of the whole split made with ``seed`` and keeps the first ``count`` images
    that ``correct`` marks, so base nets that classify an image alike agree on drawing it
    and only misclassified images (which are never attacked) change the draw.
    """
    correct = np.asarray(correct, dtype=bool)
    available = int(correct.sum())
    is_count = isinstance(count, numbers.Integral) and not isinstance(count, bool)
    is_share = (
        isinstance(count, numbers.Real)
        and not isinstance(count, bool | numbers.Integral)
        and 0 < float(count) <= 1
    )
    if is_count and count < 1:
        raise InputError(f"{key}: {count} must be at least 1 (or null: all images)")
    if not (is_count or is_share):
        raise InputError(
            f"{key}: {count!r} is neither a count of images (an integer >= 1) nor a share in (0, 1]"
        )
    wanted = int(count) if is_count else int(round(float(count) * available))
    if wanted > available:
        raise InputError(
            f"{key}: {wanted} images asked for but only {available} of {len(correct)} are "
            "classified correctly (only those are attacked)"
        )
    order = np.random.default_rng(seed).permutation(len(correct))
    return np.sort(order[correct[order]][:wanted])


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
    draw: dict | None = None,
) -> None:
    """Minimal adversarials and hard positives of ``family`` (ranks 1..k) for one base net.

    ``limit`` keeps the first images of the split (smaller runs); ``draw``
    (``{"count": N or share, "seed": s}``, the config's ``attack.train_images`` and
    ``attack.seed``) attacks a seeded draw of the correctly classified images instead
    (:func:`draw_sources`). The table's ``source`` indexes the split, ``net`` names the
    base net. The split is memory-mapped and the images are written as they are made,
    ``batch_size`` (image, direction) pairs at a time, so memory does not grow with it.
    """
    dev = pick_device(device)
    log.info("device: %s", describe(dev))
    images, labels = load_dataset(dataset)
    if limit is not None:
        images, labels = images[:limit], labels[:limit]
    network = load_model(model, dev)
    chosen = None
    if draw is not None and draw.get("count") is not None:
        correct = predict(network, images, device=dev) == labels
        chosen = draw_sources(correct, draw["count"], seed=int(draw["seed"]))
        log.info("attacking %d of %d images (seed %s)", len(chosen), len(images), draw["seed"])
        images, labels = images[chosen], labels[chosen]
    options = {} if max_scale is None else {"max_scale": max_scale}
    table = generate_to_files(
        network,
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
    if chosen is not None:  # ``source`` indexes the split, not the drawn subset
        table["source"] = chosen[table["source"].to_numpy()]
        save_table(out_table, table)
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
    from hardpos.similarity import score_generated

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
