"""hardpos.robustness.budget: robust accuracy under a strong attack (adv-lib's PGD and
APGD) at each budget."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from hardpos.errors import InputError
from hardpos.robustness import (
    BudgetAttack,
    robust_accuracy,
)
from hardpos.training.adversarial_objectives import objective_from_recipe
from hardpos.training.lenet_training import train

from ..conftest import _Linear


@pytest.fixture(scope="module")
def small_lenet(real_mnist):
    """A LeNet after 300 seeded iterations on the first 10K MNIST training images (about
    97% test accuracy), and the first 200 test images."""
    from hardpos.mnist.idx import load_mnist

    x_train, y_train = load_mnist(real_mnist, "train")
    x_test, y_test = load_mnist(real_mnist, "test")
    state = train(x_train[:10_000], y_train[:10_000], seed=1, iterations=300)
    return state.model, np.asarray(x_test[:200]), np.asarray(y_test[:200])


def _plain_pgd_accuracy(net, images, labels, *, eps, steps, step, seed) -> float:
    """Madry's PGD written out on the pixel scale: uniform start in the L-inf ball,
    signed-gradient steps, projection onto the ball and [0, 255]; robust = the final
    iterate is still classified correctly (and so was the clean image)."""
    x = torch.as_tensor(images, dtype=torch.float32).unsqueeze(1)
    y = torch.as_tensor(labels, dtype=torch.int64)
    eps, step = 255.0 * eps, 255.0 * step
    generator = torch.Generator().manual_seed(seed)
    adv = x + (2 * torch.rand(x.shape, generator=generator) - 1) * eps
    adv = adv.clamp(0, 255)
    for _ in range(steps):
        adv.requires_grad_(True)
        loss = F.cross_entropy(net(adv), y, reduction="sum")
        (grad,) = torch.autograd.grad(loss, adv)
        adv = adv.detach() + step * grad.sign()
        adv = torch.min(torch.max(adv, x - eps), x + eps).clamp(0, 255)
    with torch.no_grad():
        clean = net(x).argmax(1) == y
        robust = clean & (net(adv).argmax(1) == y)
    return float(robust.float().mean())


@pytest.mark.parametrize("eps", [0.1, 0.15])
def test_library_pgd_agrees_with_a_plain_pgd_loop_within_two_points(small_lenet, eps):
    net, images, labels = small_lenet
    steps, relative = 10, 2.5
    ours = _plain_pgd_accuracy(
        net, images, labels, eps=eps, steps=steps, step=relative * eps / steps, seed=3
    )
    result = robust_accuracy(
        net, images, labels, budgets=[eps], seed=3,
        attack=BudgetAttack(attack="pgd", steps=steps, restarts=1, step_size=relative),
    )  # fmt: skip
    library = result["robust_accuracy"][0]
    # the budget must leave something to measure, or agreement proves nothing
    assert 0.05 < ours < result["clean_accuracy"] - 0.1
    assert abs(library - ours) <= 0.02
    assert result["max_linf"][0] <= eps + 1e-5


def test_apgd_is_at_least_as_strong_as_pgd_and_breaks_nearly_all_at_0_3(small_lenet):
    net, images, labels = small_lenet
    budgets = [0.1, 0.3]
    pgd = robust_accuracy(
        net, images, labels, budgets=budgets, attack=BudgetAttack(attack="pgd", steps=10)
    )
    apgd = robust_accuracy(
        net, images, labels, budgets=budgets, attack=BudgetAttack(attack="apgd", steps=10)
    )
    assert apgd["clean_accuracy"] == pgd["clean_accuracy"] > 0.9
    for a, p in zip(apgd["robust_accuracy"], pgd["robust_accuracy"], strict=True):
        assert a <= p + 0.02
    assert apgd["robust_accuracy"][1] <= 0.03
    # robust accuracy cannot grow with the budget
    assert apgd["robust_accuracy"][0] >= apgd["robust_accuracy"][1]
    # per image: a robust image is a correctly classified one
    assert apgd["robust"].shape == (2, len(images))


def test_bad_robustness_settings_name_the_key():
    with pytest.raises(InputError, match="attack 'fgsm'"):
        BudgetAttack(attack="fgsm")
    with pytest.raises(InputError, match="robustness.linf budget 76.5"):
        robust_accuracy(_Linear(), np.zeros((1, 28, 28), np.uint8), [0], budgets=[76.5])
    with pytest.raises(InputError, match="pgd-at: unknown settings \\['epsilon'\\]"):
        objective_from_recipe("pgd-at", {"epsilon": 0.3})
