"""Give each concurrently running GPU job its own device.

``snakemake --resources gpu=N`` only bounds how many GPU jobs run at once; it does not
say which device each one gets, so two jobs would both land on GPU 0. A job leases one
of N slots: an exclusive ``flock`` on ``slot-<i>.lock`` in a machine-wide folder, held
for the job's life. The kernel drops the lock when the process exits or dies, so a
killed job never keeps its device. The leased index goes into ``CUDA_VISIBLE_DEVICES``
before CUDA starts. Under SLURM the allocation already set the devices; they are kept.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path

log = logging.getLogger(__name__)

DEFAULT_LOCK_DIR = "/tmp/hardpos-gpu-slots"
NVIDIA_GPUS = Path("/proc/driver/nvidia/gpus")


def cuda_hardware_present(gpus_dir: Path = NVIDIA_GPUS) -> bool:
    """Whether the NVIDIA driver lists a GPU, read without starting CUDA (starting it
    would fix ``CUDA_VISIBLE_DEVICES`` before a slot is leased)."""
    return gpus_dir.is_dir() and any(gpus_dir.iterdir())


def try_lock(path: Path) -> int | None:
    """A non-blocking exclusive flock on ``path``: its descriptor, or None if held."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


@contextlib.contextmanager
def lease_slot(
    slots: int,
    lock_dir: str | os.PathLike = DEFAULT_LOCK_DIR,
    *,
    poll_seconds: float = 0.2,
    timeout: float | None = None,
) -> Iterator[int]:
    """Hold one of ``slots`` device slots (waiting for a free one); yield its index."""
    if slots < 1:
        raise ValueError(f"gpu slots must be at least 1, got {slots}")
    folder = Path(lock_dir)
    folder.mkdir(parents=True, exist_ok=True)
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        for index in range(slots):
            fd = try_lock(folder / f"slot-{index}.lock")
            if fd is not None:
                try:
                    yield index
                finally:
                    fcntl.flock(fd, fcntl.LOCK_UN)
                    os.close(fd)
                return
        if deadline is not None and time.monotonic() > deadline:
            raise TimeoutError(f"no free GPU slot of {slots} in {folder}")
        time.sleep(poll_seconds)


@contextlib.contextmanager
def gpu_device(slots: int, lock_dir: str | os.PathLike = DEFAULT_LOCK_DIR) -> Iterator[str | None]:
    """Set ``CUDA_VISIBLE_DEVICES`` for this job; yield what it was set to.

    Under SLURM (``SLURM_JOB_ID`` set) the devices SLURM assigned are used unchanged.
    Otherwise a slot is leased for the duration of the block.
    """
    if os.environ.get("SLURM_JOB_ID"):
        devices = os.environ.get("CUDA_VISIBLE_DEVICES")
        log.info("SLURM job %s: CUDA_VISIBLE_DEVICES=%s", os.environ["SLURM_JOB_ID"], devices)
        yield devices
        return
    previous = os.environ.get("CUDA_VISIBLE_DEVICES")
    with lease_slot(slots, lock_dir) as index:
        os.environ["CUDA_VISIBLE_DEVICES"] = str(index)
        log.info("GPU slot %d of %d leased: CUDA_VISIBLE_DEVICES=%d", index, slots, index)
        try:
            yield str(index)
        finally:
            if previous is None:
                os.environ.pop("CUDA_VISIBLE_DEVICES", None)
            else:
                os.environ["CUDA_VISIBLE_DEVICES"] = previous
