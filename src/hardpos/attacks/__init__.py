"""Adversarial directions and the minimal-scale search (the paper's section 4).

``generate(model, images, labels, methods=[...], factors=[...])`` returns the images and
a table, one row per image, for any classifier returning logits (uint8 images, or floats
with ``input_range=(0, 1)``); ``summarize(table)`` gives success rates and medians per
method. ``feature_direction`` is the paper's B_l operator for any named layer.

The names are loaded on first use (PEP 562), so :mod:`hardpos.attacks.methods` and
:mod:`hardpos.attacks.options` import without torch.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "COLUMNS": "results",
    "AttackResult": "results",
    "generate": "generation",
    "generate_to_files": "generation",
    "iter_generate": "generation",
    "summarize": "results",
    "compute_directions": "directions",
    "feature_direction": "directions",
    "Direction": "methods",
    "FAMILIES": "methods",
    "parse_methods": "methods",
    "AttackOptions": "options",
    "DEFAULTS": "options",
    "SearchOptions": "options",
    "grid_neighbours": "search",
    "minimal_scales": "search",
    "perturb": "search",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'hardpos.attacks' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"hardpos.attacks.{_EXPORTS[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
