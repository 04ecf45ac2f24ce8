"""Which config a results folder belongs to: a run refuses a folder another config made.

Each shipped config names its own folder (config key ``results``: ``results/smoke``,
``results/mini``, ``results/paper``, ...), but a user can point two configs at one folder.
Snakemake would then rerun every job whose params differ ("Params have changed") and
delete the other config's finished models first. So the Snakefile calls
:func:`check_results_folder` when it builds the DAG (every run, dry run and job start),
before Snakemake can delete anything: the folder's start records
(:mod:`hardpos.workflow.provenance`, one per start that ran jobs, each with its merged
config) say which configs made it, and a config that would make other outputs from the
same paths is refused, naming the folder, the key and how to choose another folder.

Configs that make the same outputs may share a folder: the same values of the keys that
make the nets, sets and records (:data:`OUTPUT_KEYS`), with recipes added or left out
but none redefined under the same name. Where and how fast a run goes (``results``
itself, devices, threads, batch sizes, checkpoints, the MNIST folder) is free. The
continuation (:mod:`hardpos.workflow.continuation`) holds a config to a published run's
with the same comparison (:func:`first_difference`).

Imported when the DAG is built: nothing here imports torch.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from hardpos.errors import DataError, HardposError
from hardpos.files.run_folders import RecordFolders
from hardpos.workflow.provenance import read_runs

# config keys whose values make a run's base nets, sets and records: a continuation must
# use the same as the published run (the others: where and how fast it runs, which
# recipes it adds)
SHARED_KEYS = ("dataset", "base", "solver", "heldout", "attack", "finetune", "infimnist",
               "buckets", "figures")  # fmt: skip
FREE_SUBKEYS = {"attack": {"batch_size"}, "finetune": {"checkpoint_every", "nets_per_job",
                "compile_step", "workers"}, "base": {"checkpoint_every"}}  # fmt: skip
# a results folder also holds the strong-attack records and the ImageNet branch's outputs;
# switching a stage on or off (enabled) leaves the other stages' outputs as they are
OUTPUT_KEYS = (*SHARED_KEYS, "robustness", "imagenet")
FOLDER_FREE_SUBKEYS = {
    **FREE_SUBKEYS,
    "robustness": {"enabled", "batch_size"},
    "buckets": {"enabled"},
    "infimnist": {"enabled"},
    "imagenet": {"eval_batch_size"},
}


class ResultsFolderError(HardposError):
    """The config's results folder holds the outputs of a config that makes other ones."""


def first_difference(
    made_by: Mapping[str, Any],
    config: Mapping[str, Any],
    *,
    keys: Iterable[str] = SHARED_KEYS,
    free: Mapping[str, set[str]] = FREE_SUBKEYS,
) -> str | None:
    """The first of ``keys`` (or a recipe of the same name) whose value in ``config``
    differs from ``made_by``'s, as ``config key K: <ours> here, <theirs> in ...``
    without the place (the caller names it); None when they make the same outputs.

    ``free`` lists the sub-keys of a mapping that do not change what is made.
    """
    for key in keys:
        ours, theirs = _plain(config.get(key)), _plain(made_by.get(key))
        if isinstance(ours, dict) and isinstance(theirs, dict):
            for sub in sorted(set(ours) | set(theirs)):
                if sub not in free.get(key, ()) and ours.get(sub) != theirs.get(sub):
                    return f"config key {key}.{sub}: {ours.get(sub)!r} here, {theirs.get(sub)!r}"
        elif ours != theirs:
            return f"config key {key}: {ours!r} here, {theirs!r}"
    mine = {recipe["name"]: _plain(recipe) for recipe in config.get("recipes") or []}
    for recipe in made_by.get("recipes") or []:
        name = recipe["name"]
        if name in mine and mine[name] != _plain(recipe):
            return f"config key recipes: {name!r} is {mine[name]} here, {_plain(recipe)}"
    return None


def check_results_folder(config: Mapping[str, Any]) -> None:
    """Refuse a run whose results folder holds another config's outputs (module docstring).

    Reads the start records in ``{results}/logs/runs``; a folder without any (new, or made
    only by dry runs) is free.
    """
    results = config["results"]
    try:
        starts = read_runs(results)
    except DataError as error:
        raise ResultsFolderError(f"results folder {results}: {error}") from None
    for start in starts:
        difference = first_difference(
            start["config"], config, keys=OUTPUT_KEYS, free=FOLDER_FREE_SUBKEYS
        )
        if difference is not None:
            when = start.get("started", "an earlier start")
            raise ResultsFolderError(
                f"results folder {results} holds the outputs of another config ({difference} "
                f"in the run started {when}, {RecordFolders.of(results).runs}); "
                "Snakemake would rerun its jobs and delete its finished models. Choose a "
                f"folder of your own: --config results={_suggest(results)} (or move "
                f"{results} away)"
            )


def _suggest(results: str) -> str:
    """A sibling folder name to offer in the refusal."""
    return f"{results.rstrip('/')}-2"


def _plain(value: Any) -> Any:
    """Mappings and sequences as plain dicts and lists (Snakemake's config may hold
    subclasses; a start record holds what YAML read back)."""
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value
