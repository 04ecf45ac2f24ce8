"""A held-out set or PASS bucket that gets fewer images than the config asks fails its
stage with both numbers, unless the config allows it; the counts are recorded either way."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from hardpos.errors import DataError
from hardpos.experiments.trainsets import build_buckets, build_heldout
from hardpos.files.images import save_images
from hardpos.files.parquet import load_table, save_table


def _generated(folder, rows: list[dict]) -> tuple[str, str]:
    """A generate stage's pair of files: one image per row, its value the row number."""
    table = pd.DataFrame(rows)
    n = len(table)
    images = np.repeat(np.arange(n, dtype=np.uint8)[:, None, None, None], 28, axis=2)
    images = np.repeat(images, 28, axis=3)
    save_images(folder / "images.npz", images)
    save_table(folder / "table.parquet", table)
    return str(folder / "images.npz"), str(folder / "table.parquet")


def _row(method, k, factor=1.0, success=True, pass_=0.9, label=3):
    return {
        "method": method,
        "k": k,
        "factor": factor,
        "success": success,
        "pass": pass_,
        "label": label,
        "source": 0,
    }


@pytest.fixture
def heldout_files(tmp_path):
    # 5 FGS, 2 HC-1 successes (one HC-1 failure, which does not count)
    rows = [_row("fgs", 0)] * 5 + [_row("hc-d", 1)] * 2 + [_row("hc-d", 1, success=False)]
    return {1: [_generated(tmp_path, rows)]}


def test_a_heldout_type_short_of_per_type_fails_with_both_numbers(tmp_path, heldout_files):
    out = tmp_path / "heldout.npz"
    with pytest.raises(DataError, match=r"per_type is 4 .* 1 type\(s\): HC-1 2;") as caught:
        build_heldout(
            generated=heldout_files,
            types=["FGS", "HC-1"],
            per_type=4,
            seed=0,
            out_set=out,
            out_table=tmp_path / "heldout.parquet",
        )
    assert "heldout.allow_fewer: true" in str(caught.value)
    assert not out.exists()


def test_allow_fewer_takes_what_there_is_and_records_the_counts(tmp_path, heldout_files):
    out = tmp_path / "heldout.npz"
    build_heldout(
        generated=heldout_files,
        types=["FGS", "HC-1"],
        per_type=4,
        seed=0,
        out_set=out,
        out_table=tmp_path / "heldout.parquet",
        allow_fewer=True,
    )
    summary = json.loads((tmp_path / "heldout.npz.json").read_text())
    assert summary["by_type"] == {"FGS": 4, "HC-1": 2}
    assert summary["per_type_requested"] == 4 and summary["short"] == {"HC-1": 2}
    assert load_table(tmp_path / "heldout.parquet")["type"].value_counts().to_dict() == {
        "FGS": 4,
        "HC-1": 2,
    }


def test_a_full_heldout_set_records_its_counts(tmp_path, heldout_files):
    out = tmp_path / "heldout.npz"
    build_heldout(
        generated=heldout_files,
        types=["FGS", "HC-1"],
        per_type=2,
        seed=0,
        out_set=out,
        out_table=tmp_path / "heldout.parquet",
    )
    summary = json.loads((tmp_path / "heldout.npz.json").read_text())
    assert summary["by_type"] == {"FGS": 2, "HC-1": 2} and summary["short"] == {}


@pytest.fixture
def bucket_files(tmp_path):
    # PASS 0.2 (3 images) and 0.8 (5 images): buckets [0, 0.5) and [0.5, 1.0]
    rows = [_row("hc-d", 1, pass_=0.2)] * 3 + [_row("hc-d", 2, pass_=0.8)] * 5
    return _generated(tmp_path, rows)


def _buckets(tmp_path, files, **options):
    outs = {name: tmp_path / f"{name}.npz" for name in ("PASS-0.00-0.50", "PASS-0.50-1.00")}
    build_buckets(
        net=1,
        images=files[0],
        table=files[1],
        method="hc-d",
        k=2,
        factors=[1.0],
        edges=[0.0, 0.5, 1.0],
        seed=0,
        outs=outs,
        **options,
    )
    return {name: json.loads((tmp_path / f"{name}.npz.json").read_text()) for name in outs}


def test_a_bucket_short_of_per_bucket_fails_with_both_numbers(tmp_path, bucket_files):
    with pytest.raises(DataError, match=r"net 1 \(4 asked per bucket\).* 3 per bucket"):
        _buckets(tmp_path, bucket_files, per_bucket=4)
    assert not (tmp_path / "PASS-0.00-0.50.npz").exists()


def test_allow_fewer_buckets_record_asked_and_used(tmp_path, bucket_files):
    summaries = _buckets(tmp_path, bucket_files, per_bucket=4, allow_fewer=True)
    assert {s["images"] for s in summaries.values()} == {3}
    assert {s["requested"] for s in summaries.values()} == {4}


def test_an_empty_bucket_fails_even_when_fewer_are_allowed(tmp_path, bucket_files):
    outs = {name: tmp_path / f"{name}.npz" for name in ("PASS-0.00-0.10", "PASS-0.10-1.00")}
    with pytest.raises(DataError, match=r"0 per bucket .*empty: PASS-0.00-0.10"):
        build_buckets(
            net=1,
            images=bucket_files[0],
            table=bucket_files[1],
            method="hc-d",
            k=2,
            factors=[1.0],
            edges=[0.0, 0.1, 1.0],
            per_bucket=None,
            seed=0,
            outs=outs,
            allow_fewer=True,
        )
