"""split_words: punctuation and English clitics off words, as word vectors spell them."""

from __future__ import annotations

import pytest

from rnnkit.tasks.classify import tokenize
from rnnkit.text.tokenize import split_marks, split_words


@pytest.mark.parametrize(
    "text, words",
    [
        ("funny, but dull... (really)", ["funny", ",", "but", "dull", "...", "(", "really", ")"]),
        ('"Great" fun!!', ['"', "Great", '"', "fun", "!!"]),
        ("Don't, can't, won't", ["Do", "n't", ",", "ca", "n't", ",", "wo", "n't"]),
        ("the film's cast; they're", ["the", "film", "'s", "cast", ";", "they", "'re"]),
        ("it\u2019s don\u2019t", ["it", "'s", "do", "n't"]),  # the typographic apostrophe
        ("well-made o'clock rock'n'roll", ["well-made", "o'clock", "rock'n'roll"]),
        ("e.g. the U.S. Mr. Smith etc.", ["e.g.", "the", "U.S.", "Mr.", "Smith", "etc."]),
        ("$1,000.50 or 3.5% at 10:30", ["$", "1,000.50", "or", "3.5", "%", "at", "10:30"]),
        ("£1.5bn at 10:30pm, 1,000km", ["£", "1.5", "bn", "at", "10:30", "pm", ",", "1,000", "km"]),
        (
            "We\u2018re don`t Tom &amp; Jerry &lt;3",
            ["We", "'re", "do", "n't", "Tom", "&", "Jerry", "<3"],
        ),
        ("the 1930s and '70s", ["the", "1930s", "and", "'70s"]),
        (
            "see https://a.org/x?y=1. or me@b.com,",
            ["see", "https://a.org/x?y=1", ".", "or", "me@b.com", ","],
        ),
        ("lol :) :-( <3 8)", ["lol", ":)", ":-(", "<3", "8", ")"]),
        ("#happy @bob", ["#", "happy", "@", "bob"]),
        ("'dead' 'tis", ["'", "dead", "'", "'", "tis"]),
    ],
)
def test_raw_english(text: str, words: list[str]) -> None:
    assert split_words(text) == words


def test_text_tokenised_already_comes_through_unchanged() -> None:
    # SST's sentences, Penn Treebank tokenised: brackets and slashes escaped
    text = "it 's a -lrb- u.s. -rrb- film that wo n't quit ... \\* 1\\/2"
    assert split_words(text) == [*text.split()[:-1], "1", "\\/", "2"]


def test_every_script_keeps_its_words_whole() -> None:
    # Python's \w alone splits Devanagari and Tamil at their vowel signs and viramas
    text = "हिन्दी भाषा, தமிழ் ภาษาไทย 我喜欢这个电影。Ελληνικά! עברית?"
    assert split_words(text) == [
        "हिन्दी",
        "भाषा",
        ",",
        "தமிழ்",
        "ภาษาไทย",
        "我喜欢这个电影",
        "。",
        "Ελληνικά",
        "!",
        "עברית",
        "?",
    ]


def test_nothing_is_lost_but_whitespace() -> None:
    text = "Wait—what?! “Quoted” text, tabs\tand\nlines… ¿qué? 5€ a-b--c"
    assert "".join(split_words(text)) == "".join(text.split()).replace("\u2019", "'")


def test_classify_tokenize_modes() -> None:
    assert tokenize("good, film", "word", "punct") == ["good", ",", "film"]
    assert tokenize("good, film", "word", "space") == ["good,", "film"]
    assert tokenize("ab", "char", "punct") == ["a", "b"]
    with pytest.raises(ValueError, match="--tokenize"):
        tokenize("a", "word", "nltk")


def test_translate_punct_splits_marks_and_keeps_every_script_whole() -> None:
    from rnnkit.tasks.translate import tokenize as translate_tokens

    words = "हिन्दी भाषा. l'homme, va!".split()
    assert translate_tokens(words, "punct") == [
        "हिन्दी", "भाषा", ".", "l", "'", "homme", ",", "va", "!"
    ]  # fmt: skip
    assert translate_tokens(words, "space") == words


def test_attached_punctuation_tells_raw_text_from_tokenised() -> None:
    from rnnkit.text.tokenize import attached_punctuation

    assert attached_punctuation("two dogs , one cat 's toy .".split()) == 1 / 8  # 's
    assert attached_punctuation('Two dogs, one "cat".'.split()) == 2 / 4
    assert attached_punctuation("हिन्दी भाषा well-made".split()) == 0.0  # vowel signs are letters
    assert attached_punctuation([]) == 0.0


@pytest.mark.parametrize(
    "text",
    ['Two dogs, one "cat" (big).', "It's a well-made film... Really?!", "我喜欢。你呢\uff1f",
     "I paid $5-10%, #1 @home", "Hello 世界 ok"],
)  # fmt: skip
def test_join_marks_undoes_split_marks(text: str) -> None:
    from rnnkit.text.tokenize import join_marks

    assert join_marks([piece for word in text.split() for piece in split_marks(word)]) == text
