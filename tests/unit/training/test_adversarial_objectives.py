"""Strong-attack robustness (adv-lib) and the adversarial training objectives."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from hardpos.errors import InputError
from hardpos.robustness import (
    BudgetAttack,
    MinimalNormAttack,
    UnitInterval,
    minimal_norms,
    robust_accuracy,
)
from hardpos.training.adversarial_objectives import (
    FGSObjective,
    PGDObjective,
    objective_from_recipe,
)
from hardpos.training.lenet_training import train


@pytest.fixture(scope="module")
def small_lenet(real_mnist):
    """A LeNet after 300 seeded iterations on the first 10K MNIST training images (about
    97% test accuracy), and the first 200 test images."""
    from hardpos.mnist.idx import load_mnist

    x_train, y_train = load_mnist(real_mnist, "train")
    x_test, y_test = load_mnist(real_mnist, "test")
    state = train(x_train[:10_000], y_train[:10_000], seed=1, iterations=300)
    return state.model, np.asarray(x_test[:200]), np.asarray(y_test[:200])


def _plain_pgd_accuracy(net, images, labels, *, eps, steps, step, seed) -> float:
    """Madry's PGD written out on the pixel scale: uniform start in the L-inf ball,
    signed-gradient steps, projection onto the ball and [0, 255]; robust = the final
    iterate is still classified correctly (and so was the clean image)."""
    x = torch.as_tensor(images, dtype=torch.float32).unsqueeze(1)
    y = torch.as_tensor(labels, dtype=torch.int64)
    eps, step = 255.0 * eps, 255.0 * step
    generator = torch.Generator().manual_seed(seed)
    adv = x + (2 * torch.rand(x.shape, generator=generator) - 1) * eps
    adv = adv.clamp(0, 255)
    for _ in range(steps):
        adv.requires_grad_(True)
        loss = F.cross_entropy(net(adv), y, reduction="sum")
        (grad,) = torch.autograd.grad(loss, adv)
        adv = adv.detach() + step * grad.sign()
        adv = torch.min(torch.max(adv, x - eps), x + eps).clamp(0, 255)
    with torch.no_grad():
        clean = net(x).argmax(1) == y
        robust = clean & (net(adv).argmax(1) == y)
    return float(robust.float().mean())


def test_unit_interval_wrapper_feeds_the_net_pixels():
    net = nn.Linear(4, 3)
    x = torch.rand(5, 4)
    torch.testing.assert_close(UnitInterval(net)(x), net(255.0 * x))


@pytest.mark.parametrize("eps", [0.1, 0.15])
def test_library_pgd_agrees_with_a_plain_pgd_loop_within_two_points(small_lenet, eps):
    net, images, labels = small_lenet
    steps, relative = 10, 2.5
    ours = _plain_pgd_accuracy(
        net, images, labels, eps=eps, steps=steps, step=relative * eps / steps, seed=3
    )
    result = robust_accuracy(
        net, images, labels, budgets=[eps], seed=3,
        attack=BudgetAttack(attack="pgd", steps=steps, restarts=1, step_size=relative),
    )  # fmt: skip
    library = result["robust_accuracy"][0]
    # the budget must leave something to measure, or agreement proves nothing
    assert 0.05 < ours < result["clean_accuracy"] - 0.1
    assert abs(library - ours) <= 0.02
    assert result["max_linf"][0] <= eps + 1e-5


def test_apgd_is_at_least_as_strong_as_pgd_and_breaks_nearly_all_at_0_3(small_lenet):
    net, images, labels = small_lenet
    budgets = [0.1, 0.3]
    pgd = robust_accuracy(
        net, images, labels, budgets=budgets, attack=BudgetAttack(attack="pgd", steps=10)
    )
    apgd = robust_accuracy(
        net, images, labels, budgets=budgets, attack=BudgetAttack(attack="apgd", steps=10)
    )
    assert apgd["clean_accuracy"] == pgd["clean_accuracy"] > 0.9
    for a, p in zip(apgd["robust_accuracy"], pgd["robust_accuracy"], strict=True):
        assert a <= p + 0.02
    assert apgd["robust_accuracy"][1] <= 0.03
    # robust accuracy cannot grow with the budget
    assert apgd["robust_accuracy"][0] >= apgd["robust_accuracy"][1]
    # per image: a robust image is a correctly classified one
    assert apgd["robust"].shape == (2, len(images))


class _Linear(nn.Module):
    """logits = W (x / 255) + b on flattened 28x28 pixels: minimal distances are known.
    ``scale`` sharpens the softmax without moving the boundaries (DDN follows the
    cross-entropy's gradient, which points at the nearest boundary only when the softmax
    is peaked)."""

    def __init__(self, seed: int = 0, scale: float = 1.0) -> None:
        super().__init__()
        generator = torch.Generator().manual_seed(seed)
        self.weight = nn.Parameter(torch.randn(10, 784, generator=generator) * scale / 28.0)
        self.bias = nn.Parameter(torch.zeros(10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x.flatten(1) / 255.0) @ self.weight.T + self.bias


def _linear_minimal_norms(net: _Linear, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """float64: the L2 / L-inf distance (grey levels) from x to the nearest other class's
    half-space, min_j (h_y - h_j) / ||w_y - w_j||_{2 or 1} (the box does not bind here)."""
    w = net.weight.detach().double().numpy() / 255.0
    x = images.reshape(len(images), -1).astype(np.float64)
    h = x @ w.T + net.bias.detach().double().numpy()
    y = h.argmax(1)
    l2, linf = [], []
    for i in range(len(x)):
        others = [j for j in range(10) if j != y[i]]
        margin = h[i, y[i]] - h[i, others]
        diff = w[y[i]] - w[others]
        l2.append(np.min(margin / np.linalg.norm(diff, 2, axis=1)))
        linf.append(np.min(margin / np.abs(diff).sum(axis=1)))
    return np.array(l2), np.array(linf), y


def test_minimal_norms_match_the_exact_distances_of_a_linear_model():
    net = _Linear(seed=0, scale=20.0).eval()
    rng = np.random.default_rng(0)
    images = rng.integers(100, 156, (40, 28, 28)).astype(np.uint8)
    l2_exact, linf_exact, labels = _linear_minimal_norms(net, images)
    assert linf_exact.max() < 20  # the [0, 255] box is never reached
    norms = minimal_norms(
        net, images, labels, attack=MinimalNormAttack(l2="ddn", steps=200, levels=256)
    )
    assert norms["failed_l2"] == norms["failed_linf"] == 0
    # an adversarial can never be closer than the boundary; a good attack gets close to it
    assert np.all(norms["l2"] >= l2_exact - 1e-3)
    assert np.all(norms["linf"] >= linf_exact - 1e-3)
    assert np.median(norms["l2"] / l2_exact) < 1.02  # DDN, rounded to uint8 levels
    assert np.median(norms["linf"] / linf_exact) < 1.02  # FMN
    assert norms["median_l2"] == pytest.approx(np.median(norms["l2"]))


def test_minimal_norms_are_zero_on_misclassified_images():
    net = _Linear(seed=1).eval()
    images = np.full((3, 28, 28), 128, np.uint8)
    with torch.no_grad():
        wrong = (net(torch.as_tensor(images).float()).argmax(1) + 1) % 10
    norms = minimal_norms(net, images, wrong.numpy(), attack=MinimalNormAttack(steps=5))
    assert np.all(norms["l2"] == 0) and np.all(norms["linf"] == 0)


def test_bad_robustness_settings_name_the_key():
    with pytest.raises(InputError, match="attack 'fgsm'"):
        BudgetAttack(attack="fgsm")
    with pytest.raises(InputError, match="robustness.linf budget 76.5"):
        robust_accuracy(_Linear(), np.zeros((1, 28, 28), np.uint8), [0], budgets=[76.5])
    with pytest.raises(InputError, match="pgd-at: unknown settings \\['epsilon'\\]"):
        objective_from_recipe("pgd-at", {"epsilon": 0.3})


def _softmax_input_gradient(net: _Linear, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """float64 d CE / d x for the linear model: W^T (softmax(h) - onehot(y)) / 255."""
    w = net.weight.detach().double().numpy() / 255.0
    h = x @ w.T + net.bias.detach().double().numpy()
    p = np.exp(h - h.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    p[np.arange(len(y)), y] -= 1.0
    return p @ w


def _ce64(net: _Linear, x: np.ndarray, y: np.ndarray) -> float:
    w = net.weight.detach().double().numpy() / 255.0
    h = x @ w.T + net.bias.detach().double().numpy()
    h = h - h.max(1, keepdims=True)
    return float(np.mean(np.log(np.exp(h).sum(1)) - h[np.arange(len(y)), y]))


def test_fgs_objective_matches_goodfellows_formula_in_float64():
    net = _Linear(seed=2)
    rng = np.random.default_rng(2)
    x = rng.integers(0, 256, (6, 784)).astype(np.float64)
    y = rng.integers(0, 10, 6)
    objective = FGSObjective(eps=0.1, alpha=0.3)
    loss = objective(
        net, torch.tensor(x, dtype=torch.float32), torch.tensor(y), seed=0, iteration=0
    )
    adv = np.clip(x + 25.5 * np.sign(_softmax_input_gradient(net, x, y)), 0, 255)
    expected = 0.3 * _ce64(net, x, y) + 0.7 * _ce64(net, adv, y)
    assert float(loss.detach()) == pytest.approx(expected, rel=1e-5)
    assert objective.passes == 2


def test_pgd_objective_steps_project_and_repeat_their_random_start():
    net = _Linear(seed=3)
    rng = np.random.default_rng(3)
    x64 = rng.integers(0, 256, (5, 784)).astype(np.float64)
    y = rng.integers(0, 10, 5)
    x = torch.tensor(x64, dtype=torch.float32)
    # one step from the image itself: x + step sign(grad), clipped to the ball and the box
    one = PGDObjective(eps=0.3, step_size=0.05, steps=1, random_start=False)
    adv = one.attack(net, x, torch.tensor(y), seed=0, iteration=0).double().numpy()
    expected = np.clip(x64 + 12.75 * np.sign(_softmax_input_gradient(net, x64, y)), 0, 255)
    np.testing.assert_allclose(adv, expected, atol=1e-4)
    many = PGDObjective(eps=0.1, step_size=0.05, steps=7)
    a = many.attack(net, x, torch.tensor(y), seed=4, iteration=9)
    b = many.attack(net, x, torch.tensor(y), seed=4, iteration=9)
    c = many.attack(net, x, torch.tensor(y), seed=4, iteration=10)
    torch.testing.assert_close(a, b)
    assert not torch.equal(a, c)
    assert float((a - x).abs().max()) <= 25.5 + 1e-3
    assert float(a.min()) >= 0 and float(a.max()) <= 255
    # the adversarial raises the loss above the clean image's
    assert _ce64(net, a.double().numpy(), y) > _ce64(net, x64, y)
    assert many.passes == 8


def _toy_digits(n: int = 64) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, n)
    images = rng.integers(0, 40, (n, 28, 28)).astype(np.uint8)
    for i, y in enumerate(labels):
        images[i, 2 + 2 * y : 6 + 2 * y, 4:24] = 255
    return images, labels


@pytest.mark.parametrize(
    "objective", [FGSObjective(eps=0.1), PGDObjective(eps=0.1, step_size=0.03, steps=3)]
)
def test_adversarial_training_resumes_exactly_and_differs_from_plain(tmp_path, objective):
    images, labels = _toy_digits()
    solver_kwargs = dict(seed=5, checkpoint_every=2)
    whole = train(images, labels, iterations=6, objective=objective, **solver_kwargs)
    ckpt = tmp_path / "run.ckpt"
    train(images, labels, iterations=4, objective=objective, checkpoint=ckpt, **solver_kwargs)
    resumed = train(
        images, labels, iterations=6, objective=objective, checkpoint=ckpt, **solver_kwargs
    )
    plain = train(images, labels, iterations=6, **solver_kwargs)
    for p, q in zip(whole.model.parameters(), resumed.model.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=0, atol=0)
    assert any(
        not torch.equal(p, r)
        for p, r in zip(whole.model.parameters(), plain.model.parameters(), strict=True)
    )


def test_a_checkpoint_of_another_objective_is_not_resumed(tmp_path):
    images, labels = _toy_digits()
    ckpt = tmp_path / "run.ckpt"
    train(images, labels, seed=5, iterations=2, checkpoint=ckpt)
    state = train(
        images, labels, seed=5, iterations=2, checkpoint=ckpt, objective=FGSObjective(eps=0.1)
    )
    plain = train(images, labels, seed=5, iterations=2)
    # it trained again (from scratch, with the objective) instead of returning the plain run
    assert any(
        not torch.equal(p, q)
        for p, q in zip(state.model.parameters(), plain.model.parameters(), strict=True)
    )


def test_table1_gains_robustness_columns_averaged_over_a_recipes_nets(tmp_path):
    import json

    from hardpos.report.table1 import _display, load_evaluations, table1

    evaluations, records = [], []
    cases = [("basic", 0.010, [0.6, 0.0], 90.0, 20.0), ("PGD-AT", 0.012, [0.9, 0.7], 300.0, 60.0),
             ("PGD-AT", 0.014, [0.8, 0.5], 280.0, 56.0)]  # fmt: skip
    for i, (recipe, error, robust, l2, linf) in enumerate(cases):
        model = f"results/models/m{i}.pt"
        evaluations.append(tmp_path / f"e{i}.json")
        evaluations[-1].write_text(
            json.dumps(
                {
                    "model": model,
                    "recipe": recipe,
                    "mnist_test": {"error": error, "n": 1000, "wrong": round(error * 1000)},
                }
            )
        )
        records.append(tmp_path / f"r{i}.json")
        records[-1].write_text(
            json.dumps(
                {
                    "model": model, "recipe": recipe, "linf": [0.1, 0.3],
                    "clean_accuracy": 1 - error, "robust_accuracy": robust,
                    "min_norm": {"median_l2": l2, "median_linf": linf},
                }
            )
        )  # fmt: skip
    table = table1(load_evaluations(evaluations, robustness=records), recipe_order=["basic"])
    pgd = table.set_index("recipe").loc["PGD-AT"]
    assert pgd["robust_0.3_mean"] == pytest.approx(60.0)
    assert pgd["robust_0.3_std"] == pytest.approx(np.std([70.0, 50.0], ddof=1))
    assert pgd["min_l2_mean"] == pytest.approx(290.0)
    shown = _display(table).set_index("Method")
    assert shown.loc["basic", "Robust L-inf 0.3"] == "0.0%"
    assert shown.loc["PGD-AT", "Robust L-inf 0.1"] == "85.0% ± 7.1"
    assert shown.loc["PGD-AT", "Min. L2 / L-inf (grey)"] == "290 / 58.0"
    # without records, Table 1 is as before
    assert "Robust L-inf 0.3" not in _display(table1(load_evaluations(evaluations))).columns


def test_objective_recipes_parse_draw_no_generated_images_and_check_their_settings():
    from hardpos.experiments.recipes import generation_plan, parse_recipes

    recipes = parse_recipes(
        [
            {"name": "PGD-AT", "method": "pgd-at", "eps": 0.3, "step_size": 0.1, "steps": 7},
            {"name": "FGS-objective", "method": "fgs-objective", "alpha": 0.5, "eps": 0.25},
        ]
    )
    assert [r.adversarial for r in recipes] == [False, False]
    assert recipes[0].objective_settings() == {
        "method": "pgd-at", "eps": 0.3, "step_size": 0.1, "steps": 7,
    }  # fmt: skip
    assert generation_plan(recipes, heldout_types=())["train"] == {}
    settings = dict(recipes[1].objective_settings())
    objective = objective_from_recipe(settings.pop("method"), settings)
    assert objective == FGSObjective(eps=0.25, alpha=0.5)
    with pytest.raises(InputError, match="recipe 'P': unknown keys \\['k'\\]"):
        parse_recipes([{"name": "P", "method": "pgd-at", "k": 3}])
    with pytest.raises(InputError, match="recipe 'P': pgd-at eps 3"):
        parse_recipes([{"name": "P", "method": "pgd-at", "eps": 3}])


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


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"clean_accuracy": 3.2}, "clean_accuracy: expected an accuracy in"),
        ({"robust_accuracy": [0.5, "0.4"]}, r"robust_accuracy\[1\]: expected an accuracy"),
        ({"robust_accuracy": [0.5]}, "robust_accuracy: expected one accuracy per budget"),
        ({"linf": [0.1, -0.3]}, "linf: expected a list of positive budgets"),
    ],
)
def test_a_robustness_record_is_checked_before_it_is_believed(tmp_path, change, message):
    from hardpos.errors import DataError
    from hardpos.robustness.record import load_records

    record = {"model": "m.pt", "recipe": "basic", "linf": [0.1, 0.3],
              "clean_accuracy": 0.99, "robust_accuracy": [0.5, 0.1]} | change  # fmt: skip
    path = tmp_path / "r.json"
    path.write_text(json.dumps(record))
    with pytest.raises(DataError, match=f"r.json: {message}"):
        load_records([path])
