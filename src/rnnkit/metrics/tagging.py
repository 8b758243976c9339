"""Entity-level precision, recall and F1 of chunk tagging, computed as conlleval does.

A tag is ``O`` or ``<prefix>-<type>`` (``B-PER``; a bare prefix such as ``B`` is an entity
without type, as in word segmentation). An *entity* (chunk) is a maximal run of tags of one
type opened and closed by the prefixes; a predicted entity is correct only if its type, first
and last token all match a gold entity. Then

    precision = correct / predicted entities,  recall = correct / gold entities,
    F1 = 2·P·R / (P + R),  accuracy = correct tags / tokens  (token level, O included).

How each scheme is read (``scheme`` of :func:`entity_scores`):

* ``"BIO"`` (IOB2) and ``"IO"``: seqeval's default mode, which reproduces the conlleval
  Perl script, including its leniency: an ``I-X`` that follows ``O`` or another type starts a
  new entity instead of being dropped. This is the convention of every published CoNLL /
  ATIS F1, so numbers stay comparable.
* ``"BIOES"``: seqeval's strict mode with its IOBES scheme. Here every prefix says where an
  entity starts and ends, so a malformed prediction (``B-X`` never closed by ``E-X``,
  a stray ``I-X``) is counted as no entity rather than repaired: a decoder that does not
  respect the scheme is penalised. (conlleval itself knows E and S too, but would accept
  such broken entities.)
* ``"BMES"`` (the Chinese word-segmentation naming: Begin, Middle, End, Single) is BIOES
  with ``M`` read as ``I`` and is scored exactly like it.
* ``"none"``: tags without chunks (parts of speech: ``NOUN``, ``VBZ``). Every token is an
  item of its own, so the micro-averaged precision, recall and F1 all equal the token
  accuracy.
"""

from __future__ import annotations

from collections.abc import Sequence

from seqeval.metrics import accuracy_score, f1_score, precision_score, recall_score
from seqeval.scheme import IOBES

__all__ = ["SCHEMES", "check_chunk_tag", "detect_scheme", "entity_scores", "to_iob2"]

SCHEMES = ("BIO", "IO", "BIOES", "BMES", "none")

TagSequences = Sequence[Sequence[str]]


def _prefix(tag: str) -> str:
    """``"B-PER" → "B"``, ``"O" → "O"``, ``"S" → "S"``; ValueError for anything else."""
    if tag == "O":
        return "O"
    prefix, sep, entity = tag.partition("-")
    if prefix in ("B", "I", "E", "S", "M") and (not sep or entity):
        return prefix
    raise ValueError(
        f"tag {tag!r} is not a chunk tag: expected 'O', or a prefix B, I, E, S or M "
        "optionally followed by '-TYPE'"
    )


def check_chunk_tag(tag: str) -> None:
    """``ValueError`` unless ``tag`` is a chunk tag: ``O``, or a prefix B, I, E, S or M
    optionally followed by ``-TYPE``."""
    _prefix(tag)


def detect_scheme(tag_sequences: TagSequences) -> str:
    """The tagging scheme the prefixes of ``tag_sequences`` use.

    Returns:
        ``"BMES"`` if any tag has the prefix ``M``; else ``"BIOES"`` if any has ``E`` or ``S``;
        else ``"BIO"`` if any has ``B``; else ``"IO"`` (only ``I`` and ``O``, the scheme of
        IOB1 files without adjacent entities). Only ``O`` tags give ``"BIO"``. ``"none"``
        if any tag is not a chunk tag (not ``O`` nor ``<prefix>[-TYPE]``): parts of speech.

    Raises:
        ValueError: chunk tags mix ``M`` with ``I``.
    """
    tags = {tag for sequence in tag_sequences for tag in sequence}
    try:
        prefixes = {_prefix(tag) for tag in tags}
    except ValueError:
        return "none"
    if "M" in prefixes:
        if "I" in prefixes:
            raise ValueError("tags mix the prefixes M (BMES) and I (BIO/BIOES)")
        return "BMES"
    if prefixes & {"E", "S"}:
        return "BIOES"
    if "B" in prefixes or prefixes <= {"O"}:
        return "BIO"
    return "IO"


def to_iob2(tags: Sequence[str]) -> list[str]:
    """BIO tags as IOB2 demands them: an ``I-X`` that begins a chunk (first, after ``O`` or
    after a tag of another type) becomes ``B-X``. This reads IOB1 (the original CoNLL-2003
    files, where ``B`` only separates two adjacent chunks of one type) as IOB2 and leaves IOB2
    unchanged."""
    out: list[str] = []
    previous = "O"
    for tag in tags:
        if tag[:1] == "I" and (previous == "O" or previous[1:] != tag[1:]):
            tag = "B" + tag[1:]
        out.append(tag)
        previous = tag
    return out


def _m_to_i(tag_sequences: TagSequences) -> list[list[str]]:
    """BMES → BIOES: the middle of a word (``M``) is the inside of an entity (``I``)."""
    return [["I" + tag[1:] if tag[:1] == "M" else tag for tag in tags] for tags in tag_sequences]


def entity_scores(true: TagSequences, pred: TagSequences, scheme: str = "auto") -> dict[str, float]:
    """Micro-averaged entity precision, recall and F1, and token accuracy (see the module).

    Args:
        true: gold tags, one sequence per sentence.
        pred: predicted tags, aligned with ``true`` sentence by sentence and token by token.
        scheme: ``"auto"`` (:func:`detect_scheme` over the gold tags: a model's mistake
            must not change how it is scored), ``"BIO"``, ``"IO"``, ``"BIOES"``, ``"BMES"`` or
            ``"none"``.

    Returns:
        ``{"precision", "recall", "f1", "accuracy"}`` as fractions in ``[0, 1]``. A ratio
        with nothing to divide (no predicted or no gold entity) is 0, as in conlleval.

    Raises:
        ValueError: unknown scheme, misaligned sequences, or non-chunk tags for a chunk
            scheme.
    """
    true = [list(tags) for tags in true]
    pred = [list(tags) for tags in pred]
    if len(true) != len(pred):
        raise ValueError(f"{len(pred)} predicted sequences for {len(true)} gold sequences")
    for index, (gold, guess) in enumerate(zip(true, pred, strict=True)):
        if len(gold) != len(guess):
            raise ValueError(
                f"sequence {index}: {len(guess)} predicted tags for {len(gold)} gold tags"
            )
    if scheme == "auto":
        scheme = detect_scheme(true)
    elif scheme not in SCHEMES:
        raise ValueError(f"scheme must be 'auto' or one of {SCHEMES}, got {scheme!r}")
    if scheme != "none":
        for tags in true + pred:
            for tag in tags:
                check_chunk_tag(tag)  # reject non-chunk tags whatever the chunk scheme
    if sum(map(len, true)) == 0:
        raise ValueError("no tags to score (every sequence is empty)")

    accuracy = float(accuracy_score(true, pred))
    if scheme == "none":
        return {"precision": accuracy, "recall": accuracy, "f1": accuracy, "accuracy": accuracy}
    if scheme in ("BIO", "IO"):
        options: dict = {}  # seqeval's default mode is conlleval's chunking
    else:
        if scheme == "BMES":
            true, pred = _m_to_i(true), _m_to_i(pred)
        options = {"mode": "strict", "scheme": IOBES}
    options["zero_division"] = 0  # conlleval reports 0, not a warning
    precision = precision_score(true, pred, **options)
    recall = recall_score(true, pred, **options)
    f1 = f1_score(true, pred, **options)
    return {
        "precision": float(precision),
        "recall": float(recall),
        "f1": float(f1),
        "accuracy": float(accuracy),
    }
