"""Data stages: the checked MNIST splits and the InfiMNIST-style set."""

from __future__ import annotations

import logging
import os

from hardpos.data import load_mnist, save_dataset

log = logging.getLogger(__name__)


def prepare_mnist(mnist_dir: str, split: str, *, download: bool, out: str | os.PathLike) -> None:
    """Read and check one MNIST split and save it as one .npz for the rest of the workflow."""
    images, labels = load_mnist(mnist_dir, split, download=download)
    log.info("MNIST %s: %d images from %s", split, len(images), mnist_dir)
    save_dataset(out, images, labels)
