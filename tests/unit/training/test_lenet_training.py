"""hardpos.training.lenet_training: deterministic, resumable LeNet training and fine-tuning,
and wrong inputs refused."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from paths import REPO

from hardpos.errors import InputError, TrainingError
from hardpos.metrics.classification import error_rate
from hardpos.training.checkpoints import load_checkpoint
from hardpos.training.lenet_training import train
from hardpos.training.solver import Solver

from ..conftest import _toy_data


def test_an_init_already_past_the_iterations_is_refused(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (8, 28, 28), dtype=np.uint8)
    labels = np.arange(8) % 10
    checkpoint = tmp_path / "first.ckpt"
    train(images, labels, seed=1, iterations=3, checkpoint=checkpoint, checkpoint_every=3)
    with pytest.raises(InputError, match="is at iteration 3 already, and iterations is 3"):
        train(images, labels, seed=1, iterations=3, init=checkpoint)


def test_training_is_deterministic_for_a_seed():
    images, labels = _toy_data()
    a = train(images, labels, seed=3, iterations=8, solver=Solver(batch_size=16))
    b = train(images, labels, seed=3, iterations=8, solver=Solver(batch_size=16))
    for (name, p), q in zip(
        a.model.state_dict().items(), b.model.state_dict().values(), strict=True
    ):
        assert torch.equal(p, q), name


def test_a_diverging_run_stops_naming_the_iteration_and_writes_no_broken_checkpoint(tmp_path):
    images, labels = _toy_data()
    ckpt = tmp_path / "c.pt"
    wild = Solver(batch_size=16, base_lr=1e6)
    with pytest.raises(
        TrainingError, match=r"diverged by iteration 4 .*lower the solver's base_lr"
    ):
        train(images, labels, seed=3, iterations=8, solver=wild, checkpoint_every=4,
              checkpoint=ckpt)  # fmt: skip
    assert not ckpt.exists()  # nothing broken for a rerun to resume from


def test_continuing_from_a_checkpoint_equals_one_uninterrupted_run(tmp_path):
    images, labels = _toy_data()
    solver = Solver(batch_size=16)
    whole = train(images, labels, seed=2, iterations=20, solver=solver)
    ckpt = tmp_path / "c.pt"
    train(images, labels, seed=2, iterations=12, solver=solver, checkpoint=ckpt)
    assert load_checkpoint(ckpt, torch.device("cpu"))[0].iteration == 12
    resumed = train(images, labels, seed=2, iterations=20, solver=solver, checkpoint=ckpt)
    assert resumed.iteration == 20
    for p, q in zip(whole.model.parameters(), resumed.model.parameters(), strict=True):
        assert torch.equal(p, q)


_KILLABLE = """
import sys, numpy as np, torch
sys.path.insert(0, {src!r})
torch.set_num_threads(1)
from hardpos.training.solver import Solver
from hardpos.training.lenet_training import train
images = np.load({data!r})["images"]; labels = np.load({data!r})["labels"]
train(images, labels, seed=7, iterations=100000, solver=Solver(batch_size=16),
      checkpoint={ckpt!r}, checkpoint_every=7)
"""


def test_a_killed_run_resumes_to_the_same_weights(tmp_path):
    """SIGKILL a real training process mid-run; resuming gives the uninterrupted result."""
    images, labels = _toy_data()
    np.savez(tmp_path / "data.npz", images=images, labels=labels)
    ckpt = tmp_path / "run.ckpt"
    src = REPO / "src"
    script = _KILLABLE.format(
        src=os.path.abspath(src), data=str(tmp_path / "data.npz"), ckpt=str(ckpt)
    )
    proc = subprocess.Popen([sys.executable, "-c", script])
    deadline = time.monotonic() + 120
    while not ckpt.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    time.sleep(0.3)  # let it run past the first checkpoint, between two writes
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    reached = load_checkpoint(ckpt, torch.device("cpu"))[0].iteration
    assert reached >= 7 and reached % 7 == 0
    target = reached + 9
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        resumed = train(
            images, labels, seed=7, iterations=target, solver=Solver(batch_size=16), checkpoint=ckpt
        )
        whole = train(images, labels, seed=7, iterations=target, solver=Solver(batch_size=16))
    finally:
        torch.set_num_threads(threads)
    for p, q in zip(whole.model.parameters(), resumed.model.parameters(), strict=True):
        assert torch.equal(p, q)


def test_wrong_training_input_is_rejected():
    images, labels = _toy_data(8)
    with pytest.raises(InputError, match="must be uint8"):
        train(images.astype(np.float32), labels, seed=0, iterations=1)
    with pytest.raises(InputError, match="8 training images but 7 labels"):
        train(images, labels[:7], seed=0, iterations=1)
    with pytest.raises(InputError, match="labels must lie in 0..9"):
        train(images, labels + 10, seed=0, iterations=1)


def test_a_few_hundred_iterations_learn_real_mnist(real_mnist):
    from hardpos.mnist.idx import load_mnist

    images, labels = load_mnist(real_mnist, "train")
    test_images, test_labels = load_mnist(real_mnist, "test")
    state = train(images, labels, seed=0, iterations=300)
    assert error_rate(state.model, test_images[:2000], test_labels[:2000])["error"] < 0.08


def test_a_checkpoint_from_another_seed_is_not_resumed(tmp_path):
    images, labels = _toy_data()
    solver = Solver(batch_size=16)
    ckpt = tmp_path / "c.pt"
    train(images, labels, seed=1, iterations=6, solver=solver, checkpoint=ckpt)
    fresh = train(images, labels, seed=2, iterations=6, solver=solver, checkpoint=ckpt)
    reference = train(images, labels, seed=2, iterations=6, solver=solver)
    assert torch.equal(fresh.model.ip2.weight, reference.model.ip2.weight)


def _hand_caffe_steps(state: dict, images, labels, first: int, last: int, solver: Solver,
                      momentum: list[torch.Tensor]) -> dict:  # fmt: skip
    """Caffe's solver written out again, in float64, for full batches: iterations
    ``first .. last - 1`` from the weights ``state`` and the momentum buffers given
    (in parameter order); a parameter is a bias when its name ends in "bias"."""
    from hardpos.mnist.lenet import LeNet as Net

    net = Net(input_scale=1 / 255).double()
    net.load_state_dict(state)
    names = [name for name, _ in net.named_parameters()]
    params = [p for _, p in net.named_parameters()]
    velocity = [m.detach().double().clone() for m in momentum]
    x = torch.as_tensor(images, dtype=torch.float64).unsqueeze(1)
    y = torch.as_tensor(labels, dtype=torch.int64)
    for it in range(first, last):
        lr = solver.base_lr * (1 + solver.gamma * it) ** -solver.power
        loss = F.cross_entropy(net.logits(x), y)
        grads = torch.autograd.grad(loss, params)
        with torch.no_grad():
            for name, p, g, v in zip(names, params, grads, velocity, strict=True):
                mult = 2.0 if name.endswith("bias") else 1.0
                v.mul_(solver.momentum).add_(lr * mult * (g + solver.weight_decay * p))
                p.sub_(v)
    return {name: p.detach() for name, p in zip(names, params, strict=True)}


def _assert_weights_equal(model, expected: dict, **tolerance) -> None:
    for name, p in model.named_parameters():
        torch.testing.assert_close(p.detach().double(), expected[name], msg=name, **tolerance)


def test_fine_tuning_continues_the_base_checkpoint_as_a_hand_written_solver_would(tmp_path):
    """Catches: ``init`` ignored (fresh weights), momentum or iteration counter not carried
    on (the lr policy restarting at 0), biases not at twice the rate. Full batches, so the
    order of examples does not matter; gamma 0.05 makes the lr at 10 differ from lr at 0."""
    images, labels = _toy_data(32)
    solver = Solver(batch_size=32, gamma=0.05)
    base = tmp_path / "base.pt"
    train(images, labels, seed=1, iterations=10, solver=solver, checkpoint=base)
    blob = torch.load(base, weights_only=True)  # read here, not through load_checkpoint
    assert blob["iteration"] == 10
    other_images, other_labels = _toy_data(32, seed=9)
    tuned = train(other_images, other_labels, seed=5, iterations=14, solver=solver, init=base)
    assert tuned.iteration == 14
    expected = _hand_caffe_steps(
        blob["model"], other_images, other_labels, 10, 14, solver, blob["momentum"]
    )
    _assert_weights_equal(tuned.model, expected, rtol=2e-4, atol=2e-6)


def test_biases_learn_at_twice_the_rate_in_train():
    """Catches: the bias lr multiplier dropped (or applied to the weights). One step from
    the seed's initial weights with zero momentum: w1 = w0 - lr (g + wd w0), and the
    biases (zero at the start) move by -2 lr g exactly."""
    from hardpos.mnist.lenet import LeNet as Net

    images, labels = _toy_data(16)
    solver = Solver(batch_size=16)
    start = Net(seed=4).double()
    assert all(
        float(p.detach().abs().max()) == 0 for n, p in start.named_parameters() if "bias" in n
    )
    expected = _hand_caffe_steps(
        start.state_dict(), images, labels, 0, 1, solver,
        [torch.zeros_like(p) for p in start.parameters()],
    )  # fmt: skip
    one = train(images, labels, seed=4, iterations=1, solver=solver)
    _assert_weights_equal(one.model, expected, rtol=1e-4, atol=1e-7)
    x = torch.as_tensor(images, dtype=torch.float64).unsqueeze(1)
    loss = F.cross_entropy(start.logits(x), torch.as_tensor(labels))
    g_bias = torch.autograd.grad(loss, start.ip2.bias)[0]
    torch.testing.assert_close(
        one.model.ip2.bias.detach().double(), -2 * 0.01 * g_bias, rtol=1e-4, atol=1e-8
    )
