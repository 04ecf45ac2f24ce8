"""Per-image tables as Parquet files, written atomically and read with a clear error."""

from __future__ import annotations

import os

import pandas as pd

from hardpos.errors import DataError
from hardpos.files.atomic import atomic_path


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
