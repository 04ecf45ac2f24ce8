"""What each stage of a run cost, from its ``benchmark:`` files: ``make costs``.

Every rule that computes writes ``{results}/benchmarks/<rule>/<job>.tsv`` (Snakemake's
wall seconds, memory and CPU load of the job). This turns them into one row per rule:
jobs, wall seconds (median and largest), CPU seconds (wall x mean load, as
:func:`benchmark_rows`) and the largest resident memory,
which is what a SLURM ``runtime`` and ``mem_mb`` should be sized from.

    python -m hardpos.workflow.costs results/mini
    make costs ARGS="--configfile config/mini.yaml"    # the same: that config's folder
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
from hardpos.files.run_folders import RecordFolders


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


def benchmark_rows(path: str | os.PathLike) -> list[dict[str, float]]:
    """Each measured repeat of one ``benchmark:`` file: wall ``s``, ``cpu_s`` (wall x mean
    load, at most the wall: on a busy machine the wall includes waiting for a core; the
    file's own ``cpu_time`` is sampled every 30 s after the first 15 and misses up to the
    last 30 s of a job), ``max_rss`` (MB) and ``mean_load`` (percent of one core). A file
    that is empty or not Snakemake's format is a :class:`DataError` naming it: left out
    silently, it would make a stage look cheaper than it was."""
    try:
        with open(path, newline="") as handle:
            rows = list(csv.DictReader(handle, delimiter="\t"))
    except (OSError, UnicodeDecodeError) as error:
        raise DataError(f"{path}: not a readable benchmark file ({error})") from None
    measured = []
    for row in rows:
        wall, load = _number(row, "s"), _number(row, "mean_load")
        if math.isfinite(wall):
            cpu = min(wall, wall * load / 100) if load > 0 else wall
            measured.append({"s": wall, "cpu_s": cpu, "max_rss": _number(row, "max_rss"),
                             "mean_load": load})  # fmt: skip
    if not measured:
        raise DataError(f"{path}: no time in this benchmark file (empty or damaged); "
                        "delete it and rerun its job to measure it again")  # fmt: skip
    return measured


def read_records(benchmarks: str | os.PathLike) -> list[JobRecord]:
    """One record per benchmark file under ``benchmarks`` (the rule is the first folder;
    a job benchmarked with repeats: its last)."""
    root = Path(benchmarks)
    records = []
    for path in sorted(root.rglob("*.tsv")):
        rule = path.relative_to(root).parts[0]
        row = benchmark_rows(path)[-1]
        name = str(path.relative_to(root / rule).with_suffix(""))
        records.append(
            JobRecord(rule, name, row["s"], row["cpu_s"], row["max_rss"], row["mean_load"])
        )
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
    parser.add_argument("results", help="the run's results folder (config key results)")
    args = parser.parse_args(argv)
    benchmarks = RecordFolders.of(args.results).benchmarks
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
