"""Batch sizes from the device's memory (``batch_size: auto``): the arithmetic by hand,
the CPU path equal to today's fixed sizes, bad values named, the CUDA path where a GPU is.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from hardpos.attacks import generate
from hardpos.attacks.classifier import PixelModel
from hardpos.attacks.generation import auto_batch_size
from hardpos.device import CPU_AUTO_BATCH, batch_for_memory, free_memory, peak_bytes_per_item
from hardpos.errors import InputError
from hardpos.similarity import score_generated
from hardpos.similarity.torch_backend import GPU_MAX_PAIRS, gpu_capacity

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


class Linear(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.ip = nn.Linear(28 * 28, 10)

    def logits(self, x):
        return self.ip(x.float().flatten(1) / 255.0)


def _digits(n: int = 40) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    return rng.integers(0, 256, (n, 1, 28, 28), dtype=np.uint8), rng.integers(0, 10, n)


@pytest.mark.parametrize(
    ("free", "per_item", "kwargs", "expected"),
    [
        (1_000_000, 100, {}, 4992),  # half of 1 MB is 5000 items, down to a multiple of 64
        (10_000, 100, {}, 50),  # fewer than one multiple: kept as it is
        (10_000, 100, {"share": 1.0}, 64),  # 100 items fit: down to one multiple
        (10**12, 100, {}, 1 << 16),  # the cap
        (10**12, 100, {"most": 8192, "multiple": 1}, 8192),
        (100, 1000, {}, 1),  # nothing fits: at least one
        (100, 1000, {"least": 4}, 4),
    ],
)
def test_batch_for_memory_by_hand(free, per_item, kwargs, expected):
    assert batch_for_memory(free, per_item, **kwargs) == expected


def test_batch_for_memory_refuses_a_size_per_item_that_is_not_positive():
    with pytest.raises(ValueError, match="bytes_per_item"):
        batch_for_memory(1000, 0)


def test_the_cpu_has_no_memory_figures_and_keeps_its_defaults():
    cpu = torch.device("cpu")
    assert free_memory(cpu) is None
    assert peak_bytes_per_item(lambda n: None, cpu, 8) is None
    model = PixelModel(Linear(), channels=1)
    assert auto_batch_size(model, _digits()[0]) == CPU_AUTO_BATCH
    with pytest.raises(ValueError, match="CUDA"):
        gpu_capacity(784, cpu)


def test_generate_auto_on_the_cpu_is_the_fixed_default():
    images, labels = _digits()
    auto = generate(Linear(), images, labels, methods="fgs,hc-d-3", batch_size="auto")
    fixed = generate(Linear(), images, labels, methods="fgs,hc-d-3", batch_size=CPU_AUTO_BATCH)
    np.testing.assert_array_equal(auto.images, fixed.images)
    pd.testing.assert_frame_equal(auto.table, fixed.table)


@pytest.mark.parametrize("bad", ["big", 0, 2.5, True])
def test_generate_names_a_bad_batch_size(bad):
    images, labels = _digits(4)
    with pytest.raises(InputError, match=r'batch_size must be a positive integer or "auto"'):
        generate(Linear(), images, labels, methods="fgs", batch_size=bad)


def _scored_table(n: int = 12):
    images, _ = _digits(n)
    rng = np.random.default_rng(4)
    noisy = np.clip(images.astype(int) + rng.integers(-20, 21, images.shape), 0, 255)
    return noisy.astype(np.uint8), images, pd.DataFrame({"source": np.arange(n)})


def test_score_generated_auto_on_the_cpu_is_the_fixed_default():
    adv, orig, table = _scored_table()
    auto = score_generated(adv, orig, table, "opencv", batch_size="auto")
    fixed = score_generated(adv, orig, table, "opencv", batch_size=4096)
    pd.testing.assert_frame_equal(auto, fixed)


@pytest.mark.parametrize("bad", ["big", 0, -3])
def test_score_generated_names_a_bad_batch_size(bad):
    adv, orig, table = _scored_table(2)
    with pytest.raises(InputError, match=r'batch_size must be a positive integer or "auto"'):
        score_generated(adv, orig, table, "opencv", batch_size=bad)


@cuda
def test_cuda_auto_batch_sizes_come_from_the_device():
    device = torch.device("cuda")
    model = PixelModel(Linear().to(device), channels=1)
    batch = auto_batch_size(model, _digits()[0])
    assert 64 <= batch <= 1 << 16
    per_pair = peak_bytes_per_item(
        lambda n: (
            model.logits(torch.zeros(n, 1, 28, 28, device=device).requires_grad_()).sum().backward()
        ),
        device,
        256,
    )
    assert per_pair > 0
    capacity = gpu_capacity(28 * 28, device)
    assert 1 <= capacity <= GPU_MAX_PAIRS
    net = Linear().to(device)
    auto_batch_size(PixelModel(net, channels=1), _digits()[0])
    assert all(p.grad is None for p in net.parameters())  # the caller's model is untouched
