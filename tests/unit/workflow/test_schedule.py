"""hardpos.workflow.schedule: the wall time of a plan, worked by hand."""

from __future__ import annotations

from hardpos.workflow import schedule as scheduling
from hardpos.workflow.dry_run import Job


def _job(name, seconds_inputs=(), outputs=(), threads=1, gpu=False):
    return Job(rule=name, jobid=0, inputs=tuple(seconds_inputs), outputs=tuple(outputs),
               threads=threads, gpu=gpu)  # fmt: skip


def test_schedule_worked_by_hand():
    a, b = _job("a", outputs=["a"]), _job("b", outputs=["b"])
    c = _job("c", ["a", "b"], ["c"])
    # a and b in parallel (20 s), then c (5 s)
    assert scheduling.schedule([a, b, c], [10, 20, 5], cores=2) == 25
    # one core: 10 + 20 + 5
    assert scheduling.schedule([a, b, c], [10, 20, 5], cores=1) == 35
    # a two-thread job holds both cores: nothing runs beside it
    wide = _job("w", outputs=["w"], threads=2)
    assert scheduling.schedule([wide, b], [10, 20], cores=2) == 30
    # ... but is scaled down to the cores there are
    assert scheduling.schedule([_job("x", threads=8)], [7], cores=2) == 7
    # one GPU slot serialises the GPU jobs, CPU jobs run beside them
    g1, g2 = _job("g1", gpu=True), _job("g2", gpu=True)
    assert scheduling.schedule([g1, g2, _job("cpu")], [10, 10, 15], cores=4, gpu_slots=1) == 20
    # done jobs take no time but still release their users
    assert scheduling.schedule([a, b, c], [10, 20, 5], cores=2, done=[True, True, False]) == 5


def test_schedule_starts_the_longest_path_first():
    # the chain x -> y must start at once: 30 s; the short jobs first would give 10 + 30
    s1, s2 = _job("s1", outputs=["s1"]), _job("s2", outputs=["s2"])
    x, y = _job("x", outputs=["x"]), _job("y", ["x"], ["y"])
    assert scheduling.schedule([s1, s2, x, y], [10, 10, 15, 15], cores=2) == 30
