"""Method names of the attack API and the directions they stand for.

=============  =====================================================================
name           directions per correctly classified image
=============  =====================================================================
``fgs``        1: sign of the loss gradient (Goodfellow et al.; the paper's FGS)
``fgv``        1: the loss gradient itself (the paper's FGV, eq. 6)
``hc-d-K``     K: hot/cold derivative directions HC-D-1 .. HC-D-K (section 4.2)
``hc-s-K``     K: their signs, HC-S-1 .. HC-S-K
``hc-d-kR``    1: HC-D-R alone (hot rank R only), e.g. ``hc-d-k3``
``hc-s-kR``    1: HC-S-R alone
=============  =====================================================================

Names are case-insensitive. Several names may be given; a direction named twice (e.g.
``hc-d-3`` and ``hc-d-k2``) is generated once, in the order of its first mention.

:data:`FAMILIES` is the one list of method families: the recipes
(:mod:`hardpos.experiments.recipes`), the workflow's wildcard and the config schema's
enums (checked by a test) all take it from here. This module needs no torch.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from hardpos.errors import InputError

FAMILIES = ("fgs", "fgv", "hc-d", "hc-s")
RANKED = ("hc-d", "hc-s")  # the hot/cold families, whose directions have a hot rank k
SIGNED = ("fgs", "hc-s")  # the families that take the sign of their gradient
_HC = re.compile(r"^(hc-[ds])-(k?)(\d+)$")


@dataclass(frozen=True)
class Direction:
    """One direction of one image: a family and, for hot/cold, the hot rank ``k`` (1 = the
    closest scoring class other than the label); ``k = 0`` for FGS and FGV."""

    method: str
    k: int = 0

    @property
    def sign(self) -> bool:
        """True when the direction is the sign of a gradient (FGS, HC-S)."""
        return self.method in SIGNED

    @property
    def gradient(self) -> int:
        """Which gradient the direction is made of: 0 the loss, k > 0 the hot/cold rank k."""
        return self.k

    @property
    def name(self) -> str:
        """``FGS``, ``FGV``, ``HC-D-3``, ``HC-S-1``: the paper's spelling."""
        return self.method.upper() if self.k == 0 else f"{self.method.upper()}-{self.k}"


def parse_methods(methods: str | Iterable[str]) -> list[Direction]:
    """The directions named by ``methods`` (a list of names or one comma-separated string)."""
    if isinstance(methods, str):
        methods = [m for m in methods.split(",")]
    out: dict[Direction, None] = {}
    names = list(methods)
    if not names:
        raise InputError("methods is empty: name at least one of fgs, fgv, hc-d-K, hc-s-K")
    for raw in names:
        if not isinstance(raw, str):
            raise InputError(f"method {raw!r} is not a string")
        name = raw.strip().lower()
        if name in FAMILIES and name not in RANKED:
            out[Direction(name)] = None
            continue
        match = _HC.match(name)
        if match is None:
            raise InputError(
                f"unknown method {raw!r}: expected fgs, fgv, hc-d-K or hc-s-K (ranks 1..K), "
                "or hc-d-kR / hc-s-kR (rank R alone)"
            )
        family, single, number = match.group(1), match.group(2), int(match.group(3))
        if number < 1:
            raise InputError(f"method {raw!r}: the hot rank must be at least 1")
        ranks = [number] if single else range(1, number + 1)
        for k in ranks:
            out[Direction(family, k)] = None
    return list(out)


def method_argument(family: str, k: int) -> str:
    """The method name of ``family`` with ranks 1..k: ``fgs``, ``fgv``, or ``hc-d-9``."""
    if family not in FAMILIES:
        raise InputError(f"unknown method family {family!r}; expected one of {FAMILIES}")
    return f"{family}-{k}" if family in RANKED else family
