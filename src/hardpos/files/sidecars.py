"""The JSON sidecar beside a model file: how the model was made."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from hardpos.errors import ModelError


def sidecar_path(path: str | os.PathLike) -> Path:
    """The JSON file beside a model file that records how it was made."""
    path = Path(path)
    return path.with_name(path.name + ".json")


def read_sidecar(path: str | os.PathLike) -> dict[str, Any]:
    """The sidecar of the model file ``path`` as a dict; empty when there is none."""
    side = sidecar_path(path)
    if not side.is_file():
        return {}
    try:
        record = json.loads(side.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelError(f"{side}: not a readable JSON sidecar ({exc})") from None
    if not isinstance(record, dict):
        raise ModelError(f"{side}: a sidecar must hold a JSON object, not {type(record).__name__}")
    return record
