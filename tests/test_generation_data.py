"""The generate task's building blocks: text streams, piano rolls, MIDI, pictures, music NLL."""

from __future__ import annotations

import math

import mido
import numpy as np
import pytest
import torch

from rnnkit.data.piano_roll import read_piano_rolls
from rnnkit.data.text_stream import (
    StreamBatches,
    read_text,
    split_by_fraction,
    tokenize_stream,
)
from rnnkit.losses.sequence_loss import lengths_to_mask
from rnnkit.metrics.music import frame_nll
from rnnkit.music import midi_to_piano_roll, piano_roll_to_midi, plot_piano_roll
from rnnkit.structures.generator import SequenceGenerator
from rnnkit.text.vocab import Vocab
from rnnkit.train import TrainConfig, Trainer, default_stream_loss

pytestmark = pytest.mark.usefixtures("one_thread")


# ---------------------------------------------------------------------- text
def test_read_text_keeps_every_character_but_windows_line_ends(tmp_path):
    path = tmp_path / "poem.txt"
    text = "床前明月光\n疑是地上霜。\r\nFirst Citizen:\rx\n"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    assert read_text(path) == "床前明月光\n疑是地上霜。\nFirst Citizen:\rx\n"  # a lone \r stays


def test_read_text_errors_name_the_file(tmp_path):
    bad = tmp_path / "latin1.txt"
    bad.write_bytes("line one\ncaf\xe9\n".encode("latin-1"))
    with pytest.raises(ValueError, match=r"latin1\.txt:2: not UTF-8 text \(byte 0xe9 at column 4"):
        read_text(bad)
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    with pytest.raises(ValueError, match=r"empty\.txt: empty file"):
        read_text(empty)
    with pytest.raises(ValueError, match=r"missing\.txt: file not found"):
        read_text(tmp_path / "missing.txt")


def test_tokenize_stream_char_and_word():
    chinese = "春眠不觉晓\n处处闻啼鸟。"
    chars = tokenize_stream(chinese, tokens="char")
    assert chars[:3] == ["春", "眠", "不"] and "\n" in chars and "".join(chars) == chinese
    words = tokenize_stream("To be,  or not\r\n\nthat is\n", tokens="word")
    assert words == ["To", "be,", "or", "not", "\n", "\n", "that", "is", "\n"]
    assert tokenize_stream("a b", tokens="word") == ["a", "b"]
    with pytest.raises(ValueError, match="tokens must be one of"):
        tokenize_stream("abc", tokens="byte")


def test_split_by_fraction_is_contiguous_and_matches_nanogpt(data_dir):
    parts = split_by_fraction(list(range(10)), (0.7, 0.2, 0.1))
    assert parts == [[0, 1, 2, 3, 4, 5, 6], [7, 8], [9]]
    text = read_text(data_dir / "tinyshakespeare/input.txt")
    train, valid = split_by_fraction(tokenize_stream(text, "char"))
    # nanoGPT's data/shakespeare_char/prepare.py prints these three numbers
    assert (len(train), len(valid), len(set(text))) == (1_003_854, 111_540, 65)
    assert "".join(train) + "".join(valid) == text
    with pytest.raises(ValueError, match="sum to 1"):
        split_by_fraction([1, 2, 3], (0.5, 0.4))


# ---------------------------------------------------------------------- stream batches
def test_stream_batches_continue_every_stream():
    ids = list(range(103))  # id == position, so each value says where it came from
    batches = StreamBatches(ids, batch_size=4, steps_per_batch=7)
    S = 102 // 4  # 25 inputs a stream
    assert len(batches) == math.ceil(S / 7) == len(list(batches))
    seen = list(batches)
    for k, batch in enumerate(seen):
        x, y = batch["inputs"], batch["targets"]
        assert x.dtype == torch.long and x.shape == y.shape
        assert torch.equal(y, x + 1)  # the target is the next token
        for i in range(4):
            assert int(x[i, 0]) == i * S + k * 7  # stream i, column k·L
            if k > 0:  # batch k continues where batch k-1 ended
                assert int(x[i, 0]) == int(seen[k - 1]["inputs"][i, -1]) + 1
                assert int(x[i, 0]) == int(seen[k - 1]["targets"][i, -1])
    assert [b["inputs"].shape[1] for b in seen] == [7, 7, 7, 4]
    assert len(StreamBatches(ids, 4, 7, drop_last=True)) == 3
    with pytest.raises(ValueError, match="too few"):
        StreamBatches(list(range(4)), batch_size=4, steps_per_batch=3)  # 3 targets for 4 streams
    with pytest.raises(ValueError, match="too few"):
        StreamBatches(list(range(9)), batch_size=4, steps_per_batch=3, drop_last=True)


def test_stream_batches_random_offset_keeps_length_and_continuity():
    ids = torch.arange(500)
    generator = torch.Generator().manual_seed(3)
    batches = StreamBatches(ids, batch_size=3, steps_per_batch=10, generator=generator)
    starts = set()
    for _ in range(6):
        seen = list(batches)
        assert len(seen) == len(batches)
        starts.add(int(seen[0]["inputs"][0, 0]))
        stream = torch.cat([b["inputs"] for b in seen], dim=1)  # (B, S)
        assert torch.equal(stream[:, 1:], stream[:, :-1] + 1)
    assert len(starts) > 1 and all(0 <= s < 10 for s in starts)


def test_chinese_characters_make_a_stream():
    text = "白日依山尽 黄河入海流。\n欲穷千里目 更上一层楼。\n" * 3
    tokens = tokenize_stream(text, "char")
    vocab = Vocab.build([tokens], specials=[])
    batch = next(iter(StreamBatches(vocab.encode(tokens), batch_size=2, steps_per_batch=5)))
    assert "".join(vocab.decode(batch["inputs"][0])) == text[:5]
    assert "".join(vocab.decode(batch["targets"][0])) == text[1:6]


def test_generator_continues_from_a_carried_state():
    """The loss of a whole stream equals the mean of its chunks' losses with the state carried."""
    torch.manual_seed(0)
    model = SequenceGenerator(11, embedding_dim=6, hidden_size=8, num_layers=2).eval()
    batch = next(iter(StreamBatches(torch.randint(11, (200,)), 3, 20)))
    whole = model.loss(**batch)
    state, losses = None, []
    for start in range(0, 20, 5):
        chunk = {key: value[:, start : start + 5] for key, value in batch.items()}
        loss, state = default_stream_loss(model, chunk, state)
        losses.append(loss)
    torch.testing.assert_close(torch.stack(losses).mean(), whole)
    fresh = model.loss(**{key: value[:, 5:10] for key, value in batch.items()})
    assert not torch.allclose(fresh, losses[1])  # the carried state does matter


def test_trainer_truncated_bptt_on_stream_batches():
    torch.manual_seed(0)
    tokens = tokenize_stream("abcd\n" * 200, "char")
    vocab = Vocab.build([tokens], specials=[])
    batches = StreamBatches(vocab.encode(tokens), batch_size=4, steps_per_batch=40)
    states = []

    def loss_fn(model, chunk, state):
        states.append(state)
        return default_stream_loss(model, chunk, state)

    model = SequenceGenerator(len(vocab), embedding_dim=8, hidden_size=16)
    config = TrainConfig(epochs=3, bptt=10, lr=0.02, seed=0)
    history = Trainer(model, config, loss_fn=loss_fn).fit(batches, batches)
    chunks_per_epoch = sum(math.ceil(b["inputs"].shape[1] / 10) for b in batches)
    assert chunks_per_epoch == 6 * 4 + 1  # S = 999 // 4 = 249 steps: 6 batches of 40, one of 9
    assert len(states) == 3 * 2 * chunks_per_epoch  # train and valid, every epoch
    firsts = states[::chunks_per_epoch]
    assert all(s is None for s in firsts)  # every epoch (and every evaluation) starts fresh
    assert all(s is not None for i, s in enumerate(states) if i % chunks_per_epoch)
    assert history.rows[-1]["valid_loss"] < 0.1  # the cycle is learnable given the state


# ---------------------------------------------------------------------- piano rolls
def test_read_jsb_chorales(data_dir):
    rolls = read_piano_rolls(data_dir / "jsb_chorales/JSB_Chorales.mat")
    assert {k: len(v) for k, v in rolls.items()} == {"train": 229, "valid": 76, "test": 77}
    assert {r.shape[1] for split in rolls.values() for r in split} == {88}
    first = rolls["train"][0]
    assert first.shape == (129, 88) and first.dtype == np.float32
    assert set(np.unique(first)) == {0.0, 1.0}


def _write_npz(path, **arrays):
    np.savez(path, **arrays)
    return path


def test_read_npz_piano_rolls(tmp_path):
    rng = np.random.default_rng(0)
    rolls = {f"train_{i}": rng.integers(0, 2, (5 + i, 4), dtype=np.uint8) for i in range(3)}
    rolls |= {"valid_0": np.zeros((2, 4), bool), "test_0": np.ones((3, 4))}
    read = read_piano_rolls(_write_npz(tmp_path / "ok.npz", **rolls))
    assert [len(read[s]) for s in ("train", "valid", "test")] == [3, 1, 1]
    for i in range(3):
        np.testing.assert_array_equal(read["train"][i], rolls[f"train_{i}"])
    np.testing.assert_array_equal(read["test"][0], np.ones((3, 4), np.float32))


def test_piano_roll_errors_name_file_split_and_index(tmp_path):
    good = {"train_0": np.zeros((3, 4)), "valid_0": np.zeros((3, 4)), "test_0": np.zeros((3, 4))}
    bad = {**good, "valid_1": np.full((2, 4), 0.5)}
    with pytest.raises(ValueError, match=r"bad\.npz: valid\[1\]: values must be 0 or 1, got 0\.5"):
        read_piano_rolls(_write_npz(tmp_path / "bad.npz", **bad))
    wide = {**good, "test_1": np.zeros((3, 5))}
    with pytest.raises(ValueError, match=r"wide\.npz: test\[1\] has 5 pitches.*train\[0\] has 4"):
        read_piano_rolls(_write_npz(tmp_path / "wide.npz", **wide))
    gap = {**good, "train_2": np.zeros((3, 4))}
    with pytest.raises(ValueError, match=r"gap\.npz: train_1 is missing"):
        read_piano_rolls(_write_npz(tmp_path / "gap.npz", **gap))
    only_train = {"train_0": np.zeros((3, 4))}  # the caller holds pieces out of train
    rolls = read_piano_rolls(_write_npz(tmp_path / "only_train.npz", **only_train))
    assert (len(rolls["train"]), rolls["valid"], rolls["test"]) == (1, [], [])
    with pytest.raises(ValueError, match=r"no_train\.npz: no train_<i> arrays"):
        read_piano_rolls(_write_npz(tmp_path / "no_train.npz", valid_0=np.zeros((3, 4))))
    transposed = {"train_0": np.zeros((88, 40)), "train_1": np.zeros((88, 30))}
    with pytest.raises(ValueError, match=r"has 30 pitches.*\(transposed\? rolls are \(T, P\)"):
        read_piano_rolls(_write_npz(tmp_path / "transposed.npz", **transposed))
    pickled = {**good, "train_0": np.array([np.zeros((2, 4))] * 2 + [None], dtype=object)}
    with pytest.raises(ValueError, match=r"pickled\.npz: train_0"):
        read_piano_rolls(_write_npz(tmp_path / "pickled.npz", **pickled))
    with pytest.raises(ValueError, match=r"roll\.txt: unknown piano-roll format"):
        (tmp_path / "roll.txt").write_text("0 1\n")
        read_piano_rolls(tmp_path / "roll.txt")


# ---------------------------------------------------------------------- MIDI and pictures
def test_midi_round_trip_equals_the_roll(tmp_path, data_dir):
    roll = np.zeros((8, 5), dtype=np.uint8)
    roll[0:3, 0] = 1  # a held note
    roll[1, 2] = roll[3, 2] = 1  # struck twice with a rest between
    roll[5:8, 4] = 1  # still sounding when the roll ends
    path = piano_roll_to_midi(roll, tmp_path / "out" / "tiny.mid", lowest_pitch=60)
    assert path.exists() and not list(path.parent.glob(".*"))  # no temporary file left
    messages = [m for m in mido.MidiFile(path).tracks[0] if m.type in ("note_on", "note_off")]
    ons = [(m.note, m.time) for m in messages if m.type == "note_on" and m.velocity > 0]
    assert [note for note, _ in ons] == [60, 62, 62, 64]
    assert mido.MidiFile(path).length == pytest.approx(8 * 0.25)
    back = midi_to_piano_roll(path, lowest_pitch=60, pitches=5, step_seconds=0.25)
    np.testing.assert_array_equal(back, roll)

    chorale = read_piano_rolls(data_dir / "jsb_chorales/JSB_Chorales.mat")["test"][0]
    path = piano_roll_to_midi(chorale, tmp_path / "chorale.mid", step_seconds=0.3, program=19)
    np.testing.assert_array_equal(midi_to_piano_roll(path, 21, 88, 0.3), chorale)


def test_midi_rejects_bad_rolls(tmp_path):
    with pytest.raises(ValueError, match="0 and 1 only"):
        piano_roll_to_midi(np.full((2, 3), 0.5), tmp_path / "x.mid")
    with pytest.raises(ValueError, match="leaves MIDI's 0-127"):
        piano_roll_to_midi(np.zeros((2, 88)), tmp_path / "x.mid", lowest_pitch=60)


def test_plot_piano_roll_writes_a_png(tmp_path, data_dir):
    chorale = read_piano_rolls(data_dir / "jsb_chorales/JSB_Chorales.mat")["train"][0]
    path = plot_piano_roll(torch.from_numpy(chorale), tmp_path / "roll.png", title="JSB train 0")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# ---------------------------------------------------------------------- music NLL
def test_frame_nll_by_hand():
    nan = float("nan")
    logits = torch.tensor([[[0.0, math.log(3)], [2.0, -1.0], [nan, 7.0]]], dtype=torch.float64)
    targets = torch.tensor([[[1.0, 0.0], [1.0, 1.0], [0.5, 9.0]]])  # the last step is padding
    mask = torch.tensor([[True, True, False]])
    total, steps = frame_nll(logits, targets, mask)
    # step 0: -log σ(0) - log(1 - σ(ln 3)) = log 2 + log 4; step 1: log(1+e^-2) + log(1+e^1)
    expected = math.log(8) + math.log1p(math.exp(-2)) + math.log1p(math.exp(1))
    assert steps == 2 and total == pytest.approx(expected, rel=1e-12)


def test_frame_nll_per_step_is_the_generator_loss():
    torch.manual_seed(0)
    model = SequenceGenerator(output="bernoulli", output_size=6, hidden_size=8).eval()
    targets = (torch.rand(3, 7, 6) < 0.3).float()
    lengths = torch.tensor([7, 4, 2])
    inputs = torch.cat([torch.zeros(3, 1, 6), targets[:, :-1]], dim=1)
    with torch.no_grad():
        logits, _ = model(inputs, lengths=lengths)
        loss = model.loss(inputs, targets, lengths=lengths)
    total, steps = frame_nll(logits, targets, lengths_to_mask(lengths, 7))
    assert steps == 13
    assert total / steps == pytest.approx(float(loss), rel=1e-5)
    with pytest.raises(ValueError, match="0 and 1"):
        frame_nll(logits, targets * 0.5 + 0.25)
