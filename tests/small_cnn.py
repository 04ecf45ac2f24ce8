"""A CIFAR-shaped (3x32x32) classifier on float input in [0, 1], as a user brings one.

It knows nothing of hardpos: ``forward`` returns logits, no ``logits`` method, and it
normalises its input inside (or not: ``normalise=False`` leaves that to the caller).
The images are made on the spot: four classes of coloured stripes (red, green, blue at
two orientations), with noise, on the 1/255 grid as torchvision's ``ToTensor`` gives.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

MEAN = (0.49, 0.48, 0.45)
STD = (0.25, 0.24, 0.26)


def stripes(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` float32 images ``[n, 3, 32, 32]`` in [0, 1], multiples of 1/255, and labels."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 4, n)
    yy, xx = np.mgrid[0:32, 0:32] / 32.0
    images = np.empty((n, 3, 32, 32))
    for i, c in enumerate(labels):
        freq = rng.uniform(2.0, 4.0)
        along = xx if c % 2 == 0 else yy
        wave = 0.5 + 0.35 * np.sin(2 * np.pi * freq * along + rng.uniform(0, 2 * np.pi))
        base = rng.uniform(0.2, 0.5, 3)[:, None, None] * np.ones((3, 32, 32))
        base[c // 2 + (c % 2)] = wave  # the channel and orientation carry the class
        images[i] = base + rng.normal(0, 0.06, (3, 32, 32))
    images = np.round(np.clip(images, 0, 1) * 255).astype(np.float32) / 255
    return images, labels.astype(np.int64)


class SmallCNN(nn.Module):
    """conv 3->8 (5x5), pool, conv 8->16 (5x5), pool, linear 400->4; ``forward`` = logits."""

    def __init__(self, *, normalise: bool = True, seed: int = 0) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.normalise = normalise
        self.register_buffer("mean", torch.tensor(MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(STD).view(1, 3, 1, 1))
        self.features = nn.Sequential(
            nn.Conv2d(3, 8, 5), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        )  # fmt: skip
        self.head = nn.Linear(16 * 5 * 5, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.normalise:
            x = (x - self.mean) / self.std
        return self.head(self.features(x).flatten(1))


def trained(*, normalise: bool = True, steps: int = 150, seed: int = 0) -> SmallCNN:
    """A SmallCNN trained on 512 stripe images (Adam, a few seconds on a CPU)."""
    images, labels = stripes(512, seed=100 + seed)
    net = SmallCNN(normalise=normalise, seed=seed)
    x = torch.as_tensor(images)
    if not normalise:
        x = (x - net.mean) / net.std
    y = torch.as_tensor(labels)
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        idx = torch.randint(0, len(x), (64,), generator=gen)
        loss = nn.functional.cross_entropy(net(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return net.eval()
