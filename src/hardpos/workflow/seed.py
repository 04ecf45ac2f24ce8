"""A published run's seed: what a continuation starts from (``seed/`` of a published
folder): each base net with its solver state and sidecar, and the held-out set, stored in
gzip parts of at most 20 MB (:mod:`hardpos.workflow.seedfiles`) with their digests in
``seed/files.json``, every part listed in the folder's ``SHA256SUMS`` as it is added."""

from __future__ import annotations

from pathlib import Path

from hardpos.files.atomic import write_json
from hardpos.files.digests import read_sums, sha256_file, write_sums
from hardpos.files.json_records import read_json_record
from hardpos.files.sidecars import sidecar_path
from hardpos.workflow.layout import BASE_ID, Layout, MnistLayout
from hardpos.workflow.seedfiles import store

SEED = "seed"
SEED_INDEX = "files.json"  # seed/files.json: each seed file's path and SHA-256 (uncompressed)


def seed_files(layout: Layout) -> list[str]:
    """The results files (relative to the results folder) a continuation starts from:
    each base net with its solver state and sidecar, and the held-out set. ImageNet's
    imported networks are not kept (hundreds of MB; they are re-imported)."""
    if not isinstance(layout, MnistLayout):
        return []
    paths = []
    for net in layout.nets:
        model = layout.paths.model(BASE_ID.format(net=net))
        paths += [model, layout.paths.solver(BASE_ID.format(net=net)), str(sidecar_path(model))]
    paths += [layout.paths.heldout_set(), layout.paths.heldout_table()]
    results = layout.paths.results
    return [str(Path(p).relative_to(results)) for p in paths]


def add_seed(results: Path, folder: Path, layout: Layout) -> list[str]:
    """Store the seed files the results folder has and the folder lacks (``seed/<path>.gz``
    in parts, their digests in ``seed/files.json``); returns the paths added."""
    index_path = folder / SEED / SEED_INDEX
    index = read_json_record(index_path, "seed index") if index_path.is_file() else {}
    added = [rel for rel in seed_files(layout) if rel not in index and (results / rel).is_file()]
    sums = read_sums(folder)
    for rel in added:
        for part in store(results / rel, folder / SEED / f"{rel}.gz"):
            sums[part.relative_to(folder).as_posix()] = sha256_file(part)
        index[rel] = sha256_file(results / rel)
    if added:  # the parts are listed before the index that names them
        write_sums(folder, sums)
        write_json(index_path, index)
        sums[index_path.relative_to(folder).as_posix()] = sha256_file(index_path)
        write_sums(folder, sums)
    return added
