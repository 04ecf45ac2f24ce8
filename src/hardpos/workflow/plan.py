"""What a config will do before it runs: jobs per rule, CPU-hours, wall time, GPU-hours.

``make plan`` (and the first lines of ``make run``) call :func:`main`. The jobs come from
Snakemake itself (:mod:`hardpos.workflow.dry_run`): one ``snakemake --dry-run
--forceall`` with the run's arguments lists every job, and where the config's results
folder already holds outputs, a second dry run without ``--forceall`` says which of them
Snakemake would run, and why: missing outputs, newer inputs, or params that changed since
the outputs were made. So the plan's "to run" is Snakemake's own.

Each job's time comes from the cost model of its stage (:mod:`hardpos.workflow.cost_model`,
rates in :mod:`hardpos.workflow.calibration`, with their provenance); where earlier runs
left ``benchmark:`` files under ``{results}/benchmarks``, each rule's model is scaled by
what its finished jobs really took. Only benchmarks of jobs whose params match this
config count (a job Snakemake reruns for changed params was measured on other work);
the plan says how many it ignored. Wall time is a list schedule of the jobs on the given
cores and GPU slots (:mod:`hardpos.workflow.schedule`).

GPU figures are estimates from assumed rates (no GPU was available to measure them).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

from hardpos.errors import HardposError
from hardpos.files.run_folders import RecordFolders
from hardpos.workflow.calibration import CALIBRATION, REFERENCE_MACHINE, SCHEDULER_SECONDS
from hardpos.workflow.cost_model import job_costs, read_benchmark, scale_by_ratio
from hardpos.workflow.dry_run import Job, PlanError, dry_run, parse_dry_run
from hardpos.workflow.gpu_slots import cuda_hardware_present
from hardpos.workflow.run_config import (
    BAD_CONFIG_FILE,
    ConfigFileError,
    describe_configs,
    load_config,
    with_override,
    without_configfiles,
)
from hardpos.workflow.schedule import schedule


@dataclass
class RuleSummary:
    rule: str
    jobs: int = 0
    to_run: int = 0
    stage: str = "none"
    units: float = 0.0  # over the jobs still to run
    cpu_hours: float = 0.0  # cores held x hours, the jobs still to run
    gpu_hours: float | None = None
    measured: int = 0  # jobs whose benchmark file calibrated this rule
    ratio: float | None = None  # measured / modelled seconds of those jobs


@dataclass
class Plan:
    rules: list[RuleSummary]
    jobs: int
    to_run: int
    cores: int
    cpu_wall_hours: float  # on this machine's cores, no GPU
    gpu_hours: float  # the GPU jobs on one CUDA device
    gpu_wall_hours: float  # with one CUDA device and the cores for the rest
    has_gpu: bool
    load: float = 0.0  # the machine's load average when planned (other work)
    notes: list[str] = field(default_factory=list)  # what the estimate assumed, said last
    results: str = ""  # the config's results folder
    ignored: int = 0  # benchmark files of jobs Snakemake reruns for changed params
    unused: int = 0  # benchmark files in the results folder of no job of this config

    @property
    def loaded_wall_hours(self) -> float:
        """Wall time when ``load`` other runnable processes share the cores: each of the
        run's jobs then gets cores / (load + cores) of a core."""
        return self.cpu_wall_hours * max(1.0, (self.load + self.cores) / self.cores)


def make_plan(
    jobs: Sequence[Job],
    config: Mapping,
    *,
    cores: int,
    gpu_slots: int | None = 2,
    has_gpu: bool = False,
    exists=os.path.exists,
    to_run: Sequence[bool] | None = None,
) -> Plan:
    """Jobs per rule and the time they take on ``cores`` CPU cores and on one GPU.

    ``to_run``: which jobs Snakemake would run (its dry run without ``--forceall``); when
    not given, a job counts as done when all its outputs exist. A benchmark file of a job
    whose ``reason`` says its params changed is ignored (``Plan.ignored``).
    """
    costs = job_costs(jobs, config)
    if to_run is None:
        to_run = [not (job.outputs and all(exists(p) for p in job.outputs)) for job in jobs]
    done = [not runs for runs in to_run]
    # calibrate each rule by its finished jobs' benchmark files, which time the job itself
    # and not Snakemake's scheduling of it (SCHEDULER_SECONDS)
    measured: dict[str, list[tuple[float, float]]] = defaultdict(list)
    ignored = 0
    for job, cost in zip(jobs, costs, strict=True):
        if job.benchmark and exists(job.benchmark) and job.params_changed:
            ignored += 1
        elif job.benchmark and exists(job.benchmark):
            seconds = read_benchmark(job.benchmark)
            model = cost.gpu_seconds if has_gpu and cost.gpu_seconds else cost.cpu_seconds
            if seconds is not None and model > SCHEDULER_SECONDS:
                measured[job.rule].append((seconds, model - SCHEDULER_SECONDS))
    ratio = {
        rule: sum(m for m, _ in pairs) / sum(c for _, c in pairs)
        for rule, pairs in measured.items()
    }

    def scaled(seconds: float, rule: str, applies: bool) -> float:
        return scale_by_ratio(seconds, ratio[rule]) if applies and rule in ratio else seconds

    cpu = [scaled(c.cpu_seconds, j.rule, not has_gpu) for j, c in zip(jobs, costs, strict=True)]
    gpu = [
        scaled(c.gpu_seconds, j.rule, has_gpu) if c.gpu_seconds is not None else cpu_s
        for j, c, cpu_s in zip(jobs, costs, cpu, strict=True)
    ]
    summaries: dict[str, RuleSummary] = {}
    for i, (job, cost) in enumerate(zip(jobs, costs, strict=True)):
        row = summaries.setdefault(job.rule, RuleSummary(job.rule, stage=cost.stage))
        row.jobs += 1
        if done[i]:
            continue
        row.to_run += 1
        row.units += cost.units
        row.cpu_hours += cpu[i] * min(max(job.threads, 1), cores) / 3600
        if cost.gpu_seconds is not None:
            row.gpu_hours = (row.gpu_hours or 0.0) + gpu[i] / 3600
    for rule, pairs in measured.items():
        summaries[rule].measured = len(pairs)
        summaries[rule].ratio = ratio[rule]
    on_gpu = [
        job.gpu and cost.gpu_seconds is not None for job, cost in zip(jobs, costs, strict=True)
    ]
    gpu_jobs = [
        Job(**{**job.__dict__, "gpu": flag}) for job, flag in zip(jobs, on_gpu, strict=True)
    ]
    return Plan(
        rules=list(summaries.values()),
        jobs=len(jobs),
        to_run=len(jobs) - sum(done),
        cores=cores,
        cpu_wall_hours=schedule(jobs, cpu, cores=cores, gpu_slots=gpu_slots, done=done) / 3600,
        gpu_hours=sum(g for g, flag, d in zip(gpu, on_gpu, done, strict=True) if flag and not d)
        / 3600,
        gpu_wall_hours=schedule(gpu_jobs, gpu, cores=cores, gpu_slots=1, done=done) / 3600,
        has_gpu=has_gpu,
        results=str(config.get("results", "")),
        ignored=ignored,
    )


def duration(hours: float) -> str:
    """``hours`` as a person would say it: 40 s, 12 min, 3.5 h, 2.1 days."""
    seconds = hours * 3600
    if seconds < 0.5:
        return "0 s"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    if hours < 36:
        return f"{hours:.1f} h"
    return f"{hours / 24:.1f} days"


def _amount(units: float) -> str:
    if units >= 1e6:
        return f"{units / 1e6:.1f}M"
    if units >= 1e4:
        return f"{units / 1e3:.0f}K"
    return f"{units:,.0f}"


def format_plan(plan: Plan, *, title: str) -> str:
    """The table ``make plan`` prints: jobs, work and time per rule, then the totals."""
    lines = [title]
    if plan.results:
        lines.append(
            f"Results folder: {plan.results} (config key results; another folder: "
            "--config results=DIR)"
        )
    if plan.ignored:
        lines.append(
            f"Ignored {plan.ignored} benchmark files of jobs Snakemake reruns because their "
            "params changed (measured on other work than this config's)."
        )
    if plan.unused:
        lines.append(
            f"Not used: {plan.unused} benchmark files in {plan.results} of jobs this config "
            "does not have."
        )
    lines.append("")
    header = (
        f"{'rule':<17} {'jobs':>5} {'to run':>6}  {'work to do':<34} {'CPU time':>9} "
        f"{'GPU time':>9}"
    )
    lines += [header, "-" * len(header)]
    for row in plan.rules:
        rate = CALIBRATION.get(row.stage)
        work = (
            f"{_amount(row.units)} {rate.unit}"
            if rate and row.units and row.stage != "other"
            else ""
        )
        if row.ratio is not None:
            work += f" (x{row.ratio:.2f}, {row.measured} benchmarks)"
        gpu = "-" if row.gpu_hours is None else duration(row.gpu_hours)
        lines.append(
            f"{row.rule:<17} {row.jobs:>5} {row.to_run:>6}  {work:<34} "
            f"{duration(row.cpu_hours):>9} {gpu:>9}"
        )
    cpu_total = sum(r.cpu_hours for r in plan.rules)
    lines.append("-" * len(header))
    lines.append(
        f"{'total':<17} {plan.jobs:>5} {plan.to_run:>6}  {'':<34} {duration(cpu_total):>9} "
        f"{duration(plan.gpu_hours):>9}"
    )
    lines.append("")
    here = " (this machine)"
    lines.append(
        f"On {plan.cores} CPU cores{'' if plan.has_gpu else here}: about "
        f"{duration(plan.cpu_wall_hours)} wall, {duration(cpu_total)} of CPU time "
        "(cores held x hours)."
    )
    if not plan.has_gpu and plan.loaded_wall_hours > 1.25 * plan.cpu_wall_hours:
        lines.append(
            f"  The machine's load average is {plan.load:.1f} now (other work): at that load, "
            f"about {duration(plan.loaded_wall_hours)}."
        )
    lines.append(
        f"With one CUDA device{here if plan.has_gpu else ''}: about "
        f"{duration(plan.gpu_hours)} of GPU time, {duration(plan.gpu_wall_hours)} wall "
        "(GPU speeds assumed, not measured)."
    )
    lines.append(
        f"CPU times are for a machine like the reference ({REFERENCE_MACHINE['processor']}) "
        "with no other load; see src/hardpos/workflow/calibration.yaml."
    )
    if any(row.stage == "other" for row in plan.rules):
        unmodelled = ", ".join(row.rule for row in plan.rules if row.stage == "other")
        lines.append(
            f"No cost model for {unmodelled}: their times are job start-up only (the ImageNet "
            "stages: see the README's GPU table)."
        )
    lines += plan.notes
    return "\n".join(lines)


LONG_RUN_HOURS = 6.0  # beyond this, on a machine without a GPU, suggest the smaller configs
SMALLER_CONFIGS = (
    ("config/mini.yaml", "every recipe and the 3 x 3 nets, fewer images"),
    ("config/smoke.yaml", "the whole DAG, tiny"),
)


def plan_for(
    args: Sequence[str], *, snakemake: str, cores: int, has_gpu: bool, forceall: bool = True
) -> Plan:
    """Dry-run the workflow with ``args`` and plan it (``forceall=False``: only the jobs
    Snakemake runs for these targets, as a continuation names them)."""
    config = load_config(args)
    with _imagenet_stand_in(config, args) as (args, notes):
        jobs = parse_dry_run(dry_run(snakemake, args, cores=cores, forceall=forceall))
        if not jobs:
            raise PlanError("plan: the dry run lists no job")
        to_run = [True] * len(jobs)
        if forceall:
            jobs, to_run = snakemakes_own(jobs, args, snakemake=snakemake, cores=cores)
    slots = 2 if not has_gpu else int(config.get("gpus", {}).get("slots", 1))
    plan = make_plan(jobs, config, cores=cores, gpu_slots=slots, has_gpu=has_gpu,
                     to_run=to_run)  # fmt: skip
    plan.notes += notes
    if forceall:  # a continuation's dry run names only some of the folder's jobs
        plan.unused = len(unused_benchmarks(jobs, config["results"]))
    return plan


@contextmanager
def _imagenet_stand_in(config: Mapping, args: Sequence[str]) -> Iterator[tuple[list, list]]:
    """``args`` for the dry run, and a note: an ImageNet config whose ``imagenet_dir`` is
    not here is planned with an empty folder in its place. The jobs do not depend on the
    tree's content (the config fixes the images per class), so the plan of a run meant for
    another machine is made here; Snakemake would stop on the missing input instead."""
    folder = str(config.get("imagenet_dir", ""))
    synthetic = (config.get("imagenet") or {}).get("synthetic")
    if config.get("dataset") != "imagenet" or synthetic or Path(folder).is_dir():
        yield list(args), []
        return
    with tempfile.TemporaryDirectory(prefix="hardpos-plan-imagenet-") as empty:
        yield (
            with_override(args, f"imagenet_dir={empty}"),
            [
                f"imagenet_dir {folder}: no such folder here; planned without it (a run needs "
                "the ImageNet tree there: --config imagenet_dir=DIR)."
            ],
        )


def snakemakes_own(
    jobs: Sequence[Job], args: Sequence[str], *, snakemake: str, cores: int
) -> tuple[list[Job], list[bool]]:
    """``jobs`` (a ``--forceall`` dry run's) with Snakemake's reason to run each, and
    whether it runs: from a dry run without ``--forceall``, made only where an output of
    ``jobs`` already exists (else every job runs, for missing outputs)."""
    if not any(os.path.exists(path) for job in jobs for path in job.outputs):
        return list(jobs), [True] * len(jobs)
    runs = {job.key: job for job in parse_dry_run(dry_run(snakemake, args, cores=cores,
                                                          forceall=False))}  # fmt: skip
    merged = [replace(job, reason=runs[job.key].reason) if job.key in runs else job
              for job in jobs]  # fmt: skip
    return merged, [job.key in runs for job in jobs]


def unused_benchmarks(jobs: Sequence[Job], results: str) -> list[Path]:
    """Benchmark files under ``results`` that belong to none of ``jobs`` (left by a config
    with other recipes): never read for the plan, but counted so the plan can say so."""
    folder = RecordFolders.of(results).benchmarks
    if not folder.is_dir():
        return []
    ours = {os.path.normpath(job.benchmark) for job in jobs if job.benchmark}
    return [p for p in sorted(folder.rglob("*.tsv")) if os.path.normpath(p) not in ours]


def main(argv: Sequence[str] | None = None) -> int:
    """``make plan``: print the plan of a run with these Snakemake arguments."""
    parser = argparse.ArgumentParser(
        prog="python -m hardpos.workflow.plan",
        description="Jobs per rule and the expected CPU-hours, wall time and GPU-hours of "
        "a workflow run; other arguments go to snakemake as they would for the run.",
    )
    parser.add_argument("--cores", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--snakemake", default=shutil.which("snakemake") or "snakemake")
    parser.add_argument(
        "--suggest", action="store_true", help="on a long CPU-only run, plan the smaller configs"
    )
    parser.add_argument(
        "--from",
        dest="folder",
        default="",
        help="plan what a continuation of this published "
        "folder has left (make continue): the folder is checked and the results folder seeded",
    )
    ours, args = parser.parse_known_args(argv)
    has_gpu = cuda_hardware_present()
    if ours.folder:
        return plan_continuation(Path(ours.folder), args, ours, has_gpu)
    try:
        plan = plan_for(args, snakemake=ours.snakemake, cores=ours.cores, has_gpu=has_gpu)
        plan.load = os.getloadavg()[0]
        device = "a CUDA device" if has_gpu else "no CUDA device"
        print(
            format_plan(plan, title=f"Plan: {describe_configs(args)}; {ours.cores} cores, {device}")
        )
        if not has_gpu and plan.cpu_wall_hours > LONG_RUN_HOURS:
            print(
                f"\nThis is a long run for this machine: about {duration(plan.cpu_wall_hours)} "
                "without a GPU. It resumes where it stopped when started again; beside other "
                "work, start it with `make background` (same ARGS: its own session at the "
                "lowest priority, output in run.log). Smaller runs:"
            )
            rest = without_configfiles(args)
            for path, what in SMALLER_CONFIGS:
                estimate = ""
                if ours.suggest and Path(path).exists():
                    small = plan_for(
                        [*rest, "--configfile", path],
                        snakemake=ours.snakemake,
                        cores=ours.cores,
                        has_gpu=False,
                    )
                    estimate = (
                        f", about {duration(small.cpu_wall_hours)} on idle cores"
                        if small.to_run
                        else f", finished in {small.results}"
                    )
                print(f'  make run ARGS="--configfile {path}"   # {what}{estimate}')
    except HardposError as error:
        print(error, file=sys.stderr)
        return BAD_CONFIG_FILE if isinstance(error, ConfigFileError) else 1
    sys.stdout.flush()
    return 0


def plan_continuation(folder: Path, args: list[str], ours, has_gpu: bool) -> int:
    """``make plan FROM=<folder>``: the plan of what ``make continue`` has left to run."""
    from hardpos.workflow.continuation import Continuation

    try:
        job = Continuation(folder, args, snakemake=ours.snakemake, cores=ours.cores,
                           read_only=True)  # fmt: skip
        targets = job.plan()
        if not targets:
            print(f"Plan: {folder} is complete; a continuation has nothing to run")
            return 0
        command = job.snakemake_command(targets)[1:]
        plan = plan_for(command, snakemake=ours.snakemake, cores=ours.cores, has_gpu=has_gpu,
                        forceall=False)  # fmt: skip
        plan.load = os.getloadavg()[0]
        title = f"Plan: what a continuation of {folder} has left ({describe_configs(args)})"
        print(format_plan(plan, title=f"{title}; {ours.cores} cores"))
    except HardposError as error:
        print(error, file=sys.stderr)
        return BAD_CONFIG_FILE if isinstance(error, ConfigFileError) else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
