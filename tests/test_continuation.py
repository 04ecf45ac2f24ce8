"""A published run as a seed: digests, stored seed files, the checks a continuation makes
before it builds on a folder, and records checked before they are believed."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from hardpos.errors import DataError
from hardpos.files.digests import SUMS, read_sums, sha256_file, verify_folder, write_sums
from hardpos.report.table1 import check_evaluation
from hardpos.workflow import seedfiles
from hardpos.workflow.continuation import ContinuationError, check_compatible, check_folder
from hardpos.workflow.publish import list_files

CONFIG = Path(__file__).resolve().parents[1] / "config" / "config.yaml"


def _folder(tmp_path: Path) -> Path:
    folder = tmp_path / "pub"
    (folder / "eval" / "base").mkdir(parents=True)
    (folder / "eval" / "base" / "net1.json").write_text(json.dumps(_record()))
    (folder / "table1.md").write_text("| basic |\n")
    write_sums(folder, list_files(folder))
    return folder


def _record(wrong: int = 88) -> dict:
    return {"recipe": "basic", "net": 1, "mnist_test": {"error": wrong / 10000, "n": 10000,
            "wrong": wrong}}  # fmt: skip


def test_sums_are_sha256sum_format_and_a_changed_file_is_named(tmp_path: Path):
    folder = _folder(tmp_path)
    record = folder / "eval" / "base" / "net1.json"
    assert f"{sha256_file(record)}  eval/base/net1.json\n" in (folder / SUMS).read_text()
    assert verify_folder(folder) == read_sums(folder)
    record.write_text(json.dumps(_record(wrong=87)))  # one digit
    with pytest.raises(DataError, match=r"eval/base/net1.json: its SHA-256 is .* not the"):
        check_folder(folder)
    record.unlink()
    with pytest.raises(DataError, match=r"net1.json: listed in .*SHA256SUMS but missing"):
        verify_folder(folder)


def test_a_record_written_just_before_a_kill_is_checked_and_adopted(tmp_path: Path):
    folder = _folder(tmp_path)
    late = folder / "eval" / "base" / "net2.json"
    late.write_text(json.dumps(_record(wrong=90)))
    sums = (folder / SUMS).read_bytes()
    # make plan's check reads the folder and leaves its SUMS as they are
    assert check_folder(folder, list_adopted=False) == ["eval/base/net2.json"]
    assert (folder / SUMS).read_bytes() == sums
    assert check_folder(folder) == ["eval/base/net2.json"]
    assert "eval/base/net2.json" in read_sums(folder)
    bad = folder / "eval" / "base" / "net3.json"
    bad.write_text(json.dumps(_record(wrong=90) | {"mnist_test": {"error": 3.67}}))
    with pytest.raises(DataError, match="net3.json: mnist_test.wrong"):
        check_folder(folder)


def test_an_unlisted_file_of_another_kind_is_refused(tmp_path: Path):
    folder = _folder(tmp_path)
    (folder / "seed").mkdir()
    (folder / "seed" / "planted.pt").write_bytes(b"weights")
    with pytest.raises(ContinuationError, match="planted.pt: not listed in"):
        check_folder(folder)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"error": 0.0329, "n": 10000, "wrong": 379}, "is not wrong / n"),  # a flipped bit
        ({"error": 3.67, "n": 10000, "wrong": 367}, "is not wrong / n"),
        ({"error": "0.0379", "n": 10000, "wrong": 379}, "expected a number"),
        ({"error": 0.0379, "n": "10000", "wrong": 379}, "n: expected a count"),
        ({"error": 1.2, "n": 10, "wrong": 12}, "12 wrong of 10 images"),
        ({"error": 0.5}, "wrong: expected a count"),
    ],
)
def test_an_evaluation_record_is_checked_before_it_is_believed(entry, message):
    record = _record() | {"heldout": entry}
    with pytest.raises(DataError, match=f"rec.json: heldout.*{message}"):
        check_evaluation(record, "rec.json")


def test_a_record_is_accepted_as_the_evaluate_stage_writes_it():
    nan = float("nan")
    record = _record() | {"heldout_other": {"error": nan, "n": 0, "wrong": 0}}
    assert check_evaluation(record, "rec.json") is record


def test_stored_seed_files_come_back_byte_identical_from_their_parts(tmp_path, monkeypatch):
    monkeypatch.setattr(seedfiles, "PART_BYTES", 1000)
    source = tmp_path / "heldout.npz"
    source.write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    parts = seedfiles.store(source, tmp_path / "seed" / "heldout.npz.gz")
    assert len(parts) > 2 and all(p.stat().st_size <= 1000 for p in parts)
    again = seedfiles.store(source, tmp_path / "seed2" / "heldout.npz.gz")
    assert [p.read_bytes() for p in parts] == [p.read_bytes() for p in again]  # no timestamp
    seedfiles.restore(tmp_path / "seed" / "heldout.npz.gz", tmp_path / "back.npz",
                      sha256_file(source))  # fmt: skip
    assert (tmp_path / "back.npz").read_bytes() == source.read_bytes()
    parts[1].write_bytes(parts[1].read_bytes()[:-1] + b"\0")
    with pytest.raises(DataError, match="heldout.npz.gz"):
        seedfiles.restore(tmp_path / "seed" / "heldout.npz.gz", tmp_path / "b2.npz",
                          sha256_file(source))  # fmt: skip
    assert not (tmp_path / "b2.npz").exists()


def test_a_continuation_may_add_recipes_but_not_change_what_made_the_seed():
    published = yaml.safe_load(CONFIG.read_text())
    extended = copy.deepcopy(published)
    extended["recipes"].append({"name": "HC-D-3", "method": "hc-d", "k": 3})
    extended["attack"]["batch_size"] = 512  # how fast, not what
    check_compatible(published, extended)
    changed = copy.deepcopy(published)
    changed["heldout"]["per_type"] = 100
    with pytest.raises(ContinuationError, match="config key heldout.per_type: 100 here, 5000"):
        check_compatible(published, changed)
    redefined = copy.deepcopy(published)
    redefined["recipes"][0]["method"] = "fgv"
    with pytest.raises(ContinuationError, match="recipes: 'FGS' is"):
        check_compatible(published, redefined)
    dropped = copy.deepcopy(published)
    dropped["recipes"] = dropped["recipes"][1:]
    with pytest.raises(ContinuationError, match="recipe 'FGS' is missing"):
        check_compatible(published, dropped)


def test_training_sets_of_one_recipe_and_net_are_compared_block_by_block(tmp_path: Path):
    """Two parts on different processors made FGS/net1's set twice; they differ in one
    image, which falls in the second of three blocks (block size 256, 600 images)."""
    from hardpos.files.datasets import save_dataset
    from hardpos.workflow.certify import trainset_fingerprint
    from hardpos.workflow.publish import training_sets_report

    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (600, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, 600)
    save_dataset(tmp_path / "a.npz", images, labels)
    images[300, 5, 5] ^= 1
    save_dataset(tmp_path / "b.npz", images, labels)
    first, second = (trainset_fingerprint(tmp_path / f"{n}.npz") for n in "ab")
    assert first["images"] == 600 and len(first["blocks"]) == 3
    assert [x == y for x, y in zip(first["blocks"], second["blocks"], strict=True)] == [
        True, False, True,
    ]  # fmt: skip
    folder = tmp_path / "pub"
    for order, fingerprint in ((1, first), (2, second), (3, second)):
        path = folder / "eval" / "finetune" / "FGS" / f"net1-order{order}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        trainset = {"sha256": "a" if fingerprint is first else "b", **fingerprint}
        record = _record() | {"recipe": "FGS", "order": order, "inputs": {"trainset": trainset}}
        path.write_text(json.dumps(record))
    report = training_sets_report(folder)
    assert "| FGS | 1 | 2 | 600 | at most 256 (1 of 3 blocks of 256) |" in report


def test_seed_files_added_mid_run_are_listed_before_a_kill_could_strand_them(tmp_path: Path):
    """The seed's parts and index were once listed only by the end-of-phase refresh: a
    continuation killed before it refused its own folder on the next start."""
    from hardpos.workflow.continuation import check_folder
    from hardpos.workflow.layout import layout_from_config
    from hardpos.workflow.seed import add_seed

    config = yaml.safe_load(CONFIG.read_text()) | {"results": str(tmp_path / "results")}
    config["base"]["seeds"] = [1]
    layout = layout_from_config(config)
    model = Path(layout.paths.model("base/net1"))
    model.parent.mkdir(parents=True)
    model.write_bytes(b"weights")
    folder = _folder(tmp_path)
    assert add_seed(tmp_path / "results", folder, layout) == ["models/base/net1.pt"]
    check_folder(folder)  # nothing unlisted
    assert "seed/files.json" in read_sums(folder)
    assert "seed/models/base/net1.pt.gz.000" in read_sums(folder)
