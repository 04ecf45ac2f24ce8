"""The JSON sidecar beside a model file: how the model was made."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
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


def image_counts(record: Mapping[str, Any]) -> dict[str, int]:
    """The training images a model's sidecar (or its evaluation record) counts:
    ``added_images``, those beyond the original set (Table 1's "Added images"), and where
    recorded ``train_images``, every image it trained on (a base net: the 60,000).

    Records written before ``added_images`` existed held the added count under
    ``train_images`` (a base net's said 0); such a count is read as the added one.
    """
    if "added_images" not in record:
        return {"added_images": int(record.get("train_images") or 0)}
    counts = {"added_images": int(record["added_images"])}
    if record.get("train_images") is not None:  # an ImageNet net's total is not known
        counts["train_images"] = int(record["train_images"])
    return counts
