"""``hardpos tables``: Table 1, its side-by-side with the paper and held-out by type, from
a run's evaluation records.

The workflow's ``table1`` rule does this at the end of a run. This command does it for
records a run left behind: a run of an older commit (its records read the same) re-read
with today's statistics, or a partial run's finished models (every recipe row says over
how many nets it is).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import warnings
from pathlib import Path

from hardpos.errors import InputError
from hardpos.files.run_folders import RecordFolders

# the paper's Table 1 as this checkout holds it, so the command works from any folder
PAPER_TABLE = Path(__file__).resolve().parents[3] / "config" / "paper_table1.yaml"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "tables", help="Table 1 and its companions from a run's evaluation records"
    )
    p.add_argument("results", help="a run's results folder (its eval/ and robustness/ records)")
    p.add_argument("--out", required=True, help="folder for the tables (created)")
    p.add_argument("--paper", default=str(PAPER_TABLE),
                   help="the paper's Table 1 (YAML)")  # fmt: skip
    p.add_argument(
        "--order", default="basic", help="recipes first, comma-separated; the rest alphabetically"
    )


def run(args: argparse.Namespace) -> int:
    from hardpos.report.stage_outputs import write_run_tables

    order = [name for name in args.order.split(",") if name]
    recipes = set()
    for path in RecordFolders.of(args.results).evaluations.rglob("*.json"):
        with contextlib.suppress(json.JSONDecodeError, UnicodeDecodeError, AttributeError):
            recipes.add(json.loads(path.read_text()).get("recipe"))  # bad ones: named below
    unknown = [name for name in order if recipes and name not in recipes]
    if unknown:
        raise InputError(f"--order {','.join(unknown)}: no record of such a recipe; the "
                         f"records hold {', '.join(sorted(map(str, recipes)))}")  # fmt: skip
    with warnings.catch_warnings():
        # a row of one net has no spread: its NaN std and interval are shown as "–"
        warnings.simplefilter("ignore", RuntimeWarning)
        evaluations, robustness = write_run_tables(
            args.results, args.out, paper=args.paper, recipe_order=order
        )
    print(f"{evaluations} evaluation and {robustness} robustness records -> {args.out}")
    return 0
