"""MIDI files as training data: each file one piece, quantised into a piano roll by beats.

A user's music is more often a folder of ``.mid`` files than a prepared ``.mat``/``.npz`` of
piano rolls. :func:`read_midi_folder` reads such a folder (or one file) into the same
``(T, P)`` 0/1 rolls :mod:`rnnkit.data.piano_roll` gives:

* time is quantised by the beat, not by seconds: a step is ``1 / steps_per_beat`` of a
  quarter note (Magenta's polyphony models use 4 steps a quarter note), so a piece played
  faster or slower, or with tempo changes, gives the same roll;
* a note covers the steps ``[round(start), round(end))`` of its start and end in steps, and
  at least one step (a grace note does not vanish);
* all channels and tracks are merged, except General MIDI's percussion channel (10), whose
  "notes" are drums rather than pitches; notes outside the roll's pitches are left out. Both
  are counted in the returned :class:`MidiReport` so the log can say what was dropped;
* a key struck again as its note ends (or within the same step) continues it: a roll cannot
  tell the two apart (see :mod:`rnnkit.music`);
* the roll ends with the last note (trailing silence and end-of-track padding dropped);
* a file timed in SMPTE frames rather than beats is refused, as is one mido cannot read.

The sustain pedal is not applied (a note ends at its note-off), as in the Boulanger-Lewandowski
piano rolls.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["MIDI_SUFFIXES", "MidiReport", "midi_files", "read_midi_folder", "read_midi_roll"]

MIDI_SUFFIXES = (".mid", ".midi")
PERCUSSION_CHANNEL = 9  # General MIDI's channel 10, counted from 0 as mido does


@dataclass
class MidiReport:
    """What reading left out, for the log."""

    files: int = 0
    drum_notes: int = 0
    out_of_range: int = 0
    empty_files: list[str] = field(default_factory=list)

    def add(self, other: MidiReport) -> None:
        self.files += other.files
        self.drum_notes += other.drum_notes
        self.out_of_range += other.out_of_range
        self.empty_files += other.empty_files

    def describe(self) -> str | None:
        """One line on what was dropped, or ``None`` if nothing was."""
        parts = []
        if self.drum_notes:
            parts.append(f"{self.drum_notes} percussion notes (channel 10)")
        if self.out_of_range:
            parts.append(f"{self.out_of_range} notes outside the roll's pitches")
        if self.empty_files:
            shown = ", ".join(self.empty_files[:3]) + (", ..." if len(self.empty_files) > 3 else "")
            parts.append(f"{len(self.empty_files)} files without pitched notes ({shown})")
        return "left out " + "; ".join(parts) if parts else None


def midi_files(path: str | os.PathLike[str]) -> list[Path]:
    """The MIDI files of ``path``: the file itself, or a folder's ``.mid``/``.midi`` files at any
    depth, sorted by path (so a seeded split of them is the same on every machine)."""
    path = Path(path)
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise ValueError(f"{path}: no such file or folder")
    found = sorted(p for p in path.rglob("*") if p.suffix.lower() in MIDI_SUFFIXES and p.is_file())
    if not found:
        raise ValueError(f"{path}: no MIDI files (.mid, .midi) in this folder")
    return found


def read_midi_roll(
    path: str | os.PathLike[str], steps_per_beat: int = 4, lowest_pitch: int = 21, pitches: int = 88
) -> tuple[np.ndarray | None, MidiReport]:
    """One MIDI file as a ``(T, pitches)`` float32 roll of 0/1 (``None`` if it has no pitched
    note in range), and what was left out.

    Raises:
        ValueError: the file cannot be read as MIDI, or keeps its tracks' clocks apart (type 2).
    """
    import mido  # only MIDI input needs it

    path = Path(path)
    if not isinstance(steps_per_beat, int) or steps_per_beat < 1:
        raise ValueError(f"steps_per_beat must be an integer >= 1, got {steps_per_beat!r}")
    if not (0 <= lowest_pitch and 1 <= pitches and lowest_pitch + pitches - 1 <= 127):
        raise ValueError(f"lowest_pitch={lowest_pitch} with {pitches} pitches leaves MIDI's 0-127")
    try:
        midi = mido.MidiFile(path)
    except Exception as err:  # mido raises many kinds (KeySignatureError, EOFError, ...)
        reason = str(err).strip() or type(err).__name__
        raise ValueError(f"{path}: not a readable MIDI file ({reason})") from None
    if midi.type == 2:
        raise ValueError(f"{path}: a type-2 MIDI file (independent tracks) cannot be one piece")
    if midi.ticks_per_beat <= 0:  # the header's division counts SMPTE frames, not beats
        raise ValueError(f"{path}: timed in SMPTE frames, not beats: cannot be read by the beat")
    step_ticks = midi.ticks_per_beat / steps_per_beat
    report = MidiReport(files=1)
    notes: list[tuple[int, int, int]] = []  # (column, start tick, end tick)
    sounding: dict[tuple[int, int], int] = {}  # (channel, note) -> start tick
    tick = 0
    for message in mido.merge_tracks(midi.tracks):  # times in ticks since the last message
        tick += message.time
        if message.type not in ("note_on", "note_off"):
            continue
        if message.channel == PERCUSSION_CHANNEL:
            report.drum_notes += message.type == "note_on" and message.velocity > 0
            continue
        key = (message.channel, message.note)
        if key in sounding:  # a note off, or the same key struck again, ends the note
            notes.append((message.note - lowest_pitch, sounding.pop(key), tick))
        if message.type == "note_on" and message.velocity > 0:
            sounding[key] = tick
    notes += [(note - lowest_pitch, start, tick) for (_, note), start in sounding.items()]
    in_range = [n for n in notes if 0 <= n[0] < pitches]
    report.out_of_range = len(notes) - len(in_range)
    if not in_range:
        report.empty_files.append(path.name)
        return None, report
    spans = []
    for column, start, end in in_range:
        first = round(start / step_ticks)
        spans.append((column, first, max(round(end / step_ticks), first + 1)))
    roll = np.zeros((max(end for _, _, end in spans), pitches), dtype=np.float32)
    for column, first, end in spans:
        roll[first:end, column] = 1.0
    return roll, report


def read_midi_folder(
    path: str | os.PathLike[str], steps_per_beat: int = 4, lowest_pitch: int = 21, pitches: int = 88
) -> tuple[list[np.ndarray], list[str], MidiReport]:
    """Every piece of :func:`midi_files` ``(path)`` as a roll, the files they came from, and
    what was left out. Files without a pitched note in range are skipped (and reported).

    Raises:
        ValueError: no MIDI file, an unreadable one (named), or not one piece with notes.
    """
    rolls, sources, report = [], [], MidiReport()
    for file in midi_files(path):
        roll, found = read_midi_roll(file, steps_per_beat, lowest_pitch, pitches)
        report.add(found)
        if roll is not None:
            rolls.append(roll)
            sources.append(str(file))
    if not rolls:
        raise ValueError(
            f"{path}: none of its {report.files} MIDI files has a note within MIDI pitches "
            f"{lowest_pitch}-{lowest_pitch + pitches - 1} outside the percussion channel"
        )
    return rolls, sources, report
