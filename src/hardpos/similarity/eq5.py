"""The paper's eq. 5: what counts as an adversarial. Numpy only, so the workflow's DAG
(recipes choose their images by it) reads it without loading torch or OpenCV."""

from __future__ import annotations

import numpy as np


def meets_eq5(misclassified, scores, tau: float) -> np.ndarray:
    """An image counts as adversarial when it is misclassified and its PASS is >= tau
    (a NaN score does not count), elementwise over arrays or Series."""
    return np.asarray(misclassified, dtype=bool) & (np.asarray(scores, dtype=np.float64) >= tau)
