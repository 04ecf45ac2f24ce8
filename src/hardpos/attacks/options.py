"""The attack's options and their defaults, in one place.

:func:`hardpos.attacks.generate`'s keywords and ``hardpos attack``'s defaults are
:data:`DEFAULTS` (the workflow's stage passes only what the config sets);
:class:`AttackOptions` checks a set of them once and hands the line search its
:class:`SearchOptions`. Importing this module needs neither torch nor OpenCV (the command
line builds its help from it).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields

import numpy as np

from hardpos.attacks.methods import Direction, parse_methods
from hardpos.errors import InputError

PIXEL_RANGE = (0.0, 255.0)  # uint8 pixel values: what hardpos's own nets take


@dataclass(frozen=True)
class SearchOptions:
    """Knobs of the line search (scales in grey levels; see :mod:`hardpos.attacks.search`)."""

    start: float = 16.0
    max_scale: float = 255.0
    min_growth: float = 1.0
    max_growth: float = 8.0
    overshoot: float = 1.1

    def check(self) -> None:
        for name in ("start", "max_scale"):
            value = getattr(self, name)
            if not (np.isfinite(value) and value > 0):
                raise InputError(f"{name} must be a positive number; got {value!r}")
        if not (1.0 <= self.min_growth < self.max_growth and np.isfinite(self.max_growth)):
            raise InputError(
                f"growth factors must satisfy 1 <= min_growth < max_growth; got "
                f"{self.min_growth!r}, {self.max_growth!r}"
            )
        if not (np.isfinite(self.overshoot) and self.overshoot >= 1.0):
            raise InputError(f"overshoot must be at least 1; got {self.overshoot!r}")


@dataclass(frozen=True)
class AttackOptions:
    """What :func:`hardpos.attacks.generate` does besides its inputs (see its docstring).

    The line-search knobs default to :class:`SearchOptions`' own values.
    """

    methods: str | Sequence[str] = ("fgs", "fgv", "hc-d-9")
    factors: Sequence[float] = (1.0,)
    batch_size: int | str = 4096
    forward_batch: int | None = None
    device: object = None
    input_range: Sequence[float] = PIXEL_RANGE
    mean: object = None
    std: object = None
    progress: bool | None = None
    max_scale: float = SearchOptions.max_scale
    start: float = SearchOptions.start
    min_growth: float = SearchOptions.min_growth
    max_growth: float = SearchOptions.max_growth
    overshoot: float = SearchOptions.overshoot

    @classmethod
    def from_keywords(cls, options: dict) -> AttackOptions:
        """Options from keywords; an unknown one is an :class:`InputError` naming it."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(options) - known)
        if unknown:
            raise InputError(f"unknown option(s) {unknown}; expected some of {sorted(known)}")
        return cls(**options)

    def search(self) -> SearchOptions:
        """The line search's options, checked."""
        try:
            values = {
                name: float(getattr(self, name))
                for name in ("start", "max_scale", "min_growth", "max_growth", "overshoot")
            }
        except (TypeError, ValueError) as exc:
            raise InputError(f"search options must be numbers ({exc})") from None
        options = SearchOptions(**values)
        options.check()
        return options

    def directions(self) -> list[Direction]:
        return parse_methods(self.methods)

    def factor_list(self) -> list[float]:
        return check_factors(self.factors)

    def range(self) -> tuple[float, float]:
        return check_range(self.input_range)

    def check_batches(self) -> None:
        from hardpos.device import is_batch_size

        if not is_batch_size(self.batch_size):
            raise InputError(
                f'batch_size must be a positive integer or "auto"; got {self.batch_size!r}'
            )
        forward = self.forward_batch
        if forward is not None and (forward == "auto" or not is_batch_size(forward)):
            raise InputError(f"forward_batch must be a positive integer; got {forward!r}")


DEFAULTS = AttackOptions()


def check_factors(
    factors: Iterable[float], *, allow_shrink: bool = True, where: str = "factors"
) -> list[float]:
    """Hard-positive factors as floats without repeats, each finite and > 0; unless
    ``allow_shrink``, each >= 1 too (below 1 the image is scaled back towards the original
    and is no longer adversarial: the workflow and the command line refuse it)."""
    try:
        values = [float(f) for f in factors]
    except (TypeError, ValueError):
        raise InputError(f"{where}: factors must be numbers; got {factors!r}") from None
    if not values:
        raise InputError(f"{where}: factors is empty: give at least 1.0 (the minimal adversarial)")
    for value in values:
        if not (np.isfinite(value) and value > 0):
            raise InputError(f"{where}: factor {value!r} must be a positive number (1.0: minimal)")
        if value < 1.0 and not allow_shrink:
            raise InputError(
                f"{where}: factor {value!r} is below 1, which scales the minimal adversarial "
                "back towards the original (no longer adversarial); use factors >= 1, or "
                "allow it explicitly (--allow-shrink)"
            )
    return list(dict.fromkeys(values))


def check_range(input_range: Sequence[float]) -> tuple[float, float]:
    """``(low, high)`` as floats, finite and increasing."""
    try:
        low, high = (float(v) for v in input_range)
    except (TypeError, ValueError):
        raise InputError(
            f"input_range must be two numbers (low, high) such as (0, 1); got {input_range!r}"
        ) from None
    if not (np.isfinite(low) and np.isfinite(high) and low < high):
        raise InputError(f"input_range must satisfy low < high (finite); got {input_range!r}")
    return low, high
