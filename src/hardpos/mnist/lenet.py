"""Caffe's MNIST LeNet, ported layer for layer, and its file format.

The network takes pixel values in [0, 255] (uint8 or float) and applies its own input
scale, so attacks can work in pixel units. ``logits(x)`` is the paper's h(x): the
penultimate layer, the last one before softmax.
"""

from __future__ import annotations

import math
import os
from typing import Any

import torch
from torch import nn

from hardpos.errors import ModelError
from hardpos.files.atomic import write_json
from hardpos.files.sidecars import read_sidecar, sidecar_path
from hardpos.files.weights import first_misfit, read_weights, save_weights
from hardpos.mnist.idx import MNIST_CLASSES

LENET_PARAMETERS = 431_080


def xavier_uniform_caffe_(weight: torch.Tensor, generator: torch.Generator) -> None:
    """Caffe's XavierFiller (variance_norm FAN_IN): U(-sqrt(3/fan_in), +sqrt(3/fan_in))."""
    fan_in = weight[0].numel()
    bound = math.sqrt(3.0 / fan_in)
    with torch.no_grad():
        weight.uniform_(-bound, bound, generator=generator)


class LeNet(nn.Module):
    """conv1 20@5x5, pool 2/2, conv2 50@5x5, pool 2/2, ip1 500, ReLU, ip2 10.

    As in Caffe's ``lenet_train_test.prototxt``: no non-linearity after the convolutions,
    Xavier weights, zero biases. ``input_scale`` multiplies the raw pixel values (1/255 by
    default; Caffe's own example uses 0.00390625 = 1/256).
    """

    def __init__(self, *, seed: int = 0, input_scale: float = 1.0 / 255.0) -> None:
        super().__init__()
        self.input_scale = float(input_scale)
        self.conv1 = nn.Conv2d(1, 20, 5)
        self.pool1 = nn.MaxPool2d(2, 2)
        self.conv2 = nn.Conv2d(20, 50, 5)
        self.pool2 = nn.MaxPool2d(2, 2)
        self.ip1 = nn.Linear(800, 500)
        self.relu1 = nn.ReLU()
        self.ip2 = nn.Linear(500, MNIST_CLASSES)
        generator = torch.Generator().manual_seed(int(seed))
        for layer in (self.conv1, self.conv2, self.ip1, self.ip2):
            xavier_uniform_caffe_(layer.weight, generator)
            nn.init.zeros_(layer.bias)

    @property
    def num_classes(self) -> int:
        return 10

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """h(x): the ip2 scores for pixel-valued images ``[N, 1, 28, 28]``."""
        x = x.to(self.conv1.weight.dtype) * self.input_scale
        x = self.pool1(self.conv1(x))
        x = self.pool2(self.conv2(x))
        x = self.relu1(self.ip1(x.flatten(1)))
        return self.ip2(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.logits(x)


def save_model(path: str | os.PathLike, model: LeNet, meta: dict[str, Any]) -> None:
    """Write the model's ``state_dict`` and a JSON sidecar (config, seed, metrics)."""
    save_weights(model.state_dict(), path)
    write_json(sidecar_path(path), {"architecture": "lenet", **meta})


def load_lenet(path: str | os.PathLike, device: torch.device | str = "cpu") -> LeNet:
    """Load a LeNet saved by :func:`save_model` (or a training checkpoint), in eval mode."""
    state = read_weights(path)
    if isinstance(state, dict) and "model" in state and isinstance(state["model"], dict):
        state = state["model"]  # a training checkpoint
    scale = float(read_sidecar(path).get("input_scale", 1.0 / 255.0))
    model = LeNet(input_scale=scale)
    misfit = first_misfit(model.state_dict(), state)
    if misfit is not None:
        raise ModelError(f"{path}: weights do not fit Caffe's LeNet: {misfit}")
    try:
        model.load_state_dict(state)
    except (RuntimeError, TypeError) as exc:
        first = str(exc).strip().splitlines()[0]
        raise ModelError(f"{path}: weights do not fit Caffe's LeNet ({first})") from None
    return model.to(device).eval()
