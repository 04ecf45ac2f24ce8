"""hardpos.mnist.lenet: Caffe's LeNet, its layer shapes, parameter count, initialisation
and saving."""

from __future__ import annotations

import math

import pytest
import torch

from hardpos.errors import DataError
from hardpos.mnist.lenet import LENET_PARAMETERS, LeNet, save_model


def test_lenet_has_caffes_431080_parameters():
    model = LeNet()
    assert sum(p.numel() for p in model.parameters()) == LENET_PARAMETERS == 431_080
    shapes = {name: tuple(p.shape) for name, p in model.named_parameters()}
    assert shapes == {
        "conv1.weight": (20, 1, 5, 5),
        "conv1.bias": (20,),
        "conv2.weight": (50, 20, 5, 5),
        "conv2.bias": (50,),
        "ip1.weight": (500, 800),
        "ip1.bias": (500,),
        "ip2.weight": (10, 500),
        "ip2.bias": (10,),
    }


def test_xavier_weights_lie_within_caffes_fan_in_bound_and_biases_are_zero():
    model = LeNet(seed=3)
    for layer, fan_in in (
        (model.conv1, 25),
        (model.conv2, 500),
        (model.ip1, 800),
        (model.ip2, 500),
    ):
        bound = math.sqrt(3.0 / fan_in)
        w = layer.weight.detach()
        assert w.abs().max() <= bound
        assert w.abs().max() > 0.95 * bound  # fills the whole interval
        assert abs(float(w.var()) - bound**2 / 3) < 0.15 * bound**2 / 3  # uniform variance
        assert torch.count_nonzero(layer.bias) == 0


def test_same_seed_same_weights_other_seed_other_weights():
    a, b, c = LeNet(seed=1), LeNet(seed=1), LeNet(seed=2)
    assert torch.equal(a.conv1.weight, b.conv1.weight)
    assert not torch.equal(a.conv1.weight, c.conv1.weight)


def test_logits_match_a_hand_written_float64_forward_pass():
    model = LeNet(seed=5).double()
    x = torch.randint(0, 256, (3, 1, 28, 28), dtype=torch.uint8)
    ref = x.double() / 255.0
    ref = torch.nn.functional.conv2d(ref, model.conv1.weight, model.conv1.bias)
    ref = torch.nn.functional.max_pool2d(ref, 2)
    ref = torch.nn.functional.conv2d(ref, model.conv2.weight, model.conv2.bias)
    ref = torch.nn.functional.max_pool2d(ref, 2).reshape(3, -1)
    ref = (
        torch.relu(ref @ model.ip1.weight.T + model.ip1.bias) @ model.ip2.weight.T + model.ip2.bias
    )
    torch.testing.assert_close(model.logits(x), ref, rtol=1e-12, atol=1e-12)


def test_uint8_and_float_pixels_give_the_same_logits():
    model = LeNet(seed=0)
    x = torch.randint(0, 256, (2, 1, 28, 28), dtype=torch.uint8)
    torch.testing.assert_close(model.logits(x), model.logits(x.float()))


@pytest.fixture
def full_disk(tmp_path):
    """A 64 KB tmpfs (root only; skipped where mounting is not allowed)."""
    import subprocess

    folder = tmp_path / "tiny"
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(folder)],
                             capture_output=True, check=False)  # fmt: skip
    if mounted.returncode != 0:
        pytest.skip("cannot mount a small tmpfs here")
    yield folder
    subprocess.run(["umount", str(folder)], check=False)


def test_a_full_disk_while_saving_says_so_with_the_path(full_disk):
    """torch said only "unexpected pos 105280 vs 105176"."""
    with pytest.raises(DataError, match=r"tiny/net.pt: cannot be saved: no space left on device"):
        save_model(full_disk / "net.pt", LeNet(seed=1), {})
    assert list(full_disk.iterdir()) == []  # no half-written file left
