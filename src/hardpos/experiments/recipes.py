"""Which adversarial images make up each fine-tuning recipe and the held-out set.

A recipe is config, not code (a ``recipes:`` entry in the config): a method family
(:data:`hardpos.attacks.methods.FAMILIES`: fgs, fgv, hc-d, hc-s; or none for the clean
control), the highest hot rank ``k`` (HC-D-9 means ranks 1..9), the hard-positive ``factor``
(1.0 = minimal adversarial; ``frontier``: per direction, the farthest scale of
``frontier_factors`` whose PASS still meets ``tau``) and an optional PASS threshold ``tau``
(the paper's eq. 5). From
the recipes, the PASS buckets and the held-out types, :func:`generation_plan` works out what
each base net must generate, so adding a row such as ``HC-D-3-1.10`` with ``tau: 0.9`` needs
no Python.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from hardpos.attacks.methods import FAMILIES, RANKED, method_argument  # noqa: F401 (re-export)
from hardpos.errors import InputError
from hardpos.training.adversarial_objectives import objective_from_recipe

# training objectives made on the fly from each batch (no generated images), and the
# recipe keys each takes (hardpos.training.adversarial_objectives; budgets on [0, 1])
OBJECTIVES = {
    "fgs-objective": ("alpha", "eps"),
    "pgd-at": ("eps", "step_size", "steps", "random_start"),
}
HELDOUT_TYPES = (
    "FGS", "FGV", *(f"HC-{k}" for k in range(1, 10)), "HC-1x1.05", "HC-1x1.10", "HC-S-1",
)  # fmt: skip
_FACTOR_DECIMALS = 4
# the frontier's scale grid when a recipe names none: the PASS-bucket pool's factors, so a
# frontier recipe on that pool's family costs no extra generation or PASS scoring
FRONTIER_FACTORS = (1.0, 1.1, 1.2, 1.3, 1.4, 1.5)


@dataclass(frozen=True)
class Recipe:
    """One Table 1 row's training images: ``method`` ranks 1..``k`` at ``factor``, PASS >= tau."""

    name: str
    method: str
    k: int = 1
    factor: float = 1.0
    tau: float | None = None
    objective: tuple[tuple[str, object], ...] = ()  # fgs-objective / pgd-at settings
    frontier_factors: tuple[float, ...] = ()  # factor: frontier; the scales walked, ascending

    @property
    def frontier(self) -> bool:
        """Whether each direction contributes its PASS-frontier image (``factor: frontier``)."""
        return bool(self.frontier_factors)

    @property
    def factors(self) -> tuple[float, ...]:
        """The factors whose generated images this recipe reads."""
        return self.frontier_factors or (self.factor,)

    @property
    def adversarial(self) -> bool:
        """Whether the recipe draws generated adversarial images (none and the
        on-the-fly objectives fine-tune on the original data alone)."""
        return self.method in FAMILIES

    def objective_settings(self) -> dict | None:
        """``{"method": "pgd-at", "eps": 0.3, ...}`` for an objective recipe, else None."""
        if self.method not in OBJECTIVES:
            return None
        return {"method": self.method, **dict(self.objective)}


# the names Table 1 gives its own rows: no recipe may take them
BASE_ROW = "basic"
BASELINE_ROW_PREFIX = "InfiMNIST-style"


def parse_recipes(spec: list[dict]) -> list[Recipe]:
    """Recipes from the config's ``recipes`` list; errors name the recipe and key."""
    recipes = []
    for entry in spec:
        entry = dict(entry)
        name = entry.pop("name", None)
        if not name:
            raise InputError(f"recipe {entry}: every recipe needs a name")
        if name in {r.name for r in recipes}:
            raise InputError(f"recipe {name!r} is defined twice")
        if name.startswith("PASS-"):
            raise InputError(f"recipe {name!r}: names starting with PASS- are the buckets' own")
        if name == BASE_ROW or name.startswith(BASELINE_ROW_PREFIX):
            raise InputError(f"recipe {name!r}: Table 1 gives this name to its own row "
                             f"({BASE_ROW!r}: the base nets, {BASELINE_ROW_PREFIX}...: the "
                             "augmentation baseline); choose another")  # fmt: skip
        method = entry.pop("method", None)
        if method not in (*FAMILIES, "none", *OBJECTIVES):
            known = ", ".join((*FAMILIES, "none", *OBJECTIVES))
            raise InputError(f"recipe {name!r}: method {method!r} is not one of {known}")
        if method in OBJECTIVES:
            recipes.append(_objective_recipe(name, method, entry))
            continue
        k = int(entry.pop("k", 1))
        factor = entry.pop("factor", 1.0)
        tau = entry.pop("tau", None)
        grid = entry.pop("frontier_factors", None)
        if entry:
            allowed = "name, method, k, factor, tau, frontier_factors"
            raise InputError(f"recipe {name!r}: unknown keys {sorted(entry)} (allowed: {allowed})")
        if method in FAMILIES and method not in RANKED and k != 1:
            raise InputError(f"recipe {name!r}: k applies to hc-d and hc-s only")
        tau = None if tau is None else float(tau)
        if factor == "frontier":
            grid = _frontier_grid(name, method, tau, grid)
            recipes.append(Recipe(name, method, k, 1.0, tau, frontier_factors=grid))
            continue
        if grid is not None:
            raise InputError(f"recipe {name!r}: frontier_factors needs factor: frontier")
        factor = float(factor)
        if factor < 1.0:
            raise InputError(f"recipe {name!r}: factor {factor} is below 1 (not adversarial)")
        recipes.append(Recipe(name, method, k, factor, tau))
    return recipes


def _frontier_grid(
    name: str, method: str, tau: float | None, grid: list[float] | None
) -> tuple[float, ...]:
    """A frontier recipe's ascending scale grid, starting at the minimal adversarial (1.0)."""
    if method not in FAMILIES:
        raise InputError(f"recipe {name!r}: factor: frontier needs an attack method, not {method}")
    if tau is None:
        raise InputError(f"recipe {name!r}: factor: frontier needs tau (the PASS it must keep)")
    grid = tuple(round(float(f), _FACTOR_DECIMALS) for f in (grid or FRONTIER_FACTORS))
    if grid[0] != 1.0 or any(b <= a for a, b in zip(grid, grid[1:], strict=False)):
        raise InputError(
            f"recipe {name!r}: frontier_factors {list(grid)} must start at 1.0 and ascend"
        )
    return grid


def _objective_recipe(name: str, method: str, entry: dict) -> Recipe:
    """An fgs-objective or pgd-at recipe, its settings checked by building the objective."""
    keys = OBJECTIVES[method]
    if set(entry) - set(keys):
        allowed = ", ".join(("name", "method", *keys))
        raise InputError(
            f"recipe {name!r}: unknown keys {sorted(set(entry) - set(keys))} (allowed: {allowed})"
        )
    try:
        objective_from_recipe(method, entry)
    except (InputError, TypeError, ValueError) as exc:
        raise InputError(f"recipe {name!r}: {exc}") from None
    return Recipe(name, method, objective=tuple(sorted(entry.items())))


def type_names(table: pd.DataFrame) -> pd.Series:
    """The paper's name for each row: FGS, FGV, HC-k, HC-S-k, or HC-kxC for a scaled one."""
    method, k, factor = table["method"], table["k"].astype(int), table["factor"].astype(float)
    scaled = ~np.isclose(factor, 1.0)
    names = pd.Series(method.str.upper(), index=table.index)
    hc_d = method == "hc-d"
    hc_s = method == "hc-s"
    names[hc_d] = "HC-" + k[hc_d].astype(str)
    names[hc_s] = "HC-S-" + k[hc_s].astype(str)
    suffix = "x" + factor.map(lambda c: f"{c:.2f}")
    names[scaled] = names[scaled] + suffix[scaled]
    return names


_TYPE = re.compile(r"^(FGS|FGV|HC-S-(\d+)|HC-(\d+))(?:x(\d+(?:\.\d+)?))?$")


def parse_type(name: str) -> tuple[str, int, float]:
    """``"HC-1x1.05"`` -> ``("hc-d", 1, 1.05)``; the inverse of :func:`type_names`."""
    match = _TYPE.match(name)
    if not match:
        raise InputError(f"adversarial type {name!r} is not FGS, FGV, HC-k, HC-S-k or HC-kxC")
    factor = float(match[4]) if match[4] else 1.0
    if match[1] in ("FGS", "FGV"):
        return match[1].lower(), 0, factor
    if match[2]:
        return "hc-s", int(match[2]), factor
    return "hc-d", int(match[3]), factor


def generation_plan(
    recipes: Iterable[Recipe],
    *,
    heldout_types: Iterable[str] = HELDOUT_TYPES,
    bucket_pool: dict | None = None,
    gallery: Iterable[str] = (),
    heldout_delta: float = 0.0,
) -> dict[str, dict[str, dict]]:
    """What to generate: ``{split: {family: {"k": K, "factors": [...]}}}``.

    Training-split generation serves the recipes, the PASS-bucket pool and the ``gallery``
    types (ImageNet's Figure 3 is drawn from the attacked training crops); test-split
    generation serves the held-out types, each at its factor x (1 + ``heldout_delta``)
    (:func:`heldout_factor`).
    """
    plan: dict[str, dict[str, dict]] = {"train": {}, "test": {}}

    def need(split: str, family: str, k: int, factors: Iterable[float]) -> None:
        entry = plan[split].setdefault(family, {"k": 0, "factors": set()})
        entry["k"] = max(entry["k"], k if family in RANKED else 0)
        entry["factors"].update(round(float(f), _FACTOR_DECIMALS) for f in factors)

    for recipe in recipes:
        if recipe.adversarial:
            need("train", recipe.method, recipe.k, recipe.factors)
    if bucket_pool:
        need("train", bucket_pool["method"], int(bucket_pool["k"]), bucket_pool["factors"])
    for name in heldout_types:
        family, k, factor = parse_type(name)
        need("test", family, k, [heldout_factor(factor, heldout_delta)])
    for name in gallery:
        family, k, factor = parse_type(name)
        need("train", family, k, [factor])
    for split in plan.values():
        for entry in split.values():
            entry["factors"] = sorted(entry["factors"] | {1.0})
    return plan


def heldout_factor(factor: float, delta: float) -> float:
    """Where along its direction a held-out adversarial is taken: ``factor x (1 + delta)``
    times s_min, rounded as the generation plan rounds factors.

    ``delta`` = 0 takes the minimal adversarial exactly at the smallest adversarial scale
    on the discrete grid (this project's line search); a small ``delta`` lands beyond the
    boundary, as a coarser line search would. The types' own factors (HC-1x1.05) multiply.
    """
    if not (np.isfinite(delta) and delta >= 0):
        raise InputError(f"heldout delta {delta!r} must be a number >= 0 (0: exactly at s_min)")
    return round(float(factor) * (1.0 + float(delta)), _FACTOR_DECIMALS)


def recipe_mask(recipe: Recipe, table: pd.DataFrame) -> pd.Series:
    """Rows of a net's generated table that belong to ``recipe``."""
    if recipe.tau is not None and "pass" not in table:
        raise InputError(f"recipe {recipe.name!r} filters by PASS but the table has no pass column")
    if recipe.frontier:
        return frontier_mask(
            table, method=recipe.method, k=recipe.k, factors=recipe.frontier_factors,
            tau=recipe.tau, name=recipe.name,
        )  # fmt: skip
    mask = table["method"] == recipe.method
    mask &= np.isclose(table["factor"].astype(float), recipe.factor)
    if recipe.method in RANKED:
        mask &= table["k"].between(1, recipe.k)
    if recipe.tau is None:
        return mask & table["success"].astype(bool)
    # here, not at the top: the DAG imports this module, and hardpos.similarity loads torch
    from hardpos.similarity.eq5 import meets_eq5

    return mask & meets_eq5(table["success"], table["pass"], recipe.tau)


def frontier_mask(
    table: pd.DataFrame,
    *,
    method: str,
    k: int,
    factors: Iterable[float],
    tau: float,
    name: str = "frontier",
) -> pd.Series:
    """One row per direction: its image at the farthest scale before PASS first falls below tau.

    A direction is (source, method, hot rank). Walking its rows outward over ``factors``
    (ascending, from the minimal adversarial at 1.0), a scale counts while the image is
    still misclassified and its PASS is >= tau; the last one before the first that fails
    is kept. A direction that fails already at 1.0 contributes nothing, so with one factor
    this is the plain ``tau`` filter. The batched, image-level search for a model outside
    the workflow is :func:`hardpos.experiments.frontier.pass_frontier`.
    """
    grid = np.array([round(float(f), _FACTOR_DECIMALS) for f in factors])
    rows = table["method"] == method
    if method in RANKED:
        rows &= table["k"].between(1, k)
    factor = table["factor"].astype(float).round(_FACTOR_DECIMALS)
    rows &= factor.isin(grid)
    part = table.loc[rows, ["source", "k"]].assign(factor=factor[rows])
    from hardpos.similarity.eq5 import meets_eq5  # not at the top: see recipe_mask

    part["ok"] = meets_eq5(table.loc[rows, "success"], table.loc[rows, "pass"], tau)
    walked = part.groupby(["source", "k"])["factor"].nunique()
    if len(walked) and (walked != len(grid)).any():
        short = walked[walked != len(grid)].index[0]
        raise InputError(
            f"recipe {name!r}: the generated table lacks some of frontier_factors {grid.tolist()} "
            f"for direction (source {short[0]}, k {short[1]}): generate every factor of the grid"
        )
    part = part.sort_values(["source", "k", "factor"], kind="stable")
    # still walking: every scale so far (this one included) kept PASS >= tau
    part["walking"] = part.groupby(["source", "k"])["ok"].cummin()
    walking = part[part["walking"]]
    last = walking.index[~walking.duplicated(["source", "k"], keep="last")]
    mask = pd.Series(False, index=table.index)
    mask[last] = True
    return mask


def bucket_name(low: float, high: float) -> str:
    return f"PASS-{low:.2f}-{high:.2f}"


def pass_buckets(
    table: pd.DataFrame,
    *,
    method: str,
    k: int,
    factors: Iterable[float],
    edges: list[float],
    per_bucket: int | None,
    seed: int,
) -> dict[str, np.ndarray]:
    """Equal-sized groups of pool rows by PASS range ``[edges[i], edges[i+1])``.

    The pool is ``method`` ranks 1..k at the given factors (successful rows only). Every
    bucket gets the same count (``per_bucket``, or the smallest bucket's size), drawn with
    a seeded generator, so only the PASS range differs between bucket recipes (Figure 6).
    """
    factors = np.array(sorted(float(f) for f in factors))
    pool = table["success"].astype(bool) & (table["method"] == method)
    pool &= table["k"].between(1, k)
    pool &= np.isclose(table["factor"].to_numpy()[:, None], factors[None, :]).any(axis=1)
    scores = table["pass"].to_numpy()
    members = {}
    for low, high in zip(edges[:-1], edges[1:], strict=True):
        upper = scores <= high if high >= 1.0 else scores < high
        members[bucket_name(low, high)] = np.flatnonzero(pool.to_numpy() & (scores >= low) & upper)
    smallest = min(len(rows) for rows in members.values())
    count = smallest if per_bucket is None else min(per_bucket, smallest)
    rng = np.random.default_rng(seed)
    return {name: np.sort(rng.choice(rows, count, replace=False)) for name, rows in members.items()}


def sample_heldout(
    tables: dict[int, pd.DataFrame],
    *,
    types: Iterable[str],
    per_type: int,
    seed: int,
    delta: float = 0.0,
) -> pd.DataFrame:
    """Up to ``per_type`` adversarials of each type, pooled over the base nets' tables.

    ``tables`` maps a base net id to its test-split table (all families concatenated,
    with a ``row`` column locating the image in that net's arrays). A type's images are the
    successful rows at its factor x (1 + ``delta``) (:func:`heldout_factor`); ``type``
    names them by the type (``FGS`` at 1.2 s_min is still ``FGS``). Rows are drawn without
    replacement with a seeded generator; the result keeps ``net`` and ``type``.
    """
    pooled = []
    for net, table in sorted(tables.items()):
        part = table[table["success"].astype(bool)].copy()
        part["net"] = net
        pooled.append(part)
    pool = pd.concat(pooled, ignore_index=True)
    family, k = pool["method"].to_numpy(), pool["k"].astype(int).to_numpy()
    factor = pool["factor"].astype(float).to_numpy()
    rng = np.random.default_rng(seed)
    chosen = []
    for name in types:
        want_family, want_k, want_factor = parse_type(name)
        at = heldout_factor(want_factor, delta)
        rows = np.flatnonzero(
            (family == want_family) & (k == want_k) & np.isclose(factor, at, rtol=0, atol=1e-6)
        )
        if len(rows) == 0:
            raise InputError(
                f"held-out type {name!r} at {at:g} x s_min (delta {delta:g}): no successful "
                "adversarial was generated"
            )
        take = np.sort(rng.choice(rows, min(per_type, len(rows)), replace=False))
        picked = pool.iloc[take].copy()
        picked["type"] = name
        chosen.append(picked)
    return pd.concat(chosen, ignore_index=True)
