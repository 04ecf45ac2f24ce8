"""SLURM runtimes and memory per rule from a measured run: ``make slurm-sizing``.

SLURM kills a job at its ``runtime``, so the profile's runtime per rule must cover the
rule's longest job at the scale it will run (the paper config), and ``mem_mb`` its
largest resident memory. Both come from measurements, not guesses: the ``benchmark:``
files of a finished run of a smaller config (mini) give each rule's measured over
modelled seconds (:func:`hardpos.workflow.plan.make_plan`'s calibration) and its peak
memory (:mod:`hardpos.workflow.costs`); the cost model of the target config gives each
of its jobs' modelled seconds. A rule's runtime is its longest target job, scaled by the
rule's ratio, times ``margin``, rounded up to 10 minutes. The seconds are CPU seconds of
the reference machine (2 cores) at the job's threads: on a GPU node they are an upper
bound for the rules that run a network.

    python -m hardpos.workflow.slurm_sizing \\
        --measured "--configfile config/mini.yaml --config results=/path/to/mini/results" \\
        --configfile config/config.yaml
"""

from __future__ import annotations

import argparse
import math
import shlex
import shutil
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from hardpos.errors import HardposError
from hardpos.files.run_folders import RecordFolders
from hardpos.workflow import costs, plan
from hardpos.workflow.cost_model import job_costs, scale_by_ratio
from hardpos.workflow.dry_run import Job, dry_run, parse_dry_run
from hardpos.workflow.run_config import describe_configs, load_config

MARGIN = 2.0  # a job killed at its runtime is lost; one that asks too much only queues longer
LEAST_MINUTES = 10
MEMORY_MARGIN = 1.5
MEMORY_STEP_MB = 500


@dataclass(frozen=True)
class RuleSize:
    rule: str
    jobs: int  # in the target config
    longest_s: float  # the longest target job, modelled and scaled by the measured ratio
    ratio: float | None  # measured / modelled seconds in the measured run (None: not measured)
    measured_jobs: int
    runtime_min: int
    max_rss_mb: float  # largest resident memory of the rule's measured jobs (NaN: none)
    mem_mb: int | None  # MEMORY_MARGIN x that, rounded up (None: not measured)


def round_up(value: float, step: int) -> int:
    return int(math.ceil(value / step) * step)


def size_rules(
    target: Sequence[Job],
    target_config: Mapping,
    measured: Sequence[plan.RuleSummary],
    peak_memory: Mapping[str, float],
    *,
    margin: float = MARGIN,
) -> list[RuleSize]:
    """One size per computing rule of ``target``, longest first.

    ``measured``: the measured run's plan rows (their ``ratio`` and ``measured``);
    ``peak_memory``: the largest resident MB per rule of the measured run's jobs. A rule
    the measured run did not time keeps the cost model's own seconds (ratio None)."""
    ratios = {r.rule: r for r in measured if r.ratio is not None}
    longest: dict[str, float] = {}
    counts: dict[str, int] = {}
    for job, cost in zip(target, job_costs(target, target_config), strict=True):
        if job.benchmark is None:
            continue  # the aggregate rule, and the table and figure rules, time nothing
        seconds = cost.cpu_seconds
        if job.rule in ratios:
            seconds = scale_by_ratio(seconds, ratios[job.rule].ratio)
        longest[job.rule] = max(longest.get(job.rule, 0.0), seconds)
        counts[job.rule] = counts.get(job.rule, 0) + 1
    sizes = []
    for rule, seconds in longest.items():
        row = ratios.get(rule)
        rss = float(peak_memory.get(rule, math.nan))
        sizes.append(
            RuleSize(
                rule=rule,
                jobs=counts[rule],
                longest_s=seconds,
                ratio=row.ratio if row else None,
                measured_jobs=row.measured if row else 0,
                runtime_min=max(LEAST_MINUTES, round_up(margin * seconds / 60, 10)),
                max_rss_mb=rss,
                mem_mb=None if math.isnan(rss) else round_up(MEMORY_MARGIN * rss, MEMORY_STEP_MB),
            )
        )
    return sorted(sizes, key=lambda s: -s.longest_s)


def format_sizes(sizes: Sequence[RuleSize], *, target: str, measured: str) -> str:
    """A table, then the profile's ``set-resources`` block to paste."""
    lines = [
        f"SLURM sizes for {target}, from the benchmark files of {measured}",
        "",
        "| rule | jobs | longest job | measured/modelled (jobs) | runtime | max RSS MB | mem_mb |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for s in sizes:
        ratio = f"{s.ratio:.2f} ({s.measured_jobs})" if s.ratio is not None else "not measured"
        rss = f"{s.max_rss_mb:.0f}" if s.mem_mb is not None else "-"
        mem = str(s.mem_mb) if s.mem_mb is not None else "-"
        lines.append(
            f"| {s.rule} | {s.jobs} | {plan.duration(s.longest_s / 3600)} | {ratio} | "
            f"{s.runtime_min} min | {rss} | {mem} |"
        )
    lines += [
        "",
        f"runtime: {MARGIN:g} x the longest job, rounded up to 10 min (at least "
        f"{LEAST_MINUTES}); mem_mb: {MEMORY_MARGIN:g} x the largest measured resident "
        f"memory, rounded up to {MEMORY_STEP_MB} MB. CPU seconds of the reference machine.",
        "Memory is measured at the measured run's scale; the rules declare their own mem_mb",
        "(doubled on each retry), so the block below sets runtimes only: compare the mem_mb",
        "column with the rules' before lowering theirs.",
        "",
        "set-resources:",
    ]
    for s in sizes:
        lines.append(f"  {s.rule}:")
        lines.append(f"    runtime: {s.runtime_min}")
    return "\n".join(lines)


def _results(args: Sequence[str]) -> Path:
    return Path(str(load_config(args).get("results", "results")))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m hardpos.workflow.slurm_sizing",
        description="SLURM runtime and mem_mb per rule for a config (the other arguments, "
        "as for snakemake), from the benchmark files of a measured run.",
    )
    parser.add_argument(
        "--measured",
        required=True,
        help="the measured run's snakemake arguments, quoted as one string",
    )
    parser.add_argument("--cores", type=int, default=2, help="cores of the reference machine")
    parser.add_argument("--snakemake", default=shutil.which("snakemake") or "snakemake")
    ours, target_args = parser.parse_known_args(argv)
    measured_args = shlex.split(ours.measured)
    try:
        target_config = load_config(target_args)
        target = parse_dry_run(dry_run(ours.snakemake, target_args, cores=ours.cores))
        measured_plan = plan.plan_for(
            measured_args, snakemake=ours.snakemake, cores=ours.cores, has_gpu=False
        )
    except HardposError as error:
        print(error, file=sys.stderr)
        return 1
    benchmarks = RecordFolders.of(_results(measured_args)).benchmarks
    records = costs.read_records(benchmarks) if benchmarks.is_dir() else []
    if not records:
        print(f"slurm_sizing: {benchmarks}: no finished job's benchmark file", file=sys.stderr)
        return 2
    peak = {s.rule: s.max_rss_mb for s in costs.stage_costs(records)}
    sizes = size_rules(target, target_config, measured_plan.rules, peak)
    print(
        format_sizes(
            sizes,
            target=describe_configs(target_args),
            measured=f"{benchmarks} ({len(records)} jobs)",
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
