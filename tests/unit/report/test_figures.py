"""hardpos.report.figures: the data behind Figures 4 to 6, the gallery, and the figures'
files, keys, legends and bars."""

from __future__ import annotations

import json
import math

import matplotlib.figure
import numpy as np
import pandas as pd
import pytest

from hardpos.errors import DataError
from hardpos.report import figures
from hardpos.report.table1 import load_evaluations


def test_figure6_bars_are_one_sample_standard_deviation():
    low, high = figures.mean_pm_sample_std(pd.Series([1.0, 2.0, 4.0]))
    mean, std = 7 / 3, math.sqrt(((1 - 7 / 3) ** 2 + (2 - 7 / 3) ** 2 + (4 - 7 / 3) ** 2) / 2)
    assert math.isclose(low, mean - std) and math.isclose(high, mean + std)
    assert not math.isclose(high - mean, float(np.std([1.0, 2.0, 4.0])))  # not ddof 0
    assert figures.mean_pm_sample_std(pd.Series([0.8])) == (0.8, 0.8)  # one net: no bar


def _typed_rows() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    types = ["FGS", "FGV", "HC-1", "HC-2", "HC-1x1.05", "HC-S-1"]
    return pd.DataFrame(
        {
            "type": np.repeat(types, 20),
            "pass": rng.uniform(0.95, 1.0, 120),  # bars near the top, where a legend sat
            "l2_per_pixel": rng.uniform(0.5, 1.0, 120),
            "linf": rng.uniform(50, 200, 120),
        }
    )


def test_figure5_legend_is_beside_the_bars_and_the_x_axis_is_named():
    figure = figures.figure5_figure(_typed_rows())
    (axes,) = figure.axes
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    legend = axes.get_legend().get_window_extent(renderer)
    assert legend.x0 >= axes.get_window_extent(renderer).x1  # right of the axes
    assert "adversarial type" in axes.get_xlabel()
    figures.plt.close(figure)


def test_figure2_has_a_key_for_the_tuple_and_no_empty_cell():
    original = np.zeros((28, 28))
    adversarials = [np.full((28, 28), 10.0), np.full((28, 28), 20.0)]
    rows = [pd.Series({"adv_label": 3, "pass": 0.9, "l2_per_pixel": 0.5, "linf": 10.0})] * 2
    figure = figures.figure2_figure(
        original=original, label=7, adversarials=adversarials, rows=rows, types=["FGS", "FGV"]
    )
    under_original = figure.axes[3]  # row 2, column 1 of the 2 x 3 grid
    texts = " ".join(t.get_text() for t in under_original.texts)
    assert "PASS x 1000" in texts and "L2 norm per pixel" in texts and "L-inf" in texts
    for ax in figure.axes:  # every cell shows an image or the key
        assert ax.images or ax.texts
    assert figure.axes[4].get_xlabel() == "(900, 0.50, 10)"
    figures.plt.close(figure)


@pytest.fixture
def drawn(monkeypatch):
    """The figures saved during the test, in order."""
    saved: list[matplotlib.figure.Figure] = []
    real = matplotlib.figure.Figure.savefig

    def keep(self, *args, **kwargs):
        if self not in saved:
            saved.append(self)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", keep)
    return saved


def _scored() -> pd.DataFrame:
    """Rows of three types and a failure; PASS, L2 and L-inf chosen per row."""
    rng = np.random.default_rng(3)
    rows = []
    for method, k, factor, n in (("fgs", 0, 1.0, 12), ("hc-d", 1, 1.0, 9), ("hc-d", 1, 1.05, 5)):
        for _ in range(n):
            rows.append(dict(method=method, k=k, factor=factor, success=True,
                             pass_=rng.uniform(0.55, 1.0), l2_per_pixel=rng.uniform(0.1, 2),
                             linf=rng.uniform(5, 90), label=1, adv_label=2))  # fmt: skip
    rows.append(dict(method="fgs", k=0, factor=1.0, success=False, pass_=0.1,
                     l2_per_pixel=50.0, linf=255.0, label=1, adv_label=1))  # fmt: skip
    rows.append(dict(method="hc-d", k=2, factor=1.0, success=True, pass_=0.2,
                     l2_per_pixel=50.0, linf=255.0, label=1, adv_label=2))  # fmt: skip
    return pd.DataFrame(rows).rename(columns={"pass_": "pass"})


TYPES = ["FGS", "HC-1", "HC-1x1.05"]


def _by_type(table: pd.DataFrame) -> dict[str, pd.DataFrame]:
    ok = table[table["success"]]
    names = {("fgs", 1.0): "FGS", ("hc-d", 1.0): "HC-1", ("hc-d", 1.05): "HC-1x1.05"}
    out = {}
    for (method, k, factor), group in ok.groupby(["method", "k", "factor"]):
        if (method, factor) in names and k in (0, 1):
            out[names[(method, factor)]] = group
    return out


def test_figure4_histograms_count_each_types_successful_pass_scores(drawn, tmp_path):
    """Catches: failures or other types counted, PASS not scaled by 1000, the bins shifted."""
    table = _scored()
    figures.figure4([table.iloc[:15], table.iloc[15:]], str(tmp_path / "4.png"),
                    str(tmp_path / "4.pdf"), types=TYPES)  # fmt: skip
    (figure,) = drawn
    groups = _by_type(table)
    values = np.concatenate([g["pass"].to_numpy() for g in groups.values()]) * 1000
    bins = np.linspace(values.min(), 1000, 31)
    axes = {ax.get_title(): ax for ax in figure.axes if ax.get_title()}
    assert sorted(axes) == sorted(TYPES)
    for name, group in groups.items():
        expected, _ = np.histogram(group["pass"].to_numpy() * 1000, bins)
        heights = np.array([patch.get_height() for patch in axes[name].patches])
        lefts = np.array([patch.get_x() for patch in axes[name].patches])
        np.testing.assert_allclose(heights, expected, err_msg=name)
        np.testing.assert_allclose(lefts, bins[:-1], err_msg=name)


def test_figure5_bars_are_mean_pass_and_scaled_mean_l2_and_linf_per_type(drawn, tmp_path):
    """Catches: medians for means, L2 or L-inf not divided by their largest type mean,
    bars in another order than their labels."""
    table = _scored()
    figures.figure5([table], str(tmp_path / "5.png"), str(tmp_path / "5.pdf"), types=TYPES)
    (figure,) = drawn
    (ax,) = figure.axes
    groups = _by_type(table)
    order = [label.get_text() for label in ax.get_xticklabels()]
    assert sorted(order) == sorted(TYPES)
    l2 = {n: g["l2_per_pixel"].mean() for n, g in groups.items()}
    linf = {n: g["linf"].mean() for n, g in groups.items()}
    expected = [
        [groups[n]["pass"].mean() for n in order],
        [l2[n] / max(l2.values()) for n in order],
        [linf[n] / max(linf.values()) for n in order],
    ]
    assert len(ax.containers) == 3
    for container, want in zip(ax.containers, expected, strict=True):
        np.testing.assert_allclose([bar.get_height() for bar in container], want, rtol=1e-12)


def test_figure6_points_are_mean_errors_per_pass_range_with_sample_std_bars(drawn, tmp_path):
    """Catches: ranges mislabelled or out of order, MNIST and held-out swapped, errors not
    in percent, population instead of sample std."""

    paths = []
    errors = {"PASS-0.60-0.80": ([0.010, 0.014, 0.012], [0.50, 0.56, 0.53]),
              "PASS-0.80-1.00": ([0.009, 0.011, 0.016], [0.40, 0.47, 0.42])}  # fmt: skip
    for recipe, (mnist, heldout) in errors.items():
        for net, (m, h) in enumerate(zip(mnist, heldout, strict=True), start=1):
            path = tmp_path / f"{recipe}-{net}.json"
            path.write_text(json.dumps({
                "recipe": recipe, "net": net,
                "mnist_test": {"error": m, "n": 1000, "wrong": round(m * 1000)},
                "heldout": {"error": h, "n": 100, "wrong": round(h * 100)},
            }))  # fmt: skip
            paths.append(path)
    buckets = {"PASS-0.60-0.80": (0.6, 0.8), "PASS-0.80-1.00": (0.8, 1.0)}
    figures.figure6(load_evaluations(paths), buckets, str(tmp_path / "6.png"),
                    str(tmp_path / "6.pdf"))  # fmt: skip
    (figure,) = drawn
    mnist_ax, heldout_ax = figure.axes
    for ax, column in ((mnist_ax, 0), (heldout_ax, 1)):
        assert [t.get_text() for t in ax.get_xticklabels()] == ["600-800", "800-1000"]
        values = [100 * np.array(errors[name][column]) for name in buckets]
        means = [v.mean() for v in values]
        points = [line for line in ax.lines if len(line.get_ydata()) == 2
                  and np.allclose(line.get_xdata(), [0, 1])]  # fmt: skip
        assert points, "no line through the two ranges"
        np.testing.assert_allclose(points[0].get_ydata(), means, rtol=1e-12)
        bars = sorted(
            (tuple(line.get_ydata()) for line in ax.lines
             if len(line.get_xdata()) == 2 and line.get_xdata()[0] == line.get_xdata()[1]),
        )  # fmt: skip
        expected = sorted((m - v.std(ddof=1), m + v.std(ddof=1)) for m, v in
                          zip(means, values, strict=True))  # fmt: skip
        np.testing.assert_allclose(bars, expected, rtol=1e-12)


def _generated(n_sources: int = 3) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """A generated table: FGS for every source, HC-1 only for sources 1 and 2."""
    rows, images = [], []
    originals = np.zeros((n_sources, 28, 28), np.uint8)
    for source in range(n_sources):
        for method, k in (("fgs", 0), ("hc-d", 1)):
            if method == "hc-d" and source == 0:
                continue
            rows.append(
                dict(source=source, label=source, method=method, k=k, factor=1.0,
                     success=True, adv_label=9, pass_=0.9, l2_per_pixel=0.5, linf=30.0)
            )  # fmt: skip
            images.append(np.full((1, 28, 28), 10 * len(rows), np.uint8))
    table = pd.DataFrame(rows).rename(columns={"pass_": "pass"})
    return table, np.stack(images), originals


def test_gallery_picks_the_first_image_with_every_type():
    table, images, originals = _generated()
    chosen = figures.pick_gallery(table, images, originals, types=["FGS", "HC-1"])
    assert chosen["label"] == 1  # source 0 has no HC-1
    assert [a[0, 0] for a in chosen["adversarials"]] == [20.0, 30.0]


def test_gallery_without_a_complete_image_says_which_types(tmp_path):
    table, images, originals = _generated()
    with pytest.raises(DataError, match="HC-2"):
        figures.pick_gallery(table, images, originals, types=["FGS", "HC-2"])


def test_figures_are_written_as_png_and_pdf(tmp_path):
    table, images, originals = _generated()
    outputs = []
    for name, draw in (("fig4", figures.figure4), ("fig5", figures.figure5)):
        png, pdf = tmp_path / f"{name}.png", tmp_path / f"{name}.pdf"
        draw([table], str(png), str(pdf), types=["FGS", "HC-1"])
        outputs += [png, pdf]
    chosen = figures.pick_gallery(table, images, originals, types=["FGS", "HC-1"])
    figures.figure2(**chosen, out_png=str(tmp_path / "f2.png"), out_pdf=str(tmp_path / "f2.pdf"))
    outputs += [tmp_path / "f2.png", tmp_path / "f2.pdf"]
    for path in outputs:
        magic = b"\x89PNG" if path.suffix == ".png" else b"%PDF"
        assert path.read_bytes()[:4] == magic, path.name
    assert not list(tmp_path.glob("*.tmp"))


def test_figures_of_types_never_generated_say_so(tmp_path):
    table, _, _ = _generated()
    with pytest.raises(DataError, match="HC-5"):
        figures.figure5([table], str(tmp_path / "a.png"), str(tmp_path / "a.pdf"), types=["HC-5"])
