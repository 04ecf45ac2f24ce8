"""LeNet training on this machine: one net alone against 3 and 9 nets stacked in one step.

Prints two tables:
1. net-iterations per second (iterations x nets per second) of
   ``hardpos.training.lenet_training.train`` (one net), of one net at batch 64 x K (the
   arithmetic of K nets in one net's kernels: the ceiling of stacking) and of
   ``hardpos.training.stacked.train_stacked`` with 3 and 9 nets and each ``--kernels``
   (vmap, grouped), measured in the same run,
   interleaved round by round so that load from other processes hits all alike, each with
   its ratio to the one-net figure (of the best rounds, and the median of the per-round
   ratios). Set-up (data copy, initial weights) is left out: the clock starts after
   ``--warmup`` iterations;
2. the MNIST test error after ``--iterations`` iterations of each seed trained alone and
   the same seeds trained stacked in one run, with the wall time of each way (the paper:
   0.937% +- 0.110 with Caffe at 10K iterations);
3. with ``--processes``: how to spend ``--threads`` cores on separate training jobs, as
   Snakemake's ``--cores`` and the config's ``threads`` do: one job with all the threads
   against one single-threaded job per core, running at once (the sum of their
   net-it/s), each alone and beside a busy ``nice -n 19`` job of as many threads (a long
   run kept at low priority, as the README suggests for the paper run), interleaved round
   by round.

The load average of the machine (shared by other work) is printed before and after.

    .venv/bin/python benchmarks/train_lenet.py                      # speed + 3 seeds x 10K
    .venv/bin/python benchmarks/train_lenet.py --speed-only --rounds 5
    .venv/bin/python benchmarks/train_lenet.py --iterations 2000     # shorter accuracy check
    .venv/bin/python benchmarks/train_lenet.py --processes --rounds 3  # threads a job
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

from hardpos.metrics.classification import error_rate
from hardpos.mnist.idx import load_mnist
from hardpos.training.lenet_training import train
from hardpos.training.solver import Solver
from hardpos.training.stacked import train_stacked
from hardpos.workflow.background import autogroups_enabled

DEFAULT_MNIST = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"


def _load() -> str:
    return "load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


def net_iteration_rate(
    images: np.ndarray,
    labels: np.ndarray,
    nets: int,
    steps: int,
    warmup: int,
    stacked: bool,
    device: str = "cpu",
    compile_step: bool = False,
    kernel: str = "vmap",
    batch_of: int = 1,
) -> float:
    """Net-iterations/s of ``steps`` iterations after ``warmup`` ones (``stacked``: through
    ``train_stacked`` even for one net). ``batch_of`` > 1: one net alone at batch 64 x
    ``batch_of``, counted as ``batch_of`` nets (the same arithmetic as that many stacked)."""
    stamps: list[tuple[int, float]] = []

    def clock(iteration, *_):
        stamps.append((iteration, time.perf_counter()))  # progress syncs the device first

    kwargs = dict(iterations=warmup + steps, checkpoint_every=warmup, progress=clock, device=device)
    if stacked:
        seeds = list(range(1, nets + 1))
        train_stacked(
            images, labels, seeds=seeds, compile_step=compile_step, kernel=kernel, **kwargs
        )
    else:
        train(images, labels, seed=1, solver=Solver(batch_size=64 * batch_of), **kwargs)
    (first, t0), (last, t1) = stamps[0], stamps[-1]
    return nets * (last - first) / (t1 - t0)


def speed_table(images, labels, args) -> None:
    """The stacked kernels against one net, and against the ceiling: one net at batch
    64 x K does the arithmetic of K stacked nets in the kernels one net uses, so K nets
    stacked should not beat it by much; where it is near 1, stacking cannot help here."""
    configs = [("one net alone (train)", dict(nets=1, stacked=False))]
    for k in args.stacks:
        configs.append((f"ceiling: one net at batch {64 * k} (as {k} nets)",
                        dict(nets=k, stacked=False, batch_of=k)))  # fmt: skip
        for kernel in args.kernels:
            configs.append((f"{k} nets stacked ({kernel})", dict(nets=k, stacked=True,
                                                                kernel=kernel)))  # fmt: skip
    rates: dict[str, list[float]] = {name: [] for name, _ in configs}
    for _ in range(args.rounds):
        for name, how in configs:
            k = how["nets"]
            steps = max(args.warmup, args.net_iterations // k // args.warmup * args.warmup)
            how = {key: value for key, value in how.items() if key != "nets"}
            rates[name].append(net_iteration_rate(images, labels, k, steps, args.warmup, **how))
    base = rates[configs[0][0]]
    print(
        f"\nTraining speed, batch 64, {args.threads} threads, {args.rounds} interleaved rounds "
        f"of about {args.net_iterations} net-iterations each"
    )
    print("| training | net-it/s (best) | net-it/s (median) | ratio (best) | ratio (median) |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, _ in configs:
        ratios = [r / b for r, b in zip(rates[name], base, strict=True)]
        print(
            f"| {name} | {max(rates[name]):.1f} | {statistics.median(rates[name]):.1f} | "
            f"{max(rates[name]) / max(base):.2f} | {statistics.median(ratios):.2f} |"
        )


def _job_rate(threads: int, steps: int, warmup: int, mnist_dir: str, start, rates) -> None:
    """One training job in its own process: load, wait for the others, then time."""
    torch.set_num_threads(threads)
    images, labels = load_mnist(mnist_dir, "train")
    start.wait()
    rates.put(net_iteration_rate(images, labels, 1, steps, warmup, stacked=False))


def concurrent_rate(jobs: int, threads: int, steps: int, warmup: int, mnist_dir: str) -> float:
    """Net-it/s summed over ``jobs`` training processes of ``threads`` threads each,
    started together (each in a fresh process, as Snakemake starts its jobs)."""
    context = multiprocessing.get_context("spawn")
    start, rates = context.Barrier(jobs), context.Queue()
    workers = [
        context.Process(target=_job_rate, args=(threads, steps, warmup, mnist_dir, start, rates))
        for _ in range(jobs)
    ]
    for worker in workers:
        worker.start()
    total = sum(rates.get() for _ in workers)
    for worker in workers:
        worker.join()
    return total


def _start_neighbour(threads: int, mnist_dir, how: str) -> subprocess.Popen:
    """LeNet training at nice 19 until killed, in a session of its own; ``how`` =
    "autogroup" also lowers that session's autogroup (Linux), as a careful long run does."""
    lower = "open('/proc/self/autogroup', 'w').write('19')\n" if how == "autogroup" else ""
    code = (
        f"import sys, torch; sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
        f"{lower}from train_lenet import load_mnist, net_iteration_rate\n"
        f"torch.set_num_threads({threads})\n"
        f"images, labels = load_mnist({str(mnist_dir)!r}, 'train')\n"
        "print('ready', flush=True)\n"
        "net_iteration_rate(images, labels, 1, 10**9, 10, stacked=False)"
    )
    command = ["nice", "-n", "19", sys.executable, "-c", code]
    busy = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, start_new_session=True)
    if busy.stdout.readline().strip() != "ready":
        raise RuntimeError(f"the busy neighbour did not start: {command}")
    return busy


def process_table(args) -> None:
    """One job with every thread against one single-threaded job per core, alone and beside
    a low-priority training job of ``cores`` threads started in a session of its own (as
    ``setsid nice -n 19 make run`` starts a long run). Two things are measured: a job whose
    threads meet at a barrier in every kernel waits for the slowest, so two multi-threaded
    jobs on the same cores slow each other far beyond their share; and where the kernel
    groups processes by session (autogroup), nice only ranks processes within a session,
    so the neighbour takes its share anyway unless its session's autogroup is lowered too."""
    cores, steps = args.threads, args.net_iterations
    neighbour = f"a nice-19 job of {cores} threads in its own session"
    arrangements = [
        (f"1 job x {cores} threads", 1, cores, None),
        (f"{cores} jobs x 1 thread, at once", cores, 1, None),
        (f"1 job x {cores} threads, beside {neighbour}", 1, cores, "nice"),
        (f"{cores} jobs x 1 thread, beside {neighbour}", cores, 1, "nice"),
        (f"1 job x {cores} threads, beside the same, its autogroup at nice 19", 1, cores,
         "autogroup"),
    ]  # fmt: skip
    print(f"kernel autogroups: {'on' if autogroups_enabled() else 'off'}")
    rates: dict[str, list[float]] = {name: [] for name, *_ in arrangements}
    for _ in range(args.rounds):
        for name, jobs, threads, beside in arrangements:
            busy = None if beside is None else _start_neighbour(cores, args.mnist_dir, beside)
            try:
                rates[name].append(concurrent_rate(jobs, threads, steps, args.warmup,
                                                   str(args.mnist_dir)))  # fmt: skip
            finally:
                if busy is not None:
                    busy.kill()
                    busy.wait()
    base = rates[arrangements[0][0]]
    print(
        f"\nTraining jobs on {cores} cores, batch 64, {args.rounds} interleaved rounds of "
        f"{steps} iterations a job (net-it/s summed over the jobs)"
    )
    print("| arrangement | net-it/s (best) | net-it/s (median) | ratio (best) | ratio (median) |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, *_ in arrangements:
        ratios = [r / b for r, b in zip(rates[name], base, strict=True)]
        print(
            f"| {name} | {max(rates[name]):.1f} | {statistics.median(rates[name]):.1f} | "
            f"{max(rates[name]) / max(base):.2f} | {statistics.median(ratios):.2f} |"
        )


def accuracy_table(images, labels, test_images, test_labels, args) -> None:
    seeds = [int(s) for s in args.seeds.split(",")]
    alone, started = [], time.perf_counter()
    for seed in seeds:
        state = train(images, labels, seed=seed, iterations=args.iterations)
        alone.append(100 * error_rate(state.model, test_images, test_labels)["error"])
    alone_s = time.perf_counter() - started
    started = time.perf_counter()
    nets = train_stacked(images, labels, seeds=seeds, iterations=args.iterations)
    stacked_s = time.perf_counter() - started
    stacked = [100 * error_rate(n.model, test_images, test_labels)["error"] for n in nets]
    print(f"\nMNIST test error (%) after {args.iterations} iterations")
    print("| seed | alone | stacked | stacked - alone |")
    print("| ---: | ---: | ---: | ---: |")
    for seed, a, s in zip(seeds, alone, stacked, strict=True):
        print(f"| {seed} | {a:.3f} | {s:.3f} | {s - a:+.3f} |")
    spread = statistics.stdev(alone) if len(alone) > 1 else float("nan")
    print(
        f"| mean | {statistics.mean(alone):.3f} ± {spread:.3f} | {statistics.mean(stacked):.3f} "
        f"| {statistics.mean(stacked) - statistics.mean(alone):+.3f} |"
    )
    print("| paper (Caffe, 10K) | 0.937 ± 0.110 | | |")
    total = len(seeds) * args.iterations
    print(
        f"\nwall time for {len(seeds)} x {args.iterations} iterations: one at a time {alone_s:.0f}"
        f" s ({total / alone_s:.1f} net-it/s), stacked {stacked_s:.0f} s "
        f"({total / stacked_s:.1f} net-it/s), ratio {alone_s / stacked_s:.2f}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mnist-dir", default=os.environ.get("HARDPOS_MNIST_DIR", DEFAULT_MNIST))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--stacks", default="3,9", help="stack sizes to time")
    parser.add_argument("--kernels", default="vmap,grouped", help="train_stacked kernels to time")
    parser.add_argument("--net-iterations", type=int, default=270, help="per config and round")
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved speed rounds")
    parser.add_argument("--iterations", type=int, default=10_000, help="accuracy run per seed")
    parser.add_argument("--seeds", default="1,2,3")
    parser.add_argument("--speed-only", action="store_true")
    parser.add_argument("--accuracy-only", action="store_true")
    parser.add_argument(
        "--processes",
        action="store_true",
        help="only the table of jobs x threads on --threads cores",
    )
    args = parser.parse_args()
    args.stacks = [int(k) for k in args.stacks.split(",") if k]
    args.kernels = [k for k in args.kernels.split(",") if k]

    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} threads; before: {_load()}")
    if args.processes:
        process_table(args)
        print(f"\nafter: {_load()}")
        return 0
    images, labels = load_mnist(args.mnist_dir, "train")
    test_images, test_labels = load_mnist(args.mnist_dir, "test")
    if not args.accuracy_only:
        speed_table(images, labels, args)
    if not args.speed_only:
        accuracy_table(images, labels, test_images, test_labels, args)
    print(f"\nafter: {_load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
