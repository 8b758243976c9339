"""Parallel text for translation: two line-aligned files, one sentence a line, or one file
of tab-separated pairs (:func:`read_pair_file`).

Line ``i`` of the source file translates line ``i`` of the target file. Files are UTF-8 (a
byte order mark is ignored), lines end at ``\\n`` (a trailing ``\\r`` is dropped) and tokens
are separated by whitespace, so the files must already be tokenised (as Multi30k's
``tok/*.lc.norm.tok.{de,en}``).

Every problem is a ``ValueError`` with a one-line message that starts with the file (and the
line), so the command line can print it as is:

* different line counts: checked first, before any line is parsed, naming both files and
  both counts;
* a line empty (or only whitespace) on one side only: ``FILE:LINE: empty sentence``. A line
  empty on *both* sides is skipped (a blank line closing both files is harmless);
* bytes that are not UTF-8: ``FILE:LINE: not UTF-8 text ...``.

:func:`find_pair_files` finds the two files of a split by name (see its rule).

A pair file holds both sides, ``SOURCE<TAB>TARGET`` a line, as Tatoeba's and Anki's sentence
lists do (``Go.<TAB>Va !<TAB>CC-BY 2.0 (France) Attribution: ...``): further columns are
ignored, and either column may be the source. A first line naming the columns (``en<TAB>de``,
``source<TAB>target``) is a header, not a pair; so is the one pandas writes with its index
(``<TAB>en<TAB>de``, then ``0<TAB>...``), whose column of row numbers is then passed over.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from rnnkit.data.readers import decode_line, raw_lines

__all__ = ["ParallelCorpus", "SentencePair", "find_pair_files", "read_pair_file", "read_parallel"]

PathLike = str | os.PathLike[str]


@dataclass
class SentencePair:
    """One aligned sentence pair: its tokens on each side and its 1-based line number."""

    source: list[str]
    target: list[str]
    line: int


class ParallelCorpus(NamedTuple):
    """Result of :func:`read_parallel`; unpacks as ``pairs, dropped``."""

    pairs: list[SentencePair]
    """The kept pairs, in file order."""
    dropped: int
    """How many non-empty pairs ``max_length`` removed (0 without ``max_length``)."""


def _tokens(raw: bytes, path: Path, number: int, lowercase: bool) -> list[str]:
    text = decode_line(raw, path, number)
    return (text.lower() if lowercase else text).split()


def read_parallel(
    src_path: PathLike,
    tgt_path: PathLike,
    lowercase: bool = False,
    max_length: int | None = None,
) -> ParallelCorpus:
    """Read two line-aligned files into sentence pairs.

    Args:
        src_path: The source-language file.
        tgt_path: The target-language file, with as many lines.
        lowercase: Lowercase both sides (``str.lower``) before splitting.
        max_length: Drop pairs with more than this many tokens on either side (``<bos>`` and
            ``<eos>`` not counted). Meant for *training* data only: an evaluation set must
            keep every sentence, or its scores are not comparable with published ones.

    Returns:
        ``ParallelCorpus(pairs, dropped)``: the pairs in file order (each with its line
        number) and how many pairs ``max_length`` dropped.

    Raises:
        ValueError: a file is missing or unreadable, the line counts differ, a sentence is
            empty on one side only, a line is not UTF-8, or ``max_length`` is not a positive
            int. The message names the file (and line), see the module docstring.
    """
    if max_length is not None and (
        isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < 1
    ):
        raise ValueError(f"max_length must be a positive int or None, got {max_length!r}")
    src_path, tgt_path = Path(src_path), Path(tgt_path)
    src_lines = raw_lines(src_path, trailing_blanks=True)
    tgt_lines = raw_lines(tgt_path, trailing_blanks=True)
    # blank lines at the end of one file only, past the other's last line, are an editor's
    # (a blank line facing a sentence is an empty sentence, reported below)
    for longer, shorter in ((src_lines, tgt_lines), (tgt_lines, src_lines)):
        while len(longer) > len(shorter) and not longer[-1].strip():
            longer.pop()
    if len(src_lines) != len(tgt_lines):
        raise ValueError(
            f"{src_path} has {len(src_lines)} lines but {tgt_path} has {len(tgt_lines)}: "
            "parallel files must be line-aligned"
        )
    pairs: list[SentencePair] = []
    dropped = 0
    for number, (src_raw, tgt_raw) in enumerate(zip(src_lines, tgt_lines, strict=True), start=1):
        source = _tokens(src_raw, src_path, number, lowercase)
        target = _tokens(tgt_raw, tgt_path, number, lowercase)
        if not source and not target:
            continue
        for path, tokens in ((src_path, source), (tgt_path, target)):
            if not tokens:
                raise ValueError(f"{path}:{number}: empty sentence")
        if max_length is not None and max(len(source), len(target)) > max_length:
            dropped += 1
            continue
        pairs.append(SentencePair(source, target, number))
    return ParallelCorpus(pairs, dropped)


_ANKI_HEADER = re.compile(rb"#[a-z ]+:[^\t]*\r?$")


def read_pair_file(
    path: PathLike, lowercase: bool = False, src_column: int = 0, tgt_column: int = 1
) -> ParallelCorpus:
    """Read a file of tab-separated sentence pairs (see the module docstring).

    Args:
        path: The file: ``SOURCE<TAB>TARGET`` a line; more columns may follow.
        lowercase: Lowercase both sides (``str.lower``) before splitting.
        src_column: The 0-based column of the source sentences.
        tgt_column: The column of their translations.

    Returns:
        ``ParallelCorpus(pairs, 0)``: the pairs in file order, each with its line number.
        Blank lines are skipped, and so are the ``#key:value`` lines an Anki export begins
        with.

    Raises:
        ValueError: the file is missing or unreadable, a line has too few tab-separated
            columns, a sentence is empty, or a line is not UTF-8 (``FILE:LINE: ...``).
    """
    path = Path(path)
    lines = [(number, raw) for number, raw in enumerate(raw_lines(path), start=1) if raw.strip()]
    skip, src_column, tgt_column = pair_layout(lines, src_column, tgt_column)
    lines = lines[skip:]
    needed = max(src_column, tgt_column) + 1
    pairs: list[SentencePair] = []
    for number, raw in lines:
        cells = decode_line(raw, path, number).split("\t")
        if len(cells) < needed:
            raise ValueError(
                f"{path}:{number}: {len(cells)} tab-separated column"
                f"{'s' if len(cells) > 1 else ''}, expected at least {needed} "
                f"(source column {src_column}, target column {tgt_column})"
            )
        sides = []
        for column in (src_column, tgt_column):
            text = cells[column].lower() if lowercase else cells[column]
            if not text.split():
                raise ValueError(f"{path}:{number}: empty sentence (column {column})")
            sides.append(text.split())
        pairs.append(SentencePair(sides[0], sides[1], number))
    return ParallelCorpus(pairs, 0)


# Names a header row gives the columns of a pair file: a language code (en, deu; EN) or a
# role, in one case throughout (a first pair of short capitalised words, "Yes<TAB>Oui", is
# a pair).
_COLUMN_NAME = re.compile(rb"[a-z]{2,3}|[A-Z]{2,3}|(?i:src|source|tgt|target|input|output)")


def _is_header(raw: bytes, src_column: int, tgt_column: int) -> bool:
    cells = raw.rstrip(b"\r").split(b"\t")
    chosen = [cells[c].strip() for c in (src_column, tgt_column) if c < len(cells)]
    return len(chosen) == 2 and all(_COLUMN_NAME.fullmatch(cell) for cell in chosen)


def pair_layout(
    lines: list[tuple[int, bytes]], src_column: int, tgt_column: int
) -> tuple[int, int, int]:
    """How a pair file's non-blank ``lines`` (numbered, undecoded) hold their pairs: how many
    lines open it that are not pairs (an Anki export's ``#separator:tab`` lines, a header
    row), and the source and target columns (one further on past pandas' index column)."""
    skip = 0
    while skip < len(lines) and _ANKI_HEADER.match(lines[skip][1]):
        skip += 1
    rest = lines[skip:]
    if rest and rest[0][1].startswith(b"\t") and _numbered(rest[1:]):
        return skip + 1, src_column + 1, tgt_column + 1  # pandas' header and index
    if rest and _is_header(rest[0][1], src_column, tgt_column):
        return skip + 1, src_column, tgt_column
    return skip, src_column, tgt_column


def _numbered(lines: list[tuple[int, bytes]]) -> bool:
    """Whether every line starts with a distinct row number (pandas' index, in any order:
    a split or shuffled frame keeps its rows' numbers)."""
    firsts = [raw.split(b"\t", 1)[0].strip() for _, raw in lines]
    return (
        bool(firsts)
        and all(first.isdigit() for first in firsts)
        and len(set(firsts)) == len(firsts)
    )


def _check_name_part(name: str, value: object) -> str:
    if not isinstance(value, str) or not value or "/" in value or os.sep in value:
        raise ValueError(f"{name} must be a non-empty file name part, got {value!r}")
    return value


def _find_one(directory: Path, files: list[str], split: str, lang: str) -> Path:
    prefix, suffix = f"{split}.", f".{lang}"
    # The length bound lets ``train.de`` match (the dot is shared) but not ``train.`` + ``.de``
    # squeezed into a shorter name.
    found = [
        name
        for name in files
        if name.startswith(prefix)
        and name.endswith(suffix)
        and len(name) >= len(split) + len(lang) + 1
    ]
    if len(found) == 1:
        return directory / found[0]
    pattern = f"'{prefix}*{suffix}'"
    if found:
        raise ValueError(
            f"{directory}: {len(found)} files match {pattern}, expected one: {', '.join(found)}"
        )
    same_split = [name for name in files if name.startswith(prefix)]
    if same_split:
        listing = f"files of split {split!r}: {', '.join(same_split)}"
    else:
        shown = ", ".join(files[:10]) + (" ..." if len(files) > 10 else "")
        listing = f"the directory holds: {shown or 'nothing'}"
    raise ValueError(f"{directory}: no file matches {pattern} ({listing})")


def find_pair_files(
    pair_dir: PathLike, split: str, src_lang: str, tgt_lang: str
) -> tuple[Path, Path]:
    """Find the source and target files of one split in a directory.

    Rule: the file for language ``lang`` is the one file in ``pair_dir`` whose name starts
    with ``"{split}."`` and ends with ``".{lang}"``. So ``split="train"`` with languages
    ``de``/``en`` finds ``train.de``/``train.en`` or ``train.lc.norm.tok.de``/``...en``, and
    ``src``/``tgt`` find ``train.src``/``train.tgt``. The split is the full name stem:
    Multi30k's test set is ``split="test_2016_flickr"``. Compressed files (``train.de.gz``)
    do not match.

    Args:
        pair_dir: The directory holding the files.
        split: The split's name stem (``"train"``, ``"val"``, ``"test_2016_flickr"``).
        src_lang: The source language suffix (``"de"``).
        tgt_lang: The target language suffix (``"en"``).

    Returns:
        ``(src_path, tgt_path)``.

    Raises:
        ValueError: ``pair_dir`` is not a directory, the two languages are equal, or a
            language has no matching file or several (the message lists the candidates).
    """
    for name, value in (("split", split), ("src_lang", src_lang), ("tgt_lang", tgt_lang)):
        _check_name_part(name, value)
    if src_lang == tgt_lang:
        raise ValueError(f"src_lang and tgt_lang are both {src_lang!r}")
    directory = Path(pair_dir)
    if not directory.is_dir():
        raise ValueError(f"{directory}: directory not found")
    files = sorted(entry.name for entry in directory.iterdir() if entry.is_file())
    return (
        _find_one(directory, files, split, src_lang),
        _find_one(directory, files, split, tgt_lang),
    )
