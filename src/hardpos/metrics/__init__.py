"""How well a classifier does: predictions, error rates, top-k errors, correct sources.

May import :mod:`hardpos.files`, :mod:`hardpos.errors` and :mod:`hardpos.device`.
"""

from hardpos.metrics.classification import error_rate, predict, topk_errors

__all__ = ["error_rate", "predict", "topk_errors"]
