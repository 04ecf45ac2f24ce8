"""Workflow stages as plain functions of paths and config values.

Each workflow script calls one of these, so every rule can also be run from Python
without Snakemake. Each function reads its inputs, does one job and writes its outputs
atomically.
"""

from __future__ import annotations

import torch


def set_threads(threads: int) -> None:
    """Use ``threads`` CPU threads for torch (a job's share of the machine)."""
    if threads and threads > 0:
        torch.set_num_threads(int(threads))
