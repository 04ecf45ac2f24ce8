"""make costs: benchmark files read into one row per rule, checked by hand."""

from __future__ import annotations

import math

import pytest

from hardpos.errors import DataError
from hardpos.workflow.costs import main, read_records, stage_costs

HEADER = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"


def _write(path, wall, rss, load):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HEADER + f"{wall}\t0:00:00\t{rss}\t1\t1\t1\t0\t0\t{load}\t{wall / 2}\n")


def test_costs_per_rule_worked_by_hand(tmp_path, capsys):
    bench = tmp_path / "results" / "benchmarks"
    _write(bench / "finetune" / "FGS-net1-order1.tsv", 100.0, 900.5, 50.0)
    _write(bench / "finetune" / "FGS-net1-order2.tsv", 300.0, 1100.0, 100.0)
    _write(bench / "finetune" / "HC-D-9-net1-order1.tsv", 200.0, 1000.0, 150.0)
    _write(bench / "robustness" / "finetune" / "PGD-AT" / "net1-order1.tsv", 10.0, 500.0, 80.0)
    records = read_records(bench)
    assert len(records) == 4
    (finetune, robustness) = stage_costs(records)
    assert finetune.rule == "finetune" and finetune.jobs == 3
    assert finetune.wall_median_s == 200.0 and finetune.wall_max_s == 300.0
    # CPU = wall x load, at most the wall: 50 + 300 + 200
    assert math.isclose(finetune.cpu_total_s, 550.0)
    assert finetune.max_rss_mb == 1100.0 and finetune.slowest == "FGS-net1-order2"
    assert robustness.slowest == "finetune/PGD-AT/net1-order1"
    assert math.isclose(robustness.cpu_total_s, 8.0)
    assert main([str(tmp_path / "results")]) == 0
    out = capsys.readouterr().out
    assert "| finetune | 3 | 200.0 | 300.0 | 550 | 1100 | FGS-net1-order2 |" in out
    assert "4 jobs, 0.15 CPU-hours" in out  # 558 s


def test_costs_of_a_run_that_has_not_started_say_so(tmp_path, capsys):
    assert main([str(tmp_path)]) == 2
    assert "no benchmark files" in capsys.readouterr().err


def test_an_empty_or_damaged_benchmark_file_is_named_not_dropped(tmp_path, capsys):
    """Empty files were skipped: 18 fine-tuning jobs became 16 in the costs."""
    bench = tmp_path / "results" / "benchmarks"
    _write(bench / "finetune" / "FGS-net1-order1.tsv", 100.0, 900.5, 50.0)
    (bench / "finetune" / "FGS-net1-order2.tsv").write_text("")
    assert main([str(tmp_path / "results")]) == 2
    assert "FGS-net1-order2.tsv: no time in this benchmark file" in capsys.readouterr().err
    (bench / "finetune" / "FGS-net1-order2.tsv").write_bytes(HEADER.encode() + b"\xff\xfe\t")
    with pytest.raises(DataError, match="FGS-net1-order2.tsv"):
        read_records(bench)
