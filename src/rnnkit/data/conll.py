"""Reader of CoNLL-style column files: one token a line, a blank line between sentences.

::

    EU      NNP  B-NP  B-ORG
    rejects VBZ  B-VP  O
    ...
    <blank line>
    中      B-LOC
    国      I-LOC

Columns are separated by spaces or tabs (ASCII only, so an ideographic space U+3000 can be
a token of a Chinese file). Which column holds the token and which the tag is chosen by
index (negative counts from the end). Lines starting with ``-DOCSTART-`` are document
separators of CoNLL-2003 and are skipped, as is any run of blank lines. Every token line of
a file must have the same number of columns: a ragged file is almost always a broken one.

CoNLL-U (Universal Dependencies' ``.conllu``: ten tab-separated columns ``ID FORM LEMMA UPOS
XPOS FEATS HEAD DEPREL DEPS MISC``) is recognised by its name or by its first token line (ten
tab-separated columns, an integer ID). There ``#`` lines are comments, multiword-token ranges
(``1-2``) and empty nodes (``8.1``) are skipped, columns are separated by tabs only (a form may
hold a space), and the token and tag default to FORM and UPOS.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from rnnkit.data.readers import iter_lines

__all__ = ["TaggedSentence", "is_conllu", "read_conll"]

_COLUMN_SEPARATOR = re.compile(r"[ \t]+")
_ASCII_BLANKS = " \t"
CONLLU_COLUMNS = 10
_CONLLU_DEFAULTS = (1, 3)  # FORM, UPOS


@dataclass
class TaggedSentence:
    """One sentence of a tagging corpus.

    Attributes:
        tokens: the words (or characters), in order.
        tags: one tag per token (``len(tags) == len(tokens)``).
        line: 1-based line of the file where the sentence starts (for messages).
        label: a sentence-level label (e.g. the ATIS intent), if the corpus has one.
    """

    tokens: list[str]
    tags: list[str]
    line: int
    label: str | None = None


def _column_index(index: int, columns: int, option: str, path: Path, line: int) -> int:
    """``index`` as a non-negative column number, or a ValueError naming ``option``."""
    if not -columns <= index < columns:
        raise ValueError(
            f"{path}:{line}: {option} {index} is out of range for {columns} columns "
            f"(use 0..{columns - 1}, or -1 for the last)"
        )
    return index % columns


def is_conllu(path: Path, lines: list[tuple[int, str]]) -> bool:
    """A ``.conllu`` name, or a first sentence whose lines have ten tab-separated columns and
    IDs that run 1, 2, 3, ... (multiword ranges ``1-2`` and empty nodes ``8.1`` aside): a
    column file of ten columns whose first token is a number (``2005``) is not CoNLL-U."""
    if path.suffix == ".conllu":
        return True
    ids: list[str] = []
    for _, line in lines:
        text = line.strip(_ASCII_BLANKS)
        if not text:
            if ids:
                break  # the first sentence's end
            continue
        if text.startswith(("#", "-DOCSTART-")):
            continue
        fields = text.split("\t")
        if len(fields) != CONLLU_COLUMNS:
            return False
        if fields[0].isdigit():
            ids.append(fields[0])
        elif not _CONLLU_NODE.fullmatch(fields[0]):
            return False
    return bool(ids) and ids == [str(i) for i in range(1, len(ids) + 1)]


_CONLLU_NODE = re.compile(r"\d+-\d+|\d+\.\d+")  # a multiword token's range, an empty node


def read_conll(
    path: str | os.PathLike[str],
    token_column: int | None = None,
    tag_column: int | None = None,
    *,
    lines: list[tuple[int, str]] | None = None,
) -> list[TaggedSentence]:
    """The sentences of a CoNLL-style (or CoNLL-U) file, in file order.

    Args:
        path: a UTF-8 text file, one ``token ... tag`` line per token, blank lines between
            sentences.
        token_column: index of the token column (``--token-column``); ``None``: the first
            (CoNLL-U: FORM).
        tag_column: index of the tag column (``--tag-column``); -1 is the last column;
            ``None``: the last (CoNLL-U: UPOS).
        lines: the file's ``(number, line)`` pairs, if the caller has read them already.

    Raises:
        ValueError: the file is missing or not UTF-8 (``FILE:LINE``); a line has another
            number of columns than the first token line (``FILE:LINE: expected N columns,
            got M``); a column index is out of range (naming ``--token-column`` /
            ``--tag-column``); the file holds no sentence.
    """
    path = Path(path)
    lines = list(iter_lines(path)) if lines is None else lines
    conllu = is_conllu(path, lines)
    defaults = _CONLLU_DEFAULTS if conllu else (0, -1)
    token_column = defaults[0] if token_column is None else token_column
    tag_column = defaults[1] if tag_column is None else tag_column
    sentences: list[TaggedSentence] = []
    tokens: list[str] = []
    tags: list[str] = []
    start = 0
    columns: int | None = None
    token_at = tag_at = 0
    for number, line in lines:
        text = line.strip(_ASCII_BLANKS)
        if not text or text.startswith("-DOCSTART-"):
            if tokens:  # a blank line (or a document break) ends the sentence
                sentences.append(TaggedSentence(tokens, tags, start))
                tokens, tags = [], []
            continue
        if conllu and text.startswith("#"):
            continue  # a comment (sent_id, text)
        fields = text.split("\t") if conllu else _COLUMN_SEPARATOR.split(text)
        if conllu and not fields[0].isdigit():
            continue  # a multiword token's range (1-2) or an empty node (8.1): not a word
        if columns is None:  # the first token line fixes the layout of the whole file
            columns = len(fields)
            token_at = _column_index(token_column, columns, "--token-column", path, number)
            tag_at = _column_index(tag_column, columns, "--tag-column", path, number)
        elif len(fields) != columns:
            slashed = sum("/" in field for field in fields) > len(fields) / 2
            hint = (
                " (word/TAG pairs on a line are not read: write one token a line, its tag "
                "in a column after it, and a blank line after each sentence)"
                if slashed
                else ""
            )
            raise ValueError(
                f"{path}:{number}: expected {columns} columns, got {len(fields)}{hint}"
            )
        if not tokens:
            start = number
        tokens.append(fields[token_at])
        tags.append(fields[tag_at])
    if tokens:  # the last sentence need not be followed by a blank line
        sentences.append(TaggedSentence(tokens, tags, start))
    if not sentences:
        raise ValueError(f"{path}: no sentences (the file has no token lines)")
    return sentences
