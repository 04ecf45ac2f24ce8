"""GPU slot leases: concurrent jobs never share a device, and a dead job frees its slot."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from hardpos.workflow.gpu_slots import gpu_device, lease_slot

_JOB = """
import json, os, sys, time
from hardpos.workflow.gpu_slots import gpu_device
lock_dir, out = sys.argv[1], sys.argv[2]
with gpu_device(2, lock_dir) as device:
    start = time.monotonic()
    time.sleep(0.4)
    record = {"device": os.environ["CUDA_VISIBLE_DEVICES"], "start": start, "end": time.monotonic()}
open(out, "w").write(json.dumps(record))
"""


def test_six_jobs_on_two_slots_never_share_a_device(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("SLURM_JOB_ID", "CUDA_VISIBLE_DEVICES")}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _JOB, str(tmp_path / "locks"), str(tmp_path / f"{i}.json")],
            env=env,
        )
        for i in range(6)
    ]
    for proc in procs:
        assert proc.wait(timeout=120) == 0
    records = [json.loads((tmp_path / f"{i}.json").read_text()) for i in range(6)]
    assert {r["device"] for r in records} <= {"0", "1"}
    for device in ("0", "1"):
        spans = sorted((r["start"], r["end"]) for r in records if r["device"] == device)
        for (_, end), (start, _) in zip(spans, spans[1:], strict=False):
            assert start >= end, f"two jobs ran on device {device} at once"
    events = sorted([(r["start"], 1) for r in records] + [(r["end"], -1) for r in records])
    running, peak = 0, 0
    for _, step in events:
        running += step
        peak = max(peak, running)
    assert peak <= 2


def test_a_killed_job_frees_its_slot(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time\nfrom hardpos.workflow.gpu_slots import lease_slot\n"
         "with lease_slot(1, sys.argv[1]):\n    print('held', flush=True); time.sleep(60)",
         str(tmp_path)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert holder.stdout.readline().strip() == "held"
    with pytest.raises(TimeoutError), lease_slot(1, tmp_path, timeout=0.5):
        pass
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    with lease_slot(1, tmp_path, timeout=5) as index:
        assert index == 0


def test_under_slurm_the_assigned_devices_are_kept(tmp_path, monkeypatch):
    monkeypatch.setenv("SLURM_JOB_ID", "42")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1")
    with gpu_device(2, tmp_path) as devices:
        assert devices == "1"
    assert not list(Path(tmp_path).glob("slot-*.lock"))


def test_the_previous_device_setting_comes_back_after_the_lease(tmp_path, monkeypatch):
    monkeypatch.delenv("SLURM_JOB_ID", raising=False)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "7")
    with gpu_device(2, tmp_path) as devices:
        assert os.environ["CUDA_VISIBLE_DEVICES"] == devices == "0"
    assert os.environ["CUDA_VISIBLE_DEVICES"] == "7"


def test_gpu_hardware_is_read_from_the_driver_listing(tmp_path):
    from hardpos.workflow.gpu_slots import cuda_hardware_present

    assert not cuda_hardware_present(tmp_path / "absent")
    assert not cuda_hardware_present(tmp_path)  # the folder, but no GPU in it
    (tmp_path / "0000:01:00.0").mkdir()
    assert cuda_hardware_present(tmp_path)
