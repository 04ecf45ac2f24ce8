"""hardpos.similarity.generated: eq. 5 filtering and scoring a generated table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hardpos.errors import InputError
from hardpos.similarity import (
    filter_by_tau,
    score_generated,
)

from .conftest import _shift

# --- eq. 5 and generated sets -----------------------------------------------------------


def test_filter_by_tau_keeps_misclassified_rows_at_or_above_tau():
    table = pd.DataFrame(
        {"pass": [0.99, 0.95, 0.80, np.nan, 0.97], "success": [True, True, True, True, False]},
        index=[10, 11, 12, 13, 14],
    )
    kept = filter_by_tau(table, 0.95)
    assert list(kept.index) == [10, 11]
    assert list(filter_by_tau(table.drop(columns="success"), 0.97).index) == [10, 14]
    with pytest.raises(InputError, match="'score'"):
        filter_by_tau(table, 0.9, column="score")
    with pytest.raises(InputError, match="tau"):
        filter_by_tau(table, 2.0)


def test_score_generated_adds_pass_and_convergence_columns_per_row(digits):
    orig = digits[[0, 1, 3]]
    adv = np.stack([_shift(orig[2], 1, 0), orig[0], np.zeros((28, 28), np.uint8)])[:, None]
    table = pd.DataFrame({"source": [2, 0, 1], "success": [True, False, True]})
    scored = score_generated(adv, orig, table, backend="opencv", batch_size=2)
    assert list(scored.columns) == ["source", "success", "pass", "ecc_converged"]
    assert scored["pass"].dtype == np.float64 and scored["ecc_converged"].dtype == bool
    assert scored["pass"][1] == pytest.approx(1.0)
    assert scored["pass"][0] > 0.97
    assert list(scored["ecc_converged"]) == [True, True, False]
    assert "pass" not in table.columns
    with pytest.raises(InputError, match="source"):
        score_generated(adv, orig, table.assign(source=[0, 1, 3]))
    with pytest.raises(InputError, match="rows"):
        score_generated(adv[:2], orig, table)
