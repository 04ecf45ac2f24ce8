"""An evaluation record with the digests of what made it, for a published folder.

A record in a published folder is read on other machines, long after the files it was
made from are gone. So before it leaves the results folder, it is given the SHA-256 of
each input (the model, its base net, its training set with one short digest per block of
images, the held-out set and table, MNIST's test split) and the part of the run that
made it (commit, start, processor). An input newer than the record, or gone, means the
record is not certain (Snakemake would redo it): it is not certified.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from hardpos.files.datasets import load_dataset
from hardpos.files.digests import sha256_file
from hardpos.files.json_records import read_json_record
from hardpos.files.run_folders import RecordFolders
from hardpos.files.sidecars import sidecar_path
from hardpos.report.table1 import check_evaluation
from hardpos.workflow.layout import BASE_ID, INFIMNIST_ID, Layout
from hardpos.workflow.provenance import read_run_records

BLOCK_IMAGES = 256  # images per block digest of a training set


def inputs_of(layout: Layout, model_id: str) -> dict[str, Path]:
    """The files an evaluation record of ``model_id`` was made from, by role."""
    paths = layout.paths
    model = layout.model(model_id)
    inputs = {
        "model": Path(paths.model(model_id)),
        "mnist_test": Path(paths.mnist("test")),
        "heldout": Path(paths.heldout_set()),
        "heldout_table": Path(paths.heldout_table()),
    }
    net = next((n for n in layout.nets if layout.net_value(n) == model.net), None)
    if model.order is not None and net is not None:
        inputs["base_net"] = Path(paths.model(BASE_ID.format(net=net)))
        inputs["trainset"] = Path(paths.trainset(model.recipe, net))
    elif model_id == BASE_ID.format(net=net):
        inputs["base_net"] = inputs["model"]
    elif model_id.startswith(INFIMNIST_ID.split("/")[0] + "/"):
        inputs["trainset"] = Path(paths.infimnist_set())
    return inputs


def certify(
    layout: Layout, model_id: str, *, say: Callable[[str], None] = print
) -> dict[str, Any] | None:
    """The evaluation record of ``model_id`` (checked) with ``inputs`` (digests) and
    ``part``; None, said why, while it is not certain (see the module docstring)."""
    path = Path(layout.paths.evaluation(model_id))
    record = check_evaluation(read_json_record(path, "evaluation record"), path)
    inputs = inputs_of(layout, model_id)
    stamp = path.stat().st_mtime_ns
    for name, source in inputs.items():
        if not source.is_file():
            say(f"{path}: its {name} {source} is gone; not certified")
            return None
        if source.stat().st_mtime_ns > stamp:
            say(f"{path}: older than its {name} {source}; not certified")
            return None
    digests = {name: {"sha256": sha256_file(source)} for name, source in inputs.items()}
    if "trainset" in inputs:
        digests["trainset"].update(trainset_fingerprint(inputs["trainset"]))
    side = sidecar_path(inputs["model"])
    if side.is_file():
        digests["model"]["train_images"] = read_json_record(side, "sidecar").get("train_images")
    record["inputs"] = digests
    record["part"] = part_of(path, RecordFolders.of(layout.paths.results).runs)
    return record


def part_of(record: Path, runs_folder: Path) -> dict[str, Any]:
    """The start of the workflow that wrote ``record``: the last one before it."""
    made = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(record.stat().st_mtime))
    runs = read_run_records(runs_folder)
    before = [run for run in runs if str(run.get("started", "")) <= made] or runs[:1]
    if not before:
        return {}
    run = before[-1]
    processor = (run.get("machine") or {}).get("processor")
    return {"commit": run.get("commit"), "started": run.get("started"), "processor": processor}


def trainset_fingerprint(path: Path) -> dict[str, Any]:
    """How many images a training set holds and a short digest of each block of
    :data:`BLOCK_IMAGES` (image bytes and labels): two sets made on different processors
    can then be compared after both are gone, to the block."""
    images, labels = load_dataset(path)
    blocks = []
    for start in range(0, len(labels), BLOCK_IMAGES):
        digest = hashlib.sha256(np.ascontiguousarray(images[start : start + BLOCK_IMAGES]))
        digest.update(np.ascontiguousarray(labels[start : start + BLOCK_IMAGES]).tobytes())
        blocks.append(digest.hexdigest()[:8])
    return {"images": int(len(labels)), "block_images": BLOCK_IMAGES, "blocks": blocks}
