"""Evaluation metrics of the tasks: entity-level scores of tagging, BLEU and perplexity of
translation, the frame NLL of piano rolls.

``from rnnkit.metrics import corpus_bleu`` works for every name below; each submodule is
imported when one of its names is first asked for, so reading tags does not load sacrebleu.
"""

from __future__ import annotations

import importlib
from typing import Any

_HOMES = {
    "check_chunk_tag": "tagging",
    "detect_scheme": "tagging",
    "entity_scores": "tagging",
    "to_iob2": "tagging",
    "BleuScore": "translation",
    "corpus_bleu": "translation",
    "perplexity": "translation",
    "frame_nll": "music",
}

__all__ = sorted(_HOMES)


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'rnnkit.metrics' has no attribute {name!r}")
    return getattr(importlib.import_module(f"rnnkit.metrics.{_HOMES[name]}"), name)
