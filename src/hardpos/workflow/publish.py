"""A finished run, published: ``make publish RESULTS=<results> OUT=docs/results/<name>``.

What a reader of a published result needs, in one folder a repository can hold: Table 1,
its side-by-side with the paper and held-out error by type (made anew from the run's
evaluation records with today's statistics), the run's figures, every model's evaluation
and robustness record, the record of each start of the run (commit, changed files,
config, versions, machine: :mod:`hardpos.workflow.provenance`), the config it ran, the
cost of each stage (:mod:`hardpos.workflow.costs`) and an index, ``README.md``.

A run that has not finished is refused (its Table 1 would be over fewer nets than the
config asks for): the run's own Table 1 must exist and be newer than every evaluation
record. ``--partial`` publishes it anyway and says so at the top of the index. A run
without start records (made before they existed) is refused too, unless
``--unrecorded``: then the index says that its commit and config are not known.
The folder is built beside ``OUT`` and swapped in whole, so a failed publish leaves the
earlier one as it was.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from hardpos.errors import HardposError, InputError
from hardpos.files.atomic import write_text
from hardpos.report.outputs import write_run_tables
from hardpos.workflow.costs import format_costs, read_records, stage_costs
from hardpos.workflow.layout import layout_from_config
from hardpos.workflow.provenance import read_runs

FIGURE_SUFFIXES = (".png", ".pdf", ".svg")


def finished(results: Path) -> tuple[bool, str]:
    """Whether the run made its Table 1 after its last evaluation, and why not."""
    table = results / "tables" / "table1.csv"
    evaluations = sorted((results / "eval").rglob("*.json"))
    if not evaluations:
        raise InputError(f"{results / 'eval'}: no evaluation records (*.json): nothing to publish")
    if not table.is_file():
        return False, f"{table} is missing: the run has not finished ({len(evaluations)} models)"
    newest = max(evaluations, key=lambda p: p.stat().st_mtime_ns)
    if newest.stat().st_mtime_ns > table.stat().st_mtime_ns:
        return False, f"{newest} is newer than {table}: the run went on after its Table 1"
    return True, f"Table 1 of the run over {len(evaluations)} evaluated models"


def default_order(config: dict[str, Any] | None) -> list[str]:
    """Table 1's rows in the order the run's own ``table1`` rule gave them (the layout of
    the recorded config); without a record, basic first and the rest alphabetically."""
    if config is None:
        return ["basic"]
    try:
        return layout_from_config(config).table1_recipes()
    except (KeyError, TypeError, HardposError) as error:
        raise InputError(f"the recorded config has no usable recipes ({error}); "
                         "give the rows with --order") from None  # fmt: skip


def _copy_tree(source: Path, dest: Path, suffixes: Sequence[str]) -> int:
    count = 0
    for path in sorted(source.rglob("*")):
        if path.is_file() and path.suffix in suffixes and ".tmp" not in path.name:
            target = dest / path.relative_to(source)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
            count += 1
    return count


def _runs_section(runs: list[dict[str, Any]]) -> list[str]:
    if not runs:
        return [
            "No start records: this run was made before the workflow wrote them, so which",
            "commit and config made it is not known from its results.",
        ]
    lines = [
        "| started (UTC) | commit | tracked files changed | processor | cores |",
        "| --- | --- | ---: | --- | ---: |",
    ]
    for run in runs:
        commit = run.get("commit") or f"unknown ({run.get('note', 'no git checkout')})"
        machine = run.get("machine", {})
        changed = len(run.get("changed_files") or [])
        lines.append(
            f"| {run.get('started')} | {commit} | {changed} | {machine.get('processor')} | "
            f"{machine.get('cores')} |"
        )
    commits = {run.get("commit") for run in runs}
    if len(commits) > 1:
        lines += ["", f"**The run's parts ran {len(commits)} different commits** (see runs/)."]
    return lines


def _index(
    results: Path, status: tuple[bool, str], runs: list[dict], counts: dict[str, int]
) -> str:
    complete, why = status
    lines = [f"# Published run: `{results}`", ""]
    lines += [f"**{'Complete' if complete else 'PARTIAL'}**: {why}.", ""]
    lines += ["## The run's starts (`runs/`, each start's full record)", ""]
    lines += [*_runs_section(runs), ""]
    lines += ["## Files", ""]
    lines += [
        "- `table1.md` (`.csv`, `.tex`): Table 1 with the statistics; `table1_vs_paper.md`:",
        "  beside the paper's; `heldout_by_type.md`: held-out error by adversarial type.",
        f"- `figures/`: the run's figures ({counts['figures']} files).",
        f"- `eval/`: every model's evaluation record ({counts['eval']});"
        f" `robustness/`: strong-attack records ({counts['robustness']}).",
        "- `config.yaml`: the config of the last start"
        + (" (as recorded)." if runs else " (not recorded: absent)."),
        "- `costs.md`: jobs, wall and CPU seconds and memory per stage.",
    ]
    return "\n".join(lines) + "\n"


def publish(
    results: str | os.PathLike,
    out: str | os.PathLike,
    *,
    paper: str | os.PathLike = "config/paper_table1.yaml",
    order: Sequence[str] | None = None,
    partial: bool = False,
    unrecorded: bool = False,
) -> Path:
    """Publish the run under ``results`` into ``out`` (see the module's docstring)."""
    results, out = Path(results), Path(out)
    if not results.is_dir():
        raise InputError(f"{results}: no such results folder")
    status = finished(results)
    if not status[0] and not partial:
        raise InputError(f"{status[1]}; --partial publishes it anyway, marked partial")
    runs = read_runs(results)
    if not runs and not unrecorded:
        raise InputError(
            f"{results / 'logs' / 'runs'}: no start records, so the commit and config of this "
            "run are unknown; --unrecorded publishes it saying so"
        )
    config = runs[-1].get("config") if runs else None
    building = out.parent / f".{out.name}.publishing-{os.getpid()}"
    shutil.rmtree(building, ignore_errors=True)
    building.mkdir(parents=True)
    try:
        write_run_tables(
            results, building, paper=paper, recipe_order=order or default_order(config)
        )
        counts = {
            "figures": _copy_tree(results / "figures", building / "figures", FIGURE_SUFFIXES),
            "eval": _copy_tree(results / "eval", building / "eval", (".json",)),
            "robustness": _copy_tree(results / "robustness", building / "robustness", (".json",)),
        }
        _copy_tree(results / "logs" / "runs", building / "runs", (".yaml",))
        if config is not None:
            write_text(building / "config.yaml", yaml.safe_dump(config, sort_keys=False))
        records = read_records(results / "benchmarks") if (results / "benchmarks").is_dir() else []
        costs = format_costs(stage_costs(records), str(results / "benchmarks")) if records else ""
        write_text(building / "costs.md", (costs or "No benchmark files.") + "\n")
        write_text(building / "README.md", _index(results, status, runs, counts))
        _swap_in(building, out)
    finally:
        shutil.rmtree(building, ignore_errors=True)
    return out


def _swap_in(building: Path, out: Path) -> None:
    """Put the finished folder at ``out``; an earlier one goes only once it is replaced."""
    old = out.parent / f".{out.name}.old-{os.getpid()}"
    if out.exists():
        os.replace(out, old)
    os.replace(building, out)
    shutil.rmtree(old, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", help="the run's results folder")
    parser.add_argument("--out", required=True, help="the folder to publish into (replaced)")
    parser.add_argument("--paper", default="config/paper_table1.yaml")
    parser.add_argument("--order", default="", help="Table 1's rows first, comma-separated "
                        "(default: basic, then the recorded config's recipes)")  # fmt: skip
    parser.add_argument("--partial", action="store_true", help="publish an unfinished run")
    parser.add_argument("--unrecorded", action="store_true",
                        help="publish a run without start records")  # fmt: skip
    args = parser.parse_args(argv)
    order = [name for name in args.order.split(",") if name] or None
    try:
        out = publish(args.results, args.out, paper=args.paper, order=order,
                      partial=args.partial, unrecorded=args.unrecorded)  # fmt: skip
    except HardposError as error:
        print(f"publish: {error}", file=sys.stderr)
        return 2
    print(f"published {args.results} -> {out} (index: {out / 'README.md'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
