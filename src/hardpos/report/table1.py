"""Table 1 of the paper from the workflow's per-model evaluation records.

Each evaluated model leaves one JSON (see :mod:`hardpos.experiments.evaluation`); this module
gathers them into a frame, averages the networks of each recipe (mean and sample standard
deviation, as the paper's "mean +- std" over 9 or 3 networks), and writes CSV for
machines, Markdown for a README and LaTeX for a paper. Errors are in percent, as in the
paper's Table 1.
"""

from __future__ import annotations

import fnmatch
import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from hardpos.errors import DataError
from hardpos.files.atomic import write_text

ERROR_SETS = ("mnist_test", "heldout", "heldout_own", "heldout_other")


def _percent(record: dict, key: str) -> float:
    entry = record.get(key)
    return float("nan") if entry is None else 100.0 * float(entry["error"])


def load_evaluations(
    paths: Sequence[str | os.PathLike], robustness: Sequence[str | os.PathLike] = ()
) -> pd.DataFrame:
    """One row per model: its recipe, parent net, training images and errors in percent.

    Held-out errors by adversarial type go to columns ``type:<name>``. ``robustness``:
    the models' robustness records (:mod:`hardpos.robustness.record`), which add robust
    accuracy ``robust_<budget>`` (percent) and median minimal norms ``min_l2``,
    ``min_linf`` (grey levels), matched by model file.
    """
    rows = []
    for path in paths:
        try:
            record = json.loads(Path(path).read_text())
        except FileNotFoundError:
            raise DataError(f"{path}: no such evaluation file") from None
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}: not an evaluation record ({exc})") from None
        if "recipe" not in record or "mnist_test" not in record:
            raise DataError(f"{path}: evaluation record lacks 'recipe' or 'mnist_test'")
        row = {
            "model": record.get("model", str(path)),
            "recipe": record["recipe"],
            "net": record.get("net"),
            "order": record.get("order"),
            "train_images": int(record.get("train_images", 0)),
        }
        row.update({key: _percent(record, key) for key in ERROR_SETS})
        for name, entry in record.get("heldout_by_type", {}).items():
            row[f"type:{name}"] = 100.0 * float(entry["error"])
        rows.append(row)
    frame = pd.DataFrame(rows)
    if len(robustness):
        from hardpos.robustness.record import load_records, table_columns

        frame = frame.merge(table_columns(load_records(robustness)), on="model", how="left")
    return frame


def _robustness_keys(columns: Sequence[str]) -> list[str]:
    """The robustness columns a frame has (see :func:`load_evaluations`)."""
    return [c for c in columns if c.startswith("robust_") or c in ("min_l2", "min_linf")]


def table1(evals: pd.DataFrame, *, recipe_order: Sequence[str] = ()) -> pd.DataFrame:
    """Mean and std of each error over the networks of a recipe, one row per recipe.

    Rows follow ``recipe_order``; recipes not named there come after, alphabetically.
    ``added_images`` is the mean number of images a recipe adds to the original 60K.
    """
    present = list(dict.fromkeys(evals["recipe"]))
    order = [r for r in recipe_order if r in present] + sorted(set(present) - set(recipe_order))
    rows = []
    for recipe in order:
        group = evals[evals["recipe"] == recipe]
        row = {
            "recipe": recipe,
            "networks": len(group),
            "added_images": int(round(group["train_images"].mean())),
        }
        for key in (*ERROR_SETS, *_robustness_keys(evals.columns)):
            values = group[key].dropna()
            row[f"{key}_mean"] = values.mean() if len(values) else np.nan
            row[f"{key}_std"] = values.std(ddof=1) if len(values) > 1 else np.nan
        rows.append(row)
    return pd.DataFrame(rows)


def _mean_std(mean: float, std: float, digits: int) -> str:
    if np.isnan(mean):
        return "–"
    if np.isnan(std):
        return f"{mean:.{digits}f}%"
    return f"{mean:.{digits}f}% ± {std:.{digits}f}"


def _cells(means: pd.Series, stds: pd.Series | None, digits: int) -> list[str]:
    spread = [np.nan] * len(means) if stds is None else stds
    return [_mean_std(m, s, digits) for m, s in zip(means, spread, strict=True)]


def _robustness_cells(table: pd.DataFrame, prefix: str = "") -> dict[str, list[str]]:
    """Robust accuracy per budget and median minimal norms, where the table has them."""
    names = [
        c.removeprefix(prefix).removesuffix("_mean")
        for c in table.columns
        if c.startswith(prefix) and c.endswith("_mean")
    ]
    keys = _robustness_keys(names)
    cells = {}
    for key in keys:
        if key.startswith("robust_"):
            means = table[f"{prefix}{key}_mean"]
            stds = table.get(f"{prefix}{key}_std")
            cells[f"Robust L-inf {key.removeprefix('robust_')}"] = _cells(means, stds, 1)
    if "min_l2" in keys and "min_linf" in keys:
        cells["Min. L2 / L-inf (grey)"] = [
            "–" if np.isnan(a) else f"{a:.0f} / {b:.1f}"
            for a, b in zip(
                table[f"{prefix}min_l2_mean"], table[f"{prefix}min_linf_mean"], strict=True
            )
        ]
    return cells


def _display(table: pd.DataFrame) -> pd.DataFrame:
    """The human-readable Table 1: one formatted string per cell."""
    return pd.DataFrame(
        {
            "Method": table["recipe"],
            "Networks": table["networks"],
            "Added images": table["added_images"].map(lambda n: f"{n:,}"),
            "MNIST": _cells(table["mnist_test_mean"], table["mnist_test_std"], 3),
            "Held-out adversarial": _cells(table["heldout_mean"], table["heldout_std"], 2),
            "Own parent's": _cells(table["heldout_own_mean"], None, 2),
            "Other nets'": _cells(table["heldout_other_mean"], None, 2),
            **_robustness_cells(table),
        }
    )


def _markdown(frame: pd.DataFrame) -> str:
    return frame.to_markdown(index=False) + "\n"


def _latex(frame: pd.DataFrame, caption: str) -> str:
    escaped = frame.map(lambda v: str(v).replace("%", r"\%").replace("±", r"$\pm$"))
    body = escaped.style.hide(axis="index").to_latex(
        hrules=True, caption=caption, column_format="l" + "r" * (frame.shape[1] - 1)
    )
    return body.replace("_", r"\_")


def write_table1(
    table: pd.DataFrame,
    csv: str | os.PathLike,
    md: str | os.PathLike,
    tex: str | os.PathLike,
) -> None:
    """Table 1 as CSV (raw numbers), Markdown and LaTeX (formatted)."""
    write_text(csv, table.to_csv(index=False))
    shown = _display(table)
    write_text(md, _markdown(shown))
    caption = (
        "Error rates (percent, mean $\\pm$ std over networks) on the MNIST test set and "
        "the held-out adversarial set, split by the adversarial's parent net."
    )
    write_text(tex, _latex(shown, caption))


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


def side_by_side(ours: pd.DataFrame, paper: str | os.PathLike) -> pd.DataFrame:
    """Our rows beside the paper's; ``ours`` in the paper file is our recipe name or glob.

    Paper rows with no counterpart (Goodfellow et al.'s own objective) and our rows the
    paper lacks (the clean control, PASS buckets, user recipes) are kept, blank opposite.
    """
    published = load_paper_table(paper)
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
        rows.append(_pair(p, match))
    for _, row in ours.iterrows():
        if row["recipe"] not in matched:
            rows.append(_pair(None, row))
    return pd.DataFrame(rows)


def _pair(paper_row: pd.Series | None, our_row: pd.Series | None) -> dict:
    def get(row, key):
        if row is None:
            return np.nan
        value = row.get(key)
        return np.nan if value is None else float(value)

    return {
        "paper": paper_row["paper"] if paper_row is not None else "",
        "ours": our_row["recipe"] if our_row is not None else "",
        "paper_mnist": get(paper_row, "mnist"),
        "paper_mnist_std": get(paper_row, "mnist_std"),
        "ours_mnist": get(our_row, "mnist_test_mean"),
        "ours_mnist_std": get(our_row, "mnist_test_std"),
        "paper_adversarial": get(paper_row, "adversarial"),
        "ours_heldout": get(our_row, "heldout_mean"),
        "ours_heldout_own": get(our_row, "heldout_own_mean"),
        "ours_heldout_other": get(our_row, "heldout_other_mean"),
        **{
            f"ours_{key}": get(our_row, key)
            for key in ([] if our_row is None else our_row.index)
            if key.endswith("_mean") and _robustness_keys([key.removesuffix("_mean")])
        },
    }


def write_side_by_side(both: pd.DataFrame, csv: str | os.PathLike, md: str | os.PathLike) -> None:
    """The side-by-side table as CSV and Markdown."""
    write_text(csv, both.to_csv(index=False))
    shown = pd.DataFrame(
        {
            "Paper's row": both["paper"],
            "Our row": both["ours"],
            "MNIST (paper)": _cells(both["paper_mnist"], both["paper_mnist_std"], 3),
            "MNIST (ours)": _cells(both["ours_mnist"], both["ours_mnist_std"], 3),
            "Adversarial (paper)": _cells(both["paper_adversarial"], None, 2),
            "Held-out (ours)": _cells(both["ours_heldout"], None, 2),
            "own / other parent (ours)": [
                f"{a} / {b}"
                for a, b in zip(
                    _cells(both["ours_heldout_own"], None, 2),
                    _cells(both["ours_heldout_other"], None, 2),
                    strict=True,
                )
            ],
            **{f"{name} (ours)": cells for name, cells in _robustness_cells(both, "ours_").items()},
        }
    )
    write_text(md, _markdown(shown))


def heldout_type_table(evals: pd.DataFrame, *, recipe_order: Sequence[str] = ()) -> pd.DataFrame:
    """Mean held-out error (percent) of each recipe's networks on each adversarial type."""
    type_columns = [c for c in evals.columns if c.startswith("type:")]
    means = evals.groupby("recipe", sort=False)[type_columns].mean()
    means.columns = [c.removeprefix("type:") for c in type_columns]
    order = [r for r in recipe_order if r in means.index]
    order += [r for r in means.index if r not in order]
    return means.loc[order].reset_index()


def write_heldout_type_table(
    table: pd.DataFrame, csv: str | os.PathLike, md: str | os.PathLike
) -> None:
    """Held-out error by adversarial type, as CSV and Markdown (percent, two decimals)."""
    write_text(csv, table.to_csv(index=False))
    shown = table.copy()
    for column in shown.columns[1:]:
        shown[column] = shown[column].map(lambda v: "–" if np.isnan(v) else f"{v:.2f}")
    write_text(md, _markdown(shown))
