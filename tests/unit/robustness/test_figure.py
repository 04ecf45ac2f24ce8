"""hardpos.robustness.figure: the robust accuracy figure, one line and colour per recipe."""

from __future__ import annotations

import numpy as np


def test_the_robust_accuracy_figure_gives_every_recipe_its_own_line():
    from hardpos.robustness.figure import line_styles

    styles = line_styles(30)  # the paper config has 17 recipes and baselines
    assert len(set(styles)) == 30


def test_the_robust_accuracy_figure_gives_twenty_recipes_twenty_distinct_colours():
    """basic (the first) and InfiMNIST-style (the eleventh) once shared tab10's blue."""
    from skimage.color import rgb2lab

    from hardpos.robustness.figure import line_styles

    lab = rgb2lab(np.array([[colour for colour, _, _ in line_styles(20)]]))[0]
    apart = np.linalg.norm(lab[:, None] - lab[None], axis=-1) + np.eye(20) * 1e9
    assert apart.min() > 25  # CIELAB units; tab10's own closest pair is about 28 apart
