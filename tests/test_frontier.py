"""Hard positives at the PASS frontier against a brute-force scan of every scale."""

from __future__ import annotations

import numpy as np
import pytest

from hardpos.attacks.search import perturb
from hardpos.errors import InputError
from hardpos.experiments.frontier import pass_frontier
from hardpos.pass_score import pass_score


def _case(n: int = 4, seed: int = 0):
    rng = np.random.default_rng(seed)
    images = np.zeros((n, 28, 28), np.uint8)
    for i in range(n):  # a bright bar per image, so ECC has structure to align
        images[i, 6 + 3 * i : 12 + 3 * i, 5:23] = 200 + 10 * i
    images = np.clip(images + rng.integers(0, 30, images.shape), 0, 255).astype(np.uint8)
    directions = np.sign(rng.normal(size=images.shape))
    s_min = rng.uniform(4.0, 12.0, n)
    return images, directions, s_min


def _brute_force(images, directions, s_min, factors, tau):
    """Every scale scored one at a time with the OpenCV reference; the frontier is the last
    scale of the leading run with PASS >= tau."""
    index = []
    for i in range(len(images)):
        last = -1
        for j, c in enumerate(factors):
            adv = perturb(images[i : i + 1], directions[i : i + 1], c * s_min[i])
            if pass_score(adv, images[i : i + 1], "opencv").scores[0] < tau:
                break
            last = j
        index.append(last)
    return np.array(index)


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
