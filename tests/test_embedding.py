"""Tests of rnnkit.text.embedding."""

from __future__ import annotations

import gzip

import numpy as np
import pytest
import torch

from rnnkit.text.embedding import CoverageReport, Embedding, _iter_vector_lines, vector_words
from rnnkit.text.vocab import Vocab

VOCAB = Vocab(["the", "cat", "Paris", "zebra", "sat"])  # ids 4..8 after the 4 specials

GLOVE = """the 0.1 0.2 0.3
cat 1.0 -1.0 0.5
paris 2.0 2.0 2.0
Paris 3.0 3.0 3.0
sat 0.0 0.5 -0.5
unused 9 9 9
"""


def _write(tmp_path, text: str, name: str = "vectors.txt"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_trainable_embedding_from_vocab() -> None:
    emb = Embedding.from_vocab(VOCAB, 6)
    assert isinstance(emb, torch.nn.Embedding)
    assert emb.weight.shape == (9, 6)
    assert emb.padding_idx == VOCAB.pad_index
    assert torch.equal(emb.weight[VOCAB.pad_index], torch.zeros(6))
    assert emb.weight.requires_grad
    assert emb.coverage is None
    out = emb(torch.tensor([[4, 5, 0]]))
    out.sum().backward()
    # Padding row gets no gradient, the others do.
    assert torch.equal(emb.weight.grad[0], torch.zeros(6))
    assert emb.weight.grad[4].abs().sum() > 0


def test_constructor_validation_and_freeze() -> None:
    assert not Embedding(5, 3, freeze=True).weight.requires_grad
    # torch's own classmethod builds the subclass too.
    weight = torch.randn(4, 2)
    from_torch = Embedding.from_pretrained(weight, freeze=False)
    assert type(from_torch) is Embedding and from_torch.weight.requires_grad
    assert torch.equal(from_torch(torch.tensor([3])), weight[3:])
    with pytest.raises(ValueError, match="padding_idx=5 is out of range for 5"):
        Embedding(5, 3, padding_idx=5)
    with pytest.raises(ValueError, match=">= 1"):
        Embedding(0, 3)


def test_forward_rejects_out_of_range_and_float_ids() -> None:
    emb = Embedding(5, 3)
    with pytest.raises(ValueError, match=r"id 5 is out of range .* 5 rows \(valid ids: 0\.\.4\)"):
        emb(torch.tensor([1, 5]))
    with pytest.raises(ValueError, match="id -1 is out of range"):
        emb(torch.tensor([-1, 2]))
    with pytest.raises(ValueError, match="integer tensor"):
        emb(torch.tensor([1.0]))
    assert emb(torch.empty(2, 0, dtype=torch.long)).shape == (2, 0, 3)


def test_glove_file_exact_values_and_coverage(tmp_path) -> None:
    path = _write(tmp_path, GLOVE)
    torch.manual_seed(0)
    emb = Embedding.from_pretrained_file(path, VOCAB)
    w = emb.weight.detach()
    assert w.shape == (9, 3)
    assert torch.allclose(w[VOCAB.index("the")], torch.tensor([0.1, 0.2, 0.3]))
    assert torch.allclose(w[VOCAB.index("cat")], torch.tensor([1.0, -1.0, 0.5]))
    # Exact case wins over the earlier case-insensitive entry.
    assert torch.allclose(w[VOCAB.index("Paris")], torch.tensor([3.0, 3.0, 3.0]))
    assert torch.equal(w[VOCAB.pad_index], torch.zeros(3))
    assert emb.padding_idx == VOCAB.pad_index
    assert emb.weight.requires_grad
    report = emb.coverage
    assert report == CoverageReport(found=4, found_lowercase=0, total=5, missing=("zebra",))
    assert report.fraction == pytest.approx(0.8)
    assert "80.0%" in str(report)


def test_lowercase_fallback_is_counted(tmp_path) -> None:
    path = _write(tmp_path, "THE 1 1\nparis 2 2\nPARIS 5 5\n")
    vocab = Vocab(["the", "Paris", "cat"])
    emb = Embedding.from_pretrained_file(path, vocab)
    # The first case-insensitive entry wins (files are sorted by frequency).
    assert torch.allclose(emb.weight[vocab.index("Paris")], torch.tensor([2.0, 2.0]))
    assert torch.allclose(emb.weight[vocab.index("the")], torch.tensor([1.0, 1.0]))
    assert emb.coverage.found == 0 and emb.coverage.found_lowercase == 2
    assert emb.coverage.missing == ("cat",)

    with pytest.warns(UserWarning, match="none of the 3 vocabulary tokens"):
        strict = Embedding.from_pretrained_file(path, vocab, lowercase_fallback=False)
    assert strict.coverage.matched == 0


def test_word2vec_header_and_gzip_give_the_same_result(tmp_path) -> None:
    glove = _write(tmp_path, GLOVE)
    w2v_gz = tmp_path / "vectors.vec.gz"
    with gzip.open(w2v_gz, "wt", encoding="utf-8") as f:
        f.write("6 3\n" + GLOVE)
    a = Embedding.from_pretrained_file(glove, VOCAB, generator=torch.Generator().manual_seed(1))
    b = Embedding.from_pretrained_file(w2v_gz, VOCAB, generator=torch.Generator().manual_seed(1))
    assert torch.equal(a.weight, b.weight)
    assert a.coverage == b.coverage


def test_missing_words_are_random_at_the_scale_of_the_file(tmp_path) -> None:
    words = [f"w{i}" for i in range(400)]
    torch.manual_seed(0)
    loaded = torch.randn(200, 8) * 5.0
    lines = [
        f"{w} " + " ".join(f"{x:.6f}" for x in v.tolist())
        for w, v in zip(words[:200], loaded, strict=True)
    ]
    path = _write(tmp_path, "\n".join(lines) + "\n")
    vocab = Vocab(words)  # the second half has no vectors
    emb = Embedding.from_pretrained_file(path, vocab, freeze=True)
    assert not emb.weight.requires_grad
    assert emb.coverage.matched == 200
    random_rows = emb.weight[4 + 200 :]
    assert random_rows.std().item() == pytest.approx(5.0, rel=0.1)
    assert random_rows.mean().abs().item() < 0.5
    # Seeded by torch's global generator.
    torch.manual_seed(123)
    again = Embedding.from_pretrained_file(path, vocab)
    torch.manual_seed(123)
    same = Embedding.from_pretrained_file(path, vocab)
    assert torch.equal(again.weight, same.weight)


def test_words_with_spaces_are_joined(tmp_path) -> None:
    # GloVe 840B contains entries such as ". . ." whose word has spaces.
    path = _write(tmp_path, "a 1 2\n. . . 3 4\nb 5 6\n")
    vocab = Vocab(["a", ". . .", "b"])
    emb = Embedding.from_pretrained_file(path, vocab)
    assert torch.allclose(emb.weight[vocab.index(". . .")], torch.tensor([3.0, 4.0]))
    assert emb.coverage.found == 3


def test_dimension_mismatch_with_model(tmp_path) -> None:
    path = _write(tmp_path, GLOVE)
    with pytest.raises(ValueError, match=r"vectors\.txt:1: .*dimension 3 .*embedding_dim=5"):
        Embedding.from_pretrained_file(path, VOCAB, embedding_dim=5)
    w2v = _write(tmp_path, "2 300\nthe " + " ".join(["0"] * 300) + "\n", "w2v.txt")
    with pytest.raises(ValueError, match=r"w2v\.txt:1: .*dimension 300 \(from its word2vec header"):
        Embedding.from_pretrained_file(w2v, VOCAB, embedding_dim=100)
    assert Embedding.from_pretrained_file(path, VOCAB, embedding_dim=3).embedding_dim == 3


@pytest.mark.parametrize(
    ("text", "line", "source"),
    [
        ("the 1 2 3\ncat 1 2\n", 2, "its first vector"),  # too few values
        ("the 1 2 3\nunused 1 2 3\ncat 1 2 3 4\n", 3, "its first vector"),  # too many values
        ("3 2\nthe 1 2\ncat 1 2 3\n", 3, "its word2vec header"),  # disagrees with the header
        ("3 3\nthe 1 2\n", 2, "its word2vec header"),
    ],
)
def test_inconsistent_dimensions_name_the_line(tmp_path, text: str, line: int, source) -> None:
    path = _write(tmp_path, text)
    message = rf"vectors\.txt:{line}: inconsistent vector dimension: .* \(from {source}\)"
    with pytest.raises(ValueError, match=message):
        Embedding.from_pretrained_file(path, VOCAB)


def test_lines_end_at_newline_only(tmp_path) -> None:
    """A lone carriage return inside a word is part of the word (as gensim reads it); a
    Windows line end is still a line end."""
    path = tmp_path / "vectors.txt"
    path.write_bytes(b"the 1 2\r\na\rb 5 5\r\ncat 3 3\n")
    words = [word for _, word, _, _ in _iter_vector_lines(path, None)]
    assert words == ["the", "a\rb", "cat"]


def test_malformed_and_non_finite_numbers(tmp_path) -> None:
    path = _write(tmp_path, "the 1 2\ncat 1 x2\n")
    with pytest.raises(ValueError, match=r"vectors\.txt:2: malformed number"):
        Embedding.from_pretrained_file(path, VOCAB)
    path = _write(tmp_path, "the 1 nan\n")
    with pytest.raises(ValueError, match=r"vectors\.txt:1: vector contains NaN"):
        Embedding.from_pretrained_file(path, VOCAB)


def test_empty_file_and_zero_coverage(tmp_path) -> None:
    with pytest.raises(ValueError, match="contains no vectors"):
        Embedding.from_pretrained_file(_write(tmp_path, ""), VOCAB)
    with pytest.raises(ValueError, match="contains no vectors"):
        Embedding.from_pretrained_file(_write(tmp_path, "0 3\n"), VOCAB)
    path = _write(tmp_path, "other 1 2 3\n")
    with pytest.warns(UserWarning, match="none of the 5 vocabulary tokens"):
        emb = Embedding.from_pretrained_file(path, VOCAB)
    assert emb.coverage.fraction == 0.0
    assert emb.weight.shape == (9, 3)


def test_vector_words_are_the_files_first_words_read_no_further(tmp_path) -> None:
    assert vector_words(_write(tmp_path, GLOVE), 3) == ["the", "cat", "paris"]
    every = vector_words(_write(tmp_path, GLOVE), 100)
    assert every == ["the", "cat", "paris", "Paris", "sat", "unused"]
    word2vec = gzip.compress(b"2 3\nthe 1 2 3\ncat 1 2 3\n")
    (tmp_path / "w2v.txt.gz").write_bytes(word2vec)
    assert vector_words(tmp_path / "w2v.txt.gz", 5) == ["the", "cat"]  # the header is no word
    broken = _write(tmp_path, "the 1 2 3\ncat 1 2 3\nbad 1 2\n")
    assert vector_words(broken, 2) == ["the", "cat"]  # the bad third line is never read
    with pytest.raises(ValueError, match=r"vectors\.txt:3: inconsistent vector dimension"):
        vector_words(broken, 3)


def test_binary_word2vec_hint(tmp_path) -> None:
    path = tmp_path / "vectors.bin"
    path.write_bytes(b"2 3\nthe \x00\x00\x80\xbf\xff\xfe\x00\x00\x00\x00\x80\x3f\n")
    with pytest.raises(ValueError, match="binary word2vec"):
        Embedding.from_pretrained_file(path, VOCAB)


def _glove_matrix() -> tuple[list[str], np.ndarray]:
    """The words and vectors of ``GLOVE`` as a word list and a matrix."""
    rows = [line.split(" ") for line in GLOVE.splitlines()]
    return [row[0] for row in rows], np.array([row[1:] for row in rows], dtype=np.float32)


def test_a_matrix_and_its_word_list_match_like_the_file(tmp_path) -> None:
    words, vectors = _glove_matrix()
    for fallback in (True, False):
        by_file = Embedding.from_pretrained_file(
            _write(tmp_path, GLOVE),
            VOCAB,
            lowercase_fallback=fallback,
            generator=torch.Generator().manual_seed(2),
        )
        by_matrix = Embedding.from_pretrained_vectors(
            words,
            vectors,
            VOCAB,
            lowercase_fallback=fallback,
            generator=torch.Generator().manual_seed(2),
        )
        assert torch.equal(by_file.weight, by_matrix.weight)
        assert by_file.coverage == by_matrix.coverage
    # The first of duplicate and case-insensitive entries wins, as in a file.
    emb = Embedding.from_pretrained_vectors(
        ["THE", "the", "the"], np.array([[1.0], [2.0], [3.0]]), Vocab(["the", "The"])
    )
    assert emb.weight[4].item() == 2.0 and emb.weight[5].item() == 1.0
    assert (emb.coverage.found, emb.coverage.found_lowercase) == (1, 1)


def test_a_matrix_of_the_wrong_shape_is_refused() -> None:
    words, vectors = _glove_matrix()
    with pytest.raises(ValueError, match=r"tiny: 5 words but 6 vectors"):
        Embedding.from_pretrained_vectors(words[:5], vectors, VOCAB, source="tiny")
    with pytest.raises(ValueError, match=r"2-D floating-point .* shape \(18,\)"):
        Embedding.from_pretrained_vectors(words, vectors.ravel(), VOCAB)
    with pytest.raises(ValueError, match=r"2-D floating-point .* of int64"):
        Embedding.from_pretrained_vectors(words, vectors.astype(np.int64), VOCAB)
    with pytest.raises(ValueError, match="contains no vectors"):
        Embedding.from_pretrained_vectors([], np.zeros((0, 3), np.float32), VOCAB)
    with pytest.raises(ValueError, match=r"dimension 3 but embedding_dim=4"):
        Embedding.from_pretrained_vectors(words, vectors, VOCAB, embedding_dim=4)
    vectors[words.index("unused")] = np.inf  # unused rows are not read
    assert Embedding.from_pretrained_vectors(words, vectors, VOCAB).coverage.matched == 4
    vectors[words.index("cat"), 1] = np.nan
    with pytest.raises(ValueError, match=r"tiny: the vector of 'cat' \(row 1\) is not finite"):
        Embedding.from_pretrained_vectors(words, vectors, VOCAB, source="tiny")
    with pytest.warns(UserWarning, match="tiny: none of the 5 vocabulary tokens has a vector"):
        Embedding.from_pretrained_vectors(["dog"], vectors[:1], VOCAB, source="tiny")
