"""Per-image tables as Parquet files, written atomically, checked and read with a clear error.

Parquet checks nothing on its own: pyarrow reads a flipped byte in a data page as another
value, and one in the footer as another column name or type, without a word. So
:func:`save_table` writes the pages' CRCs (Parquet's optional page checksums) and a
SHA-256 of the table's content (column names, types and values) into the file's metadata,
and :func:`load_table` checks both. Tables without the digest (written by other tools)
are read unchecked.
"""

from __future__ import annotations

import hashlib
import json
import os

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from hardpos.errors import DataError
from hardpos.files.atomic import atomic_path

DIGEST_KEY = b"hardpos.sha256"


def table_digest(table: pa.Table) -> str:
    """SHA-256 (hex) of a table's column names, Arrow types, values and schema metadata
    (pandas' own, which says how to rebuild the frame), the digest itself left out.

    Values go in as their bytes (numbers and booleans without nulls), or through pandas'
    fixed-key hash (``hash_array``; strings as their distinct values in order of
    appearance and an index per row): neither depends on how Arrow chunks or pads its
    buffers, so the digest of a table read back equals that of the table written."""
    digest = hashlib.sha256(f"{table.num_rows}\n".encode())
    for key, value in sorted((table.schema.metadata or {}).items()):
        if key != DIGEST_KEY:
            digest.update(b"%d:%b%d:%b" % (len(key), key, len(value), value))
    for field, column in zip(table.schema, table.columns, strict=True):
        digest.update(f"{field.name}\0{field.type}\0".encode())
        if pa.types.is_string(field.type) or pa.types.is_large_string(field.type):
            # as distinct strings and one index per row: no Python string per row
            encoded = pc.dictionary_encode(column.combine_chunks(), null_encoding="encode")
            digest.update(json.dumps(encoded.dictionary.to_pylist()).encode())
            column = encoded.indices
        kind = column.type
        fixed = pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_boolean(kind)
        values = column.to_numpy(zero_copy_only=False)
        if fixed and column.null_count == 0:  # the values' bytes themselves, fastest
            digest.update(np.ascontiguousarray(values).tobytes())
        else:
            digest.update(pd.util.hash_array(values).tobytes())
    return digest.hexdigest()


def save_table(path: str | os.PathLike, table: pd.DataFrame) -> None:
    """Save a per-image table as Parquet, atomically, with page CRCs and a content digest."""
    arrow = pa.Table.from_pandas(table, preserve_index=False)
    metadata = {**(arrow.schema.metadata or {}), DIGEST_KEY: table_digest(arrow).encode()}
    with atomic_path(path) as tmp:
        pq.write_table(arrow.replace_schema_metadata(metadata), tmp, write_page_checksum=True)


def load_table(path: str | os.PathLike) -> pd.DataFrame:
    """Load a table written by :func:`save_table`; a file whose pages or content do not
    match their checksums raises :class:`DataError` ("corrupt: checksum mismatch")."""
    try:
        arrow = pq.read_table(path, page_checksum_verification=True)
        stored = (arrow.schema.metadata or {}).get(DIGEST_KEY)
        if stored is not None and stored.decode(errors="replace") != table_digest(arrow):
            raise DataError(f"{path}: corrupt: checksum mismatch (the table's SHA-256)")
        return arrow.to_pandas()
    except DataError:
        raise
    except FileNotFoundError:
        raise DataError(f"{path}: no such table file") from None
    except Exception as exc:  # pyarrow raises several unrelated types for a bad file
        if "CRC checksum verification failed" in str(exc):
            raise DataError(f"{path}: corrupt: checksum mismatch (a Parquet page)") from None
        raise DataError(f"{path}: not a Parquet table ({exc})") from None
