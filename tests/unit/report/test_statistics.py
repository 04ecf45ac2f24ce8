"""hardpos.report.statistics: t intervals, Welch's and the paired test, worked by hand and
against scipy."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hardpos.errors import DataError
from hardpos.report import statistics

# --- statistics: confidence intervals and Welch's tests against the controls ---------------


def test_welch_test_matches_a_hand_worked_case_with_two_degrees_of_freedom():
    # a = 1, 2, 3 (mean 2, s^2 = 1), b = 5, 5, 5 (no spread): t = -3 / sqrt(1/3), and the
    # Welch-Satterthwaite df is exactly n_a - 1 = 2, where the t distribution has the
    # closed form P(|T| > t) = 1 - t / sqrt(2 + t^2)
    test = statistics.welch_test([1.0, 2.0, 3.0], [5.0, 5.0, 5.0])
    t = -3.0 * np.sqrt(3.0)
    assert test.diff == pytest.approx(-3.0)
    assert test.t == pytest.approx(t)
    assert test.df == pytest.approx(2.0)
    assert test.p == pytest.approx(1 - abs(t) / np.sqrt(2 + t**2), rel=1e-9)


def test_t_interval_matches_the_closed_form_for_three_values():
    # df = 2: the 0.975 quantile of t is 0.95 * sqrt(2 / (1 - 0.95^2))
    low, high = statistics.t_interval([1.0, 2.0, 3.0])
    half = 0.95 * np.sqrt(2 / (1 - 0.95**2)) * 1.0 / np.sqrt(3)
    assert (low, high) == pytest.approx((2 - half, 2 + half), rel=1e-12)


def test_welch_test_agrees_with_scipy_for_nine_nets_against_three():
    from scipy import stats as scipy_stats

    rng = np.random.default_rng(0)
    a, b = 0.7 + 0.05 * rng.standard_normal(9), 0.9 + 0.1 * rng.standard_normal(3)
    ours = statistics.welch_test(a, b)
    theirs = scipy_stats.ttest_ind(a, b, equal_var=False)
    assert ours.t == pytest.approx(theirs.statistic, rel=1e-12)
    assert ours.p == pytest.approx(theirs.pvalue, rel=1e-9)
    assert ours.df == pytest.approx(theirs.df, rel=1e-12)


def test_fewer_than_two_networks_give_no_interval_and_no_test():
    assert all(np.isnan(statistics.t_interval([0.8])))
    test = statistics.welch_test([0.8], [0.7, 0.9])
    assert test.diff == pytest.approx(0.0) and np.isnan(test.p)


def _nets(recipe: str, errors: dict[tuple[int, int], float]) -> pd.DataFrame:
    rows = [
        {"recipe": recipe, "net": n, "order": o, "mnist_test": e} for (n, o), e in errors.items()
    ]
    return pd.DataFrame(rows)


def test_paired_test_matches_a_hand_worked_case_and_ignores_unmatched_nets():
    # differences 1, 2, 3 over the pairs (mean 2, s = 1): t = 2 sqrt(3), df = 2
    recipe = _nets("HC", {(1, 1): 11.0, (1, 2): 22.0, (2, 1): 33.0, (3, 3): 99.0})
    clean = _nets("clean", {(2, 1): 30.0, (1, 1): 10.0, (1, 2): 20.0, (3, 1): 5.0})
    test, pairs = statistics.paired_test(recipe, clean, "mnist_test")
    t = 2 * np.sqrt(3.0)
    assert pairs == 3  # (3, 3) and (3, 1) have no partner
    assert (test.diff, test.t, test.df) == (pytest.approx(2.0), pytest.approx(t), 2.0)
    assert test.p == pytest.approx(1 - t / np.sqrt(2 + t**2), rel=1e-9)


def test_paired_test_agrees_with_scipy_for_nine_pairs():
    from scipy import stats as scipy_stats

    rng = np.random.default_rng(1)
    keys = [(n, o) for n in (1, 2, 3) for o in (1, 2, 3)]
    parent = {k: 0.8 + 0.1 * k[0] for k in keys}  # the parent moves both recipes alike
    a = {k: parent[k] + 0.02 + 0.01 * rng.standard_normal() for k in keys}
    b = {k: parent[k] + 0.01 * rng.standard_normal() for k in keys}
    test, pairs = statistics.paired_test(_nets("HC", a), _nets("clean", dict(reversed(b.items()))),
                                     "mnist_test")  # fmt: skip
    theirs = scipy_stats.ttest_rel([a[k] for k in keys], [b[k] for k in keys])
    assert pairs == 9
    assert test.t == pytest.approx(theirs.statistic, rel=1e-12)
    assert test.p == pytest.approx(theirs.pvalue, rel=1e-9)
    # the unpaired test sees the parents' spread as noise and cannot tell them apart
    assert statistics.welch_test(list(a.values()), list(b.values())).p > 0.05 > test.p


def test_two_records_of_one_net_and_ordering_are_named_not_paired():
    recipe = pd.concat([_nets("HC", {(1, 1): 1.0}), _nets("HC", {(1, 1): 2.0})])
    with pytest.raises(DataError, match=r"two evaluation records .*'net': 1, 'order': 1"):
        statistics.paired_test(recipe, _nets("clean", {(1, 1): 1.0}), "mnist_test")


def test_paired_test_needs_net_and_order_on_both_sides():
    recipe = _nets("HC", {(1, 1): 1.0, (1, 2): 2.0})
    test, pairs = statistics.paired_test(recipe, recipe.drop(columns="order"), "mnist_test")
    assert pairs == 0 and np.isnan(test.p)  # no KeyError from deep inside pandas
