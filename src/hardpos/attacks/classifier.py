"""Any classifier seen from the paper's pixel grid.

The search works on pixel values ``p`` in [0, 255] (the grid of uint8 images, section 4.3).
A user's model takes its own input: floats in ``input_range`` (``(0, 1)`` for the habit of
torchvision and most attack libraries), perhaps normalised per channel. :class:`PixelModel`
maps one to the other, ``x = low + p (high - low) / 255`` and then ``(x - mean) / std``,
inside the autograd graph, so gradients are taken with respect to ``p`` by the chain rule
and the directions live on the grid. With the default range ``(0, 255)`` and no
normalisation the model gets ``p`` untouched.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence

import numpy as np
import torch

from hardpos.attacks.options import PIXEL_RANGE, check_range
from hardpos.errors import InputError

LEVELS = 255.0  # grey levels between the ends of the input range


def model_dtype(model) -> torch.dtype:
    """The floating dtype of the model's parameters (float32 when it has none)."""
    if isinstance(model, PixelModel):
        return model.dtype
    for p in _parameters(model):
        if p.is_floating_point():
            return p.dtype
    return torch.float32


def model_device(model) -> torch.device:
    """Where the model's parameters are (the CPU when it has none)."""
    if isinstance(model, PixelModel):
        return model.device
    for p in _parameters(model):
        return p.device
    return torch.device("cpu")


def _parameters(model):
    return model.parameters() if isinstance(model, torch.nn.Module) else iter(())


def _channel_values(values, name: str, channels: int) -> torch.Tensor | None:
    if values is None:
        return None
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    if v.size not in (1, channels) or not np.all(np.isfinite(v)):
        raise InputError(
            f"{name} must be one finite number or one per channel ({channels}); got {values!r}"
        )
    return torch.as_tensor(v).view(1, -1, 1, 1)


class PixelModel:
    """``logits(p)`` of ``model`` for pixel values ``p`` ``[B, C, H, W]`` in [0, 255].

    ``model``: a ``torch.nn.Module`` or any callable returning logits ``[B, classes]``;
    its ``logits`` method is used when it has one (hardpos's own nets), else the call
    itself (``forward``). An output object with a ``logits`` tensor (as some libraries
    return) is unwrapped.
    """

    def __init__(
        self,
        model: torch.nn.Module | Callable[[torch.Tensor], torch.Tensor],
        *,
        channels: int,
        input_range: Sequence[float] = PIXEL_RANGE,
        mean=None,
        std=None,
        device: torch.device | None = None,
    ) -> None:
        if not callable(model) and not hasattr(model, "logits"):
            raise InputError(
                f"model must be a torch.nn.Module or a callable returning logits; got "
                f"{type(model).__name__}"
            )
        self.model = model
        logits = getattr(model, "logits", None)
        self._call = logits if callable(logits) else model
        self.low, self.high = check_range(input_range)
        self.mean = _channel_values(mean, "mean", channels)
        self.std = _channel_values(std, "std", channels)
        if self.std is not None and bool((self.std <= 0).any()):
            raise InputError(f"std must be positive; got {std!r}")
        self.identity = (self.low, self.high) == PIXEL_RANGE and mean is None and std is None
        self.device = device if device is not None else model_device(model)
        self.dtype = model_dtype(model)

    def with_input_range(self, low: float, high: float) -> PixelModel:
        """The same model fed pixel values mapped to ``[low, high]`` instead (a probe of
        what the model expects; the normalisation stays)."""
        other = copy.copy(self)
        other.low, other.high = check_range((low, high))
        other.identity = (
            (other.low, other.high) == PIXEL_RANGE and self.mean is None and (self.std is None)
        )
        return other

    def model_input(self, pixels: torch.Tensor) -> torch.Tensor:
        """What the model is given for pixel values ``p``: range, then normalisation."""
        if self.identity:
            return pixels
        x = pixels.to(self.dtype)
        if (self.low, self.high) != PIXEL_RANGE:
            x = x * (self.high - self.low) / LEVELS + self.low
        if self.mean is not None:
            x = x - self.mean.to(device=x.device, dtype=x.dtype)
        if self.std is not None:
            x = x / self.std.to(device=x.device, dtype=x.dtype)
        return x

    def logits(self, pixels: torch.Tensor) -> torch.Tensor:
        out = self._call(self.model_input(pixels))
        if not isinstance(out, torch.Tensor):
            inner = getattr(out, "logits", None)
            if not isinstance(inner, torch.Tensor):
                raise InputError(
                    f"the model returned a {type(out).__name__}, not a tensor of logits "
                    "[N, n_classes]"
                )
            out = inner
        if out.ndim != 2 or out.shape[0] != len(pixels):
            raise InputError(
                f"the model returned shape {tuple(out.shape)} for {len(pixels)} images; "
                "expected logits [N, n_classes]"
            )
        return out
