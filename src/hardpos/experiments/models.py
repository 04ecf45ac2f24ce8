"""Load any model file the workflow wrote: a LeNet, or an ImageNet classifier when the
model's sidecar records another architecture. The command line and the stages that serve
both datasets (generation, evaluation) load models through this."""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

from hardpos.errors import ModelError
from hardpos.files.sidecars import read_sidecar
from hardpos.imagenet.classifiers import load_classifier
from hardpos.mnist.lenet import load_lenet


def load_model(path: str | os.PathLike, device: torch.device | str = "cpu") -> nn.Module:
    """Load a LeNet saved by :func:`hardpos.mnist.lenet.save_model` (or a training
    checkpoint), or a network whose sidecar names another architecture
    (:func:`hardpos.imagenet.classifiers.load_classifier`)."""
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"{path}: model file not found")
    arch = read_sidecar(path).get("architecture", "lenet")
    if arch != "lenet":
        return load_classifier(arch, path, device=device)
    return load_lenet(path, device)
