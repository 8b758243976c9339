"""Losses for token-predicting structures: masked sequence loss and sampled softmax; and
adversarial training on embedded tokens."""

from rnnkit.losses.adversarial import adversarial_loss
from rnnkit.losses.sampled_softmax import SampledSoftmax, proposal_log_probs, sample_classes
from rnnkit.losses.sequence_loss import lengths_to_mask, lengths_to_weights, sequence_loss

__all__ = [
    "SampledSoftmax",
    "adversarial_loss",
    "lengths_to_mask",
    "lengths_to_weights",
    "proposal_log_probs",
    "sample_classes",
    "sequence_loss",
]
