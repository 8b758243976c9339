"""Piano rolls out of the model and into ears and eyes: MIDI files and pictures.

A piano roll is a ``(T, P)`` array of 0/1: step ``t`` sounds key ``lowest_pitch + p`` when
``roll[t, p] == 1`` (JSB Chorales: ``P = 88`` keys from A0 = MIDI 21, one step an eighth
note). A run of ones in a column is one held note: it starts at the step where the column
turns from 0 to 1 and stops where it turns back to 0 or the roll ends. (So the roll cannot
say "strike the same key again at once"; neither can the data sets.)

The MIDI file has one track; one beat is one step (``tempo = step_seconds`` per beat), so
every event falls on a whole beat and :func:`midi_to_piano_roll` reads the file back exactly.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import mido
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator
from torch import Tensor

from rnnkit.plots import save_figure

__all__ = ["midi_to_piano_roll", "piano_roll_to_midi", "plot_piano_roll"]

PathLike = str | os.PathLike
TICKS_PER_STEP = 480  # ticks a beat, and a step is one beat
NOTE_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")


def _binary_roll(roll: Tensor | np.ndarray) -> np.ndarray:
    """``roll`` as a boolean ``(T, P)`` array; ``ValueError`` unless it holds 0/1 only."""
    if isinstance(roll, Tensor):
        roll = roll.detach().cpu().numpy()
    roll = np.asarray(roll)
    if roll.ndim != 2:
        raise ValueError(f"a piano roll must be (T, P), got shape {roll.shape}")
    if roll.dtype.kind not in "biuf" or ((roll != 0) & (roll != 1)).any():
        raise ValueError("a piano roll must hold 0 and 1 only")
    return roll.astype(bool)


def _check_pitches(lowest_pitch: int, pitches: int) -> None:
    if lowest_pitch < 0 or pitches < 1 or lowest_pitch + pitches - 1 > 127:
        raise ValueError(
            f"lowest_pitch={lowest_pitch} with {pitches} pitches leaves MIDI's 0-127 "
            f"(the top key would be {lowest_pitch + pitches - 1})"
        )


def _tempo(step_seconds: float) -> int:
    """Microseconds a beat, for one step a beat."""
    tempo = round(step_seconds * 1_000_000)
    if not 1 <= tempo <= 0xFFFFFF:
        raise ValueError(f"step_seconds must be in (0, 16.7] seconds, got {step_seconds!r}")
    return tempo


def piano_roll_to_midi(
    roll: Tensor | np.ndarray,
    path: PathLike,
    lowest_pitch: int = 21,
    step_seconds: float = 0.25,
    program: int = 0,
    velocity: int = 80,
    steps_per_beat: int = 1,
) -> Path:
    """Write ``roll`` ``(T, P)`` of 0/1 as a one-track MIDI file, atomically; return the path.

    Args:
        roll: the piano roll; column ``p`` is MIDI pitch ``lowest_pitch + p``.
        path: the ``.mid`` file to write (parent directories are created).
        lowest_pitch: MIDI number of column 0 (21 = A0, the piano's lowest key).
        step_seconds: duration of one step (0.25 s: eighth notes at 120 beats a minute).
        program: General MIDI instrument 0-127 (0 = acoustic grand piano), channel 1.
        velocity: loudness 1-127 of every note.
        steps_per_beat: steps a beat (quarter note) in the file's notation; the sound is the
            same, ``step_seconds`` a step (a roll read from MIDI by beats is written back
            with its own ``steps_per_beat``, so that it reads back the same).
    """
    keys = _binary_roll(roll)
    T, P = keys.shape
    _check_pitches(lowest_pitch, P)
    if not 0 <= program <= 127:
        raise ValueError(f"program must be in 0-127, got {program!r}")
    if not 1 <= velocity <= 127:
        raise ValueError(f"velocity must be in 1-127, got {velocity!r}")
    if not 1 <= steps_per_beat <= 0x7FFF // TICKS_PER_STEP:
        raise ValueError(
            f"steps_per_beat must be in 1-{0x7FFF // TICKS_PER_STEP}, got {steps_per_beat!r}"
        )
    track = mido.MidiTrack()
    track.append(mido.MetaMessage("set_tempo", tempo=_tempo(step_seconds * steps_per_beat)))
    track.append(mido.Message("program_change", program=program, time=0))
    silence = np.zeros((1, P), dtype=bool)
    padded = np.concatenate([silence, keys, silence])  # (T+2, P): every note starts and ends
    last_tick = 0
    for step in range(T + 1):
        before, now = padded[step], padded[step + 1]
        # Offs before ons, so a chord change at one step never has a key on twice.
        events = [("note_off", p) for p in np.flatnonzero(before & ~now)]
        events += [("note_on", p) for p in np.flatnonzero(now & ~before)]
        for kind, p in events:
            tick = step * TICKS_PER_STEP
            loud = velocity if kind == "note_on" else 0
            note = lowest_pitch + int(p)
            track.append(mido.Message(kind, note=note, velocity=loud, time=tick - last_tick))
            last_tick = tick
    track.append(mido.MetaMessage("end_of_track", time=T * TICKS_PER_STEP - last_tick))
    midi = mido.MidiFile(type=0, ticks_per_beat=TICKS_PER_STEP * steps_per_beat)
    midi.tracks.append(track)

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".mid")
    try:
        with os.fdopen(handle, "wb") as file:
            midi.save(file=file)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; music is for everyone to hear
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def midi_to_piano_roll(
    path: PathLike, lowest_pitch: int = 21, pitches: int = 88, step_seconds: float = 0.25
) -> np.ndarray:
    """Read a MIDI file into a ``(T, pitches)`` float32 roll of 0/1, all channels merged.

    A note covers the steps ``[round(start / step), round(end / step))`` of its start and end
    times in seconds (tempo changes honoured); ``T`` is the file's length in steps, rounded.

    Raises:
        ValueError: the file is missing or not MIDI, or a note is outside
            ``lowest_pitch … lowest_pitch + pitches - 1``.
    """
    path = Path(path)
    _check_pitches(lowest_pitch, pitches)
    if not step_seconds > 0:
        raise ValueError(f"step_seconds must be > 0, got {step_seconds!r}")
    try:
        midi = mido.MidiFile(path)
    except FileNotFoundError:
        raise ValueError(f"{path}: file not found") from None
    except Exception as err:  # mido raises many kinds (KeySignatureError, EOFError, ...)
        reason = str(err).strip() or type(err).__name__
        raise ValueError(f"{path}: not a readable MIDI file ({reason})") from None
    notes: list[tuple[int, float, float]] = []  # (column, start, end) in seconds
    sounding: dict[tuple[int, int], float] = {}  # (channel, note) -> start
    now = 0.0
    for message in midi:  # merged tracks, times in seconds
        now += message.time
        if message.type not in ("note_on", "note_off"):
            continue
        column = message.note - lowest_pitch
        if not 0 <= column < pitches:
            raise ValueError(
                f"{path}: note {message.note} at {now:.3f} s is outside the roll's pitches "
                f"{lowest_pitch}-{lowest_pitch + pitches - 1}"
            )
        key = (message.channel, column)
        if key in sounding:  # a note off, or a repeated note on, ends the sounding note
            notes.append((column, sounding.pop(key), now))
        if message.type == "note_on" and message.velocity > 0:
            sounding[key] = now
    notes += [(column, start, now) for (_, column), start in sounding.items()]
    roll = np.zeros((round(now / step_seconds), pitches), dtype=np.float32)
    for column, start, end in notes:
        roll[round(start / step_seconds) : round(end / step_seconds), column] = 1.0
    return roll


def _note_name(pitch: int) -> str:
    return f"{NOTE_NAMES[pitch % 12]}{pitch // 12 - 1}"  # MIDI 60 = C4


def plot_piano_roll(
    roll: Tensor | np.ndarray,
    path: PathLike,
    title: str | None = None,
    *,
    lowest_pitch: int = 21,
) -> Path:
    """Draw ``roll`` ``(T, P)`` as a PNG: time steps on x, pitch on y (C's labelled).

    The y axis shows the played pitches with two keys of margin (all ``P`` if none sound).
    Returns the path written (atomically, see :func:`rnnkit.plots.save_figure`).
    """
    keys = _binary_roll(roll)
    T, P = keys.shape
    _check_pitches(lowest_pitch, P)
    played = np.flatnonzero(keys.any(axis=0))
    low, high = (0, P - 1) if played.size == 0 else (played[0], played[-1])
    low, high = max(low - 2, 0), min(high + 2, P - 1)
    fig = Figure(figsize=(min(max(T / 12, 6.0), 16.0), 4.5))
    ax = fig.add_subplot()
    bottom = lowest_pitch + low
    ax.imshow(
        keys[:, low : high + 1].T,
        origin="lower",
        aspect="auto",
        cmap="Greys",
        interpolation="nearest",
        extent=(-0.5, T - 0.5, bottom - 0.5, lowest_pitch + high + 0.5),
        vmin=0,
        vmax=1,
    )
    c_pitches = [p for p in range(bottom, lowest_pitch + high + 1) if p % 12 == 0]
    ax.yaxis.set_major_locator(FixedLocator(c_pitches))
    ax.set_yticklabels([_note_name(p) for p in c_pitches])
    ax.grid(axis="y", color="tab:blue", alpha=0.25, linewidth=0.6)
    ax.set_xlabel("time step")
    ax.set_ylabel("pitch")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return save_figure(fig, path)
