"""hardpos.training.batches: seeded orderings and mixed batches."""

from __future__ import annotations

import pytest
import torch

from hardpos.errors import InputError
from hardpos.training.batches import BatchOrder


def test_batch_order_visits_every_example_once_per_epoch_and_depends_only_on_seed():
    order = BatchOrder(n=10, seed=4, batch_size=4)
    stream = torch.cat([order.indices(i) for i in range(5)])  # 20 positions = 2 epochs
    assert sorted(stream[:10].tolist()) == list(range(10))
    assert sorted(stream[10:].tolist()) == list(range(10))
    assert not torch.equal(stream[:10], stream[10:])
    fresh = BatchOrder(n=10, seed=4, batch_size=4)
    assert torch.equal(fresh.indices(3), order.indices(3))
    assert not torch.equal(BatchOrder(n=10, seed=5, batch_size=4).indices(0), order.indices(0))


def test_mixed_order_puts_the_configured_share_of_extra_examples_in_every_batch():
    from hardpos.training.batches import MixedBatchOrder

    order = MixedBatchOrder(n_original=50, n_extra=7, fraction=0.25, seed=3, batch_size=16)
    for i in range(10):
        idx = order.indices(i)
        assert len(idx) == 16
        assert int((idx >= 50).sum()) == 4
        assert int(idx.max()) < 57
    extra_seen = torch.cat([order.indices(i)[12:] for i in range(7)])  # 28 = 4 passes of 7
    assert sorted(extra_seen[:7].tolist()) == list(range(50, 57))


def test_mixed_order_rejects_a_fraction_outside_zero_one():
    from hardpos.training.batches import MixedBatchOrder

    with pytest.raises(InputError, match="strictly between 0 and 1, got 1.5"):
        MixedBatchOrder(n_original=50, n_extra=7, fraction=1.5, seed=3, batch_size=16)
