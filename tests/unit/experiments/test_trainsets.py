"""hardpos.experiments.trainsets: the held-out set and the PASS buckets built from several
nets' files, their shortfalls named or recorded, copied a chunk at a time."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import hardpos.experiments.adversarials
import hardpos.files.images
from hardpos.errors import DataError
from hardpos.experiments.recipes import Recipe
from hardpos.experiments.trainsets import build_buckets, build_heldout
from hardpos.files.datasets import load_dataset
from hardpos.files.images import ImageStack, load_images, save_images
from hardpos.files.parquet import load_table, save_table

from .conftest import DIRECTIONS, full_bytes, peak_bytes


def _generated_files(tmp_path, net: int, family: str, rows: list[tuple]) -> tuple[str, str]:
    """An (images, table) pair as the generate stage writes it. Each image carries its
    (net, family, row) in its first three pixels, so a copied image can be traced."""
    fam = {"fgs": 1, "hc-d": 2}[family]
    images = np.zeros((len(rows), 1, 28, 28), np.uint8)
    for i in range(len(rows)):
        images[i, 0, 0, :3] = (net, fam, i)
    table = pd.DataFrame(rows, columns=["method", "k", "factor", "success", "label"])
    table["source"] = np.arange(len(rows))
    table["net"] = net
    image_path, table_path = tmp_path / f"{net}-{family}.npz", tmp_path / f"{net}-{family}.pq"
    save_images(image_path, images)
    save_table(table_path, table)
    return str(image_path), str(table_path)


def test_building_the_heldout_set_copies_each_chosen_image_with_its_row_and_label(tmp_path):
    """Catches: row offsets not carried across nets or files (images of net 2 taken from
    net 1's file), labels not the table's, a type short of images failing or padded.
    Three FGS per net and two HC-1x1.05 in all (one a failure), per_type 3."""
    generated = {}
    for net in (1, 2):
        fgs = _generated_files(tmp_path, net, "fgs", [
            ("fgs", 0, 1.0, True, (net * 10 + i) % 10) for i in range(3)
        ])  # fmt: skip
        hcd = _generated_files(tmp_path, net, "hc-d", [
            ("hc-d", 1, 1.0, True, 4), ("hc-d", 1, 1.05, net == 2, 5),
            ("hc-d", 1, 1.05, True, 6 + net),
        ])  # fmt: skip
        generated[net] = [fgs, hcd]
    out_set, out_table = tmp_path / "heldout.npz", tmp_path / "heldout.parquet"
    # HC-1x1.05 is short (one of its two rows failed): allowed here, refused by default
    build_heldout(generated=generated, types=["FGS", "HC-1x1.05"], per_type=3, seed=0,
                  out_set=out_set, out_table=out_table, allow_fewer=True)  # fmt: skip
    images, labels = load_dataset(out_set)
    table = load_table(out_table)
    assert len(images) == len(labels) == len(table) == 3 + 3
    assert table["type"].value_counts().to_dict() == {"FGS": 3, "HC-1x1.05": 3}
    originals = {
        (net, fam): load_table(pair[1]) for net, pairs in generated.items()
        for fam, pair in zip((1, 2), pairs, strict=True)
    }  # fmt: skip
    images = np.asarray(images).reshape(len(images), 28, 28)
    for i, row in table.iterrows():
        net, fam, r = (int(v) for v in images[i, 0, :3])
        assert net == row["net"], i
        source = originals[(net, fam)].iloc[r]
        assert source["success"]
        assert labels[i] == source["label"] == row["label"]
        assert row["type"] == ("FGS" if fam == 1 else "HC-1x1.05")
        assert row["source"] == source["source"]
    # the shortfall: only three successful HC-1x1.05 exist (net 1: row 2; net 2: rows 1, 2)
    hc = table[table["type"] == "HC-1x1.05"]
    assert sorted(zip(hc["net"], hc["source"], strict=True)) == [(1, 2), (2, 1), (2, 2)]
    with pytest.raises(DataError, match=r"per_type is 5 .* HC-1x1.05 3"):
        build_heldout(generated=generated, types=["HC-1x1.05"], per_type=5, seed=0,
                      out_set=out_set, out_table=out_table)  # fmt: skip
    build_heldout(generated=generated, types=["HC-1x1.05"], per_type=5, seed=0,
                  out_set=out_set, out_table=out_table, allow_fewer=True)  # fmt: skip
    assert len(load_table(out_table)) == 3


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


def test_trainset_and_fine_tuning_set_copy_a_chunk_at_a_time(run, monkeypatch):
    from hardpos.experiments.trainsets import build_trainset
    from hardpos.imagenet.folders import INDEX_COLUMNS, CropDataset
    from hardpos.training.classifier_finetuning import MixedSet

    full = full_bytes(run["images"])
    monkeypatch.setattr(hardpos.files.images, "COPY_CHUNK_BYTES", full // 20)
    out = run["folder"] / "trainset.npz"
    recipe = Recipe(name="HC-D-4", method="hc-d", k=DIRECTIONS)
    peak = peak_bytes(lambda: build_trainset(recipe=recipe, net=1, images=run["images"],
                                             table=run["table"], out=out))  # fmt: skip
    assert peak < full / 4
    kept = load_images(out)
    assert kept.nbytes > full / 2  # most hard positives kept: the copy was large

    labels = load_dataset(out)[1]

    def read_all():
        no_crops = CropDataset(pd.DataFrame(columns=list(INDEX_COLUMNS)))
        data = MixedSet(no_crops, ImageStack([out]), labels)
        for i in range(len(data)):
            data[i]

    assert peak_bytes(read_all) < full / 4
