"""Dataset files: images (uint8) and labels together in one .npz, memory-mappable."""

from __future__ import annotations

import os

import numpy as np

from hardpos.errors import DataError
from hardpos.files.images import image_writer, load_array


def save_dataset(path: str | os.PathLike, images: np.ndarray, labels: np.ndarray) -> None:
    """Save images (uint8) and labels (int64) together in one .npz, atomically; the images
    are stored uncompressed so :func:`load_dataset` can memory-map them."""
    if len(images) != len(labels):
        raise DataError(f"{path}: {len(images)} images but {len(labels)} labels")
    images = np.asarray(images, dtype=np.uint8)
    with image_writer(path, images.shape[1:], labels=True, count=len(images)) as out:
        out.append(images, labels)


def load_dataset(path: str | os.PathLike, *, mmap: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Load ``(images, labels)`` written by :func:`save_dataset` (or any .npz holding both).

    With ``mmap`` the images are memory-mapped when stored uncompressed (see
    :func:`hardpos.files.images.load_array`): only the images a caller indexes are read.
    """
    return load_array(path, "images", mmap=mmap), load_array(path, "labels", mmap=False)
