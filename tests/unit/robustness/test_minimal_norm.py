"""hardpos.robustness.minimal_norm: minimal adversarial norms against a linear model's
exact distances."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hardpos.robustness import (
    MinimalNormAttack,
    minimal_norms,
)

from ..conftest import _Linear


def _linear_minimal_norms(net: _Linear, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """float64: the L2 / L-inf distance (grey levels) from x to the nearest other class's
    half-space, min_j (h_y - h_j) / ||w_y - w_j||_{2 or 1} (the box does not bind here)."""
    w = net.weight.detach().double().numpy() / 255.0
    x = images.reshape(len(images), -1).astype(np.float64)
    h = x @ w.T + net.bias.detach().double().numpy()
    y = h.argmax(1)
    l2, linf = [], []
    for i in range(len(x)):
        others = [j for j in range(10) if j != y[i]]
        margin = h[i, y[i]] - h[i, others]
        diff = w[y[i]] - w[others]
        l2.append(np.min(margin / np.linalg.norm(diff, 2, axis=1)))
        linf.append(np.min(margin / np.abs(diff).sum(axis=1)))
    return np.array(l2), np.array(linf), y


def test_minimal_norms_match_the_exact_distances_of_a_linear_model():
    net = _Linear(seed=0, scale=20.0).eval()
    rng = np.random.default_rng(0)
    images = rng.integers(100, 156, (40, 28, 28)).astype(np.uint8)
    l2_exact, linf_exact, labels = _linear_minimal_norms(net, images)
    assert linf_exact.max() < 20  # the [0, 255] box is never reached
    norms = minimal_norms(
        net, images, labels, attack=MinimalNormAttack(l2="ddn", steps=200, levels=256)
    )
    assert norms["failed_l2"] == norms["failed_linf"] == 0
    # an adversarial can never be closer than the boundary; a good attack gets close to it
    assert np.all(norms["l2"] >= l2_exact - 1e-3)
    assert np.all(norms["linf"] >= linf_exact - 1e-3)
    assert np.median(norms["l2"] / l2_exact) < 1.02  # DDN, rounded to uint8 levels
    assert np.median(norms["linf"] / linf_exact) < 1.02  # FMN
    assert norms["median_l2"] == pytest.approx(np.median(norms["l2"]))


def test_minimal_norms_are_zero_on_misclassified_images():
    net = _Linear(seed=1).eval()
    images = np.full((3, 28, 28), 128, np.uint8)
    with torch.no_grad():
        wrong = (net(torch.as_tensor(images).float()).argmax(1) + 1) % 10
    norms = minimal_norms(net, images, wrong.numpy(), attack=MinimalNormAttack(steps=5))
    assert np.all(norms["l2"] == 0) and np.all(norms["linf"] == 0)
