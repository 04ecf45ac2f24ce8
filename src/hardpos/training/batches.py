"""Seeded orderings of the training data into batches, as Caffe's shuffled data layer."""

from __future__ import annotations

import torch

from hardpos.errors import InputError


class BatchOrder:
    """Seeded, resumable order of training examples (see the module docstring)."""

    def __init__(self, n: int, seed: int, batch_size: int) -> None:
        if n < 1:
            raise InputError("training set is empty")
        self.n, self.seed, self.batch_size = n, int(seed), int(batch_size)
        self._epoch, self._perm = -1, torch.empty(0, dtype=torch.int64)

    def _permutation(self, epoch: int) -> torch.Tensor:
        if epoch != self._epoch:
            generator = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
            self._epoch, self._perm = epoch, torch.randperm(self.n, generator=generator)
        return self._perm

    def indices(self, iteration: int) -> torch.Tensor:
        """Example indices of batch ``iteration``."""
        start = iteration * self.batch_size
        parts, taken = [], 0
        while taken < self.batch_size:
            epoch, offset = divmod(start + taken, self.n)
            chunk = self._permutation(epoch)[offset : offset + self.batch_size - taken]
            parts.append(chunk)
            taken += len(chunk)
        return parts[0] if len(parts) == 1 else torch.cat(parts)


class MixedBatchOrder:
    """Batches with a fixed share of "extra" examples (fine-tuning on original + adversarial).

    The examples ``[0, n_original)`` and ``[n_original, n_original + n_extra)`` are two
    pools, each with its own seeded stream; batch ``i`` takes ``round(fraction * B)`` from
    the extra pool and the rest from the original pool, so the mixing ratio holds in every
    batch however large either pool is.
    """

    def __init__(self, n_original: int, n_extra: int, fraction: float, seed: int, batch_size: int):
        if not 0.0 < fraction < 1.0:
            raise InputError(f"mixing fraction must lie strictly between 0 and 1, got {fraction}")
        if n_extra < 1:
            raise InputError("mixing asked for, but the extra (adversarial) training set is empty")
        self.n_extra_batch = max(1, min(batch_size - 1, round(fraction * batch_size)))
        self.original = BatchOrder(n_original, seed, batch_size - self.n_extra_batch)
        self.extra = BatchOrder(n_extra, seed + 7_919, self.n_extra_batch)
        self.n_original = n_original

    def indices(self, iteration: int) -> torch.Tensor:
        return torch.cat(
            [self.original.indices(iteration), self.extra.indices(iteration) + self.n_original]
        )
