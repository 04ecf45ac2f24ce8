"""Reading one JSON record (an evaluation, a robustness record, a seed index): the one
place that turns a missing, unreadable or non-object file into an error naming it."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from hardpos.errors import DataError


def read_json_record(path: str | os.PathLike, what: str = "record") -> dict[str, Any]:
    """The JSON object in ``path``; :class:`DataError` naming the file and ``what`` it
    should have been when it is missing, not JSON, or not an object."""
    try:
        record = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise DataError(f"{path}: no such {what}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise DataError(f"{path}: not a {what} ({error})") from None
    if not isinstance(record, dict):
        raise DataError(f"{path}: a {what} is a JSON object, not {type(record).__name__}")
    return record
