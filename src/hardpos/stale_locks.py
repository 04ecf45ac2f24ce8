"""Remove Snakemake's directory locks left behind by a killed run, and only those.

A Snakemake run killed with SIGKILL (or by a lost SSH session) leaves
``.snakemake/locks/*`` behind, and the next run refuses to start until someone runs
``snakemake --unlock``. ``make run`` calls this first: when no live process on this
machine is a Snakemake working in this directory, the locks are stale and are removed.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def live_snakemake_here(workdir: Path) -> list[int]:
    """PIDs of running processes whose command mentions snakemake and whose cwd is ``workdir``."""
    found = []
    me = os.getpid()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
            cwd = Path(os.readlink(entry / "cwd"))
        except OSError:
            continue
        if b"snakemake" in cmdline and b"stale_locks" not in cmdline and cwd == workdir:
            found.append(int(entry.name))
    return found


def clear_stale_locks(workdir: str | os.PathLike = ".") -> list[Path]:
    """Delete ``.snakemake/locks/*`` under ``workdir`` if no Snakemake runs there; return them."""
    workdir = Path(workdir).resolve()
    locks = sorted((workdir / ".snakemake" / "locks").glob("*.lock"))
    if not locks or not Path("/proc").is_dir() or live_snakemake_here(workdir):
        return []
    for lock in locks:
        lock.unlink(missing_ok=True)
    return locks


def main() -> int:
    removed = clear_stale_locks(sys.argv[1] if len(sys.argv) > 1 else ".")
    if removed:
        print(
            f"removed {len(removed)} stale Snakemake lock(s) left by a killed run", file=sys.stderr
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
