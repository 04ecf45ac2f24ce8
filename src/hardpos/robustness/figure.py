"""The robust-accuracy figure: accuracy under attack against the L-inf budget, per recipe."""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import pandas as pd

from hardpos.files.atomic import atomic_path


def plot_robust_accuracy(
    records: pd.DataFrame,
    *,
    png: str | os.PathLike,
    pdf: str | os.PathLike,
    recipe_order: Sequence[str] = (),
) -> None:
    """One line per recipe: mean robust accuracy (percent) over its networks at each
    budget (budget 0: clean accuracy), with a band from the lowest to the highest net.

    ``records``: :func:`hardpos.robustness.record.load_records`'s frame.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    budgets = sorted({b for cols in records["linf"] for b in cols})
    present = list(dict.fromkeys(records["recipe"]))
    order = [r for r in recipe_order if r in present] + sorted(set(present) - set(recipe_order))
    fig, ax = plt.subplots(figsize=(6.0, 4.0))
    xs = np.array([0.0, *budgets])
    for recipe in order:
        group = records[records["recipe"] == recipe]
        curves = np.array(
            [
                [100 * row.clean_accuracy]
                + [100 * dict(zip(row.linf, row.robust_accuracy, strict=True)).get(b, np.nan)
                   for b in budgets]
                for row in group.itertuples()
            ]
        )  # fmt: skip
        mean = np.nanmean(curves, axis=0)
        (line,) = ax.plot(xs, mean, marker="o", label=f"{recipe} ({len(group)})")
        if len(group) > 1:
            ax.fill_between(
                xs, np.nanmin(curves, 0), np.nanmax(curves, 0), color=line.get_color(), alpha=0.15
            )
    ax.set_xlabel("L-inf budget on [0, 1] (x 255 = grey levels)")
    ax.set_ylabel("accuracy under attack (%)")
    ax.set_xticks(xs)
    ax.set_ylim(-2, 102)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, title="recipe (networks)", title_fontsize=7)
    fig.tight_layout()
    for path in (png, pdf):
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=str(path).rsplit(".", 1)[-1], dpi=150)
    plt.close(fig)
