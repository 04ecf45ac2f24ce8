"""Adversary generation: directions, the minimal-scale search on the discrete grid, hard
positives, the table, the command line.

Small models made here: linear models with hand-set weights (where the minimal scale has
a closed form), an untrained LeNet in float64 labelled with its own predictions (so every
image is correctly classified and attacked), a tiny colour convnet.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from hardpos.attacks import (
    COLUMNS,
    compute_directions,
    feature_direction,
    generate,
    grid_neighbours,
    parse_methods,
    perturb,
    summarize,
)
from hardpos.attacks.directions import hot_cold_weights
from hardpos.errors import InputError
from hardpos.mnist.lenet import LeNet


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


class TwoLayer(nn.Module):
    """logits = W2 relu(W1 x / 255 + b1) + b2, for a hand-computed feature direction."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(1)
        self.lin1 = nn.Linear(12, 5, dtype=torch.float64)
        self.relu = nn.ReLU()
        self.lin2 = nn.Linear(5, 3, dtype=torch.float64)

    def logits(self, x):
        return self.lin2(self.relu(self.lin1(x.to(torch.float64).flatten(1) / 255.0)))


# the 2-class linear model of the closed-form tests: h_0 = 137.3, h_1 = v . x with
# v = (1, -2, 0.5, 1.5); at x = 100 everywhere the margin h_0 - h_1 is M0 = 37.3
V = np.array([1.0, -2.0, 0.5, 1.5])
M0 = 37.3


def linear_two_class() -> Linear:
    return Linear([np.zeros(4), V], [137.3, 0.0])


def flat_image(value: int = 100) -> np.ndarray:
    return np.full((1, 1, 2, 2), value, dtype=np.uint8)


def own_labels(model, images) -> np.ndarray:
    """The model's predictions: every image is then correctly classified."""
    with torch.no_grad():
        x = torch.as_tensor(images)
        x = x.unsqueeze(1) if x.ndim == 3 else x
        return model.logits(x.to(torch.float64)).argmax(1).numpy()


@pytest.fixture(scope="module")
def lenet64():
    return LeNet(seed=3).double().eval()


@pytest.fixture(scope="module")
def digits(lenet64):
    """Eight real-looking images: MNIST when present, else smooth random blobs."""
    from paths import mnist_dir

    path = mnist_dir()
    if (path / "t10k-images-idx3-ubyte.gz").is_file():
        from hardpos.mnist.idx import load_mnist

        images = load_mnist(path, "test")[0][:8]
    else:
        rng = np.random.default_rng(0)
        images = (rng.random((8, 28, 28)) ** 4 * 255).astype(np.uint8)
    images = images[:, None]
    return images, own_labels(lenet64, images)


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


# -- directions ---------------------------------------------------------------------------


def test_hot_cold_directions_equal_autograd_per_image_and_rank(lenet64, digits):
    images, labels = digits
    dirs = parse_methods(["hc-d-4", "hc-s-k2"])
    got = compute_directions(lenet64, torch.as_tensor(images), torch.as_tensor(labels), dirs)
    for i in range(len(images)):
        x = torch.as_tensor(images[i : i + 1], dtype=torch.float64).requires_grad_(True)
        h = lenet64.logits(x)[0]
        others = [c for c in torch.argsort(h, descending=True).tolist() if c != labels[i]]
        for j, direction in enumerate(dirs):
            t = others[direction.k - 1]
            w = torch.zeros(10, dtype=torch.float64)
            w[t], w[labels[i]] = h[t].abs(), -h[labels[i]]
            (grad,) = torch.autograd.grad(h @ w.detach(), x, retain_graph=True)
            expected = torch.sign(grad) if direction.sign else grad / grad.abs().max()
            assert int(got.hot[i, j]) == t
            torch.testing.assert_close(got.d[i, j], expected[0], rtol=1e-9, atol=1e-12)


def test_fgs_fgv_directions_equal_cross_entropy_gradient(lenet64, digits):
    images, labels = digits
    got = compute_directions(
        lenet64, torch.as_tensor(images), torch.as_tensor(labels), parse_methods("fgs,fgv")
    )
    x = torch.as_tensor(images, dtype=torch.float64).requires_grad_(True)
    loss = F.cross_entropy(lenet64.logits(x), torch.as_tensor(labels), reduction="sum")
    (grad,) = torch.autograd.grad(loss, x)
    fgv = grad / grad.flatten(1).abs().amax(1).view(-1, 1, 1, 1)
    torch.testing.assert_close(got.d[:, 1], fgv, rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(got.d[:, 0], torch.sign(grad))
    assert (got.hot == -1).all()


def test_all_directions_of_a_batch_take_one_forward_and_one_backward_pass(
    lenet64, digits, monkeypatch
):
    images, labels = digits
    calls = {"forward": 0, "backward": 0}
    real_grad, real_logits = torch.autograd.grad, lenet64.logits

    def counting_grad(*args, **kwargs):
        calls["backward"] += 1
        return real_grad(*args, **kwargs)

    def counting_logits(x):
        calls["forward"] += 1
        return real_logits(x)

    monkeypatch.setattr(torch.autograd, "grad", counting_grad)
    monkeypatch.setattr(lenet64, "logits", counting_logits)
    got = compute_directions(
        lenet64, torch.as_tensor(images), torch.as_tensor(labels), parse_methods("fgs,hc-d-9")
    )
    assert got.d.shape == (8, 10, 1, 28, 28)
    assert calls == {"forward": 1, "backward": 1}


def test_feature_direction_at_logits_equals_the_hot_cold_direction(lenet64, digits):
    images, labels = digits
    x = torch.as_tensor(images)
    h = lenet64.logits(x.double()).detach()
    got = compute_directions(lenet64, x, torch.as_tensor(labels), parse_methods("hc-d-k1"))
    w = hot_cold_weights(h, torch.as_tensor(labels), got.hot[:, 0])
    for layer in ("logits", "ip2"):
        d = feature_direction(lenet64, layer, images, w)
        d = d / d.flatten(1).abs().amax(1).view(-1, 1, 1, 1)
        torch.testing.assert_close(d, got.d[:, 0], rtol=1e-9, atol=1e-12)


def test_feature_direction_at_inner_layer_equals_hand_computation():
    model = TwoLayer()
    rng = np.random.default_rng(2)
    images = rng.integers(0, 256, (3, 1, 3, 4), dtype=np.uint8)
    w = torch.as_tensor(rng.normal(size=(3, 5)))
    W1, b1 = model.lin1.weight.detach(), model.lin1.bias.detach()
    x = torch.as_tensor(images, dtype=torch.float64).flatten(1)
    # <w, lin1(x / 255)> = w . (W1 x / 255 + b1): gradient W1^T w / 255
    expected = (w @ W1 / 255.0).view(3, 1, 3, 4)
    torch.testing.assert_close(feature_direction(model, "lin1", images, w), expected)
    # after the ReLU only the active units pass the vector back
    active = (x / 255.0 @ W1.T + b1 > 0).to(torch.float64)
    expected = ((w * active) @ W1 / 255.0).view(3, 1, 3, 4)
    torch.testing.assert_close(feature_direction(model, "relu", images, w), expected)
    # K vectors per image in one call
    both = feature_direction(model, "lin1", images, torch.stack([w, 2 * w]))
    torch.testing.assert_close(both[1], 2 * both[0])


def test_feature_direction_names_an_unknown_layer(lenet64, digits):
    with pytest.raises(InputError, match="'conv9'.*conv1"):
        feature_direction(lenet64, "conv9", digits[0], torch.zeros(8, 10))


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


def test_method_names_expand_to_directions():
    names = [d.name for d in parse_methods("fgs, HC-D-3,hc-d-k2,hc-s-k9")]
    assert names == ["FGS", "HC-D-1", "HC-D-2", "HC-D-3", "HC-S-9"]


# -- the command line ---------------------------------------------------------------------


def test_cli_writes_images_and_table(tmp_path, capsys):
    from hardpos.cli import main
    from hardpos.files.datasets import save_dataset
    from hardpos.files.images import load_images
    from hardpos.files.parquet import load_table
    from hardpos.mnist.lenet import save_model

    model = LeNet(seed=5).eval()
    images = (np.random.default_rng(1).random((4, 28, 28)) ** 3 * 255).astype(np.uint8)
    save_model(tmp_path / "net.pt", model, {"seed": 5})
    save_dataset(tmp_path / "set.npz", images, own_labels(model, images))
    out = tmp_path / "out"
    args = ["attack", "--model", str(tmp_path / "net.pt"), "--images", str(tmp_path / "set.npz")]
    args += ["--methods", "fgs,hc-d-2", "--factors", "1,1.05", "--limit", "3", "--out", str(out)]
    assert main(args) == 0
    report = json.loads(capsys.readouterr().out)
    table, adv = load_table(out / "table.parquet"), load_images(out / "images.npz")
    assert report["rows"] == len(table) == len(adv) == 3 * 3 * 2
    assert adv.shape[1:] == (1, 28, 28) and adv.dtype == np.uint8
    assert list(table.columns) == list(COLUMNS)
    assert {r["method"] for r in report["summary"]} == {"fgs", "hc-d"}
    assert main([*args[:-2], "--methods", "pgd", "--out", str(out)]) == 2
    assert "unknown method 'pgd'" in capsys.readouterr().err


@pytest.mark.filterwarnings("error::UserWarning")  # no tensor over the read-only map
def test_streamed_generation_equals_generate_in_memory(tmp_path, monkeypatch):
    """The stage writes each chunk as it is made; the file and table are generate's."""
    import hardpos.attacks.generation
    from hardpos.experiments.adversarials import generate_adversarials
    from hardpos.experiments.models import load_model
    from hardpos.files.datasets import save_dataset
    from hardpos.files.images import load_images
    from hardpos.files.parquet import load_table, save_table
    from hardpos.mnist.lenet import save_model

    save_model(tmp_path / "net.pt", LeNet(seed=5).eval(), {"seed": 5})
    model = load_model(tmp_path / "net.pt")
    images = (np.random.default_rng(2).random((40, 28, 28)) ** 3 * 255).astype(np.uint8)
    labels = own_labels(model.double(), images)
    labels[[3, 17, 18]] = (labels[[3, 17, 18]] + 1) % 10  # sources that are not attacked
    save_dataset(tmp_path / "set.npz", images, labels)
    out = {"out_images": tmp_path / "adv.npz", "out_table": tmp_path / "table.parquet"}
    monkeypatch.setattr(hardpos.attacks.generation, "TABLE_MERGE", 3)  # tables merged on the way
    generate_adversarials(
        model=tmp_path / "net.pt", dataset=tmp_path / "set.npz", family="hc-d", k=2,
        factors=[1.0, 1.1], limit=None, net=3, batch_size=7, device="cpu", **out,
    )  # fmt: skip
    # batch_size 7 over 2 directions: 3 sources per chunk, 14 chunks
    adv, table = generate(load_model(tmp_path / "net.pt"), images, labels, methods="hc-d-2",
                          factors=[1.0, 1.1], batch_size=7)  # fmt: skip
    assert len(table) == 37 * 2 * 2 and 3 not in set(table["source"])
    np.testing.assert_array_equal(load_images(out["out_images"]), adv)
    save_table(tmp_path / "expected.parquet", table.assign(net=3))
    pd.testing.assert_frame_equal(
        load_table(out["out_table"]), load_table(tmp_path / "expected.parquet")
    )


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
