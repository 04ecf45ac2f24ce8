"""The robust-accuracy figure: accuracy under attack against the L-inf budget, per recipe."""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import pandas as pd

from hardpos.files.figure_files import save_figure

_LINES = ("-", "--", ":")
_MARKERS = "os^Dv<>ph*"
# after matplotlib's ten: the named colours farthest (CIELAB) from those ten and from each
# other, picked greedily among CSS4 colours of lightness 15..75 (visible on white); every
# pair of the 20 lies at least 27 units apart, about as far as tab10's own closest pair
_MORE_COLOURS = (
    "#0000FF", "#FF00FF", "#FFA07A", "#4B0082", "#556B2F",
    "#FF1493", "#8A2BE2", "#8FBC8F", "#B8860B", "#1E90FF",
)  # fmt: skip


def line_styles(n: int) -> list[tuple[tuple[float, float, float], str, str]]:
    """(colour, line style, marker) of ``n`` lines, no two alike: a colour of its own for
    each of the first 20 (tab10, then :data:`_MORE_COLOURS`), so that a config's 17 recipes
    differ by colour alone (tab10 alone gave the 1st and 11th recipe one blue); solid lines,
    then dashed, then dotted by tens, each with its own marker, for the rest and for print."""
    from matplotlib import colormaps, colors

    palette = [*colormaps["tab10"].colors, *(colors.to_rgb(c) for c in _MORE_COLOURS)]
    return [
        (palette[i % len(palette)], _LINES[(i // 10) % len(_LINES)], _MARKERS[(i + i // 10) % 10])
        for i in range(n)
    ]


def plot_robust_accuracy(
    records: pd.DataFrame,
    *,
    png: str | os.PathLike,
    pdf: str | os.PathLike,
    recipe_order: Sequence[str] = (),
) -> None:
    """One line per recipe: mean robust accuracy (percent) over its networks at each
    budget (budget 0: clean accuracy), with a band from the lowest to the highest net;
    the legend beside the axes.

    ``records``: :func:`hardpos.robustness.record.load_records`'s frame.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    budgets = sorted({b for cols in records["linf"] for b in cols})
    present = list(dict.fromkeys(records["recipe"]))
    order = [r for r in recipe_order if r in present] + sorted(set(present) - set(recipe_order))
    fig, ax = plt.subplots(figsize=(8.0, 4.5))
    xs = np.array([0.0, *budgets])
    for recipe, (colour, style, marker) in zip(order, line_styles(len(order)), strict=True):
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
        ax.plot(xs, mean, color=colour, linestyle=style, marker=marker,
                label=f"{recipe} ({len(group)})")  # fmt: skip
        if len(group) > 1:
            ax.fill_between(
                xs, np.nanmin(curves, 0), np.nanmax(curves, 0), color=colour, alpha=0.08
            )
    ax.set_xlabel("L-inf budget on [0, 1] (x 255 = grey levels)")
    ax.set_ylabel("accuracy under attack (%)")
    ax.set_xticks(xs)
    ax.set_ylim(-2, 102)
    ax.grid(alpha=0.3)
    # beside the axes: inside, 17 entries cover the lines they name
    ax.legend(fontsize=7, title="recipe (networks)", title_fontsize=7,
              loc="upper left", bbox_to_anchor=(1.01, 1.0))  # fmt: skip
    fig.tight_layout()
    for path in (png, pdf):
        save_figure(fig, path, dpi=150)
    plt.close(fig)
