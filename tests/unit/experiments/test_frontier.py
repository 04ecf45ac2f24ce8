"""hardpos.experiments.frontier: hard positives at the PASS frontier against a brute-force
scan of every scale."""

from __future__ import annotations

import numpy as np
import pytest

from hardpos.attacks.search import perturb
from hardpos.errors import InputError
from hardpos.experiments.frontier import pass_frontier

from .conftest import _brute_force, _case


@pytest.mark.parametrize("chunk", [1, 3, 20])
def test_frontier_matches_a_brute_force_scan_of_every_scale(chunk):
    images, directions, s_min = _case()
    factors = np.round(np.arange(1.0, 3.01, 0.25), 2)
    tau = 0.8
    expected = _brute_force(images, directions, s_min, factors, tau)
    assert len(set(expected)) > 1  # the images stop at different scales
    found = pass_frontier(
        images, directions, s_min, tau=tau, factors=factors, chunk=chunk, backend="opencv"
    )
    np.testing.assert_array_equal(found.index, expected)
    for i, j in enumerate(expected):
        if j < 0:
            continue
        image = perturb(images[i : i + 1], directions[i : i + 1], factors[j] * s_min[i])
        np.testing.assert_array_equal(found.images[i], image[0])
        assert found.pass_score[i] >= tau
    # the walk stops at the first drop: fewer scores than the full grid when chunks are small
    if chunk == 1:
        assert found.evaluated < len(images) * len(factors)


def test_frontier_stops_at_the_first_drop_even_if_a_later_scale_recovers():
    images = np.full((1, 28, 28), 100, np.uint8)
    directions = np.ones((1, 28, 28))
    factors = [1.0, 2.0, 3.0, 4.0, 5.0]
    # a made-up score from the perturbation size: 10, 20, 30, 40, 50 grey levels
    table = {10: 0.95, 20: 0.91, 30: 0.5, 40: 0.99, 50: 0.99}

    def score(adv, orig):
        return np.array([table[int(a.max()) - 100] for a in adv])

    found = pass_frontier(images, directions, [10.0], tau=0.9, factors=factors, score=score)
    assert found.index[0] == 1 and found.factor[0] == 2.0
    assert found.pass_score[0] == pytest.approx(0.91)
    none = pass_frontier(images, directions, [10.0], tau=0.96, factors=factors, score=score)
    assert none.index[0] == -1 and np.isnan(none.factor[0])


def test_frontier_factors_must_ascend():
    images, directions, s_min = _case(1)
    with pytest.raises(InputError, match="ascending"):
        pass_frontier(images, directions, s_min, tau=0.9, factors=[1.0, 1.0], backend="opencv")
