"""Reader of the ATIS-style slot-filling layout: parallel files, one sentence a line.

::

    seq.in   i want to fly from baltimore to dallas
    seq.out  O O O O O B-fromloc.city_name O B-toloc.city_name
    label    atis_flight

Line ``n`` of ``seq.in`` holds the tokens of sentence ``n``, line ``n`` of ``seq.out`` one
slot tag per token, and line ``n`` of the optional ``label`` file the sentence's intent.
Everything is checked against everything else, because a single shifted line silently
misaligns every later sentence.
"""

from __future__ import annotations

import os
from pathlib import Path

from rnnkit.data.conll import TaggedSentence
from rnnkit.data.readers import iter_lines

__all__ = ["read_seq_pairs"]


def _split_lines(path: Path) -> list[list[str]]:
    """The whitespace-separated fields of each line; a blank line is an error."""
    rows = []
    for number, line in iter_lines(path):
        fields = line.split()
        if not fields:
            raise ValueError(f"{path}:{number}: blank line, expected one sentence a line")
        rows.append(fields)
    if not rows:
        raise ValueError(f"{path}: no sentences (the file is empty)")
    return rows


def _check_same_count(first: Path, first_rows: list, other: Path, other_rows: list) -> None:
    if len(first_rows) != len(other_rows):
        raise ValueError(
            f"{other} has {len(other_rows)} lines but {first} has {len(first_rows)}: "
            "expected one line per sentence in both"
        )


def read_seq_pairs(
    seq_in: str | os.PathLike[str],
    seq_out: str | os.PathLike[str],
    label: str | os.PathLike[str] | None = None,
) -> list[TaggedSentence]:
    """The tagged sentences of a ``seq.in`` / ``seq.out`` (/ ``label``) triple, in order.

    Args:
        seq_in: tokens, one sentence a line, separated by whitespace.
        seq_out: tags, aligned with ``seq_in`` token for token.
        label: optional sentence labels (intents), one a line.

    Returns:
        One :class:`TaggedSentence` per line (``line`` = its line number, ``label`` set if a
        label file was given).

    Raises:
        ValueError: a file is missing, not UTF-8, empty or has a blank line; the files have
            different numbers of lines (naming both); a line has another number of tags than
            tokens (``seq.out:LINE: 5 tags for 6 tokens (seq.in:LINE)``); a label line has
            more than one field.
    """
    in_path, out_path = Path(seq_in), Path(seq_out)
    token_rows = _split_lines(in_path)
    tag_rows = _split_lines(out_path)
    _check_same_count(in_path, token_rows, out_path, tag_rows)
    labels: list[str | None] = [None] * len(token_rows)
    if label is not None:
        label_path = Path(label)
        label_rows = _split_lines(label_path)
        _check_same_count(in_path, token_rows, label_path, label_rows)
        for number, fields in enumerate(label_rows, start=1):
            if len(fields) != 1:
                raise ValueError(
                    f"{label_path}:{number}: expected one label, got {len(fields)} fields"
                )
        labels = [fields[0] for fields in label_rows]
    sentences = []
    for number, (tokens, tags, intent) in enumerate(
        zip(token_rows, tag_rows, labels, strict=True), start=1
    ):
        if len(tags) != len(tokens):
            raise ValueError(
                f"{out_path}:{number}: {len(tags)} tags for {len(tokens)} tokens "
                f"({in_path}:{number})"
            )
        sentences.append(TaggedSentence(tokens, tags, number, intent))
    return sentences
