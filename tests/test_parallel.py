"""Parallel text reading, pair-file discovery, BLEU and perplexity."""

from __future__ import annotations

import math
import re

import pytest
import sacrebleu

from rnnkit.data.parallel import (
    ParallelCorpus,
    SentencePair,
    find_pair_files,
    read_pair_file,
    read_parallel,
)
from rnnkit.metrics.translation import BleuScore, corpus_bleu, corpus_chrf, perplexity


def write(path, text: str | bytes):
    if isinstance(text, str):
        text = text.encode("utf-8")
    path.write_bytes(text)
    return path


# ------------------------------------------------------------------------- read_parallel
def test_real_multi30k_train_is_aligned(data_dir):
    tok = data_dir / "multi30k/tok"
    src, tgt = find_pair_files(tok, "train", "de", "en")
    assert (src.name, tgt.name) == ("train.lc.norm.tok.de", "train.lc.norm.tok.en")
    pairs, dropped = read_parallel(src, tgt)
    assert len(pairs) == 29000 and dropped == 0
    assert [p.line for p in pairs[:3]] == [1, 2, 3] and pairs[-1].line == 29000
    # Oracle: the files themselves, split by hand.
    with open(src, encoding="utf-8") as f:
        first_de = f.readline().split()
    with open(tgt, encoding="utf-8") as f:
        last_en = f.read().splitlines()[-1].split()
    assert pairs[0].source == first_de and pairs[-1].target == last_en
    assert pairs[0].source[:2] == ["zwei", "junge"]
    # The README's word counts of the tokenised training set.
    assert sum(len(p.target) for p in pairs) == 377534
    assert sum(len(p.source) for p in pairs) == 360706


def test_real_multi30k_test_split_and_max_length(data_dir):
    src, tgt = find_pair_files(data_dir / "multi30k/tok", "test_2016_flickr", "de", "en")
    everything, none_dropped = read_parallel(src, tgt)
    assert len(everything) == 1000 and none_dropped == 0
    kept, dropped = read_parallel(src, tgt, max_length=10)
    brute = [p for p in everything if len(p.source) <= 10 and len(p.target) <= 10]
    assert kept == brute
    assert dropped == 1000 - len(brute) > 0


def test_pairs_tokens_lines_and_lowercase(tmp_path):
    src = write(tmp_path / "a.de", "Ein  Hund .\n\nZwei\tKatzen\r\n")
    tgt = write(tmp_path / "a.en", "A dog .\n\nTwo cats\n")
    corpus = read_parallel(src, tgt)
    assert isinstance(corpus, ParallelCorpus)
    # The line empty on both sides is skipped; line numbers stay those of the files.
    assert corpus.pairs == [
        SentencePair(["Ein", "Hund", "."], ["A", "dog", "."], 1),
        SentencePair(["Zwei", "Katzen"], ["Two", "cats"], 3),
    ]
    lowered, _ = read_parallel(src, tgt, lowercase=True)
    assert lowered[0].source == ["ein", "hund", "."] and lowered[1].target == ["two", "cats"]


def test_max_length_counts_either_side(tmp_path):
    src = write(tmp_path / "s", "a b\na b c\na\n")
    tgt = write(tmp_path / "t", "x\ny\nx y z\n")
    pairs, dropped = read_parallel(src, tgt, max_length=2)
    assert [p.line for p in pairs] == [1] and dropped == 2
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="max_length"):
            read_parallel(src, tgt, max_length=bad)


def test_line_counts_differ_is_reported_first(tmp_path):
    # Line 1 is not even UTF-8, but the count mismatch is what is reported.
    src = write(tmp_path / "train.de", b"\xff\nb\nc\n")
    tgt = write(tmp_path / "train.en", "a\nb\n")
    with pytest.raises(ValueError) as err:
        read_parallel(src, tgt)
    message = str(err.value)
    assert str(src) in message and str(tgt) in message
    assert "3 lines" in message and "has 2" in message and "\n" not in message


@pytest.mark.parametrize("empty_side", ["source", "target"])
def test_empty_sentence_on_one_side(tmp_path, empty_side):
    full, blank = "a b\nc d\n", "a b\n   \n"
    src = write(tmp_path / "x.de", blank if empty_side == "source" else full)
    tgt = write(tmp_path / "x.en", blank if empty_side == "target" else full)
    bad = src if empty_side == "source" else tgt
    with pytest.raises(ValueError, match=rf"^{re.escape(str(bad))}:2: empty sentence$"):
        read_parallel(src, tgt)


def test_file_problems_name_the_file(tmp_path):
    good = write(tmp_path / "ok.en", "a\n")
    missing = tmp_path / "missing.de"
    with pytest.raises(ValueError, match=rf"^{re.escape(str(missing))}: file not found$"):
        read_parallel(missing, good)
    latin1 = write(tmp_path / "l.de", "gr\u00fc\u00dfe\n".encode("latin-1"))
    with pytest.raises(ValueError, match=rf"^{re.escape(str(latin1))}:1: not UTF-8"):
        read_parallel(latin1, good)


def test_only_newline_splits_lines(tmp_path):
    # A vertical tab or U+2028 inside a sentence must not shift the alignment.
    src = write(tmp_path / "s", "a\u2028b\x0bc\nd\n")
    tgt = write(tmp_path / "t", "x\ny\n")
    pairs, _ = read_parallel(src, tgt)
    assert [p.line for p in pairs] == [1, 2] and pairs[1].source == ["d"]


# ----------------------------------------------------------------------- find_pair_files
@pytest.mark.parametrize(
    ("names", "split", "langs", "expected"),
    [
        (["train.de", "train.en", "val.de"], "train", ("de", "en"), ("train.de", "train.en")),
        (["train.src", "train.tgt"], "train", ("src", "tgt"), ("train.src", "train.tgt")),
        (
            ["val.lc.norm.tok.de", "val.lc.norm.tok.en", "train.lc.norm.tok.de"],
            "val",
            ("de", "en"),
            ("val.lc.norm.tok.de", "val.lc.norm.tok.en"),
        ),
        (["train.en", "train.de"], "train", ("en", "de"), ("train.en", "train.de")),
    ],
)
def test_find_pair_files(tmp_path, names, split, langs, expected):
    for name in names:
        write(tmp_path / name, "a\n")
    found = find_pair_files(tmp_path, split, *langs)
    assert found == tuple(tmp_path / name for name in expected)


def test_find_pair_files_errors_list_candidates(tmp_path):
    for name in ["train.de", "train.lc.norm.tok.de", "train.en", "train.de.gz", "val.fr"]:
        write(tmp_path / name, "a\n")
    with pytest.raises(ValueError, match=re.escape("2 files match 'train.*.de'")) as err:
        find_pair_files(tmp_path, "train", "de", "en")
    assert "train.de, train.lc.norm.tok.de" in str(err.value)
    with pytest.raises(ValueError, match=re.escape("no file matches 'train.*.fr'")) as err:
        find_pair_files(tmp_path, "train", "en", "fr")
    assert "train.de.gz" in str(err.value)  # the split's files are listed
    with pytest.raises(ValueError, match=re.escape("no file matches 'test.*.de'")) as err:
        find_pair_files(tmp_path, "test", "de", "en")
    assert "val.fr" in str(err.value)  # no file of that split: the directory is listed
    with pytest.raises(ValueError, match="both 'de'"):
        find_pair_files(tmp_path, "train", "de", "de")
    with pytest.raises(ValueError, match="directory not found"):
        find_pair_files(tmp_path / "nope", "train", "de", "en")


# --------------------------------------------------------------------------------- BLEU
def test_bleu_of_identical_text_is_100():
    refs = ["a man is riding a bike .", "two dogs play in the snow ."]
    result = corpus_bleu(refs, refs)
    assert isinstance(result, BleuScore)
    assert result.score == pytest.approx(100.0)
    assert "tok:none" in result.signature and "nrefs:1" in result.signature


def test_bleu_hand_checked_partial_match():
    # hyp: the cat sat on the mat / ref: the cat sat on a mat (same length, BP = 1)
    # p1 = 5/6 ("the" clipped to 1), p2 = 3/5, p3 = 2/4, p4 = 1/3
    # BLEU = (5/6 · 3/5 · 2/4 · 1/3)^(1/4) = (1/12)^(1/4)
    hyp, ref = ["the cat sat on the mat"], ["the cat sat on a mat"]
    result = corpus_bleu(hyp, ref)
    assert result.score == pytest.approx(100 * (1 / 12) ** 0.25, abs=1e-9)  # 53.728
    assert result.precisions == pytest.approx((100 * 5 / 6, 60.0, 50.0, 100 / 3))
    assert result.brevity_penalty == 1.0 and (result.hyp_len, result.ref_len) == (6, 6)
    assert result.score == pytest.approx(
        sacrebleu.corpus_bleu(hyp, [ref], tokenize="none").score, abs=1e-12
    )


def test_bleu_brevity_penalty_and_corpus_level_against_sacrebleu():
    hyps = ["a dog runs .", "two men are talking on the street ."]
    refs = ["a brown dog runs on the grass .", "two men are talking on the street ."]
    result = corpus_bleu(hyps, refs)
    # c = 12, r = 16: BP = exp(1 - 16/12)
    assert result.brevity_penalty == pytest.approx(math.exp(1 - 16 / 12))
    expected = sacrebleu.corpus_bleu(hyps, [refs], tokenize="none").score
    assert result.score == pytest.approx(expected, abs=1e-12)
    assert 0 < result.score < 100


def test_13a_splits_moses_escapes_and_inflates():
    # Why "none" is the honest choice on Multi30k tok/ text: 13a splits "&apos;s".
    hyps, refs = ["a kid &apos;s toy"], ["a child &apos;s table"]
    plain, split = corpus_bleu(hyps, refs), corpus_bleu(hyps, refs, tokenize="13a")
    assert (plain.hyp_len, split.hyp_len) == (4, 7)
    assert split.score > plain.score
    assert "tok:13a" in split.signature


def test_bleu_rejects_bad_input():
    with pytest.raises(ValueError, match="tokenize"):
        corpus_bleu(["a"], ["a"], tokenize="intl")
    with pytest.raises(ValueError, match="2 hypotheses but 1 references"):
        corpus_bleu(["a", "b"], ["a"])
    with pytest.raises(ValueError, match="no sentences"):
        corpus_bleu([], [])
    with pytest.raises(ValueError, match="hypothesis 0 is a list"):
        corpus_bleu([["a", "b"]], ["a b"])


def test_chrf_scores_short_phrases_that_bleu_leaves_at_zero():
    """Phrases of 1-3 words: 16 of 29 exact, yet BLEU 0.00 (no reference had a 4-gram)."""
    refs = ["angry face", "shy face", "cat", "happy dog face"]
    hyps = ["angry face", "shy face", "cat", "sad dog face"]
    assert corpus_bleu(hyps, refs).score == 0.0
    chrf = corpus_chrf(hyps, refs)
    assert 60 < chrf < 100 and corpus_chrf(refs, refs) == pytest.approx(100.0)
    from sacrebleu.metrics import CHRF

    assert chrf == pytest.approx(CHRF().corpus_score(hyps, [refs]).score)


# --------------------------------------------------------------------------- perplexity
def test_perplexity():
    assert perplexity(0.0, 5) == 1.0
    # A uniform model over V tokens has perplexity V.
    assert perplexity(7 * math.log(40), 7) == pytest.approx(40.0)
    assert perplexity(1e6, 1) == math.inf
    for tokens in (0, -3, 2.0, True):
        with pytest.raises(ValueError, match="tokens"):
            perplexity(1.0, tokens)
    for nll in (-1.0, math.nan):
        with pytest.raises(ValueError, match="total_nll"):
            perplexity(nll, 3)


def test_blank_lines_at_the_end_of_one_file_are_not_sentences(tmp_path):
    src = write(tmp_path / "x.de", "a b\r\nc d\r\n")
    tgt = write(tmp_path / "x.en", "e f\r\ng h\r\n\r\n\r\n")
    pairs, _ = read_parallel(src, tgt)
    assert [(p.source, p.target) for p in pairs] == [
        (["a", "b"], ["e", "f"]),
        (["c", "d"], ["g", "h"]),
    ]


def test_a_pair_file_header_and_pandas_index_are_not_pairs(tmp_path):
    """pandas' ``to_csv(sep="\\t")`` writes a header and an index column: the file was refused
    ("empty sentence (column 0)"); without the index its header was read as a pair."""
    path = tmp_path / "pairs.tsv"
    path.write_text("\ten\tde\n0\ta man\tein Mann\n1\ta dog\tein Hund\n")
    pairs = read_pair_file(path).pairs
    assert [(p.source, p.target, p.line) for p in pairs] == [
        (["a", "man"], ["ein", "Mann"], 2), (["a", "dog"], ["ein", "Hund"], 3)
    ]  # fmt: skip
    assert [p.source for p in read_pair_file(path, src_column=1, tgt_column=0).pairs] == [
        ["ein", "Mann"], ["ein", "Hund"]
    ]  # fmt: skip
    for header in ("en\tde", "source\ttarget", "eng\tfra\tattribution"):
        path.write_text(f"{header}\na man\tein Mann\tx\n")
        assert [p.line for p in read_pair_file(path).pairs] == [2]
    path.write_text("Go.\tVa !\nyes\toui\n")  # a short pair after the first line is a pair
    assert len(read_pair_file(path).pairs) == 2
    path.write_text("\ten\tfr\n12\tHi.\tSalut.\n3\tGo.\tVa !\n")  # a shuffled frame's index
    assert [(p.source, p.line) for p in read_pair_file(path).pairs] == [(["Hi."], 2), (["Go."], 3)]
    for header in ("EN\tFR", "Source\tTarget"):
        path.write_text(f"{header}\nYes\tOui\n")
        assert [p.line for p in read_pair_file(path).pairs] == [2]
    path.write_text("Yes\tOui\nNo\tNon\n")  # short capitalised words: a pair, not a header
    assert len(read_pair_file(path).pairs) == 2


def test_pair_file_columns_blank_lines_and_errors(tmp_path):
    """Tatoeba/Anki lines (English, French, attribution), either column the source."""
    path = tmp_path / "fra.txt"
    path.write_bytes(
        b"\xef\xbb\xbfGo.\tVa !\tCC-BY 2.0 (France) #2877272\r\n\nHi there.\tSalut !\t#538123\n\n"
    )
    pairs, dropped = read_pair_file(path, lowercase=True)
    assert dropped == 0
    assert [(p.source, p.target, p.line) for p in pairs] == [
        (["go."], ["va", "!"], 1), (["hi", "there."], ["salut", "!"], 3)
    ]  # fmt: skip
    reverse = read_pair_file(path, src_column=1, tgt_column=0).pairs
    assert [(p.source, p.target) for p in reverse] == [
        (["Va", "!"], ["Go."]), (["Salut", "!"], ["Hi", "there."])
    ]  # fmt: skip
    anki = tmp_path / "anki.txt"
    anki.write_text("#separator:tab\n#html:false\nGo.\tVa !\n#tag\tun mot-dièse\n")
    assert [p.source for p in read_pair_file(anki).pairs] == [["Go."], ["#tag"]]
    path.write_text("Go.\tVa !\nHi.\n")
    with pytest.raises(ValueError, match=r"fra.txt:2: 1 tab-separated column, expected at least 2"):
        read_pair_file(path)
    path.write_text("Go.\t \n")
    with pytest.raises(ValueError, match=r"fra.txt:1: empty sentence \(column 1\)"):
        read_pair_file(path)
    with pytest.raises(ValueError, match=r"missing.txt: file not found"):
        read_pair_file(tmp_path / "missing.txt")
