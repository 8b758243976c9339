"""MIDI files as piano rolls quantised by the beat (rnnkit.data.midi)."""

from __future__ import annotations

import mido
import numpy as np
import pytest

from rnnkit.data.midi import midi_files, read_midi_folder, read_midi_roll
from rnnkit.data.piano_roll import read_piano_rolls
from rnnkit.music import piano_roll_to_midi


def write_midi(path, tracks, ticks_per_beat=96, kind=1):
    """``tracks``: lists of (delta ticks, message type, fields) written as a type-``kind`` file."""
    midi = mido.MidiFile(type=kind, ticks_per_beat=ticks_per_beat)
    for events in tracks:
        track = mido.MidiTrack()
        for delta, name, fields in events:
            if name in ("set_tempo", "end_of_track"):
                track.append(mido.MetaMessage(name, time=delta, **fields))
            else:
                track.append(mido.Message(name, time=delta, **fields))
        midi.tracks.append(track)
    midi.save(path)
    return path


def on(delta, note, channel=0, velocity=64):
    return (delta, "note_on", {"note": note, "channel": channel, "velocity": velocity})


def off(delta, note, channel=0):
    return (delta, "note_off", {"note": note, "channel": channel, "velocity": 0})


def test_a_piece_quantised_by_beats_whatever_its_tempo(tmp_path):
    # 96 ticks a beat, 2 steps a beat: a step is 48 ticks. Track 1: C4 for a beat from 0, then a
    # tempo change (which must not move anything: steps count beats); track 2: E4 for half a
    # beat from beat 1, and a 5-tick grace note that still covers its step.
    path = write_midi(
        tmp_path / "piece.mid",
        [
            [(0, "set_tempo", {"tempo": 500_000}), on(0, 60), off(96, 60),
             (0, "set_tempo", {"tempo": 250_000}), on(96, 62), off(96, 62)],
            [on(96, 64), off(48, 64), on(0, 67), off(5, 67)],
        ],
    )  # fmt: skip
    roll, report = read_midi_roll(path, steps_per_beat=2)
    expected = np.zeros((6, 88), dtype=np.float32)
    expected[0:2, 60 - 21] = 1  # C4, beat 0
    expected[2:3, 64 - 21] = 1  # E4, half of beat 1
    expected[3:4, 67 - 21] = 1  # the grace note at 144 ticks: step 3, one step long
    expected[4:6, 62 - 21] = 1  # D4, beat 2
    np.testing.assert_array_equal(roll, expected)
    assert report.drum_notes == 0 and report.out_of_range == 0


def test_drums_and_notes_out_of_range_are_left_out_and_counted(tmp_path):
    path = write_midi(
        tmp_path / "band.mid",
        [[on(0, 36, channel=9), on(0, 60), off(96, 60), off(0, 36, channel=9),
          on(0, 10), off(96, 10), (0, "note_on", {"note": 62, "velocity": 50}),
          (96, "note_on", {"note": 62, "velocity": 0})]],
    )  # fmt: skip
    roll, report = read_midi_roll(path, steps_per_beat=1)
    assert report.drum_notes == 1 and report.out_of_range == 1
    assert roll.shape == (3, 88)  # C4 at beat 0, D4 (ended by a note_on of velocity 0) at 2
    assert roll[0, 60 - 21] == 1 and roll[2, 62 - 21] == 1 and roll.sum() == 2
    assert "1 percussion notes" in report.describe()


def test_a_jsb_chorale_written_as_midi_reads_back_the_same(tmp_path, data_dir):
    rolls = read_piano_rolls(data_dir / "jsb_chorales/JSB_Chorales.mat")["train"][:4]
    for i, roll in enumerate(rolls):
        piano_roll_to_midi(roll, tmp_path / "set" / f"sub{i % 2}" / f"{i}.MID", steps_per_beat=2)
    read, sources, report = read_midi_folder(tmp_path / "set", steps_per_beat=2)
    order = [int(s.rsplit("/", 1)[1].split(".")[0]) for s in sources]
    assert sorted(order) == [0, 1, 2, 3] and report.files == 4
    for roll, index in zip(read, order, strict=True):
        np.testing.assert_array_equal(roll, rolls[index])


def test_folders_without_music_and_unreadable_files_are_named(tmp_path):
    with pytest.raises(ValueError, match="no MIDI files"):
        midi_files(tmp_path)
    with pytest.raises(ValueError, match="no such file or folder"):
        midi_files(tmp_path / "absent")
    drums = write_midi(tmp_path / "drums.mid", [[on(0, 36, channel=9), off(96, 36, channel=9)]])
    with pytest.raises(ValueError, match="none of its 1 MIDI files has a note"):
        read_midi_folder(tmp_path)
    roll, report = read_midi_roll(drums)
    assert roll is None and report.empty_files == ["drums.mid"]
    (tmp_path / "broken.mid").write_bytes(b"MThd not really")
    with pytest.raises(ValueError, match=r"broken\.mid: not a readable MIDI file"):
        read_midi_folder(tmp_path)
    apart = write_midi(tmp_path / "apart.midi", [[on(0, 60), off(96, 60)]] * 2, kind=2)
    with pytest.raises(ValueError, match="type-2 MIDI file"):
        read_midi_roll(apart)
    # an empty file, and a key signature of 20 sharps (mido's KeySignatureError): one line
    # with a reason, no traceback
    (tmp_path / "zero.mid").write_bytes(b"")
    with pytest.raises(ValueError, match=r"zero\.mid: not a readable MIDI file \(\w"):
        read_midi_roll(tmp_path / "zero.mid")
    track = bytes([0x00, 0xFF, 0x59, 0x02, 20, 0x00, 0x00, 0x90, 60, 64, 0x60, 0x80, 60, 0,
                   0x00, 0xFF, 0x2F, 0x00])  # fmt: skip
    header = b"MThd" + (6).to_bytes(4, "big") + bytes([0, 0, 0, 1, 0, 96])
    (tmp_path / "key.mid").write_bytes(header + b"MTrk" + len(track).to_bytes(4, "big") + track)
    with pytest.raises(ValueError, match=r"key\.mid: not a readable MIDI file \(\w"):
        read_midi_roll(tmp_path / "key.mid")
    # timed in SMPTE frames (division 0xE728): no beats to read it by
    smpte = b"MThd" + (6).to_bytes(4, "big") + bytes([0, 0, 0, 1, 0xE7, 0x28])
    (tmp_path / "smpte.mid").write_bytes(smpte + b"MTrk" + len(track[6:]).to_bytes(4, "big")
                                         + track[6:])  # fmt: skip
    with pytest.raises(ValueError, match=r"smpte\.mid: timed in SMPTE frames, not beats"):
        read_midi_roll(tmp_path / "smpte.mid")
    for options, message in (({"steps_per_beat": 2.5}, "an integer >= 1"),
                             ({"lowest_pitch": 100}, "leaves MIDI's 0-127"),
                             ({"pitches": 0}, "leaves MIDI's 0-127")):  # fmt: skip
        with pytest.raises(ValueError, match=message):
            read_midi_roll(drums, **options)
