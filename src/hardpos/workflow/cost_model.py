"""The cost model of ``make plan``: what each job of a dry run works through (images x
directions, PASS pairs, training iterations, ...) and what that costs at the stage's
rate (:mod:`hardpos.workflow.calibration`), on the CPU and on one CUDA device."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from hardpos.errors import DataError
from hardpos.experiments.recipes import generation_plan, parse_recipes
from hardpos.mnist.idx import MNIST_COUNTS
from hardpos.workflow.calibration import (
    CALIBRATION,
    FGS_OBJECTIVE_PASSES,
    GPU_OVERHEAD,
    SCHEDULER_SECONDS,
    THREAD_SPEEDUP,
)
from hardpos.workflow.config import attacked_images
from hardpos.workflow.costs import benchmark_rows
from hardpos.workflow.dry_run import Job

# Rules that do nothing themselves.
_FREE_RULES = {"all"}


def _generation(config: Mapping) -> dict[str, dict[str, dict]]:
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


def read_benchmark(path: str | os.PathLike) -> float | None:
    """CPU seconds a finished job needed (the mean over its repeats), from its
    ``benchmark:`` file (:func:`hardpos.workflow.costs.benchmark_rows`); None when the
    file is missing or unreadable: the plan then keeps the model's figure."""
    try:
        rows = benchmark_rows(path)
    except DataError:
        return None
    return sum(row["cpu_s"] for row in rows) / len(rows)
