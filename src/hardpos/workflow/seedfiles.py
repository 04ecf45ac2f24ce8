"""Large files kept in a repository: gzip-compressed and cut into parts of at most 20 MB.

A published run's seed holds its base nets and the held-out set (about 55 MB as the
workflow stores it, uncompressed so it can be memory-mapped). A repository host takes
files of a few tens of MB at most, so :func:`store` writes ``<name>.gz.000``,
``<name>.gz.001``, ... (gzip with no timestamp: the same file gives the same parts) and
:func:`restore` joins and decompresses them, checking the result's SHA-256.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
from pathlib import Path

from hardpos.errors import DataError

PART_BYTES = 20 * 1024 * 1024
_BUFFER = 1 << 20


def parts_of(stored: Path) -> list[Path]:
    """The parts of the stored file ``stored`` (``<name>.gz``), in order."""
    return sorted(stored.parent.glob(f"{stored.name}.[0-9][0-9][0-9]"))


def store(source: Path, stored: Path) -> list[Path]:
    """Write ``source`` as the parts of ``stored`` (``<name>.gz``); returns them."""
    stored.parent.mkdir(parents=True, exist_ok=True)
    for old in parts_of(stored):
        old.unlink()
    whole = stored.with_name(f".{stored.name}.{os.getpid()}.tmp")
    try:
        with (
            open(source, "rb") as raw,
            open(whole, "wb") as out,
            gzip.GzipFile(fileobj=out, mode="wb", compresslevel=6, mtime=0, filename="") as gz,
        ):
            shutil.copyfileobj(raw, gz, _BUFFER)
        parts = []
        with open(whole, "rb") as handle:
            index = 0
            while chunk := handle.read(PART_BYTES):
                part = stored.with_name(f"{stored.name}.{index:03d}")
                tmp = part.with_name(f".{part.name}.tmp")
                tmp.write_bytes(chunk)
                os.replace(tmp, part)
                parts.append(part)
                index += 1
    finally:
        whole.unlink(missing_ok=True)
    return parts


def restore(stored: Path, dest: Path, sha256: str | None = None) -> None:
    """Join and decompress the parts of ``stored`` into ``dest`` (atomically); with
    ``sha256``, refuse a result of another digest, naming the parts."""
    parts = parts_of(stored)
    if not parts:
        raise DataError(f"{stored}.000: missing (a stored file's first part)")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.restore-{os.getpid()}.tmp")
    digest = hashlib.sha256()
    try:
        with (
            _Joined(parts) as joined,
            gzip.GzipFile(fileobj=joined, mode="rb") as gz,
            open(tmp, "wb") as out,
        ):
            while chunk := gz.read(_BUFFER):
                digest.update(chunk)
                out.write(chunk)
        if sha256 is not None and digest.hexdigest() != sha256:
            raise DataError(f"{stored}.*: restores to SHA-256 {digest.hexdigest()[:12]}..., not "
                            f"the {sha256[:12]}... recorded for {dest.name}")  # fmt: skip
        os.replace(tmp, dest)
    except (OSError, EOFError, gzip.BadGzipFile) as error:
        raise DataError(f"{stored}.*: not a readable stored file ({error})") from None
    finally:
        tmp.unlink(missing_ok=True)


class _Joined:
    """The parts read one after the other as one binary file (what GzipFile reads)."""

    def __init__(self, parts: list[Path]) -> None:
        self._parts = list(parts)
        self._handle = None

    def __enter__(self) -> _Joined:
        return self

    def __exit__(self, *exc) -> None:
        if self._handle is not None:
            self._handle.close()

    def read(self, size: int = -1) -> bytes:
        out = b""
        while size < 0 or len(out) < size:
            if self._handle is None:
                if not self._parts:
                    break
                self._handle = open(self._parts.pop(0), "rb")  # noqa: SIM115
            chunk = self._handle.read(-1 if size < 0 else size - len(out))
            if not chunk:
                self._handle.close()
                self._handle = None
                continue
            out += chunk
        return out
