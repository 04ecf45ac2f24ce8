"""Torch weight files (``state_dict``s and checkpoints), read safely with a clear error."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from hardpos.errors import ModelError
from hardpos.files.checksums import verify_if_zip


def read_weights(path: str | os.PathLike) -> Any:
    """What ``torch.save`` wrote to ``path``, on the CPU, tensors and plain containers only
    (``weights_only``: a weights file cannot run code). A missing or unreadable file, or
    one whose bytes do not match the zip's CRC-32s (:mod:`hardpos.files.checksums`), is
    a :class:`~hardpos.errors.ModelError` naming it."""
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"{path}: weights file not found")
    verify_if_zip(path, error=ModelError)  # torch.load reads the zip without its CRCs
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for a corrupt file
        raise ModelError(f"{path}: not a readable torch file ({exc})") from None
