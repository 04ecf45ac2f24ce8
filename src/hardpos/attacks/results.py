"""What an attack returns: the table's columns, the result object and its summary."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from hardpos.attacks.search import REASONS
from hardpos.errors import InputError

# column -> dtype of the table returned by generate
COLUMNS: dict[str, str] = {
    "source": "int64",  # index of the original image in the input
    "label": "int64",  # its label y (the model classifies it as y)
    "method": "object",  # fgs, fgv, hc-d, hc-s
    "k": "int64",  # hot rank (1 = closest scoring class); 0 for fgs/fgv
    "hot": "int64",  # hot class id; -1 for fgs/fgv
    "factor": "float64",  # hard-positive factor c (1.0: the minimal adversarial)
    "step": "float64",  # scale applied: c * s_min (failures: the largest scale tried)
    "s_min": "float64",  # smallest adversarial scale on the grid (NaN on failure)
    "adv_label": "int64",  # the model's label of the returned image
    "hot_reached": "bool",  # adv_label == hot
    "l2_per_pixel": "float64",  # ||x~ - x||_2 / m on the [0, 255] scale, m = C*H*W
    "linf": "float64",  # max |x~ - x| on the [0, 255] scale
    "success": "bool",  # the returned image is misclassified (adv_label != label)
    "reason": "object",  # why not: zero_direction, saturated, max_scale, not_misclassified
    "evals": "int64",  # model evaluations of the direction's search (factor != 1: +1 each)
}


def empty_table() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in COLUMNS.items()})


@dataclass
class AttackResult:
    """What :func:`generate` returns; unpacks like the pair ``images, table``.

    ``images``: ``[M, C, H, W]``, one per table row, in the caller's dtype and range.
    ``table``: one row per (attacked source, direction, factor), columns :data:`COLUMNS`.
    ``sources``: images given; ``misclassified``: indices of the sources the model did
    not classify as their label before the attack (not attacked, no rows); every other
    source is attacked and has rows.

    A direction without an adversarial up to the cap has ``success`` False, ``s_min``
    NaN, ``step`` the largest scale tried and, as its image, the one at that scale
    (classified as the label). For ``factor != 1``, ``success`` means the scaled image is
    still misclassified (``reason`` ``not_misclassified`` otherwise).
    """

    images: np.ndarray
    table: pd.DataFrame
    sources: int
    misclassified: np.ndarray

    def __iter__(self):
        return iter((self.images, self.table))

    def __getitem__(self, index):
        return (self.images, self.table)[index]

    def __len__(self) -> int:
        return 2

    @property
    def attacked(self) -> int:
        return self.sources - len(self.misclassified)

    @property
    def summary(self) -> dict[str, int]:
        """Counts: sources given, attacked, misclassified before the attack, table rows,
        successful rows."""
        return {
            "sources": self.sources,
            "attacked": self.attacked,
            "misclassified": len(self.misclassified),
            "rows": len(self.table),
            "successes": int(self.table["success"].sum()),
        }


def summarize(table: pd.DataFrame, by: Sequence[str] = ("method", "factor")) -> pd.DataFrame:
    """Per method (and factor): rows, successes, failures, success rate, how often the hot
    class was reached, mean evaluations per direction, and the medians of L2 per pixel,
    L-infinity and s_min over the successful rows; failures counted by reason."""
    by = list(by)
    missing = [c for c in [*by, "success", "l2_per_pixel", "linf"] if c not in table]
    if missing:
        raise InputError(f"table lacks columns {missing}; columns: {list(table.columns)}")
    rows = []
    for key, group in table.groupby(by, sort=False):
        key = key if isinstance(key, tuple) else (key,)
        ok = group["success"].astype(bool)
        good = group[ok]
        row = dict(zip(by, key, strict=True))
        row.update(
            rows=len(group),
            successes=int(ok.sum()),
            failures=int((~ok).sum()),
            success_rate=float(ok.mean()) if len(group) else float("nan"),
            hot_reached=float(good["hot_reached"].mean())
            if "hot_reached" in good and len(good)
            else float("nan"),
            median_l2_per_pixel=float(good["l2_per_pixel"].median()),
            median_linf=float(good["linf"].median()),
        )
        if "s_min" in good:
            row["median_s_min"] = float(good["s_min"].median())
        if "evals" in group:
            row["mean_evals"] = float(group["evals"].mean())
        if "reason" in group:
            for name in REASONS[1:] + ("not_misclassified",):
                row[f"failed_{name}"] = int((group["reason"] == name).sum())
        rows.append(row)
    return pd.DataFrame(rows)
