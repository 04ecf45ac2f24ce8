"""A figure saved twice gives the same bytes: the PDF carries no creation date."""

from __future__ import annotations

import time

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from hardpos.files.figure_files import save_figure  # noqa: E402


def test_the_same_figure_saved_twice_is_the_same_file(tmp_path):
    figure, ax = plt.subplots()
    ax.plot([0, 1, 2], [2, 0, 1])
    for suffix in ("pdf", "png"):
        first, second = tmp_path / f"a.{suffix}", tmp_path / f"b.{suffix}"
        save_figure(figure, first, dpi=50)
        time.sleep(1.1)  # a creation date would change by now (it has seconds)
        save_figure(figure, second, dpi=50)
        assert first.read_bytes() == second.read_bytes(), suffix
    assert b"CreationDate" not in (tmp_path / "a.pdf").read_bytes()
    plt.close(figure)
