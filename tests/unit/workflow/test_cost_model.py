"""hardpos.workflow.cost_model: what each rule's jobs cost, from images times directions."""

from __future__ import annotations

import math

from hardpos.workflow import calibration, cost_model
from hardpos.workflow.dry_run import Job


def test_generate_and_pass_cost_follow_images_times_directions():
    config = {
        "attack": {"train_images": 150, "test_images": None},
        "recipes": [{"name": "HC-D-9", "method": "hc-d", "k": 9, "factor": 1.05}],
        "buckets": {"enabled": False},
        "heldout": {"types": ["FGS"], "per_type": 20},
    }
    plan = cost_model._generation(config)
    generate = Job("generate", 1, {"split": "train", "net": "1", "family": "hc-d"}, gpu=True)
    cost = cost_model.job_cost(generate, config, plan)
    rate = calibration.CALIBRATION["generate"]
    assert cost.units == 150 * 9
    start = calibration.SCHEDULER_SECONDS + rate.overhead
    assert math.isclose(cost.cpu_seconds, start + 150 * 9 / rate.cpu)
    assert math.isclose(cost.gpu_seconds, start + calibration.GPU_OVERHEAD + 150 * 9 / rate.gpu)
    # PASS scores every factor's image: 1.0 and 1.05; the test split attacks all 10K
    score = Job("score_pass", 2, {"split": "test", "net": "1", "family": "fgs"}, threads=2)
    cost = cost_model.job_cost(score, config, plan)
    rate = calibration.CALIBRATION["score_pass"]
    assert cost.units == 10_000 * 1 * 1
    speed = rate.cpu * calibration.THREAD_SPEEDUP
    start = calibration.SCHEDULER_SECONDS + rate.overhead
    assert math.isclose(cost.cpu_seconds, start + 10_000 / speed)
    assert cost.gpu_seconds is None  # resources said no gpu: a CPU job


def test_objective_recipes_and_robustness_cost_their_passes():
    config = {
        "finetune": {"iterations": 100},
        "recipes": [
            {"name": "FGS", "method": "fgs"},
            {"name": "FGS-objective", "method": "fgs-objective", "alpha": 0.5, "eps": 0.25},
            {"name": "PGD-AT", "method": "pgd-at", "eps": 0.3, "step_size": 0.1, "steps": 7},
        ],
        "robustness": {"images": 50, "linf": [0.1, 0.3], "steps": 20, "restarts": 2,
                       "min_norm": {"l2": "ddn", "steps": 30}},
    }  # fmt: skip

    def units(rule, **wildcards):
        return cost_model.job_work(Job(rule, 1, wildcards), config, {})[1]

    assert units("finetune", recipe="FGS", net="net1-order1") == 100
    assert units("finetune", recipe="FGS-objective", net="net1-order1") == 260
    assert units("finetune", recipe="PGD-AT", net="net1-order1") == 800  # 7 steps + 1
    # 50 images x (2 budgets x 20 steps x 2 restarts + DDN 30 + FMN 30)
    assert units("robustness", model="base/net1") == 50 * (2 * 20 * 2 + 30 + 30)
    config["robustness"]["min_norm"] = None
    assert units("robustness", model="base/net1") == 50 * 80
