"""A run, published: ``make publish RESULTS=<results> OUT=docs/results/<name>``.

What a reader of a published result needs, in one folder a repository can hold: Table 1,
its side-by-side with the paper and held-out error by type (made anew from the run's
evaluation records with today's statistics), the run's figures, every model's evaluation
and robustness record, the record of each start of the run (commit, changed files,
config, versions, machine: :mod:`hardpos.workflow.provenance`), the config it ran, every
job's benchmark file and the cost of each stage (:mod:`hardpos.workflow.costs`), and an
index, ``README.md``. An MNIST run's folder is also a seed (``seed/``): its base nets
with their solver state and the held-out set, what ``make continue`` needs to finish or
extend the run on another machine (:mod:`hardpos.workflow.continuation`).
``SHA256SUMS`` lists every file with its digest (``sha256sum -c SHA256SUMS`` checks it).

Complete means: a record for every model the run's config lists. A run missing some is
refused unless ``--partial`` (the index then names what is missing); records of models
the config does not list (a recipe dropped since) are left out and named. A run without
start records (made before they existed) is refused too, unless ``--unrecorded``.

Publishing never destroys: ``OUT`` may not be the results folder, inside it or above it,
a file, or an existing folder that publish did not make. The folder is built beside
``OUT`` and swapped in with two renames; a publish killed between them is put right by
the next one, which also removes the build folders of killed publishes.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from hardpos.errors import HardposError, InputError
from hardpos.files.atomic import write_json, write_text
from hardpos.files.digests import SUMS, read_sums, sha256_file, write_sums
from hardpos.files.json_records import read_json_record
from hardpos.files.run_folders import (
    BENCHMARKS,
    EVALUATIONS,
    FIGURES,
    ROBUSTNESS,
    RUNS,
    RecordFolders,
)
from hardpos.report.table1 import check_evaluation
from hardpos.workflow.certify import certify
from hardpos.workflow.costs import format_costs, read_records, stage_costs
from hardpos.workflow.layout import Layout, MnistLayout, layout_from_config
from hardpos.workflow.provenance import read_run_records, read_runs
from hardpos.workflow.publish_safety import check_out, recover, swap_in
from hardpos.workflow.seed import SEED, add_seed

FIGURE_SUFFIXES = (".png", ".pdf", ".svg")
# what a folder holds besides the files made anew from them (tables, costs, index)
EVIDENCE = (EVALUATIONS, ROBUSTNESS, RUNS, BENCHMARKS, FIGURES, SEED, "config.yaml")
DERIVED = (
    "README.md", "costs.md", "table1.csv", "table1.md", "table1.tex", "table1_vs_paper.csv",
    "table1_vs_paper.md", "heldout_by_type.csv", "heldout_by_type.md", "training_sets.md",
)  # fmt: skip


@dataclass(frozen=True)
class Completeness:
    """Which of the config's models have a record, which lack one, which are extra."""

    expected: list[str]
    missing: list[str]
    extra: list[str]

    @property
    def complete(self) -> bool:
        return not self.missing

    def summary(self) -> str:
        have = len(self.expected) - len(self.missing)
        text = f"{have} of the {len(self.expected)} models the config lists have a record"
        if self.missing:
            shown = ", ".join(self.missing[:6]) + (", ..." if len(self.missing) > 6 else "")
            text += f"; missing: {shown}"
        return text


def model_ids_with_records(eval_dir: Path) -> list[str]:
    """The model ids of the evaluation records under ``eval_dir`` (base/net1, ...)."""
    if not eval_dir.is_dir():
        return []
    records = [p for p in eval_dir.rglob("*.json") if not p.name.startswith(".")]
    return sorted(p.relative_to(eval_dir).with_suffix("").as_posix() for p in records)


def completeness(layout: Layout, recorded: Iterable[str]) -> Completeness:
    """``recorded`` model ids against those the layout (the config) lists."""
    recorded = set(recorded)
    expected = list(layout.models)
    return Completeness(
        expected=expected,
        missing=[m for m in expected if m not in recorded],
        extra=sorted(recorded - set(expected)),
    )


# -- the folder's files -------------------------------------------------------------------


def copy_file(source: Path, dest: Path) -> None:
    """Copy ``source`` to ``dest`` atomically (a kill leaves the old file or the new one)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.copy-{os.getpid()}.tmp")
    try:
        shutil.copyfile(source, tmp)
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


def _copy_tree(source: Path, dest: Path, suffixes: Sequence[str], keep=lambda rel: True) -> int:
    count = 0
    for path in sorted(source.rglob("*")) if source.is_dir() else []:
        rel = path.relative_to(source)
        visible = not path.name.startswith(".")
        if path.is_file() and path.suffix in suffixes and visible and keep(rel):
            copy_file(path, dest / rel)
            count += 1
    return count


def _runs_section(runs: list[dict[str, Any]]) -> list[str]:
    if not runs:
        return [
            "No start records: this run was made before the workflow wrote them, so which",
            "commit and config made it is not known from its results.",
        ]
    lines = [
        "| started (UTC) | commit | tracked files changed | processor | cores |",
        "| --- | --- | ---: | --- | ---: |",
    ]
    for run in runs:
        commit = run.get("commit") or f"unknown ({run.get('note', 'no git checkout')})"
        machine = run.get("machine") or {}
        changed = len(run.get("changed_files") or [])
        lines.append(
            f"| {run.get('started')} | {commit} | {changed} | {machine.get('processor')} | "
            f"{machine.get('cores')} |"
        )
    commits = {run.get("commit") for run in runs}
    if len(commits) > 1:
        lines += ["", f"**The run's parts ran {len(commits)} different commits** (see runs/)."]
    return lines


def _index(source: str, status: Completeness | None, runs: list[dict], folder: Path) -> str:
    def count(name: str, suffixes: Sequence[str]) -> int:
        return sum(1 for p in (folder / name).rglob("*") if p.suffix in suffixes)

    # the index names the folders as they are; their names come from run_folders

    lines = [f"# Published run{f': {source}' if source else ''}", ""]
    if status is None:
        lines += ["**Completeness unknown**: the run has no start record, so not which models "
                  "its config listed.", ""]  # fmt: skip
    else:
        word = "Complete" if status.complete else "PARTIAL"
        lines += [f"**{word}**: {status.summary()}."]
        if status.extra:
            lines += [f"Left out (not in the config): {', '.join(status.extra)}."]
        lines += [""]
    lines += ["## The run's parts (`runs/`, each start's full record)", ""]
    lines += [*_runs_section(runs), ""]
    lines += ["## Files", ""]
    lines += [
        "- `table1.md` (`.csv`, `.tex`): Table 1 with the statistics; `table1_vs_paper.md`:",
        "  beside the paper's; `heldout_by_type.md`: held-out error by adversarial type.",
        f"- `{FIGURES}/`: the run's figures ({count(FIGURES, FIGURE_SUFFIXES)} files).",
        f"- `{EVALUATIONS}/`: every model's evaluation record ({count(EVALUATIONS, ('.json',))});"
        f" `{ROBUSTNESS}/`: strong-attack records ({count(ROBUSTNESS, ('.json',))}).",
        "- `config.yaml`: the config of the last part"
        + (" (as recorded)." if runs else " (not recorded: absent)."),
        "- `costs.md`: jobs, wall and CPU seconds and memory per stage "
        f"(`{BENCHMARKS}/`: each job's own file; `{RUNS}/`: each part's start record).",
        "- `training_sets.md`: which training set each fine-tuned net used, by digest.",
        "- `seed/`: what `make continue` starts from (base nets, their solver state, the "
        "held-out set).",
        f"- `{SUMS}`: every file's SHA-256 (`sha256sum -c {SUMS}`).",
    ]
    return "\n".join(lines) + "\n"


def training_sets_report(folder: Path) -> str:
    """For each (recipe, base net): how many distinct training sets its nets used (by the
    digest each record names) and, where two differ, how many of their images differ."""
    groups: dict[tuple[str, Any], dict[str, dict]] = {}
    for path in sorted(RecordFolders.of(folder, published=True).evaluations.rglob("*.json")):
        record = read_json_record(path, "evaluation record")
        trainset = (record.get("inputs") or {}).get("trainset")
        if record.get("order") is None or not trainset:
            continue
        groups.setdefault((record["recipe"], record.get("net")), {})[trainset["sha256"]] = trainset
    lines = [
        "# Training sets of the fine-tuned nets",
        "",
        "A (recipe, base net)'s nets share one training set when one machine made it; a",
        "continuation on another processor rebuilds it, and it can differ in rare pixels.",
        "",
        "| recipe | base net | distinct sets | images | images that may differ |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for (recipe, net), sets in sorted(groups.items(), key=lambda kv: (kv[0][0], str(kv[0][1]))):
        sizes = sorted({s.get("images") for s in sets.values()}, key=str)
        differ = _differing_images(list(sets.values()))
        lines.append(
            f"| {recipe} | {net} | {len(sets)} | {', '.join(map(str, sizes))} | {differ} |"
        )
    return "\n".join(lines) + "\n"


def _differing_images(sets: list[dict]) -> str:
    """How many images of two or more same-sized sets may differ: those of the blocks
    whose digests differ (each record keeps one digest per block of images)."""
    if len(sets) < 2:
        return "0"
    blocks = [s.get("blocks") for s in sets]
    if any(b is None for b in blocks) or len({s.get("images") for s in sets}) != 1:
        return "not comparable (no block digests, or sizes differ)"
    size = int(sets[0].get("block_images", 1))
    differ = [i for i, column in enumerate(zip(*blocks, strict=True)) if len(set(column)) > 1]
    last = int(sets[0]["images"]) - size * (len(blocks[0]) - 1)
    most = sum(last if i == len(blocks[0]) - 1 else size for i in differ)
    return f"at most {most} ({len(differ)} of {len(blocks[0])} blocks of {size})"


def refresh(
    folder: Path, config: dict[str, Any] | None, *, source: str, paper: str | os.PathLike,
    order: Sequence[str] | None = None,
) -> Completeness | None:  # fmt: skip
    """Make the folder's derived files anew from its records (tables, figure 6 when its
    records are all there, costs, training sets, index) and list every file in SUMS.
    Derived files leave SUMS before they are rewritten, so a kill midway leaves them
    unlisted (made anew next time), never listed with a stale digest."""
    from hardpos.report.stage_outputs import write_figure6, write_run_tables

    records = RecordFolders.of(folder, published=True)
    sums = read_sums(folder)
    write_sums(folder, {k: v for k, v in sums.items() if k.split("/")[0] in EVIDENCE})
    layout = _layout(config)
    status = completeness(layout, model_ids_with_records(records.evaluations)) if layout else None
    if status is not None and status.extra:
        raise InputError(f"{records.evaluations}: records of models the config does not list: "
                         f"{', '.join(status.extra)}")  # fmt: skip
    if model_ids_with_records(records.evaluations):
        write_run_tables(folder, folder, paper=paper, recipe_order=order or _order(layout))
    if isinstance(layout, MnistLayout) and layout.bucket_names:
        ids = layout.finetuned_ids(layout.bucket_names)
        bucket_records = [records.evaluation(i) for i in ids]
        figure = records.figures / "fig6.png"
        if all(r.is_file() for r in bucket_records) and not figure.is_file():
            write_figure6(evaluations=bucket_records, buckets=layout.bucket_ranges(),
                          out_png=str(figure), out_pdf=str(figure.with_suffix(".pdf")))  # fmt: skip
    jobs = read_records(records.benchmarks) if records.benchmarks.is_dir() else []
    costs = format_costs(stage_costs(jobs), f"{BENCHMARKS}/") if jobs else ""
    write_text(folder / "costs.md", (costs or "No benchmark files.") + "\n")
    write_text(folder / "training_sets.md", training_sets_report(folder))
    write_text(
        folder / "README.md",
        _index(source, status, read_run_records(records.runs), folder),
    )
    write_sums(folder, list_files(folder))
    return status


def list_files(folder: Path) -> dict[str, str]:
    """Every file of the folder (hidden ones and SUMS aside) with its digest."""
    known = read_sums(folder)
    sums = {}
    for path in sorted(folder.rglob("*")):
        name = path.relative_to(folder).as_posix()
        hidden = any(part.startswith(".") for part in name.split("/"))
        if path.is_file() and name != SUMS and not hidden:
            sums[name] = known.get(name) or sha256_file(path)
    return sums


def _layout(config: dict[str, Any] | None) -> Layout | None:
    if config is None:
        return None
    try:
        return layout_from_config(config)
    except (KeyError, TypeError, HardposError) as error:
        raise InputError(f"the recorded config has no usable layout ({error})") from None


def _order(layout: Layout | None) -> list[str]:
    """Table 1's rows in the order the run's own ``table1`` rule gave them."""
    if layout is None:
        return ["basic"]
    return layout.table1_recipes() if hasattr(layout, "table1_recipes") else ["basic"]


def publish(
    results: str | os.PathLike,
    out: str | os.PathLike,
    *,
    paper: str | os.PathLike = "config/paper_table1.yaml",
    order: Sequence[str] | None = None,
    partial: bool = False,
    unrecorded: bool = False,
) -> Path:
    """Publish the run under ``results`` into ``out`` (see the module's docstring)."""
    results, out = Path(results), Path(out)
    ours = RecordFolders.of(results)
    if not results.is_dir():
        raise InputError(f"{results}: no such results folder")
    check_out(results, out)
    for line in recover(out):
        print(f"publish: {line}", file=sys.stderr)
    if not model_ids_with_records(ours.evaluations):
        raise InputError(f"{ours.evaluations}: no evaluation records (*.json): nothing to publish")
    runs = read_runs(results)
    if not runs and not unrecorded:
        raise InputError(
            f"{ours.runs}: no start records, so the commit and config of this "
            "run are unknown; --unrecorded publishes it saying so"
        )
    config = runs[-1]["config"] if runs else None
    # the recorded config's paths, under the results folder as it is named here
    layout = _layout(None if config is None else {**config, "results": str(results)})
    if layout is not None:
        status = completeness(layout, model_ids_with_records(ours.evaluations))
        if not status.complete and not partial:
            raise InputError(f"{results}: {status.summary()}; --partial publishes it anyway, "
                             "marked partial")  # fmt: skip
        wanted = set(status.expected)
    else:
        wanted = set(model_ids_with_records(ours.evaluations))

    for model_id in sorted(wanted & set(model_ids_with_records(ours.evaluations))):
        path = ours.evaluation(model_id)
        check_evaluation(read_json_record(path, "evaluation record"), path)

    def listed(rel: Path) -> bool:
        return rel.with_suffix("").as_posix() in wanted

    building = out.parent / f".{out.name}.publishing-{os.getpid()}"
    theirs = RecordFolders.of(building, published=True)
    try:
        building.mkdir(parents=True)
        _copy_records(results, building, layout, wanted)
        _copy_tree(ours.robustness, theirs.robustness, (".json",), listed)
        _copy_tree(ours.figures, theirs.figures, FIGURE_SUFFIXES)
        _copy_tree(ours.runs, theirs.runs, (".yaml",))
        _copy_tree(ours.benchmarks, theirs.benchmarks, (".tsv",))
        if layout is not None:
            add_seed(results, building, layout)
        if config is not None:
            write_text(building / "config.yaml", yaml.safe_dump(config, sort_keys=False))
        refresh(building, config, source="", paper=paper, order=order)
        swap_in(building, out)
    except OSError as error:
        raise InputError(f"OUT {out}: cannot publish there: {error.strerror or error}") from None
    finally:
        shutil.rmtree(building, ignore_errors=True)
    return out


def _copy_records(results: Path, folder: Path, layout: Layout | None, wanted: set[str]) -> None:
    """The wanted evaluation records into ``folder/eval``: MNIST's certified with the
    digests of what made them (:mod:`hardpos.workflow.certify`) where their inputs are
    still there, as they are otherwise (said on stderr)."""
    ours, theirs = RecordFolders.of(results), RecordFolders.of(folder, published=True)
    for model_id in sorted(wanted & set(model_ids_with_records(ours.evaluations))):
        record = None
        if isinstance(layout, MnistLayout):
            record = certify(layout, model_id, say=lambda why: print(f"publish: {why}",
                                                                     file=sys.stderr))  # fmt: skip
        if record is None:
            copy_file(
                ours.evaluation(model_id),
                theirs.evaluation(model_id),
            )
        else:
            write_json(theirs.evaluation(model_id), record)


def write_record(folder: Path, rel: str, record: dict[str, Any]) -> None:
    """Add one JSON record to a published folder: the file atomically, then its digest in
    SUMS (a kill between leaves it unlisted, which the next continuation checks again)."""
    write_json(folder / rel, record)
    sums = read_sums(folder)
    sums[rel] = sha256_file(folder / rel)
    write_sums(folder, sums)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", help="the run's results folder")
    parser.add_argument("--out", required=True, help="the folder to publish into (replaced)")
    parser.add_argument("--paper", default="config/paper_table1.yaml")
    parser.add_argument("--order", default="", help="Table 1's rows first, comma-separated "
                        "(default: basic, then the recorded config's recipes)")  # fmt: skip
    parser.add_argument("--partial", action="store_true", help="publish an unfinished run")
    parser.add_argument("--unrecorded", action="store_true",
                        help="publish a run without start records")  # fmt: skip
    args = parser.parse_args(argv)
    order = [name for name in args.order.split(",") if name] or None
    if not Path(args.paper).is_file():
        print(f"publish: --paper {args.paper}: no such file (the paper's Table 1, YAML)",
              file=sys.stderr)  # fmt: skip
        return 2
    try:
        out = publish(args.results, args.out, paper=args.paper, order=order,
                      partial=args.partial, unrecorded=args.unrecorded)  # fmt: skip
    except HardposError as error:
        print(f"publish: {error}", file=sys.stderr)
        return 2
    print(f"published {args.results} -> {out} (index: {out / 'README.md'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
