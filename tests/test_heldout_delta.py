"""Where the held-out adversarials sit along their direction: heldout.delta (issue 12)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hardpos.errors import InputError
from hardpos.experiments.recipes import generation_plan, heldout_factor, sample_heldout


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
