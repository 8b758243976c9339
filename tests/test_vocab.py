"""Tests of rnnkit.text.vocab and rnnkit.text.normalizers."""

from __future__ import annotations

import json

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnkit.text import normalizers as norm
from rnnkit.text.normalizers import (
    available_normalizers,
    get_normalizer,
    lowercase,
    normalizer_name,
    number_normalizer,
    register_normalizer,
    url_normalizer,
)
from rnnkit.text.vocab import BOS, DEFAULT_SPECIALS, EOS, PAD, UNK, Vocab

CORPUS = [
    ["the", "cat", "sat", "on", "the", "mat"],
    ["the", "dog", "sat"],
    ["a", "cat", "and", "a", "dog"],
]


# ---------------------------------------------------------------- normalisers


@pytest.mark.parametrize(
    "token", ["http://example.com", "https://a.b/c?d=1", "HTTPS://X.ORG", "www.python.org"]
)
def test_url_normalizer_replaces_urls(token: str) -> None:
    assert url_normalizer(token) == "<url>"


@pytest.mark.parametrize("token", ["website", "www", "www.", "see:http://x", "http", "http://"])
def test_url_normalizer_keeps_non_urls(token: str) -> None:
    assert url_normalizer(token) == token


@pytest.mark.parametrize(
    "token", ["12", "0", "3.5", "-3.5", "+7", "1,000", "12,345,678.9", ".5", "2e-3", "\uff11\uff12"]
)
def test_number_normalizer_replaces_numbers(token: str) -> None:
    assert number_normalizer(token) == "<num>"


@pytest.mark.parametrize("token", ["12a", "1,00", "1.2.3", "-", ".", "e5", "one", "3/4", "1,0000"])
def test_number_normalizer_keeps_non_numbers(token: str) -> None:
    assert number_normalizer(token) == token


def test_lowercase_leaves_specials_alone() -> None:
    assert lowercase("Hello") == "hello"
    assert lowercase("<UNK>") == "<UNK>"
    assert lowercase("ÉTÉ") == "été"


def test_registry_round_trip_and_unknown_name() -> None:
    assert set(available_normalizers()) >= {"url", "number", "lowercase"}
    for name in available_normalizers():
        assert normalizer_name(get_normalizer(name)) == name
    with pytest.raises(ValueError, match=r"unknown normalizer 'digits'.*lowercase, number, url"):
        get_normalizer("digits")
    with pytest.raises(ValueError, match="not registered"):
        normalizer_name(str.upper)


def test_register_normalizer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(norm, "_REGISTRY", dict(norm._REGISTRY))

    def strip_hash(token: str) -> str:
        return token.lstrip("#")

    register_normalizer("strip_hash", strip_hash)
    register_normalizer("strip_hash", strip_hash)  # idempotent for the same callable
    assert get_normalizer("strip_hash") is strip_hash
    with pytest.raises(ValueError, match="already registered"):
        register_normalizer("strip_hash", lowercase)
    with pytest.raises(ValueError, match="non-empty"):
        register_normalizer("", strip_hash)
    vocab = Vocab.build([["#tag", "tag", "x"]], normalizers=[strip_hash])
    assert vocab.normalizers == ("strip_hash",)
    assert vocab.counts["tag"] == 2


# ----------------------------------------------------------------------- build


def test_build_order_specials_then_count_then_alphabetical() -> None:
    vocab = Vocab.build(CORPUS)
    assert vocab.tokens[:4] == DEFAULT_SPECIALS
    # the:3; a, cat, dog, sat: 2 each (alphabetical); and, mat, on: 1 each.
    assert vocab.tokens[4:] == ("the", "a", "cat", "dog", "sat", "and", "mat", "on")
    assert vocab.counts == {
        "the": 3,
        "a": 2,
        "cat": 2,
        "dog": 2,
        "sat": 2,
        "and": 1,
        "mat": 1,
        "on": 1,
    }
    assert (vocab.pad_index, vocab.unk_index, vocab.bos_index, vocab.eos_index) == (0, 1, 2, 3)


def test_build_is_independent_of_input_order() -> None:
    forward = Vocab.build(CORPUS)
    backward = Vocab.build([list(reversed(s)) for s in reversed(CORPUS)])
    assert forward == backward


def test_min_freq_and_max_size() -> None:
    assert Vocab.build(CORPUS, min_freq=2).tokens[4:] == ("the", "a", "cat", "dog", "sat")
    small = Vocab.build(CORPUS, max_size=7)
    assert len(small) == 7
    assert small.tokens[4:] == ("the", "a", "cat")


def test_build_from_generator_and_custom_specials() -> None:
    vocab = Vocab.build((s for s in CORPUS), specials=("<pad>", "[MASK]"))
    assert vocab.specials == ("<pad>", "[MASK]")
    assert vocab.index("[MASK]") == 1
    assert "the" in vocab and "zebra" not in vocab


def test_literal_special_in_data_is_not_counted() -> None:
    # Penn Treebank text contains "<unk>" itself; it must map to the special, not be a word.
    vocab = Vocab.build([["a", "<unk>", "<unk>", "b"]])
    assert vocab.tokens == (*DEFAULT_SPECIALS, "a", "b")
    assert vocab.encode(["<unk>", "a"]) == [vocab.unk_index, 4]


def test_chinese_characters() -> None:
    text = "我爱北京天安门我爱你"
    vocab = Vocab.build([list(text)])
    assert vocab.tokens[4:6] == ("我", "爱")
    assert vocab.decode(vocab.encode(list("北京"))) == ["北", "京"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"min_freq": 0}, "min_freq"),
        ({"max_size": 4}, "max_size"),
        ({"max_size": 2.5}, "max_size"),
    ],
)
def test_build_rejects_bad_limits(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Vocab.build(CORPUS, **kwargs)


def test_empty_vocabulary_errors() -> None:
    with pytest.raises(ValueError, match="empty vocabulary: the data contains no tokens"):
        Vocab.build([])
    with pytest.raises(ValueError, match="empty vocabulary: the data contains no tokens"):
        Vocab.build([["<pad>", "<eos>"], []])
    with pytest.raises(ValueError, match=r"empty vocabulary: none of the 8 distinct tokens"):
        Vocab.build(CORPUS, min_freq=10)
    with pytest.raises(ValueError, match="empty vocabulary"):
        Vocab([], specials=())


def test_build_rejects_strings_and_non_string_tokens() -> None:
    with pytest.raises(TypeError, match=r"sequence 0 is a str.*list\(text\)"):
        Vocab.build(["hello world"])
    with pytest.raises(TypeError, match="sequence 1 contains 3 of type int"):
        Vocab.build([["a"], ["b", 3]])
    with pytest.raises(ValueError, match="sequence 0 contains an empty-string token"):
        Vocab.build([["a", ""]])


def test_constructor_validation() -> None:
    with pytest.raises(ValueError, match="duplicate token 'a'"):
        Vocab(["a", "b", "a"])
    with pytest.raises(ValueError, match="duplicate special '<pad>'"):
        Vocab(["a"], specials=("<pad>", "<pad>"))
    with pytest.raises(ValueError, match="duplicate token '<unk>'"):
        Vocab(["a", "<unk>"])
    with pytest.raises(ValueError, match="not a regular token"):
        Vocab(["a"], counts={"b": 1})
    with pytest.raises(ValueError, match="non-negative int"):
        Vocab(["a"], counts={"a": -1})


# ------------------------------------------------------------- encode/decode


def test_encode_decode() -> None:
    vocab = Vocab.build(CORPUS)
    ids = vocab.encode(["the", "zebra", "sat"], add_bos=True, add_eos=True)
    assert ids == [vocab.bos_index, 4, vocab.unk_index, vocab.index("sat"), vocab.eos_index]
    assert vocab.decode(ids) == ["the", UNK, "sat"]
    assert vocab.decode(ids, strip_specials=False) == [BOS, "the", UNK, "sat", EOS]
    assert vocab.decode([*ids, vocab.pad_index, vocab.pad_index]) == ["the", UNK, "sat"]
    assert vocab.decode(torch.tensor(ids)) == ["the", UNK, "sat"]
    assert vocab.token_to_index("cat") == vocab.index("cat")
    assert vocab.index_to_token(4) == "the"


def test_encode_decode_errors() -> None:
    vocab = Vocab.build(CORPUS)
    with pytest.raises(TypeError, match="not a str"):
        vocab.encode("the cat")
    with pytest.raises(ValueError, match="id 12 is out of range for a vocabulary of 12"):
        vocab.decode([1, 12])
    with pytest.raises(ValueError, match="id -1 is out of range"):
        vocab.index_to_token(-1)
    with pytest.raises(ValueError, match=r"1-D.*\(1, 2\)"):
        vocab.decode(torch.tensor([[1, 2]]))
    with pytest.raises(TypeError):
        vocab.decode([1.5])


def test_missing_specials_give_clear_errors() -> None:
    vocab = Vocab.build(CORPUS, specials=(PAD,))
    with pytest.raises(ValueError, match=r"special token '<unk>' is not in this vocabulary"):
        _ = vocab.unk_index
    with pytest.raises(ValueError, match=r"special token '<foo>'.*specials are \['<pad>'\]"):
        vocab.index("<foo>")
    with pytest.raises(ValueError, match=r"token 'zebra' is not in the vocabulary, which has no"):
        vocab.encode(["the", "zebra"])
    with pytest.raises(ValueError, match="'<bos>'"):
        vocab.encode(["the"], add_bos=True)
    with pytest.raises(ValueError, match=r"^token 'zebra' is not in the vocabulary$"):
        vocab.index("zebra")


def test_normalizers_apply_to_build_and_encode() -> None:
    data = [["Visit", "www.x.org", "or", "http://y.com", "for", "3", "Cats"], ["visit", "1,000"]]
    vocab = Vocab.build(data, normalizers=["url", "number", "lowercase"])
    assert vocab.counts["<url>"] == 2
    assert vocab.counts["<num>"] == 2
    assert vocab.counts["visit"] == 2
    assert "Visit" not in vocab
    ids = vocab.encode(["VISIT", "https://z.io", "42", "CATS"])
    assert vocab.decode(ids) == ["visit", "<url>", "<num>", "cats"]
    # A single name is accepted as well as a list of names.
    assert Vocab.build(data, normalizers="lowercase").normalizers == ("lowercase",)
    with pytest.raises(ValueError, match="unknown normalizer 'digits'"):
        Vocab.build(data, normalizers=["digits"])


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.lists(st.text(min_size=1, max_size=4), min_size=1, max_size=8), min_size=1, max_size=8
    )
)
def test_encode_decode_round_trip_property(sentences: list[list[str]]) -> None:
    # Tokens of at most 4 characters can never collide with the 5-character specials.
    vocab = Vocab.build(sentences)
    for sentence in sentences:
        assert vocab.decode(vocab.encode(sentence)) == sentence


# ----------------------------------------------------------------- save/load


def test_save_load_round_trip(tmp_path) -> None:
    data = [["Ünïcödé", "我", "www.a.com", "12"], ["我", "x"]]
    vocab = Vocab.build(data, normalizers=["url", "number"])
    path = tmp_path / "vocab.json"
    vocab.save(path)
    loaded = Vocab.load(path)
    assert loaded == vocab
    assert loaded.tokens == vocab.tokens
    assert loaded.normalizers == ("url", "number")
    assert loaded.encode(["http://b.org", "7"]) == vocab.encode(["<url>", "<num>"])
    text = path.read_text(encoding="utf-8")
    assert "我" in text and "Ünïcödé" in text  # ensure_ascii=False
    assert [p.name for p in tmp_path.iterdir()] == ["vocab.json"]  # no temp file left


def test_save_overwrites_atomically(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "vocab.json"
    Vocab.build([["a"]]).save(path)
    Vocab.build([["b", "c"]]).save(path)
    assert Vocab.load(path).tokens[4:] == ("b", "c")
    # Same permissions as any other new file (mkstemp would have made it 0600).
    (tmp_path / "plain.txt").write_text("x")
    assert path.stat().st_mode == (tmp_path / "plain.txt").stat().st_mode

    def failing_dump(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(json, "dump", failing_dump)
    with pytest.raises(OSError, match="disk full"):
        Vocab.build([["d"]]).save(path)
    assert Vocab.load(path).tokens[4:] == ("b", "c")  # the old file is intact
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plain.txt", "vocab.json"]


def _write(tmp_path, content: str):
    path = tmp_path / "bad.json"
    path.write_text(content, encoding="utf-8")
    return path


def test_load_errors_name_the_file(tmp_path) -> None:
    good = Vocab.build(CORPUS).to_dict()

    path = _write(tmp_path, "{not json")
    with pytest.raises(ValueError, match=r"bad\.json: malformed JSON.*line 1"):
        Vocab.load(path)

    path = _write(tmp_path, json.dumps([1, 2]))
    with pytest.raises(ValueError, match=r"bad\.json: not an rnnkit vocabulary"):
        Vocab.load(path)

    for field in ("specials", "tokens", "normalizers", "counts"):
        broken = {k: v for k, v in good.items() if k != field}
        path = _write(tmp_path, json.dumps(broken))
        with pytest.raises(ValueError, match=rf"bad\.json: missing field '{field}'"):
            Vocab.load(path)

    path = _write(tmp_path, json.dumps({**good, "version": 99}))
    with pytest.raises(ValueError, match=r"bad\.json: unsupported vocabulary version 99"):
        Vocab.load(path)

    path = _write(tmp_path, json.dumps({**good, "tokens": "abc"}))
    with pytest.raises(ValueError, match=r"bad\.json: field 'tokens' must be a JSON array"):
        Vocab.load(path)

    path = _write(tmp_path, json.dumps({**good, "normalizers": ["nope"]}))
    with pytest.raises(ValueError, match=r"bad\.json: unknown normalizer 'nope'"):
        Vocab.load(path)

    path = _write(tmp_path, json.dumps({**good, "tokens": []}))
    with pytest.raises(ValueError, match=r"bad\.json: empty vocabulary"):
        Vocab.load(path)

    path = tmp_path / "latin1.json"
    path.write_bytes(b'{"format": "\xe9"}')
    with pytest.raises(ValueError, match=r"latin1\.json: not UTF-8"):
        Vocab.load(path)


def test_a_token_that_is_not_unicode_text_is_a_value_error_and_leaves_no_file(tmp_path) -> None:
    vocab = Vocab.build([["a", "b\udc80"]])  # a lone surrogate, as surrogateescape decodes
    with pytest.raises(ValueError, match=r"v\.json: a token holds '\\udc80', which is not"):
        vocab.save(tmp_path / "v.json")
    assert list(tmp_path.iterdir()) == []
