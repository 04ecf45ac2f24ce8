"""Recipes, the generation plan, PASS buckets and the held-out sample."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hardpos.errors import InputError
from hardpos.experiments.recipes import (
    HELDOUT_TYPES,
    Recipe,
    generation_plan,
    parse_recipes,
    parse_type,
    pass_buckets,
    recipe_mask,
    sample_heldout,
    type_names,
)

PAPER = [
    {"name": "FGS", "method": "fgs"},
    {"name": "FGV", "method": "fgv"},
    {"name": "HC-D-5", "method": "hc-d", "k": 5},
    {"name": "HC-S-5", "method": "hc-s", "k": 5},
    {"name": "HC-D-9", "method": "hc-d", "k": 9},
    {"name": "HC-D-9-1.05", "method": "hc-d", "k": 9, "factor": 1.05},
    {"name": "clean", "method": "none"},
]


def _table(rows):
    """A generated table from (method, k, factor, success, pass, label) tuples."""
    frame = pd.DataFrame(rows, columns=["method", "k", "factor", "success", "pass", "label"])
    frame["source"] = np.arange(len(frame))
    return frame


def test_paper_recipes_parse_with_defaults():
    recipes = {r.name: r for r in parse_recipes(PAPER)}
    assert recipes["HC-D-9-1.05"] == Recipe("HC-D-9-1.05", "hc-d", 9, 1.05, None)
    assert recipes["FGS"].k == 1 and recipes["FGS"].factor == 1.0
    assert not recipes["clean"].adversarial


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"name": "x", "method": "lbfgs"}, "method 'lbfgs' is not one of"),
        ({"name": "x", "method": "hc-d", "size": 3}, r"unknown keys \['size'\]"),
        ({"name": "x", "method": "fgs", "factor": 0.9}, "factor 0.9 is below 1"),
        ({"name": "PASS-0.1-0.2", "method": "fgs"}, "buckets' own"),
        ({"method": "fgs"}, "needs a name"),
    ],
)
def test_bad_recipes_name_the_recipe_and_the_problem(entry, message):
    with pytest.raises(InputError, match=message):
        parse_recipes([entry])


def test_type_names_follow_the_paper_and_parse_back():
    table = _table(
        [("fgs", 0, 1.0, True, 0.9, 1), ("hc-d", 3, 1.0, True, 0.9, 1),
         ("hc-s", 1, 1.0, True, 0.9, 1), ("hc-d", 1, 1.05, True, 0.9, 1),
         ("fgv", 0, 1.1, True, 0.9, 1)]
    )  # fmt: skip
    names = list(type_names(table))
    assert names == ["FGS", "HC-3", "HC-S-1", "HC-1x1.05", "FGVx1.10"]
    assert parse_type("HC-1x1.10") == ("hc-d", 1, 1.10)
    assert parse_type("HC-S-1") == ("hc-s", 1, 1.0)
    assert parse_type("FGV") == ("fgv", 0, 1.0)
    with pytest.raises(InputError, match="'HC-D'"):
        parse_type("HC-D")


def test_generation_plan_covers_recipes_buckets_and_heldout_types():
    pool = {"method": "hc-d", "k": 9, "factors": [1.0, 1.2, 1.5]}
    plan = generation_plan(parse_recipes(PAPER), bucket_pool=pool)
    assert plan["train"] == {
        "fgs": {"k": 0, "factors": [1.0]},
        "fgv": {"k": 0, "factors": [1.0]},
        "hc-d": {"k": 9, "factors": [1.0, 1.05, 1.2, 1.5]},
        "hc-s": {"k": 5, "factors": [1.0]},
    }
    assert plan["test"]["hc-d"] == {"k": 9, "factors": [1.0, 1.05, 1.1]}
    assert plan["test"]["hc-s"] == {"k": 1, "factors": [1.0]}
    assert len(HELDOUT_TYPES) == 14


def test_recipe_mask_keeps_successful_rows_of_its_ranks_factor_and_pass():
    table = _table(
        [("hc-d", 1, 1.0, True, 0.95, 1), ("hc-d", 4, 1.0, True, 0.80, 1),
         ("hc-d", 3, 1.10, True, 0.99, 1), ("hc-d", 2, 1.0, False, 0.99, 1),
         ("hc-s", 1, 1.0, True, 0.99, 1)]
    )  # fmt: skip
    recipe = Recipe("r", "hc-d", k=3, factor=1.0)
    assert list(recipe_mask(recipe, table)) == [True, False, False, False, False]
    tau = Recipe("r", "hc-d", k=9, factor=1.0, tau=0.9)
    assert list(recipe_mask(tau, table)) == [True, False, False, False, False]
    scaled = Recipe("r", "hc-d", k=3, factor=1.1)
    assert list(recipe_mask(scaled, table)) == [False, False, True, False, False]


def test_pass_buckets_put_edge_scores_in_the_upper_bucket_and_1_in_the_last():
    """Catches: an edge counted in both buckets or in the lower one (``<=`` below 1.0),
    a score of exactly 1.0 left out of the last bucket, pool rows of other methods, ranks,
    factors or failures let in, ``per_bucket`` ignored. Scores sit exactly on the edges."""
    edges = [0.4, 0.6, 0.8, 1.0]
    scores = [0.4, 0.6, 0.8, 1.0, 0.5, 0.59999, 0.7, 0.79, 0.99, 0.45, 0.65, 1.0]
    rows = [("hc-d", 1 + i % 3, [1.0, 1.2][i % 2], True, s, 0) for i, s in enumerate(scores)]
    rows += [("hc-s", 1, 1.0, True, 0.6, 0), ("hc-d", 4, 1.0, True, 0.6, 0),
             ("hc-d", 1, 1.1, True, 0.6, 0), ("hc-d", 1, 1.0, False, 0.6, 0),
             ("hc-d", 2, 1.0, True, 0.39, 0)]  # fmt: skip
    table = _table(rows)
    # written out by hand: [0.4, 0.6), [0.6, 0.8), [0.8, 1.0] (1.0 itself in the last);
    # four each, so that without per_bucket every bucket takes exactly its members
    members = {
        "PASS-0.40-0.60": [0, 4, 5, 9],
        "PASS-0.60-0.80": [1, 6, 7, 10],
        "PASS-0.80-1.00": [2, 3, 8, 11],
    }
    for per_bucket, count in ((None, 4), (3, 3), (10, 4)):
        buckets = pass_buckets(table, method="hc-d", k=3, factors=[1.0, 1.2], edges=edges,
                               per_bucket=per_bucket, seed=1)  # fmt: skip
        assert list(buckets) == list(members)
        for name, chosen in buckets.items():
            assert len(chosen) == count, (name, per_bucket)
            assert set(chosen.tolist()) <= set(members[name]), name
            assert list(chosen) == sorted(chosen)
            if count == 4:
                assert chosen.tolist() == members[name], name

    def draw(seed):
        return pass_buckets(table, method="hc-d", k=3, factors=[1.0, 1.2], edges=edges,
                            per_bucket=3, seed=seed)  # fmt: skip

    first, again = draw(1), draw(1)
    assert all(np.array_equal(first[n], again[n]) for n in first)
    assert any(not np.array_equal(first[n], d[n]) for d in map(draw, range(2, 6)) for n in d)


def test_heldout_sample_draws_per_type_from_all_nets_and_says_when_a_type_is_missing():
    net_tables = {
        net: _table(
            [("fgs", 0, 1.0, True, 0.9, 3)] * 5 + [("hc-d", 1, 1.05, True, 0.9, 3)] * 5
        ).assign(row=np.arange(10))
        for net in (1, 2)
    }
    sample = sample_heldout(net_tables, types=["FGS", "HC-1x1.05"], per_type=6, seed=0)
    assert list(sample["type"].value_counts().sort_index()) == [6, 6]
    assert set(sample["net"]) == {1, 2}
    with pytest.raises(InputError, match="'HC-2'"):
        sample_heldout(net_tables, types=["HC-2"], per_type=6, seed=0)
