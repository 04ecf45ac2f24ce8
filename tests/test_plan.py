"""The run plan: reading Snakemake's dry run, the cost model, the schedule, the command."""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from paths import REPO
from workflow_outputs import copy_workflow

from hardpos.workflow import calibration, cost_model, dry_run, run_config
from hardpos.workflow import plan as planner
from hardpos.workflow import schedule as scheduling
from hardpos.workflow.dry_run import Job, PlanError

# Two jobs of a real dry run (Snakemake 9.27), cut to the lines the plan reads.
DRY_RUN = """\
Building DAG of jobs...
Job stats:
job            count
-----------  -------
generate           1
train_base         1
all                1
total              3

[Tue Dec  1 20:01:15 2026]
localrule train_base:
    input: results/data/mnist-train.npz, results/data/mnist-test.npz
    output: results/models/base/net1.pt, results/models/base/net1.solver.pt
    log: results/logs/train_base/net1.log
    benchmark: results/benchmarks/train_base/net1.tsv
    jobid: 2
    reason: Missing output files: results/models/base/net1.pt
    wildcards: net=1
    threads: 2
    resources: tmpdir=/tmp, gpu=1, mem_mb=4000, mem=4 GB, mem_mib=3815
[Tue Dec  1 20:01:15 2026]
rule generate:
    input: results/models/base/net1.pt, results/data/mnist-test.npz
    output: results/adversarials/test/net1/fgs/images.npz
    log: results/logs/generate/test-net1-fgs.log
    jobid: 6
    wildcards: split=test, net=1, family=fgs
    resources: tmpdir=/tmp, gpu=1, mem_mb=4000, mem=4 GB, mem_mib=3815
[Tue Dec  1 20:01:16 2026]
localrule all:
    input: results/adversarials/test/net1/fgs/images.npz
    jobid: 0
    reason: Input files updated by another job: results/adversarials/test/net1/fgs/images.npz
    resources: tmpdir=/tmp
Job stats:
job            count
-----------  -------
generate           1
train_base         1
all                1
total              3

This was a dry-run (flag -n). The order of jobs does not reflect the order of execution.
"""


def test_dry_run_jobs_are_read_field_by_field():
    train, generate, everything = dry_run.parse_dry_run(DRY_RUN)
    assert train == Job(
        rule="train_base",
        jobid=2,
        wildcards={"net": "1"},
        inputs=("results/data/mnist-train.npz", "results/data/mnist-test.npz"),
        outputs=("results/models/base/net1.pt", "results/models/base/net1.solver.pt"),
        threads=2,
        gpu=True,
        benchmark="results/benchmarks/train_base/net1.tsv",
        reason="Missing output files: results/models/base/net1.pt",
    )
    assert generate.wildcards == {"split": "test", "net": "1", "family": "fgs"}
    assert (generate.threads, generate.gpu, generate.benchmark) == (1, True, None)
    assert everything.rule == "all" and not everything.gpu and everything.outputs == ()


def test_job_stats_table_is_read():
    assert dry_run.parse_job_stats(DRY_RUN) == {"generate": 1, "train_base": 1, "all": 1}
    assert dry_run.parse_job_stats("Building DAG of jobs...\nNothing to be done.") == {}


def test_dry_run_that_disagrees_with_its_job_stats_is_refused():
    broken = DRY_RUN.replace("rule generate:", "something else:")
    with pytest.raises(PlanError, match="Job stats"):
        dry_run.parse_dry_run(broken)


def test_config_overlays_like_snakemake(tmp_path):
    (tmp_path / "config").mkdir()
    (tmp_path / "config/config.yaml").write_text(
        "base: {seeds: [1, 2, 3], iterations: 10000}\nresults: results\nthreads: 2\n"
    )
    (tmp_path / "small.yaml").write_text("base: {seeds: [1]}\nthreads: 1\n")
    args = ["--configfile", "small.yaml", "-n", "--config", "results=out", "threads=4"]
    config = run_config.load_config(args, workdir=tmp_path)
    # mappings merge, lists and scalars replace, --config last, its values parsed as YAML
    assert config == {"base": {"seeds": [1], "iterations": 10000}, "results": "out", "threads": 4}


def test_missing_config_file_is_named(tmp_path):
    (tmp_path / "config").mkdir()
    (tmp_path / "config/config.yaml").write_text("threads: 2\n")
    with pytest.raises(PlanError, match="nothere.yaml"):
        run_config.load_config(["--configfile=nothere.yaml"], workdir=tmp_path)


def _job(name, seconds_inputs=(), outputs=(), threads=1, gpu=False):
    return Job(rule=name, jobid=0, inputs=tuple(seconds_inputs), outputs=tuple(outputs),
               threads=threads, gpu=gpu)  # fmt: skip


def test_schedule_worked_by_hand():
    a, b = _job("a", outputs=["a"]), _job("b", outputs=["b"])
    c = _job("c", ["a", "b"], ["c"])
    # a and b in parallel (20 s), then c (5 s)
    assert scheduling.schedule([a, b, c], [10, 20, 5], cores=2) == 25
    # one core: 10 + 20 + 5
    assert scheduling.schedule([a, b, c], [10, 20, 5], cores=1) == 35
    # a two-thread job holds both cores: nothing runs beside it
    wide = _job("w", outputs=["w"], threads=2)
    assert scheduling.schedule([wide, b], [10, 20], cores=2) == 30
    # ... but is scaled down to the cores there are
    assert scheduling.schedule([_job("x", threads=8)], [7], cores=2) == 7
    # one GPU slot serialises the GPU jobs, CPU jobs run beside them
    g1, g2 = _job("g1", gpu=True), _job("g2", gpu=True)
    assert scheduling.schedule([g1, g2, _job("cpu")], [10, 10, 15], cores=4, gpu_slots=1) == 20
    # done jobs take no time but still release their users
    assert scheduling.schedule([a, b, c], [10, 20, 5], cores=2, done=[True, True, False]) == 5


def test_schedule_starts_the_longest_path_first():
    # the chain x -> y must start at once: 30 s; the short jobs first would give 10 + 30
    s1, s2 = _job("s1", outputs=["s1"]), _job("s2", outputs=["s2"])
    x, y = _job("x", outputs=["x"]), _job("y", ["x"], ["y"])
    assert scheduling.schedule([s1, s2, x, y], [10, 10, 15, 15], cores=2) == 30


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


SNAKEMAKE = REPO / ".venv/bin/snakemake"
VENV_SNAKEMAKE = Path(sys.executable).parent / "snakemake"


def plan_rows(stdout: str) -> dict[str, list[str]]:
    """``make plan``'s table: rule -> [jobs, to run]."""
    return {
        words[0]: words[1:3]
        for words in (line.split() for line in stdout.splitlines())
        if len(words) > 2 and words[1].isdigit()
    }


@pytest.mark.skipif(
    shutil.which("snakemake") is None and not SNAKEMAKE.exists(), reason="needs snakemake"
)
def test_make_plan_on_the_smoke_config_lists_every_rule(tmp_path):
    snakemake = REPO / ".venv/bin/snakemake"
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    result = subprocess.run(
        [sys.executable, "-m", "hardpos.workflow.plan", "--cores", "2",
         "--snakemake", str(snakemake if snakemake.exists() else "snakemake"),
         "--configfile", "config/smoke.yaml", "--config", f"results={tmp_path}/results"],
        cwd=REPO, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    rows = plan_rows(result.stdout)
    # the smoke config: 1 base net, 7 recipes + 2 buckets x 2 orderings, 1 InfiMNIST net
    assert rows["finetune"] == ["18", "18"]  # 7 recipes + 2 PASS ranges, 2 orderings
    assert rows["evaluate"] == ["20", "20"]
    assert rows["total"] == ["91", "91"]
    assert "On 2 CPU cores" in result.stdout and "With one CUDA device" in result.stdout


@pytest.mark.skipif(
    shutil.which("snakemake") is None and not SNAKEMAKE.exists(), reason="needs snakemake"
)
def test_make_plan_on_the_imagenet_config_without_its_tree_plans_and_says_so(tmp_path):
    """It once stopped on Snakemake's MissingInputException for the ImageNet folder."""
    snakemake = SNAKEMAKE if SNAKEMAKE.exists() else "snakemake"
    absent = tmp_path / "imagenet"
    result = subprocess.run(
        [sys.executable, "-m", "hardpos.workflow.plan", "--cores", "2", "--snakemake",
         str(snakemake), "--configfile", "config/imagenet.yaml", "--config",
         f"results={tmp_path}/results", f"imagenet_dir={absent}"],
        cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO / "src")},
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "MissingInputException" not in result.stdout + result.stderr
    words = [line.split() for line in result.stdout.splitlines()]
    rows = {w[0]: w[1] for w in words if len(w) > 2 and w[1].isdigit()}
    assert rows["index_imagenet"] == "2" and rows["finetune"] == "1"
    assert f"imagenet_dir {absent}: no such folder here; planned without it" in result.stdout
    assert not absent.exists()


def test_an_override_joins_the_overrides_already_given():
    """A second --config option would replace the first one's values."""
    args = ["-n", "--config", "threads=2", "--configfile", "a.yaml", "b.yaml", "--cores", "1"]
    assert run_config.with_override(args, "imagenet_dir=/x") == [
        "-n", "--cores", "1", "--configfile", "a.yaml", "b.yaml",
        "--config", "threads=2", "imagenet_dir=/x",
    ]  # fmt: skip


def test_the_title_names_each_config_file_once():
    args = ["--configfile", "config/config.yaml", "config/paper-rows.yaml", "--config", "threads=2"]
    assert run_config.describe_configs(args) == (
        "config/config.yaml + config/paper-rows.yaml (--config threads=2)"
    )
    assert run_config.describe_configs([]) == "config/config.yaml"


@pytest.mark.skipif(not VENV_SNAKEMAKE.exists(), reason="needs the project's snakemake")
def test_to_run_is_snakemakes_own_count_with_the_jobs_whose_params_changed(tmp_path, real_mnist):
    """Once the plan counted a job done when its outputs existed: 482 to run where
    Snakemake's dry run said 540, its params having changed."""
    copy_workflow(tmp_path, ("Snakefile", "workflow", "config", "envs", "profiles"))
    (tmp_path / "mnist-elsewhere").symlink_to(real_mnist)  # the same files, a new param
    data = ["out/data/mnist-train.npz", "out/data/mnist-test.npz"]

    def args(mnist: Path | str) -> list[str]:
        return ["--configfile", "config/smoke.yaml", "--config", f"mnist_dir={mnist}",
                "results=out"]  # fmt: skip

    made = subprocess.run([str(VENV_SNAKEMAKE), "--cores", "2", *args(real_mnist), "--", *data],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert made.returncode == 0, made.stderr[-3000:]
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    for mnist, prepare in ((real_mnist, ["2", "0"]), ("mnist-elsewhere", ["2", "2"])):
        planned = subprocess.run(
            [sys.executable, "-m", "hardpos.workflow.plan", "--cores", "2",
             "--snakemake", str(VENV_SNAKEMAKE), *args(mnist)],
            cwd=tmp_path, env=env, capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert planned.returncode == 0, planned.stderr[-3000:]
        rows = plan_rows(planned.stdout)
        assert rows["prepare_mnist"] == prepare, planned.stdout
        dry = subprocess.run([str(VENV_SNAKEMAKE), "-n", "--cores", "2", *args(mnist)],
                             cwd=tmp_path, capture_output=True, text=True, check=False)  # fmt: skip
        assert rows["total"][1] == str(sum(dry_run.parse_job_stats(dry.stdout).values()))
    assert "Ignored 2 benchmark files of jobs Snakemake reruns because their params" in (
        planned.stdout
    )
