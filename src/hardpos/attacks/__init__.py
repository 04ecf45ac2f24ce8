"""Adversarial directions and the minimal-scale search (the paper's section 4).

``generate(model, images, labels, methods=[...], factors=[...])`` returns uint8 images and
a table, one row per image; ``summarize(table)`` gives success rates and medians per
method. ``feature_direction`` is the paper's B_l operator for any named layer.
"""

from hardpos.attacks.directions import compute_directions, feature_direction
from hardpos.attacks.generation import (
    COLUMNS,
    generate,
    generate_to_files,
    iter_generate,
    summarize,
)
from hardpos.attacks.methods import Direction, parse_methods
from hardpos.attacks.search import SearchOptions, grid_neighbours, minimal_scales, perturb

__all__ = [
    "COLUMNS",
    "Direction",
    "SearchOptions",
    "compute_directions",
    "feature_direction",
    "generate",
    "generate_to_files",
    "grid_neighbours",
    "iter_generate",
    "minimal_scales",
    "parse_methods",
    "perturb",
    "summarize",
]
