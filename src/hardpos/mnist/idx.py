"""MNIST from its four IDX files, checked, as uint8 images and int64 labels.

Images stay uint8 in [0, 255] everywhere outside a model; the model scales its own input.
"""

from __future__ import annotations

import gzip
import os
import zlib
from pathlib import Path

import numpy as np

from hardpos.errors import DataError

MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


MNIST_COUNTS = {"train": 60000, "test": 10000}
MNIST_CLASSES = 10


def read_idx(path: str | os.PathLike, *, ndim: int) -> np.ndarray:
    """Read one IDX file of unsigned bytes (gzip or raw) with ``ndim`` dimensions.

    Checks the magic number, the dimension count and that the payload holds exactly the
    number of bytes the header promises; each failure names the file.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:  # zlib.error: damaged deflate data
            raise DataError(f"{path}: corrupt or truncated gzip stream ({exc})") from None
    if len(raw) < 4 + 4 * ndim:
        raise DataError(f"{path}: truncated IDX header ({len(raw)} bytes)")
    magic = int.from_bytes(raw[:4], "big")
    expected_magic = 0x00000800 | ndim
    if magic != expected_magic:
        raise DataError(
            f"{path}: bad IDX magic number 0x{magic:08x}, expected 0x{expected_magic:08x} "
            f"(unsigned bytes, {ndim} dimensions)"
        )
    dims = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    payload = raw[4 + 4 * ndim :]
    expected = int(np.prod(dims))
    if len(payload) != expected:
        what = "truncated" if len(payload) < expected else "has trailing bytes"
        raise DataError(
            f"{path}: {what}: header promises {'x'.join(map(str, dims))} = {expected} bytes, "
            f"file holds {len(payload)}"
        )
    return np.frombuffer(payload, dtype=np.uint8).reshape(dims)


def _find(root: Path, stem: str) -> Path | None:
    """The IDX file ``stem`` under ``root`` (gzip preferred), also in torchvision's layout."""
    for folder in (root, root / "MNIST" / "raw"):
        for name in (stem + ".gz", stem):
            if (folder / name).is_file():
                return folder / name
    return None


def _download(root: Path) -> None:
    """Fetch MNIST through torchvision into ``root/MNIST/raw``."""
    from torchvision.datasets import MNIST

    try:
        for train in (True, False):
            MNIST(str(root), train=train, download=True)
    except Exception as exc:  # network errors come in many types
        raise DataError(f"could not download MNIST into {root}: {exc}") from None


def load_mnist(
    root: str | os.PathLike,
    split: str = "train",
    *,
    download: bool = False,
    download_hint: str = "pass download=True",
) -> tuple[np.ndarray, np.ndarray]:
    """Load an MNIST split as ``(images, labels)``.

    ``images`` is uint8 ``[N, 28, 28]``, ``labels`` int64 ``[N]`` with values 0..9.
    ``root`` holds the four IDX files (gzip or raw). When they are absent and
    ``download`` is true they are fetched through torchvision; otherwise the error says
    where to put them, or ``download_hint``: how the caller asks for the download (the
    workflow's config key, the command line's option).
    """
    if split not in MNIST_FILES:
        raise DataError(f"unknown MNIST split {split!r}: expected 'train' or 'test'")
    root = Path(root)
    image_stem, label_stem = MNIST_FILES[split]
    paths = [_find(root, image_stem), _find(root, label_stem)]
    if None in paths and download:
        _download(root)
        paths = [_find(root, image_stem), _find(root, label_stem)]
    if None in paths:
        missing = image_stem if paths[0] is None else label_stem
        raise DataError(
            f"MNIST file {missing}(.gz) not found in {root}: put the four IDX files "
            "(train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, "
            f"t10k-labels-idx1-ubyte.gz) there, or {download_hint} to fetch them"
        )
    images = read_idx(paths[0], ndim=3)
    labels = read_idx(paths[1], ndim=1)
    if images.shape[1:] != (28, 28):
        raise DataError(f"{paths[0]}: images are {images.shape[1:]}, expected 28x28")
    if len(images) != len(labels):
        raise DataError(
            f"{paths[0]} has {len(images)} images but {paths[1]} has {len(labels)} labels"
        )
    if labels.size and labels.max() > 9:
        raise DataError(f"{paths[1]}: label {int(labels.max())} outside 0..9")
    return images.copy(), labels.astype(np.int64)


def write_idx(path: str | os.PathLike, array: np.ndarray, *, compress: bool = True) -> None:
    """Write a uint8 array as an IDX file; used to make small test data and subsets."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = (0x00000800 | array.ndim).to_bytes(4, "big")
    header += b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    blob = header + array.tobytes()
    Path(path).write_bytes(gzip.compress(blob) if compress else blob)
