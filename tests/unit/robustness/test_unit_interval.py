"""hardpos.robustness.unit_interval: the wrapper feeds the net pixels."""

from __future__ import annotations

import torch
from torch import nn

from hardpos.robustness import UnitInterval


def test_unit_interval_wrapper_feeds_the_net_pixels():
    net = nn.Linear(4, 3)
    x = torch.rand(5, 4)
    torch.testing.assert_close(UnitInterval(net)(x), net(255.0 * x))
