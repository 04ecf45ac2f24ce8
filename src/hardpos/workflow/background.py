"""Start a long run in the background at the lowest priority, for real: ``make background``.

A run of many hours should leave the cores to the machine's other work. ``nice -n 19``
alone does not do that on Linux kernels that group processes by session (autogroups, on
where ``/proc/sys/kernel/sched_autogroup_enabled`` is 1): nice then ranks a process only
against the processes of its own session, and a run started in a session of its own
(``setsid``, a tmux window, another ssh login) takes a full share of the cores beside
everything else (README, "Long runs", measured). So the command is started in a new
session (it outlives the terminal), at nice 19, with that session's autogroup lowered to
nice 19 too, stdin closed and its output appended to a log. The priority the started
process really has is read back from ``/proc`` and written at the head of its log.

    python -m hardpos.workflow.background --log run.log -- make run ARGS="..."
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import os
import shlex
import subprocess
import sys
from pathlib import Path

LOWEST = 19
AUTOGROUPS = Path("/proc/sys/kernel/sched_autogroup_enabled")


def autogroups_enabled() -> bool:
    """Whether the kernel schedules sessions as groups (so nice alone is not enough)."""
    try:
        return AUTOGROUPS.read_text().strip() == "1"
    except OSError:
        return False


def _lower_own_priority() -> None:
    """In the child, after it became a session leader: nice 19 for it and its session."""
    os.nice(LOWEST - os.nice(0))
    # without autogroups (or /proc) nice alone ranks the process; the parent reads it back
    with contextlib.suppress(OSError):
        Path("/proc/self/autogroup").write_text(str(LOWEST))


def priority_of(pid: int) -> str:
    """What the scheduler gives process ``pid``: its nice, session and autogroup."""
    nice = os.getpriority(os.PRIO_PROCESS, pid)
    session = os.getsid(pid)
    try:
        group = Path(f"/proc/{pid}/autogroup").read_text().strip()
    except OSError:
        group = "none"
    state = "on" if autogroups_enabled() else "off"
    return f"nice {nice}, session {session}, autogroup {group} (kernel autogroups {state})"


def start(command: list[str], log: Path) -> subprocess.Popen:
    """``command`` in a session of its own at the lowest priority, output appended to
    ``log``, which first gets a line saying when and what, then the priority it runs at."""
    log.parent.mkdir(parents=True, exist_ok=True)
    when = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    with open(log, "a") as out:
        one_line = shlex.join(command).replace("\n", "\\n")  # the log's first line, whole
        out.write(f"background {when}: {one_line}\n")
        out.flush()
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_lower_own_priority,
        )
        out.write(f"background: pid {process.pid}, {priority_of(process.pid)}\n")
    return process


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--log", type=Path, required=True, help="file the output is appended to")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- then the command")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command to start: give it after --")
    try:  # a log that cannot be written is named as the log, before anything starts
        args.log.parent.mkdir(parents=True, exist_ok=True)
        with open(args.log, "a"):
            pass
    except OSError as error:
        print(f"background: --log {args.log}: {error.strerror}", file=sys.stderr)
        return 2
    try:
        process = start(command, args.log)
    except OSError as error:
        print(f"background: cannot start {command[0]!r}: {error.strerror}", file=sys.stderr)
        return 2
    print(
        f"started in the background, pid {process.pid}, at the lowest priority: "
        f"{priority_of(process.pid)}\noutput appended to {args.log}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
