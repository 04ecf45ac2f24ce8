"""hardpos.similarity.workers: the worker pool (shared memory, kept between calls,
replaced when killed), and both backends scoring the same in worker processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from hardpos.similarity import (
    pass_score,
    workers,
)
from hardpos.similarity.pairs import perturbed_pairs


def test_fast_backend_scores_the_same_in_forked_worker_processes(digits):
    from hardpos.similarity import torch_backend, workers
    from hardpos.similarity.inputs import as_batch

    adv, orig = perturbed_pairs(digits, 600, seed=8)
    batch = as_batch(adv, orig)
    args = (batch.adv, batch.orig)
    ecc = {"iterations": 50, "eps": 1e-3, "gauss_filt_size": 5}
    forked = torch_backend.pass_scores(*args, processes=2, **ecc)
    inline = torch_backend.pass_scores(*args, processes=1, **ecc)
    # Other batch compositions change float32 rounding: equal but for the last digits,
    # except on the odd pair where ECC diverges and small differences grow.
    assert np.mean(np.abs(forked[0] - inline[0]) < 1e-4) >= 0.98
    assert np.mean(forked[1] == inline[1]) >= 0.99
    # the worker is kept: a second call is served by the same process, with equal results
    pids = [process.pid for process in workers._POOL.processes]
    again = torch_backend.pass_scores(*args, processes=2, **ecc)
    assert [process.pid for process in workers._POOL.processes] == pids
    for first, second in zip(forked, again, strict=True):
        np.testing.assert_array_equal(first, second)


@pytest.mark.parametrize("channels", [1, 3])
def test_reference_backend_gives_identical_results_in_worker_processes(digits, channels):
    from hardpos.similarity import workers

    adv, orig = perturbed_pairs(digits, 160, seed=9)
    if channels == 3:  # colour pairs: the digit tinted differently per channel
        adv = np.stack([adv, adv[:, ::-1], adv.transpose(0, 2, 1)], axis=1)
        orig = np.stack([orig, orig[:, ::-1], orig.transpose(0, 2, 1)], axis=1)
    alone = pass_score(adv, orig, "opencv", processes=1)
    shared = pass_score(adv, orig, "opencv", processes=2)
    assert workers._POOL is not None and all(p.is_alive() for p in workers._POOL.processes)
    # each pair is scored on its own by the same code: the split changes nothing
    np.testing.assert_array_equal(shared.scores, alone.scores)
    np.testing.assert_array_equal(shared.converged, alone.converged)
    np.testing.assert_array_equal(shared.homographies, alone.homographies)


def weighted_total(values: np.ndarray, weights: np.ndarray, *, scale: float):
    """A small job for a worker: what it read from shared memory, and who computed it."""
    if scale < 0:
        raise ValueError(f"negative scale {scale}")
    return float(values @ weights) * scale, os.getpid()


@pytest.fixture(autouse=True)
def no_pool_left_over():
    workers.close()
    yield
    workers.close()


def _vectors(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=n), rng.normal(size=n)


def test_workers_read_their_inputs_from_shared_memory_and_are_kept_between_calls():
    a, b = _vectors(1000)
    pool = workers.pool(2, workers.region_bytes([a, b]))
    pool.submit(0, weighted_total, [a, b], {"scale": 2.0})
    pool.submit(
        1, weighted_total, [b[::-1], a], {"scale": 1.0}
    )  # a strided view is copied correctly
    (first, pid0), (second, pid1) = pool.result(0), pool.result(1)
    assert first == pytest.approx(2.0 * float(np.dot(a, b)), rel=1e-12)
    assert second == pytest.approx(float(np.dot(b[::-1], a)), rel=1e-12)
    assert {pid0, pid1} == {process.pid for process in pool.processes}
    assert os.getpid() not in (pid0, pid1)
    assert workers.pool(2, workers.region_bytes([a, b])) is pool


def largest_difference(values: np.ndarray, weights: np.ndarray):
    """Another job, to show one pool runs whatever function comes with a part."""
    return float(np.max(np.abs(values - weights))), os.getpid()


def test_one_pool_runs_different_functions_without_forking_again():
    a, b = _vectors(500)
    pool = workers.pool(1, workers.region_bytes([a, b]))
    pool.submit(0, weighted_total, [a, b], {"scale": 1.0})
    total, pid = pool.result(0)
    pool.submit(0, largest_difference, [a, b], {})
    largest, same_pid = pool.result(0)
    assert total == pytest.approx(float(a @ b)) and largest == float(np.max(np.abs(a - b)))
    assert same_pid == pid and workers.pool(1, workers.region_bytes([a, b])) is pool


def test_a_larger_input_or_another_size_gets_a_new_pool_with_room_for_it():
    a, b = _vectors(10)
    small = workers.pool(1, workers.region_bytes([a, b]))
    big_a, big_b = _vectors(3_000_000)  # 48 MB, more than the smallest region
    region = workers.region_bytes([big_a, big_b])
    big = workers.pool(1, region)
    assert big is not small and big.region >= region
    assert not any(process.is_alive() for process in small.processes)
    big.submit(0, weighted_total, [big_a, big_b], {"scale": 1.0})
    assert big.result(0)[0] == pytest.approx(float(np.dot(big_a, big_b)), rel=1e-9)
    assert workers.pool(2, region) is not big


def test_an_error_in_a_worker_is_raised_in_the_parent_and_the_pool_stays_usable():
    a, b = _vectors(100)
    pool = workers.pool(1, workers.region_bytes([a, b]))
    pool.submit(0, weighted_total, [a, b], {"scale": -1.0})
    with pytest.raises(RuntimeError, match="ValueError: negative scale -1.0"):
        pool.result(0)
    pool.submit(0, weighted_total, [a, b], {"scale": 1.0})
    assert pool.result(0)[0] == pytest.approx(float(np.dot(a, b)))


def test_a_killed_worker_is_reported_and_replaced_on_the_next_call():
    a, b = _vectors(100)
    pool = workers.pool(1, workers.region_bytes([a, b]))
    os.kill(pool.processes[0].pid, signal.SIGKILL)
    pool.processes[0].join(timeout=10)
    with pytest.raises(RuntimeError, match="ended unexpectedly .exit code -9"):
        pool.submit(0, weighted_total, [a, b], {"scale": 1.0})
        pool.result(0)
    fresh = workers.pool(1, workers.region_bytes([a, b]))
    assert fresh is not pool
    fresh.submit(0, weighted_total, [a, b], {"scale": 1.0})
    assert fresh.result(0)[0] == pytest.approx(float(np.dot(a, b)))


def test_close_stops_the_workers():
    a, b = _vectors(100)
    pool = workers.pool(2, workers.region_bytes([a, b]))
    workers.close()
    assert not any(process.is_alive() for process in pool.processes)


def test_workers_exit_when_their_parent_is_killed(tmp_path):
    """A killed parent (no atexit) must not leave its workers waiting for ever."""
    script = tmp_path / "parent.py"
    script.write_text(
        "import os, signal, sys\n"
        "import numpy as np\n"
        "from hardpos.similarity import workers\n"
        "pool = workers.pool(2, 1024)\n"
        "print(*(p.pid for p in pool.processes), flush=True)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    run = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert run.returncode == -signal.SIGKILL, run.stderr
    pids = [int(pid) for pid in run.stdout.split()]
    assert len(pids) == 2
    deadline = time.monotonic() + 20
    while any(_running(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_running(pid) for pid in pids)


def _running(pid: int) -> bool:
    """Whether ``pid`` is a live process (not gone, not a zombie)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"
