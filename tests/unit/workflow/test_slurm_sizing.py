"""SLURM runtimes and memory from a measured run, worked by hand."""

from __future__ import annotations

import math

from hardpos.workflow import calibration, cost_model
from hardpos.workflow.dry_run import Job
from hardpos.workflow.plan import RuleSummary
from hardpos.workflow.slurm_sizing import format_sizes, size_rules

CONFIG = {"base": {"seeds": [1, 2], "iterations": 40_000}, "buckets": {"enabled": False}}


def test_runtime_is_the_longest_job_scaled_by_the_measured_ratio_with_a_margin():
    jobs = [
        Job("train_base", 1, {"net": "1"}, benchmark="b/train_base/net1.tsv"),
        Job("train_base", 2, {"net": "2"}, benchmark="b/train_base/net2.tsv"),
        Job("all", 3),  # no benchmark: not sized
    ]
    modelled = cost_model.job_cost(jobs[0], CONFIG, {}).cpu_seconds
    scheduling = calibration.SCHEDULER_SECONDS
    measured = [RuleSummary("train_base", measured=4, ratio=1.5)]
    (size,) = size_rules(jobs, CONFIG, measured, {"train_base": 700.0})
    longest = scheduling + 1.5 * (modelled - scheduling)  # benchmark files omit scheduling
    assert size.rule == "train_base" and size.jobs == 2
    assert math.isclose(size.longest_s, longest)
    assert size.runtime_min == max(10, math.ceil(2 * longest / 60 / 10) * 10)
    assert (size.max_rss_mb, size.mem_mb) == (700.0, 1500)  # 1.5 x 700 = 1050, up to 1500
    assert (size.ratio, size.measured_jobs) == (1.5, 4)


def test_an_unmeasured_rule_keeps_the_model_and_has_no_memory_figure():
    jobs = [Job("train_base", 1, {"net": "1"}, benchmark="b/train_base/net1.tsv")]
    (size,) = size_rules(jobs, CONFIG, [], {})
    assert size.ratio is None and size.mem_mb is None
    assert math.isclose(size.longest_s, cost_model.job_cost(jobs[0], CONFIG, {}).cpu_seconds)
    text = format_sizes([size], target="config/config.yaml", measured="nothing")
    assert "not measured" in text
    assert "set-resources:\n  train_base:\n    runtime: " in text
    assert "mem_mb" not in text.split("set-resources:")[1]  # the rules keep their own


def test_short_jobs_get_the_least_runtime():
    config = {"base": {"seeds": [1], "iterations": 10}, "buckets": {"enabled": False}}
    jobs = [Job("train_base", 1, {"net": "1"}, benchmark="b.tsv")]
    (size,) = size_rules(jobs, config, [RuleSummary("train_base", measured=1, ratio=0.5)], {})
    assert size.runtime_min == 10
