"""Checking a zip archive's members against the CRC-32s the zip recorded for them.

Image and dataset files (.npz) and torch's model files are zip archives, and every member
carries the CRC-32 of its bytes; but only :mod:`zipfile`'s own reads check it. A
memory-mapped .npz member, or a ``torch.load``, reads the bytes without looking, so a
flipped byte would pass as a different pixel or weight. :func:`verify_zip` reads the
members once (about 1 GB/s on one core) and compares; a process remembers the files it
has checked (by real path, inode, size and modification time), so opening an unchanged
file again costs one ``stat``.
"""

from __future__ import annotations

import os
import struct
import zipfile
import zlib
from collections.abc import Iterable

from hardpos.errors import DataError, HardposError

_BUFFER = 4 << 20
_LOCAL_HEADER = struct.Struct("<4s22xHH")  # signature ... file name length, extra length
# (real path, inode, size, mtime_ns, member) of the members this process has checked
_VERIFIED: set[tuple] = set()


def file_signature(path: str | os.PathLike) -> tuple:
    """What identifies a file's current contents cheaply: real path, inode, size, mtime."""
    st = os.stat(path)
    return (os.path.realpath(path), st.st_ino, st.st_size, st.st_mtime_ns)


def member_data_offset(path: str | os.PathLike, info: zipfile.ZipInfo) -> int:
    """Where a member's (stored or compressed) bytes begin in the file."""
    with open(path, "rb") as handle:
        handle.seek(info.header_offset)
        signature, name_len, extra_len = _LOCAL_HEADER.unpack(handle.read(_LOCAL_HEADER.size))
    if signature != b"PK\x03\x04":
        raise zipfile.BadZipFile(f"no local header for {info.filename}")
    return info.header_offset + _LOCAL_HEADER.size + name_len + extra_len


def _crc_stored(path: str | os.PathLike, start: int, size: int) -> int:
    crc, left = 0, size
    buffer = memoryview(bytearray(_BUFFER))
    with open(path, "rb") as handle:
        handle.seek(start)
        while left > 0:
            got = handle.readinto(buffer[: min(left, _BUFFER)])
            if not got:
                raise EOFError(f"truncated: a member ends {left} bytes early")
            crc = zlib.crc32(buffer[:got], crc)
            left -= got
    return crc


def _read_through(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bool:
    """Whether a compressed member decompresses to the bytes its CRC-32 records (zipfile
    compares when it reaches the member's end)."""
    try:
        with archive.open(info) as member:
            while member.read(_BUFFER):
                pass
    except zipfile.BadZipFile as exc:
        if "CRC" in str(exc):
            return False
        raise
    return True


def verify_zip(
    path: str | os.PathLike,
    members: Iterable[str] | None = None,
    *,
    kind: str = "a readable zip archive",
    error: type[HardposError] = DataError,
) -> None:
    """Check the CRC-32 of ``members`` (default: all) of the zip at ``path``.

    Raises ``error`` (:class:`DataError`) naming the path and "corrupt: checksum mismatch"
    when a member's bytes differ from what was written, or "not ``kind``" when the
    archive's directory is unreadable."""
    try:
        signature = file_signature(path)
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist() if members is None else [archive.getinfo(m) for m in members]
            for info in infos:
                key = (*signature, info.filename)
                if key in _VERIFIED:
                    continue
                if info.compress_type == zipfile.ZIP_STORED:
                    start = member_data_offset(path, info)
                    good = _crc_stored(path, start, info.compress_size) == info.CRC
                else:
                    good = _read_through(archive, info)
                if not good:
                    raise error(
                        f"{path}: corrupt: checksum mismatch (the zip's CRC-32 of "
                        f"{info.filename} differs from its bytes)"
                    )
                _VERIFIED.add(key)
    except FileNotFoundError:
        raise error(f"{path}: no such file") from None
    except (KeyError, OSError, EOFError, zipfile.BadZipFile, zlib.error, struct.error,
            NotImplementedError, RuntimeError, UnicodeDecodeError, ValueError) as exc:  # fmt: skip
        # UnicodeDecodeError, ValueError: a damaged member name or size in the directory
        # NotImplementedError, RuntimeError: a damaged compression method or encryption flag
        raise error(f"{path}: not {kind} ({exc})") from None


def verify_if_zip(path: str | os.PathLike, *, error: type[HardposError] = DataError) -> None:
    """:func:`verify_zip` for a file that is a zip archive (torch's model files since 1.6);
    any other file (torch's legacy format, or not a model at all) is left to its reader."""
    if zipfile.is_zipfile(path):
        verify_zip(path, error=error)


def verified(path: str | os.PathLike) -> list[tuple]:
    """The check records of ``path`` this process holds (for a child process to trust,
    see :func:`trust`)."""
    real = os.path.realpath(path)
    return [key for key in _VERIFIED if key[0] == real]


def trust(records: Iterable[tuple]) -> None:
    """Take check records from a parent process: a file that still has the same signature
    is not read again."""
    _VERIFIED.update(tuple(r) for r in records)
