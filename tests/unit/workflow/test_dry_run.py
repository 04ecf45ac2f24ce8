"""hardpos.workflow.dry_run: reading Snakemake's dry run and job stats."""

from __future__ import annotations

import pytest

from hardpos.workflow import dry_run
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
