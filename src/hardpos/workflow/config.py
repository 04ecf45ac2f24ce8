"""Workflow config validation with a one-paragraph message naming the offending key.

Snakemake's own ``validate`` prints the whole schema; a user who mistyped one key needs
only the key, what was wrong and what is allowed.
"""

from __future__ import annotations

import os
from typing import Any

import jsonschema
import yaml

from hardpos.errors import HardposError


class ConfigError(HardposError):
    """A config key is unknown, missing or has a value of the wrong kind."""


def _key_path(error: jsonschema.ValidationError) -> str:
    return ".".join(str(p) for p in error.absolute_path) or "(top level)"


def _describe(error: jsonschema.ValidationError) -> str:
    where = _key_path(error)
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        unknown = sorted(set(error.instance) - set(allowed))
        return (
            f"config: unknown key {', '.join(repr(k) for k in unknown)} in {where}; "
            f"allowed keys there: {', '.join(allowed)}"
        )
    if error.validator == "required":
        return f"config: {where} is missing a required key: {error.message}"
    return f"config key {where}: {error.message}"


def validate_config(config: dict[str, Any], schema_path: str | os.PathLike) -> None:
    """Raise :class:`ConfigError` naming the first offending key if ``config`` breaks the schema."""
    with open(schema_path) as handle:
        schema = yaml.safe_load(handle)
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: list(e.absolute_path))
    if errors:
        best = jsonschema.exceptions.best_match(errors)
        raise ConfigError(_describe(best))
