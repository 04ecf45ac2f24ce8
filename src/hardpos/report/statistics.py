"""The statistics of Table 1: Student-t intervals of a mean over networks, Welch's
unequal-variance t-test between recipes, and the paired t-test against the clean control.
Why these and not a bootstrap: see :mod:`hardpos.report.table1`."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from hardpos.errors import DataError

CONFIDENCE = 0.95
ALPHA = 0.05


def _finite(values) -> np.ndarray:
    x = np.asarray(values, dtype=np.float64).reshape(-1)
    return x[~np.isnan(x)]


def t_interval(values, *, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Student-t confidence interval of the mean over networks: mean +- t(n-1) s / sqrt(n).

    The interval a mean of ``n`` normal draws with unknown variance gets; NaN for fewer than
    two values (one network has no spread to build an interval from).
    """
    x = _finite(values)
    if len(x) < 2:
        return float("nan"), float("nan")
    half = stats.t.ppf(0.5 + confidence / 2, len(x) - 1) * x.std(ddof=1) / np.sqrt(len(x))
    return float(x.mean() - half), float(x.mean() + half)


@dataclass(frozen=True)
class Welch:
    """Welch's unequal-variance t-test of mean(a) - mean(b): difference, t, df, two-sided p."""

    diff: float
    t: float
    df: float
    p: float


def welch_from_summary(
    mean_a: float, std_a: float, n_a: int, mean_b: float, std_b: float, n_b: int
) -> Welch:
    """Welch's t-test of mean_a - mean_b (two-sided) from each group's mean, sample std
    and size, e.g. the paper's published "mean +- std" over 9 and 3 nets.

    t = (mean_a - mean_b) / sqrt(s_a^2/n_a + s_b^2/n_b), with the Welch-Satterthwaite
    degrees of freedom. NaN (no test) when a group has fewer than two values, a std is
    unknown, or neither group spreads.
    """
    nan = float("nan")
    diff = float(mean_a - mean_b)
    if n_a < 2 or n_b < 2 or np.isnan(std_a) or np.isnan(std_b):
        return Welch(diff, nan, nan, nan)
    va, vb = std_a**2 / n_a, std_b**2 / n_b
    if va + vb == 0:
        return Welch(diff, nan, nan, nan)
    t = diff / np.sqrt(va + vb)
    df = (va + vb) ** 2 / (va**2 / (n_a - 1) + vb**2 / (n_b - 1))
    return Welch(diff, float(t), float(df), float(2 * stats.t.sf(abs(t), df)))


def welch_test(a, b) -> Welch:
    """Welch's unequal-variance t-test of two groups of per-network errors (two-sided).

    It does not assume the groups spread alike (a recipe's 9 nets and basic's 3 do not);
    NaN values (an error set a model was not evaluated on) are left out.
    """
    x, y = _finite(a), _finite(b)
    if not len(x) or not len(y):
        nan = float("nan")
        return Welch(nan, nan, nan, nan)
    sx = x.std(ddof=1) if len(x) > 1 else float("nan")
    sy = y.std(ddof=1) if len(y) > 1 else float("nan")
    return welch_from_summary(x.mean(), sx, len(x), y.mean(), sy, len(y))


def paired_test(a: pd.DataFrame, b: pd.DataFrame, key: str) -> tuple[Welch, int]:
    """Paired t-test of ``a[key] - b[key]`` over the networks both have, matched on
    (``net``, ``order``): a fine-tuned recipe and the clean control that continued the
    same parent with the same ordering of the data. The pairing removes what the parent
    and ordering contribute to both, which the unpaired Welch test counts as noise.
    Returns the test (``df`` = pairs - 1; NaN below two pairs or with no spread in the
    differences) and the number of pairs."""
    nan = float("nan")
    if not {"net", "order"} <= set(a.columns) & set(b.columns):
        return Welch(nan, nan, nan, nan), 0
    keys = ["net", "order"]
    left = a[[*keys, key]].dropna(subset=[key])
    right = b[[*keys, key]].dropna(subset=[key])
    for side in (left, right):
        twice = side[side.duplicated(keys, keep=False)]
        if len(twice):
            raise DataError(
                f"two evaluation records for one (net, order) of {a['recipe'].iloc[0]!r} or "
                f"the control: {twice[keys].drop_duplicates().to_dict('records')}"
            )
    both = left.merge(right, on=keys, suffixes=("_a", "_b"))
    d = (both[f"{key}_a"] - both[f"{key}_b"]).to_numpy(dtype=np.float64)
    n = len(d)
    if n < 2 or d.std(ddof=1) == 0:
        return Welch(float(d.mean()) if n else nan, nan, nan, nan), n
    t = d.mean() / (d.std(ddof=1) / np.sqrt(n))
    return Welch(float(d.mean()), float(t), float(n - 1), float(2 * stats.t.sf(abs(t), n - 1))), n
