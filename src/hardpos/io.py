"""Atomic file writing: a crash never leaves a half-written output behind.

Every writer here goes through :func:`atomic_path`, which yields a temporary name in the
destination folder and renames it over the destination only when the body finished.
Image and dataset files, which must not need to fit in memory, are
:mod:`hardpos.imagefiles`.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from hardpos.errors import DataError


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_json(path: str | os.PathLike, data: Any) -> None:
    """Write ``data`` as indented JSON, atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text``, atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def save_table(path: str | os.PathLike, table: pd.DataFrame) -> None:
    """Save a per-image table as Parquet, atomically."""
    with atomic_path(path) as tmp:
        table.to_parquet(tmp, index=False)


def load_table(path: str | os.PathLike) -> pd.DataFrame:
    """Load a table written by :func:`save_table`."""
    try:
        return pd.read_parquet(path)
    except FileNotFoundError:
        raise DataError(f"{path}: no such table file") from None
    except Exception as exc:  # pyarrow raises several unrelated types for a bad file
        raise DataError(f"{path}: not a Parquet table ({exc})") from None
