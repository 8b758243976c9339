"""The sequence structures and their building blocks (CRF, attention)."""

from rnnkit.structures.attention import (
    ATTENTION_KINDS,
    Attention,
    BahdanauAttention,
    LuongAttention,
    make_attention,
    masked_softmax,
)
from rnnkit.structures.crf import (
    CRF,
    FORBIDDEN_SCORE,
    TransitionConstraints,
    bio_constraints,
    bio_transition_mask,
)

__all__ = [
    "ATTENTION_KINDS",
    "CRF",
    "FORBIDDEN_SCORE",
    "Attention",
    "BahdanauAttention",
    "LuongAttention",
    "TransitionConstraints",
    "bio_constraints",
    "bio_transition_mask",
    "make_attention",
    "masked_softmax",
]
