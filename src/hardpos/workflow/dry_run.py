"""Snakemake's dry run, read: one job per block (rule, wildcards, inputs, outputs,
threads, resources), checked against the run's own "Job stats" table so that a change in
Snakemake's output format shows instead of a silently short plan (``make plan``,
``make slurm-sizing``, ``make plan FROM=...``).
"""

from __future__ import annotations

import re
import subprocess
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from hardpos.errors import HardposError


class PlanError(HardposError):
    """The dry run could not be made or read (a bad config, an unexpected output)."""


@dataclass(frozen=True)
class Job:
    """One job of a dry run, as Snakemake printed it."""

    rule: str
    jobid: int
    wildcards: Mapping[str, str] = field(default_factory=dict)
    inputs: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()
    threads: int = 1
    gpu: bool = False
    benchmark: str | None = None
    reason: str = ""  # why Snakemake runs it ("Forced execution" under --forceall)

    @property
    def key(self) -> tuple[str, tuple[str, ...]]:
        """The same job in two dry runs of one config (job ids differ between them)."""
        return self.rule, self.outputs or self.inputs

    @property
    def params_changed(self) -> bool:
        """Snakemake reruns it because the config gives it other params than its outputs'."""
        return "Params have changed" in self.reason


_RULE_LINE = re.compile(r"^(?:local)?(?:rule|checkpoint) (\S+):$")
_FIELD_LINE = re.compile(r"^\s+(\w+): (.*)$")


def _key_values(text: str) -> dict[str, str]:
    """``a=1, b=x`` as a dict (the format of the wildcards and resources lines)."""
    out = {}
    for item in text.split(", "):
        key, sep, value = item.partition("=")
        if sep:
            out[key.strip()] = value.strip()
    return out


def _paths(text: str) -> tuple[str, ...]:
    return tuple(path for path in text.split(", ") if path)


def parse_dry_run(text: str) -> list[Job]:
    """The jobs of ``snakemake --dry-run`` output, in the order printed.

    Raises :class:`PlanError` when the job blocks disagree with the "Job stats" table,
    so that a change in Snakemake's output format shows instead of a silently short plan.
    """
    jobs: list[Job] = []
    current: dict[str, Any] | None = None

    def finish() -> None:
        if current is not None and "jobid" in current:
            jobs.append(Job(**current))

    for line in text.splitlines():
        rule = _RULE_LINE.match(line)
        if rule:
            finish()
            current = {"rule": rule.group(1)}
            continue
        field_line = _FIELD_LINE.match(line) if current is not None else None
        if field_line is None:
            if current is not None and line.strip() and not line.startswith(" "):
                finish()
                current = None
            continue
        key, value = field_line.groups()
        if key == "jobid":
            current["jobid"] = int(value)
        elif key == "wildcards":
            current["wildcards"] = _key_values(value)
        elif key in ("input", "output"):
            current[f"{key}s"] = current.get(f"{key}s", ()) + _paths(value)
        elif key == "threads":
            current["threads"] = int(value)
        elif key == "resources":
            current["gpu"] = int(float(_key_values(value).get("gpu", "0"))) > 0
        elif key == "benchmark":
            current["benchmark"] = value.strip()
        elif key == "reason":
            current["reason"] = value.strip()
    finish()
    stats = parse_job_stats(text)
    counted = Counter(job.rule for job in jobs)
    if stats and dict(counted) != stats:
        raise PlanError(
            f"plan: the dry run lists {dict(counted)} but its Job stats say {stats}; "
            "Snakemake's output format may have changed"
        )
    return jobs


def parse_job_stats(text: str) -> dict[str, int]:
    """Jobs per rule from the "Job stats:" table of a dry run ({} when there is none)."""
    lines = text.splitlines()
    try:
        start = lines.index("Job stats:")
    except ValueError:
        return {}
    stats: dict[str, int] = {}
    for line in lines[start + 3 :]:  # after the header and the dashes
        parts = line.split()
        if len(parts) != 2 or not parts[1].isdigit():
            break
        if parts[0] == "total":
            break
        stats[parts[0]] = int(parts[1])
    return stats


def dry_run(snakemake: str, args: Sequence[str], *, cores: int, forceall: bool = True) -> str:
    """The text of ``snakemake --dry-run --forceall`` with the run's arguments (without
    ``--forceall``: only what is missing, as a continuation runs it)."""
    command = [
        snakemake,
        "--dry-run",
        *(["--forceall"] if forceall else []),
        "--rerun-incomplete",
        "--nolock",
        "--cores",
        str(cores),
        *args,
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
        raise PlanError(f"plan: `{' '.join(command)}` failed:\n{tail}")
    return result.stdout + result.stderr
