"""The frame of every workflow script: its log file, its threads and, for GPU rules, a device."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from typing import Any

from hardpos.device import set_threads
from hardpos.workflow.gpu_slots import DEFAULT_LOCK_DIR, cuda_hardware_present, gpu_device
from hardpos.workflow.logs import log_to_file


@contextlib.contextmanager
def job(snakemake: Any) -> Iterator[logging.Logger]:
    """Log to the rule's log file; set torch's threads; lease a GPU slot if the rule asks.

    A rule asks for a device with ``resources: gpu=1``; the config's ``gpus.slots`` says
    how many devices the machine has (see :mod:`hardpos.workflow.gpu_slots`). Without a GPU (or
    with ``device: cpu``) no slot is leased: on the CPU, ``--resources gpu=N`` alone
    bounds how many network jobs run at once.
    """
    with log_to_file(snakemake.log[0]) as log, contextlib.ExitStack() as stack:
        gpus = snakemake.config.get("gpus", {})
        wants_gpu = bool(getattr(snakemake.resources, "gpu", 0))
        under_slurm = bool(os.environ.get("SLURM_JOB_ID"))  # SLURM chose the device: log it
        on_gpu = snakemake.config.get("device", "auto") != "cpu" and cuda_hardware_present()
        if wants_gpu and (under_slurm or on_gpu):  # on the CPU a slot would only serialise runs
            stack.enter_context(
                gpu_device(int(gpus.get("slots", 1)), gpus.get("lock_dir", DEFAULT_LOCK_DIR))
            )
        # torch reads CUDA_VISIBLE_DEVICES when CUDA first starts, which is after this
        set_threads(int(snakemake.threads or 0))
        yield log
