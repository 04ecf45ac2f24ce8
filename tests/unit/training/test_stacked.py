"""Stacked training: each net of a stack follows the net trained alone, and resumes exactly."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from paths import REPO

from hardpos.errors import InputError, ModelError
from hardpos.metrics.classification import predict
from hardpos.training.batches import BatchOrder, MixedBatchOrder
from hardpos.training.checkpoints import save_checkpoint
from hardpos.training.lenet_training import train
from hardpos.training.solver import Solver
from hardpos.training.stacked import (
    load_stacked_checkpoint,
    stacked_batch_indices,
    train_stacked,
)

from ..conftest import _max_difference, _toy_data, _weights_equal


def test_each_stacked_net_equals_the_net_trained_alone_on_real_mnist(real_mnist):
    """2 nets on the real 60K images against the same seeds trained alone. For 20
    iterations every weight stays within float rounding of its net alone: the stacked step
    is the same arithmetic. Training then amplifies the rounding (a ReLU or max-pool that
    switches), by how much depends on the processor's kernels, so after 200 iterations
    only the predictions are held to agree. Measured on an AMD Zen 5 (AVX-512): 6e-8 at
    20 iterations, 3e-3 at 200 with 99.9% of the 10K test predictions equal; on an
    earlier AVX2 EPYC 1.3e-5 at 200 with every prediction equal."""
    from hardpos.mnist.idx import load_mnist

    images, labels = load_mnist(real_mnist, "train")
    test_images, _ = load_mnist(real_mnist, "test")
    seeds = [1, 2]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # both ways alike, and quick on a shared machine
    try:
        for iterations in (20, 200):
            stacked = train_stacked(images, labels, seeds=seeds, iterations=iterations)
            alones = [train(images, labels, seed=seed, iterations=iterations) for seed in seeds]
            for seed, net, alone in zip(seeds, stacked, alones, strict=True):
                assert net.iteration == alone.iteration == iterations
                if iterations == 20:  # the weights move by ~1e-2 in 20 steps
                    assert _max_difference(net.model, alone.model) < 1e-6, seed
                    for v, w in zip(net.momentum, alone.momentum, strict=True):
                        assert float((v - w).abs().max()) < 1e-7
                else:
                    assert _max_difference(net.model, alone.model) < 2e-2, seed
                    same = predict(net.model, test_images) == predict(alone.model, test_images)
                    assert float(np.mean(same)) >= 0.995, seed
    finally:
        torch.set_num_threads(threads)
    # the nets are not one net twice: different seeds, different weights
    assert _max_difference(stacked[0].model, stacked[1].model) > 1e-2


@pytest.mark.parametrize("kernel", ["grouped", "vmap"])
def test_fine_tuning_a_stack_from_one_checkpoint_with_mixed_batches_equals_each_alone(
    tmp_path, kernel
):
    images, labels = _toy_data()
    solver = Solver(batch_size=16)
    base = tmp_path / "base.pt"
    train(images, labels, seed=1, iterations=10, solver=solver, checkpoint=base)
    extra_images, extra_labels = _toy_data(40, seed=9)
    all_images = np.concatenate([images, extra_images])
    all_labels = np.concatenate([labels, extra_labels])
    kwargs = dict(iterations=30, solver=solver, init=base, n_extra=40, extra_fraction=0.25)
    stacked = train_stacked(all_images, all_labels, seeds=[4, 5], kernel=kernel, **kwargs)
    for seed, net in zip([4, 5], stacked, strict=True):
        alone = train(all_images, all_labels, seed=seed, **kwargs)
        assert net.iteration == 30
        assert _max_difference(net.model, alone.model) < 1e-5


def test_stacked_logits_are_each_nets_own_logits_in_float64():
    """The grouped layers against each LeNet on its own batch, in float64 (no rounding to
    hide a channel mixed up between nets)."""
    from hardpos.mnist.lenet import LeNet
    from hardpos.training.stacked import stacked_logits

    nets = [LeNet(seed=s).double() for s in (1, 2, 3)]
    params = {
        name: torch.stack([dict(n.named_parameters())[name].detach() for n in nets])
        for name, _ in nets[0].named_parameters()
    }
    images, _ = _toy_data(3 * 7)
    x = torch.as_tensor(images, dtype=torch.float64).reshape(3, 7, 1, 28, 28)
    logits = stacked_logits(params, x, nets[0].input_scale)
    assert logits.shape == (3, 7, 10)
    for k, net in enumerate(nets):
        torch.testing.assert_close(logits[k], net(x[k]), rtol=0, atol=1e-12)


def test_the_grouped_kernel_gives_each_nets_own_gradients_on_real_mnist(real_mnist):
    """One step of the grouped kernel against each net's own autograd, float32."""
    import torch.nn.functional as F

    from hardpos.mnist.idx import load_mnist
    from hardpos.mnist.lenet import LeNet
    from hardpos.training.stacked import _grouped_step

    images, labels = load_mnist(real_mnist, "train")
    x = torch.as_tensor(images[:192], dtype=torch.float32).reshape(3, 64, 1, 28, 28)
    y = torch.as_tensor(labels[:192], dtype=torch.int64).reshape(3, 64)
    nets = [LeNet(seed=s) for s in (1, 2, 3)]
    params = {
        name: torch.stack([dict(n.named_parameters())[name].detach() for n in nets])
        for name, _ in nets[0].named_parameters()
    }
    grads, losses = _grouped_step(nets[0].input_scale)(params, x, y)
    for k, net in enumerate(nets):
        loss = F.cross_entropy(net(x[k]), y[k])
        loss.backward()
        assert float(losses[k]) == pytest.approx(float(loss), rel=1e-6)
        for name, p in net.named_parameters():
            torch.testing.assert_close(grads[name][k], p.grad, rtol=1e-5, atol=1e-6)


def test_an_unknown_kernel_is_refused():
    images, labels = _toy_data()
    with pytest.raises(InputError, match="kernel 'fast' is not one of grouped, vmap"):
        train_stacked(images, labels, seeds=[1, 2], iterations=1, kernel="fast")


def test_a_stack_of_nets_from_scratch_and_from_checkpoints_must_agree_on_the_iteration(tmp_path):
    images, labels = _toy_data()
    base = tmp_path / "base.pt"
    train(images, labels, seed=1, iterations=3, solver=Solver(batch_size=16), checkpoint=base)
    with pytest.raises(InputError, match=r"start at one iteration, got \[0, 3\]"):
        train_stacked(images, labels, seeds=[1, 2], iterations=5, init=[None, base])


def test_batch_rows_follow_each_nets_own_order():
    orders = [BatchOrder(50, seed, 16) for seed in (3, 8)]
    mixed = [MixedBatchOrder(40, 10, 0.25, seed, 16) for seed in (3, 8)]
    for it in (0, 3, 7):  # 7 * 16 crosses the second epoch boundary of 50
        idx = stacked_batch_indices(orders, it, torch.device("cpu"))
        assert idx.shape == (2, 16)
        assert torch.equal(idx[0], BatchOrder(50, 3, 16).indices(it))
        assert torch.equal(idx[1], BatchOrder(50, 8, 16).indices(it))
        assert not torch.equal(idx[0], idx[1])
        both = stacked_batch_indices(mixed, it, torch.device("cpu"))
        assert torch.equal(both[1], MixedBatchOrder(40, 10, 0.25, 8, 16).indices(it))


def test_resuming_a_stack_from_its_checkpoint_equals_one_uninterrupted_run(tmp_path):
    images, labels = _toy_data()
    solver = Solver(batch_size=16)
    whole = train_stacked(images, labels, seeds=[2, 6, 9], iterations=20, solver=solver)
    ckpt = tmp_path / "stack.ckpt"
    train_stacked(images, labels, seeds=[2, 6, 9], iterations=12, solver=solver, checkpoint=ckpt,
                  checkpoint_every=5)  # fmt: skip
    state, blob = load_stacked_checkpoint(ckpt, torch.device("cpu"))
    assert state.iteration == 12 and state.n_nets == 3 and blob["seeds"] == [2, 6, 9]
    resumed = train_stacked(images, labels, seeds=[2, 6, 9], iterations=20, solver=solver,
                            checkpoint=ckpt)  # fmt: skip
    for a, b in zip(whole, resumed, strict=True):
        assert b.iteration == 20
        assert _weights_equal(a.model, b.model)
        assert all(torch.equal(v, w) for v, w in zip(a.momentum, b.momentum, strict=True))


def test_a_stacked_checkpoint_for_other_seeds_is_not_resumed(tmp_path):
    images, labels = _toy_data()
    solver = Solver(batch_size=16)
    ckpt = tmp_path / "stack.ckpt"
    train_stacked(images, labels, seeds=[1, 2], iterations=6, solver=solver, checkpoint=ckpt)
    fresh = train_stacked(images, labels, seeds=[1, 3], iterations=6, solver=solver,
                          checkpoint=ckpt)  # fmt: skip
    reference = train_stacked(images, labels, seeds=[1, 3], iterations=6, solver=solver)
    assert _weights_equal(fresh[1].model, reference[1].model)


def test_a_one_net_checkpoint_is_not_mistaken_for_a_stacked_one(tmp_path):
    images, labels = _toy_data()
    single = train(images, labels, seed=1, iterations=2, solver=Solver(batch_size=16))
    save_checkpoint(tmp_path / "one.ckpt", single, {"seed": 1})
    with pytest.raises(ModelError, match=r"one.ckpt: not a hardpos stacked training checkpoint"):
        load_stacked_checkpoint(tmp_path / "one.ckpt", torch.device("cpu"))


def test_wrong_stacks_are_rejected():
    images, labels = _toy_data(8)
    with pytest.raises(InputError, match=r"distinct seeds, got \[1, 1\]"):
        train_stacked(images, labels, seeds=[1, 1], iterations=1)
    with pytest.raises(InputError, match="at least one seed"):
        train_stacked(images, labels, seeds=[], iterations=1)
    with pytest.raises(InputError, match="2 seeds but 3 initial checkpoints"):
        train_stacked(images, labels, seeds=[1, 2], iterations=1, init=[None, None, None])
    with pytest.raises(InputError, match="8 training images but 7 labels"):
        train_stacked(images, labels[:7], seeds=[1], iterations=1)


_KILLABLE = """
import sys, numpy as np, torch
sys.path.insert(0, {src!r})
torch.set_num_threads(1)
from hardpos.training.solver import Solver
from hardpos.training.stacked import train_stacked
images = np.load({data!r})["images"]; labels = np.load({data!r})["labels"]
train_stacked(images, labels, seeds=[7, 8], iterations=100000, solver=Solver(batch_size=16),
              checkpoint={ckpt!r}, checkpoint_every=7)
"""


def test_a_killed_stack_resumes_to_the_same_weights(tmp_path):
    """SIGKILL a real stacked training process mid-run; resuming gives the uninterrupted
    result for every net."""
    images, labels = _toy_data()
    np.savez(tmp_path / "data.npz", images=images, labels=labels)
    ckpt = tmp_path / "run.ckpt"
    src = str(REPO / "src")
    script = _KILLABLE.format(src=src, data=str(tmp_path / "data.npz"), ckpt=str(ckpt))
    proc = subprocess.Popen([sys.executable, "-c", script])
    deadline = time.monotonic() + 180
    while not ckpt.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    time.sleep(0.3)  # let it run past the first checkpoint, between two writes
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    reached = load_stacked_checkpoint(ckpt, torch.device("cpu"))[0].iteration
    assert reached >= 7 and reached % 7 == 0
    target = reached + 9
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        kwargs = dict(seeds=[7, 8], iterations=target, solver=Solver(batch_size=16))
        resumed = train_stacked(images, labels, checkpoint=ckpt, **kwargs)
        whole = train_stacked(images, labels, **kwargs)
    finally:
        torch.set_num_threads(threads)
    for a, b in zip(whole, resumed, strict=True):
        assert _weights_equal(a.model, b.model)


@pytest.mark.slow
def test_the_compiled_step_gives_the_eager_weights():
    """``compile_step`` (torch.compile; a CUDA graph on CUDA) changes speed, not results.
    Slow: inductor compiles C++ for the step (about 2 minutes here, more under load)."""
    images, labels = _toy_data()
    solver = Solver(batch_size=16)
    eager = train_stacked(images, labels, seeds=[1, 2], iterations=5, solver=solver)
    compiled = train_stacked(images, labels, seeds=[1, 2], iterations=5, solver=solver,
                             compile_step=True)  # fmt: skip
    for a, b in zip(eager, compiled, strict=True):
        assert _max_difference(a.model, b.model) < 1e-5


@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_the_images_stay_on_the_device_and_the_nets_come_back_on_the_cpu(device):
    if device == "cuda" and not torch.cuda.is_available():
        pytest.skip("no CUDA device here")
    images, labels = _toy_data()
    solver = Solver(batch_size=16)
    nets = train_stacked(images, labels, seeds=[1, 2], iterations=4, solver=solver, device=device)
    alone = train(images, labels, seed=2, iterations=4, solver=solver)
    assert nets[1].model.ip2.weight.device.type == "cpu"
    assert _max_difference(nets[1].model, alone.model) < 1e-5
