"""How Table 1 and its companions show a number: "mean% ± std", intervals, p-values
with their significance mark, robustness cells, and the Markdown and LaTeX renderings."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from hardpos.report.statistics import ALPHA


def robustness_keys(columns: Sequence[str]) -> list[str]:
    """The robustness columns a frame has (see :func:`load_evaluations`)."""
    return [c for c in columns if c.startswith("robust_") or c in ("min_l2", "min_linf")]


OWN_ONLY = " (own parent's only)"


def own_only_cells(cells: list[str], own_only: pd.Series) -> list[str]:
    """``cells`` with :data:`OWN_ONLY` after those of a row held-out on its own parent's
    adversarials alone (:func:`hardpos.report.table1.own_parents_only`)."""
    return [c + OWN_ONLY if flag else c for c, flag in zip(cells, own_only, strict=True)]


def _mean_std(mean: float, std: float, digits: int) -> str:
    if np.isnan(mean):
        return "–"
    if np.isnan(std):
        return f"{mean:.{digits}f}%"
    return f"{mean:.{digits}f}% ± {std:.{digits}f}"


def value_cells(means: pd.Series, stds: pd.Series | None, digits: int) -> list[str]:
    spread = [np.nan] * len(means) if stds is None else stds
    return [_mean_std(m, s, digits) for m, s in zip(means, spread, strict=True)]


def interval_cells(low: pd.Series, high: pd.Series, digits: int) -> list[str]:
    return [
        "–" if np.isnan(a) else f"[{a:.{digits}f}, {b:.{digits}f}]"
        for a, b in zip(low, high, strict=True)
    ]


def format_p(p: float) -> str:
    """A p-value as shown in the tables: ``p=0.031``, ``p<0.001``."""
    return "p<0.001" if p < 0.001 else f"p={p:.3f}"


def test_cells(diff: pd.Series, p: pd.Series, digits: int, alpha: float = ALPHA) -> list[str]:
    """``-0.150 (p=0.003) *`` where the recipe differs at level ``alpha``, ``... n.s.``
    where it does not, ``–`` where there is no test (the control itself, n < 2)."""
    cells = []
    for d, q in zip(diff, p, strict=True):
        if np.isnan(q):
            cells.append("–")
        else:
            mark = "*" if q < alpha else "n.s."
            cells.append(f"{d:+.{digits}f} ({format_p(q)}) {mark}")
    return cells


def robustness_cells(table: pd.DataFrame, prefix: str = "") -> dict[str, list[str]]:
    """Robust accuracy per budget and median minimal norms, where the table has them."""
    names = [
        c.removeprefix(prefix).removesuffix("_mean")
        for c in table.columns
        if c.startswith(prefix) and c.endswith("_mean")
    ]
    keys = robustness_keys(names)
    cells = {}
    for key in keys:
        if key.startswith("robust_"):
            means = table[f"{prefix}{key}_mean"]
            stds = table.get(f"{prefix}{key}_std")
            cells[f"Robust L-inf {key.removeprefix('robust_')}"] = value_cells(means, stds, 1)
    if "min_l2" in keys and "min_linf" in keys:
        cells["Min. L2 / L-inf (grey)"] = [
            "–" if np.isnan(a) else f"{a:.0f} / {b:.1f}"
            for a, b in zip(
                table[f"{prefix}min_l2_mean"], table[f"{prefix}min_linf_mean"], strict=True
            )
        ]
    return cells


def markdown_table(frame: pd.DataFrame) -> str:
    return frame.to_markdown(index=False) + "\n"


def _latex_text(value: object) -> str:
    return str(value).replace("%", r"\%").replace("±", r"$\pm$").replace("<", "$<$")


def latex_table(frame: pd.DataFrame, caption: str) -> str:
    escaped = frame.map(_latex_text)
    escaped.columns = [_latex_text(c) for c in frame.columns]
    body = escaped.style.hide(axis="index").to_latex(
        hrules=True, caption=caption, column_format="l" + "r" * (frame.shape[1] - 1)
    )
    return body.replace("_", r"\_")
