"""hardpos.finetune: any classifier fine-tuned on its images plus hard positives, checked
against Caffe's SGD worked in float64 numpy, resumed after a kill, and on a CIFAR-shaped
CNN of a user's with the hard positives hardpos.generate makes for it."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from small_cnn import SmallCNN, stripes
from torch import nn

import hardpos
from hardpos.errors import InputError
from hardpos.training.solver import Solver

SOLVER = Solver(base_lr=0.1, momentum=0.9, weight_decay=0.01, gamma=0.5, power=0.75,
                batch_size=4, bias_lr_mult=2.0)  # fmt: skip


def _linear(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Flatten(), nn.Linear(4, 3))


def _data():
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (4, 1, 2, 2), dtype=np.uint8), np.array([0, 1, 2, 1])


def _caffe_by_hand(model: nn.Module, images, labels, iterations: int):
    """Caffe's SGD in float64: the batch is all four images (their mean gradient does
    not depend on their order), x = pixels / 255 for input_range (0, 1)."""
    w = model[1].weight.detach().double().numpy().copy()
    b = model[1].bias.detach().double().numpy().copy()
    x = images.reshape(4, 4).astype(np.float64) / 255.0
    onehot = np.eye(3)[labels]
    vw, vb = np.zeros_like(w), np.zeros_like(b)
    for it in range(iterations):
        z = x @ w.T + b
        p = np.exp(z - z.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        gw = (p - onehot).T @ x / 4 + SOLVER.weight_decay * w
        gb = (p - onehot).mean(0) + SOLVER.weight_decay * b
        lr = SOLVER.base_lr * (1 + SOLVER.gamma * it) ** -SOLVER.power
        vw = SOLVER.momentum * vw + lr * gw
        vb = SOLVER.momentum * vb + lr * SOLVER.bias_lr_mult * gb
        w, b = w - vw, b - vb
    return w, b


def test_finetuning_follows_caffes_sgd_worked_by_hand():
    images, labels = _data()
    model = _linear()
    w, b = _caffe_by_hand(model, images, labels, iterations=3)
    out = hardpos.finetune(model, images, labels, iterations=3, solver=SOLVER,
                           input_range=(0, 1), progress=False)  # fmt: skip
    np.testing.assert_allclose(out[1].weight.detach().double().numpy(), w, atol=1e-6)
    np.testing.assert_allclose(out[1].bias.detach().double().numpy(), b, atol=1e-6)
    assert not out.training


def test_the_extra_images_join_the_batches_and_a_killed_run_resumes(tmp_path):
    images, labels = _data()
    extra = images[::-1].copy()
    kwargs = {"solver": Solver(batch_size=3, base_lr=0.05), "seed": 3, "progress": False}
    straight = hardpos.finetune(_linear(), images, labels, extra, labels, iterations=5, **kwargs)
    ckpt = tmp_path / "ft.ckpt"
    hardpos.finetune(_linear(), images, labels, extra, labels, iterations=2, checkpoint=ckpt,
                     checkpoint_every=1, **kwargs)  # fmt: skip  # "killed" after 2
    resumed = hardpos.finetune(_linear(), images, labels, extra, labels, iterations=5,
                               checkpoint=ckpt, checkpoint_every=1, **kwargs)  # fmt: skip
    for a, b in zip(straight.parameters(), resumed.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    with pytest.raises(InputError, match="written by another fine-tuning run"):
        hardpos.finetune(_linear(), images, labels, iterations=5, checkpoint=ckpt, **kwargs)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"labels": np.array([0, 1, 2])}, "4 images but labels of shape"),
        ({"labels": np.array([0, 1, 7, 1])}, "label 7, but the model gives 3 classes"),
        ({"iterations": 0}, "iterations: 0; expected at least 1"),
    ],
)
def test_wrong_inputs_are_named(change, message):
    images, labels = _data()
    args = {"images": images, "labels": labels, "iterations": 1, **change}
    with pytest.raises(InputError, match=message):
        hardpos.finetune(_linear(), solver=SOLVER, progress=False, **args)


def test_a_users_cifar_shaped_cnn_learns_its_own_hard_positives():
    """The README's example, small: hard positives of a CNN on [0, 1] images that
    normalises inside, then fine-tuning on them lowers its error on them."""
    torch.manual_seed(0)
    images, labels = stripes(64, seed=1)
    model = SmallCNN()
    hardpos.finetune(model, images, labels, iterations=150, input_range=(0, 1),
                     solver=Solver(base_lr=0.05, batch_size=32), progress=False)  # fmt: skip
    result = hardpos.generate(model, images, labels, methods="fgs", factors=[1.0, 1.5],
                              input_range=(0, 1), progress=False)  # fmt: skip
    hard, hard_labels = result.images, result.table["label"].to_numpy()
    assert len(hard) > 0

    def error_on_hard() -> float:
        with torch.no_grad():
            return float((model(torch.as_tensor(hard)).argmax(1).numpy() != hard_labels).mean())

    before = error_on_hard()
    hardpos.finetune(model, images, labels, hard, hard_labels, iterations=100,
                     input_range=(0, 1), solver=Solver(base_lr=0.02, batch_size=32),
                     progress=False)  # fmt: skip
    assert before > 0.5  # they were adversarial (factor 1.5 beyond the minimal scale)
    assert error_on_hard() < before
