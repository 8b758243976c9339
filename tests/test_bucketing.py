"""Tests of rnnkit.data.bucketing."""

from __future__ import annotations

import itertools
import math
from functools import partial

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from rnnkit.data.bucketing import BucketBatchSampler
from rnnkit.data.padding import pad_sequences

RNG = np.random.default_rng(0)
LENGTHS = RNG.integers(1, 101, size=1000).tolist()


def _waste(batches: list[list[int]], lengths: list[int]) -> float:
    """Fraction of the padded batch tensors that is padding."""
    padded = sum(max(lengths[i] for i in b) * len(b) for b in batches)
    return 1.0 - sum(lengths[i] for b in batches for i in b) / padded


def _epoch(sampler: BucketBatchSampler, epoch: int = 0) -> list[list[int]]:
    sampler.set_epoch(epoch)
    return list(sampler)


SAMPLERS = {
    "pool": dict(),
    "boundaries": dict(bucket_boundaries=list(range(10, 100, 10))),
    "quantiles": dict(num_buckets=8),
}


@pytest.mark.parametrize("mode", SAMPLERS)
@pytest.mark.parametrize("shuffle", [True, False])
def test_every_index_once_and_len(mode: str, shuffle: bool) -> None:
    sampler = BucketBatchSampler(LENGTHS, 32, shuffle=shuffle, seed=3, **SAMPLERS[mode])
    batches = _epoch(sampler)
    assert len(batches) == len(sampler)
    assert sorted(i for b in batches for i in b) == list(range(len(LENGTHS)))
    assert all(1 <= len(b) <= 32 for b in batches)
    assert all(isinstance(i, int) for b in batches for i in b)


@pytest.mark.parametrize("mode", SAMPLERS)
def test_drop_last(mode: str) -> None:
    sampler = BucketBatchSampler(LENGTHS, 32, drop_last=True, seed=0, **SAMPLERS[mode])
    batches = _epoch(sampler)
    assert len(batches) == len(sampler)
    assert all(len(b) == 32 for b in batches)
    seen = [i for b in batches for i in b]
    assert len(seen) == len(set(seen))


def test_len_of_pool_mode() -> None:
    assert len(BucketBatchSampler(LENGTHS, 32)) == math.ceil(1000 / 32)
    assert len(BucketBatchSampler(LENGTHS, 32, drop_last=True)) == 1000 // 32


def test_explicit_boundaries_are_inclusive_upper_bounds() -> None:
    lengths = [3, 5, 6, 10, 11, 100]
    sampler = BucketBatchSampler(lengths, 10, bucket_boundaries=[5, 10], shuffle=False)
    assert list(sampler) == [[0, 1], [2, 3], [4, 5]]
    assert sampler.boundaries == (5, 10)


def test_quantile_buckets_are_balanced() -> None:
    sampler = BucketBatchSampler(LENGTHS, 32, num_buckets=4)
    assert len(sampler.boundaries) == 3
    edges = [0, *sampler.boundaries, max(LENGTHS)]
    sizes = [sum(lo < n <= hi for n in LENGTHS) for lo, hi in itertools.pairwise(edges)]
    assert all(200 <= n <= 300 for n in sizes)


@pytest.mark.parametrize("mode", SAMPLERS)
def test_padding_waste_much_lower_than_random_batching(mode: str) -> None:
    sampler = BucketBatchSampler(LENGTHS, 32, seed=0, **SAMPLERS[mode])
    perm = torch.randperm(len(LENGTHS), generator=torch.Generator().manual_seed(0)).tolist()
    random_batches = [perm[i : i + 32] for i in range(0, len(perm), 32)]
    random_waste = _waste(random_batches, LENGTHS)
    assert random_waste > 0.4  # uniform lengths in 1..100, batch 32
    assert _waste(_epoch(sampler), LENGTHS) < random_waste / 3


def test_determinism_and_set_epoch() -> None:
    a = BucketBatchSampler(LENGTHS, 16, seed=7)
    b = BucketBatchSampler(LENGTHS, 16, seed=7)
    assert _epoch(a, 0) == _epoch(b, 0)
    assert list(a) == list(a)  # same epoch, same order
    assert _epoch(a, 1) != _epoch(a, 0)
    assert _epoch(a, 1) == _epoch(b, 1)
    assert _epoch(BucketBatchSampler(LENGTHS, 16, seed=8), 0) != _epoch(b, 0)


def test_seed_none_follows_global_generator() -> None:
    sampler = BucketBatchSampler(LENGTHS, 16, num_buckets=4)
    torch.manual_seed(1)
    first = list(sampler)
    second = list(sampler)
    torch.manual_seed(1)
    assert list(sampler) == first
    assert second != first  # a fresh order every pass


def test_batch_order_is_shuffled_not_sorted() -> None:
    sampler = BucketBatchSampler(LENGTHS, 32, seed=0)
    maxima = [max(LENGTHS[i] for i in b) for b in _epoch(sampler)]
    assert maxima != sorted(maxima)


def test_no_shuffle_is_sorted_within_each_pool() -> None:
    sampler = BucketBatchSampler(LENGTHS, 10, shuffle=False, pool_size=1000)
    flat = [LENGTHS[i] for b in sampler for i in b]
    assert flat == sorted(LENGTHS)


def test_with_dataloader() -> None:
    data = [list(range(1, n + 1)) for n in LENGTHS[:200]]
    sampler = BucketBatchSampler([len(s) for s in data], 20, seed=0, num_buckets=5)
    loader = DataLoader(data, batch_sampler=sampler, collate_fn=partial(pad_sequences))
    total = 0
    for padded, lengths in loader:
        assert padded.shape == (len(lengths), int(lengths.max()))
        total += len(lengths)
    assert total == 200
    assert len(loader) == len(sampler)


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        (([], 4), {}, "non-empty 1-D"),
        (([[1, 2]], 4), {}, "non-empty 1-D"),
        (([1.5, 2.0], 4), {}, "must be integers"),
        (([3, -1], 4), {}, r"lengths\[1\] = -1 is negative"),
        (([3, 4], 0), {}, "batch_size must be a positive int"),
        (([3, 4], 2), {"bucket_boundaries": [5], "num_buckets": 2}, "not both"),
        (([3, 4], 2), {"bucket_boundaries": [5, 5]}, "strictly increasing"),
        (([3, 4], 2), {"bucket_boundaries": []}, "must not be empty"),
        (([3, 4], 2), {"bucket_boundaries": [0, 4]}, "positive ints"),
        (([3, 4], 2), {"num_buckets": 0}, "num_buckets must be a positive int"),
        (([3, 4], 2), {"seed": 1.5}, "seed must be an int"),
    ],
)
def test_validation(args: tuple, kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        BucketBatchSampler(*args, **kwargs)


def test_accepts_tensor_and_array_lengths() -> None:
    for lengths in (torch.tensor([3, 1, 2]), np.array([3, 1, 2])):
        sampler = BucketBatchSampler(lengths, 2, shuffle=False)
        assert list(sampler) == [[1, 2], [0]]


def test_seeded_batches_with_lengths_group_similar_lengths_from_the_trainer_generator() -> None:
    """:class:`~rnnkit.data.batches.Batches` given lengths (what classify's ``--bucket``
    passes): every example once a pass, little padding, the order a function of the
    generator's state (so a checkpoint holds it), a fresh order each pass."""
    from rnnkit.data.batches import Batches

    lengths = torch.randint(1, 60, (1000,), generator=torch.Generator().manual_seed(0)).tolist()

    def passes(seed: int, bucket: bool) -> list[list[list[int]]]:
        generator = torch.Generator().manual_seed(seed)
        batches = Batches(1000, 32, list, generator, lengths if bucket else None)
        return [list(batches), list(batches)]

    def padded(batches: list[list[int]]) -> int:
        return sum(max(lengths[i] for i in b) * len(b) for b in batches)

    first, second = passes(1, bucket=True)
    assert sorted(itertools.chain(*first)) == list(range(1000)) and first != second
    assert passes(1, bucket=True) == [first, second]
    plain = passes(1, bucket=False)[0]
    assert padded(first) < 0.6 * padded(plain)  # random batches of 1-59 pad to near 59
    assert sum(lengths) / padded(first) > 0.9
    unseeded = Batches(1000, 32, list, None, lengths)  # evaluation: file order, no bucketing
    assert list(itertools.chain(*unseeded)) == list(range(1000))
