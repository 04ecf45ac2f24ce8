"""Our Table 1 beside the paper's published one (``config/paper_table1.yaml``), read with
the same yardstick: Welch's test on the paper's "mean ± std" as on ours."""

from __future__ import annotations

import fnmatch
import os
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from hardpos.errors import DataError
from hardpos.files.atomic import write_text
from hardpos.report.statistics import ALPHA, welch_from_summary
from hardpos.report.table_cells import (
    format_p,
    interval_cells,
    markdown_table,
    own_only_cells,
    robustness_cells,
    robustness_keys,
    value_cells,
)


def load_paper_table(path: str | os.PathLike) -> pd.DataFrame:
    """The paper's published Table 1 (``config/paper_table1.yaml``)."""
    try:
        spec = yaml.safe_load(Path(path).read_text())
    except FileNotFoundError:
        raise DataError(f"{path}: no such file (the paper's Table 1)") from None
    rows = spec.get("rows") if isinstance(spec, dict) else None
    if not rows:
        raise DataError(f"{path}: expected a 'rows' list of the paper's Table 1 rows")
    for i, row in enumerate(rows):
        missing = {"paper", "mnist", "adversarial"} - set(row)
        if missing:
            raise DataError(f"{path}: row {i + 1} lacks {sorted(missing)}")
    return pd.DataFrame(rows)


def side_by_side(
    ours: pd.DataFrame, paper: str | os.PathLike, *, basic: str = "basic"
) -> pd.DataFrame:
    """Our rows beside the paper's; ``ours`` in the paper file is our recipe name or glob.

    Paper rows with no counterpart (Goodfellow et al.'s own objective) and our rows the
    paper lacks (the clean control, PASS buckets, user recipes) are kept, blank opposite.
    Beside our confidence intervals and tests, ``paper_mnist_vs_basic_p`` applies the same
    Welch test to the paper's published mean +- std over its ``networks`` (the paper row
    matched to our ``basic``), so both tables are read with the same yardstick.
    """
    published = load_paper_table(paper)
    paper_basic = next((p for _, p in published.iterrows() if p.get("ours") == basic), None)
    rows, matched = [], set()
    for _, p in published.iterrows():
        pattern = p.get("ours")
        hits = [
            row
            for _, row in ours.iterrows()
            if isinstance(pattern, str) and fnmatch.fnmatchcase(row["recipe"], pattern)
        ]
        match = hits[0] if hits else None
        if match is not None:
            matched.add(match["recipe"])
        rows.append(
            {
                **_pair(p, match),
                "paper_mnist_vs_basic_p": _paper_vs_basic(p, paper_basic),
            }
        )
    for _, row in ours.iterrows():
        if row["recipe"] not in matched:
            rows.append({**_pair(None, row), "paper_mnist_vs_basic_p": np.nan})
    return pd.DataFrame(rows)


def _paper_vs_basic(row: pd.Series, basic: pd.Series | None) -> float:
    """The paper's MNIST error of ``row`` against its basic LeNet, by Welch's test."""
    if basic is None or row.get("ours") == basic.get("ours"):
        return np.nan
    keys = ("mnist", "mnist_std", "networks")
    a = [row.get(k) for k in keys]
    b = [basic.get(k) for k in keys]
    if any(v is None or (isinstance(v, float) and np.isnan(v)) for v in (*a, *b)):
        return np.nan
    return welch_from_summary(
        float(a[0]), float(a[1]), int(a[2]), float(b[0]), float(b[1]), int(b[2])
    ).p


def _pair(paper_row: pd.Series | None, our_row: pd.Series | None) -> dict:
    def get(row, key):
        if row is None:
            return np.nan
        value = row.get(key)
        return np.nan if value is None else float(value)

    return {
        "paper": paper_row["paper"] if paper_row is not None else "",
        "ours": our_row["recipe"] if our_row is not None else "",
        "paper_networks": get(paper_row, "networks"),
        "paper_mnist": get(paper_row, "mnist"),
        "paper_mnist_std": get(paper_row, "mnist_std"),
        "ours_networks": get(our_row, "networks"),
        "ours_mnist": get(our_row, "mnist_test_mean"),
        "ours_mnist_std": get(our_row, "mnist_test_std"),
        "ours_mnist_ci_low": get(our_row, "mnist_test_ci_low"),
        "ours_mnist_ci_high": get(our_row, "mnist_test_ci_high"),
        "ours_mnist_vs_clean_p": get(our_row, "mnist_test_vs_clean_p"),
        "ours_mnist_vs_basic_p": get(our_row, "mnist_test_vs_basic_p"),
        "paper_adversarial": get(paper_row, "adversarial"),
        "ours_heldout": get(our_row, "heldout_mean"),
        "ours_heldout_ci_low": get(our_row, "heldout_ci_low"),
        "ours_heldout_ci_high": get(our_row, "heldout_ci_high"),
        "ours_heldout_vs_clean_p": get(our_row, "heldout_vs_clean_p"),
        "ours_heldout_vs_basic_p": get(our_row, "heldout_vs_basic_p"),
        "ours_heldout_own": get(our_row, "heldout_own_mean"),
        "ours_heldout_other": get(our_row, "heldout_other_mean"),
        "ours_heldout_own_only": our_row is not None and bool(our_row.get("heldout_own_only")),
        **{
            f"ours_{key}": get(our_row, key)
            for key in ([] if our_row is None else our_row.index)
            if key.endswith("_mean") and robustness_keys([key.removesuffix("_mean")])
        },
    }


def _p_cells(p: pd.Series, alpha: float = ALPHA) -> list[str]:
    return ["–" if np.isnan(q) else f"{format_p(q)} {'*' if q < alpha else 'n.s.'}" for q in p]


def write_side_by_side(both: pd.DataFrame, csv: str | os.PathLike, md: str | os.PathLike) -> None:
    """The side-by-side table as CSV and Markdown."""
    write_text(csv, both.to_csv(index=False))
    shown = pd.DataFrame(
        {
            "Paper's row": both["paper"],
            "Our row": both["ours"],
            "MNIST (paper)": value_cells(both["paper_mnist"], both["paper_mnist_std"], 3),
            "vs basic (paper)": _p_cells(both["paper_mnist_vs_basic_p"]),
            "MNIST (ours)": value_cells(both["ours_mnist"], both["ours_mnist_std"], 3),
            "95% CI (ours)": interval_cells(
                both["ours_mnist_ci_low"], both["ours_mnist_ci_high"], 3
            ),
            "vs basic (ours)": _p_cells(both["ours_mnist_vs_basic_p"]),
            "vs clean (ours)": _p_cells(both["ours_mnist_vs_clean_p"]),
            "Adversarial (paper)": value_cells(both["paper_adversarial"], None, 2),
            "Held-out (ours)": own_only_cells(
                value_cells(both["ours_heldout"], None, 2), both["ours_heldout_own_only"]
            ),
            "Held-out vs clean (ours)": _p_cells(both["ours_heldout_vs_clean_p"]),
            "own / other parent (ours)": [
                f"{a} / {b}"
                for a, b in zip(
                    value_cells(both["ours_heldout_own"], None, 2),
                    value_cells(both["ours_heldout_other"], None, 2),
                    strict=True,
                )
            ],
            **{f"{name} (ours)": cells for name, cells in robustness_cells(both, "ours_").items()},
        }
    )
    write_text(md, markdown_table(shown))
