"""Word lexicons (:mod:`rnnkit.text.lexicon`): the file format, its errors, the packaged
lexicons and how ``--lexicon`` names several."""

from __future__ import annotations

import gzip
import importlib.util
from pathlib import Path

import pytest

from rnnkit.text.lexicon import LEXICONS, lexicon_sources, read_lexicon


def test_a_lexicon_file_reads_tab_and_space_separated_entries(tmp_path: Path) -> None:
    path = tmp_path / "lexicon.txt"
    path.write_text(
        "# word\tscore\n"
        "good\t1.9\t0.9\t[2, 2, 1]\n"  # VADER's layout: the fields after the score are not read
        "can't stand\t-3\n"  # a tab allows spaces in the word
        "\n"
        "bad -2.5\n"
        "good\t2.1\n"  # listed twice: the mean
    )
    lexicon = read_lexicon(str(path))
    assert lexicon.scores == {"good": pytest.approx(2.0), "can't stand": -3.0, "bad": -2.5}
    assert lexicon.score("Bad") == -2.5  # the lowercase form's, for a word it lacks
    assert lexicon.score("film") is None
    upper = tmp_path / "upper.txt"
    upper.write_text("GOOD\t2\nGreat\t3\n")  # entries in capitals score lowercase tokens
    assert [read_lexicon(str(upper)).score(t) for t in ("good", "GREAT", "bad")] == [2, 3, None]
    packed = tmp_path / "lexicon.txt.gz"
    packed.write_bytes(gzip.compress(path.read_bytes()))
    assert read_lexicon(str(packed)).scores == lexicon.scores


@pytest.mark.parametrize(
    "text, message",
    [
        ("good 1\nbad\n", r"lexicon.txt:2: expected a word and its score \(WORD<TAB>SCORE\)"),
        ("good\tvery\n", r"lexicon.txt:1: expected a word and its score"),
        ("good\tnan\n", r"lexicon.txt:1: expected a word and its score"),
        ("# only a comment\n\n", r"lexicon.txt: no words"),
    ],
)
def test_a_bad_lexicon_file_is_an_error_naming_its_line(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "lexicon.txt"
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        read_lexicon(str(path))


def test_a_lexicon_not_in_utf8_is_an_error_naming_its_line(tmp_path: Path) -> None:
    path = tmp_path / "lexicon.txt"
    path.write_bytes("good\t2\ncafé\t1\n".encode("cp1252"))
    with pytest.raises(ValueError, match=r"lexicon\.txt:2: not UTF-8 text \(byte 0xe9\)"):
        read_lexicon(str(path))


def test_a_missing_lexicon_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"nothing\.txt: file not found"):
        read_lexicon(str(tmp_path / "nothing.txt"))


def test_several_lexicons_are_separated_by_commas(tmp_path: Path) -> None:
    assert lexicon_sources("vader") == ["vader"]
    assert lexicon_sources("vader, afinn") == ["vader", "afinn"]
    assert lexicon_sources("vader,") == ["vader"]
    odd = tmp_path / "scores,v2.txt"  # a file's own comma stays
    odd.write_text("good 1\n")
    assert lexicon_sources(str(odd)) == [str(odd)]


@pytest.mark.parametrize("name", sorted(LEXICONS))
def test_the_packaged_lexicons_read_as_the_file_format_says(name: str) -> None:
    if importlib.util.find_spec(LEXICONS[name].module) is None:
        pytest.skip(f"{LEXICONS[name].requirement} is not installed (the vectors extra)")
    lexicon = read_lexicon(name)
    assert len(lexicon.scores) > 3000
    assert lexicon.score("good") > 1 and lexicon.score("awful") < -1


def test_an_uninstalled_packaged_lexicon_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ValueError, match=r"vaderSentiment==3.3.2 is not installed.*\[vectors\]"):
        read_lexicon("vader")
