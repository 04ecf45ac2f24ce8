"""The smoke workflow on a real SLURM cluster, submitted with `--profile profiles/slurm`.

`make test-slurm` starts a one-node cluster (tests/slurm/cluster.sh: slurmctld, slurmd with
two fake GPUs, slurmdbd for `sacct`), runs these tests, and stops it. They run only when
HARDPOS_SLURM_TEST is set and a cluster answers, so plain `make test` never submits jobs.

One local run and two SLURM runs of the smoke config, then checks on what they left. The
first SLURM run is interrupted (Ctrl-C) while a fine-tuning job runs, so Snakemake cancels
its jobs; the second resumes, has the processes of one fine-tuning job killed as the
kernel's OOM killer would, reports the failure with the job's SLURM log, retries it with
twice the memory, and finishes.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from paths import REPO
from workflow_outputs import finished_outputs

SNAKEMAKE = Path(sys.executable).parent / "snakemake"
PARTITION = os.environ.get("HARDPOS_SLURM_PARTITION", "hardpos")
GPU_RULES = (
    "train_base", "train_infimnist", "finetune", "generate", "score_pass", "evaluate", "robustness",
)  # fmt: skip
# rules without wildcards that run on the submitting node, one job each in the smoke DAG
LOCAL_RULES = {"table1", "figure2", "figure4", "figure5", "figure6", "figure_robust_accuracy"}


def _cluster_problem() -> str | None:
    """Why the SLURM tests cannot run here, or None when they can."""
    if not os.environ.get("HARDPOS_SLURM_TEST"):
        return "needs a SLURM cluster: `make test-slurm` starts one and sets HARDPOS_SLURM_TEST"
    if not shutil.which("sbatch"):
        return "sbatch is not on PATH"
    ping = subprocess.run(["scontrol", "ping"], capture_output=True, text=True, timeout=60)
    if ping.returncode != 0 or "UP" not in ping.stdout:
        return f"no SLURM controller answers `scontrol ping`: {ping.stdout.strip()}"
    return None


_PROBLEM = _cluster_problem()
pytestmark = [pytest.mark.slurm, pytest.mark.skipif(_PROBLEM is not None, reason=str(_PROBLEM))]


@dataclasses.dataclass
class SlurmRun:
    """One `snakemake --profile` run: its SLURM run ID, exit status and verbose log, and
    the SLURM ID of the job the test disrupted."""

    uuid: str
    returncode: int
    log: str
    disrupted: str


@dataclasses.dataclass
class Runs:
    local: Path
    slurm: Path
    interrupted: SlurmRun
    resumed: SlurmRun
    done_before_rerun: dict[Path, int]
    jobs: int  # jobs in the smoke DAG that run something (all but `all`)


def _copy_workflow(dest: Path, mnist: Path) -> Path:
    """A copy of the workflow whose MNIST folder is the real one, and whose local GPU slot
    locks are private (another run on this machine must not hold them)."""
    dest.mkdir()
    shutil.copy(REPO / "Snakefile", dest)
    for folder in ("workflow", "config", "envs", "profiles"):
        shutil.copytree(REPO / folder, dest / folder)
    (dest / "src").symlink_to(REPO / "src")
    test_config = {"mnist_dir": str(mnist), "gpus": {"slots": 2, "lock_dir": str(dest / "locks")},
                   "results": "results"}  # fmt: skip
    (dest / "config" / "test.yaml").write_text(yaml.safe_dump(test_config))
    return dest


def _overlay_profile(dest: Path) -> Path:
    """profiles/slurm with the partition named, as the README says, and quick status checks
    (the plugin's first check otherwise waits 40 s)."""
    profile = yaml.safe_load((REPO / "profiles" / "slurm" / "config.yaml").read_text())
    profile["default-resources"]["slurm_partition"] = PARTITION
    profile["slurm-init-seconds-before-status-checks"] = 2
    dest.mkdir()
    (dest / "config.yaml").write_text(yaml.safe_dump(profile))
    return dest


def _snakemake_args(*extra: str) -> list[str]:
    configs = ["--configfile", "config/smoke.yaml", "config/test.yaml"]
    return [str(SNAKEMAKE), *configs, *extra]


def _queue(uuid: str) -> list[tuple[str, str, str]]:
    """(SLURM ID, comment the plugin gave the job, state) of the run's jobs in squeue."""
    out = subprocess.run(
        ["squeue", "-h", "--name", uuid, "-o", "%i|%k|%T"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return [tuple(line.split("|")) for line in out.splitlines() if line]


def _interrupt(proc: subprocess.Popen, slurm_id: str) -> bool:
    """Ctrl-C on Snakemake."""
    proc.send_signal(signal.SIGINT)
    return True


def _kill_job_processes(proc: subprocess.Popen, slurm_id: str) -> bool:
    """SIGKILL every process of the job's step, as the kernel's OOM killer would; False
    until the step has started."""
    listing = subprocess.run(
        ["scontrol", "listpids", f"{slurm_id}.0"], capture_output=True, text=True
    ).stdout.split("\n")[1:]
    pids = [int(line.split()[0]) for line in listing if line.strip()]
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return bool(pids)


def _slurm_run(workdir: Path, profile: Path, log: Path, rule: str, disrupt) -> SlurmRun:
    """Run snakemake on SLURM; ``disrupt`` the first running job of ``rule`` once."""
    args = _snakemake_args("--profile", str(profile), "--verbose")
    with log.open("w") as out:
        proc = subprocess.Popen(
            args, cwd=workdir, stdout=out, stderr=subprocess.STDOUT,
            # a background shell may have started us with SIGINT ignored; Ctrl-C must work
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )  # fmt: skip
        uuid, disrupted = "", ""
        deadline = time.monotonic() + 7200  # a busy machine makes a slow cluster
        while proc.poll() is None and time.monotonic() < deadline:
            time.sleep(1)
            if not uuid:
                found = re.search(r"SLURM run ID: (\S+)", log.read_text())
                uuid = found[1] if found else ""
                continue
            for slurm_id, comment, state in [] if disrupted else _queue(uuid):
                if comment.startswith(f"rule_{rule}_") and state == "RUNNING":
                    disrupted = slurm_id if disrupt(proc, slurm_id) else ""
                    break
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    assert disrupted, f"no {rule} job was seen running"
    return SlurmRun(uuid, proc.returncode, log.read_text(), disrupted)


@pytest.fixture(scope="module")
def runs(tmp_path_factory, real_mnist) -> Runs:
    root = tmp_path_factory.mktemp("slurm")
    local = _copy_workflow(root / "local", real_mnist)
    dry = subprocess.run(_snakemake_args("-n"), cwd=local, capture_output=True, text=True)
    assert dry.returncode == 0, dry.stdout + dry.stderr
    total = int(re.search(r"(?m)^total\s+(\d+)", dry.stdout)[1])
    run = subprocess.run(
        _snakemake_args("--cores", "2", "--resources", "gpu=2"),
        cwd=local, capture_output=True, text=True, timeout=1800,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-4000:]

    slurm = _copy_workflow(root / "cluster", real_mnist)
    profile = _overlay_profile(root / "profile")
    interrupted = _slurm_run(slurm, profile, root / "interrupted.log", "finetune", _interrupt)
    done = finished_outputs(slurm / "results")
    resumed = _slurm_run(slurm, profile, root / "resumed.log", "finetune", _kill_job_processes)
    return Runs(local, slurm, interrupted, resumed, done, jobs=total - 1)


def _sacct(*uuids: str) -> list[dict[str, str]]:
    """The accounting records of the runs' jobs (one row per job, no steps), with the rule
    read from the comment the plugin gives each job (rule_<rule>[_wildcards_<values>])."""
    since = datetime.datetime.now() - datetime.timedelta(days=1)
    fields = ["JobIDRaw", "Comment", "State", "Start", "End", "AllocTRES", "ReqMem"]
    rows = []
    for uuid in uuids:
        out = subprocess.run(
            ["sacct", "-X", "--parsable2", "--noheader", "--name", uuid,
             "--starttime", f"{since:%Y-%m-%dT%H:%M}", "--format", ",".join(fields)],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        rows += [dict(zip(fields, line.split("|"), strict=True)) for line in out.splitlines()]
    for row in rows:
        found = re.match(r"rule_(\w+?)(?:_wildcards_|$)", row["Comment"])
        row["rule"] = found[1] if found else ""  # SLURM stores a comment when the job ends
    return rows


def test_every_job_went_through_sbatch_and_completed(runs):
    assert runs.resumed.returncode == 0, runs.resumed.log[-4000:]
    submitted = [
        line for run in (runs.interrupted, runs.resumed) for line in run.log.splitlines()
        if "has been submitted with SLURM jobid" in line
    ]  # fmt: skip
    records = _sacct(runs.interrupted.uuid, runs.resumed.uuid)
    assert len(submitted) == len(records)
    # The report rules are `localrules` (they only read small records): Snakemake runs them
    # on the login node. Every other job of the DAG went through sbatch.
    local = {
        rule for run in (runs.interrupted, runs.resumed)
        for rule in re.findall(r"(?m)^localrule (\w+):", run.log) if rule != "all"
    }  # fmt: skip
    assert local == LOCAL_RULES
    assert len({r["Comment"] for r in records}) == runs.jobs - len(local)
    assert not {r["rule"] for r in records} & LOCAL_RULES
    # Ctrl-C may cancel a job whose step already wrote its outputs: the rerun keeps those.
    assert {r["State"].split()[0] for r in records} == {"COMPLETED", "CANCELLED", "FAILED"}
    again = subprocess.run(_snakemake_args("-n"), cwd=runs.slurm, capture_output=True, text=True)
    assert "Nothing to be done" in again.stdout + again.stderr


def test_job_states_were_read_with_sacct(runs):
    checks = re.findall(r"Status query timing \(cycle\): command=(\w+)", runs.resumed.log)
    assert checks and set(checks) == {"sacct"}


def test_gpu_jobs_asked_slurm_for_one_gpu_and_concurrent_ones_got_distinct_devices(runs):
    records = {r["JobIDRaw"]: r for r in _sacct(runs.interrupted.uuid, runs.resumed.uuid)}
    for record in (r for r in records.values() if r["State"] == "COMPLETED"):
        asked = "gres/gpu=1" in record["AllocTRES"]
        assert asked == (record["rule"] in GPU_RULES), record

    device = {}  # SLURM ID -> CUDA_VISIBLE_DEVICES its job's log reports
    for rule in GPU_RULES:
        for log in (runs.slurm / "results" / "logs" / rule).rglob("*.log"):
            found = re.search(r"SLURM job (\d+): CUDA_VISIBLE_DEVICES=(\S+)", log.read_text())
            assert found, f"{log} does not say which device SLURM gave it"
            device[found[1]] = found[2]
    assert set(device.values()) <= {"0", "1"}

    def span(slurm_id):
        return records[slurm_id]["Start"], records[slurm_id]["End"]

    overlapping = [
        (a, b) for a in device for b in device
        if a < b and span(a)[0] < span(b)[1] and span(b)[0] < span(a)[1]
    ]  # fmt: skip
    assert overlapping, "no two GPU jobs ran at once"
    for a, b in overlapping:
        assert device[a] != device[b], f"jobs {a} and {b} ran at once on device {device[a]}"


def test_ctrl_c_cancels_the_runs_jobs(runs):
    assert runs.interrupted.returncode != 0
    assert "Terminating processes on user request" in runs.interrupted.log
    assert not [job for job in _queue(runs.interrupted.uuid) if job[2] in ("PENDING", "RUNNING")]
    states = {r["JobIDRaw"]: r["State"] for r in _sacct(runs.interrupted.uuid)}
    assert states[runs.interrupted.disrupted].startswith("CANCELLED")


def test_a_failed_job_is_reported_with_its_slurm_log(runs):
    failed = runs.resumed.disrupted
    assert f"SLURM-job '{failed}' failed, SLURM status is: 'FAILED'" in runs.resumed.log
    slurm_log = re.search(rf"\S*/slurm_logs/rule_finetune/\S+/{failed}\.log", runs.resumed.log)
    assert slurm_log, "the error does not name the job's SLURM log"
    assert Path(slurm_log[0]).is_file()


def test_a_failed_memory_hungry_job_is_retried_with_twice_the_memory(runs):
    records = _sacct(runs.resumed.uuid)
    failed = next(r for r in records if r["JobIDRaw"] == runs.resumed.disrupted)
    assert (failed["State"], failed["ReqMem"]) == ("FAILED", "8000M")
    retried = [r for r in records if r["Comment"] == failed["Comment"] and r is not failed]
    assert [(r["State"], r["ReqMem"]) for r in retried] == [("COMPLETED", "16000M")]


def test_the_rerun_did_not_redo_finished_jobs(runs):
    assert runs.done_before_rerun
    for path, mtime in runs.done_before_rerun.items():
        assert path.stat().st_mtime_ns == mtime, f"{path} was redone"


def test_outputs_equal_those_of_a_local_run(runs):
    import torch

    local, slurm = runs.local / "results", runs.slurm / "results"
    models = sorted(p.relative_to(local) for p in (local / "models").rglob("*.pt"))
    assert len(models) == len(list((slurm / "models").rglob("*.pt"))) > 0
    for name in models:
        if name.name.endswith(".solver.pt"):
            continue
        a, b = torch.load(local / name), torch.load(slurm / name)
        assert a.keys() == b.keys()
        for key in a:
            assert torch.equal(a[key], b[key]), f"{name}: {key} differs"
    for name in sorted(p.relative_to(local) for p in (local / "eval").rglob("*.json")):
        assert json.loads((local / name).read_text()) == json.loads((slurm / name).read_text())
    for name in ("table1.csv", "heldout_by_type.csv"):
        assert (local / "tables" / name).read_text() == (slurm / "tables" / name).read_text()
