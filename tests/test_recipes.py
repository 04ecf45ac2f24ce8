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


def test_pass_buckets_are_equal_sized_and_within_their_range():
    rng = np.random.default_rng(0)
    scores = rng.uniform(0.4, 1.0, 400)
    table = _table(
        [("hc-d", 1 + i % 9, [1.0, 1.2][i % 2], True, s, 0) for i, s in enumerate(scores)]
    )
    edges = [0.4, 0.6, 0.8, 1.0]
    buckets = pass_buckets(
        table, method="hc-d", k=9, factors=[1.0, 1.2], edges=edges, per_bucket=None, seed=1
    )
    sizes = {name: len(rows) for name, rows in buckets.items()}
    counts = [
        ((scores >= lo) & (scores < hi)).sum() for lo, hi in zip(edges[:-1], edges[1:], strict=True)
    ]
    assert set(sizes.values()) == {min(counts)}
    for (name, rows), lo, hi in zip(buckets.items(), edges[:-1], edges[1:], strict=True):
        assert name == f"PASS-{lo:.2f}-{hi:.2f}"
        assert ((scores[rows] >= lo) & (scores[rows] <= hi)).all()
    again = pass_buckets(
        table, method="hc-d", k=9, factors=[1.0, 1.2], edges=edges, per_bucket=None, seed=1
    )
    assert all(np.array_equal(buckets[n], again[n]) for n in buckets)


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
