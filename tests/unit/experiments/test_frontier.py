"""Hard positives at the PASS frontier against a brute-force scan of every scale: the
image-level search for a user's model and the recipe's selection from a generated table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hardpos.attacks.search import perturb
from hardpos.errors import InputError
from hardpos.experiments.frontier import pass_frontier
from hardpos.experiments.recipes import generation_plan, parse_recipes, recipe_mask
from hardpos.similarity import pass_score


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


def _generated_table(images, directions, s_min, factors):
    """What generate and score_pass leave for these directions: one row per (direction,
    factor), all misclassified, PASS by the OpenCV reference (source i, hot rank 1)."""
    rows = []
    for i in range(len(images)):
        for c in factors:
            adv = perturb(images[i : i + 1], directions[i : i + 1], c * s_min[i])
            score = pass_score(adv, images[i : i + 1], "opencv").scores[0]
            rows.append({"source": i, "method": "hc-d", "k": 1, "factor": c, "success": True,
                         "pass": score})  # fmt: skip
    return pd.DataFrame(rows)


def test_frontier_recipe_picks_the_brute_force_scale_of_each_direction_from_the_table():
    images, directions, s_min = _case()
    factors = [1.0, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0]
    expected = _brute_force(images, directions, s_min, factors, 0.8)
    assert len(set(expected)) > 1
    (recipe,) = parse_recipes(
        [{"name": "HC-D-1-frontier-0.8", "method": "hc-d", "k": 1, "factor": "frontier",
          "tau": 0.8, "frontier_factors": factors}]
    )  # fmt: skip
    table = _generated_table(images, directions, s_min, factors)
    chosen = table[recipe_mask(recipe, table)]
    found = dict(zip(chosen["source"], chosen["factor"], strict=True))
    assert found == {i: factors[j] for i, j in enumerate(expected) if j >= 0}


def test_frontier_recipe_by_hand_stops_at_a_miss_or_a_drop_and_skips_directions_below_tau():
    (recipe,) = parse_recipes(
        [{"name": "F", "method": "hc-d", "k": 2, "factor": "frontier", "tau": 0.9,
          "frontier_factors": [1.0, 1.1, 1.2]}]
    )  # fmt: skip
    rows = [
        # source, k, factor, success, pass
        (0, 1, 1.0, True, 0.99), (0, 1, 1.1, True, 0.95), (0, 1, 1.2, True, 0.92),  # -> 1.2
        (0, 2, 1.0, True, 0.97), (0, 2, 1.1, False, 0.96), (0, 2, 1.2, True, 0.95),  # -> 1.0
        (1, 1, 1.0, True, 0.93), (1, 1, 1.1, True, 0.85), (1, 1, 1.2, True, 0.99),  # -> 1.0
        (1, 2, 1.0, True, 0.80), (1, 2, 1.1, True, 0.99), (1, 2, 1.2, True, 0.99),  # none
        (2, 3, 1.0, True, 0.99), (2, 3, 1.1, True, 0.99), (2, 3, 1.2, True, 0.99),  # rank 3
        (3, 1, 1.05, True, 0.99),  # a factor off the grid
    ]  # fmt: skip
    table = pd.DataFrame(rows, columns=["source", "k", "factor", "success", "pass"])
    table["method"] = "hc-d"
    table = table.sample(frac=1.0, random_state=0)  # the walk must not rely on row order
    chosen = table[recipe_mask(recipe, table)]
    picked = sorted(zip(chosen["source"], chosen["k"], chosen["factor"], strict=True))
    assert picked == [(0, 1, 1.2), (0, 2, 1.0), (1, 1, 1.0)]


def test_frontier_recipe_generates_its_grid_and_refuses_a_table_that_lacks_part_of_it():
    (recipe,) = parse_recipes(
        [{"name": "F", "method": "hc-d", "k": 9, "factor": "frontier", "tau": 0.9}]
    )
    assert recipe.frontier_factors == (1.0, 1.1, 1.2, 1.3, 1.4, 1.5)  # the bucket pool's
    plan = generation_plan([recipe], heldout_types=[])
    assert plan["train"]["hc-d"] == {"k": 9, "factors": [1.0, 1.1, 1.2, 1.3, 1.4, 1.5]}
    table = pd.DataFrame({"source": [0, 0], "method": "hc-d", "k": 1, "factor": [1.0, 1.1],
                          "success": True, "pass": 0.99})  # fmt: skip
    with pytest.raises(InputError, match=r"lacks some of frontier_factors.*source 0, k 1"):
        recipe_mask(recipe, table)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"factor": "frontier"}, "needs tau"),
        ({"factor": "frontier", "tau": 0.9, "frontier_factors": [1.1, 1.2]}, "start at 1.0"),
        ({"factor": "frontier", "tau": 0.9, "frontier_factors": [1.0, 1.2, 1.1]}, "ascend"),
        ({"factor": 1.05, "tau": 0.9, "frontier_factors": [1.0, 1.1]}, "needs factor: frontier"),
    ],
)
def test_bad_frontier_recipes_name_the_recipe_and_the_problem(entry, message):
    with pytest.raises(InputError, match=message):
        parse_recipes([{"name": "F", "method": "hc-d", "k": 9, **entry}])
