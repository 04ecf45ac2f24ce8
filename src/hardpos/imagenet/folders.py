"""ImageFolder-style ImageNet trees read as center crops (the paper's section 5.3).

A split is a folder ``<root>/<split>/<class>/<image>`` (torchvision's ImageFolder layout:
classes are the sorted folder names, labels their positions). Crops are made as the
paper's pre-trained BVLC-GoogLeNet evaluation does: the shorter side resized to ``resize``
(256) with bilinear, antialiased interpolation, then the central ``crop`` x ``crop``
(224 x 224) square; images stay uint8 RGB ``[3, crop, crop]``.

The workflow keeps a split as an *index* (a Parquet table: path, label, class name,
resize, crop), not as pixels: 1.28M training crops are 190 GB, so they are decoded on the
fly by :class:`CropDataset` (with DataLoader workers) wherever they are needed.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from hardpos.errors import DataError
from hardpos.files.parquet import load_table

INDEX_COLUMNS = ("path", "label", "class_name", "resize", "crop")


def center_crop(image, *, resize: int = 256, crop: int = 224) -> np.ndarray:
    """uint8 ``[3, crop, crop]``: ``image`` (a PIL image) with its shorter side resized to
    ``resize`` (bilinear, antialiased), then its central ``crop`` x ``crop`` square.

    The crop starts at ``round((H - crop) / 2)``, ``round((W - crop) / 2)`` of the resized
    ``H x W`` image (torchvision's ``center_crop``).
    """
    from torchvision.transforms import InterpolationMode
    from torchvision.transforms import functional as F

    if crop > resize:
        raise DataError(f"crop {crop} is larger than the resized shorter side {resize}")
    image = F.resize(
        image.convert("RGB"), resize, interpolation=InterpolationMode.BILINEAR, antialias=True
    )
    image = F.center_crop(image, [crop, crop])
    return np.ascontiguousarray(np.asarray(image, dtype=np.uint8).transpose(2, 0, 1))


def scan_split(
    root: str | os.PathLike, split: str, *, resize: int = 256, crop: int = 224
) -> pd.DataFrame:
    """The index of ``<root>/<split>``: one row per image file (``INDEX_COLUMNS``).

    Classes are the sorted sub-folder names; a missing folder or a class without images
    is a :class:`~hardpos.errors.DataError` naming it.
    """
    from torchvision.datasets.folder import IMG_EXTENSIONS, find_classes, make_dataset

    folder = Path(root) / split
    if not folder.is_dir():
        raise DataError(
            f"{folder}: no such folder; imagenet_dir must hold {split}/<class>/<image> files"
        )
    try:
        classes, class_to_idx = find_classes(str(folder))
        samples = make_dataset(str(folder), class_to_idx, extensions=IMG_EXTENSIONS)
    except FileNotFoundError as exc:
        raise DataError(f"{folder}: {exc}") from None
    return pd.DataFrame(
        {
            "path": [str(Path(p).resolve()) for p, _ in samples],
            "label": np.array([label for _, label in samples], dtype=np.int64),
            "class_name": [classes[label] for _, label in samples],
            "resize": np.full(len(samples), int(resize), dtype=np.int64),
            "crop": np.full(len(samples), int(crop), dtype=np.int64),
        }
    )


def class_names(index: pd.DataFrame) -> list[str]:
    """The class names of an index, in label order."""
    names = index.drop_duplicates("label").sort_values("label")
    return names["class_name"].tolist()


class CropDataset(torch.utils.data.Dataset):
    """The crops of an index, decoded on demand: item ``i`` is (uint8 ``[3, c, c]``, label)."""

    def __init__(self, index: pd.DataFrame) -> None:
        missing = [c for c in INDEX_COLUMNS if c not in index]
        if missing:
            raise DataError(f"image index lacks columns {missing}")
        self.paths = index["path"].tolist()
        self.labels = index["label"].to_numpy(dtype=np.int64)
        self.resize = int(index["resize"].iloc[0]) if len(index) else 256
        self.crop = int(index["crop"].iloc[0]) if len(index) else 224

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        from PIL import Image, UnidentifiedImageError

        path = self.paths[i]
        try:
            with Image.open(path) as image:
                pixels = center_crop(image, resize=self.resize, crop=self.crop)
        except (OSError, UnidentifiedImageError) as exc:
            raise DataError(f"{path}: not a readable image ({exc})") from None
        return torch.from_numpy(pixels), int(self.labels[i])


def load_crops(
    index: pd.DataFrame, rows: Sequence[int] | None = None, *, workers: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """uint8 crops ``[N, 3, c, c]`` and int64 labels of ``rows`` of the index (all: None)."""
    subset = index if rows is None else index.iloc[list(rows)]
    data = CropDataset(subset)
    if len(data) == 0:
        c = data.crop
        return np.zeros((0, 3, c, c), np.uint8), np.zeros(0, np.int64)
    loader = torch.utils.data.DataLoader(data, batch_size=64, num_workers=workers)
    images, labels = zip(*loader, strict=True)
    return torch.cat(images).numpy(), torch.cat(labels).numpy()


def iterate_crops(index: pd.DataFrame, *, batch_size: int, workers: int = 0):
    """Batches ``(uint8 [B, 3, c, c] tensor, int64 [B] labels)`` of the whole index, in order."""
    return torch.utils.data.DataLoader(
        CropDataset(index), batch_size=batch_size, num_workers=workers
    )


def read_index(path: str | os.PathLike) -> pd.DataFrame:
    """An image index written by the workflow; an empty one is refused (nothing to attack)."""
    index = load_table(path)
    if not len(index):
        raise DataError(f"{path}: the image index is empty")
    return index
