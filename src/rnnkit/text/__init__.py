"""Text plumbing: word splitting, vocabularies, normalisers and (pretrained) embeddings."""

from rnnkit.text.embedding import CoverageReport, Embedding
from rnnkit.text.normalizers import (
    NUM_TOKEN,
    URL_TOKEN,
    available_normalizers,
    get_normalizer,
    lowercase,
    number_normalizer,
    register_normalizer,
    url_normalizer,
)
from rnnkit.text.tokenize import split_words
from rnnkit.text.vocab import BOS, DEFAULT_SPECIALS, EOS, PAD, UNK, Vocab

__all__ = [
    "BOS",
    "DEFAULT_SPECIALS",
    "EOS",
    "NUM_TOKEN",
    "PAD",
    "UNK",
    "URL_TOKEN",
    "CoverageReport",
    "Embedding",
    "Vocab",
    "available_normalizers",
    "get_normalizer",
    "lowercase",
    "number_normalizer",
    "register_normalizer",
    "split_words",
    "url_normalizer",
]
