"""The section 5.3 table and Figure 3 of the paper.

Errors are in percent. The change per added image is the error of the base network minus
that of the fine-tuned one, divided by the number of images fine-tuning added: positive
when fine-tuning helped, in percentage points per image, as the paper reports it
("2.07e-4% per added image").
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from hardpos.errors import DataError  # noqa: E402
from hardpos.experiments.recipes import type_names  # noqa: E402
from hardpos.files.atomic import write_text  # noqa: E402
from hardpos.files.sidecars import image_counts  # noqa: E402
from hardpos.report.figures import _save  # noqa: E402

# Section 5.3: BVLC-GoogLeNet fine-tuned with ~250K HC-1..HC-20 hard positives (PASS >
# 0.99), center crops of the validation set; and the crops baselines the paper computes
# from Szegedy et al. (10 and 144 crops, top-5 only).
PAPER_ROWS = [
    {"source": "paper", "network": "BVLC-GoogLeNet", "recipe": "HC-1..HC-20, PASS > 0.99",
     "added_images": 250_000, "top1": 30.552, "top5": 10.604,
     "top1_gain_per_image": 2.07e-4, "top5_gain_per_image": 1.01e-4},
    {"source": "paper", "network": "GoogLeNet [20]", "recipe": "10 crops",
     "top5_gain_per_image": 7.67e-6},
    {"source": "paper", "network": "GoogLeNet [20]", "recipe": "144 crops",
     "top5_gain_per_image": 1.26e-6},
]  # fmt: skip


def section53_table(records: Sequence[dict]) -> pd.DataFrame:
    """One row per evaluated network (ours), then the paper's rows.

    ``records`` are evaluation JSONs with ``recipe`` (``basic`` for a base network),
    ``net``, ``order``, ``added_images`` (older records: ``train_images``) and ``top1`` /
    ``top5`` error fractions.
    """
    frame = pd.DataFrame(records)
    missing = {"recipe", "net", "top1", "top5"} - set(frame.columns)
    if missing:
        raise DataError(f"evaluation records lack {sorted(missing)}")
    base = frame[frame["recipe"] == "basic"].set_index("net")
    rows = []
    for _, r in frame.iterrows():
        row = {
            "source": "ours",
            "network": r["net"],
            "recipe": r["recipe"],
            "order": r.get("order"),
            "added_images": image_counts(r.dropna())["added_images"],
            "top1": 100.0 * r["top1"],
            "top5": 100.0 * r["top5"],
            "n": int(r.get("n", 0)),
        }
        if r["recipe"] != "basic" and r["net"] in base.index:
            for key in ("top1", "top5"):
                change = 100.0 * (base.loc[r["net"], key] - r[key])
                row[f"{key}_change"] = change
                added = row["added_images"]
                row[f"{key}_gain_per_image"] = change / added if added else np.nan
        rows.append(row)
    ours = pd.DataFrame(rows).sort_values(["network", "recipe"], key=lambda s: s.astype(str))
    ours = ours.sort_values("recipe", key=lambda s: s != "basic", kind="stable")
    return pd.concat([ours, pd.DataFrame(PAPER_ROWS)], ignore_index=True)


def _fmt(value, spec: str) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "–"
    return format(value, spec)


def write_section53(table: pd.DataFrame, csv: str | os.PathLike, md: str | os.PathLike) -> None:
    """The table as CSV (raw numbers) and Markdown (formatted)."""
    write_text(csv, table.to_csv(index=False))
    get = table.get
    shown = pd.DataFrame(
        {
            "": table["source"],
            "Network": table["network"],
            "Fine-tuned with": table["recipe"].replace({"basic": "– (base network)"}),
            "Order": [_fmt(v, ".0f") for v in get("order", pd.Series([None] * len(table)))],
            "Added images": [_fmt(v, ",.0f") for v in table["added_images"]],
            "Top-1 error": [_fmt(v, ".3f") + "%" * (v == v) for v in table["top1"]],
            "Top-5 error": [_fmt(v, ".3f") + "%" * (v == v) for v in table["top5"]],
            "Top-1 gain per added image": [_fmt(v, ".3g") for v in table["top1_gain_per_image"]],
            "Top-5 gain per added image": [_fmt(v, ".3g") for v in table["top5_gain_per_image"]],
        }
    )
    note = (
        "\nErrors on center crops of the validation set. Gain per added image: (base error "
        "- fine-tuned error) / added images, in percentage points (positive: better).\n"
    )
    write_text(md, shown.to_markdown(index=False) + "\n" + note)


def pick_gallery_image(
    table: pd.DataFrame, images: np.ndarray, originals: np.ndarray, *, types: Sequence[str]
) -> dict:
    """The source crop with successful adversarials of the most of ``types`` (the lowest
    index among equals), and per type its adversarial image and table row (None if none)."""
    if len(images) != len(table):
        raise DataError(f"gallery: {len(images)} images but {len(table)} table rows")
    table = table.reset_index(drop=True)
    table = table.assign(type=type_names(table))
    ok = table[table["success"].astype(bool) & table["type"].isin(list(types))]
    if ok.empty:
        raise DataError(f"gallery: no successful adversarial of any of {list(types)}")
    counts = ok.groupby("source")["type"].nunique()
    source = int(counts.index[counts == counts.max()].min())
    cells = []
    for name in types:
        match = ok[(ok["source"] == source) & (ok["type"] == name)]
        row = match.iloc[0] if len(match) else None
        cells.append((name, None if row is None else images[row.name], row))
    label = int(ok[ok["source"] == source]["label"].iloc[0])
    return {"original": originals[source], "label": label, "source": source, "cells": cells}


def _rgb(image: np.ndarray) -> np.ndarray:
    return np.asarray(image, dtype=np.uint8).transpose(1, 2, 0)


def figure3(panels: Sequence[dict], *, out_png: str, out_pdf: str, gain: float = 10.0) -> None:
    """Per network: the original crop and its adversarials (top row), the perturbations
    times ``gain`` around grey (bottom row: grey = no change), with (PASS, L2 per pixel,
    L-inf) under each, as the paper's Figure 3."""
    n = max(len(p["cells"]) for p in panels)
    figure, axes = plt.subplots(
        2 * len(panels), n + 1, figsize=(1.9 * (n + 1), 4.0 * len(panels)), squeeze=False
    )
    for p_i, panel in enumerate(panels):
        top, bottom = axes[2 * p_i], axes[2 * p_i + 1]
        original = panel["original"].astype(np.float64)
        top[0].imshow(_rgb(panel["original"]))
        top[0].set_title(f"{panel['net']}\noriginal: class {panel['label']}", fontsize=8)
        bottom[0].axis("off")
        for i, (name, adv, row) in enumerate(panel["cells"], start=1):
            if adv is None:
                top[i].set_title(f"{name}: none", fontsize=8)
                top[i].axis("off")
                bottom[i].axis("off")
                continue
            delta = adv.astype(np.float64) - original
            top[i].imshow(_rgb(adv))
            top[i].set_title(f"{name}: class {int(row['adv_label'])}", fontsize=8)
            bottom[i].imshow(_rgb(np.clip(127.5 + gain * delta, 0, 255)))
            bottom[i].set_xlabel(
                f"({row['pass']:.4f}, {row['l2_per_pixel']:.4f}, {row['linf']:.0f})", fontsize=7
            )
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    figure.tight_layout()
    _save(figure, out_png, out_pdf)
