"""Checks on attack options, shared by the command line and the workflow config.

``hardpos attack --factors 0.5`` and a config's ``factor: 0.5`` are the same mistake, so
both go through these functions and get the same refusal. Each takes ``where`` (the
option or config key the value came from) so that its message names it. The factor
check is the library's own (:func:`hardpos.attacks.options.check_factors`, with factors
below 1 refused). Nothing here loads torch: the workflow's config validation runs it
when Snakemake builds the DAG.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from hardpos.attacks.methods import parse_methods
from hardpos.attacks.options import check_factors
from hardpos.errors import InputError

if TYPE_CHECKING:
    from hardpos.attacks.methods import Direction

# the paper's PASS threshold tau is a value of SSIM, which lies in [-1, 1]
TAU_RANGE = (-1.0, 1.0)


def check_hot_rank(k: int, *, classes: int, where: str = "k") -> int:
    """A hot rank 1..classes-1: the k-th closest scoring class other than the label."""
    if isinstance(k, bool) or int(k) != k or not 1 <= int(k) <= classes - 1:
        raise InputError(
            f"{where}: hot rank {k!r} is not possible with {classes} classes "
            f"(allowed: 1..{classes - 1}, the classes other than the label)"
        )
    return int(k)


def check_methods(
    methods: str | Iterable[str], *, classes: int | None = None, where: str = "methods"
) -> list[Direction]:
    """The directions ``methods`` names (:func:`parse_methods`), each hot rank allowed by
    ``classes`` when it is known."""
    try:
        directions = parse_methods(methods)
    except InputError as exc:
        raise InputError(f"{where}: {exc}") from None
    if classes is None:
        return directions
    for direction in directions:
        if direction.k:
            check_hot_rank(direction.k, classes=classes, where=f"{where} ({direction.name})")
    return directions


def check_tau(tau: float | None, *, where: str = "tau") -> float | None:
    """A PASS threshold in [-1, 1] (None: no threshold)."""
    if tau is None:
        return None
    low, high = TAU_RANGE
    try:
        value = float(tau)
    except (TypeError, ValueError):
        raise InputError(f"{where}: tau must be a number in [{low}, {high}]; got {tau!r}") from None
    if not low <= value <= high:
        raise InputError(f"{where}: tau {value!r} is outside [{low:g}, {high:g}] (PASS is an SSIM)")
    return value


def check_recipe(
    method: str,
    *,
    k: int | None,
    factor: float | str | None,
    tau: float | None,
    classes: int,
    where: str = "recipe",
) -> None:
    """A fine-tuning recipe's method, hot rank, factor and tau combine into a real set:
    fgs/fgv have no hot rank, ``none`` (the clean control) takes no attack options."""
    if method == "none":
        given = [name for name, v in (("k", k), ("factor", factor), ("tau", tau)) if v is not None]
        if given:
            raise InputError(f"{where}: method none (clean images) takes no {', '.join(given)}")
        return
    if method in ("fgs", "fgv") and k not in (None, 1):
        raise InputError(f"{where}: k applies to hc-d and hc-s only (k {k!r} given for {method})")
    if method in ("hc-d", "hc-s") and k is not None:
        check_hot_rank(k, classes=classes, where=f"{where}, k")
    if factor == "frontier":
        if tau is None:
            raise InputError(f"{where}: factor: frontier needs tau (the PASS each image must keep)")
    elif factor is not None:
        check_factors([factor], allow_shrink=False, where=f"{where}, factor")
    check_tau(tau, where=f"{where}, tau")
