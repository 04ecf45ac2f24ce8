"""``make background``'s starter: a session of its own at the lowest priority, for real
(read back from /proc by the started process itself, not only by the starter)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from hardpos.workflow.background import autogroups_enabled, start

REPORT = (
    "import os; from pathlib import Path\n"
    "group = Path('/proc/self/autogroup')\n"
    "print('child', os.getpid(), os.nice(0), os.getsid(0),"
    " group.read_text().strip() if group.exists() else 'none', flush=True)"
)


def _wait(process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert process.returncode == 0


def test_the_command_runs_in_its_own_session_at_nice_19(tmp_path: Path):
    log = tmp_path / "logs" / "run.log"
    process = start([sys.executable, "-c", REPORT], log)
    _wait(process)
    lines = log.read_text().splitlines()
    assert lines[0].startswith("background ") and f"{sys.executable} -c " in lines[0]
    assert lines[1].startswith(f"background: pid {process.pid}, nice 19, session {process.pid}")
    child = next(line for line in lines if line.startswith("child ")).split(" ", 4)
    pid, nice, session, group = int(child[1]), int(child[2]), int(child[3]), child[4]
    assert (pid, nice, session) == (process.pid, 19, process.pid)
    assert session != os.getsid(0)
    if autogroups_enabled():
        assert group.endswith("nice 19"), group  # the whole session ranks below ours
        assert "autogroup" in lines[1] and lines[1].split("(kernel autogroups ")[1] == "on)"


def test_the_log_is_appended_to_not_replaced(tmp_path: Path):
    log = tmp_path / "run.log"
    log.write_text("an earlier run's output\n")
    _wait(start([sys.executable, "-c", "print('second')"], log))
    text = log.read_text()
    assert text.startswith("an earlier run's output\n") and text.rstrip().endswith("second")


def test_a_missing_program_is_named_without_a_traceback(tmp_path: Path):
    run = subprocess.run(
        [sys.executable, "-m", "hardpos.workflow.background", "--log", str(tmp_path / "r.log"),
         "--", "no-such-program-here"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert run.returncode == 2
    assert "cannot start 'no-such-program-here'" in run.stderr
    assert "Traceback" not in run.stderr


def test_no_command_is_a_usage_error(tmp_path: Path):
    run = subprocess.run(
        [sys.executable, "-m", "hardpos.workflow.background", "--log", str(tmp_path / "r.log")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert run.returncode == 2 and "no command to start" in run.stderr


def test_a_log_that_cannot_be_written_is_named_and_nothing_starts(tmp_path: Path):
    (tmp_path / "a-file").write_text("")
    log = tmp_path / "a-file" / "run.log"  # under a file: no folder can be made there
    marker = tmp_path / "started"
    run = subprocess.run(
        [sys.executable, "-m", "hardpos.workflow.background", "--log", str(log), "--",
         sys.executable, "-c", f"open({str(marker)!r}, 'w')"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert run.returncode == 2
    assert f"background: --log {log}: " in run.stderr and "Traceback" not in run.stderr
    time.sleep(0.5)
    assert not marker.exists()


def test_a_second_start_in_the_same_folder_is_refused_while_the_first_runs(tmp_path: Path):
    def starter(*command: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "hardpos.workflow.background", "--log", "run.log", "--",
             *command],
            cwd=tmp_path, capture_output=True, text=True, check=False,
        )  # fmt: skip

    first = starter("sleep", "30")
    assert first.returncode == 0 and "started in the background" in first.stdout
    pid = int(first.stdout.split("pid ")[1].split(",")[0])
    try:
        second = starter("echo", "second")
        assert second.returncode == 1
        assert f"not started: a background run started here is still running (pid {pid}" in (
            second.stderr
        )
        assert "second" not in (tmp_path / "run.log").read_text()
    finally:
        os.kill(pid, 15)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and starter("true").returncode != 0:
        time.sleep(0.2)  # the lock goes with the first run
    assert starter("true").returncode == 0
