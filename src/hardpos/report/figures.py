"""The paper's MNIST figures (2, 4, 5 and 6) with seaborn and matplotlib.

Each function takes loaded tables and writes a PNG and a PDF, atomically. PASS is shown
multiplied by 1000 on MNIST, as the paper's figures do.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from hardpos.errors import DataError  # noqa: E402
from hardpos.experiments.recipes import type_names  # noqa: E402
from hardpos.files.figure_files import save_figure  # noqa: E402

PASS_SCALE = 1000
# Figure 2's key, in the cell under the original digit.
TUPLE_KEY = (
    "under each perturbation:\n(PASS x 1000,\nL2 norm per pixel,\nL-inf in grey levels)\n\n"
    "perturbation:\nblack -1, white +1\n(of its largest change),\ngrey: no change"
)


def _save(figure: plt.Figure, out_png: str | os.PathLike, out_pdf: str | os.PathLike) -> None:
    for path in (out_png, out_pdf):
        save_figure(figure, path, dpi=150, bbox_inches="tight")
    plt.close(figure)


def _typed(tables: Sequence[pd.DataFrame], types: Sequence[str] | None = None) -> pd.DataFrame:
    """Successful, PASS-scored rows of all tables with the paper's type name per row,
    only those of ``types`` when given."""
    table = pd.concat(list(tables), ignore_index=True)
    if "pass" not in table:
        raise DataError("figures need PASS-scored tables (a 'pass' column)")
    table = table[table["success"].astype(bool)].copy()
    table["type"] = type_names(table)
    if types is not None:
        table = table[table["type"].isin(list(types))]
    if table.empty:
        raise DataError(f"figures: no successful adversarial of the types {list(types or [])}")
    return table


def _type_order(types: pd.Series) -> list[str]:
    """FGS, FGV, then hot/cold by rank, sign variants and scaled ones last."""

    def key(name: str) -> tuple:
        digits = "".join(c if c.isdigit() or c == "." else " " for c in name).split()
        numbers = tuple(float(d) for d in digits if d.strip("."))
        group = 0 if name in ("FGS", "FGV") else 2 if "x" in name else 3 if "-S-" in name else 1
        return (group, name if group == 0 else "", numbers)

    return sorted(dict.fromkeys(types), key=key)


def figure4(
    tables: Sequence[pd.DataFrame],
    out_png: str,
    out_pdf: str,
    *,
    types: Sequence[str] | None = None,
) -> None:
    """Distribution of PASS x 1000 per adversarial type; counts on the y axis, so the
    number of adversarials each type yields shows too (the paper's Figure 4)."""
    table = _typed(tables, types)
    table["PASS x 1000"] = table["pass"] * PASS_SCALE
    order = _type_order(table["type"])
    grid = sns.displot(
        table,
        x="PASS x 1000",
        col="type",
        col_order=order,
        col_wrap=min(5, len(order)),
        kind="hist",
        bins=np.linspace(table["PASS x 1000"].min(), PASS_SCALE, 31),
        height=1.8,
        aspect=1.3,
        facet_kws={"sharey": True},
    )
    grid.set_titles("{col_name}")
    grid.set_axis_labels("PASS x 1000", "images")
    _save(grid.figure, out_png, out_pdf)


def figure5(
    tables: Sequence[pd.DataFrame],
    out_png: str,
    out_pdf: str,
    *,
    types: Sequence[str] | None = None,
) -> None:
    """Mean PASS, L2 per pixel and L-inf per type; L2 and L-inf scaled so their largest
    per-type mean is 1, as in the paper's Figure 5."""
    _save(figure5_figure(_typed(tables, types)), out_png, out_pdf)


def figure5_figure(table: pd.DataFrame) -> plt.Figure:
    """Figure 5 from typed, successful rows (:func:`figure5` reads and saves it)."""
    order = _type_order(table["type"])
    means = table.groupby("type")[["pass", "l2_per_pixel", "linf"]].mean().loc[order]
    scaled = pd.DataFrame(
        {
            "PASS": means["pass"],
            "L2 per pixel / largest": means["l2_per_pixel"] / means["l2_per_pixel"].max(),
            "L-inf / largest": means["linf"] / means["linf"].max(),
        }
    )
    long = scaled.reset_index().melt(id_vars="type", var_name="metric", value_name="value")
    figure, axes = plt.subplots(figsize=(max(6, 0.6 * len(order)) + 1.8, 3.2))
    sns.barplot(long, x="type", y="value", hue="metric", order=order, ax=axes)
    axes.set_xlabel("adversarial type (made on the base nets from MNIST test images)")
    axes.set_ylabel("mean over adversarials")
    axes.set_ylim(0, 1.05)
    axes.tick_params(axis="x", rotation=45)
    # beside the axes, never over a bar (any bar can reach 1: PASS near 1, the scaled
    # maxima exactly 1)
    axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small", frameon=False)
    return figure


def mean_pm_sample_std(values: pd.Series) -> tuple[float, float]:
    """Figure 6's error bar: mean -+ the sample standard deviation (ddof=1, as Table 1's
    std), so that the caption can say exactly what a bar is. One network: no bar."""
    values = pd.Series(values, dtype=float).dropna()
    mean = float(values.mean())
    spread = float(values.std(ddof=1)) if len(values) > 1 else 0.0
    return mean - spread, mean + spread


def figure6(
    evals: pd.DataFrame,
    buckets: dict[str, tuple[float, float]],
    out_png: str,
    out_pdf: str,
) -> None:
    """MNIST and held-out error (percent) of the networks fine-tuned on each PASS range
    (the paper's Figure 6); points are means over a range's networks, bars one sample
    standard deviation (:func:`mean_pm_sample_std`)."""
    if evals.empty:
        raise DataError("figure 6: no evaluation of a PASS-bucket network")
    labels = {
        name: f"{lo * PASS_SCALE:.0f}-{hi * PASS_SCALE:.0f}" for name, (lo, hi) in buckets.items()
    }
    data = evals.assign(range=evals["recipe"].map(labels))
    order = [labels[name] for name in buckets if name in set(evals["recipe"])]
    figure, axes = plt.subplots(1, 2, figsize=(8, 3.2))
    for ax, column, title in (
        (axes[0], "mnist_test", "MNIST test error (%)"),
        (axes[1], "heldout", "held-out adversarial error (%)"),
    ):
        sns.pointplot(data, x="range", y=column, order=order, errorbar=mean_pm_sample_std, ax=ax)
        ax.set_xlabel("PASS x 1000 of the fine-tuning images")
        ax.set_ylabel("mean ± sample std over nets")
        ax.set_title(title)
        ax.tick_params(axis="x", rotation=30)
    figure.tight_layout()
    _save(figure, out_png, out_pdf)


def pick_gallery(
    table: pd.DataFrame,
    images: np.ndarray,
    originals: np.ndarray,
    *,
    types: Sequence[str],
) -> dict:
    """The first test image (lowest index) with a successful adversarial of every type.

    ``images`` and ``table`` are the generated set, row for row; ``originals`` the split.
    """
    if len(images) != len(table):
        raise DataError(f"gallery: {len(images)} images but {len(table)} table rows")
    table = table.reset_index(drop=True)
    table = table.assign(type=type_names(table))
    ok = table[table["success"].astype(bool) & table["type"].isin(list(types))]
    complete = ok.groupby("source")["type"].nunique()
    sources = complete.index[complete == len(set(types))]
    if len(sources) == 0:
        raise DataError(f"gallery: no test image has a successful adversarial of each of {types}")
    source = int(sources.min())
    rows = [ok[(ok["source"] == source) & (ok["type"] == name)].iloc[0] for name in types]
    original = originals[source].reshape(images.shape[-2:]).astype(np.float64)
    return {
        "original": original,
        "label": int(rows[0]["label"]),
        "adversarials": [images[row.name].reshape(original.shape).astype(float) for row in rows],
        "rows": rows,
        "types": list(types),
    }


def figure2(
    *,
    original: np.ndarray,
    label: int,
    adversarials: Sequence[np.ndarray],
    rows: Sequence[pd.Series],
    types: Sequence[str],
    out_png: str,
    out_pdf: str,
) -> None:
    """Adversarials (top) and perturbations (bottom: black -1, white +1, grey no change)
    of one digit, with (PASS x 1000, L2 per pixel, L-inf) under each, as the paper's
    Figure 2; the cell under the original says so (:data:`TUPLE_KEY`)."""
    figure = figure2_figure(original=original, label=label, adversarials=adversarials,
                            rows=rows, types=types)  # fmt: skip
    _save(figure, out_png, out_pdf)


def figure2_figure(
    *,
    original: np.ndarray,
    label: int,
    adversarials: Sequence[np.ndarray],
    rows: Sequence[pd.Series],
    types: Sequence[str],
) -> plt.Figure:
    """Figure 2 as a matplotlib figure (:func:`figure2` saves it)."""
    n = len(adversarials)
    figure, axes = plt.subplots(2, n + 1, figsize=(1.9 * (n + 1), 4.2), squeeze=False)
    axes[0, 0].imshow(original, cmap="gray", vmin=0, vmax=255)
    axes[0, 0].set_title(f"original: {label}", fontsize=9)
    # the cell under the original holds the key to the numbers and the grey scale
    axes[1, 0].axis("off")
    axes[1, 0].text(0.5, 0.5, TUPLE_KEY, ha="center", va="center", fontsize=7.5,
                    transform=axes[1, 0].transAxes)  # fmt: skip
    for i, (adv, row, name) in enumerate(zip(adversarials, rows, types, strict=True), start=1):
        delta = adv - original
        scale = np.abs(delta).max() or 1.0
        axes[0, i].imshow(adv, cmap="gray", vmin=0, vmax=255)
        axes[0, i].set_title(f"{name}: {int(row['adv_label'])}", fontsize=9)
        axes[1, i].imshow(delta / scale, cmap="gray", vmin=-1, vmax=1)
        axes[1, i].set_xlabel(
            f"({row['pass'] * PASS_SCALE:.0f}, {row['l2_per_pixel']:.2f}, {row['linf']:.0f})",
            fontsize=8,
        )
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    figure.tight_layout()
    return figure
