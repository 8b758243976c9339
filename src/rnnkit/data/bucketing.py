"""A batch sampler that puts sequences of similar length together, to waste less padding."""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import Sampler


def _check_positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return int(value)


class BucketBatchSampler(Sampler[list[int]]):
    """Yield batches of dataset indices whose sequences have similar lengths.

    Use it as ``DataLoader(dataset, batch_sampler=sampler, collate_fn=...)``. Every index
    appears exactly once per epoch (unless ``drop_last`` drops incomplete batches), and the
    order of the batches is shuffled, so the model does not see all short sequences first.

    Three ways of grouping, chosen by the arguments:

    * ``bucket_boundaries=[10, 20, 40]``: explicit buckets as in the TensorFlow seq2seq
      tutorial. Bucket ``i`` holds lengths ``<= boundaries[i]`` (and above the previous
      boundary); lengths above the last boundary form one more bucket. Batches never mix
      buckets, so each bucket ends with its own possibly incomplete batch.
    * ``num_buckets=k``: the same, with boundaries at the length quantiles so the buckets
      have about equally many sequences.
    * neither (the default): shuffle, cut into pools of ``pool_size`` batches, sort each pool
      by length and cut it into batches. Only the very last batch can be incomplete.

    Randomness: with an integer ``seed`` the order is a function of ``seed`` and the epoch
    set by :meth:`set_epoch` (call it at the start of every epoch, as with
    :class:`~torch.utils.data.distributed.DistributedSampler`); with ``seed=None`` each pass
    draws a fresh seed from torch's global generator, like
    :class:`~torch.utils.data.RandomSampler`.

    Args:
        lengths: Length of each sequence of the dataset, in dataset order.
        batch_size: Maximum number of sequences per batch.
        bucket_boundaries: Increasing inclusive upper bounds of the buckets.
        num_buckets: Number of quantile buckets (exclusive with ``bucket_boundaries``).
        shuffle: Shuffle within buckets/pools and shuffle the batch order. If false the order
            is fixed: buckets (or pools) in turn, each sorted by length.
        drop_last: Drop incomplete batches.
        seed: Base seed, or ``None`` to follow torch's global generator.
        pool_size: Batches per sorting pool when no buckets are given.

    Raises:
        ValueError: For empty or negative lengths, non-positive sizes, non-increasing
            boundaries, or both ``bucket_boundaries`` and ``num_buckets``.
    """

    def __init__(
        self,
        lengths: Sequence[int] | np.ndarray | torch.Tensor,
        batch_size: int,
        *,
        bucket_boundaries: Sequence[int] | None = None,
        num_buckets: int | None = None,
        shuffle: bool = True,
        drop_last: bool = False,
        seed: int | None = None,
        pool_size: int = 100,
    ) -> None:
        lengths_arr = np.asarray(lengths)
        if lengths_arr.ndim != 1 or lengths_arr.size == 0:
            raise ValueError(
                f"lengths must be a non-empty 1-D sequence, got shape {lengths_arr.shape}"
            )
        if not np.issubdtype(lengths_arr.dtype, np.integer):
            raise ValueError(f"lengths must be integers, got dtype {lengths_arr.dtype}")
        if (lengths_arr < 0).any():
            bad = int(np.flatnonzero(lengths_arr < 0)[0])
            raise ValueError(f"lengths[{bad}] = {int(lengths_arr[bad])} is negative")
        self.batch_size = _check_positive_int("batch_size", batch_size)
        self.pool_size = _check_positive_int("pool_size", pool_size)
        if bucket_boundaries is not None and num_buckets is not None:
            raise ValueError("give either bucket_boundaries or num_buckets, not both")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
            raise ValueError(f"seed must be an int or None, got {seed!r}")
        super().__init__()

        self.lengths = lengths_arr.astype(np.int64)
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.seed = None if seed is None else int(seed)
        self.epoch = 0

        self.boundaries: tuple[int, ...] | None
        if bucket_boundaries is not None:
            self.boundaries = self._check_boundaries(bucket_boundaries)
        elif num_buckets is not None:
            k = _check_positive_int("num_buckets", num_buckets)
            # "inverted_cdf" picks actual lengths, so each boundary is attained by some item.
            qs = np.quantile(self.lengths, np.arange(1, k) / k, method="inverted_cdf")
            self.boundaries = tuple(int(b) for b in np.unique(qs))
        else:
            self.boundaries = None

        self._buckets: list[np.ndarray] | None = None
        if self.boundaries is not None:
            bucket_of = np.searchsorted(np.asarray(self.boundaries), self.lengths, side="left")
            self._buckets = [
                np.flatnonzero(bucket_of == b) for b in range(len(self.boundaries) + 1)
            ]

    @staticmethod
    def _check_boundaries(boundaries: Sequence[int]) -> tuple[int, ...]:
        values = tuple(boundaries)
        if not values:
            raise ValueError("bucket_boundaries must not be empty")
        for b in values:
            if isinstance(b, bool) or not isinstance(b, (int, np.integer)) or b < 1:
                raise ValueError(f"bucket boundaries must be positive ints, got {b!r}")
        if any(a >= b for a, b in itertools.pairwise(values)):
            raise ValueError(f"bucket_boundaries must be strictly increasing, got {list(values)}")
        return tuple(int(b) for b in values)

    def set_epoch(self, epoch: int) -> None:
        """Set the epoch, which together with ``seed`` determines the order of the next pass."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        round_ = math.floor if self.drop_last else math.ceil
        if self._buckets is None:
            return round_(len(self.lengths) / self.batch_size)
        return sum(round_(len(b) / self.batch_size) for b in self._buckets)

    def _generator(self) -> torch.Generator:
        if self.seed is None:
            seed = int(torch.empty((), dtype=torch.int64).random_().item())
        else:
            seed = self.seed + self.epoch
        return torch.Generator().manual_seed(seed)

    def _cut(self, indices: np.ndarray) -> list[np.ndarray]:
        batches = [
            indices[i : i + self.batch_size] for i in range(0, len(indices), self.batch_size)
        ]
        if self.drop_last and batches and len(batches[-1]) < self.batch_size:
            batches.pop()
        return batches

    def _sorted(self, indices: np.ndarray) -> np.ndarray:
        # Stable, so equal lengths keep their (shuffled) order and ties stay random.
        return indices[np.argsort(self.lengths[indices], kind="stable")]

    def __iter__(self) -> Iterator[list[int]]:
        g = self._generator() if self.shuffle else None

        def permute(indices: np.ndarray) -> np.ndarray:
            if g is None:
                return indices
            return indices[torch.randperm(len(indices), generator=g).numpy()]

        batches: list[np.ndarray] = []
        if self._buckets is None:
            order = permute(np.arange(len(self.lengths)))
            pool = self.pool_size * self.batch_size
            # Pools hold a whole number of batches, so only the last pool can end short.
            for start in range(0, len(order), pool):
                batches.extend(self._cut(self._sorted(order[start : start + pool])))
        else:
            for bucket in self._buckets:
                members = permute(bucket) if g is not None else self._sorted(bucket)
                batches.extend(self._cut(members))
        for i in permute(np.arange(len(batches))):
            yield batches[i].tolist()


def pooled_batches(
    lengths: Sequence[int], batch_size: int, generator: torch.Generator
) -> BucketBatchSampler:
    """This pass's batches of similar lengths (pools of 50 batches), in an order drawn from
    ``generator`` (a trainer's data-order generator: a checkpoint then holds the order)."""
    seed = int(torch.randint(2**31 - 1, (1,), generator=generator))
    return BucketBatchSampler(lengths, batch_size, seed=seed, pool_size=50)
