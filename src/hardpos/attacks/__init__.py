"""Adversarial directions and the minimal-scale search (the paper's section 4).

``generate(model, images, labels, methods=[...], factors=[...])`` returns the images and
a table, one row per image, for any classifier returning logits (uint8 images, or floats
with ``input_range=(0, 1)``); ``summarize(table)`` gives success rates and medians per
method. ``feature_direction`` is the paper's B_l operator for any named layer.

The names are loaded on first use (PEP 562), so :mod:`hardpos.attacks.methods` and
:mod:`hardpos.attacks.options` import without torch.
"""

from __future__ import annotations

from hardpos.lazy_exports import lazy_exports

_EXPORTS = {
    "COLUMNS": "hardpos.attacks.results",
    "AttackResult": "hardpos.attacks.results",
    "generate": "hardpos.attacks.generation",
    "generate_to_files": "hardpos.attacks.generation",
    "iter_generate": "hardpos.attacks.generation",
    "summarize": "hardpos.attacks.results",
    "compute_directions": "hardpos.attacks.directions",
    "feature_direction": "hardpos.attacks.directions",
    "Direction": "hardpos.attacks.methods",
    "FAMILIES": "hardpos.attacks.methods",
    "parse_methods": "hardpos.attacks.methods",
    "AttackOptions": "hardpos.attacks.options",
    "DEFAULTS": "hardpos.attacks.options",
    "SearchOptions": "hardpos.attacks.options",
    "grid_neighbours": "hardpos.attacks.search",
    "minimal_scales": "hardpos.attacks.search",
    "perturb": "hardpos.attacks.search",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
