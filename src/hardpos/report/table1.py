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

import fnmatch
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from scipy import stats

from hardpos.errors import DataError
from hardpos.files.atomic import write_text
from hardpos.files.json_records import read_json_record
from hardpos.files.sidecars import image_counts

ERROR_SETS = ("mnist_test", "heldout", "heldout_own", "heldout_other")
# columns that are rates in percent: their intervals are clipped to [0, 100] (a t interval
# of 9 nets' errors near 0 can reach below it; the rate cannot)
PERCENT_KEYS = ERROR_SETS
CONFIDENCE = 0.95
ALPHA = 0.05
# the error sets each recipe is tested on, and the rows it is tested against
TESTED_SETS = ("mnist_test", "heldout")
CONTROLS = ("clean", "basic")


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


def _robustness_keys(columns: Sequence[str]) -> list[str]:
    """The robustness columns a frame has (see :func:`load_evaluations`)."""
    return [c for c in columns if c.startswith("robust_") or c in ("min_l2", "min_linf")]


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
        for key in (*ERROR_SETS, *_robustness_keys(evals.columns)):
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


OWN_ONLY = " (own parent's only)"


def _own_only_cells(cells: list[str], own_only: pd.Series) -> list[str]:
    """``cells`` with :data:`OWN_ONLY` after those of a row held-out on its own parent's
    adversarials alone (:func:`own_parents_only`)."""
    return [c + OWN_ONLY if flag else c for c, flag in zip(cells, own_only, strict=True)]


def _mean_std(mean: float, std: float, digits: int) -> str:
    if np.isnan(mean):
        return "–"
    if np.isnan(std):
        return f"{mean:.{digits}f}%"
    return f"{mean:.{digits}f}% ± {std:.{digits}f}"


def _cells(means: pd.Series, stds: pd.Series | None, digits: int) -> list[str]:
    spread = [np.nan] * len(means) if stds is None else stds
    return [_mean_std(m, s, digits) for m, s in zip(means, spread, strict=True)]


def _interval_cells(low: pd.Series, high: pd.Series, digits: int) -> list[str]:
    return [
        "–" if np.isnan(a) else f"[{a:.{digits}f}, {b:.{digits}f}]"
        for a, b in zip(low, high, strict=True)
    ]


def format_p(p: float) -> str:
    """A p-value as shown in the tables: ``p=0.031``, ``p<0.001``."""
    return "p<0.001" if p < 0.001 else f"p={p:.3f}"


def _test_cells(diff: pd.Series, p: pd.Series, digits: int, alpha: float = ALPHA) -> list[str]:
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
    columns = {
        "Method": table["recipe"],
        "Networks": table["networks"],
        "Added images": table["added_images"].map(lambda n: f"{n:,}"),
    }
    for key, name, digits in (("mnist_test", "MNIST", 3), ("heldout", "Held-out", 2)):
        title = "Held-out adversarial" if key == "heldout" else name
        columns[title] = _cells(table[f"{key}_mean"], table[f"{key}_std"], digits)
        if key == "heldout":
            columns[title] = _own_only_cells(columns[title], table["heldout_own_only"])
        columns[f"{name} 95% CI"] = _interval_cells(
            table[f"{key}_ci_low"], table[f"{key}_ci_high"], digits
        )
        for label in CONTROLS:
            columns[f"{name} vs {label}"] = _test_cells(
                table[f"{key}_vs_{label}_diff"], table[f"{key}_vs_{label}_p"], digits
            )
            if label == "clean" and f"{key}_vs_clean_paired_p" in table:
                columns[f"{name} vs clean, paired"] = _test_cells(
                    table[f"{key}_vs_clean_paired_diff"], table[f"{key}_vs_clean_paired_p"], digits
                )
    columns["Own parent's"] = _cells(table["heldout_own_mean"], None, 2)
    columns["Other nets'"] = _cells(table["heldout_other_mean"], None, 2)
    columns.update(_robustness_cells(table))
    return pd.DataFrame(columns)


def _markdown(frame: pd.DataFrame) -> str:
    return frame.to_markdown(index=False) + "\n"


def _latex_text(value: object) -> str:
    return str(value).replace("%", r"\%").replace("±", r"$\pm$").replace("<", "$<$")


def _latex(frame: pd.DataFrame, caption: str) -> str:
    escaped = frame.map(_latex_text)
    escaped.columns = [_latex_text(c) for c in frame.columns]
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
        "Error rates (percent, mean $\\pm$ sample std over networks) on the MNIST test set "
        "and the held-out adversarial set, split by the adversarial's parent net; 95\\% "
        "Student-t confidence interval of each mean; vs clean / vs basic: difference of "
        "means in points and Welch's two-sided t-test (* p $<$ 0.05, n.s. not different "
        "at that level, uncorrected for the number of tests; -- fewer than 2 networks); "
        "vs clean, paired: the mean difference from the clean net with the same parent and "
        "ordering, and the paired t-test over those pairs; own parent's only: a run with "
        "one base net, whose held-out set holds only the parent net's adversarials."
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
            if key.endswith("_mean") and _robustness_keys([key.removesuffix("_mean")])
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
            "MNIST (paper)": _cells(both["paper_mnist"], both["paper_mnist_std"], 3),
            "vs basic (paper)": _p_cells(both["paper_mnist_vs_basic_p"]),
            "MNIST (ours)": _cells(both["ours_mnist"], both["ours_mnist_std"], 3),
            "95% CI (ours)": _interval_cells(
                both["ours_mnist_ci_low"], both["ours_mnist_ci_high"], 3
            ),
            "vs basic (ours)": _p_cells(both["ours_mnist_vs_basic_p"]),
            "vs clean (ours)": _p_cells(both["ours_mnist_vs_clean_p"]),
            "Adversarial (paper)": _cells(both["paper_adversarial"], None, 2),
            "Held-out (ours)": _own_only_cells(
                _cells(both["ours_heldout"], None, 2), both["ours_heldout_own_only"]
            ),
            "Held-out vs clean (ours)": _p_cells(both["ours_heldout_vs_clean_p"]),
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
