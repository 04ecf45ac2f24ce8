"""hardpos.attacks.generation (``generate``): the minimal-scale search on the discrete grid,
hard positives, the table, bad inputs named, and any user's model (a CIFAR-shaped CNN on
float input in [0, 1] whose ``forward`` returns logits, with normalisation inside)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from small_cnn import MEAN, STD, SmallCNN, stripes, trained
from torch import nn

import hardpos
from hardpos.attacks import (
    COLUMNS,
    compute_directions,
    generate,
    grid_neighbours,
    parse_methods,
    perturb,
    summarize,
)
from hardpos.errors import InputError
from hardpos.mnist.lenet import LeNet
from hardpos.similarity import filter_by_tau, pass_score

from ..conftest import own_labels


class Linear(nn.Module):
    """logits = W x + b on the flattened pixel values (float64)."""

    def __init__(self, weight, bias) -> None:
        super().__init__()
        self.ip = nn.Linear(len(weight[0]), len(weight), dtype=torch.float64)
        with torch.no_grad():
            self.ip.weight.copy_(torch.as_tensor(np.asarray(weight, dtype=np.float64)))
            self.ip.bias.copy_(torch.as_tensor(np.asarray(bias, dtype=np.float64)))

    def logits(self, x):
        return self.ip(x.to(torch.float64).flatten(1))


class TinyColour(nn.Module):
    """A 3-channel convnet with a ``logits`` method, nothing MNIST about it."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(3, 6, 3)
        self.fc = nn.Linear(6 * 6 * 6, 4)

    def logits(self, x):
        return self.fc(torch.relu(self.conv(x.float() / 255.0)).flatten(1))


# the 2-class linear model of the closed-form tests: h_0 = 137.3, h_1 = v . x with
# v = (1, -2, 0.5, 1.5); at x = 100 everywhere the margin h_0 - h_1 is M0 = 37.3
V = np.array([1.0, -2.0, 0.5, 1.5])

M0 = 37.3


def linear_two_class() -> Linear:
    return Linear([np.zeros(4), V], [137.3, 0.0])


def flat_image(value: int = 100) -> np.ndarray:
    return np.full((1, 1, 2, 2), value, dtype=np.uint8)


def brute_force_minimum(model, x: np.ndarray, d: np.ndarray, label: int) -> float:
    """Walk every breakpoint (m - 1/2) / |d_p| in order; the first misclassified image."""
    x = x.reshape(-1).astype(np.float64)
    d = d.reshape(-1) / np.abs(d).max()
    points = []
    for p in np.flatnonzero(d):
        room = 255 - x[p] if d[p] > 0 else x[p]
        points += [(m - 0.5) / abs(d[p]) for m in range(1, int(room) + 1)]
    for s in sorted(set(points)):
        image = np.clip(x + np.sign(d) * np.floor(s * np.abs(d) + 0.5 + 1e-9), 0, 255)
        with torch.no_grad():
            logits = model.logits(torch.as_tensor(image).view(1, -1))
        if int(logits.argmax()) != label:
            return s
    return float("nan")


def image_at(x: np.ndarray, d: np.ndarray, s: float) -> np.ndarray:
    """x~(s) written out independently: clip(x + sign(d) round_half_up(s |d|))."""
    d = d / np.abs(d).max()
    out = x.astype(np.float64) + np.sign(d) * np.floor(s * np.abs(d) + 0.5)
    return np.clip(out, 0, 255).astype(np.uint8)


def breakpoints(x: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Every scale where some pixel of x~(s) moves one more grey level, (m - 1/2) / |d_p|
    for m = 1 .. the pixel's room before 0 or 255, sorted (numpy, written out here)."""
    x = x.reshape(-1).astype(np.float64)
    a = np.abs(d.reshape(-1) / np.abs(d).max())
    room = np.where(d.reshape(-1) > 0, 255 - x, np.where(d.reshape(-1) < 0, x, 0))
    m = np.arange(1, 256, dtype=np.float64)
    with np.errstate(divide="ignore"):
        points = (m[None, :] - 0.5) / a[:, None]
    return np.unique(points[m[None, :] <= room[:, None]])


def assert_minimal_on_the_grid(model, x, d, s_min, label, adv) -> None:
    """s_min is one of the breakpoints, x~(s_min) is ``adv`` and misclassified, and the
    image just before it (between the previous breakpoint and s_min) is classified
    ``label``: the previous breakpoint found by the numpy list, not by the library."""
    points = breakpoints(x, d)
    at = np.flatnonzero(np.isclose(points, s_min, rtol=1e-12, atol=0))
    assert len(at) == 1, f"s_min {s_min} is not a breakpoint"
    previous = points[at[0] - 1] if at[0] > 0 else 0.0
    np.testing.assert_array_equal(image_at(x, d, s_min + 1e-9 * s_min), adv)
    before = image_at(x, d, (previous + s_min) / 2)
    assert (before != adv).any()
    with torch.no_grad():
        out = model.logits(torch.as_tensor(np.stack([before, adv])).to(torch.float64))
    assert int(out[0].argmax()) == label, "one breakpoint less is already adversarial"
    assert int(out[1].argmax()) != label


# -- the minimal scale on linear models -----------------------------------------------------


def test_fgs_scale_is_minimal_on_linear_model():
    # FGS moves every pixel by m grey levels at s in [m - 1/2, m + 1/2), lowering the margin
    # by m * ||v||_1 = 5 m: the first adversarial m is floor(M0 / 5) + 1 = 8, s_min = 7.5
    m_star = int(np.floor(M0 / np.abs(V).sum())) + 1
    adv, table = generate(linear_two_class(), flat_image(), [0], methods=["fgs"])
    row = table.iloc[0]
    assert m_star == 8
    assert row["success"] and row["s_min"] == m_star - 0.5 and row["step"] == 7.5
    assert row["linf"] == m_star and row["adv_label"] == 1
    np.testing.assert_array_equal(adv[0].ravel(), 100 + m_star * np.sign(V))


def test_fgv_minimal_scale_sits_on_the_rounding_grid():
    # d = v / 2 = (0.5, -1, 0.25, 0.75). Continuously the margin reaches 0 at
    # s = M0 / sum(|v_p| |d_p|) = 37.3 / 3.75 = 9.947, but images are discrete: at s = 9.5
    # the levels are (round(4.75), round(9.5), round(2.375), round(7.125)) = (5, 10, 2, 7),
    # margin 37.3 - (5 + 20 + 1 + 10.5) = 0.8 > 0; the next breakpoints are pixel 2 at
    # 2.5 / 0.25 = 10 and pixel 3 at 7.5 / 0.75 = 10 (pixel 1: 10.5, pixel 0: 11), where the
    # margin falls to 37.3 - (5 + 20 + 1.5 + 12) = -1.2. So s_min = 10.0, one grid step
    # after 9.5, and the image is 100 + (5, -10, 3, 8).
    model = linear_two_class()
    adv, table = generate(model, flat_image(), [0], methods=["fgv"])
    row = table.iloc[0]
    assert round(M0 / 3.75, 3) == 9.947
    assert row["s_min"] == 10.0
    np.testing.assert_array_equal(adv[0].ravel(), [105, 90, 103, 108])
    below, _ = grid_neighbours(flat_image(), V.reshape(1, 1, 2, 2), [10.0])
    assert below[0] == 9.5
    np.testing.assert_array_equal(
        perturb(flat_image(), V.reshape(1, 1, 2, 2), [9.5]).ravel(), [105, 90, 102, 107]
    )
    assert row["s_min"] == brute_force_minimum(model, flat_image(), V, 0)


@pytest.mark.parametrize("method", ["fgs", "fgv"])
def test_search_matches_brute_force_on_random_two_class_models(method):
    # two classes and d along +-(w_1 - w_0): every grid step lowers the margin, so the
    # first crossing is unique and the search must find the exact brute-force minimum,
    # clipping at 0 and 255 included
    rng = np.random.default_rng(7)
    found = 0
    for trial in range(6):
        v = rng.normal(size=9) * (rng.random(9) > 0.2)
        x = rng.choice([0, 3, 128, 250, 255], size=(1, 1, 3, 3)).astype(np.uint8)
        margin = rng.uniform(5, 300)
        model = Linear([np.zeros(9), v], [v @ x.ravel() + margin, 0.0])
        _, table = generate(model, x, [0], methods=[method])
        d = np.sign(v) if method == "fgs" else v
        expected = brute_force_minimum(model, x, d, 0)
        row = table.iloc[0]
        if np.isnan(expected) or expected > 255:
            assert not row["success"], trial
        else:
            assert row["success"] and row["s_min"] == pytest.approx(expected, rel=1e-12), trial
            found += 1
    assert found >= 3


# -- the search on a real network ----------------------------------------------------------


def test_every_adversarial_is_misclassified_and_one_breakpoint_less_is_not(lenet64, digits):
    """Catches: a search that stops one or more breakpoints past the minimum, an s_min off
    the grid, a returned image that is not x~(s_min). The previous breakpoint comes from
    the numpy list of all breakpoints, not from the library's grid."""
    images, labels = digits
    methods = ["fgs", "fgv", "hc-d-3", "hc-s-k2"]
    adv, table = generate(lenet64, images, labels, methods=methods)
    directions = parse_methods(methods)
    assert len(table) == len(images) * len(directions) and adv.dtype == np.uint8
    assert table["success"].all()
    got = compute_directions(
        lenet64, torch.as_tensor(images), torch.as_tensor(labels), directions
    ).d.numpy()
    with torch.no_grad():
        predicted = lenet64.logits(torch.as_tensor(adv, dtype=torch.float64)).argmax(1).numpy()
    np.testing.assert_array_equal(predicted, table["adv_label"])
    assert (predicted != table["label"]).all()
    for r, row in enumerate(table.itertuples()):
        x, d = images[row.source], got[row.source, r % len(directions)]
        assert_minimal_on_the_grid(lenet64, x, d, row.s_min, row.label, adv[r])
        assert row.linf == np.abs(adv[r].astype(int) - x).max()


def test_hard_positives_are_at_factor_times_the_brute_force_minimum_of_their_own_pair():
    """Catches: factor rows scaled from another pair's s_min (or their own re-searched
    one), a factor applied twice or not at all, ``success`` not re-evaluated. Linear
    two-class models, where the direction is +-v and the minimum is the brute force over
    the breakpoint list; three sources with different minima in one call. Factor 0.5 lies
    below the minimum: its image is classified 0 again, which only a fresh evaluation sees."""
    v = np.array([1.0, -2.0, 0.5, 1.5, -0.25, 3.0])
    x = np.array([[100, 90, 20, 200, 5, 60], [10, 250, 128, 0, 77, 30],
                  [255, 3, 180, 40, 140, 200]], dtype=np.uint8).reshape(3, 1, 2, 3)  # fmt: skip
    margin = np.array([40.0, 95.0, 160.0])
    factors = [1.0, 0.5, 1.05, 1.5]
    for method, d in (("fgv", v), ("fgs", np.sign(v)), ("hc-d-1", v)):
        for i in range(3):  # one model per source: the margin at each source differs
            model = Linear([np.zeros(6), v], [v @ x[i].ravel() + margin[i], 0.0])
            batch = np.stack([x[i], x[(i + 1) % 3], x[(i + 2) % 3]])
            adv, table = generate(model, batch, own_labels(model, batch), methods=[method],
                                  factors=factors)  # fmt: skip
            rows = table[table["source"] == 0]
            s_min = brute_force_minimum(model, x[i], d, 0)
            assert rows["factor"].tolist() == factors, method
            assert (rows["s_min"] == s_min).all(), (method, i, rows["s_min"].tolist(), s_min)
            np.testing.assert_allclose(rows["step"], np.array(factors) * s_min, rtol=1e-15)
            for r, c in zip(rows.index, factors, strict=True):
                expected = image_at(x[i], d.reshape(x[i].shape), c * s_min * (1 + 1e-12))
                np.testing.assert_array_equal(adv[r], expected, err_msg=f"{method} x{c}")
                # h_1 - h_0 = v . (x~ - x) - margin
                adv_label = int(v @ (expected.ravel() - x[i].ravel().astype(float)) > margin[i])
                assert table.loc[r, "adv_label"] == adv_label
                assert table.loc[r, "success"] == (adv_label != 0) == (c >= 1)
                assert table.loc[r, "reason"] == ("" if c >= 1 else "not_misclassified")


def test_hard_positives_on_lenet_reuse_the_factor_one_scale_of_the_same_direction(lenet64, digits):
    """Catches: factor rows taken at their own (or a neighbouring pair's) s_min. Each
    factor row's s_min equals that of its (source, direction) factor-1 row, and its
    image is x~(c * that s_min), written out independently of the library."""
    images, labels = digits
    factors = [1.0, 1.05, 1.5]
    adv, table = generate(lenet64, images, labels, methods=["hc-d-2"], factors=factors)
    got = compute_directions(
        lenet64, torch.as_tensor(images), torch.as_tensor(labels), parse_methods("hc-d-2")
    ).d.numpy()
    assert table["factor"].tolist() == factors * (len(table) // 3)
    for (source, k), rows in table.groupby(["source", "k"]):
        base = rows[rows["factor"] == 1.0].iloc[0]
        assert (rows["s_min"] == base["s_min"]).all(), (source, k)
        d = got[source, k - 1]
        for r, row in rows.iterrows():
            # just past the scale: at a breakpoint itself floor(s |d| + 1/2) may round down
            scale = row["factor"] * base["s_min"] * (1 + 1e-12)
            expected = image_at(images[source], d, scale)
            np.testing.assert_array_equal(adv[r], expected, err_msg=f"{source} {k} {row.factor}")
    with torch.no_grad():
        predicted = lenet64.logits(torch.as_tensor(adv, dtype=torch.float64)).argmax(1).numpy()
    np.testing.assert_array_equal(table["adv_label"], predicted)
    np.testing.assert_array_equal(table["success"], predicted != table["label"])


def test_direction_that_never_fools_the_model_is_recorded_as_failure():
    # class 0 wins by 1e6 whatever the image: FGS saturates (every pixel at its bound),
    # FGV's small components would need s > max_scale, and a model whose logits ignore
    # the image has a zero gradient
    stubborn = Linear([np.zeros(4), [1.0, -0.01, 0.02, 0.0]], [1e6, 0.0])
    adv, table = generate(stubborn, flat_image(), [0], methods=["fgs", "fgv"], factors=[1, 1.1])
    assert list(table["reason"]) == ["saturated", "saturated", "max_scale", "max_scale"]
    assert not table["success"].any() and table["s_min"].isna().all()
    assert (table["adv_label"] == 0).all()
    np.testing.assert_array_equal(adv[0].ravel(), [255, 0, 255, 100])  # the last image tried
    assert table["step"].iloc[2] >= 255.0
    blind = Linear([np.zeros(4), np.zeros(4)], [1.0, 0.0])
    _, table = generate(blind, flat_image(), [0], methods=["fgv"])
    assert table["reason"].tolist() == ["zero_direction"] and not table["success"][0]
    summary = summarize(table)
    assert summary.loc[0, "failures"] == 1 and summary.loc[0, "failed_zero_direction"] == 1


def test_only_correctly_classified_sources_are_attacked(lenet64, digits):
    images, labels = digits
    wrong = labels.copy()
    wrong[[1, 4]] = (wrong[[1, 4]] + 1) % 10
    adv, table = generate(lenet64, images, wrong, methods=["fgs"])
    assert table["source"].tolist() == [0, 2, 3, 5, 6, 7]
    assert len(adv) == 6
    _, none = generate(lenet64, images[:2], (labels[:2] + 1) % 10, methods=["fgs"])
    assert len(none) == 0 and list(none.columns) == list(COLUMNS)


def test_results_do_not_depend_on_batch_sizes(lenet64, digits):
    images, labels = digits
    one = generate(lenet64, images, labels, methods=["fgv", "hc-d-2"])
    other = generate(
        lenet64, images, labels, methods=["fgv", "hc-d-2"], batch_size=5, forward_batch=3
    )
    np.testing.assert_array_equal(one[0], other[0])
    pd.testing.assert_frame_equal(one[1], other[1])


def test_colour_images_and_any_model_with_logits_get_minimal_adversarials():
    """Catches: a search that works on greyscale only (channels mixed up in the grid or
    the image) or is not minimal on colour; checked against the numpy breakpoint list."""
    model = TinyColour()
    images = np.random.default_rng(0).integers(0, 256, (5, 3, 8, 8), dtype=np.uint8)
    labels = own_labels(model, images)
    adv, table = generate(model, images, labels, methods=["fgv", "hc-s-2"], factors=[1, 1.1])
    assert adv.shape == (len(table), 3, 8, 8) and len(table) == 5 * 3 * 2
    ok = table["success"].to_numpy()
    with torch.no_grad():
        predicted = model.logits(torch.as_tensor(adv)).argmax(1).numpy()
    np.testing.assert_array_equal(predicted, table["adv_label"])
    assert (predicted[ok] != table["label"][ok]).all()
    got = compute_directions(
        model, torch.as_tensor(images), torch.as_tensor(labels), parse_methods("fgv,hc-s-2")
    ).d.numpy()
    minimal = table[(table["factor"] == 1.0) & table["success"]]
    assert len(minimal) >= 10  # of 15 directions
    for r, row in minimal.iterrows():
        j = 0 if row["method"] == "fgv" else row["k"]
        x, d = images[row["source"]], got[row["source"], j]
        assert_minimal_on_the_grid(model, x, d, row["s_min"], row["label"], adv[r])


def test_hot_class_ties_go_to_the_lower_class_id():
    """Catches: ties among the other classes' logits broken by the higher id (or not
    stably). At the flat image every non-label class scores 5 exactly."""
    w = [np.zeros(4), [1.0, -1.0, 0.0, 0.0], [0.0, 0.0, 1.0, -1.0], [1.0, 0.0, -1.0, 0.0]]
    model = Linear(w, [10.0, 5.0, 5.0, 5.0])
    with torch.no_grad():
        h = model.logits(torch.as_tensor(flat_image(), dtype=torch.float64))
    assert h.tolist() == [[10.0, 5.0, 5.0, 5.0]]
    _, table = generate(model, flat_image(), [0], methods=["hc-d-3"])
    assert table["hot"].tolist() == [1, 2, 3]
    w[0] = [0.0, 0.0, 0.0, 0.0]
    tied = Linear([w[2], w[3], w[0], w[1]], [5.0, 5.0, 10.0, 5.0])  # label 2
    _, table = generate(tied, flat_image(), [2], methods=["hc-d-3", "hc-s-k1"])
    assert table["hot"].tolist() == [0, 1, 3, 0]


# -- the table ----------------------------------------------------------------------------


def test_table_columns_dtypes_and_order(lenet64, digits):
    images, labels = digits
    _, table = generate(lenet64, images[:3], labels[:3], methods="hc-s-2,fgs", factors=[1, 1.1])
    assert list(table.columns) == list(COLUMNS)
    assert {c: str(t) for c, t in table.dtypes.items()} == {
        c: ("object" if t == "object" else t) for c, t in COLUMNS.items()
    }
    assert table["method"].tolist()[:6] == ["hc-s", "hc-s", "hc-s", "hc-s", "fgs", "fgs"]
    assert table["k"].tolist()[:6] == [1, 1, 2, 2, 0, 0]
    assert table["source"].tolist() == [0] * 6 + [1] * 6 + [2] * 6
    assert (table.loc[table["method"] == "fgs", "hot"] == -1).all()
    assert (table["hot_reached"] == (table["adv_label"] == table["hot"])).all()


def test_l2_per_pixel_matches_the_pass_module(lenet64, digits):
    from hardpos.similarity import l2_per_pixel, linf

    images, labels = digits
    adv, table = generate(lenet64, images[:2], labels[:2], methods=["fgv"])
    for r, row in enumerate(table.itertuples()):
        assert row.l2_per_pixel == pytest.approx(l2_per_pixel(adv[r], images[row.source]))
        assert row.linf == linf(adv[r], images[row.source])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"methods": ["fgsm"]}, "'fgsm'"),
        ({"methods": ["hc-d-10"]}, "HC-D-10 asks for hot rank 10"),
        ({"methods": ["hc-d-0"]}, "'hc-d-0'"),
        ({"factors": [1.0, -1.0]}, "factor -1.0"),
        ({"factors": []}, "factors is empty"),
        ({"batch_size": 0}, 'batch_size must be a positive integer or "auto"; got 0'),
        ({"max_scale": float("nan")}, "max_scale"),
    ],
)
def test_bad_arguments_raise_input_error_naming_the_value(lenet64, digits, kwargs, message):
    images, labels = digits
    with pytest.raises(InputError, match=message):
        generate(lenet64, images[:2], labels[:2], **{"methods": ["fgs"], **kwargs})


def test_bad_images_and_labels_raise_input_error(lenet64, digits):
    images, labels = digits
    with pytest.raises(InputError, match="uint8 pixel values.*or floats.*got int32"):
        generate(lenet64, images.astype(np.int32), labels)
    with pytest.raises(InputError, match=r"but input_range is \[0, 255\]"):
        generate(lenet64, images.astype(np.float32) * 2, labels)
    with pytest.raises(InputError, match=r"\(28, 28\)"):
        generate(lenet64, images[0, 0], labels)
    with pytest.raises(InputError, match="8 images but labels of shape \\(3,\\)"):
        generate(lenet64, images, labels[:3])
    with pytest.raises(InputError, match="label 10 outside 0..9"):
        generate(lenet64, images[:1], [10])


def test_float_pixel_values_give_the_results_of_uint8(lenet64, digits):
    images, labels = digits
    as_uint8 = generate(lenet64, images[:3], labels[:3], methods="fgs,hc-d-2")
    as_float = generate(lenet64, images[:3].astype(np.float64), labels[:3], methods="fgs,hc-d-2")
    assert as_float.images.dtype == np.float64
    np.testing.assert_array_equal(as_float.images, as_uint8.images.astype(np.float64))
    pd.testing.assert_frame_equal(as_float.table, as_uint8.table)


def test_generate_works_inside_inference_mode(lenet64, digits):
    images, labels = digits
    with torch.inference_mode():
        _, table = generate(lenet64, images[:2], labels[:2], methods=["fgs"])
    assert table["success"].all()


class NanGradient(nn.Module):
    """Class 0 wins; the gradient of class 1 is 0 * inf = NaN at a black pixel."""

    def logits(self, x):
        x = x.to(torch.float64).flatten(1)
        return torch.stack([torch.full((len(x),), 5.0), torch.sqrt(x[:, 0]) * 0.0], dim=1)


def test_non_finite_gradient_ends_as_a_zero_direction():
    _, table = generate(NanGradient(), flat_image(0), [0], methods=["fgv", "fgs"])
    assert table["reason"].tolist() == ["zero_direction", "zero_direction"]


UNIT = (0.0, 1.0)


@pytest.fixture(scope="module")
def net() -> SmallCNN:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small convolutions: one thread is the fastest on a busy CPU
    try:
        return trained(steps=60)
    finally:
        torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def images() -> tuple[np.ndarray, np.ndarray]:
    return stripes(40, seed=7)


def predict(net, x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return net(torch.as_tensor(x)).argmax(1).numpy()


def sign_direction(net, x: np.ndarray, label: int) -> np.ndarray:
    """sign of d/dx of the cross-entropy, as logsumexp_{j != y} h_j - h_y (the same
    direction: the loss gradient is (1 - p_y) times it, and it does not vanish in float32
    where p_y rounds to 1)."""
    x = torch.as_tensor(x[None]).clone().requires_grad_(True)
    h = net(x)[0]
    others = torch.cat([h[:label], h[label + 1 :]])
    (grad,) = torch.autograd.grad(torch.logsumexp(others, 0) - h[label], x)
    return torch.sign(grad[0]).numpy()


def exhaustive_minimum(net, x: np.ndarray, label: int) -> int | None:
    """The smallest m in 1..255 for which clip(x + m/255 sign(g)) is misclassified."""
    levels = np.round(x * 255).astype(np.float64)
    sign = sign_direction(net, x, label)
    steps = np.arange(1, 256, dtype=np.float64)[:, None, None, None]
    candidates = (np.clip(levels + steps * sign, 0, 255) / 255).astype(np.float32)
    wrong = np.flatnonzero(predict(net, candidates) != label)
    return int(wrong[0]) + 1 if len(wrong) else None


def test_fgs_on_a_unit_range_model_is_misclassified_on_the_grid_and_minimal(net, images):
    x, y = images
    correct = np.flatnonzero(predict(net, x) == y)
    assert len(correct) >= 30
    result = generate(net, x, y, methods="fgs", input_range=UNIT)
    adv, table = result
    assert adv.dtype == np.float32 and adv.shape == (len(table), 3, 32, 32)
    assert adv.min() >= 0 and adv.max() <= 1
    np.testing.assert_allclose(adv * 255, np.round(adv * 255), atol=1e-4)  # the 1/255 grid
    assert sorted(table["source"]) == sorted(correct)  # every correct source has its row
    assert result.summary["misclassified"] == len(x) - len(correct)
    ok = table["success"].to_numpy()
    assert ok.mean() >= 0.95
    sources = table["source"].to_numpy()
    assert (predict(net, adv[ok]) != y[sources[ok]]).all()
    # L-infinity of the returned images, in grey levels, is the table's
    measured = np.abs(adv - x[sources]).reshape(len(adv), -1).max(axis=1) * 255
    np.testing.assert_allclose(measured, table["linf"], atol=1e-3)
    exhaustive = np.array(
        [exhaustive_minimum(net, x[s], int(y[s])) or np.nan for s in sources], dtype=np.float64
    )
    agree = np.isclose(table["linf"].where(table["success"]), exhaustive)
    assert agree.mean() >= 0.95, (table["linf"].to_numpy(), exhaustive)


def test_misclassified_sources_are_counted_and_every_other_source_has_rows(net, images):
    x, y = images[0][:12], images[1][:12].copy()
    flipped = [2, 5, 9]
    y[flipped] = (y[flipped] + 1) % 4
    wrong = np.flatnonzero(predict(net, x) != y)
    assert set(flipped) <= set(wrong)
    result = generate(net, x, y, methods="fgs,hc-d-3", factors=[1.0, 1.05], input_range=UNIT)
    table = result.table
    assert result.summary["misclassified"] == len(wrong)
    np.testing.assert_array_equal(result.misclassified, wrong)
    assert result.summary["attacked"] == 12 - len(wrong) == table["source"].nunique()
    counts = table.groupby("source").size()
    assert (counts == 4 * 2).all()  # FGS + HC-D-1..3, two factors each
    assert set(counts.index).isdisjoint(wrong)
    failed = table[~table["success"]]
    assert (failed["reason"] != "").all()  # a failed row says why


def test_uint8_images_and_normalisation_outside_give_the_same_images(net, images):
    x, y = images[0][:10], images[1][:10]
    methods = "fgs,fgv,hc-d-3"
    floats = generate(net, x, y, methods=methods, input_range=UNIT)
    pixels = np.round(x * 255).astype(np.uint8)
    uint8 = generate(net, pixels, y, methods=methods, input_range=UNIT)
    assert uint8.images.dtype == np.uint8
    np.testing.assert_array_equal(uint8.images, np.round(floats.images * 255).astype(np.uint8))
    pd.testing.assert_frame_equal(uint8.table, floats.table)
    # the same weights without the normalisation inside, given it as mean and std instead
    bare = SmallCNN(normalise=False)
    bare.load_state_dict(net.state_dict())
    outside = generate(bare.eval(), x, y, methods=methods, input_range=UNIT, mean=MEAN, std=STD)
    np.testing.assert_array_equal(outside.images, floats.images)
    pd.testing.assert_frame_equal(outside.table, floats.table)
    # a plain function (no parameters, no eval mode) works the same
    call = generate(lambda batch: net(batch), x, y, methods=methods, input_range=UNIT)
    np.testing.assert_array_equal(call.images, floats.images)


def test_worked_example_pass_on_colour_and_the_eq5_filter(net, images):
    """The README's example: FGS, FGV and HC-D-3 on the [0, 1] model, PASS with
    data_range=1.0 on the colour images, the hard positives with PASS >= 0.9."""
    x, y = images[0][:6], images[1][:6]
    adv, table = generate(net, x, y, methods="fgs,fgv,hc-d-3", input_range=UNIT)
    originals = x[table["source"]]
    scored = table.assign(pass_=pass_score(adv, originals, data_range=1.0).scores)
    scored = scored.rename(columns={"pass_": "pass"})
    on_pixels = pass_score(np.round(adv * 255), np.round(originals * 255)).scores
    np.testing.assert_allclose(scored["pass"], on_pixels, atol=1e-6)
    kept = filter_by_tau(scored, 0.9)
    assert kept["success"].all() and (kept["pass"] >= 0.9).all()
    assert set(kept.index) == set(scored.index[scored["success"] & (scored["pass"] >= 0.9)])


class WrongShape(torch.nn.Module):
    def forward(self, x):
        return x.flatten(1)[:, :4, None]


def test_a_model_returning_the_wrong_shape_gets_an_input_error_naming_it(images):
    x, y = images[0][:3], images[1][:3]
    with pytest.raises(InputError, match=r"shape \(3, 4, 1\)"):
        generate(WrongShape(), x, y, methods="fgs", input_range=UNIT)


def test_float_images_outside_the_range_or_off_the_grid(net, images):
    x, y = images[0][:2], images[1][:2]
    with pytest.raises(InputError, match=r"input_range is \[0, 255\]"):
        generate(net, x * 300, y, methods="fgs")
    with pytest.raises(InputError, match=r"but input_range is \[0, 1\]"):
        generate(net, np.round(x * 255), y, methods="fgs", input_range=UNIT)
    with pytest.warns(UserWarning, match="not on the 1/255 grid"):
        off = generate(net, x + np.float32(0.4 / 255), y, methods="fgs", input_range=UNIT)
    on = generate(net, x, y, methods="fgs", input_range=UNIT)
    np.testing.assert_array_equal(off.images, on.images)  # rounded onto the grid first


def test_progress_bar_only_when_asked_or_on_a_terminal(net, images, capsys):
    x, y = images[0][:2], images[1][:2]
    generate(net, x, y, methods="fgs", input_range=UNIT)  # stderr is not a terminal here
    assert capsys.readouterr().err == ""
    generate(net, x, y, methods="fgs", input_range=UNIT, progress=True)
    err = capsys.readouterr().err
    assert "attack" in err and "2/2" in err and "image" in err


def test_a_model_that_outputs_probabilities_is_warned_about(net, images):
    """A softmax at the model's end once passed unseen (the attacks take logits)."""
    x, y = images[0][:2], images[1][:2]
    with pytest.warns(UserWarning, match="sum to 1 for each image: probabilities"):
        generate(torch.nn.Sequential(net, torch.nn.Softmax(dim=1)), x, y, methods="fgs",
                 input_range=UNIT)  # fmt: skip


def test_a_single_colour_image_without_its_batch_axis_is_named(net, images):
    """It once read "3 images but labels of shape (1,)"."""
    x, y = images[0][0], images[1][:1]
    with pytest.raises(InputError, match=r"one image \[C, H, W\] needs its batch axis"):
        generate(net, x, y, methods="fgs", input_range=UNIT)


class ExpectsPixels(torch.nn.Module):
    """``net`` as a model trained on 0..255 input would take it."""

    def __init__(self, net) -> None:
        super().__init__()
        self.net = net

    def forward(self, x):
        return self.net(x / 255)


def test_most_sources_misclassified_at_the_given_range_names_the_range_that_fits(net, images):
    """A 0..255 model given --input-range 0,1 once had 18 of 20 images "misclassified"."""
    x, y = np.round(images[0][:20] * 255).astype(np.uint8), images[1][:20]
    model = ExpectsPixels(net)
    with pytest.warns(UserWarning, match=r"of 20 source images are misclassified") as caught:
        generate(model, x, y, methods="fgs", input_range=UNIT)
    assert "input_range (0,255) it classifies" in str(caught[0].message)
    assert "--input-range 0,255" in str(caught[0].message)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        generate(model, x, y, methods="fgs")  # 0..255, the range it takes: no warning


@pytest.mark.parametrize(
    ("shape", "message"),
    [
        ((4, 28, 28, 1), "these look channels-last"),
        ((4, 3, 28, 28), "expected input.* to have 1 channels"),
        ((4, 1, 32, 32), "images of shape \\(4, 1, 32, 32\\) do not fit the model"),
    ],
)
def test_images_of_the_wrong_layout_name_the_shape_expected(shape, message):
    images = np.zeros(shape, np.uint8)
    with pytest.raises(InputError, match=message) as caught:
        hardpos.generate(LeNet(seed=1), images, np.zeros(4, int), methods="fgs")
    assert "expected [N, C, H, W]" in str(caught.value)
