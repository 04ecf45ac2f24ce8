"""Device choice (CUDA when present, the CPU otherwise) and batch sizes from its memory."""

from __future__ import annotations

import numpy as np
import torch

# ``batch_size: auto`` on the CPU, where batches are sized for the caches, not for memory
CPU_AUTO_BATCH = 4096


def pick_device(requested: str | None = None) -> torch.device:
    """Return ``requested`` if given, else ``cuda`` when available, else ``cpu``."""
    if requested and requested != "auto":
        return torch.device(requested)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def describe(device: torch.device) -> str:
    """A one-line description for logs, naming the GPU or the CPU thread count."""
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return f"cpu ({torch.get_num_threads()} threads)"


def set_threads(threads: int) -> None:
    """Use ``threads`` CPU threads for torch (a job's share of the machine)."""
    if threads and threads > 0:
        torch.set_num_threads(int(threads))


def free_memory(device: torch.device) -> int | None:
    """Bytes the CUDA driver reports free on ``device``; None on the CPU, where batches
    are sized for the caches (each stage's own CPU default), not for memory."""
    device = torch.device(device)
    if device.type != "cuda":
        return None
    free, _total = torch.cuda.mem_get_info(device)
    return int(free)


def batch_for_memory(
    free_bytes: int,
    bytes_per_item: float,
    *,
    share: float = 0.5,
    least: int = 1,
    most: int = 1 << 16,
    multiple: int = 64,
) -> int:
    """The largest batch whose items, ``bytes_per_item`` each, fit in ``share`` of
    ``free_bytes``, rounded down to a ``multiple`` and kept within [``least``, ``most``].

    Half the free memory by default: the other half is the caching allocator's slack,
    other tensors of the job and another process on the same device."""
    if bytes_per_item <= 0:
        raise ValueError(f"bytes_per_item must be positive; got {bytes_per_item!r}")
    fits = int(share * free_bytes // bytes_per_item)
    if fits >= multiple:
        fits -= fits % multiple
    return max(least, min(most, fits))


def peak_bytes_per_item(step, device: torch.device, items: int) -> float | None:
    """Peak CUDA memory ``step(items)`` allocates beyond what was allocated before it,
    per item; None on the CPU (no allocator statistics there).

    ``step`` runs the stage's real work on ``items`` items (a forward and backward pass),
    so the figure covers the model's activations and gradients whatever the model is."""
    device = torch.device(device)
    if device.type != "cuda":
        return None
    torch.cuda.synchronize(device)
    before = torch.cuda.memory_allocated(device)
    torch.cuda.reset_peak_memory_stats(device)
    step(items)
    torch.cuda.synchronize(device)
    return max(1.0, (torch.cuda.max_memory_allocated(device) - before) / items)


def is_batch_size(value) -> bool:
    """A positive integer (not a bool), or ``"auto"``: what a stage's ``batch_size`` takes."""
    if value == "auto":
        return True
    return isinstance(value, int | np.integer) and not isinstance(value, bool) and value >= 1
