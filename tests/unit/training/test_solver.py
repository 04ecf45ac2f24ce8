"""hardpos.training.solver: Caffe's update rule and learning-rate policies."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hardpos.training.solver import Solver, caffe_sgd_step


def test_learning_rate_policies_follow_caffe():
    step = Solver(base_lr=0.01, lr_policy="step", gamma=0.5, stepsize=10)
    assert step.learning_rate(9) == 0.01 and step.learning_rate(25) == 0.01 * 0.25
    poly = Solver(base_lr=0.01, lr_policy="poly", power=0.5, max_iter=100)
    assert poly.learning_rate(75) == pytest.approx(0.005)


def test_inv_policy_matches_caffe_formula():
    solver = Solver()
    assert solver.learning_rate(0) == pytest.approx(0.01)
    assert solver.learning_rate(10_000) == pytest.approx(0.01 * (1 + 1e-4 * 10_000) ** -0.75)
    assert solver.learning_rate(10_000) == pytest.approx(0.0059460, rel=1e-4)


def test_sgd_step_matches_a_float64_hand_computation_of_caffes_update():
    solver = Solver()
    rng = np.random.default_rng(1)
    w0, g0, v0 = (rng.normal(size=5) for _ in range(3))
    b0, gb, vb = (rng.normal(size=2) for _ in range(3))
    lr = 0.007
    w = torch.tensor(w0, requires_grad=True)
    b = torch.tensor(b0, requires_grad=True)
    w.grad, b.grad = torch.tensor(g0), torch.tensor(gb)
    v = [torch.tensor(v0), torch.tensor(vb)]
    caffe_sgd_step([w, b], v, [1.0, 2.0], solver, lr)
    # Caffe: V = m V + lr * lr_mult * (g + wd w); w -= V
    v_w = 0.9 * v0 + lr * 1.0 * (g0 + 5e-4 * w0)
    v_b = 0.9 * vb + lr * 2.0 * (gb + 5e-4 * b0)
    np.testing.assert_allclose(v[0].numpy(), v_w, rtol=1e-12)
    np.testing.assert_allclose(v[1].numpy(), v_b, rtol=1e-12)
    np.testing.assert_allclose(w.detach().numpy(), w0 - v_w, rtol=1e-12)
    np.testing.assert_allclose(b.detach().numpy(), b0 - v_b, rtol=1e-12)
