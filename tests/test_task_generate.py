"""The generate task end to end through ``rnnkit.cli.main``: text (char, word, Chinese),
piano rolls, and class-conditional images, on small slices of the real data sets."""

from __future__ import annotations

import csv
import gzip
import json
import math
import re
import struct

import mido
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from rnnkit.cli import main
from rnnkit.data.idx import read_idx
from rnnkit.data.piano_roll import read_piano_rolls
from rnnkit.data.text_stream import StreamBatches
from rnnkit.music import midi_to_piano_roll, piano_roll_to_midi
from rnnkit.structures.generator import SequenceGenerator, shift_right
from rnnkit.tasks.generate import RECIPES, TASK, evaluate_batches
from rnnkit.tasks.runner import load_run, make_config

pytestmark = pytest.mark.usefixtures("one_thread")

TINY = ["--hidden-size", "8", "--layers", "1", "--epochs", "1", "--seed", "0"]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
CHINESE = "床前明月光，疑是地上霜。\n举头望明月，低头思故乡。\n"  # noqa: RUF001


def run(capsys, *argv: str) -> tuple[int, str, str]:
    status = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


def metrics(run_dir) -> dict:
    return json.loads((run_dir / "metrics.json").read_text())


# ---------------------------------------------------------------------- slices
@pytest.fixture
def shakespeare(tmp_path, data_dir):
    path = tmp_path / "shakespeare.txt"
    path.write_text((data_dir / "tinyshakespeare/input.txt").read_text()[:4000], encoding="utf-8")
    return path


@pytest.fixture
def chorales(tmp_path, data_dir):
    """10 JSB chorales (6 train, 2 valid, 2 test) as an .npz."""
    rolls = read_piano_rolls(data_dir / "jsb_chorales/JSB_Chorales.mat")
    arrays = {f"train_{i}": rolls["train"][i].astype(np.uint8) for i in range(6)}
    arrays |= {f"{split}_{i}": rolls[split][i].astype(np.uint8) for split in ("valid", "test")
               for i in range(2)}  # fmt: skip
    path = tmp_path / "chorales.npz"
    np.savez(path, **arrays)
    return path


def write_idx(path, array: np.ndarray) -> None:
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(
        f">{array.ndim}I", *array.shape
    )
    path.write_bytes(gzip.compress(header + array.astype(np.uint8).tobytes()))


@pytest.fixture
def digits(tmp_path, data_dir):
    """300 training and 100 test MNIST images with their labels, as IDX files."""
    files = {}
    for name, source, count in (
        ("train", "train-images-idx3-ubyte.gz", 300),
        ("train_labels", "train-labels-idx1-ubyte.gz", 300),
        ("test", "t10k-images-idx3-ubyte.gz", 100),
        ("test_labels", "t10k-labels-idx1-ubyte.gz", 100),
    ):
        files[name] = tmp_path / f"{name.replace('_', '-')}-ubyte.gz"
        write_idx(files[name], read_idx(data_dir / "mnist" / source)[:count])
    return files


# ---------------------------------------------------------------------- text
def test_char_text_pipeline_train_evaluate_generate_resume(tmp_path, capsys, shakespeare):
    out = tmp_path / "run"
    options = ["--bptt", "20", "--batch-size", "8", "--test-fraction", "0.1"]
    status, _, err = run(
        capsys, "train", "generate", "--train", shakespeare, "--out", out, *options, *TINY
    )
    assert status == 0, err
    found = metrics(out)
    assert found["valid_chars"] == 400 and found["test_chars"] == 400  # last 10 %, 10 % before
    assert found["valid_bpc"] == pytest.approx(found["valid_loss"] / math.log(2))
    assert 2.0 < found["valid_loss"] < math.log(70)  # learned something, but tiny
    status, printed, _ = run(capsys, "evaluate", out)
    assert status == 0 and json.loads(printed)["loss"] == pytest.approx(found["test_loss"])

    def sample(seed: int) -> str:
        args = ["--prime", "ROMEO:", "--length", "60", "--temperature", "0.8", "--top-k", "5"]
        status, printed, err = run(capsys, "generate", out, *args, "--seed", seed)
        assert status == 0, err
        return printed

    first = sample(1)
    assert first.startswith("ROMEO:") and len(first) == len("ROMEO:") + 60 + 1  # + print's \n
    assert sample(1) == first and sample(2) != first
    status, _, err = run(capsys, "train", "generate", "--resume", out, "--epochs", "2")
    assert status == 0, err
    assert metrics(out)["epochs"] == 2


def test_a_small_text_trains_for_min_updates_chunks(tmp_path, capsys, shakespeare):
    """A text stream's update is a chunk of --bptt steps of --batch-size streams: 3600
    training characters in 8 streams of chunks of 20 are 23 updates an epoch. The default 20
    epochs exceed 100 updates; 1000 take 44 epochs, with a patience of 8 (1000 / 6 updates)."""
    out = tmp_path / "run"
    options = ["--bptt", "20", "--batch-size", "8", "--min-updates", "100"]
    tiny = ["--hidden-size", "8", "--layers", "1", "--seed", "0"]
    status, printed, err = run(
        capsys, "train", "generate", "--train", shakespeare, "--out", out, *options, *tiny
    )
    assert status == 0, err
    config = json.loads((out / "config.json").read_text())
    updates = len(StreamBatches(list(range(3600)), 8, 20, torch.Generator()))
    assert updates == 23
    assert (config["epochs"], config["patience"]) == (20, 5)  # the defaults exceed the floor
    status, printed, err = run(
        capsys, "train", "generate", "--train", shakespeare, "--out", out, "--overwrite",
        *options[:-1], "1000", *tiny,
    )  # fmt: skip
    assert status == 0, err
    config = json.loads((out / "config.json").read_text())
    assert (config["epochs"], config["patience"]) == (
        -(-1000 // updates),
        -(-1000 // (6 * updates)),
    )
    assert "chosen: --epochs 44, --patience 8" in printed + err


def test_stream_evaluation_carries_the_state_like_one_pass_over_each_stream():
    torch.manual_seed(0)
    model = SequenceGenerator(7, embedding_dim=4, hidden_size=5).eval()
    ids = torch.randint(7, (203,))
    batches = StreamBatches(ids, batch_size=3, steps_per_batch=10)
    inputs, targets = batches.streams()  # (3, 67) each: one long stream a row
    with torch.no_grad():
        logits, _ = model(inputs)  # all at once, no chunking
        expected = F.cross_entropy(logits.flatten(0, 1), targets.flatten()).item()
        got = evaluate_batches(model, batches)
    assert got["loss"] == pytest.approx(expected, rel=1e-5)
    assert got["bpc"] == pytest.approx(expected / math.log(2), rel=1e-5)


def test_chinese_text_is_read_and_generated_character_by_character(tmp_path, capsys):
    text = tmp_path / "poem.txt"
    text.write_text(CHINESE * 40, encoding="utf-8")
    out = tmp_path / "run"
    args = ["--bptt", "10", "--batch-size", "4", "--lr", "0.01", "--epochs", "3"]
    status, _, err = run(capsys, "train", "generate", "--train", text, "--out", out, *args,
                         "--hidden-size", "16", "--layers", "1")  # fmt: skip
    assert status == 0, err
    vocab = json.loads((out / "vocab.json").read_text())
    assert "月" in json.dumps(vocab, ensure_ascii=False) and metrics(out)["valid_bpc"] < 3.0
    status, printed, err = run(capsys, "generate", out, "--prime", "床前", "--length", "12")
    assert status == 0, err
    assert printed.startswith("床前") and set(printed) <= set(CHINESE)
    written = tmp_path / "sample.txt"
    status, wrote, _ = run(
        capsys, "generate", out, "--prime", "床前", "--length", "12", "--output", written
    )
    assert status == 0 and str(written) in wrote
    assert written.read_text(encoding="utf-8") == printed  # same seed, same sample


def test_word_tokens_have_perplexity_not_bpc_and_generate_words(tmp_path, capsys, shakespeare):
    out = tmp_path / "run"
    args = ["--tokens", "word", "--tokenize", "space", "--bptt", "5", "--batch-size", "4"]
    status, printed, err = run(
        capsys, "train", "generate", "--train", shakespeare, "--out", out, *args, *TINY
    )
    assert status == 0, err
    found = metrics(out)
    assert "valid_loss" in found and "valid_bpc" not in found and found["valid_words"] > 0
    assert found["valid_ppl"] == pytest.approx(math.exp(found["valid_loss"]))
    assert "valid ppl" in printed and "valid bpc" not in printed  # the epoch lines too
    with (out / "log.csv").open() as lines:
        rows = list(csv.DictReader(lines))
    assert rows[0]["valid_bpc"] == "" and float(rows[0]["valid_ppl"]) > 1
    # words seen once read as <unk>, which is then learnt; the log counts those of valid
    assert json.loads((out / "config.json").read_text())["min_freq"] == 2
    assert re.search(r"valid: [\d,]+ words from .*; [\d,]+ \([\d.]+%\) read as <unk>", printed)
    status, printed, err = run(capsys, "generate", out, "--prime", "the king", "--length", "8")
    assert status == 0 and printed.startswith("the king ")
    assert len(printed.replace("\n", " ").split()) == 2 + 8 - printed.count("\n") + 1
    # a word training never saw is said to read as <unk>, once however often it comes
    status, printed, err = run(capsys, "generate", out, "--prime", "the zyx the zyx")
    assert status == 0 and printed.startswith("the zyx the zyx")
    assert err == "rnnkit: note: --prime words not in the run's vocabulary read as <unk>: 'zyx'\n"


def test_raw_text_words_have_punctuation_split_off_and_joined_back(tmp_path, capsys, shakespeare):
    out = tmp_path / "run"
    args = ["--tokens", "word", "--bptt", "5", "--batch-size", "4", "--epochs", "1"]
    status, printed, err = run(
        capsys, "train", "generate", "--train", shakespeare, "--out", out, *args, *TINY
    )
    assert status == 0, err
    assert re.search(r"tokenize: punct \([\d.]+% of the training words have punctuation", printed)
    assert json.loads((out / "config.json").read_text())["tokenize"] == "punct"
    vocab = set(json.loads((out / "vocab.json").read_text())["tokens"])
    assert {",", ".", ":"} <= vocab and not any(w.endswith((",", ".")) for w in vocab if w[:-1])
    status, printed, err = run(capsys, "generate", out, "--prime", "Speak,", "--length", "40")
    assert status == 0 and printed.startswith("Speak,"), err
    assert " ," not in printed and " ." not in printed  # the marks joined back to the words
    status, printed, err = run(capsys, "evaluate", out, "--data", shakespeare)
    assert status == 0 and json.loads(printed)["loss"] > 0, err


def test_a_generate_run_from_before_tokenize_reads_words_as_then(tmp_path, capsys, shakespeare):
    out = tmp_path / "run"
    args = ["--tokens", "word", "--bptt", "5", "--batch-size", "4", "--epochs", "1"]
    status, _, err = run(capsys, "train", "generate", "--train", shakespeare, "--out", out, *args)
    assert status == 0, err
    config = json.loads((out / "config.json").read_text())
    del config["tokenize"]
    (out / "config.json").write_text(json.dumps(config))
    assert load_run(str(out)).config["tokenize"] == "space"


# ---------------------------------------------------------------------- music
def test_piano_roll_pipeline_nll_midi_and_png(tmp_path, capsys, chorales):
    out = tmp_path / "run"
    status, _, err = run(capsys, "train", "generate", "--train", chorales, "--out", out,
                         "--batch-size", "4", *TINY)  # fmt: skip
    assert status == 0, err
    found = metrics(out)
    # Oracle: the per-step NLL summed over the 88 keys, computed piece by piece by hand.
    loaded = load_run(str(out))
    total, steps = 0.0, 0
    for roll in read_piano_rolls(chorales)["test"]:
        frames = torch.from_numpy(roll)[None]
        with torch.no_grad():
            p = torch.sigmoid(loaded.model(shift_right(frames))[0]).double()
        y = frames.double()
        total -= float((y * p.log() + (1 - y) * (1 - p).log()).sum())
        steps += roll.shape[0]
    assert found["test_nll"] == pytest.approx(total / steps, rel=1e-5)
    assert found["test_steps"] == steps and (out / "plots/sample.png").is_file()

    stem = tmp_path / "piece"
    status, printed, err = run(capsys, "generate", out, "--length", "16", "--output", stem)
    assert status == 0, err
    png, midi = tmp_path / "piece.png", tmp_path / "piece.mid"
    assert png.read_bytes().startswith(PNG_MAGIC) and str(midi) in printed
    roll = midi_to_piano_roll(midi)
    assert roll.shape[1] == 88 and roll.shape[0] <= 16
    mido.MidiFile(midi)  # readable
    first = midi.read_bytes()
    run(capsys, "generate", out, "--length", "16", "--output", stem)
    assert midi.read_bytes() == first  # same seed, same piece
    status, printed, _ = run(capsys, "generate", out, "--count", "2", "--output", stem)
    assert status == 0 and (tmp_path / "piece-2.mid").is_file()
    status, printed, _ = run(capsys, "evaluate", out, "--data", chorales)
    assert status == 0 and json.loads(printed)["nll"] == pytest.approx(found["test_nll"])


def test_a_folder_of_midi_files_trains_with_held_out_pieces(tmp_path, capsys, data_dir):
    rolls = read_piano_rolls(data_dir / "jsb_chorales/JSB_Chorales.mat")["train"][:12]
    for i, roll in enumerate(rolls):  # a step an eighth note, as the files were made
        piano_roll_to_midi(roll, tmp_path / "midi" / f"{i:02d}.mid", steps_per_beat=2)
    out = tmp_path / "run"
    status, log, err = run(capsys, "train", "generate", "--train", tmp_path / "midi",
                           "--steps-per-beat", "2", "--valid-fraction", "0.2",
                           "--test-fraction", "0.2", "--out", out, *TINY)  # fmt: skip
    assert status == 0, err
    found = metrics(out)
    # seeded pieces held out: 2 of 12 for test, then 2 of the other 10 for validation
    assert "train: 8 pieces" in log and "valid: 2 pieces" in log and "test: 2 pieces" in log
    assert found["test_steps"] + found["valid_steps"] < sum(len(r) for r in rolls)
    # evaluating one file scores its piece exactly as the roll it was written from
    one = tmp_path / "midi" / "03.mid"
    status, printed, err = run(capsys, "evaluate", out, "--data", one)
    assert status == 0, err
    loaded = load_run(str(out))
    frames = torch.from_numpy(rolls[3])[None]
    with torch.no_grad():
        logits = loaded.model(shift_right(frames))[0]
    nll = F.binary_cross_entropy_with_logits(logits, frames, reduction="sum") / len(rolls[3])
    assert json.loads(printed)["nll"] == pytest.approx(float(nll), rel=1e-5)
    # a folder with a drums-only file: scored without it, and stderr says what was left out
    mixed = tmp_path / "mixed"
    piano_roll_to_midi(rolls[3], mixed / "piece.mid", steps_per_beat=2)
    drums = mido.MidiFile(type=0)
    drums.tracks.append(
        mido.MidiTrack(
            [
                mido.Message("note_on", channel=9, note=36),
                mido.Message("note_off", channel=9, note=36, time=96),
            ]
        )
    )
    drums.save(mixed / "drums.mid")  # fmt: skip
    status, printed, err = run(capsys, "evaluate", out, "--data", mixed)
    assert status == 0 and json.loads(printed)["examples"] == 1
    assert "left out 1 percussion notes (channel 10); 1 files without pitched notes" in err
    # the generated piece is written with the run's steps a beat: it reads back step for step
    status, _, err = run(capsys, "generate", out, "--length", "12", "--output", tmp_path / "new")
    assert status == 0, err
    from rnnkit.data.midi import read_midi_roll

    roll, _ = read_midi_roll(tmp_path / "new.mid", steps_per_beat=2)
    assert roll is None or len(roll) <= 12
    assert mido.MidiFile(tmp_path / "new.mid").ticks_per_beat == 2 * 480


def test_an_npz_of_training_pieces_only_holds_pieces_out(tmp_path, capsys, data_dir):
    rolls = read_piano_rolls(data_dir / "jsb_chorales/JSB_Chorales.mat")["train"][:10]
    path = tmp_path / "only_train.npz"
    np.savez(path, **{f"train_{i}": roll.astype(np.uint8) for i, roll in enumerate(rolls)})
    status, log, err = run(capsys, "train", "generate", "--train", path, "--test-fraction",
                           "0.2", "--out", tmp_path / "run", *TINY)  # fmt: skip
    assert status == 0, err
    assert "train: 7 pieces" in log and "valid: 1 pieces" in log and "test: 2 pieces" in log
    assert metrics(tmp_path / "run")["test_steps"] > 0
    status, printed, err = run(capsys, "evaluate", tmp_path / "run", "--data", path)
    assert status == 0 and json.loads(printed)["examples"] == 10, err


# ---------------------------------------------------------------------- images
def test_conditional_digits_pipeline_grid_and_judge(tmp_path, capsys, digits):
    judge = tmp_path / "judge"
    status, _, err = run(
        capsys, "train", "classify", "--format", "idx", "--train", digits["train"],
        "--train-labels", digits["train_labels"], "--no-normalize", "--out", judge, *TINY,
    )  # fmt: skip
    assert status == 0, err
    out = tmp_path / "run"
    files = ["--train", digits["train"], "--train-labels", digits["train_labels"],
             "--test", digits["test"], "--test-labels", digits["test_labels"]]  # fmt: skip
    status, _, err = run(capsys, "train", "generate", *files, "--out", out, "--judge", judge,
                         "--judge-samples", "50", "--batch-size", "32", *TINY)  # fmt: skip
    assert status == 0, err
    found = metrics(out)
    assert found["valid_images"] == 30 and found["test_images"] == 100  # 10 % held out
    assert found["test_nll"] > 0 and 0.0 <= found["test_judged_accuracy"] <= 1.0
    assert json.loads((out / "labels.json").read_text()) == [str(d) for d in range(10)]
    assert (out / "plots/samples.png").read_bytes().startswith(PNG_MAGIC)
    status, printed, err = run(capsys, "evaluate", out)
    evaluated = json.loads(printed)
    assert evaluated["nll"] == pytest.approx(found["test_nll"])
    assert evaluated["judged_accuracy"] == found["test_judged_accuracy"]  # same seeded samples
    # other images: the labels beside them (the run's --test-labels were read for any images)
    other = tmp_path / "other"
    other.mkdir()
    write_idx(other / "b-images-idx3-ubyte.gz", read_idx(digits["train"])[:40])
    write_idx(other / "b-labels-idx1-ubyte.gz", read_idx(digits["train_labels"])[:40])
    status, printed, err = run(capsys, "evaluate", out, "--data", other / "b-images-idx3-ubyte.gz")
    assert status == 0 and json.loads(printed)["examples"] == 40, err
    (other / "b-labels-idx1-ubyte.gz").unlink()
    status, _, err = run(capsys, "evaluate", out, "--data", other / "b-images-idx3-ubyte.gz")
    assert status == 2 and "no IDX labels file for these images" in err

    status, printed, err = run(capsys, "generate", out, "--condition", "7", "--count", "4",
                               "--output", tmp_path / "sevens.png")  # fmt: skip
    assert status == 0, err and "sevens.png" in printed
    assert (tmp_path / "sevens.png").read_bytes().startswith(PNG_MAGIC)
    status, _, err = run(capsys, "generate", out, "--count", "3", "--output", tmp_path / "all")
    assert status == 0 and (tmp_path / "all.png").is_file()


def test_image_grid_places_each_image_in_its_cell(tmp_path):
    from matplotlib.image import imread

    from rnnkit.plots import plot_image_grid

    images = np.zeros((4, 5, 5))
    images[3] = 1.0  # only the last cell (row 1, column 1) is ink
    path = plot_image_grid(images, tmp_path / "grid.png", columns=2)
    picture = imread(path)[..., :3].mean(2)  # white 1, ink 0
    dark = np.argwhere(picture < 0.5)
    height, width = picture.shape
    assert dark.size and dark[:, 0].min() > height / 2 and dark[:, 1].min() > width / 2
    with pytest.raises(ValueError, match="row labels"):
        plot_image_grid(images, tmp_path / "bad.png", columns=2, row_labels=["a"])


# ---------------------------------------------------------------------- recipes
def test_recipes_prepare_the_real_data(data_dir):
    def prepared(name: str):
        config = make_config(TASK, {}, recipe=name, data_dir=str(data_dir))
        return TASK.prepare(config, None)

    text = prepared("tinyshakespeare")
    assert (len(text.train), len(text.valid), text.test) == (1_003_854, 111_540, None)
    assert len(json.loads(json.dumps(text.artifacts))["vocab"]["tokens"]) == 65
    music = prepared("jsb-chorales")
    assert (len(music.train), len(music.valid), len(music.test)) == (229, 76, 77)
    assert music.artifacts["roll"] == {"pitches": 88}
    assert set(RECIPES) == {"tinyshakespeare", "jsb-chorales", "mnist-conditional"}
    config = make_config(TASK, {}, recipe="mnist-conditional", data_dir=str(data_dir))
    assert config["format"] == "idx" and config["judge"] is None


# ---------------------------------------------------------------------- bad input
def test_bad_inputs_exit_2_with_one_line(tmp_path, capsys, shakespeare, chorales):
    latin = tmp_path / "latin.txt"
    latin.write_bytes("line\ncaf\xe9\n".encode("latin-1"))
    out = tmp_path / "never"
    cases = [
        (["train", "generate", "--out", out], "--train is required"),
        (["train", "generate", "--train", latin, "--out", out], "latin.txt:2: not UTF-8"),
        (["train", "generate", "--train", chorales, "--valid", chorales, "--out", out],
         "--valid: a piano-roll file holds all three splits"),
        (["train", "generate", "--train", tmp_path, "--out", out],
         f"{tmp_path}: no MIDI files (.mid, .midi) in this folder"),
        (["train", "generate", "--train", tmp_path, "--lowest-pitch", "48", "--out", out],
         "--lowest-pitch 48: a roll read from MIDI spans 88 keys"),
        (["train", "generate", "--train", tmp_path, "--valid-fraction", "0.6",
          "--test-fraction", "0.6", "--out", out],
         "--valid-fraction plus --test-fraction must be < 1"),
        (["train", "generate", "--train", shakespeare, "--format", "idx", "--out", out],
         "--train-labels is required"),
        (["train", "generate", "--train", shakespeare, "--batch-size", "4000", "--out", out],
         "too few for --batch-size 4000"),
        (["train", "generate", "--train", shakespeare, "--judge", tmp_path, "--out", out],
         "--judge: only image runs"),
    ]  # fmt: skip
    for argv, message in cases:
        status, _, err = run(capsys, *argv)
        assert status == 2 and message in err and err.count("\n") == 1, (argv, err)
        assert not out.exists()

    text_run, music_run = tmp_path / "text", tmp_path / "music"
    run(capsys, "train", "generate", "--train", shakespeare, "--out", text_run, "--bptt", "10",
        "--batch-size", "4", *TINY)  # fmt: skip
    run(capsys, "train", "generate", "--train", chorales, "--out", music_run, *TINY)
    cases = [
        ([text_run, "--condition", "3"], "--condition: a text run has no classes"),
        (
            [text_run, "--prime", "ROMEO: ✓"],
            "--prime: '✓' is not in the run's vocabulary: it never occurs in the training text",
        ),
        ([music_run], "--output is required"),
        ([music_run, "--prime", "C", "--output", tmp_path / "x"], "--prime applies to text"),
        ([music_run, "--top-k", "3", "--output", tmp_path / "x"], "--top-k applies to text"),
    ]
    for argv, message in cases:
        status, _, err = run(capsys, "generate", *argv)
        assert status == 2 and message in err and err.count("\n") == 1, (argv, err)
