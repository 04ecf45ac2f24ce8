"""Robustness under strong attacks: the measures researchers use today, beside the paper's.

The paper measures robustness on a held-out set of its own minimal adversarials. This
package measures it the way adversarial-robustness work does since Madry et al. (2018):
robust accuracy under an L-infinity attack at fixed budgets (:func:`robust_accuracy`) and
the smallest perturbation a minimum-norm attack needs (:func:`minimal_norms`), both
computed with adv-lib (Rony et al.), a library kept for this, not with an attack of ours.

Budgets and norms are on the [0, 1] scale that the literature uses (L-inf 0.3 = 76.5 grey
levels); the networks here take pixels in [0, 255], so they are wrapped by
:class:`UnitInterval` for the library.
"""

from hardpos.robustness.budget import BudgetAttack, robust_accuracy
from hardpos.robustness.minimal_norm import MinimalNormAttack, minimal_norms
from hardpos.robustness.record import robustness_record
from hardpos.robustness.unit_interval import UnitInterval

__all__ = [
    "BudgetAttack",
    "MinimalNormAttack",
    "UnitInterval",
    "minimal_norms",
    "robust_accuracy",
    "robustness_record",
]
