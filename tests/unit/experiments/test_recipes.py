"""hardpos.experiments.recipes: Table 1's recipes parsed and checked, type names, the
generation plan, PASS buckets, the held-out sample (with its delta), frontier and
objective recipes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hardpos.attacks.search import perturb
from hardpos.errors import InputError
from hardpos.experiments.recipes import (
    HELDOUT_TYPES,
    Recipe,
    generation_plan,
    heldout_factor,
    parse_recipes,
    parse_type,
    pass_buckets,
    recipe_mask,
    sample_heldout,
    type_names,
)
from hardpos.similarity import pass_score
from hardpos.training.adversarial_objectives import (
    FGSObjective,
    objective_from_recipe,
)

from .conftest import _brute_force, _case


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


def _net_table(net: int) -> pd.DataFrame:
    """FGS and HC-1 rows of one base net at each factor a held-out type could ask for; the
    source number encodes the factor, so the test sees which rows were picked."""
    rows = []
    for factor in (1.0, 1.05, 1.2, 1.26):
        for method, k in (("fgs", 0), ("hc-d", 1)):
            for i in range(4):
                rows.append(dict(method=method, k=k, factor=factor, success=True, label=3,
                                 source=int(round(factor * 100)) * 10 + i))  # fmt: skip
    frame = pd.DataFrame(rows)
    return frame.assign(row=np.arange(len(frame)), net=net)


def test_heldout_types_are_taken_at_their_factor_times_one_plus_delta():
    tables = {net: _net_table(net) for net in (1, 2)}
    types = ["FGS", "HC-1x1.05"]
    at_boundary = sample_heldout(tables, types=types, per_type=8, seed=0)
    beyond = sample_heldout(tables, types=types, per_type=8, seed=0, delta=0.2)
    for sample, fgs, hc in ((at_boundary, 1.0, 1.05), (beyond, 1.2, 1.26)):
        by_type = sample.groupby("type")["factor"].unique()
        assert list(by_type["FGS"]) == [fgs]  # 1.2 = 1.0 x (1 + 0.2)
        assert list(by_type["HC-1x1.05"]) == [hc]  # 1.26 = 1.05 x 1.2: factors multiply
        assert set(sample[sample["type"] == "FGS"]["method"]) == {"fgs"}


def test_delta_zero_draws_exactly_what_the_type_names_say():
    tables = {1: _net_table(1)}
    sample = sample_heldout(tables, types=["FGS"], per_type=4, seed=0, delta=0.0)
    assert sorted(sample["source"]) == [1000, 1001, 1002, 1003]


def test_the_generation_plan_makes_the_test_split_at_the_shifted_factors():
    plan = generation_plan([], heldout_types=["FGS", "HC-1", "HC-1x1.05"], heldout_delta=0.1)
    assert plan["test"]["fgs"]["factors"] == [1.0, 1.1]  # 1.0: the search's own image
    assert plan["test"]["hc-d"]["factors"] == [1.0, 1.1, 1.155]
    assert plan["train"] == {}


def test_a_delta_with_no_generated_images_names_the_type_and_scale():
    with pytest.raises(InputError, match=r"'FGS' at 1.3 x s_min \(delta 0.3\)"):
        sample_heldout({1: _net_table(1)}, types=["FGS"], per_type=4, seed=0, delta=0.3)


def test_a_negative_delta_is_refused():
    assert heldout_factor(1.05, 0.05) == pytest.approx(1.1025)
    with pytest.raises(InputError, match="heldout delta -0.1"):
        heldout_factor(1.0, -0.1)


def test_objective_recipes_parse_draw_no_generated_images_and_check_their_settings():
    from hardpos.experiments.recipes import generation_plan, parse_recipes

    recipes = parse_recipes(
        [
            {"name": "PGD-AT", "method": "pgd-at", "eps": 0.3, "step_size": 0.1, "steps": 7},
            {"name": "FGS-objective", "method": "fgs-objective", "alpha": 0.5, "eps": 0.25},
        ]
    )
    assert [r.adversarial for r in recipes] == [False, False]
    assert recipes[0].objective_settings() == {
        "method": "pgd-at", "eps": 0.3, "step_size": 0.1, "steps": 7,
    }  # fmt: skip
    assert generation_plan(recipes, heldout_types=())["train"] == {}
    settings = dict(recipes[1].objective_settings())
    objective = objective_from_recipe(settings.pop("method"), settings)
    assert objective == FGSObjective(eps=0.25, alpha=0.5)
    with pytest.raises(InputError, match="recipe 'P': unknown keys \\['k'\\]"):
        parse_recipes([{"name": "P", "method": "pgd-at", "k": 3}])
    with pytest.raises(InputError, match="recipe 'P': pgd-at eps 3"):
        parse_recipes([{"name": "P", "method": "pgd-at", "eps": 3}])
