"""ImageNet stages (section 5.3, Figure 3): index the ImageFolder tree, load the networks,
pick the correctly classified crops to attack, fine-tune, evaluate top-1/top-5, report.

Generation and PASS scoring use the same stages as MNIST
(:mod:`hardpos.stages.generation`); fine-tuning and evaluation are reached through
:func:`hardpos.stages.training.train_net` and
:func:`hardpos.stages.evaluation.evaluate_model`, which hand an image index over to the
functions here.
"""

from __future__ import annotations

import colorsys
import json
import logging
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from hardpos.data import load_dataset
from hardpos.device import describe, pick_device
from hardpos.errors import DataError
from hardpos.imagefiles import ImageStack, image_writer
from hardpos.imagenet.data import CropDataset, class_names, load_crops, scan_split
from hardpos.imagenet.models import (
    ImageNetClassifier,
    load_classifier,
    save_classifier,
)
from hardpos.imagenet.train import FinetuneSolver, finetune, iter_correct, topk_errors
from hardpos.io import atomic_path, load_table, save_table, write_json
from hardpos.models import load_model

log = logging.getLogger(__name__)


def make_synthetic_imagenet(
    out: str | os.PathLike,
    *,
    classes: int,
    train_per_class: int,
    val_per_class: int,
    size: Sequence[int] = (72, 120),
    seed: int = 0,
) -> None:
    """A tiny ImageFolder tree ``out/{train,val}/classNN/*.jpg`` for smoke runs and tests.

    Class ``c`` is a striped pattern of its own hue and stripe angle, with random phase,
    contrast, noise and size (width and height drawn from ``size``), saved as JPEG.
    """
    from PIL import Image

    rng = np.random.default_rng(seed)
    root = Path(out)
    for split, count in (("train", train_per_class), ("val", val_per_class)):
        for c in range(classes):
            folder = root / split / f"class{c:02d}"
            folder.mkdir(parents=True, exist_ok=True)
            hue = np.array(colorsys.hsv_to_rgb(c / classes, 0.7, 0.8))
            angle = np.pi * c / classes
            for i in range(count):
                h, w = (int(v) for v in rng.integers(size[0], size[1] + 1, size=2))
                yy, xx = np.mgrid[0:h, 0:w]
                wave = np.sin((np.cos(angle) * xx + np.sin(angle) * yy) / 3 + rng.uniform(0, 6))
                shade = 0.5 + rng.uniform(0.2, 0.45) * wave
                pixels = 255 * hue[None, None] * shade[..., None] + rng.normal(0, 12, (h, w, 3))
                image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
                image.save(folder / f"{split}_{c:02d}_{i:03d}.jpg", quality=92)
    log.info("synthetic ImageFolder in %s: %d classes", root, classes)


def index_split(
    imagenet_dir: str | os.PathLike, split: str, *, resize: int, crop: int, out: str
) -> None:
    """Check one split of the ImageFolder tree and write its index (no pixels)."""
    index = scan_split(imagenet_dir, split, resize=resize, crop=crop)
    log.info("%s/%s: %d images of %d classes", imagenet_dir, split, len(index),
             index["label"].nunique())  # fmt: skip
    save_table(out, index)


def _index(path: str | os.PathLike) -> pd.DataFrame:
    index = load_table(path)
    if not len(index):
        raise DataError(f"{path}: the image index is empty")
    return index


def random_weights(
    *,
    arch: str,
    train_index: str | os.PathLike,
    out: str | os.PathLike,
    seed: int = 0,
    fit_images: int | None = None,
    device: str = "auto",
) -> None:
    """Randomly initialised weights in torchvision's format, for smoke runs and tests.

    Everything below the last layer keeps torchvision's random initialisation, with the
    batch-norm statistics set to those of the (first ``fit_images``) training crops (so
    activations keep their scale through the depth, as in a trained network); the last
    layer (``fc``) is then fitted by ridge regression to the crops' features, so the
    network classifies many crops of every class correctly, the attacks have sources in
    every class and fine-tuning has gradients of a sensible size.
    """
    dev = pick_device(device)
    index = _index(train_index)
    torch.manual_seed(seed)
    model = ImageNetClassifier(arch, int(index["label"].max()) + 1).to(dev).eval()
    rows = None if fit_images is None else range(min(fit_images, len(index)))
    images, labels = load_crops(index, rows)
    batchnorms = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    for layer in batchnorms:
        layer.reset_running_stats()
        layer.momentum = None  # a cumulative average over all batches
    model.train()
    with torch.no_grad():
        for begin in range(0, len(images), 32):
            model.logits(torch.from_numpy(images[begin : begin + 32]).to(dev).float())
    model.eval()
    for layer in batchnorms:
        layer.momentum = 0.1
    captured: list[torch.Tensor] = []
    hook = model.net.fc.register_forward_pre_hook(lambda _m, args: captured.append(args[0]))
    with torch.no_grad():
        for begin in range(0, len(images), 32):
            model.logits(torch.from_numpy(images[begin : begin + 32]).to(dev).float())
    hook.remove()
    features = torch.cat(captured).double().cpu()
    features = torch.cat([features, torch.ones(len(features), 1, dtype=torch.float64)], dim=1)
    n_classes = model.num_classes
    targets = 10.0 * (
        torch.nn.functional.one_hot(torch.as_tensor(labels), n_classes) - 1 / n_classes
    )
    gram = features.T @ features
    ridge = 1e-3 * gram.diagonal().mean() * torch.eye(len(gram), dtype=torch.float64)
    weights = torch.linalg.solve(gram + ridge, features.T @ targets.double())
    with torch.no_grad():
        model.net.fc.weight.copy_(weights[:-1].T.float())
        model.net.fc.bias.copy_(weights[-1].float())
        predicted = model.logits(torch.from_numpy(images).to(dev).float()).argmax(1).cpu()
    accuracy = float((predicted.numpy() == labels).mean())
    log.info("%s: random weights, fc fitted on %d crops: training accuracy %.3f",
             arch, len(labels), accuracy)  # fmt: skip
    with atomic_path(out) as tmp:
        torch.save(model.net.state_dict(), tmp)


def import_model(
    *,
    arch: str,
    weights: str,
    train_index: str | os.PathLike,
    out: str | os.PathLike,
) -> None:
    """Load ``weights`` (a torchvision state_dict file or ``torchvision``), check them against
    the data's classes and save them as the workflow's base model with a sidecar."""
    index = _index(train_index)
    names = class_names(index)
    model = load_classifier(arch, weights, num_classes=len(names))
    log.info("%s: %d classes from %s", arch, model.num_classes, weights)
    save_classifier(out, model, {"weights": str(weights), "classes": names})


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
    table = _index(index)
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
    index = _index(train_index)
    crop = CropDataset(index).crop
    # the added images stay in their files (memory-mapped), read per batch
    images = ImageStack(added, shape=(3, crop, crop))
    labels = np.concatenate([np.zeros(0, np.int64)] + [load_dataset(p)[1] for p in added])
    if len(labels) != len(images):
        raise DataError(f"{list(added)}: {len(images)} images but {len(labels)} labels")
    log.info("fine-tuning on %d crops plus %d added images", len(index), len(images))
    model = load_model(init, dev)
    fields = FinetuneSolver.__dataclass_fields__
    model = finetune(
        model, index, images, labels, seed=seed, iterations=iterations,
        solver=FinetuneSolver(**{k: v for k, v in solver.items() if k in fields}),
        checkpoint=checkpoint, checkpoint_every=checkpoint_every,
        extra_fraction=extra_fraction, workers=workers, device=dev,
        progress=lambda it, loss, lr: log.info("iteration %d loss %.4f lr %.6f", it, loss, lr),
    )  # fmt: skip
    side = Path(str(init) + ".json")
    base = json.loads(side.read_text()) if side.is_file() else {}
    info = {"seed": seed, "iterations": iterations, "train_images": int(len(images))}
    save_classifier(out_model, model.cpu(), {**base, **info, "init": str(init), **(meta or {})})
    with atomic_path(out_solver) as tmp:
        shutil.copyfile(checkpoint, tmp)


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
    errors = topk_errors(load_model(model, dev), _index(index), batch_size=batch_size,
                         workers=workers, device=dev)  # fmt: skip
    side = Path(str(model) + ".json")
    added = json.loads(side.read_text()).get("train_images", 0) if side.is_file() else 0
    log.info("%s: top-1 error %.4f, top-5 error %.4f on %d crops",
             model, errors["top1"], errors["top5"], errors["n"])  # fmt: skip
    write_json(out, {"model": str(model), **(meta or {}), "train_images": added, **errors})


def write_imagenet_table(
    *, evaluations: Sequence[str | os.PathLike], out_csv: str, out_md: str
) -> None:
    """The section 5.3 table: top-1/top-5 error per network and the change per added image."""
    from hardpos.imagenet.report import section53_table, write_section53

    records = [json.loads(Path(path).read_text()) for path in evaluations]
    write_section53(section53_table(records), out_csv, out_md)


def write_figure3(
    *,
    generated: dict[str, list[tuple[str, str]]],
    datasets: dict[str, str],
    types: Sequence[str],
    out_png: str,
    out_pdf: str,
) -> None:
    """Figure 3: one crop per network with its FGS, FGV, HC-1 and HC-13 adversarials."""
    from hardpos.imagenet.report import figure3, pick_gallery_image

    panels = []
    for net, pairs in generated.items():
        images = ImageStack([path for path, _ in pairs])  # memory-mapped, not concatenated
        table = pd.concat([load_table(path) for _, path in pairs], ignore_index=True)
        originals, _ = load_dataset(datasets[net])
        panels.append({"net": net, **pick_gallery_image(table, images, originals, types=types)})
    figure3(panels, out_png=out_png, out_pdf=out_pdf)
