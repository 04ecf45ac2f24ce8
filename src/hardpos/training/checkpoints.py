"""Training state on disk, so a killed run resumes exactly where it stopped."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import torch

from hardpos.errors import ModelError
from hardpos.files.checksums import verify_if_zip
from hardpos.files.weights import save_weights
from hardpos.mnist.lenet import LeNet

log = logging.getLogger(__name__)


@dataclass
class TrainState:
    """What a checkpoint holds: weights, momentum buffers and the iteration reached."""

    model: LeNet
    momentum: list[torch.Tensor]
    iteration: int

    def to_dict(self, extra: dict) -> dict:
        return {
            "model": self.model.state_dict(),
            "momentum": [m.clone() for m in self.momentum],
            "iteration": self.iteration,
            **extra,
        }


def save_checkpoint(path: str | os.PathLike, state: TrainState, extra: dict) -> None:
    """Write a checkpoint atomically, so a kill never leaves a half-written one."""
    save_weights(state.to_dict(extra), path)


def load_checkpoint(path: str | os.PathLike, device: torch.device) -> tuple[TrainState, dict]:
    """Read a checkpoint written by :func:`save_checkpoint`."""
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"{path}: checkpoint not found")
    verify_if_zip(path, error=ModelError)  # torch.load reads the zip without its CRCs
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
        model = LeNet(input_scale=float(blob.get("input_scale", 1 / 255)))
        model.load_state_dict(blob["model"])
        momentum = [m.to(device) for m in blob["momentum"]]
        iteration = int(blob["iteration"])
    except (KeyError, RuntimeError, TypeError, EOFError, OSError) as exc:
        raise ModelError(f"{path}: not a hardpos training checkpoint ({exc})") from None
    model = model.to(device)
    return TrainState(model, momentum, iteration), blob


def same_run(path: str | os.PathLike, blob: dict, identity: dict) -> bool:
    """Whether a checkpoint was written by a run with these settings (``identity``: seed,
    solver, data sizes, ...); one that was not is ignored, and the log says why."""
    mismatched = [key for key in identity if blob.get(key) != identity[key]]
    if mismatched:
        log.warning("ignoring %s: written with other %s", path, ", ".join(mismatched))
    return not mismatched
