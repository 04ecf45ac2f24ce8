"""hardpos.workflow.plan: benchmark files scale their rule, durations read as a person says
them."""

from __future__ import annotations

import math
from dataclasses import replace

from hardpos.workflow import calibration, cost_model
from hardpos.workflow import plan as planner
from hardpos.workflow.dry_run import Job


def test_benchmark_files_scale_their_rule(tmp_path):
    config = {"base": {"seeds": [1, 2], "iterations": 1000}}
    bench = tmp_path / "net1.tsv"
    modelled = cost_model.job_cost(Job("train_base", 1), config, {}).cpu_seconds
    scheduling = calibration.SCHEDULER_SECONDS  # Snakemake's own, not in a benchmark file
    measured = 3 * (modelled - scheduling)
    # 50% of a core on average over the job's wall time: it needed half of it
    bench.write_text(
        "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"
        f"{2 * measured:.3f}\t0:01:00\t1\t1\t1\t1\t0\t0\t50.0\t1.0\n"
    )
    done = Job("train_base", 1, {"net": "1"}, outputs=(str(tmp_path / "a.pt"),),
               benchmark=str(bench))  # fmt: skip
    todo = Job("train_base", 2, {"net": "2"}, outputs=(str(tmp_path / "b.pt"),))
    (tmp_path / "a.pt").write_text("")
    result = planner.make_plan([done, todo], {"buckets": {"enabled": False}, **config}, cores=2)
    (row,) = result.rules
    assert (row.jobs, row.to_run, row.measured) == (2, 1, 1)
    assert math.isclose(row.ratio, 3.0, rel_tol=1e-3)  # wall x load, not cpu_time
    expected = scheduling + 3 * (modelled - scheduling)
    assert math.isclose(row.cpu_hours, expected / 3600, rel_tol=1e-3)
    assert math.isclose(result.cpu_wall_hours, expected / 3600, rel_tol=1e-3)


def test_benchmarks_of_jobs_rerun_for_changed_params_are_ignored_and_said_so(tmp_path):
    """A job Snakemake reruns because the config gives it other params was measured on
    other work (once: a smoke run's fine-tuning scaled the paper run's by 0.01)."""
    config = {"base": {"seeds": [1, 2], "iterations": 1000}, "buckets": {"enabled": False},
              "results": "results/paper"}  # fmt: skip
    bench = tmp_path / "net1.tsv"
    bench.write_text("s\th:m:s\tmean_load\n1.0\t0:00:01\t100.0\n")
    output = tmp_path / "a.pt"
    output.write_text("")
    changed = Job("train_base", 1, {"net": "1"}, outputs=(str(output),), benchmark=str(bench),
                  reason="Params have changed since last execution: iterations")  # fmt: skip
    todo = Job("train_base", 2, {"net": "2"}, outputs=(str(tmp_path / "b.pt"),))
    result = planner.make_plan([changed, todo], config, cores=2, to_run=[True, True])
    (row,) = result.rules
    assert (row.to_run, row.measured, row.ratio, result.ignored) == (2, 0, None, 1)
    text = planner.format_plan(result, title="Plan")
    assert "Results folder: results/paper" in text
    assert "Ignored 1 benchmark files of jobs Snakemake reruns because their params changed" in text
    # the same job, its params unchanged: its output exists, Snakemake leaves it, it calibrates
    same = planner.make_plan([replace(changed, reason=""), todo], config, cores=2,
                             to_run=[False, True])  # fmt: skip
    assert (same.rules[0].to_run, same.rules[0].measured, same.ignored) == (1, 1, 0)


def test_durations_read_as_a_person_says_them():
    assert planner.duration(40 / 3600) == "40 s"
    assert planner.duration(0.2) == "12 min"
    assert planner.duration(3.46) == "3.5 h"
    assert planner.duration(50) == "2.1 days"
