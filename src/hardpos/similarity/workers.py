"""Worker processes for scoring PASS on the CPU, forked once and kept between calls.

Scoring 5000 MNIST pairs takes about a quarter of a second on two cores. Forking a fresh
child for every call cost a fifth of that again: copying the page tables of a process
that has torch loaded (about 10 ms), a copy-on-write fault on every page either process
then writes (about 12,000 faults each) and waiting for the child's exit. So the workers
are forked on the first call that needs them and serve every later call, with their
buffers warm; the pool goes when this process exits or :func:`close` is called.

The parent copies each worker's part of the inputs into one anonymous shared memory block
made before the fork (no pickling, no pipe traffic for pixels); a worker reads its region
in place and sends back only the small results. A worker forked from a large process
shares that process's pages as they were at fork time; :func:`close` lets them go.
"""

from __future__ import annotations

import atexit
import contextlib
import mmap
import multiprocessing
import os
from collections.abc import Callable, Sequence

import numpy as np
import torch

_ALIGN = 64  # bytes; every array in a region starts on a cache line
_MIN_REGION = 1 << 24  # bytes per worker at least, so that growing batches rarely re-fork


def _layout(arrays: Sequence[np.ndarray]) -> list[tuple[tuple[int, ...], str, int]]:
    """(shape, dtype, byte offset) of each array, packed one after the other."""
    layout, offset = [], 0
    for array in arrays:
        layout.append((array.shape, array.dtype.str, offset))
        offset += -(-array.nbytes // _ALIGN) * _ALIGN
    return layout


def region_bytes(arrays: Sequence[np.ndarray]) -> int:
    """Bytes of shared memory one worker needs for ``arrays``."""
    shape, dtype, offset = _layout(arrays)[-1]
    return offset + int(np.prod(shape)) * np.dtype(dtype).itemsize


def _serve(connection, inherited, memory: mmap.mmap, offset: int) -> None:
    """A worker's loop: read a part from shared memory, run the function sent with it (by
    name: a module-level function pickles as its qualified name) on it, send the result
    (or the error) back; stop on ``None`` or when the parent has gone.

    ``inherited``: the parent's ends of the pipes, which fork copied into this process;
    closed at once, or the end of the parent would never reach any worker as end-of-file.
    """
    for other in inherited:
        other.close()
    torch.set_num_threads(1)  # never enter the parent's OpenMP pool after fork
    while True:
        try:
            message = connection.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        work, layout, options = message
        try:
            arrays = [
                np.ndarray(shape, dtype, buffer=memory, offset=offset + start)
                for shape, dtype, start in layout
            ]
            reply = ("ok", work(*arrays, **options))
        except BaseException as exc:  # reported in the parent, which raises it
            reply = ("error", f"{type(exc).__name__}: {exc}")
        connection.send(reply)


class WorkerPool:
    """``size`` forked processes running functions on arrays the parent places in their
    shared memory regions of ``region`` bytes each."""

    def __init__(self, size: int, region: int):
        self.pid, self.size, self.region = os.getpid(), size, region
        self.memory = mmap.mmap(-1, size * region)  # MAP_SHARED | MAP_ANONYMOUS
        context = multiprocessing.get_context("fork")
        self.connections, self.processes = [], []
        for index in range(size):
            ours, theirs = context.Pipe()
            process = context.Process(
                target=_serve,
                args=(theirs, [ours, *self.connections], self.memory, index * region),
                daemon=True,
                name=f"hardpos-pass-{index}",
            )
            process.start()
            theirs.close()
            self.connections.append(ours)
            self.processes.append(process)

    def fits(self, size: int, region: int) -> bool:
        """Whether this pool can serve a call of ``size`` workers and ``region`` bytes."""
        alive = all(process.is_alive() for process in self.processes)
        return alive and self.pid == os.getpid() and self.size == size and self.region >= region

    def submit(
        self, index: int, work: Callable, arrays: Sequence[np.ndarray], options: dict
    ) -> None:
        """Copy ``arrays`` into worker ``index``'s region and start ``work(*arrays,
        **options)`` there (``work`` a module-level function)."""
        layout = _layout(arrays)
        base = index * self.region
        for array, (shape, dtype, start) in zip(arrays, layout, strict=True):
            view = np.ndarray(shape, dtype, buffer=self.memory, offset=base + start)
            view[...] = array
        try:
            self.connections[index].send((work, layout, options))
        except OSError:
            raise self._ended(index) from None

    def result(self, index: int):
        """What worker ``index`` returned for its last part; raises what it raised."""
        try:
            status, payload = self.connections[index].recv()
        except (EOFError, OSError):
            raise self._ended(index) from None
        if status != "ok":
            raise RuntimeError(f"PASS worker process failed: {payload}")
        return payload

    def _ended(self, index: int) -> RuntimeError:
        process = self.processes[index]
        process.join(timeout=1)
        return RuntimeError(
            f"PASS worker process {process.name} (pid {process.pid}) ended unexpectedly "
            f"(exit code {process.exitcode})"
        )

    def close(self) -> None:
        """Stop the workers and release the shared memory."""
        if self.pid != os.getpid():  # a copy inherited by a fork: the workers are not ours
            return
        for connection in self.connections:
            with contextlib.suppress(OSError):
                connection.send(None)
            connection.close()
        for process in self.processes:
            process.join(timeout=5)
            if process.is_alive():
                process.terminate()
                process.join()
        self.memory.close()


_POOL: WorkerPool | None = None


def pool(size: int, region: int) -> WorkerPool:
    """The process's worker pool, (re)made when it cannot serve this call: other size,
    a larger region, a worker that died, or a pool inherited from a parent process."""
    global _POOL
    if _POOL is not None and _POOL.fits(size, region):
        return _POOL
    if _POOL is not None:
        grown = max(region, _POOL.region)
        _drop()
    else:
        grown = region
    _POOL = WorkerPool(size, max(grown, _MIN_REGION))
    return _POOL


def _drop() -> None:
    global _POOL
    if _POOL is not None:
        _POOL.close()
    _POOL = None


def close() -> None:
    """Stop the worker processes (they start again when next needed)."""
    _drop()


def run_parts(
    work: Callable, arrays: Sequence[np.ndarray], options: dict, *, part_size: int, processes: int
) -> list:
    """``work(*(array[part] for array in arrays), **options)`` for consecutive parts of
    ``part_size`` rows, in order. ``processes`` parts run at a time: the first in this
    process, the others in the kept worker processes (none where fork is missing)."""
    n = len(arrays[0])
    parts = [slice(start, min(start + part_size, n)) for start in range(0, n, part_size)]
    if processes < 2 or len(parts) < 2 or not can_fork():
        return [work(*(array[part] for array in arrays), **options) for part in parts]
    results = []
    for start in range(0, len(parts), processes):
        group = parts[start : start + processes]
        if len(group) == 1:
            results.append(work(*(array[group[0]] for array in arrays), **options))
        else:
            results += _run_group(work, arrays, options, group, processes - 1)
    return results


def _run_group(work: Callable, arrays, options: dict, parts: list[slice], size: int) -> list:
    """Part 0 here while workers (``size`` of them, ``len(parts) - 1`` used) run the rest."""
    helpers = pool(size, region_bytes([array[parts[1]] for array in arrays]))
    submitted = []
    try:
        for index, part in enumerate(parts[1:]):
            helpers.submit(index, work, [array[part] for array in arrays], options)
            submitted.append(index)
        results = [work(*(array[parts[0]] for array in arrays), **options)]
    finally:  # collect every reply, so that the next call starts in step
        replies = []
        for index in submitted:
            try:
                replies.append(helpers.result(index))
            except RuntimeError as exc:
                replies.append(exc)
    for reply in replies:
        if isinstance(reply, Exception):
            close()
            raise reply
    return results + replies


def can_fork() -> bool:
    """Fork exists here (not on Windows) and this process may have children."""
    return (
        "fork" in multiprocessing.get_all_start_methods()
        and not multiprocessing.current_process().daemon
    )


atexit.register(_drop)
