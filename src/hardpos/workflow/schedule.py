"""Wall time of a run's jobs on some cores (and GPU slots): a list schedule, longest
remaining path first, as Snakemake's scheduler roughly does (``make plan``)."""

from __future__ import annotations

import heapq
from collections.abc import Sequence

from hardpos.workflow.dry_run import Job, PlanError


def schedule(
    jobs: Sequence[Job],
    seconds: Sequence[float],
    *,
    cores: int,
    gpu_slots: int | None = None,
    done: Sequence[bool] | None = None,
) -> float:
    """Wall seconds to run ``jobs`` (``seconds`` each) on ``cores`` cores, at most
    ``gpu_slots`` of the GPU jobs at once (None: no limit), each job holding
    ``min(threads, cores)`` cores, its inputs made first; ready jobs start longest
    remaining path first. Jobs marked ``done`` take no time."""
    n = len(jobs)
    done = list(done) if done is not None else [False] * n
    producer = {path: i for i, job in enumerate(jobs) for path in job.outputs}
    needs = [
        {producer[p] for p in job.inputs if p in producer and producer[p] != i}
        for i, job in enumerate(jobs)
    ]
    users: list[list[int]] = [[] for _ in range(n)]
    for i, deps in enumerate(needs):
        for d in deps:
            users[d].append(i)
    cost = [0.0 if done[i] else float(seconds[i]) for i in range(n)]
    # longest path from each job to the end: the priority
    order = _topological(needs)
    tail = [0.0] * n
    for i in reversed(order):
        tail[i] = cost[i] + max((tail[u] for u in users[i]), default=0.0)
    waiting = [len(deps) for deps in needs]
    ready = [(-tail[i], i) for i in range(n) if waiting[i] == 0]
    heapq.heapify(ready)
    running: list[tuple[float, int]] = []
    free_cores, free_gpus = cores, gpu_slots
    now = 0.0
    finished = 0
    while finished < n:
        held: list[tuple[float, int]] = []
        while ready:
            priority, i = heapq.heappop(ready)
            need = min(max(jobs[i].threads, 1), cores)
            gpu_ok = not jobs[i].gpu or free_gpus is None or free_gpus > 0 or cost[i] == 0
            if cost[i] == 0 or (need <= free_cores and gpu_ok):
                if cost[i] > 0:
                    free_cores -= need
                    if jobs[i].gpu and free_gpus is not None:
                        free_gpus -= 1
                heapq.heappush(running, (now + cost[i], i))
            else:
                held.append((priority, i))
        for item in held:
            heapq.heappush(ready, item)
        if not running:
            raise PlanError("plan: the dry run's jobs wait on each other (a cycle)")
        now, i = heapq.heappop(running)
        finished += 1
        if cost[i] > 0:
            free_cores += min(max(jobs[i].threads, 1), cores)
            if jobs[i].gpu and free_gpus is not None:
                free_gpus += 1
        for u in users[i]:
            waiting[u] -= 1
            if waiting[u] == 0:
                heapq.heappush(ready, (-tail[u], u))
    return now


def _topological(needs: Sequence[set[int]]) -> list[int]:
    waiting = [len(deps) for deps in needs]
    users: list[list[int]] = [[] for _ in needs]
    for i, deps in enumerate(needs):
        for d in deps:
            users[d].append(i)
    order = [i for i, w in enumerate(waiting) if w == 0]
    for i in order:  # grows while iterating
        for u in users[i]:
            waiting[u] -= 1
            if waiting[u] == 0:
                order.append(u)
    if len(order) != len(needs):
        raise PlanError("plan: the dry run's jobs wait on each other (a cycle)")
    return order
