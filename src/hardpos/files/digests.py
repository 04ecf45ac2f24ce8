"""A folder's files and their SHA-256 digests, in ``sha256sum``'s own format.

A published run is carried from machine to machine through the repository, and a
continuation builds on what it holds (base nets, the held-out set, finished records). So
the folder lists every file it vouches for in ``SHA256SUMS`` (``<hex>  <path>`` lines, the
format ``sha256sum -c SHA256SUMS`` checks), and :func:`verify_folder` refuses it when a
listed file is missing or differs, naming the file. A file the list does not name is
not vouched for: the caller decides what it may be (a record written just before a kill,
a table to make anew).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from hardpos.errors import DataError
from hardpos.files.atomic import write_text

SUMS = "SHA256SUMS"
_BUFFER = 1 << 20


def sha256_file(path: str | os.PathLike) -> str:
    """The hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_BUFFER):
            digest.update(chunk)
    return digest.hexdigest()


def read_sums(folder: str | os.PathLike) -> dict[str, str]:
    """``{relative path: hex digest}`` from the folder's ``SHA256SUMS`` (empty if none)."""
    path = Path(folder) / SUMS
    if not path.is_file():
        return {}
    sums: dict[str, str] = {}
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        digest, sep, name = line.partition("  ")
        if not sep or len(digest) != 64 or not name or name.startswith("/") or ".." in name:
            raise DataError(f"{path}, line {number}: not '<sha256>  <relative path>': {line!r}")
        sums[name] = digest
    return sums


def write_sums(folder: str | os.PathLike, sums: dict[str, str]) -> None:
    """Write ``SHA256SUMS`` (sorted by path), atomically."""
    lines = [f"{digest}  {name}\n" for name, digest in sorted(sums.items())]
    write_text(Path(folder) / SUMS, "".join(lines))


def verify_folder(folder: str | os.PathLike) -> dict[str, str]:
    """Check every file ``SHA256SUMS`` lists; return the list. A missing or changed file
    is a :class:`DataError` naming it."""
    folder = Path(folder)
    sums = read_sums(folder)
    for name, digest in sums.items():
        path = folder / name
        if not path.is_file():
            raise DataError(f"{path}: listed in {folder / SUMS} but missing")
        actual = sha256_file(path)
        if actual != digest:
            raise DataError(
                f"{path}: its SHA-256 is {actual[:12]}..., not the {digest[:12]}... that "
                f"{folder / SUMS} lists: the file was changed or damaged"
            )
    return sums


def unlisted_files(folder: str | os.PathLike, sums: dict[str, str]) -> list[str]:
    """The folder's files (relative paths) that ``sums`` does not list, hidden ones aside."""
    folder = Path(folder)
    found = []
    for path in sorted(folder.rglob("*")):
        name = path.relative_to(folder).as_posix()
        hidden = any(part.startswith(".") for part in name.split("/"))
        if path.is_file() and name != SUMS and not hidden and name not in sums:
            found.append(name)
    return found
