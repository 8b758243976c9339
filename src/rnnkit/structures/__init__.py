"""The sequence structures and their building blocks (CRF, attention)."""

from rnnkit.structures.attention import (
    ATTENTION_KINDS,
    Attention,
    BahdanauAttention,
    LuongAttention,
    make_attention,
    masked_softmax,
)
from rnnkit.structures.attention_pooling import AttentionPooling
from rnnkit.structures.beam_search import (
    BeamSearchResult,
    beam_search,
    gnmt_length_penalty,
    select_rows,
)
from rnnkit.structures.classifier import SequenceClassifier
from rnnkit.structures.classifier_ensemble import ClassifierEnsemble
from rnnkit.structures.crf import (
    CRF,
    FORBIDDEN_SCORE,
    TransitionConstraints,
    bio_constraints,
    bio_transition_mask,
)
from rnnkit.structures.encoder import InputEncoder
from rnnkit.structures.forecaster import ForecastEnsemble, Forecaster
from rnnkit.structures.generator import SequenceGenerator, shift_right
from rnnkit.structures.joint_tagger import JointTagger
from rnnkit.structures.seq2seq import (
    BeamDecoded,
    Bridge,
    DecoderState,
    EncoderOutput,
    GreedyDecoded,
    Seq2Seq,
    Seq2SeqOutput,
    reverse_within_lengths,
)
from rnnkit.structures.tagger import SequenceTagger

__all__ = [
    "ATTENTION_KINDS",
    "CRF",
    "FORBIDDEN_SCORE",
    "Attention",
    "AttentionPooling",
    "BahdanauAttention",
    "BeamDecoded",
    "BeamSearchResult",
    "Bridge",
    "ClassifierEnsemble",
    "DecoderState",
    "EncoderOutput",
    "ForecastEnsemble",
    "Forecaster",
    "GreedyDecoded",
    "InputEncoder",
    "JointTagger",
    "LuongAttention",
    "Seq2Seq",
    "Seq2SeqOutput",
    "SequenceClassifier",
    "SequenceGenerator",
    "SequenceTagger",
    "TransitionConstraints",
    "beam_search",
    "bio_constraints",
    "bio_transition_mask",
    "gnmt_length_penalty",
    "make_attention",
    "masked_softmax",
    "reverse_within_lengths",
    "select_rows",
    "shift_right",
]
