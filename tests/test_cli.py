"""The ``rnnkit`` command: train / evaluate / predict / summary of the classify task, resume,
Ctrl-C, and one-line errors (exit status 2) for user mistakes."""

from __future__ import annotations

import csv
import hashlib
import json
import random
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from rnnkit.cli import main
from rnnkit.data.readers import read_labeled_lines, read_text_lines
from rnnkit.runs import RunDir
from rnnkit.tasks.classify import build_model
from rnnkit.text.vocab import Vocab
from rnnkit.train import Trainer

POSITIVE = ("good", "nice", "great", "fine")
NEGATIVE = ("bad", "awful", "poor", "ugly")
FILLER = ("the", "a", "film", "movie", "is", "was", "plot", "very")
TINY = ["--hidden-size", "16", "--embedding-dim", "8", "--batch-size", "8"]


def write_toy(path: Path, count: int, seed: int) -> Path:
    """``count`` lines "pos|neg TEXT": two filler words and one word that gives the label."""
    rng = random.Random(seed)
    lines = []
    for _ in range(count):
        label = rng.choice(("pos", "neg"))
        words = [*rng.sample(FILLER, 2), rng.choice(POSITIVE if label == "pos" else NEGATIVE)]
        rng.shuffle(words)
        lines.append(f"{label} {' '.join(words)}\n")
    path.write_text("".join(lines), encoding="utf-8")
    return path


def run_cli(argv: list[str]) -> int:
    """``main(argv)``'s exit status, also when argparse exits."""
    try:
        return main(argv)
    except SystemExit as stop:
        return int(stop.code or 0)


def snapshot(directory: Path) -> dict[str, str]:
    """Every file under ``directory`` and the hash of its bytes."""
    return {
        str(path.relative_to(directory)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    }


@pytest.fixture(scope="module")
def toy(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Toy data files and one trained run (5 epochs) shared by the tests of this module."""
    root = tmp_path_factory.mktemp("toy")
    files = {
        "train": write_toy(root / "train.txt", 40, seed=1),
        "valid": write_toy(root / "valid.txt", 10, seed=2),
        "test": write_toy(root / "test.txt", 12, seed=3),
    }
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        argv = ["train", "classify", "--train", str(files["train"]), "--test", str(files["test"])]
        # without early stopping (on by default), so the weights kept are the last epoch's
        argv += [*TINY, "--epochs", "5", "--lr", "0.02", "--patience", "off"]
        status = main([*argv, "--out", str(root / "run")])
    finally:
        torch.set_num_threads(threads)
    assert status == 0
    return {**files, "run": root / "run", "root": root}


@pytest.fixture(autouse=True)
def _one_thread(one_thread: None) -> Iterator[None]:
    yield


# ---------------------------------------------------------------------- the happy path
def test_train_writes_a_complete_run_directory_and_learns_the_toy_task(
    toy: dict[str, Path],
) -> None:
    run = RunDir.open(toy["run"])
    config = run.read_config()
    assert config["task"] == "classify"
    assert (config["hidden_size"], config["epochs"], config["cell"]) == (16, 5, "lstm")
    assert config["patience"] is None
    assert config["train"] == str(toy["train"].resolve()) and config["valid"] is None
    vocab = Vocab.load(toy["run"] / "vocab.json")
    labels = run.read_json("labels.json")
    assert labels == ["neg", "pos"]
    train_words = {w for ex in read_labeled_lines(toy["train"]) for w in ex.text.split()}
    assert set(vocab.tokens[len(vocab.specials) :]) <= train_words
    model = build_model(config, {"vocab": vocab.to_dict(), "labels": labels})
    run.load_weights(model)
    final = {name: tensor.clone() for name, tensor in model.state_dict().items()}
    state = run.load_checkpoint("last", model, restore_rng=False)
    assert state["epoch"] == 5
    assert all(torch.equal(final[name], value) for name, value in model.state_dict().items())
    assert run.has_checkpoint("best")
    with run.log_path.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [row["epoch"] for row in rows] == ["1", "2", "3", "4", "5"]
    metrics = run.read_json("metrics.json")
    assert metrics["valid_examples"] == 4  # 10 % of the 40 training lines held out
    assert metrics["test_examples"] == 12
    assert metrics["test_accuracy"] >= 0.9
    assert metrics["test_loss"] < 0.5


def test_train_prints_one_line_per_epoch_and_no_progress_bar_off_a_terminal(
    toy: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["train", "classify", "--train", str(toy["train"]), "--valid", str(toy["valid"])]
    assert main([*argv, *TINY, "--epochs", "3", "--out", str(tmp_path / "run")]) == 0
    out, err = capsys.readouterr()
    info, lines = out.splitlines()[:3], out.splitlines()[3:]
    assert info[0].startswith("train: 40 examples") and info[1].startswith("valid: 10 examples")
    assert info[2].startswith("vocab: ")
    # 5 updates an epoch: --patience (not given) would grow to 3000 / 6 updates, which could
    # never stop 3 epochs: it is not chosen, nor said
    assert "chosen" not in out
    assert [line.split()[1] for line in lines[:3]] == ["1/3", "2/3", "3/3"]
    assert all("train loss" in line and "valid accuracy" in line for line in lines[:3])
    assert err == ""  # tqdm is disabled when stderr is not a terminal
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["valid_examples"] == 10 and "test_accuracy" not in metrics
    assert metrics["kept_epoch"] == metrics["best_epoch"]  # early stopping keeps the best
    # --patience off trains every epoch and keeps the last one's weights: metrics say which
    assert (
        main([*argv, *TINY, "--epochs", "3", "--patience", "off", "--out", str(tmp_path / "all")])
        == 0
    )
    metrics = json.loads((tmp_path / "all" / "metrics.json").read_text())
    assert metrics["kept_epoch"] == metrics["epochs"] == 3


def test_evaluate_prints_one_json_line_of_the_run_metrics(
    toy: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert main(["evaluate", str(toy["run"])]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    result = json.loads(out)
    metrics = json.loads((toy["run"] / "metrics.json").read_text())
    assert result["examples"] == 12
    assert result["accuracy"] == pytest.approx(metrics["test_accuracy"])
    assert result["loss"] == pytest.approx(metrics["test_loss"])
    assert main(["evaluate", str(toy["run"]), "--data", str(toy["valid"])]) == 0
    assert json.loads(capsys.readouterr().out)["examples"] == 10


def test_a_label_training_never_saw_counts_as_wrong_and_adds_no_loss(
    toy: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """As in ATIS, whose validation and test files hold a few labels the training file lacks:
    the example is scored (a wrong prediction), not refused."""
    capsys.readouterr()
    assert main(["evaluate", str(toy["run"]), "--data", str(toy["valid"])]) == 0
    known = json.loads(capsys.readouterr().out)
    extended = tmp_path / "valid_plus.txt"
    extended.write_bytes(toy["valid"].read_bytes() + b"meh so so film\n")
    assert main(["evaluate", str(toy["run"]), "--data", str(extended)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["examples"] == known["examples"] + 1 and result["unknown_labels"] == 1
    assert result["accuracy"] == pytest.approx(known["accuracy"] * known["examples"] / 11)
    assert result["loss"] == pytest.approx(known["loss"])
    out = tmp_path / "run"
    argv = ["train", "classify", "--train", str(toy["train"]), "--valid", str(extended)]
    assert main([*argv, *TINY, "--epochs", "1", "--out", str(out)]) == 0
    log = capsys.readouterr()
    assert f"1 with a label training never saw (first: 'meh' at {extended}:11)" in log.out + log.err


def test_predict_writes_one_label_per_input_line(
    toy: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    texts = ["the film was good", "awful plot", "very nice movie", "poor", "great", "ugly film"]
    source = tmp_path / "texts.txt"
    source.write_text("\n".join(texts) + "\n", encoding="utf-8")
    output = tmp_path / "labels.txt"
    assert main(["predict", str(toy["run"]), "--input", str(source), "--output", str(output)]) == 0
    labels = output.read_text(encoding="utf-8").splitlines()
    assert labels == ["pos", "neg", "pos", "neg", "pos", "neg"]
    capsys.readouterr()
    assert main(["predict", str(toy["run"]), "--input", str(source)]) == 0
    assert capsys.readouterr().out.splitlines() == labels


def test_summary_prints_the_parameter_counts(
    toy: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert main(["summary", str(toy["run"])]) == 0
    out = capsys.readouterr().out
    run = RunDir.open(toy["run"])
    config = run.read_config()
    model = build_model(
        config, {"vocab": Vocab.load(toy["run"] / "vocab.json").to_dict(), "labels": ["a", "b"]}
    )
    total = sum(p.numel() for p in model.parameters())
    assert f"total parameters: {total:,}" in out
    assert "LSTM layer" in out and "weight_hh (64, 16)" in out


def test_char_tokens_and_overwrite(toy: dict[str, Path], tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    shutil.copytree(toy["run"], run_dir)
    argv = ["train", "classify", "--train", str(toy["train"]), "--tokens", "char", *TINY]
    assert main([*argv, "--epochs", "1", "--out", str(run_dir), "--overwrite"]) == 0
    vocab = Vocab.load(run_dir / "vocab.json")
    regular = vocab.tokens[len(vocab.specials) :]
    assert " " in regular and all(len(token) == 1 for token in regular)
    assert RunDir.open(run_dir).read_config()["epochs"] == 1
    assert RunDir.open(run_dir).has_checkpoint("last")
    assert len(RunDir.open(run_dir).read_log()) == 1


# ---------------------------------------------------------------------- resume and Ctrl-C
def test_resume_to_four_epochs_equals_a_straight_four_epoch_run(
    toy: dict[str, Path], tmp_path: Path
) -> None:
    argv = ["train", "classify", "--train", str(toy["train"]), *TINY, "--dropout", "0.3"]
    assert main([*argv, "--epochs", "4", "--out", str(tmp_path / "straight")]) == 0
    assert main([*argv, "--epochs", "2", "--out", str(tmp_path / "resumed")]) == 0
    two = load_file(tmp_path / "resumed" / "model.safetensors")
    assert main(["train", "classify", "--resume", str(tmp_path / "resumed"), "--epochs", "4"]) == 0
    straight = load_file(tmp_path / "straight" / "model.safetensors")
    resumed = load_file(tmp_path / "resumed" / "model.safetensors")
    assert straight.keys() == resumed.keys()
    assert all(torch.equal(straight[k], resumed[k]) for k in straight)
    assert not all(torch.equal(two[k], resumed[k]) for k in two)
    run = RunDir.open(tmp_path / "resumed")
    assert run.read_config()["epochs"] == 4
    assert [row["epoch"] for row in run.read_log()] == ["1", "2", "3", "4"]
    assert run.read_json("metrics.json")["epochs"] == 4


def _interrupt_at_step(monkeypatch: pytest.MonkeyPatch, step: int) -> Callable[..., float]:
    """Make the ``step``-th optimizer step raise KeyboardInterrupt (Ctrl-C); returns the real
    ``Trainer._step`` to put back."""
    original = Trainer._step
    calls = []

    def interrupted_step(self: Trainer, loss: torch.Tensor) -> float:
        calls.append(1)
        if len(calls) == step:
            raise KeyboardInterrupt
        return original(self, loss)

    monkeypatch.setattr(Trainer, "_step", interrupted_step)
    return original


def test_a_resumed_run_takes_the_epochs_given_not_a_budget_sized_again(
    toy: dict[str, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    original = _interrupt_at_step(monkeypatch, 7)  # epoch 2 (5 batches an epoch)
    run_dir = tmp_path / "run"
    argv = ["train", "classify", "--train", str(toy["train"]), *TINY, "--min-updates", "200"]
    assert main([*argv, "--out", str(run_dir)]) == 130
    assert "chosen: --epochs 40, --patience 7" in capsys.readouterr().out  # 200 / 5 updates
    monkeypatch.setattr(Trainer, "_step", original)
    assert main(["train", "classify", "--resume", str(run_dir), "--epochs", "2"]) == 0
    assert "chosen:" not in capsys.readouterr().out
    assert RunDir.open(run_dir).read_json("metrics.json")["epochs"] == 2


def test_ctrl_c_saves_the_last_checkpoint_and_exits_130(
    toy: dict[str, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    original = _interrupt_at_step(monkeypatch, 7)  # the second step of epoch 2 (5 an epoch)
    run_dir = tmp_path / "run"
    argv = ["train", "classify", "--train", str(toy["train"]), *TINY, "--epochs", "3"]
    assert main([*argv, "--out", str(run_dir)]) == 130
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "interrupted in epoch 2" in err and "--resume" in err
    run = RunDir.open(run_dir)
    vocab = Vocab.load(run_dir / "vocab.json")
    model = build_model(run.read_config(), {"vocab": vocab.to_dict(), "labels": ["a", "b"]})
    state = run.load_checkpoint("last", model, restore_rng=False)
    assert state["epoch"] == 1 and state["global_step"] == 6
    assert not run.weights_path.exists()
    monkeypatch.setattr(Trainer, "_step", original)
    assert main(["train", "classify", "--resume", str(run_dir)]) == 0
    assert run.read_json("metrics.json")["epochs"] == 3


# ---------------------------------------------------------------------- user mistakes
def _bad_files(root: Path) -> dict[str, Path]:
    files = {
        "empty": root / "empty.txt",
        "binary": root / "binary.txt",
        "notext": root / "notext.txt",
        "unknown": root / "unknown.txt",
        "blank": root / "blank.txt",
    }
    files["empty"].write_bytes(b"")
    files["binary"].write_bytes(b"pos good film\nneg \xff bad\n")
    files["notext"].write_bytes(b"pos good film\nneg\n")
    files["unknown"].write_bytes(b"meh so so\nbah fine film\n")  # no training label
    files["blank"].write_bytes(b"pos good film\n\nneg bad\n")
    return files


Case = Callable[[dict[str, Path]], list[str]]


def _train(*extra: str) -> Case:
    return lambda p: ["train", "classify", "--out", str(p["new"]), *extra]


def _train_with(name: str, *extra: str) -> Case:
    return lambda p: ["train", "classify", "--train", str(p[name]), "--out", str(p["new"]), *extra]


BAD_INPUTS: dict[str, tuple[Case, str]] = {
    "existing run dir": (
        lambda p: ["train", "classify", "--train", str(p["train"]), "--out", str(p["run"])],
        "already exists",
    ),
    "empty train file": (_train_with("empty"), "empty.txt: no examples"),
    "non-UTF-8 file": (_train_with("binary"), "binary.txt:2: not UTF-8"),
    "line without text": (_train_with("notext"), "notext.txt:2: no text after the label 'neg'"),
    "unknown test label": (
        lambda p: [*_train_with("train")(p), "--test", str(p["unknown"])],
        "unknown.txt:1: unknown label 'meh': no label of",
    ),
    "negative hidden size": (_train_with("train", "--hidden-size", "-3"), "--hidden-size"),
    "zero epochs": (_train_with("train", "--epochs", "0"), "--epochs"),
    "zero learning rate": (_train_with("train", "--lr", "0"), "--lr"),
    "dropout of 1": (_train_with("train", "--dropout", "1"), "--dropout"),
    "bad tokens value": (_train_with("train", "--tokens", "bpe"), "--tokens"),
    "min freq above every count": (_train_with("train", "--min-freq", "1000"), "train.txt"),
    "missing file": (_train("--train", "no-such-file.txt"), "--train: no-such-file.txt"),
    "missing --train": (_train(), "--train is required"),
    "unknown recipe": (
        lambda p: ["train", "classify", "--recipe", "nope", "--out", str(p["new"])],
        "--recipe nope: unknown recipe of classify",
    ),
    "recipe without a data directory": (
        lambda p: ["train", "classify", "--recipe", "sst2", "--out", str(p["new"])],
        "no data directory: give --data-dir DIR or set RNNKIT_DATA_DIR",
    ),
    "resume with a changed model option": (
        lambda p: ["train", "classify", "--resume", str(p["run"]), "--hidden-size", "8"],
        "--hidden-size cannot be changed",
    ),
    "resume of a finished run": (
        lambda p: ["train", "classify", "--resume", str(p["run"]), "--epochs", "5"],
        "already trained 5 epochs",
    ),
    "missing run dir for evaluate": (
        lambda p: ["evaluate", str(p["new"])],
        "run directory not found",
    ),
    "corrupt safetensors for evaluate": (
        lambda p: ["evaluate", str(p["corrupt"])],
        "model.safetensors: not a valid safetensors file",
    ),
    "hand-edited config for summary": (
        lambda p: ["summary", str(p["badconfig"])],
        "config.json: --hidden-size must be a positive integer, got 'big'",
    ),
    "unknown label for evaluate": (
        lambda p: ["evaluate", str(p["run"]), "--data", str(p["unknown"])],
        "unknown.txt:1: unknown label 'meh': no label of",
    ),
    "blank line for predict": (
        lambda p: ["predict", str(p["run"]), "--input", str(p["blank"])],
        "blank.txt:2: blank line",
    ),
    "missing input for predict": (
        lambda p: ["predict", str(p["run"]), "--input", str(p["new"])],
        "--input",
    ),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_a_user_mistake_gives_one_line_and_exit_2_and_leaves_the_run_alone(
    case: str,
    toy: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("RNNKIT_DATA_DIR", raising=False)
    paths = {**toy, **_bad_files(tmp_path), "new": tmp_path / "new-run"}
    paths["corrupt"] = tmp_path / "corrupt-run"
    shutil.copytree(toy["run"], paths["corrupt"])
    weights = paths["corrupt"] / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    paths["badconfig"] = tmp_path / "badconfig-run"
    shutil.copytree(toy["run"], paths["badconfig"])
    config = json.loads((paths["badconfig"] / "config.json").read_text())
    config["hidden_size"] = "big"
    (paths["badconfig"] / "config.json").write_text(json.dumps(config))
    make_argv, expected = BAD_INPUTS[case]
    before = snapshot(toy["run"])
    capsys.readouterr()
    assert run_cli(make_argv(paths)) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1 and "error:" in err and expected in err, err
    assert snapshot(toy["run"]) == before
    assert not paths["new"].exists()


def test_the_command_in_a_subprocess_exits_2_without_a_traceback(
    toy: dict[str, Path], tmp_path: Path
) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"pos fine\nneg \xc3\x28 bad\n")
    commands = [
        ["train", "classify", "--train", str(bad), "--out", str(tmp_path / "a")],
        ["train", "tag", "--train", str(toy["train"]), "--out", str(tmp_path / "b")],
        ["summary", str(tmp_path / "nowhere")],
    ]
    for argv in commands:
        done = subprocess.run(
            [sys.executable, "-m", "rnnkit", *argv], capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 2, done.stderr
        assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
        assert done.stderr.startswith("rnnkit: error: ")
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_help_shows_the_commands_and_examples(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(["--help"]) == 0
    out = capsys.readouterr().out
    for text in ("train", "evaluate", "predict", "generate", "export", "summary", "examples:"):
        assert text in out
    assert "--resume runs/sst" in out
    assert run_cli(["train", "--help"]) == 0
    out = capsys.readouterr().out
    assert all(task in out for task in ("classify", "forecast", "tag", "translate", "generate"))
    assert run_cli(["train", "classify", "--help"]) == 0
    out = capsys.readouterr().out
    for option in ("--hidden-size", "--bidirectional", "--patience", "--min-freq", "--tokens"):
        assert option in out
    assert "recipes: mnist-rows" in out


# ---------------------------------------------------------------------- readers
def test_readers_take_crlf_and_a_byte_order_mark(tmp_path: Path) -> None:
    path = tmp_path / "data.txt"
    path.write_bytes("\ufeffpos  a good  film \r\n1 x\r\n".encode())
    examples = read_labeled_lines(path)
    assert [(e.label, e.text, e.line) for e in examples] == [
        ("pos", "a good  film", 1),
        ("1", "x", 2),
    ]
    assert read_text_lines(path) == ["pos  a good  film", "1 x"]


def test_blank_lines_in_labelled_files_are_skipped_with_file_line_numbers(tmp_path) -> None:
    from rnnkit.data.readers import read_labeled_lines

    path = tmp_path / "train.txt"
    path.write_text("pos good film\n\n  \nneg bad one\n\n", encoding="utf-8")
    examples = read_labeled_lines(path)
    assert [(e.label, e.text, e.line) for e in examples] == [
        ("pos", "good film", 1),
        ("neg", "bad one", 4),
    ]


def _assert_picture(path: Path) -> None:
    from matplotlib.image import imread

    image = imread(path)
    assert image.shape[0] > 200 and image.shape[1] > 300, image.shape
    assert float(image[..., :3].std()) > 0.05  # not one flat colour


def test_train_draws_the_curves_and_the_gates_into_the_run_directory(
    toy: dict[str, Path],
) -> None:
    for name in ("curves.png", "gates.png"):
        _assert_picture(toy["run"] / "plots" / name)


def test_compare_plots_the_gradient_through_time_of_the_three_cells(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "flow.png"
    assert main(["compare", "--out", str(out), "--steps", "40", "--hidden-size", "16"]) == 0
    _assert_picture(out)
    printed = capsys.readouterr().out
    ratios = {
        line.split()[0]: float(line.rsplit("=", 1)[1])
        for line in printed.splitlines()
        if "=" in line
    }
    assert set(ratios) == {"RNN", "LSTM", "GRU"}
    assert ratios["RNN"] < 1e-3 * min(ratios["LSTM"], ratios["GRU"])  # the vanishing gradient
    assert run_cli(["compare", "--out", str(out), "--steps", "0"]) == 2


def test_a_training_file_of_one_class_is_refused_and_labels_like_words_are_flagged(
    toy: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A training set of one label cannot train a classifier: refused, naming the file. A
    file whose "labels" are nearly as many as its lines (text first, label last) trains, but
    the log asks whether the label is where the format expects it."""
    one_class = tmp_path / "one.txt"
    one_class.write_text("".join(f"pos a fine film number {i}\n" for i in range(12)))
    capsys.readouterr()
    argv = ["train", "classify", "--train", str(one_class), "--valid", str(toy["valid"])]
    assert main([*argv, *TINY, "--out", str(tmp_path / "one")]) == 2
    err = capsys.readouterr().err
    assert f"{one_class}: every training example has the label 'pos'" in err
    text_first = tmp_path / "text_first.txt"
    words = "fine dull grand weak bold flat keen slow odd sad wry sly".split()
    lines = [f"{words[i % 12]} film of note\t{'pos' if i % 2 else 'neg'}\n" for i in range(40)]
    text_first.write_text("".join(lines))
    argv = ["train", "classify", "--train", str(text_first), *TINY, "--epochs", "1"]
    assert main([*argv, "--out", str(tmp_path / "words")]) == 0
    out = capsys.readouterr().out
    assert "warning: 12 labels for 36 training examples: is the label where the format" in out


def test_a_handful_of_validation_examples_is_warned_about(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A tenth of 20 examples is 2: they alone choose the kept epoch and when to stop."""
    train = tmp_path / "train.txt"
    train.write_text("".join(f"{'pos' if i % 2 else 'neg'} film number {i}\n" for i in range(20)))
    capsys.readouterr()
    argv = ["train", "classify", "--train", str(train), *TINY, "--epochs", "1"]
    assert main([*argv, "--out", str(tmp_path / "run")]) == 0
    out = capsys.readouterr().out
    assert "warning: only 2 validation examples choose the kept epoch and when to stop" in out


def test_a_run_that_stopped_early_is_not_resumed(
    toy: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Its patience is spent: resumed, it would train one epoch and stop again."""
    run_dir = tmp_path / "run"
    argv = ["train", "classify", "--train", str(toy["train"]), "--valid", str(toy["valid"])]
    options = [*TINY, "--epochs", "60", "--patience", "1", "--lr", "0.05"]
    assert main([*argv, *options, "--out", str(run_dir)]) == 0
    metrics = RunDir.open(run_dir).read_json("metrics.json")
    assert metrics["epochs"] < 60  # it did stop early
    capsys.readouterr()
    assert main(["train", "classify", "--resume", str(run_dir), "--epochs", "80"]) == 2
    err = capsys.readouterr().err
    assert f"early stopping ended it at epoch {metrics['epochs']}" in err
    assert "train a new run with a longer --patience" in err
    assert RunDir.open(run_dir).read_json("metrics.json") == metrics  # untouched
