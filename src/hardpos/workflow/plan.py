"""What a config will do before it runs: jobs per rule, CPU-hours, wall time, GPU-hours.

``make plan`` (and the first lines of ``make run``) call :func:`main`. The jobs come from
Snakemake itself: one ``snakemake --dry-run --forceall`` with the same arguments as the
run, whose job blocks (rule, wildcards, inputs, outputs, threads, resources) are parsed
here, and whose "Job stats" table must agree with them. A job counts as done when all its
outputs exist (Snakemake may still rerun one whose inputs changed). The time of each job
comes from a small cost model of its stage (images x directions, PASS pairs, training
iterations, ...) whose rates, in :data:`CALIBRATION`, were measured on this project's
reference machine (2 shared AMD EPYC cores) and say where they come from; where earlier
runs left ``benchmark:`` files under ``{results}/benchmarks``, each rule's model is scaled
by what its finished jobs really took. Wall time is a list schedule of the jobs on the
given cores (and GPU slots), longest path first, as Snakemake's scheduler roughly does.

GPU figures are estimates from assumed rates (no GPU was available to measure them).
"""

from __future__ import annotations

import argparse
import csv
import heapq
import math
import os
import re
import shutil
import subprocess
import sys
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from hardpos.errors import HardposError
from hardpos.mnist.idx import MNIST_COUNTS
from hardpos.workflow.config import attacked_images


class PlanError(HardposError):
    """The dry run could not be made or read (a bad config, an unexpected output)."""


# ---------------------------------------------------------------------------------------
# Reading Snakemake's dry run


@dataclass(frozen=True)
class Job:
    """One job of a dry run, as Snakemake printed it."""

    rule: str
    jobid: int
    wildcards: Mapping[str, str] = field(default_factory=dict)
    inputs: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()
    threads: int = 1
    gpu: bool = False
    benchmark: str | None = None


_RULE_LINE = re.compile(r"^(?:local)?(?:rule|checkpoint) (\S+):$")
_FIELD_LINE = re.compile(r"^\s+(\w+): (.*)$")


def _key_values(text: str) -> dict[str, str]:
    """``a=1, b=x`` as a dict (the format of the wildcards and resources lines)."""
    out = {}
    for item in text.split(", "):
        key, sep, value = item.partition("=")
        if sep:
            out[key.strip()] = value.strip()
    return out


def _paths(text: str) -> tuple[str, ...]:
    return tuple(path for path in text.split(", ") if path)


def parse_dry_run(text: str) -> list[Job]:
    """The jobs of ``snakemake --dry-run`` output, in the order printed.

    Raises :class:`PlanError` when the job blocks disagree with the "Job stats" table,
    so that a change in Snakemake's output format shows instead of a silently short plan.
    """
    jobs: list[Job] = []
    current: dict[str, Any] | None = None

    def finish() -> None:
        if current is not None and "jobid" in current:
            jobs.append(Job(**current))

    for line in text.splitlines():
        rule = _RULE_LINE.match(line)
        if rule:
            finish()
            current = {"rule": rule.group(1)}
            continue
        field_line = _FIELD_LINE.match(line) if current is not None else None
        if field_line is None:
            if current is not None and line.strip() and not line.startswith(" "):
                finish()
                current = None
            continue
        key, value = field_line.groups()
        if key == "jobid":
            current["jobid"] = int(value)
        elif key == "wildcards":
            current["wildcards"] = _key_values(value)
        elif key in ("input", "output"):
            current[f"{key}s"] = current.get(f"{key}s", ()) + _paths(value)
        elif key == "threads":
            current["threads"] = int(value)
        elif key == "resources":
            current["gpu"] = int(float(_key_values(value).get("gpu", "0"))) > 0
        elif key == "benchmark":
            current["benchmark"] = value.strip()
    finish()
    stats = parse_job_stats(text)
    counted = Counter(job.rule for job in jobs)
    if stats and dict(counted) != stats:
        raise PlanError(
            f"plan: the dry run lists {dict(counted)} but its Job stats say {stats}; "
            "Snakemake's output format may have changed"
        )
    return jobs


def parse_job_stats(text: str) -> dict[str, int]:
    """Jobs per rule from the "Job stats:" table of a dry run ({} when there is none)."""
    lines = text.splitlines()
    try:
        start = lines.index("Job stats:")
    except ValueError:
        return {}
    stats: dict[str, int] = {}
    for line in lines[start + 3 :]:  # after the header and the dashes
        parts = line.split()
        if len(parts) != 2 or not parts[1].isdigit():
            break
        if parts[0] == "total":
            break
        stats[parts[0]] = int(parts[1])
    return stats


# ---------------------------------------------------------------------------------------
# The config the run will see


def merge_config(base: dict, overlay: Mapping) -> dict:
    """Snakemake's overlay of config files: mappings merge, lists and scalars replace."""
    out = dict(base)
    for key, value in overlay.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge_config(out[key], value)
        else:
            out[key] = value
    return out


def split_snakemake_args(args: Sequence[str]) -> tuple[list[str], list[str]]:
    """The config files and ``key=value`` overrides in a Snakemake command line."""
    configfiles: list[str] = []
    overrides: list[str] = []
    target: list[str] | None = None
    for arg in args:
        name, eq, value = arg.partition("=")
        if name in ("--configfile", "--configfiles"):
            target = configfiles
            if eq:
                configfiles.append(value)
            continue
        if name in ("--config", "-C") and (eq or arg in ("--config", "-C")):
            target = overrides
            if eq and arg.startswith("--config="):
                overrides.append(value)
            continue
        if arg.startswith("-"):
            target = None
        elif target is not None:
            target.append(arg)
    return configfiles, overrides


BAD_CONFIG_FILE = 3  # make plan's exit status for a config file that is not YAML


class ConfigFileError(PlanError):
    """A config file that is not YAML: ``make run`` stops on it (Snakemake's own message
    does not name the file)."""


def load_config(
    args: Sequence[str], *, workdir: str | os.PathLike = ".", default: str = "config/config.yaml"
) -> dict:
    """The config a ``snakemake`` run with these arguments sees: the Snakefile's
    ``configfile:``, then each ``--configfile``, then ``--config key=value``."""
    configfiles, overrides = split_snakemake_args(args)
    config: dict = {}
    for path in [default, *configfiles]:
        full = Path(workdir) / path
        try:
            config = merge_config(config, yaml.safe_load(full.read_text()) or {})
        except OSError as error:
            raise PlanError(f"plan: cannot read config file {full}: {error.strerror}") from None
        except yaml.YAMLError as error:
            where = getattr(error, "problem_mark", None)
            line = f", line {where.line + 1}" if where is not None else ""
            raise ConfigFileError(
                f"config file {full}{line}: not valid YAML "
                f"({getattr(error, 'problem', None) or error})"
            ) from None
    for item in overrides:
        key, eq, value = item.partition("=")
        if not eq:
            raise PlanError(f"plan: --config {item!r} is not key=value")
        config = merge_config(config, {key: yaml.safe_load(value)})
    return config


# ---------------------------------------------------------------------------------------
# The cost model


@dataclass(frozen=True)
class Rate:
    """How fast one job of a stage works, and where the figures come from."""

    unit: str  # what the stage's work is counted in
    cpu: float  # units/s of a one-thread job on the reference machine
    overhead: float  # seconds a job takes besides its work (start-up, imports, inputs)
    gpu: float | None  # units/s on one CUDA device; None: the stage runs on the CPU
    source: str


# Figures of the reference machine, 2 shared AMD EPYC cores (a VM), in CPU seconds of
# the job: other load on the machine stretches wall seconds (20 to 70 s per smoke job at
# a load average of 10 to 19) far more than CPU seconds (2.7 to 3.4 s per smoke job at
# any load). Measured 2026-12-01 unless the source says "assumed"; "smoke benchmark
# files" are the `benchmark:` files of one config/smoke.yaml run (threads: 1).
# A job with t threads works THREAD_SPEEDUP ** log2(t) times as fast as with one: the
# paper run's base nets trained at 71 to 74 it/s of wall time with 2 threads
# (/root/paper-run/results/logs/train_base/net2.log, 19:58, load average ~3) against 55
# it/s of CPU time with 1 (below).
THREAD_SPEEDUP = 1.35
# Start-up of a job (imports: `python -c "import torch, pandas, pyarrow, hardpos..."`
# takes 2.65 CPU s here) and Snakemake's own CPU per job (scheduling, the script's
# preamble, benchmark sampling). The smoke run took 341 CPU s in all (bash `time` over
# every process, 2026-12-01); the stage models below give its 55 jobs 240 s, so the rest
# is spread over its jobs here. ("smoke benchmark files" figures are their cpu_time, a
# lower bound, see read_benchmark; this term makes the total right.)
SCHEDULER_SECONDS = 1.8
GPU_OVERHEAD = 4.0  # assumed: seconds to start CUDA and move a job's data to the device
CALIBRATION: dict[str, Rate] = {
    "prepare_mnist": Rate("images", 200_000, 2.8, None,
                          "smoke benchmark files: 2.8 s (10K images), 3.1 s (60K)"),
    "augment": Rate("images", 7_200, 2.9, None,
                    "paper run log: 1M images at 7,200/s; smoke: 2.8 s for 2K images"),
    "train": Rate("iterations", 55, 3.0, 1_500,
                  "hardpos train --threads 1: 1200 iterations in 29.6 CPU s, 200 in 9.6 "
                  "(20 s per 1000: 50 it/s under load, 55 taken); GPU assumed (LeNet at "
                  "batch 64 is launch-bound, ~0.7 ms per iteration)"),
    "finetune": Rate("plain iterations", 55, 4.5, 1_500,
                     "as train; start-up adds the base net's solver and the recipe's set; "
                     "an objective recipe's iteration counts as its passes (_passes)"),
    "generate": Rate("image x direction pairs", 490, 4.5, 40_000,
                     "hardpos attack --threads 1, HC-D-9 on test digits of a 10K-iteration "
                     "net: 4,455 pairs in 12.5 CPU s, 880 in 5.2 (2.0 ms a pair, 3.4 s "
                     "start-up); start-up raised to 4.5 s after the whole mini run (24 jobs "
                     "1.15x) and an idle smoke run (6 small jobs 1.74x), 2026-12-02; GPU "
                     "assumed"),
    "score_pass": Rate("PASS pairs", 12_000, 3.0, 200_000,
                       "README (benchmarks/pass_score.py): torch backend 20K pairs/s per "
                       "warm process; one cold call here: 6.5K per CPU s; GPU assumed"),
    "gather": Rate("table rows", 200_000, 3.0, None,
                   "smoke benchmark files: trainset, heldout 2.4 to 2.9 s"),
    "evaluate": Rate("images", 6_000, 4.0, 200_000,
                     "whole mini run, 2026-12-02: 141 jobs of 17K images, 6.9 CPU s a job, "
                     "1.36x the first figures (8,000 images/s, 3.0 s, from smoke benchmark "
                     "files); idle smoke 1.12x; GPU assumed"),
    "robustness": Rate("image passes", 3_500, 4.0, 100_000,
                       "whole mini run, 2026-12-02: 141 jobs, 10.4 CPU s a job, 1.55x the "
                       "figures taken from its first 13 (5,000 passes/s, 3.5 s start-up; the "
                       "fine-tuned and adversarially trained nets that came later resist "
                       "longer); idle smoke 1.34x; GPU assumed"),
    "figure": Rate("table rows", 200_000, 4.0, None, "smoke benchmark files"),
    "table": Rate("models", 100, 3.5, None, "smoke benchmark files"),
    "other": Rate("jobs", 1.0, 3.0, None, "no model for this rule: start-up only"),
}  # fmt: skip
# Rules that do nothing themselves.
_FREE_RULES = {"all"}


def _generation(config: Mapping) -> dict[str, dict[str, dict]]:
    from hardpos.experiments.recipes import generation_plan, parse_recipes

    buckets = config.get("buckets", {})
    return generation_plan(
        parse_recipes(config.get("recipes", [])),
        heldout_types=config.get("heldout", {}).get("types", ()),
        bucket_pool=buckets if buckets.get("enabled") else None,
    )


def _pairs(plan: Mapping, split: str, family: str, config: Mapping) -> tuple[int, int]:
    """(image x direction pairs, images with the factors) a generate job makes."""
    entry = plan.get(split, {}).get(family)
    if entry is None:
        return 0, 0
    directions = max(int(entry["k"]), 1)
    pairs = attacked_images(config, split) * directions
    return pairs, pairs * len(entry["factors"])


# Cost of one iteration of an on-the-fly objective, in plain iterations: measured with
# benchmarks/adversarial_training_cost.py (README, "Beyond the paper"): the FGS objective
# 2.6, PGD training 8.4 at 7 steps and 10.1 at 10, i.e. about steps + 1.
FGS_OBJECTIVE_PASSES = 2.6


def _passes(config: Mapping, recipe_name: str) -> float:
    """Plain training iterations one iteration of ``recipe_name`` costs."""
    recipe = next((r for r in config.get("recipes", []) if r["name"] == recipe_name), {})
    if recipe.get("method") == "fgs-objective":
        return FGS_OBJECTIVE_PASSES
    if recipe.get("method") == "pgd-at":
        return int(recipe.get("steps", 7)) + 1
    return 1.0


def _robustness_passes(config: Mapping) -> float:
    """Forward and backward passes of one image, summed over a robustness job's attacks:
    steps x restarts per budget, and each minimum-norm attack's steps (L2 and L-inf)."""
    settings = config.get("robustness", {})
    images = settings.get("images") or MNIST_COUNTS["test"]
    budget = int(settings.get("steps", 100)) * int(settings.get("restarts", 1))
    passes = budget * len(settings.get("linf", [0.1, 0.2, 0.3]))
    if settings.get("min_norm"):
        passes += 2 * int(settings["min_norm"].get("steps", 100))
    return images * passes


def job_work(job: Job, config: Mapping, plan: Mapping) -> tuple[str, float]:
    """Which stage model a job follows and how many of its units it works through."""
    wc, rule = job.wildcards, job.rule
    if config.get("dataset", "mnist") != "mnist":
        return "other", 1  # no model of the ImageNet stages: see the README's GPU table
    nets = len(config.get("base", {}).get("seeds", [1]))
    if rule == "prepare_mnist":
        return "prepare_mnist", MNIST_COUNTS[wc.get("split", "test")]
    if rule == "augment":
        return "augment", config["infimnist"]["count"]
    if rule == "train_base":
        return "train", config["base"]["iterations"]
    if rule == "train_infimnist":
        return "train", config["infimnist"]["iterations"]
    if rule == "finetune":
        return "finetune", config["finetune"]["iterations"] * _passes(config, wc["recipe"])
    if rule == "robustness":
        return "robustness", _robustness_passes(config)
    if rule == "generate":
        return "generate", _pairs(plan, wc["split"], wc["family"], config)[0]
    if rule == "score_pass":
        return "score_pass", _pairs(plan, wc["split"], wc["family"], config)[1]
    if rule == "trainset":
        recipe = next((r for r in config.get("recipes", []) if r["name"] == wc["recipe"]), {})
        family = recipe.get("method", "none")
        return "gather", 0 if family == "none" else _pairs(plan, "train", family, config)[1]
    if rule == "trainset_buckets":
        return "gather", _pairs(plan, "train", config["buckets"]["method"], config)[1]
    if rule == "heldout":
        rows = sum(_pairs(plan, "test", f, config)[1] for f in plan.get("test", {}))
        return "gather", nets * rows
    if rule == "evaluate":
        heldout = config["heldout"]
        return "evaluate", MNIST_COUNTS["test"] + len(heldout["types"]) * heldout["per_type"]
    if rule in ("figure4", "figure5"):
        rows = sum(_pairs(plan, "test", f, config)[1] for f in plan.get("test", {}))
        return "figure", nets * rows
    if rule.startswith("figure"):
        return "figure", 0
    if rule.startswith("table"):
        return "table", len(job.inputs)
    return "other", 1


@dataclass(frozen=True)
class JobCost:
    stage: str
    units: float
    cpu_seconds: float  # wall seconds on the reference machine at the job's threads
    gpu_seconds: float | None  # wall seconds on one CUDA device (None: a CPU-only stage)


def job_cost(job: Job, config: Mapping, plan: Mapping) -> JobCost:
    """What a job costs on the reference machine's CPU and on one CUDA device."""
    if job.rule in _FREE_RULES:
        return JobCost("none", 0, 0.0, None)
    stage, units = job_work(job, config, plan)
    rate = CALIBRATION[stage]
    speed = rate.cpu * THREAD_SPEEDUP ** math.log2(max(job.threads, 1))
    cpu = SCHEDULER_SECONDS + rate.overhead + units / speed
    gpu = None
    if rate.gpu is not None and job.gpu:
        gpu = SCHEDULER_SECONDS + rate.overhead + GPU_OVERHEAD + units / rate.gpu
    return JobCost(stage, units, cpu, gpu)


def scale_by_ratio(seconds: float, ratio: float) -> float:
    """A job's modelled seconds scaled by its rule's measured/modelled ``ratio``:
    benchmark files time the job itself, so Snakemake's own :data:`SCHEDULER_SECONDS`
    are left as they are."""
    if seconds <= SCHEDULER_SECONDS:
        return seconds
    return SCHEDULER_SECONDS + (seconds - SCHEDULER_SECONDS) * ratio


def job_costs(jobs: Sequence[Job], config: Mapping) -> list[JobCost]:
    """:func:`job_cost` of each job of a run with ``config``."""
    plan = _generation(config) if config.get("dataset", "mnist") == "mnist" else {}
    return [job_cost(job, config, plan) for job in jobs]


# ---------------------------------------------------------------------------------------
# Scheduling


def schedule(
    jobs: Sequence[Job],
    seconds: Sequence[float],
    *,
    cores: int,
    gpu_slots: int | None = None,
    done: Sequence[bool] | None = None,
) -> float:
    """Wall seconds to run ``jobs`` (``seconds`` each) on ``cores`` cores, at most
    ``gpu_slots`` of the GPU jobs at once (None: no limit), each job holding
    ``min(threads, cores)`` cores, its inputs made first; ready jobs start longest
    remaining path first. Jobs marked ``done`` take no time."""
    n = len(jobs)
    done = list(done) if done is not None else [False] * n
    producer = {path: i for i, job in enumerate(jobs) for path in job.outputs}
    needs = [
        {producer[p] for p in job.inputs if p in producer and producer[p] != i}
        for i, job in enumerate(jobs)
    ]
    users: list[list[int]] = [[] for _ in range(n)]
    for i, deps in enumerate(needs):
        for d in deps:
            users[d].append(i)
    cost = [0.0 if done[i] else float(seconds[i]) for i in range(n)]
    # longest path from each job to the end: the priority
    order = _topological(needs)
    tail = [0.0] * n
    for i in reversed(order):
        tail[i] = cost[i] + max((tail[u] for u in users[i]), default=0.0)
    waiting = [len(deps) for deps in needs]
    ready = [(-tail[i], i) for i in range(n) if waiting[i] == 0]
    heapq.heapify(ready)
    running: list[tuple[float, int]] = []
    free_cores, free_gpus = cores, gpu_slots
    now = 0.0
    finished = 0
    while finished < n:
        held: list[tuple[float, int]] = []
        while ready:
            priority, i = heapq.heappop(ready)
            need = min(max(jobs[i].threads, 1), cores)
            gpu_ok = not jobs[i].gpu or free_gpus is None or free_gpus > 0 or cost[i] == 0
            if cost[i] == 0 or (need <= free_cores and gpu_ok):
                if cost[i] > 0:
                    free_cores -= need
                    if jobs[i].gpu and free_gpus is not None:
                        free_gpus -= 1
                heapq.heappush(running, (now + cost[i], i))
            else:
                held.append((priority, i))
        for item in held:
            heapq.heappush(ready, item)
        if not running:
            raise PlanError("plan: the dry run's jobs wait on each other (a cycle)")
        now, i = heapq.heappop(running)
        finished += 1
        if cost[i] > 0:
            free_cores += min(max(jobs[i].threads, 1), cores)
            if jobs[i].gpu and free_gpus is not None:
                free_gpus += 1
        for u in users[i]:
            waiting[u] -= 1
            if waiting[u] == 0:
                heapq.heappush(ready, (-tail[u], u))
    return now


def _topological(needs: Sequence[set[int]]) -> list[int]:
    waiting = [len(deps) for deps in needs]
    users: list[list[int]] = [[] for _ in needs]
    for i, deps in enumerate(needs):
        for d in deps:
            users[d].append(i)
    order = [i for i, w in enumerate(waiting) if w == 0]
    for i in order:  # grows while iterating
        for u in users[i]:
            waiting[u] -= 1
            if waiting[u] == 0:
                order.append(u)
    if len(order) != len(needs):
        raise PlanError("plan: the dry run's jobs wait on each other (a cycle)")
    return order


# ---------------------------------------------------------------------------------------
# Benchmarks of earlier runs


def read_benchmark(path: str | os.PathLike) -> float | None:
    """Seconds a finished job needed, from its ``benchmark:`` file: its wall seconds times
    its mean CPU load (``mean_load``, percent), at most its wall seconds. On a busy
    machine the wall seconds include waiting for a core; the load discounts that. (The
    file's ``cpu_time`` is not used: Snakemake samples it every 0.5 s for the first 15 s,
    then every 30 s, so it misses up to the last 30 s of a job.) None when the file is
    missing or unreadable."""
    try:
        with open(path, newline="") as handle:
            rows = list(csv.DictReader(handle, delimiter="\t"))
    except OSError:
        return None
    values = []
    for row in rows:
        try:
            wall = float(row["s"])
        except (KeyError, ValueError):
            continue
        try:
            load = float(row.get("mean_load") or "nan")
        except ValueError:
            load = math.nan
        values.append(min(wall, wall * load / 100) if load > 0 else wall)
    return sum(values) / len(values) if values else None


# ---------------------------------------------------------------------------------------
# The plan


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
) -> Plan:
    """Jobs per rule and the time they take on ``cores`` CPU cores and on one GPU."""
    costs = job_costs(jobs, config)
    done = [bool(job.outputs) and all(exists(p) for p in job.outputs) for job in jobs]
    # calibrate each rule by its finished jobs' benchmark files, which time the job itself
    # and not Snakemake's scheduling of it (SCHEDULER_SECONDS)
    measured: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for job, cost in zip(jobs, costs, strict=True):
        if job.benchmark and exists(job.benchmark):
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
    lines = [title, ""]
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
        "CPU times are for a machine like the reference (2 AMD EPYC cores) with no other "
        "load; see hardpos.workflow.plan.CALIBRATION."
    )
    if any(row.stage == "other" for row in plan.rules):
        unmodelled = ", ".join(row.rule for row in plan.rules if row.stage == "other")
        lines.append(
            f"No cost model for {unmodelled}: their times are job start-up only (the ImageNet "
            "stages: see the README's GPU table)."
        )
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------
# The command


LONG_RUN_HOURS = 6.0  # beyond this, on a machine without a GPU, suggest the smaller configs
SMALLER_CONFIGS = (
    ("config/mini.yaml", "every recipe and the 3 x 3 nets, fewer images"),
    ("config/smoke.yaml", "the whole DAG, tiny"),
)


def dry_run(snakemake: str, args: Sequence[str], *, cores: int, forceall: bool = True) -> str:
    """The text of ``snakemake --dry-run --forceall`` with the run's arguments (without
    ``--forceall``: only what is missing, as a continuation runs it)."""
    command = [
        snakemake,
        "--dry-run",
        *(["--forceall"] if forceall else []),
        "--rerun-incomplete",
        "--nolock",
        "--cores",
        str(cores),
        *args,
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
        raise PlanError(f"plan: `{' '.join(command)}` failed:\n{tail}")
    return result.stdout + result.stderr


def plan_for(
    args: Sequence[str], *, snakemake: str, cores: int, has_gpu: bool, forceall: bool = True
) -> Plan:
    """Dry-run the workflow with ``args`` and plan it."""
    config = load_config(args)
    jobs = parse_dry_run(dry_run(snakemake, args, cores=cores, forceall=forceall))
    if not jobs:
        raise PlanError("plan: the dry run lists no job")
    slots = 2 if not has_gpu else int(config.get("gpus", {}).get("slots", 1))
    return make_plan(jobs, config, cores=cores, gpu_slots=slots, has_gpu=has_gpu)


def describe_configs(args: Sequence[str]) -> str:
    """The config files (and overrides) a run with these arguments reads, for titles."""
    files, overrides = split_snakemake_args(args)
    # the Snakefile reads config/config.yaml first whatever --configfile says; once is enough
    text = " + ".join(dict.fromkeys(["config/config.yaml", *files]))
    return text + (f" (--config {' '.join(overrides)})" if overrides else "")


def _without_configfiles(args: Sequence[str]) -> list[str]:
    out: list[str] = []
    skipping = False
    for arg in args:
        if arg.split("=")[0] in ("--configfile", "--configfiles"):
            skipping = "=" not in arg
            continue
        if skipping and not arg.startswith("-"):
            continue
        skipping = False
        out.append(arg)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """``make plan``: print the plan of a run with these Snakemake arguments."""
    from hardpos.workflow.gpu_slots import cuda_hardware_present

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
            rest = _without_configfiles(args)
            for path, what in SMALLER_CONFIGS:
                estimate = ""
                if ours.suggest and Path(path).exists():
                    small = plan_for(
                        [*rest, "--configfile", path],
                        snakemake=ours.snakemake,
                        cores=ours.cores,
                        has_gpu=False,
                    )
                    estimate = f", about {duration(small.cpu_wall_hours)} on idle cores"
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
        job = Continuation(folder, args, snakemake=ours.snakemake, cores=ours.cores)
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
