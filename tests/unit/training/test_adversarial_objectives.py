"""hardpos.training.adversarial_objectives: FGS and PGD training objectives, worked in
float64, resumed exactly."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hardpos.training.adversarial_objectives import (
    FGSObjective,
    PGDObjective,
)
from hardpos.training.lenet_training import train

from ..conftest import _Linear


def _softmax_input_gradient(net: _Linear, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """float64 d CE / d x for the linear model: W^T (softmax(h) - onehot(y)) / 255."""
    w = net.weight.detach().double().numpy() / 255.0
    h = x @ w.T + net.bias.detach().double().numpy()
    p = np.exp(h - h.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    p[np.arange(len(y)), y] -= 1.0
    return p @ w


def _ce64(net: _Linear, x: np.ndarray, y: np.ndarray) -> float:
    w = net.weight.detach().double().numpy() / 255.0
    h = x @ w.T + net.bias.detach().double().numpy()
    h = h - h.max(1, keepdims=True)
    return float(np.mean(np.log(np.exp(h).sum(1)) - h[np.arange(len(y)), y]))


def test_fgs_objective_matches_goodfellows_formula_in_float64():
    net = _Linear(seed=2)
    rng = np.random.default_rng(2)
    x = rng.integers(0, 256, (6, 784)).astype(np.float64)
    y = rng.integers(0, 10, 6)
    objective = FGSObjective(eps=0.1, alpha=0.3)
    loss = objective(
        net, torch.tensor(x, dtype=torch.float32), torch.tensor(y), seed=0, iteration=0
    )
    adv = np.clip(x + 25.5 * np.sign(_softmax_input_gradient(net, x, y)), 0, 255)
    expected = 0.3 * _ce64(net, x, y) + 0.7 * _ce64(net, adv, y)
    assert float(loss.detach()) == pytest.approx(expected, rel=1e-5)
    assert objective.passes == 2


def test_pgd_objective_steps_project_and_repeat_their_random_start():
    net = _Linear(seed=3)
    rng = np.random.default_rng(3)
    x64 = rng.integers(0, 256, (5, 784)).astype(np.float64)
    y = rng.integers(0, 10, 5)
    x = torch.tensor(x64, dtype=torch.float32)
    # one step from the image itself: x + step sign(grad), clipped to the ball and the box
    one = PGDObjective(eps=0.3, step_size=0.05, steps=1, random_start=False)
    adv = one.attack(net, x, torch.tensor(y), seed=0, iteration=0).double().numpy()
    expected = np.clip(x64 + 12.75 * np.sign(_softmax_input_gradient(net, x64, y)), 0, 255)
    np.testing.assert_allclose(adv, expected, atol=1e-4)
    many = PGDObjective(eps=0.1, step_size=0.05, steps=7)
    a = many.attack(net, x, torch.tensor(y), seed=4, iteration=9)
    b = many.attack(net, x, torch.tensor(y), seed=4, iteration=9)
    c = many.attack(net, x, torch.tensor(y), seed=4, iteration=10)
    torch.testing.assert_close(a, b)
    assert not torch.equal(a, c)
    assert float((a - x).abs().max()) <= 25.5 + 1e-3
    assert float(a.min()) >= 0 and float(a.max()) <= 255
    # the adversarial raises the loss above the clean image's
    assert _ce64(net, a.double().numpy(), y) > _ce64(net, x64, y)
    assert many.passes == 8


def _toy_digits(n: int = 64) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, n)
    images = rng.integers(0, 40, (n, 28, 28)).astype(np.uint8)
    for i, y in enumerate(labels):
        images[i, 2 + 2 * y : 6 + 2 * y, 4:24] = 255
    return images, labels


@pytest.mark.parametrize(
    "objective", [FGSObjective(eps=0.1), PGDObjective(eps=0.1, step_size=0.03, steps=3)]
)
def test_adversarial_training_resumes_exactly_and_differs_from_plain(tmp_path, objective):
    images, labels = _toy_digits()
    solver_kwargs = dict(seed=5, checkpoint_every=2)
    whole = train(images, labels, iterations=6, objective=objective, **solver_kwargs)
    ckpt = tmp_path / "run.ckpt"
    train(images, labels, iterations=4, objective=objective, checkpoint=ckpt, **solver_kwargs)
    resumed = train(
        images, labels, iterations=6, objective=objective, checkpoint=ckpt, **solver_kwargs
    )
    plain = train(images, labels, iterations=6, **solver_kwargs)
    for p, q in zip(whole.model.parameters(), resumed.model.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=0, atol=0)
    assert any(
        not torch.equal(p, r)
        for p, r in zip(whole.model.parameters(), plain.model.parameters(), strict=True)
    )


def test_a_checkpoint_of_another_objective_is_not_resumed(tmp_path):
    images, labels = _toy_digits()
    ckpt = tmp_path / "run.ckpt"
    train(images, labels, seed=5, iterations=2, checkpoint=ckpt)
    state = train(
        images, labels, seed=5, iterations=2, checkpoint=ckpt, objective=FGSObjective(eps=0.1)
    )
    plain = train(images, labels, seed=5, iterations=2)
    # it trained again (from scratch, with the objective) instead of returning the plain run
    assert any(
        not torch.equal(p, q)
        for p, q in zip(state.model.parameters(), plain.model.parameters(), strict=True)
    )
