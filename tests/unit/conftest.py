"""Helpers the unit tests of several packages share: a model's own labels, ImageNet
weights and image trees, a linear MNIST model with known distances, toy digits and
weight comparisons."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image
from torch import nn

from hardpos.imagenet.classifiers import ImageNetClassifier


def own_labels(model, images) -> np.ndarray:
    """The model's predictions: every image is then correctly classified."""
    with torch.no_grad():
        x = torch.as_tensor(images)
        x = x.unsqueeze(1) if x.ndim == 3 else x
        return model.logits(x.to(torch.float64)).argmax(1).numpy()


def _weights(tmp_path, arch: str, classes: int = 5, seed: int = 0):
    torch.manual_seed(seed)
    model = ImageNetClassifier(arch, classes).eval()
    path = tmp_path / f"{arch}.pth"
    torch.save(model.net.state_dict(), path)
    return path, model


def _tree(root, classes=3, per_class=4, size=40):
    rng = np.random.default_rng(0)
    for split in ("train", "val"):
        for c in range(classes):
            folder = root / split / f"n{c:03d}"
            folder.mkdir(parents=True)
            for i in range(per_class):
                colour = np.zeros((size, size + 8, 3), np.uint8)
                colour[..., c % 3] = 200
                noise = rng.integers(0, 40, colour.shape, dtype=np.uint8)
                Image.fromarray(colour + noise).save(folder / f"{i}.png")
    return root


class _Linear(nn.Module):
    """logits = W (x / 255) + b on flattened 28x28 pixels: minimal distances are known.
    ``scale`` sharpens the softmax without moving the boundaries (DDN follows the
    cross-entropy's gradient, which points at the nearest boundary only when the softmax
    is peaked)."""

    def __init__(self, seed: int = 0, scale: float = 1.0) -> None:
        super().__init__()
        generator = torch.Generator().manual_seed(seed)
        self.weight = nn.Parameter(torch.randn(10, 784, generator=generator) * scale / 28.0)
        self.bias = nn.Parameter(torch.zeros(10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x.flatten(1) / 255.0) @ self.weight.T + self.bias


def _toy_data(n: int = 96, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Digits-sized images whose label is written as a bright block position."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n)
    images = rng.integers(0, 40, (n, 28, 28)).astype(np.uint8)
    for i, y in enumerate(labels):
        images[i, 2 + 2 * y : 6 + 2 * y, 4:24] = 255
    return images, labels


def _max_difference(a: torch.nn.Module, b: torch.nn.Module) -> float:
    return max(
        float((p.detach().double() - q.detach().double()).abs().max())
        for p, q in zip(a.parameters(), b.parameters(), strict=True)
    )


def _weights_equal(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    return all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))
