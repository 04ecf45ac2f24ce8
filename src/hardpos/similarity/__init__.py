"""PASS, the perceptual adversarial similarity score (Rozsa et al. 2016, section 3).

PASS(x~, x) = SSIM(psi(x~, x), x) (eq. 4): the adversarial image x~ is first aligned onto
the original x by the ECC homography psi (eq. 1), so that small shifts, rotations and
perspective changes, which a human still sees as the same image, cost nothing; SSIM
(eqs. 2-3) then measures what is left. Eq. 5 turns PASS into the definition of an
adversarial: misclassified and PASS >= tau (:mod:`hardpos.similarity.eq5`).
"""

from hardpos.similarity.eq5 import meets_eq5
from hardpos.similarity.generated import filter_by_tau, score_generated
from hardpos.similarity.scoring import (
    BACKENDS,
    VALIDATED_SIZES,
    PassResult,
    l2_per_pixel,
    linf,
    pass_score,
)
from hardpos.similarity.ssim import ssim, ssim_map

__all__ = [
    "BACKENDS",
    "VALIDATED_SIZES",
    "PassResult",
    "filter_by_tau",
    "l2_per_pixel",
    "linf",
    "meets_eq5",
    "pass_score",
    "score_generated",
    "ssim",
    "ssim_map",
]
