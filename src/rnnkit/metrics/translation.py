"""Scores of translation: corpus BLEU and chrF (through sacrebleu) and perplexity.

BLEU (Papineni et al. 2002) of a corpus, one reference per sentence::

    BLEU = BP · exp(¼ Σ_{n=1..4} log p_n),   BP = min(1, exp(1 − r / c)),

``p_n`` the clipped ``n``-gram precision summed over the corpus, ``c`` and ``r`` the total
hypothesis and reference lengths; reported ×100 as usual. sacrebleu computes it (with its
default exponential smoothing of a zero ``p_n``), and the returned signature records every
setting, so a number can be reproduced and compared.

Which ``tokenize``. sacrebleu's standard ``"13a"`` expects *detokenised* text and splits
punctuation off itself. Multi30k's ``tok/`` files, and so a word-level model's output, are
already tokenised, lowercased and Moses-escaped (``a kid &apos;s table``); ``"13a"`` would
split ``&apos;s`` into ``& apos ; s`` and count four easy matches for one word, inflating the
score. ``tokenize="none"`` (the default here) scores the tokens as given, which matches how
the published Multi30k seq2seq numbers were computed (BLEU over token lists). Use ``"13a"``
only on detokenised text, and always report the signature next to the score.

Perplexity of a language or translation model is ``exp(total NLL / tokens)``, the NLL in
nats summed over the predicted tokens (``<eos>`` included, padding not).
"""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["TOKENIZERS", "BleuScore", "corpus_bleu", "corpus_chrf", "perplexity"]

TOKENIZERS = ("none", "13a")


@dataclass(frozen=True)
class BleuScore:
    """A corpus BLEU and how it was computed."""

    score: float
    """BLEU in percent, in ``[0, 100]``."""
    signature: str
    """sacrebleu's signature (``nrefs:1|case:mixed|eff:no|tok:none|smooth:exp|version:…``)."""
    precisions: tuple[float, ...] = ()
    """The ``n``-gram precisions ``p_1 … p_4`` in percent."""
    brevity_penalty: float = 1.0
    """``BP``."""
    hyp_len: int = 0
    """``c``, the total hypothesis length in tokens."""
    ref_len: int = 0
    """``r``, the total reference length in tokens."""

    def __str__(self) -> str:
        return f"BLEU = {self.score:.2f} ({self.signature})"


def corpus_bleu(
    hypotheses: Sequence[str], references: Sequence[str], tokenize: str = "none"
) -> BleuScore:
    """Corpus BLEU of one hypothesis per reference, each a sentence as a string.

    Args:
        hypotheses: The system's sentences (tokens joined by spaces).
        references: One reference per hypothesis, in the same order.
        tokenize: ``"none"`` for already tokenised text (Multi30k ``tok/``), ``"13a"`` for
            detokenised text; see the module docstring.

    Returns:
        The :class:`BleuScore` with sacrebleu's signature.

    Raises:
        ValueError: an unknown ``tokenize``, no sentences, different numbers of hypotheses
            and references, or a sentence that is not a string.
    """
    if tokenize not in TOKENIZERS:
        raise ValueError(f"tokenize must be one of {list(TOKENIZERS)}, got {tokenize!r}")
    hypotheses, references = list(hypotheses), list(references)
    if len(hypotheses) != len(references):
        raise ValueError(
            f"{len(hypotheses)} hypotheses but {len(references)} references: "
            "give one reference per hypothesis"
        )
    if not hypotheses:
        raise ValueError("no sentences to score")
    for name, sentences in (("hypothesis", hypotheses), ("reference", references)):
        for i, sentence in enumerate(sentences):
            if not isinstance(sentence, str):
                raise ValueError(
                    f"{name} {i} is a {type(sentence).__name__}; join its tokens into a str"
                )

    from sacrebleu.metrics import BLEU  # imported here: only translation needs it

    # force: with tokenize="none" the text is tokenised on purpose, so sacrebleu's warning
    # that it looks tokenised says nothing (the score is the same)
    bleu = BLEU(tokenize=tokenize, force=tokenize == "none")
    result = bleu.corpus_score(hypotheses, [references])
    return BleuScore(
        score=float(result.score),
        signature=str(bleu.get_signature()),
        precisions=tuple(float(p) for p in result.precisions),
        brevity_penalty=float(result.bp),
        hyp_len=int(result.sys_len),
        ref_len=int(result.ref_len),
    )


def corpus_chrf(hypotheses: Sequence[str], references: Sequence[str]) -> float:
    """Corpus chrF (Popović 2015), in percent: the F-score (β = 2) of character n-grams up to
    6, computed by sacrebleu. Unlike BLEU it does not need 4-word sentences to be above zero
    (short phrases, single words), and it gives partial credit for a word's stem."""
    if len(hypotheses) != len(references) or not hypotheses:
        raise ValueError("give one reference per hypothesis, and at least one")
    from sacrebleu.metrics import CHRF

    return float(CHRF().corpus_score(list(hypotheses), [list(references)]).score)


def perplexity(total_nll: float, tokens: int) -> float:
    """``exp(total_nll / tokens)``: the perplexity of ``tokens`` predictions whose negative
    log-likelihoods (natural log) sum to ``total_nll``. Overflow gives ``inf``.

    Raises:
        ValueError: ``tokens`` is not a positive int, or ``total_nll`` is negative or NaN.
    """
    try:
        count = operator.index(tokens)  # int, numpy or 0-d torch integers alike
    except TypeError:
        count = 0
    if isinstance(tokens, bool) or count < 1:
        raise ValueError(f"tokens must be a positive int, got {tokens!r}")
    total_nll = float(total_nll)
    if not total_nll >= 0.0:  # also catches NaN
        raise ValueError(f"total_nll must be a non-negative number of nats, got {total_nll!r}")
    mean = total_nll / count
    try:
        return math.exp(mean)
    except OverflowError:
        return math.inf
