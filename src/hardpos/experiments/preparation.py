"""Data stages: the checked MNIST splits and the InfiMNIST-style set."""

from __future__ import annotations

import logging
import os

from hardpos.device import pick_device
from hardpos.files.datasets import save_dataset
from hardpos.files.parquet import save_table
from hardpos.files.weights import save_weights
from hardpos.imagenet.classifiers import load_classifier, save_classifier
from hardpos.imagenet.folders import class_names, load_crops, read_index, scan_split
from hardpos.imagenet.random_weights import random_classifier
from hardpos.mnist.idx import load_mnist

log = logging.getLogger(__name__)


def prepare_mnist(mnist_dir: str, split: str, *, download: bool, out: str | os.PathLike) -> None:
    """Read and check one MNIST split and save it as one .npz for the rest of the workflow."""
    images, labels = load_mnist(
        mnist_dir, split, download=download, download_hint="set the config key download: true"
    )
    log.info("MNIST %s: %d images from %s", split, len(images), mnist_dir)
    save_dataset(out, images, labels)


def index_split(
    imagenet_dir: str | os.PathLike, split: str, *, resize: int, crop: int, out: str
) -> None:
    """Check one split of the ImageFolder tree and write its index (no pixels)."""
    index = scan_split(imagenet_dir, split, resize=resize, crop=crop)
    log.info("%s/%s: %d images of %d classes", imagenet_dir, split, len(index),
             index["label"].nunique())  # fmt: skip
    save_table(out, index)


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

    The weights are :func:`hardpos.imagenet.random_weights.random_classifier`'s, fitted on
    the first ``fit_images`` training crops (all when None).
    """
    dev = pick_device(device)
    index = read_index(train_index)
    rows = None if fit_images is None else range(min(fit_images, len(index)))
    images, labels = load_crops(index, rows)
    model, accuracy = random_classifier(
        arch, images, labels, num_classes=int(index["label"].max()) + 1, seed=seed, device=dev
    )
    log.info("%s: random weights, fc fitted on %d crops: training accuracy %.3f",
             arch, len(labels), accuracy)  # fmt: skip
    save_weights(model.net.state_dict(), out)


def import_model(
    *,
    arch: str,
    weights: str,
    train_index: str | os.PathLike,
    out: str | os.PathLike,
) -> None:
    """Load ``weights`` (a torchvision state_dict file or ``torchvision``), check them against
    the data's classes and save them as the workflow's base model with a sidecar."""
    index = read_index(train_index)
    names = class_names(index)
    model = load_classifier(arch, weights, num_classes=len(names))
    log.info("%s: %d classes from %s", arch, model.num_classes, weights)
    save_classifier(out, model, {"weights": str(weights), "classes": names})
