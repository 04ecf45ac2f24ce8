"""Reporting stages: Table 1 and Figures 2, 4, 5 and 6 from the workflow's outputs."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence

import pandas as pd

from hardpos import figures, tables
from hardpos.data import load_dataset
from hardpos.imagefiles import ImageStack
from hardpos.io import load_table

log = logging.getLogger(__name__)


def write_tables(
    *,
    evaluations: Sequence[str | os.PathLike],
    paper: str | os.PathLike,
    recipe_order: Sequence[str],
    outs: dict[str, str | os.PathLike],
) -> None:
    """Table 1 (CSV, Markdown, LaTeX), its side-by-side with the paper, held-out by type."""
    evals = tables.load_evaluations(evaluations)
    ours = tables.table1(evals, recipe_order=list(recipe_order))
    tables.write_table1(ours, outs["table1_csv"], outs["table1_md"], outs["table1_tex"])
    both = tables.side_by_side(ours, paper)
    tables.write_side_by_side(both, outs["vs_paper_csv"], outs["vs_paper_md"])
    by_type = tables.heldout_type_table(evals, recipe_order=list(recipe_order))
    tables.write_heldout_type_table(by_type, outs["by_type_csv"], outs["by_type_md"])
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
    evals = tables.load_evaluations(evaluations)
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
