"""A pixel-valued network seen on the [0, 1] scale that attack libraries expect."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from hardpos.errors import InputError

PIXEL_MAX = 255.0


class UnitInterval(nn.Module):
    """``UnitInterval(net)(x) == net(255 * x)``: inputs in [0, 1], the net's logits out.

    LeNet takes pixel values in [0, 255] and applies its own input scale; adv-lib (like
    every attack library) clips to [0, 1] and states budgets on that scale.
    """

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x * PIXEL_MAX)


def unit_images(images: np.ndarray | torch.Tensor, device: torch.device) -> torch.Tensor:
    """uint8 ``[N, 28, 28]`` or ``[N, 1, H, W]`` -> float32 ``[N, 1, H, W]`` in [0, 1]."""
    x = torch.as_tensor(np.asarray(images))
    if x.dtype != torch.uint8:
        raise InputError(f"images must be uint8 in [0, 255], got {x.dtype}")
    if x.ndim == 3:
        x = x.unsqueeze(1)
    if x.ndim != 4:
        raise InputError(f"images must be [N, H, W] or [N, C, H, W], got {tuple(x.shape)}")
    return x.to(device=device, dtype=torch.float32) / PIXEL_MAX


def model_device(net: nn.Module) -> torch.device:
    return next(net.parameters()).device
