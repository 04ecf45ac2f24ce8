"""Image and dataset files that never need to fit in memory.

They are .npz archives (``np.load(path)["images"]`` reads them) whose ``images`` member is
stored uncompressed: :func:`image_writer` writes them a chunk at a time (atomically, via
:func:`hardpos.files.atomic.atomic_path`) and :func:`load_images` memory-maps them, so no stage
holds a whole set of images (GoogLeNet's 300K hard-positive crops are 45 GB).
:class:`ImageStack` reads several such files as one array.
"""

from __future__ import annotations

import contextlib
import math
import os
import struct
import tempfile
import zipfile
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

import numpy as np

from hardpos.errors import DataError, InputError
from hardpos.files.atomic import atomic_path
from hardpos.files.checksums import member_data_offset, trust, verified, verify_zip

# Image files: a zip (.npz) whose ``images.npy`` member is stored uncompressed, so that it
# can be memory-mapped and written a chunk at a time; np.load reads it as any .npz.
IMAGES = "images"
LABELS = "labels"
# images copied at a time by copy_images (bounds the memory of the trainset stages)
COPY_CHUNK_BYTES = 64 << 20
_COPY_BUFFER = 1 << 20
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # fixed, so equal arrays give byte-identical files


class ImageWriter:
    """Appends uint8 image chunks ``[n, *shape]`` (and their labels) to the file that
    :func:`image_writer` is building; ``count`` is the number of images so far."""

    def __init__(self, sink: BinaryIO, shape: tuple[int, ...], *, labels: bool, limit: int | None):
        self.shape, self.count = shape, 0
        self._sink, self._limit = sink, limit
        self._labels: list[np.ndarray] | None = [] if labels else None

    def append(self, images: np.ndarray, labels: np.ndarray | None = None) -> None:
        """Write ``images`` (uint8 ``[n, *shape]``) after those already written."""
        images = np.ascontiguousarray(images)
        if images.dtype != np.uint8 or images.shape[1:] != self.shape:
            raise InputError(
                f"images to write must be uint8 [n, {', '.join(map(str, self.shape))}], "
                f"got {images.dtype} {images.shape}"
            )
        if (labels is None) != (self._labels is None):
            raise InputError("labels must be given with every chunk of a dataset, and only then")
        if labels is not None:
            labels = np.asarray(labels, dtype=np.int64).reshape(-1)
            if len(labels) != len(images):
                raise InputError(f"{len(images)} images but {len(labels)} labels")
            self._labels.append(labels)
        if self._limit is not None and self.count + len(images) > self._limit:
            raise InputError(f"more than the {self._limit} images announced")
        if images.size:
            self._sink.write(memoryview(images).cast("B"))
        self.count += len(images)

    def labels(self) -> np.ndarray | None:
        """All labels written, or None for an image file without labels."""
        if self._labels is None:
            return None
        return np.concatenate([np.zeros(0, np.int64), *self._labels])


def _open_member(archive: zipfile.ZipFile, name: str, header: dict | None = None):
    """A stored (uncompressed) member ``name.npy``; with ``header``, its .npy header written."""
    info = zipfile.ZipInfo(f"{name}.npy", date_time=_ZIP_DATE)
    info.compress_type = zipfile.ZIP_STORED
    info.external_attr = 0o644 << 16
    # numpy's savez forces zip64 too: the size is not known when the header is written
    member = archive.open(info, "w", force_zip64=True)
    if header is not None:
        np.lib.format.write_array_header_1_0(member, header)
    return member


def _npy_header(count: int, shape: tuple[int, ...]) -> dict:
    return {"descr": "|u1", "fortran_order": False, "shape": (int(count), *shape)}


@contextlib.contextmanager
def image_writer(
    path: str | os.PathLike,
    shape: Sequence[int],
    *,
    labels: bool = False,
    count: int | None = None,
) -> Iterator[ImageWriter]:
    """Write an image file (or, with ``labels``, a dataset file) a chunk at a time.

    Yields an :class:`ImageWriter`; when the block ends the file appears at ``path``
    (atomically) as an .npz with ``images`` (uint8 ``[N, *shape]``, stored uncompressed so
    :func:`load_images` can memory-map it) and ``labels`` (int64 ``[N]``). Memory stays at
    one chunk: with ``count`` (the number of images, when known in advance) the chunks go
    straight into the archive; without, into a temporary file beside ``path`` that is
    copied in when the count is known (the .npy header leads with it).
    """
    shape = tuple(int(s) for s in shape)
    with atomic_path(path) as tmp, zipfile.ZipFile(tmp, "w") as archive:
        if count is not None:
            with _open_member(archive, IMAGES, _npy_header(count, shape)) as member:
                writer = ImageWriter(member, shape, labels=labels, limit=count)
                yield writer
                if writer.count != count:
                    raise InputError(f"{path}: {writer.count} images written, {count} announced")
        else:
            with tempfile.TemporaryFile(dir=Path(path).parent) as raw:
                writer = ImageWriter(raw, shape, labels=labels, limit=None)
                yield writer
                raw.seek(0)
                with _open_member(archive, IMAGES, _npy_header(writer.count, shape)) as member:
                    _copy(raw, member)
        if labels:
            with _open_member(archive, LABELS) as member:
                np.lib.format.write_array(member, writer.labels())


def _copy(source: BinaryIO, target: BinaryIO) -> None:
    """Copy a file through one reused buffer (shutil's copy allocates one per read)."""
    buffer = memoryview(bytearray(_COPY_BUFFER))
    while size := source.readinto(buffer):
        target.write(buffer[:size])


def save_images(path: str | os.PathLike, images: np.ndarray) -> None:
    """Save a uint8 image array ``[N, C, H, W]`` as ``images`` inside an .npz, atomically."""
    images = np.asarray(images, dtype=np.uint8)
    with image_writer(path, images.shape[1:], count=len(images)) as out:
        out.append(images)


def _stored_member(path: str | os.PathLike, name: str) -> tuple[int, tuple, np.dtype] | None:
    """(data offset, shape, dtype) of the .npy member ``name`` when it is stored
    uncompressed in C order, else None (compressed files are read instead)."""
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(f"{name}.npy")
    if info.compress_type != zipfile.ZIP_STORED or info.flag_bits & 0x1:  # 0x1: encrypted
        return None
    start = member_data_offset(path, info)
    with open(path, "rb") as handle:
        handle.seek(start)
        version = np.lib.format.read_magic(handle)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(handle)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(handle)
        else:
            return None
        offset = handle.tell()
    if fortran or dtype.hasobject:
        return None
    return offset, shape, dtype


def load_array(
    path: str | os.PathLike, name: str, *, mmap: bool = True, verify: bool = True
) -> np.ndarray:
    """The array ``name`` of an .npz, memory-mapped read-only when ``mmap`` and it is
    stored uncompressed, else read into memory.

    Either way the member's bytes are checked against the zip's CRC-32 (with ``verify``;
    a memory-mapped member once per process and file, :func:`hardpos.files.checksums.verify_zip`):
    damage raises :class:`DataError` with "corrupt: checksum mismatch".
    Read-only, not copy-on-write: Linux counts a private writable mapping against its
    memory commit limit, so a copy-on-write map of a file larger than RAM is refused."""
    try:
        if verify and mmap:
            verify_zip(path, [f"{name}.npy"], kind="an array archive written by hardpos")
        stored = _stored_member(path, name) if mmap else None
        if stored is None:
            with np.load(path) as archive:
                return archive[name]
        offset, shape, dtype = stored
        if math.prod(shape) == 0:
            return np.zeros(shape, dtype)
        return np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=shape)
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except zipfile.BadZipFile as exc:
        if "CRC" in str(exc):  # zipfile's own check, on a member it read
            raise DataError(f"{path}: corrupt: checksum mismatch ({exc})") from None
        raise DataError(f"{path}: not an array archive written by hardpos ({exc})") from None
    except (KeyError, ValueError, OSError, EOFError, zlib.error, struct.error,
            NotImplementedError, RuntimeError) as exc:  # fmt: skip
        # NotImplementedError, RuntimeError: a damaged compression method or encryption flag
        raise DataError(f"{path}: not an array archive written by hardpos ({exc})") from None


def load_images(path: str | os.PathLike, *, mmap: bool = True, verify: bool = True) -> np.ndarray:
    """The ``images`` array of an image or dataset file (see :func:`load_array`)."""
    return load_array(path, IMAGES, mmap=mmap, verify=verify)


def copy_images(
    out: str | os.PathLike,
    images: np.ndarray | ImageStack,
    rows: np.ndarray,
    labels: np.ndarray,
    *,
    shape: Sequence[int],
    chunk_bytes: int | None = None,
) -> None:
    """Write ``images[rows]`` (each reshaped to ``shape``) with ``labels`` as a dataset file,
    gathering ``chunk_bytes`` (default :data:`COPY_CHUNK_BYTES`) of images at a time, so
    memory does not grow with the count."""
    rows = np.asarray(rows, dtype=np.int64).reshape(-1)
    shape = tuple(int(s) for s in shape)
    budget = COPY_CHUNK_BYTES if chunk_bytes is None else int(chunk_bytes)
    per = max(1, budget // max(1, math.prod(shape)))
    with image_writer(out, shape, labels=True, count=len(rows)) as writer:
        for begin in range(0, len(rows), per):
            part = rows[begin : begin + per]
            chunk = np.asarray(images[part]).reshape(len(part), *shape)
            writer.append(chunk, np.asarray(labels)[begin : begin + per])
            del chunk  # before the next one is gathered


class ImageStack:
    """Image files read as one array ``[N_1 + N_2 + ..., *shape]`` without concatenating
    them: each file is memory-mapped (see :func:`load_images`) and an index reads only
    the images it names. ``shape`` reshapes each file's images (``[N, 28, 28]`` as
    ``[N, 1, 28, 28]``); by default it is the first file's. Pickling (DataLoader workers
    under spawn) carries the paths, not the pixels; each process maps the files anew, trusting
    the CRC checks of the process that pickled it for files that have not changed since."""

    def __init__(self, paths: Sequence[str | os.PathLike], *, shape: Sequence[int] | None = None):
        self.paths = [str(p) for p in paths]
        self._shape = None if shape is None else tuple(int(s) for s in shape)
        self._arrays: list[np.ndarray] | None = None
        arrays = self._open()
        sizes = [len(a) for a in arrays]
        self.sizes = np.asarray(sizes, dtype=np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(sizes, dtype=np.int64)])
        if self._shape is None:
            raise InputError("an ImageStack of no files needs its image shape")
        self.shape = (int(self.offsets[-1]), *self._shape)
        self.dtype = np.dtype(np.uint8)

    def _open(self) -> list[np.ndarray]:
        if self._arrays is None:
            self._arrays = [self._as_stack(load_images(p), p) for p in self.paths]
        return self._arrays

    def _as_stack(self, images: np.ndarray, path: str) -> np.ndarray:
        if images.dtype != np.uint8:
            raise DataError(f"{path}: images are {images.dtype}, expected uint8")
        if len(images) == 0 and self._shape is not None:  # no images fit any shape
            return np.zeros((0, *self._shape), np.uint8)
        if self._shape is None:
            self._shape = tuple(images.shape[1:])
        if math.prod(images.shape[1:]) != math.prod(self._shape):
            raise DataError(f"{path}: images of shape {images.shape[1:]} do not fit {self._shape}")
        return images.reshape(len(images), *self._shape)

    def __len__(self) -> int:
        return self.shape[0]

    def __getstate__(self) -> dict:
        # the checks of this process go along: a worker does not read the files again
        checked = [record for path in self.paths for record in verified(path)]
        return {**self.__dict__, "_arrays": None, "_checked": checked}

    def __setstate__(self, state: dict) -> None:
        trust(state.pop("_checked", ()))
        self.__dict__.update(state)

    def __getitem__(self, index) -> np.ndarray:
        """One image (an int) or several (a slice or integer array), as a new array."""
        if isinstance(index, int | np.integer):
            i = int(index) + (len(self) if index < 0 else 0)
            if not 0 <= i < len(self):
                raise IndexError(f"image {index} out of range for {len(self)} images")
            part = int(np.searchsorted(self.offsets, i, side="right")) - 1
            return np.array(self._open()[part][i - self.offsets[part]])
        rows = np.arange(len(self))[index] if isinstance(index, slice) else np.asarray(index)
        if rows.dtype == bool or not np.issubdtype(rows.dtype, np.integer):
            raise IndexError(f"index images with integers or a slice, not {rows.dtype}")
        rows = np.where(rows < 0, rows + len(self), rows).reshape(-1)
        if len(rows) and (rows.min() < 0 or rows.max() >= len(self)):
            raise IndexError(f"image index out of range for {len(self)} images")
        out = np.empty((len(rows), *self.shape[1:]), dtype=np.uint8)
        parts = np.searchsorted(self.offsets, rows, side="right") - 1
        for part, array in enumerate(self._open()):
            take = np.flatnonzero(parts == part)
            if len(take) == len(rows):  # all from one file: no temporary copy
                np.take(array, rows - self.offsets[part], axis=0, out=out, mode="clip")
            elif len(take):
                out[take] = array[rows[take] - self.offsets[part]]
        return out
