"""Losses for token-predicting structures: masked sequence loss and sampled softmax."""

from rnnkit.losses.sampled_softmax import SampledSoftmax, proposal_log_probs, sample_classes
from rnnkit.losses.sequence_loss import lengths_to_mask, lengths_to_weights, sequence_loss

__all__ = [
    "SampledSoftmax",
    "lengths_to_mask",
    "lengths_to_weights",
    "proposal_log_probs",
    "sample_classes",
    "sequence_loss",
]
