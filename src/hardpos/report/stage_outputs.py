"""Reporting stages: Table 1 and Figures 2, 4, 5 and 6 from the workflow's outputs."""

from __future__ import annotations

import html
import json
import logging
import os
import re
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from hardpos.errors import DataError, InputError
from hardpos.files.atomic import write_text
from hardpos.files.datasets import load_dataset
from hardpos.files.images import ImageStack
from hardpos.files.parquet import load_table
from hardpos.files.run_folders import RecordFolders
from hardpos.report import figures, paper_comparison, table1
from hardpos.report.imagenet_tables import (
    figure3,
    pick_gallery_image,
    section53_table,
    write_section53,
)

log = logging.getLogger(__name__)

# The files of write_tables, by its ``outs`` keys (``hardpos tables``, ``make publish``)
TABLE_FILES = {
    "table1_csv": "table1.csv",
    "table1_md": "table1.md",
    "table1_tex": "table1.tex",
    "vs_paper_csv": "table1_vs_paper.csv",
    "vs_paper_md": "table1_vs_paper.md",
    "by_type_csv": "heldout_by_type.csv",
    "by_type_md": "heldout_by_type.md",
}


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
    both = paper_comparison.side_by_side(ours, paper)
    paper_comparison.write_side_by_side(both, outs["vs_paper_csv"], outs["vs_paper_md"])
    by_type = table1.heldout_type_table(evals, recipe_order=list(recipe_order))
    table1.write_heldout_type_table(by_type, outs["by_type_csv"], outs["by_type_md"])
    for key, md_key, title, caption in HTML_TABLES:  # the pages the report shows
        if key in outs:
            markdown = Path(outs[md_key]).read_text()
            write_text(outs[key], table_html(markdown, title=title, caption=caption))
    log.info("Table 1 over %d models, %d rows", len(evals), len(ours))


def write_run_tables(
    results: str | os.PathLike,
    out: str | os.PathLike,
    *,
    paper: str | os.PathLike,
    recipe_order: Sequence[str],
) -> tuple[int, int]:
    """:func:`write_tables` over a run folder's ``eval/`` and ``robustness/`` records, into
    ``out`` under the names of :data:`TABLE_FILES` (``hardpos tables``, ``make publish``).
    Returns how many evaluation and robustness records it read."""
    folders, out = RecordFolders.of(results), Path(out)
    evaluations = sorted(folders.evaluations.rglob("*.json"))
    if not evaluations:
        raise InputError(f"{folders.evaluations}: no evaluation records (*.json)")
    if not Path(paper).is_file():
        raise InputError(f"--paper {paper}: no such file (the paper's Table 1, YAML)")
    robustness = sorted(folders.robustness.rglob("*.json"))
    out.mkdir(parents=True, exist_ok=True)
    write_tables(
        evaluations=evaluations,
        paper=paper,
        recipe_order=recipe_order,
        robustness=robustness,
        outs={key: out / name for key, name in TABLE_FILES.items()},
    )
    return len(evaluations), len(robustness)


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
    panels = []
    for net, pairs in generated.items():
        images = ImageStack([path for path, _ in pairs])  # memory-mapped, not concatenated
        table = pd.concat([load_table(path) for _, path in pairs], ignore_index=True)
        originals, _ = load_dataset(datasets[net])
        panels.append({"net": net, **pick_gallery_image(table, images, originals, types=types)})
    figure3(panels, out_png=out_png, out_pdf=out_pdf)


# ---------------------------------------------------------------------------------------
# Tables as HTML pages, for the report (Snakemake shows an .html output in the page)

_HTML_STYLE = """
body { font-family: system-ui, sans-serif; font-size: 14px; margin: 1.5em; color: #222; }
h1 { font-size: 1.25em; margin: 0 0 0.4em 0; }
p.caption { max-width: 62em; line-height: 1.4; margin: 0 0 1em 0; }
table { border-collapse: collapse; }
th, td { padding: 0.3em 0.8em; border-bottom: 1px solid #ddd; }
th { background: #f2f2f2; text-align: left; }
td.number { text-align: right; font-variant-numeric: tabular-nums; }
p.source { color: #666; font-size: 0.9em; margin-top: 1em; }
"""


def markdown_rows(markdown: str) -> tuple[list[str], list[list[str]]]:
    """Header and rows of a Markdown pipe table (as ``DataFrame.to_markdown`` writes)."""
    lines = [line.strip() for line in markdown.splitlines() if line.strip().startswith("|")]
    if len(lines) < 2 or not set(lines[1]) <= set("|:- "):
        raise DataError("report: expected a Markdown table (a header row, then |---|)")

    def cells(line: str) -> list[str]:
        return [cell.strip() for cell in line.strip("|").split("|")]

    header = cells(lines[0])
    rows = [cells(line) for line in lines[2:]]
    for i, row in enumerate(rows):
        if len(row) != len(header):
            raise DataError(
                f"report: Markdown table row {i + 1} has {len(row)} cells, header {len(header)}"
            )
    return header, rows


_NUMBER = re.compile(r"^[-+–]?[\d,.]+%?( ± [\d.]+)?( / [-+–]?[\d,.]+%?)?$|^–$")


def table_html(markdown: str, *, title: str, caption: str, source: str = "") -> str:
    """A self-contained HTML page: ``title``, ``caption`` and the Markdown table as an
    HTML table (numbers right-aligned)."""
    header, rows = markdown_rows(markdown)
    head = "".join(f"<th>{html.escape(cell)}</th>" for cell in header)
    body = []
    for row in rows:
        tds = []
        for cell in row:
            kind = ' class="number"' if _NUMBER.match(cell) else ""
            tds.append(f"<td{kind}>{html.escape(cell)}</td>")
        body.append("<tr>" + "".join(tds) + "</tr>")
    note = f'<p class="source">{html.escape(source)}</p>' if source else ""
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{_HTML_STYLE}</style></head><body>\n"
        f'<h1>{html.escape(title)}</h1>\n<p class="caption">{html.escape(caption)}</p>\n'
        f"<table><thead><tr>{head}</tr></thead><tbody>\n" + "\n".join(body) + "\n</tbody></table>\n"
        f"{note}</body></html>\n"
    )


# (output key, its Markdown twin, title, caption) of each table the report shows on the page
HTML_TABLES = (
    ("table1_html", "table1_md", "Table 1",
     "Error rates in percent: mean ± sample standard deviation (ddof 1) over the networks "
     "of each row (Networks). MNIST: the 10,000 test images. Held-out adversarial: the "
     "held-out set made on the base nets from the test images; own parent's / other nets': "
     "only the held-out images made on the model's own parent base net / on the other base "
     "nets (means); \"own parent's only\": a run with one base net, whose held-out set "
     "holds only that net's adversarials. Added images: adversarials added to the 60,000 "
     "training images."),
    ("vs_paper_html", "vs_paper_md", "Table 1 beside the paper",
     "Errors in percent. MNIST: mean ± sample standard deviation over the row's networks "
     "(the paper's over 9 networks, 3 for the basic LeNet and InfiMNIST). The paper's "
     "adversarial column is its held-out adversarial error; ours is the held-out error, "
     "then split into the own parent's / other base nets' adversarials. A blank: no such "
     "row on that side."),
    ("by_type_html", "by_type_md", "Held-out error by adversarial type",
     "Mean error in percent of each recipe's networks on the held-out images of one "
     "adversarial type (FGS, FGV, HC-k: hot/cold with hot rank k, HC-1x1.05: HC-1 at 1.05 "
     "times its smallest adversarial scale, HC-S-1: hot/cold sign)."),
)  # fmt: skip
