"""The sequence structures and their building blocks (CRF, attention)."""

from rnnkit.structures.attention import (
    ATTENTION_KINDS,
    Attention,
    BahdanauAttention,
    LuongAttention,
    make_attention,
    masked_softmax,
)
from rnnkit.structures.classifier import SequenceClassifier
from rnnkit.structures.crf import (
    CRF,
    FORBIDDEN_SCORE,
    TransitionConstraints,
    bio_constraints,
    bio_transition_mask,
)
from rnnkit.structures.encoder import InputEncoder
from rnnkit.structures.generator import SequenceGenerator, shift_right
from rnnkit.structures.tagger import SequenceTagger

__all__ = [
    "ATTENTION_KINDS",
    "CRF",
    "FORBIDDEN_SCORE",
    "Attention",
    "BahdanauAttention",
    "InputEncoder",
    "LuongAttention",
    "SequenceClassifier",
    "SequenceGenerator",
    "SequenceTagger",
    "TransitionConstraints",
    "bio_constraints",
    "bio_transition_mask",
    "make_attention",
    "masked_softmax",
    "shift_right",
]
