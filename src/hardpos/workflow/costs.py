"""What each stage of a run cost, from its ``benchmark:`` files: ``make costs``.

Every rule that computes writes ``results/benchmarks/<rule>/<job>.tsv`` (Snakemake's
wall seconds, memory and CPU load of the job). This turns them into one row per rule:
jobs, wall seconds (median and largest), CPU seconds (wall x mean load, as
:func:`hardpos.workflow.plan.read_benchmark` reads them) and the largest resident memory,
which is what a SLURM ``runtime`` and ``mem_mb`` should be sized from.

    python -m hardpos.workflow.costs results            # or: make costs
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path

from hardpos.errors import DataError


@dataclass(frozen=True)
class JobRecord:
    rule: str
    job: str
    wall_s: float
    cpu_s: float
    max_rss_mb: float
    load: float  # mean CPU load of the job in percent of one core


@dataclass(frozen=True)
class StageCost:
    rule: str
    jobs: int
    wall_median_s: float
    wall_max_s: float
    cpu_total_s: float
    max_rss_mb: float
    slowest: str


def _number(row: dict, key: str) -> float:
    try:
        return float(row.get(key) or "nan")
    except ValueError:
        return math.nan


def read_records(benchmarks: str | os.PathLike) -> list[JobRecord]:
    """One record per benchmark file under ``benchmarks`` (the rule is the first folder).
    A file that is empty or not Snakemake's format is a :class:`DataError` naming it: left
    out silently, it would make a stage look cheaper than it was."""
    root = Path(benchmarks)
    records = []
    for path in sorted(root.rglob("*.tsv")):
        rule = path.relative_to(root).parts[0]
        try:
            with path.open(newline="") as handle:
                rows = list(csv.DictReader(handle, delimiter="\t"))
        except (OSError, UnicodeDecodeError) as error:
            raise DataError(f"{path}: not a readable benchmark file ({error})") from None
        rows = [row for row in rows if math.isfinite(_number(row, "s"))]
        if not rows:
            raise DataError(f"{path}: no time in this benchmark file (empty or damaged); "
                            "delete it and rerun its job to measure it again")  # fmt: skip
        row = rows[-1]  # a job benchmarked with repeats: the last run
        wall, load = _number(row, "s"), _number(row, "mean_load")
        cpu = min(wall, wall * load / 100) if load > 0 else wall
        name = str(path.relative_to(root / rule).with_suffix(""))
        records.append(JobRecord(rule, name, wall, cpu, _number(row, "max_rss"), load))
    return records


def stage_costs(records: list[JobRecord]) -> list[StageCost]:
    """Per rule, most CPU first."""
    by_rule: dict[str, list[JobRecord]] = {}
    for record in records:
        by_rule.setdefault(record.rule, []).append(record)
    stages = []
    for rule, jobs in by_rule.items():
        walls = [j.wall_s for j in jobs]
        rss = [j.max_rss_mb for j in jobs if math.isfinite(j.max_rss_mb)]
        slowest = max(jobs, key=lambda j: j.wall_s)
        stages.append(
            StageCost(
                rule, len(jobs), statistics.median(walls), max(walls),
                sum(j.cpu_s for j in jobs), max(rss) if rss else math.nan, slowest.job,
            )
        )  # fmt: skip
    return sorted(stages, key=lambda s: -s.cpu_total_s)


def format_costs(stages: list[StageCost], where: str) -> str:
    lines = [
        f"Costs of the finished jobs under {where} (Snakemake benchmark files)",
        "",
        "| rule | jobs | wall s (median) | wall s (max) | CPU s (all jobs) | max RSS MB "
        "| slowest job |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for s in stages:
        lines.append(
            f"| {s.rule} | {s.jobs} | {s.wall_median_s:.1f} | {s.wall_max_s:.1f} | "
            f"{s.cpu_total_s:.0f} | {s.max_rss_mb:.0f} | {s.slowest} |"
        )
    total_cpu = sum(s.cpu_total_s for s in stages)
    jobs = sum(s.jobs for s in stages)
    lines += ["", f"{jobs} jobs, {total_cpu / 3600:.2f} CPU-hours (wall x mean load)."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="?", default="results", help="the run's results folder")
    args = parser.parse_args(argv)
    benchmarks = Path(args.results) / "benchmarks"
    if not benchmarks.is_dir():
        print(f"costs: {benchmarks}: no benchmark files (has the run started?)", file=sys.stderr)
        return 2
    try:
        records = read_records(benchmarks)
    except DataError as error:
        print(f"costs: {error}", file=sys.stderr)
        return 2
    if not records:
        print(f"costs: {benchmarks}: no finished job's benchmark file", file=sys.stderr)
        return 2
    print(format_costs(stage_costs(records), str(benchmarks)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
