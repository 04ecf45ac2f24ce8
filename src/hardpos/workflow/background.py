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

from hardpos.workflow.gpu_slots import try_lock

LOWEST = 19
LOCK = ".hardpos-background.lock"
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


def take_lock(path: Path) -> int | None:
    """An exclusive lock on ``path`` (its descriptor), or None while a started run holds it.

    The started command inherits the descriptor, so the lock lasts as long as the run:
    a second ``make background`` in the same folder is refused before it starts anything
    (its Snakemake would only stop on the first one's lock, inside the first one's log)."""
    return try_lock(path)


def start(command: list[str], log: Path, lock_fd: int | None = None) -> subprocess.Popen:
    """``command`` in a session of its own at the lowest priority, output appended to
    ``log``, which first gets a line saying when and what, then the priority it runs at;
    ``lock_fd`` (:func:`take_lock`) is handed to it, so its lock lasts as long as it."""
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
            pass_fds=() if lock_fd is None else (lock_fd,),
        )
        out.write(f"background: pid {process.pid}, {priority_of(process.pid)}\n")
    return process


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--log", type=Path, required=True, help="file the output is appended to")
    parser.add_argument("--lock", type=Path, default=Path(LOCK),
                        help="held while the run lives: a second start is refused")  # fmt: skip
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
    lock_fd = take_lock(args.lock)
    if lock_fd is None:
        holder = args.lock.read_text().strip() or "unknown"
        print(f"background: not started: a background run started here is still running "
              f"(pid {holder}, lock {args.lock}); wait for it to end or stop it first",
              file=sys.stderr)  # fmt: skip
        return 1
    try:
        process = start(command, args.log, lock_fd)
    except OSError as error:
        print(f"background: cannot start {command[0]!r}: {error.strerror}", file=sys.stderr)
        return 2
    os.ftruncate(lock_fd, 0)
    os.pwrite(lock_fd, f"{process.pid}\n".encode(), 0)
    print(
        f"started in the background, pid {process.pid}, at the lowest priority: "
        f"{priority_of(process.pid)}\noutput appended to {args.log}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
