"""What a workflow run has finished, for the tests that kill a run and resume it."""

from __future__ import annotations

from pathlib import Path


def finished_outputs(results: Path) -> dict[Path, int]:
    """Every finished output with its modification time (logs and checkpoints aside)."""
    skip = {"logs", "checkpoints"}
    return {
        p: p.stat().st_mtime_ns
        for p in results.rglob("*")
        if p.is_file() and not skip & set(p.relative_to(results).parts) and ".tmp" not in p.name
    }
