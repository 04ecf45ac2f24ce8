"""hardpos on a user's own network: a CIFAR-shaped CNN on float input in [0, 1] whose
``forward`` returns logits (no ``logits`` method), with normalisation inside.

Checked against computations made here: the exhaustive scan of the sign direction (the
FGS gradient taken with autograd on the user's model), the model's own predictions, the
same attack through uint8 images, and PASS of the same images on the [0, 255] scale.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from small_cnn import MEAN, STD, SmallCNN, stripes, trained

from hardpos.attacks import generate
from hardpos.errors import InputError
from hardpos.similarity import filter_by_tau, pass_score

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


def test_pass_score_on_unit_floats_needs_data_range_and_then_matches_pixels(images):
    x = images[0][:4]
    rng = np.random.default_rng(3)
    noisy = np.clip(x + rng.normal(0, 0.03, x.shape), 0, 1).astype(np.float32)
    shifted = np.roll(noisy, 1, axis=3)
    with pytest.raises(InputError, match=r"data_range=1\.0"):
        pass_score(shifted, x)
    for backend in ("opencv", "torch"):
        unit = pass_score(shifted, x, backend, data_range=1.0).scores
        pixels = pass_score(shifted * np.float32(255), x * np.float32(255), backend).scores
        np.testing.assert_allclose(unit, pixels, atol=1e-6)
        assert (unit < 0.999).all()  # not the 1.000 of [0, 1] images read as [0, 255]
    with pytest.raises(InputError, match=r"\[0, 1\]"):
        pass_score(shifted * 2, x, data_range=1.0)
    with pytest.raises(InputError, match="uint8"):
        pass_score(np.round(x * 255).astype(np.uint8), np.round(x * 255).astype(np.uint8),
                   data_range=1.0)  # fmt: skip
    dark = pass_score(shifted, x, data_range=255)  # dark [0, 255] images, said so
    assert np.isfinite(dark.scores).all()


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
