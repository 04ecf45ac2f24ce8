"""``hardpos tables``: Table 1, its side-by-side with the paper and held-out by type, from
a run's evaluation records.

The workflow's ``table1`` rule does this at the end of a run. This command does it for
records a run left behind: a run of an older commit (its records read the same) re-read
with today's statistics, or a partial run's finished models (every recipe row says over
how many nets it is).
"""

from __future__ import annotations

import argparse


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "tables", help="Table 1 and its companions from a run's evaluation records"
    )
    p.add_argument("results", help="a run's results folder (its eval/ and robustness/ records)")
    p.add_argument("--out", required=True, help="folder for the tables (created)")
    p.add_argument("--paper", default="config/paper_table1.yaml", help="the paper's Table 1")
    p.add_argument(
        "--order", default="basic", help="recipes first, comma-separated; the rest alphabetically"
    )


def run(args: argparse.Namespace) -> int:
    from hardpos.report.outputs import write_run_tables

    order = [name for name in args.order.split(",") if name]
    evaluations, robustness = write_run_tables(
        args.results, args.out, paper=args.paper, recipe_order=order
    )
    print(f"{evaluations} evaluation and {robustness} robustness records -> {args.out}")
    return 0
