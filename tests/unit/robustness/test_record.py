"""hardpos.robustness.record: a robustness record is checked before it is believed."""

from __future__ import annotations

import json

import pytest


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"clean_accuracy": 3.2}, "clean_accuracy: expected an accuracy in"),
        ({"robust_accuracy": [0.5, "0.4"]}, r"robust_accuracy\[1\]: expected an accuracy"),
        ({"robust_accuracy": [0.5]}, "robust_accuracy: expected one accuracy per budget"),
        ({"linf": [0.1, -0.3]}, "linf: expected a list of positive budgets"),
    ],
)
def test_a_robustness_record_is_checked_before_it_is_believed(tmp_path, change, message):
    from hardpos.errors import DataError
    from hardpos.robustness.record import load_records

    record = {"model": "m.pt", "recipe": "basic", "linf": [0.1, 0.3],
              "clean_accuracy": 0.99, "robust_accuracy": [0.5, 0.1]} | change  # fmt: skip
    path = tmp_path / "r.json"
    path.write_text(json.dumps(record))
    with pytest.raises(DataError, match=f"r.json: {message}"):
        load_records([path])
