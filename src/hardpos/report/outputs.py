"""Reporting stages: Table 1 and Figures 2, 4, 5 and 6 from the workflow's outputs."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from hardpos.files.datasets import load_dataset
from hardpos.files.images import ImageStack
from hardpos.files.parquet import load_table
from hardpos.report import figures, table1

log = logging.getLogger(__name__)


def write_tables(
    *,
    evaluations: Sequence[str | os.PathLike],
    paper: str | os.PathLike,
    recipe_order: Sequence[str],
    outs: dict[str, str | os.PathLike],
    robustness: Sequence[str | os.PathLike] = (),
) -> None:
    """Table 1 (CSV, Markdown, LaTeX), its side-by-side with the paper, held-out by type;
    ``robustness``: the models' robustness records, for the strong-attack columns."""
    evals = table1.load_evaluations(evaluations, robustness=robustness)
    ours = table1.table1(evals, recipe_order=list(recipe_order))
    table1.write_table1(ours, outs["table1_csv"], outs["table1_md"], outs["table1_tex"])
    both = table1.side_by_side(ours, paper)
    table1.write_side_by_side(both, outs["vs_paper_csv"], outs["vs_paper_md"])
    by_type = table1.heldout_type_table(evals, recipe_order=list(recipe_order))
    table1.write_heldout_type_table(by_type, outs["by_type_csv"], outs["by_type_md"])
    log.info("Table 1 over %d models, %d rows", len(evals), len(ours))


def _scored_tables(paths: Sequence[str | os.PathLike]) -> list[pd.DataFrame]:
    return [load_table(path) for path in paths]


def write_figure4(
    *, scored: Sequence[str | os.PathLike], types: Sequence[str], out_png: str, out_pdf: str
) -> None:
    """PASS distributions per adversarial type (the paper's Figure 4), for the named types."""
    figures.figure4(_scored_tables(scored), out_png, out_pdf, types=types)


def write_figure5(
    *, scored: Sequence[str | os.PathLike], types: Sequence[str], out_png: str, out_pdf: str
) -> None:
    """PASS, L2 and L-inf per type (the paper's Figure 5), for the named types."""
    figures.figure5(_scored_tables(scored), out_png, out_pdf, types=types)


def write_figure6(
    *,
    evaluations: Sequence[str | os.PathLike],
    buckets: dict[str, tuple[float, float]],
    out_png: str,
    out_pdf: str,
) -> None:
    """MNIST and held-out error against the PASS range of the training data (Figure 6)."""
    evals = table1.load_evaluations(evaluations)
    figures.figure6(evals[evals["recipe"].isin(list(buckets))], buckets, out_png, out_pdf)


def write_figure2(
    *,
    generated: Sequence[tuple[str, str]],
    dataset: str | os.PathLike,
    types: Sequence[str],
    out_png: str,
    out_pdf: str,
) -> None:
    """A gallery of one test digit's adversarials and perturbations (Figure 2)."""
    images = ImageStack([path for path, _ in generated])  # memory-mapped, not concatenated
    table = pd.concat([load_table(path) for _, path in generated], ignore_index=True)
    originals, _ = load_dataset(dataset)
    chosen = figures.pick_gallery(table, images, originals, types=tuple(types))
    figures.figure2(**chosen, out_png=out_png, out_pdf=out_pdf)


def write_imagenet_table(
    *, evaluations: Sequence[str | os.PathLike], out_csv: str, out_md: str
) -> None:
    """The section 5.3 table: top-1/top-5 error per network and the change per added image."""
    from hardpos.report.section53 import section53_table, write_section53

    records = [json.loads(Path(path).read_text()) for path in evaluations]
    write_section53(section53_table(records), out_csv, out_md)


def write_figure3(
    *,
    generated: dict[str, list[tuple[str, str]]],
    datasets: dict[str, str],
    types: Sequence[str],
    out_png: str,
    out_pdf: str,
) -> None:
    """Figure 3: one crop per network with its FGS, FGV, HC-1 and HC-13 adversarials."""
    from hardpos.report.section53 import figure3, pick_gallery_image

    panels = []
    for net, pairs in generated.items():
        images = ImageStack([path for path, _ in pairs])  # memory-mapped, not concatenated
        table = pd.concat([load_table(path) for _, path in pairs], ignore_index=True)
        originals, _ = load_dataset(datasets[net])
        panels.append({"net": net, **pick_gallery_image(table, images, originals, types=types)})
    figure3(panels, out_png=out_png, out_pdf=out_pdf)
