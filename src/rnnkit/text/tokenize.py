"""Raw text into word tokens, spelt the way word vectors and lexicons spell them.

Splitting at whitespace leaves punctuation on words ("funny," "bad." "(great"), and such a
token is in no list of word vectors or sentiment scores: of the distinct tokens of 3 900 raw
Rotten Tomatoes snippets GloVe 6B knew 61 % split at whitespace, 93 % split by
:func:`split_words`. It splits punctuation off words, and English clitics as the Penn
Treebank does (which is how GloVe's and SST's text was tokenised):

>>> split_words("Don't miss it: the film's a gem!!")
['Do', "n't", 'miss', 'it', ':', 'the', 'film', "'s", 'a', 'gem', '!!']

Kept whole: words with inner hyphens or apostrophes (``well-made``, ``o'clock``), numbers
with separators (``1,000.50``; ``£1.5bn`` is ``£ 1.5 bn``), a run of one mark (``...``,
``!!``), emoticons (``:)``), web and e-mail addresses. HTML entities are read as the marks
they stand for (``&amp;`` is ``&``), and apostrophes typed as ``’`` (or as ``‘`` or a
backtick between two letters) as ``'``. Text that is tokenised already (SST's ``wo n't``
``-lrb-``) comes through unchanged but for a slash between words (``writer\\/director``:
1.6 % of SST's sentences change, nearly all for that). Letters of any script stay together,
their combining marks included (Python's ``\\w`` alone splits Hindi or Tamil words at
their vowel signs).
"""

from __future__ import annotations

import html
import re
import sys
import unicodedata
from collections.abc import Iterable, Sequence
from functools import cache

__all__ = [
    "RAW_TEXT_SHARE",
    "attached_punctuation",
    "auto_split",
    "join_marks",
    "split_marks",
    "split_words",
]

# Text whose words have punctuation attached more often than this is raw, not tokenised:
# raw Multi30k 9-12 % of its words, its tokenised copy 0.2 %
RAW_TEXT_SHARE = 0.02

# a backtick or an opening quote between two letters is an apostrophe typed otherwise
_INNER_APOSTROPHE = re.compile("(?<=\\w)[`\u2018](?=\\w)")
_CLITICS = "s|re|ve|ll|d|m|em"  # the 's, 're, ... split off words, as "n't" is
# Abbreviations that keep their full stop (GloVe has "mr." and "etc."; "e.g." and "u.s." are
# kept by the rule for letters and stops)
_ABBREVIATIONS = "mr|mrs|ms|dr|prof|st|vs|etc|jr|sr|inc|ltd|co|corp|dept|approx"


@cache
def _combining_marks() -> str:
    """The combining marks ``\\w`` leaves out (Devanagari's vowel signs), for a regex class.
    Made on first use: finding them takes a tenth of a second."""
    return "".join(
        re.escape(char)
        for char in map(chr, range(sys.maxunicode + 1))
        if unicodedata.category(char).startswith("M") and not char.isalnum()
    )


def _letter() -> str:
    """A regex class of the characters words are made of."""
    return rf"[\w{_combining_marks()}]"


@cache
def _attached_pattern() -> re.Pattern[str]:
    mark = rf"[^\w\s{_combining_marks()}]"
    return re.compile(rf"^{mark}+{_letter()}|{_letter()}{mark}+$")


def auto_split(words: Iterable[str]) -> tuple[str, str]:
    """What ``--tokenize auto`` makes of training text, told by its whitespace-split
    ``words``: ``"punct"`` for raw text (over :data:`RAW_TEXT_SHARE` of them with punctuation
    attached), else ``"space"``; and why, for the log."""
    share = attached_punctuation(words)
    how = "punct" if share > RAW_TEXT_SHARE else "space"
    return how, f"{how} ({share:.1%} of the training words have punctuation attached)"


def attached_punctuation(tokens: Iterable[str]) -> float:
    """The share of ``tokens`` (whitespace-split words) with punctuation stuck to their
    start or end (``bushes.``, ``"yes``): 9-12 % of raw Multi30k's words, 0.2 % of its
    tokenised copy's (where ``'s`` stands alone). 0 for no tokens."""
    pattern = _attached_pattern()
    count = attached = 0
    for token in tokens:
        count += 1
        attached += pattern.search(token) is not None
    return attached / count if count else 0.0


@cache
def _token_pattern() -> re.Pattern[str]:
    letter = _letter()
    word = rf"{letter}+(?:-{letter}+|'(?!(?:{_CLITICS}|t)\b){letter}+)*"
    return re.compile(
        rf"""
        (?:https?://|www\.)\S*[^\s.,;:!?)\]'"]     # a web address, without the mark after it
      | [\w.+-]+@\w+(?:\.\w+)+                     # an e-mail address
      | -[lr][rcs]b-                               # the Penn Treebank's brackets: -lrb- -rrb-
      | \\[/*]                                    # and its escapes: writer\/director
      | \d+(?:[.,:]\d+)+                           # 1,000.50  3.5  10:30(pm)
      | (?:(?<!\w){letter}\.){{2,}}                 # e.g.  u.s.  e.t.
      | (?<!\w)(?:{_ABBREVIATIONS})\.
      | {letter}+(?=n't\b)                         # "do" of "don't": do n't
      | n't\b
      | '(?:{_CLITICS}|\d0s)\b                      # "'s" of "film's"; the '70s
      | {word}
      | [:;=][-']?[()\[\]dDpP/\\|*](?!\w) | <3     # emoticons
      | ([^\w\s])\1*                               # a mark; a run of one mark stays whole
        """,
        re.VERBOSE | re.IGNORECASE,
    )


def split_words(text: str) -> list[str]:
    """The word tokens of ``text``: split at whitespace, then punctuation and English
    clitics split off words (see the module's docstring)."""
    # HTML's &amp; &quot; ... as the marks they stand for (tweets and SMS have hundreds)
    text = html.unescape(text) if "&" in text else text
    # the apostrophes typed otherwise as the plain one, which is how vectors spell "n't"
    text = _INNER_APOSTROPHE.sub("'", text.replace("\u2019", "'"))
    pattern = _token_pattern()
    words = []
    for chunk in text.split():
        if chunk.isalnum():  # most words: nothing to split (6x faster over raw reviews)
            words.append(chunk)
        else:
            words.extend(match.group() for match in pattern.finditer(chunk))
    return words


@cache
def _marks_pattern() -> re.Pattern[str]:
    return re.compile(rf"{_letter()}+|[^\w\s]")


def split_marks(token: str) -> list[str]:
    """``token``'s runs of letters, and each other mark on its own (``"l'homme." -> l ' homme
    .``): the plainer split of ``translate --tokenize punct``."""
    return _marks_pattern().findall(token)


_CLOSING = set(".,!?;:%)]}\u2026\u00bb\u3001\u3002\uff01\uff1f\uff0c")  # no space before these
_OPENING = set("([{\u00bf\u00a1\u00ab$\u00a3#@")  # nor after these
_JOINERS = set("'-\u2019")  # inside a word: l'homme, it's, well-made


def join_marks(tokens: Sequence[str]) -> str:
    """Text from tokens that :func:`split_marks` made (a translation, say): marks closing a
    phrase join the word before them, opening ones the word after, apostrophes and hyphens
    between two words join both, double quotes open and close in turn, and Chinese or
    Japanese characters take no space between them::

        >>> join_marks(["Hi", ",", "l", "'", "homme", "(", "well", "-", "made", ")", "!"])
        "Hi, l'homme (well-made)!"
    """
    text, quotes = "", 0
    glue_next = True  # no space before the first token
    for i, token in enumerate(tokens):
        before = tokens[i - 1] if i else ""
        after = tokens[i + 1] if i + 1 < len(tokens) else ""
        glue = glue_next
        glue_next = False
        if token == '"':
            quotes += 1
            if quotes % 2:  # an opening quote sticks to the next word
                glue_next = True
            else:
                glue = True
        elif all(char in _CLOSING for char in token):
            glue = True
        elif token in _OPENING:
            glue_next = True
        elif token in _JOINERS and before[-1:].isalnum() and after[:1].isalnum():
            glue = glue_next = True
        elif _wide(before[-1:]) and _wide(token[:1]):
            glue = True
        text += token if glue else " " + token
    return text


def _wide(char: str) -> bool:
    """Whether ``char`` is a full-width character (Chinese, Japanese: written without spaces)."""
    return bool(char) and unicodedata.east_asian_width(char) in ("W", "F")
