"""torchvision GoogLeNet and ResNet-152 as attackable classifiers of uint8 center crops.

:class:`ImageNetClassifier` takes pixel values in [0, 255] (``[N, 3, H, W]``, RGB, float
or uint8), applies the network's own input normalisation inside (x / 255, then the
ImageNet channel mean and standard deviation torchvision's weights were trained with) and
returns ``logits(x)``: the last fully connected layer, the paper's h(x), before softmax.

GoogLeNet is built BVLC-style for attacks: no auxiliary heads (``aux_logits=False``; the
auxiliary weights of a torchvision checkpoint are accepted and dropped) and
``transform_input=True`` as torchvision sets it for its ImageNet weights. Weights come from
a file in torchvision's ``state_dict`` format, or from torchvision's own download
(``"torchvision"``, needs internet).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from hardpos.errors import ModelError
from hardpos.files.atomic import write_json
from hardpos.files.weights import read_weights, save_weights

ARCHITECTURES = ("googlenet", "resnet152")
MEAN = (0.485, 0.456, 0.406)  # torchvision's ImageNet normalisation, on [0, 1] RGB
STD = (0.229, 0.224, 0.225)
_AUX = ("aux1.", "aux2.")


def build_network(arch: str, num_classes: int = 1000) -> nn.Module:
    """The bare torchvision network (randomly initialised by torchvision's own scheme)."""
    import torchvision

    if arch == "googlenet":
        return torchvision.models.GoogLeNet(
            num_classes=num_classes, aux_logits=False, transform_input=True, init_weights=True
        )
    if arch == "resnet152":
        return torchvision.models.resnet152(weights=None, num_classes=num_classes)
    raise ModelError(f"unknown architecture {arch!r}; expected one of {', '.join(ARCHITECTURES)}")


class ImageNetClassifier(nn.Module):
    """A torchvision network behind its input normalisation; ``logits(x)`` is h(x).

    ``x`` holds pixel values on the [0, 255] scale; ``(x / 255 - mean) / std`` is computed
    as ``(x - 255 mean) / (255 std)``, so attacks and PASS work in pixel units.
    """

    def __init__(self, arch: str, num_classes: int = 1000, *, network: nn.Module | None = None):
        super().__init__()
        self.arch = arch
        self.net = network if network is not None else build_network(arch, num_classes)
        self.register_buffer("mean", 255.0 * torch.tensor(MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", 255.0 * torch.tensor(STD).view(1, 3, 1, 1))

    @property
    def num_classes(self) -> int:
        return int(self.net.fc.out_features)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """h(x) ``[N, classes]`` for pixel values ``[N, 3, H, W]`` in [0, 255]."""
        x = x.to(self.mean.dtype)
        return self.net((x - self.mean) / self.std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.logits(x)


def _read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    state = read_weights(path)
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ModelError(f"{path}: not a state_dict (a mapping of names to tensors)")
    return state


def _torchvision_state_dict(arch: str) -> dict[str, torch.Tensor]:
    import torchvision

    try:
        weights = torchvision.models.get_model_weights(arch).DEFAULT
        return weights.get_state_dict(progress=False)
    except Exception as exc:  # network errors come in many types
        raise ModelError(f"could not download torchvision's {arch} weights: {exc}") from None


def _listing(keys: list[str], limit: int = 4) -> str:
    shown = ", ".join(keys[:limit])
    return shown + (f" (and {len(keys) - limit} more)" if len(keys) > limit else "")


def load_classifier(
    arch: str,
    weights: str | os.PathLike,
    *,
    num_classes: int | None = None,
    device: torch.device | str = "cpu",
) -> ImageNetClassifier:
    """An :class:`ImageNetClassifier` with ``weights``: a torchvision ``state_dict`` file or
    ``"torchvision"`` (torchvision's download).

    The class count is read from the file's ``fc.weight``; with ``num_classes`` given, a
    file for another count is an error. A missing file, missing or unexpected layers and
    shape mismatches raise :class:`~hardpos.errors.ModelError` naming the file and the
    first offending layers. The model is returned in eval mode.
    """
    if arch not in ARCHITECTURES:
        raise ModelError(
            f"unknown architecture {arch!r}; expected one of {', '.join(ARCHITECTURES)}"
        )
    if str(weights) == "torchvision":
        source, state = f"torchvision's {arch} weights", _torchvision_state_dict(arch)
    else:
        source, state = str(weights), _read_state_dict(Path(weights))
    state = {k: v for k, v in state.items() if not k.startswith(_AUX)}
    if "fc.weight" not in state or state["fc.weight"].ndim != 2:
        raise ModelError(f"{source}: no fc.weight layer: not a torchvision {arch} state_dict")
    classes = int(state["fc.weight"].shape[0])
    if num_classes is not None and classes != int(num_classes):
        raise ModelError(
            f"{source}: its fc layer has {classes} classes but the data has {num_classes}"
        )
    model = ImageNetClassifier(arch, classes)
    expected = model.net.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    wrong = [
        f"{k} {tuple(state[k].shape)} vs {tuple(v.shape)}"
        for k, v in expected.items()
        if k in state and state[k].shape != v.shape
    ]
    problems = []
    if missing:
        problems.append(f"missing {_listing(missing)}")
    if unexpected:
        problems.append(f"unexpected {_listing(unexpected)}")
    if wrong:
        problems.append(f"shape (file vs {arch}) {_listing(wrong)}")
    if problems:
        raise ModelError(f"{source}: not a torchvision {arch} state_dict: {'; '.join(problems)}")
    model.net.load_state_dict(state)
    return model.to(device).eval()


def save_classifier(
    path: str | os.PathLike, model: ImageNetClassifier, meta: dict[str, Any]
) -> None:
    """Write the network's torchvision ``state_dict`` and a JSON sidecar naming the
    architecture (read back by :func:`hardpos.experiments.models.load_model`)."""
    save_weights(model.net.state_dict(), path)
    side = Path(path).with_name(Path(path).name + ".json")
    write_json(side, {**meta, "architecture": model.arch, "num_classes": model.num_classes})
