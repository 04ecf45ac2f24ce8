"""Device choice: CUDA when present, the CPU otherwise."""

from __future__ import annotations

import torch


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
