"""hardpos.attacks.directions: FGS, FGV, hot/cold and feature directions against autograd
and hand computations, all of a batch in one forward and one backward pass."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from hardpos.attacks import (
    compute_directions,
    feature_direction,
    parse_methods,
)
from hardpos.attacks.directions import hot_cold_weights
from hardpos.errors import InputError


class TwoLayer(nn.Module):
    """logits = W2 relu(W1 x / 255 + b1) + b2, for a hand-computed feature direction."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(1)
        self.lin1 = nn.Linear(12, 5, dtype=torch.float64)
        self.relu = nn.ReLU()
        self.lin2 = nn.Linear(5, 3, dtype=torch.float64)

    def logits(self, x):
        return self.lin2(self.relu(self.lin1(x.to(torch.float64).flatten(1) / 255.0)))


# -- directions ---------------------------------------------------------------------------


def test_hot_cold_directions_equal_autograd_per_image_and_rank(lenet64, digits):
    images, labels = digits
    dirs = parse_methods(["hc-d-4", "hc-s-k2"])
    got = compute_directions(lenet64, torch.as_tensor(images), torch.as_tensor(labels), dirs)
    for i in range(len(images)):
        x = torch.as_tensor(images[i : i + 1], dtype=torch.float64).requires_grad_(True)
        h = lenet64.logits(x)[0]
        others = [c for c in torch.argsort(h, descending=True).tolist() if c != labels[i]]
        for j, direction in enumerate(dirs):
            t = others[direction.k - 1]
            w = torch.zeros(10, dtype=torch.float64)
            w[t], w[labels[i]] = h[t].abs(), -h[labels[i]]
            (grad,) = torch.autograd.grad(h @ w.detach(), x, retain_graph=True)
            expected = torch.sign(grad) if direction.sign else grad / grad.abs().max()
            assert int(got.hot[i, j]) == t
            torch.testing.assert_close(got.d[i, j], expected[0], rtol=1e-9, atol=1e-12)


def test_fgs_fgv_directions_equal_cross_entropy_gradient(lenet64, digits):
    images, labels = digits
    got = compute_directions(
        lenet64, torch.as_tensor(images), torch.as_tensor(labels), parse_methods("fgs,fgv")
    )
    x = torch.as_tensor(images, dtype=torch.float64).requires_grad_(True)
    loss = F.cross_entropy(lenet64.logits(x), torch.as_tensor(labels), reduction="sum")
    (grad,) = torch.autograd.grad(loss, x)
    fgv = grad / grad.flatten(1).abs().amax(1).view(-1, 1, 1, 1)
    torch.testing.assert_close(got.d[:, 1], fgv, rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(got.d[:, 0], torch.sign(grad))
    assert (got.hot == -1).all()


def test_all_directions_of_a_batch_take_one_forward_and_one_backward_pass(
    lenet64, digits, monkeypatch
):
    images, labels = digits
    calls = {"forward": 0, "backward": 0}
    real_grad, real_logits = torch.autograd.grad, lenet64.logits

    def counting_grad(*args, **kwargs):
        calls["backward"] += 1
        return real_grad(*args, **kwargs)

    def counting_logits(x):
        calls["forward"] += 1
        return real_logits(x)

    monkeypatch.setattr(torch.autograd, "grad", counting_grad)
    monkeypatch.setattr(lenet64, "logits", counting_logits)
    got = compute_directions(
        lenet64, torch.as_tensor(images), torch.as_tensor(labels), parse_methods("fgs,hc-d-9")
    )
    assert got.d.shape == (8, 10, 1, 28, 28)
    assert calls == {"forward": 1, "backward": 1}


def test_feature_direction_at_logits_equals_the_hot_cold_direction(lenet64, digits):
    images, labels = digits
    x = torch.as_tensor(images)
    h = lenet64.logits(x.double()).detach()
    got = compute_directions(lenet64, x, torch.as_tensor(labels), parse_methods("hc-d-k1"))
    w = hot_cold_weights(h, torch.as_tensor(labels), got.hot[:, 0])
    for layer in ("logits", "ip2"):
        d = feature_direction(lenet64, layer, images, w)
        d = d / d.flatten(1).abs().amax(1).view(-1, 1, 1, 1)
        torch.testing.assert_close(d, got.d[:, 0], rtol=1e-9, atol=1e-12)


def test_feature_direction_at_inner_layer_equals_hand_computation():
    model = TwoLayer()
    rng = np.random.default_rng(2)
    images = rng.integers(0, 256, (3, 1, 3, 4), dtype=np.uint8)
    w = torch.as_tensor(rng.normal(size=(3, 5)))
    W1, b1 = model.lin1.weight.detach(), model.lin1.bias.detach()
    x = torch.as_tensor(images, dtype=torch.float64).flatten(1)
    # <w, lin1(x / 255)> = w . (W1 x / 255 + b1): gradient W1^T w / 255
    expected = (w @ W1 / 255.0).view(3, 1, 3, 4)
    torch.testing.assert_close(feature_direction(model, "lin1", images, w), expected)
    # after the ReLU only the active units pass the vector back
    active = (x / 255.0 @ W1.T + b1 > 0).to(torch.float64)
    expected = ((w * active) @ W1 / 255.0).view(3, 1, 3, 4)
    torch.testing.assert_close(feature_direction(model, "relu", images, w), expected)
    # K vectors per image in one call
    both = feature_direction(model, "lin1", images, torch.stack([w, 2 * w]))
    torch.testing.assert_close(both[1], 2 * both[0])


def test_feature_direction_names_an_unknown_layer(lenet64, digits):
    with pytest.raises(InputError, match="'conv9'.*conv1"):
        feature_direction(lenet64, "conv9", digits[0], torch.zeros(8, 10))
