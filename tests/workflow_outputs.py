"""What a workflow run has finished, for the tests that kill a run and resume it."""

from __future__ import annotations

import shutil
from pathlib import Path

from paths import REPO

from hardpos.files.sidecars import sidecar_path


def finished_outputs(results: Path) -> dict[Path, int]:
    """Every finished output with its modification time (logs and checkpoints aside)."""
    skip = {"logs", "checkpoints"}
    return {
        p: p.stat().st_mtime_ns
        for p in results.rglob("*")
        if p.is_file() and not skip & set(p.relative_to(results).parts) and ".tmp" not in p.name
    }


def running_jobs_files(log: Path, workdir: Path) -> set[Path]:
    """Outputs and benchmark files of the jobs a Snakemake log shows started and not
    finished: the jobs running when that run was killed. Snakemake marks their outputs
    incomplete and redoes them, even where the job had written them just before the kill."""
    jobs: dict[str, set[Path]] = {}  # jobid -> its outputs and benchmark file
    finished: set[str] = set()
    outputs: set[Path] = set()  # the block's outputs, listed before its jobid
    for line in log.read_text().splitlines():
        key, _, value = line.strip().partition(": ")
        paths = {workdir / part.strip() for part in value.split(",")}
        if key == "output":
            outputs = paths
        elif key == "jobid":
            jobs[value.strip()], outputs = outputs, set()
        elif key == "benchmark" and jobs:  # listed after the jobid
            jobs[next(reversed(jobs))] |= paths
        elif line.startswith("Finished jobid: "):
            finished.add(line.split()[2])
    running = set().union(*(paths for job, paths in jobs.items() if job not in finished))
    # a model's sidecar (.pt.json) is written beside it by the same job, undeclared
    models = {p for p in running if p.suffix == ".pt" and not p.name.endswith(".solver.pt")}
    return running | {sidecar_path(path) for path in models}


def copy_workflow(dest: Path, items: tuple[str, ...]) -> Path:
    """A copy of the workflow's ``items`` (files or folders) in ``dest``, with ``src`` linked
    to this checkout's library, for a test to run the real snakemake on."""
    repo = REPO
    for item in items:
        src = repo / item
        if src.is_dir():
            shutil.copytree(src, dest / item)
        else:
            shutil.copy(src, dest / item)
    (dest / "src").symlink_to(repo / "src")
    return dest
