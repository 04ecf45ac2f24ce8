"""hardpos.similarity.torch_backend: the batched SSIM against the float64 reference."""

from __future__ import annotations

import numpy as np
import pytest

from hardpos.similarity import ssim


@pytest.mark.parametrize("channels", [1, 3])
def test_fast_ssim_equals_the_float64_reference_in_float64_and_within_float32_rounding(
    channels,
):
    import torch

    from hardpos.similarity.torch_backend import ssim_scores

    rng = np.random.default_rng(11)
    a = rng.integers(0, 256, (6, channels, 28, 28)).astype(np.float64)
    b = np.clip(a + rng.normal(0, 40, a.shape), 0, 255)
    b[0] = a[0]  # identical pair: exactly 1
    b[1] = 0.0  # blank against a digit-like image
    expected = np.array([ssim(x, y) for x, y in zip(a, b, strict=True)])
    exact = ssim_scores(torch.from_numpy(a), torch.from_numpy(b)).numpy()
    np.testing.assert_allclose(exact, expected, atol=1e-10)
    single = ssim_scores(torch.from_numpy(a).float(), torch.from_numpy(b).float()).numpy()
    np.testing.assert_allclose(single, expected, atol=1e-5)
