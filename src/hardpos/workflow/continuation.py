"""Continue (or extend) a published run on any machine: ``make continue FROM=<folder>``.

A run longer than a machine lives keeps its small, final state in a published folder
(:mod:`hardpos.workflow.publish`) that the repository holds: the base nets and the
held-out set (``seed/``), every finished evaluation record, each part's start record and
benchmark files. This command, on a fresh clone or where a part was killed:

1. checks the folder against ``SHA256SUMS`` (a changed or damaged file is refused, named)
   and the run's config against the folder's (the keys that make the published nets and
   sets must agree; recipes may be added: that extends the run);
2. seeds the results folder: MNIST's dataset files, then the base nets and the held-out
   set restored from ``seed/`` (newer than the data, so Snakemake does not retrain them);
3. runs only what is missing, naming only missing outputs as targets (Snakemake reruns
   every consumer of an intermediate it must rebuild, so finished ones are never
   targets), in phases: what all base nets share (base nets, held-out set, Figures 2, 4,
   5), then each base net's models one net at a time;
4. writes each finished evaluation record back into the folder as it appears, with the
   digests of what it was made from (model, base net, training set, held-out set, MNIST
   test), then its digest into ``SHA256SUMS``; after each phase, the tables and index.

Code changes alone do not rerun finished jobs (a clone gives every script a new
modification time): Snakemake runs with ``--rerun-triggers`` without ``code`` (and without
``params``: :func:`check_compatible` holds the config to the published one instead).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from hardpos.errors import HardposError
from hardpos.files.atomic import write_text
from hardpos.files.digests import (
    SUMS,
    read_sums,
    sha256_file,
    unlisted_files,
    verify_folder,
    write_sums,
)
from hardpos.files.json_records import read_json_record
from hardpos.files.run_folders import BENCHMARKS, EVALUATIONS, FIGURES, RUNS, RecordFolders
from hardpos.report.table1 import check_evaluation
from hardpos.workflow.certify import certify
from hardpos.workflow.layout import BASE_ID, Layout, MnistLayout, layout_from_config
from hardpos.workflow.publish import (
    DERIVED,
    copy_file,
    model_ids_with_records,
    refresh,
    write_record,
)
from hardpos.workflow.results_folder import first_difference
from hardpos.workflow.run_config import load_config
from hardpos.workflow.seed import SEED, SEED_INDEX, add_seed, seed_files
from hardpos.workflow.seedfiles import restore

# not code (see the docstring), nor params: a machine's own settings (mnist_dir, batch
# sizes) would rerun finished jobs, and what makes the published nets and sets is held
# equal to the published config by check_compatible instead
RERUN_TRIGGERS = ("mtime", "input", "software-env")
POLL_SECONDS = 20.0
REFRESH_SECONDS = 600.0  # at most this often, the folder's tables are made anew mid-phase
SHARED_FIGURES = ("fig2", "fig4", "fig5")  # drawn from what the base nets share


class ContinuationError(HardposError):
    """The published folder or the run's config cannot be continued."""


def check_compatible(published: dict[str, Any], config: dict[str, Any]) -> None:
    """Refuse a config that would make other base nets or sets than the published ones
    (:data:`~hardpos.workflow.results_folder.SHARED_KEYS`), drop a published recipe or
    define one otherwise, naming the key."""
    difference = first_difference(published, config)
    if difference is not None:
        raise ContinuationError(f"{difference} in the published run: a continuation must make "
                                "the same nets and sets")  # fmt: skip
    mine = {r["name"] for r in config.get("recipes", [])}
    for recipe in published.get("recipes", []):
        if recipe["name"] not in mine:
            raise ContinuationError(
                f"config key recipes: the published run's recipe {recipe['name']!r} is missing "
                "(a continuation keeps every published row)"
            )


def check_folder(folder: Path, *, list_adopted: bool = True) -> list[str]:
    """Verify the folder against its SUMS; an unlisted evaluation record (written just
    before a kill) is checked as a record and listed, an unlisted derived file is made
    anew later; anything else unlisted is refused. Returns the records it adopted
    (``list_adopted=False``, make plan's: checked, but SUMS is left as it is)."""
    sums = verify_folder(folder)
    adopted = []
    for name in unlisted_files(folder, sums):
        if name in DERIVED:
            continue
        if name.split("/")[0] == EVALUATIONS and name.endswith(".json"):
            check_evaluation(_read_json(folder / name), folder / name)
            sums[name] = sha256_file(folder / name)
            adopted.append(name)
        elif name.split("/")[0] in (BENCHMARKS, RUNS, FIGURES):
            sums[name] = sha256_file(folder / name)  # evidence copied before a kill
        else:
            raise ContinuationError(f"{folder / name}: not listed in {folder / SUMS}; remove it "
                                    "or publish the folder anew")  # fmt: skip
    if list_adopted:
        write_sums(folder, sums)
    return adopted


def _read_json(path: Path) -> Any:
    return read_json_record(path, "JSON record")


class Continuation:
    """One continuation of the published run in ``folder`` with Snakemake ``args``."""

    def __init__(
        self, folder: Path, args: Sequence[str], *, snakemake: str, cores: int,
        paper: str = "config/paper_table1.yaml", read_only: bool = False,
    ) -> None:  # fmt: skip
        self.folder, self.args, self.snakemake, self.cores = folder, list(args), snakemake, cores
        self.paper = paper
        # make plan's: the published folder is read, never written (a continuation's
        # own start writes the config and the records back)
        self.read_only = read_only
        self.config = load_config(args)
        self.layout: Layout = layout_from_config(self.config)
        if not isinstance(self.layout, MnistLayout):
            raise ContinuationError("config key dataset: only MNIST runs can be continued "
                                    "(ImageNet's networks are imported, not kept)")  # fmt: skip
        self.results = Path(self.config["results"])
        self.ours = RecordFolders.of(self.results)  # the results folder's records
        self.theirs = RecordFolders.of(folder, published=True)  # the published folder's
        self._refreshed = -REFRESH_SECONDS

    # -- 1. the folder
    def open_folder(self) -> None:
        """Check a published folder, or start a new one for a run from scratch."""
        recorded: dict[str, Any] = {}
        if (self.folder / SUMS).is_file():
            for name in check_folder(self.folder, list_adopted=not self.read_only):
                print(f"continue: {name}: a record written before a kill, checked and kept")
            published = self.folder / "config.yaml"
            if published.is_file():
                recorded = yaml.safe_load(published.read_text()) or {}
                check_compatible(recorded, self.config)
            unknown = set(model_ids_with_records(self.theirs.evaluations)) - set(self.layout.models)
            if unknown:
                raise ContinuationError(f"{self.theirs.evaluations}: records of models this config "
                                        f"lacks: {', '.join(sorted(unknown))}")  # fmt: skip
        elif self.folder.exists() and any(self.folder.iterdir()):
            raise ContinuationError(f"{self.folder}: not a published run (no {SUMS}) and not "
                                    "empty: name a published folder or a new one")  # fmt: skip
        if self.read_only:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        config = _plain(self.config)
        if recorded.get("results"):  # where a part's files live is not what the run computes
            config["results"] = recorded["results"]
        text = yaml.safe_dump(config, sort_keys=False)
        config = self.folder / "config.yaml"
        if not config.is_file() or config.read_text() != text:
            write_record_text(self.folder, "config.yaml", text)

    # -- 2. the results folder
    def seed(self) -> None:
        """MNIST's files first, then the seed's files restored newer than them."""
        data = [self.layout.paths.mnist(split) for split in ("train", "test")]
        missing = [p for p in data if not Path(p).is_file()]
        if missing:
            self.snakemake_run(missing, label="MNIST's dataset files")
        index_path = self.folder / SEED / SEED_INDEX
        index = _read_json(index_path) if index_path.is_file() else {}
        # in the DAG's order (base nets before the held-out set made from their images),
        # each newer than the last: Snakemake reruns a file older than its inputs
        stamp = time.time_ns()
        for rel in [rel for rel in seed_files(self.layout) if rel in index]:
            digest = index[rel]
            dest = self.results / rel
            if dest.is_file():
                if sha256_file(dest) != digest:
                    raise ContinuationError(
                        f"{dest}: differs from the published {self.folder / SEED / rel}.gz "
                        "(another run's file?): move it away or use another results folder"
                    )
                continue
            restore(self.folder / SEED / f"{rel}.gz", dest, digest)
            stamp = max(stamp + 1_000_000, time.time_ns())
            os.utime(dest, ns=(stamp, stamp))
            print(f"continue: {dest} restored from the published seed")

    # -- 3. what is left
    def phases(self) -> list[tuple[str, list[str]]]:
        """(label, missing targets) of the shared phase, then of each base net."""
        recorded = set(model_ids_with_records(self.theirs.evaluations))
        paths = self.layout.paths
        shared = [paths.heldout_set(), paths.heldout_table()]
        shared += [paths.model(BASE_ID.format(net=net)) for net in self.layout.nets]
        shared = [p for p in shared if not Path(p).is_file()]
        for fig in SHARED_FIGURES:
            if not (self.theirs.figures / f"{fig}.png").is_file():
                shared += [paths.figure(fig, "png"), paths.figure(fig, "pdf")]
        phases = [("what the base nets share", shared)]
        for net in self.layout.nets:
            value = self.layout.net_value(net)
            ids = [m.id for m in self.layout.models.values()
                   if m.net == value and m.id not in recorded]  # fmt: skip
            phases.append((f"base net {net}", [paths.evaluation(i) for i in ids]))
        return [(label, targets) for label, targets in phases if targets]

    def snakemake_command(self, targets: Sequence[str], *, dry_run: bool = False) -> list[str]:
        # targets first: --rerun-triggers (and --configfile in args) take every word after it
        return [
            self.snakemake, *targets, "--cores", str(self.cores), "--resources", "gpu=2",
            *(["--dry-run"] if dry_run else []), "--rerun-incomplete",
            "--rerun-triggers", *RERUN_TRIGGERS, *self.args,
        ]  # fmt: skip

    def snakemake_run(self, targets: Sequence[str], *, label: str) -> None:
        print(f"continue: {label}: {len(targets)} targets", flush=True)
        process = subprocess.Popen(self.snakemake_command(targets))
        try:
            while True:
                try:
                    code = process.wait(timeout=POLL_SECONDS)
                    break
                except subprocess.TimeoutExpired:
                    self.harvest()
        finally:
            if process.poll() is None:  # a refused record stops the run, Snakemake with it
                process.terminate()
                process.wait()
        self.harvest()
        if code != 0:
            raise ContinuationError(f"Snakemake stopped with exit {code} during {label}; the "
                                    "records finished so far are in the folder")  # fmt: skip

    # -- 4. records back into the folder
    def harvest(self) -> list[str]:
        """Every finished evaluation record not yet in the folder, certified and written
        back; then start records, benchmark files and figures the folder lacks."""
        added: list[str] = []
        if self.read_only:
            return added
        recorded = set(model_ids_with_records(self.theirs.evaluations))
        for model_id in model_ids_with_records(self.ours.evaluations):
            if model_id in recorded or model_id not in self.layout.models:
                continue
            record = certify(self.layout, model_id)
            if record is not None:
                name = self.theirs.evaluation(model_id).relative_to(self.folder).as_posix()
                write_record(self.folder, name, record)
                added.append(model_id)
                print(f"continue: {name} written back", flush=True)
        self._copy_new(self.ours.runs, self.theirs.runs, (".yaml",))
        self._copy_new(self.ours.benchmarks, self.theirs.benchmarks, (".tsv",))
        self._copy_new(self.ours.figures, self.theirs.figures, (".png", ".pdf"))
        add_seed(self.results, self.folder, self.layout)
        if added and time.monotonic() - self._refreshed > REFRESH_SECONDS:
            self.refresh()  # the tables follow the records while a phase runs
        return added

    def _copy_new(self, source: Path, into: Path, suffixes: Sequence[str]) -> None:
        if not source.is_dir():
            return
        for path in sorted(source.rglob("*")):
            if path.suffix not in suffixes or path.name.startswith(".") or not path.is_file():
                continue
            if path.stat().st_size == 0:
                continue  # a job still running (Snakemake writes the file at its end)
            dest = into / path.relative_to(source)
            if not dest.is_file():
                copy_file(path, dest)

    def refresh(self) -> None:
        self._refreshed = time.monotonic()
        status = refresh(self.folder, self.config, source="continued with make continue",
                         paper=self.paper)  # fmt: skip
        print(f"continue: {self.folder}: {status.summary() if status else 'tables made'}")

    def run(self) -> int:
        self.open_folder()
        self.seed()
        self.harvest()  # what a killed part finished after its last poll
        for label, targets in self.phases():
            self.snakemake_run(targets, label=label)
            self.refresh()
        self.refresh()
        left = self.phases()
        if left:
            print(f"continue: still missing after the run: {left}", file=sys.stderr)
            return 1
        print(f"continue: {self.folder} is complete")
        return 0

    def plan(self) -> list[str]:
        """Seed, then the targets still to make (``--plan``: ``make plan`` prints them)."""
        self.open_folder()
        self.seed()
        return [t for _, targets in self.phases() for t in targets]


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def write_record_text(folder: Path, rel: str, text: str) -> None:
    write_text(folder / rel, text)
    sums = read_sums(folder)
    sums[rel] = sha256_file(folder / rel)
    write_sums(folder, sums)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m hardpos.workflow.continuation",
        description=__doc__.splitlines()[0] + " Other arguments go to snakemake.",
    )
    parser.add_argument("--from", dest="folder", type=Path, required=True,
                        help="the published folder (make publish's, or a new one)")  # fmt: skip
    parser.add_argument("--cores", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--snakemake", default="snakemake")
    parser.add_argument("--paper", default="config/paper_table1.yaml")
    parser.add_argument("--targets", action="store_true",
                        help="seed, then print the targets left, one a line")  # fmt: skip
    ours, args = parser.parse_known_args(argv)
    try:
        job = Continuation(ours.folder, args, snakemake=ours.snakemake, cores=ours.cores,
                           paper=ours.paper)  # fmt: skip
        if ours.targets:
            print("\n".join(job.plan()))
            return 0
        return job.run()
    except HardposError as error:
        print(f"continue: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
