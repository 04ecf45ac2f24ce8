"""The config a Snakemake run will see, from its command line: the Snakefile's
``configfile:``, each ``--configfile`` and each ``--config key=value``, merged as Snakemake
merges them (``make plan``, ``make continue``)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import yaml

from hardpos.workflow.dry_run import PlanError


def merge_config(base: dict, overlay: Mapping) -> dict:
    """Snakemake's overlay of config files: mappings merge, lists and scalars replace."""
    out = dict(base)
    for key, value in overlay.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge_config(out[key], value)
        else:
            out[key] = value
    return out


def split_snakemake_args(args: Sequence[str]) -> tuple[list[str], list[str]]:
    """The config files and ``key=value`` overrides in a Snakemake command line."""
    configfiles: list[str] = []
    overrides: list[str] = []
    target: list[str] | None = None
    for arg in args:
        name, eq, value = arg.partition("=")
        if name in ("--configfile", "--configfiles"):
            target = configfiles
            if eq:
                configfiles.append(value)
            continue
        if name in ("--config", "-C") and (eq or arg in ("--config", "-C")):
            target = overrides
            if eq and arg.startswith("--config="):
                overrides.append(value)
            continue
        if arg.startswith("-"):
            target = None
        elif target is not None:
            target.append(arg)
    return configfiles, overrides


BAD_CONFIG_FILE = 3  # make plan's exit status for a config file that is not YAML


class ConfigFileError(PlanError):
    """A config file that is not YAML: ``make run`` stops on it (Snakemake's own message
    does not name the file)."""


def load_config(
    args: Sequence[str], *, workdir: str | os.PathLike = ".", default: str = "config/config.yaml"
) -> dict:
    """The config a ``snakemake`` run with these arguments sees: the Snakefile's
    ``configfile:``, then each ``--configfile``, then ``--config key=value``."""
    configfiles, overrides = split_snakemake_args(args)
    config: dict = {}
    for path in [default, *configfiles]:
        full = Path(workdir) / path
        try:
            config = merge_config(config, yaml.safe_load(full.read_text()) or {})
        except OSError as error:
            raise PlanError(f"plan: cannot read config file {full}: {error.strerror}") from None
        except yaml.YAMLError as error:
            where = getattr(error, "problem_mark", None)
            line = f", line {where.line + 1}" if where is not None else ""
            raise ConfigFileError(
                f"config file {full}{line}: not valid YAML "
                f"({getattr(error, 'problem', None) or error})"
            ) from None
    for item in overrides:
        key, eq, value = item.partition("=")
        if not eq:
            raise PlanError(f"plan: --config {item!r} is not key=value")
        config = merge_config(config, {key: yaml.safe_load(value)})
    return config


def describe_configs(args: Sequence[str]) -> str:
    """The config files (and overrides) a run with these arguments reads, for titles."""
    files, overrides = split_snakemake_args(args)
    return describe_config_files(files, overrides)


def describe_config_files(
    files: Sequence[str | os.PathLike], overrides: Sequence[str] = (), *, workdir: str = "."
) -> str:
    """``config/config.yaml + config/smoke.yaml (--config device=cpu)``: the files a run
    reads in order, as paths relative to ``workdir`` where they lie under it."""
    here = Path(workdir).absolute()
    named = []
    for path in files:
        full = Path(path).absolute()
        named.append(str(full.relative_to(here)) if full.is_relative_to(here) else str(path))
    # the Snakefile reads config/config.yaml first whatever --configfile says; once is enough
    text = " + ".join(dict.fromkeys(["config/config.yaml", *named]))
    return text + (f" (--config {' '.join(overrides)})" if overrides else "")


class RunConfig(dict):
    """The config a workflow run sees, with ``described``: the config files and overrides
    it was made of (:func:`describe_config_files`), which the report's landing page names.

    The description is an attribute, not a key, so the config validated, recorded and
    published stays the same; pickled (Snakemake's scripts) or copied it is a plain dict.
    """

    def __init__(
        self, config: Mapping, *, files: Sequence[str | os.PathLike], overrides: Mapping
    ) -> None:
        super().__init__(config)
        items = [f"{key}={value}" for key, value in overrides.items()]
        self.described = describe_config_files(files, items)

    def __reduce__(self):
        return dict, (dict(self),)


def without_configfiles(args: Sequence[str]) -> list[str]:
    return _without_options(args, ("--configfile", "--configfiles"))


def with_override(args: Sequence[str], item: str) -> list[str]:
    """``args`` with ``--config item`` added to the overrides they give: a second
    ``--config`` option would replace the first, so all of them go in one."""
    files, overrides = split_snakemake_args(args)
    rest = _without_options(args, ("--configfile", "--configfiles", "--config", "-C"))
    return [*rest, *(["--configfile", *files] if files else []), "--config", *overrides, item]


def _without_options(args: Sequence[str], names: Sequence[str]) -> list[str]:
    """``args`` less the options ``names`` and the values each takes."""
    out: list[str] = []
    skipping = False
    for arg in args:
        if arg.split("=")[0] in names:
            skipping = "=" not in arg
            continue
        if skipping and not arg.startswith("-"):
            continue
        skipping = False
        out.append(arg)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Print one top-level key of the config a run with these Snakemake arguments sees
    (the Makefile's default ``RESULTS``: the folder of the config in ``ARGS``)."""
    parser = argparse.ArgumentParser(prog="python -m hardpos.workflow.run_config",
                                     description=main.__doc__.splitlines()[0])  # fmt: skip
    parser.add_argument("key", help="a top-level config key, e.g. results")
    ours, args = parser.parse_known_args(argv)
    try:
        config = load_config(args)
    except PlanError as error:
        print(error, file=sys.stderr)
        return 2
    if ours.key not in config:
        print(f"config: no key {ours.key!r} in {describe_configs(args)}", file=sys.stderr)
        return 2
    print(config[ours.key])
    return 0


if __name__ == "__main__":
    sys.exit(main())
