"""Batching helpers: the bucketing batch sampler and padding."""

from rnnkit.data.bucketing import BucketBatchSampler
from rnnkit.data.padding import Seq2SeqBatch, collate_pairs, pad_sequences

__all__ = ["BucketBatchSampler", "Seq2SeqBatch", "collate_pairs", "pad_sequences"]
