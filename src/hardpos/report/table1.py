"""Table 1 of the paper from the workflow's per-model evaluation records.

Each evaluated model leaves one JSON (see :mod:`hardpos.experiments.evaluation`); this module
gathers them into a frame, averages the networks of each recipe (mean and sample standard
deviation, as the paper's "mean +- std" over 9 or 3 networks), adds a 95% confidence
interval of each mean and Welch's t-test of each recipe against the clean control and
against the basic nets, and writes CSV for machines, Markdown for a README and LaTeX for a
paper. Errors are in percent, as in the paper's Table 1.

Why Welch's t and not a bootstrap over nets: a recipe has 9 nets and basic 3. A bootstrap
of 9 values has few distinct resamples and its percentile interval is too narrow at this
size (it ignores the t tails and uses the n-divisor variance: about 90% coverage for a
nominal 95% under normality); with basic's 3 nets it has 10 distinct resamples and
covers about 75%. Each net's error is a mean over 10K (or 70K) test images, so what
varies between nets is close to normal, which is what Welch's test assumes; it does not
assume the groups spread alike. Groups of fewer than two nets (smoke runs, the mini's one-net
rows) get the mean only: no spread, no interval, no test.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import pandas as pd

from hardpos.errors import DataError
from hardpos.files.atomic import write_text
from hardpos.files.json_records import read_json_record
from hardpos.files.sidecars import image_counts
from hardpos.report.statistics import CONFIDENCE, Welch, paired_test, t_interval, welch_test
from hardpos.report.table_cells import (
    interval_cells,
    latex_table,
    markdown_table,
    own_only_cells,
    robustness_cells,
    robustness_keys,
    test_cells,
    value_cells,
)

ERROR_SETS = ("mnist_test", "heldout", "heldout_own", "heldout_other")
# columns that are rates in percent: their intervals are clipped to [0, 100] (a t interval
# of 9 nets' errors near 0 can reach below it; the rate cannot)
PERCENT_KEYS = ERROR_SETS
# the error sets each recipe is tested on, and the rows it is tested against
TESTED_SETS = ("mnist_test", "heldout")
CONTROLS = ("clean", "basic")


def _percent(record: dict, key: str) -> float:
    entry = record.get(key)
    return float("nan") if entry is None else 100.0 * float(entry["error"])


def check_error_entry(entry: object, where: str) -> None:
    """An error entry must hold integers ``wrong`` and ``n`` and ``error`` = wrong / n in
    [0, 1]: a flipped digit or a hand edit otherwise passes into Table 1 unseen."""
    if not isinstance(entry, dict):
        raise DataError(f"{where}: expected an object with error, n and wrong")
    wrong, n, error = entry.get("wrong"), entry.get("n"), entry.get("error")
    for key, value in (("wrong", wrong), ("n", n)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise DataError(f"{where}.{key}: expected a count (integer >= 0), found {value!r}")
    if not isinstance(error, int | float) or isinstance(error, bool):
        raise DataError(f"{where}.error: expected a number, found {error!r}")
    if n == 0 and wrong == 0 and error != error:  # no images of this kind: NaN
        return
    if n == 0 or wrong > n:
        raise DataError(f"{where}: {wrong} wrong of {n} images is not an error rate")
    if not 0.0 <= error <= 1.0 or abs(error - wrong / n) > 1e-12:
        raise DataError(f"{where}.error: {error!r} is not wrong / n = {wrong} / {n}")


def check_evaluation(record: object, path: str | os.PathLike) -> dict:
    """An evaluation record as :func:`hardpos.experiments.evaluation.evaluate_model` writes
    it, or a :class:`DataError` naming the file and the key that is wrong."""
    if not isinstance(record, dict):
        raise DataError(f"{path}: an evaluation record is a JSON object")
    if not isinstance(record.get("recipe"), str) or "mnist_test" not in record:
        raise DataError(f"{path}: evaluation record lacks 'recipe' or 'mnist_test'")
    for key in ERROR_SETS:
        if key in record:
            check_error_entry(record[key], f"{path}: {key}")
    for name, entry in (record.get("heldout_by_type") or {}).items():
        check_error_entry(entry, f"{path}: heldout_by_type.{name}")
    return record


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
        record = check_evaluation(read_json_record(path, "evaluation record"), path)
        row = {
            "model": record.get("model", str(path)),
            "recipe": record["recipe"],
            "net": record.get("net"),
            "order": record.get("order"),
            "added_images": image_counts(record)["added_images"],
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


def table1(
    evals: pd.DataFrame,
    *,
    recipe_order: Sequence[str] = (),
    clean: str = "clean",
    basic: str = "basic",
    confidence: float = CONFIDENCE,
) -> pd.DataFrame:
    """Mean, sample std and confidence interval of each error over a recipe's networks,
    and Welch's test of each recipe against the ``clean`` control and the ``basic`` nets.

    One row per recipe, following ``recipe_order`` (recipes not named there come after,
    alphabetically). ``added_images`` is the mean number of images a recipe adds to the
    original 60K. Columns ``{set}_vs_{clean,basic}_diff`` (percentage points) and
    ``_p`` (two-sided) are NaN for the control itself, where the control is absent, and
    where either side has fewer than two networks.
    """
    present = list(dict.fromkeys(evals["recipe"]))
    order = [r for r in recipe_order if r in present] + sorted(set(present) - set(recipe_order))
    controls = {"clean": clean, "basic": basic}
    clean_nets = evals[evals["recipe"] == clean]
    nan = float("nan")
    rows = []
    for recipe in order:
        group = evals[evals["recipe"] == recipe]
        row = {
            "recipe": recipe,
            "networks": len(group),
            "added_images": int(round(group["added_images"].mean())),
        }
        for key in (*ERROR_SETS, *robustness_keys(evals.columns)):
            values = group[key].dropna()
            row[f"{key}_mean"] = values.mean() if len(values) else np.nan
            row[f"{key}_std"] = values.std(ddof=1) if len(values) > 1 else np.nan
            low, high = t_interval(values, confidence=confidence)
            if key in PERCENT_KEYS or key.startswith("robust_"):  # a rate lies in [0, 100]
                low, high = max(low, 0.0), min(high, 100.0)  # (NaN stays NaN)
            row[f"{key}_ci_low"], row[f"{key}_ci_high"] = low, high
        row["heldout_own_only"] = own_parents_only(group)
        for key in TESTED_SETS:
            for label, control in controls.items():
                reference = evals.loc[evals["recipe"] == control, key]
                test = (
                    Welch(nan, nan, nan, nan)
                    if recipe == control or not len(reference)
                    else welch_test(group[key], reference)
                )
                row[f"{key}_vs_{label}_diff"] = test.diff
                row[f"{key}_vs_{label}_p"] = test.p
            paired, pairs = (
                (Welch(nan, nan, nan, nan), 0)
                if recipe == clean or not len(clean_nets)
                else paired_test(group, clean_nets, key)
            )
            row[f"{key}_vs_clean_paired_diff"] = paired.diff
            row[f"{key}_vs_clean_paired_p"] = paired.p
            row[f"{key}_vs_clean_pairs"] = pairs
        rows.append(row)
    return pd.DataFrame(rows)


def own_parents_only(group: pd.DataFrame) -> bool:
    """Whether the held-out images these networks were tested on were all made on their own
    parent net: a run with one base net has no other net's adversarials, so its held-out
    error is the own-parent error, which a fine-tuned net lowers most (the tables say so)."""
    return bool(group["heldout_own"].notna().any() and group["heldout_other"].isna().all())


def _display(table: pd.DataFrame) -> pd.DataFrame:
    """The human-readable Table 1: one formatted string per cell."""
    columns = {
        "Method": table["recipe"],
        "Networks": table["networks"],
        "Added images": table["added_images"].map(lambda n: f"{n:,}"),
    }
    for key, name, digits in (("mnist_test", "MNIST", 3), ("heldout", "Held-out", 2)):
        title = "Held-out adversarial" if key == "heldout" else name
        columns[title] = value_cells(table[f"{key}_mean"], table[f"{key}_std"], digits)
        if key == "heldout":
            columns[title] = own_only_cells(columns[title], table["heldout_own_only"])
        columns[f"{name} 95% CI"] = interval_cells(
            table[f"{key}_ci_low"], table[f"{key}_ci_high"], digits
        )
        for label in CONTROLS:
            columns[f"{name} vs {label}"] = test_cells(
                table[f"{key}_vs_{label}_diff"], table[f"{key}_vs_{label}_p"], digits
            )
            if label == "clean" and f"{key}_vs_clean_paired_p" in table:
                columns[f"{name} vs clean, paired"] = test_cells(
                    table[f"{key}_vs_clean_paired_diff"], table[f"{key}_vs_clean_paired_p"], digits
                )
    columns["Own parent's"] = value_cells(table["heldout_own_mean"], None, 2)
    columns["Other nets'"] = value_cells(table["heldout_other_mean"], None, 2)
    columns.update(robustness_cells(table))
    return pd.DataFrame(columns)


def write_table1(
    table: pd.DataFrame,
    csv: str | os.PathLike,
    md: str | os.PathLike,
    tex: str | os.PathLike,
) -> None:
    """Table 1 as CSV (raw numbers), Markdown and LaTeX (formatted)."""
    write_text(csv, table.to_csv(index=False))
    shown = _display(table)
    write_text(md, markdown_table(shown))
    caption = (
        "Error rates (percent, mean $\\pm$ sample std over networks) on the MNIST test set "
        "and the held-out adversarial set, split by the adversarial's parent net; 95\\% "
        "Student-t confidence interval of each mean; vs clean / vs basic: difference of "
        "means in points and Welch's two-sided t-test (* p $<$ 0.05, n.s. not different "
        "at that level, uncorrected for the number of tests; -- fewer than 2 networks); "
        "vs clean, paired: the mean difference from the clean net with the same parent and "
        "ordering, and the paired t-test over those pairs; own parent's only: a run with "
        "one base net, whose held-out set holds only the parent net's adversarials."
    )
    write_text(tex, latex_table(shown, caption))


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
    write_text(md, markdown_table(shown))
