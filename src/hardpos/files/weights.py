"""Torch weight files (``state_dict``s and checkpoints), read safely with a clear error."""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
from pathlib import Path
from typing import Any

import torch

from hardpos.errors import DataError, ModelError
from hardpos.files.atomic import atomic_path
from hardpos.files.checksums import verify_if_zip

# below this many free bytes, a failed write is taken for a full disk
_NEARLY_FULL = 16 << 20


def save_weights(obj: Any, path: str | os.PathLike) -> None:
    """``torch.save`` to ``path`` atomically. A write that fails (torch says only
    "unexpected pos ..." when the disk fills) is a :class:`DataError` naming the path and,
    where the disk is full, saying so."""
    path = Path(path)
    try:
        with atomic_path(path) as tmp:
            torch.save(obj, tmp)
    except (OSError, RuntimeError) as exc:
        full = getattr(exc, "errno", None) == errno.ENOSPC
        with contextlib.suppress(OSError):
            full = full or shutil.disk_usage(path.parent).free < _NEARLY_FULL
        why = "no space left on device" if full else f"the write failed ({exc})"
        raise DataError(f"{path}: cannot be saved: {why}") from None


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
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for a corrupt file
        raise ModelError(f"{path}: not a readable torch file ({exc})") from None
    name = first_non_finite(state)
    if name is not None:
        raise ModelError(f"{path}: {name} holds NaN or infinite values (a diverged training "
                         "run's weights): refusing to use them")  # fmt: skip
    return state


def first_non_finite(state: Any, prefix: str = "") -> str | None:
    """The name of the first floating tensor in ``state`` (nested dicts and lists) with a
    NaN or infinite value, or None."""
    if isinstance(state, torch.Tensor):
        if state.is_floating_point() and not bool(torch.isfinite(state).all()):
            return prefix or "a tensor"
        return None
    items = state.items() if isinstance(state, dict) else enumerate(state) \
        if isinstance(state, list | tuple) else ()  # fmt: skip
    for key, value in items:
        found = first_non_finite(value, f"{prefix}.{key}" if prefix else str(key))
        if found is not None:
            return found
    return None


def first_misfit(expected: dict[str, torch.Tensor], state: Any) -> str | None:
    """What first keeps ``state`` from loading into a network whose ``state_dict`` is
    ``expected``: a missing or unexpected layer, or a shape that differs; None if it fits."""
    if not isinstance(state, dict):
        return f"a {type(state).__name__}, not a state_dict"
    for name, tensor in expected.items():
        if name not in state:
            return f"layer {name} is missing"
        got = getattr(state[name], "shape", None)
        if got != tensor.shape:
            return f"layer {name} has shape {tuple(got) if got is not None else got}, " \
                f"the network needs {tuple(tensor.shape)}"  # fmt: skip
    extra = [name for name in state if name not in expected]
    return f"layer {extra[0]} is not in the network" if extra else None
