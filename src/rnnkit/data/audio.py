"""Audio files as sequences of frame features (MFCCs or log-mel energies), with librosa.

A folder of recordings whose labels are in their file names (as the Free Spoken Digit Data
Set, ``{digit}_{speaker}_{index}.wav``) becomes a :class:`SequenceSet`, optionally split in
train and test by a pattern on the file name. Nothing is cached: features are recomputed on
each call (MFCCs of the 3000 FSDD files took 8 s on our 2-core machine).
"""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path

import numpy as np

from rnnkit.data.sequences import SequenceSet

__all__ = ["FEATURES", "SAMPLE_RATE", "audio_features", "read_audio_folder"]

SAMPLE_RATE = 8000  # Hz every file is resampled to: FSDD's rate, and telephone speech's

FEATURES = ("mfcc", "logmel")
_DELTA_WIDTH = 9  # frames; librosa's default window for the delta regression


def _check_options(
    features: str, sample_rate: int, n_mfcc: int, n_mels: int, frame_ms: float, hop_ms: float
) -> None:
    if features not in FEATURES:
        raise ValueError(f"features={features!r}: expected one of {', '.join(FEATURES)}")
    for name, value in [
        ("sample_rate", sample_rate),
        ("n_mfcc", n_mfcc),
        ("n_mels", n_mels),
        ("frame_ms", frame_ms),
        ("hop_ms", hop_ms),
    ]:
        if not value > 0:
            raise ValueError(f"{name}={value!r}: expected a positive number")
    if features == "mfcc" and n_mfcc > n_mels:
        raise ValueError(f"n_mfcc={n_mfcc}: at most n_mels={n_mels} coefficients exist")
    if round(sample_rate * hop_ms / 1000) < 1:
        raise ValueError(f"hop_ms={hop_ms}: shorter than one sample at {sample_rate} Hz")


def audio_features(
    path: str | os.PathLike[str],
    features: str = "mfcc",
    sample_rate: int = SAMPLE_RATE,
    n_mfcc: int = 20,
    n_mels: int = 40,
    frame_ms: float = 25,
    hop_ms: float = 10,
) -> np.ndarray:
    """The float32 ``(T, F)`` frame features of one audio file, resampled to ``sample_rate``.

    ``features="mfcc"``: ``n_mfcc`` MFCCs, then their deltas and delta-deltas
    (``F = 3 * n_mfcc``; deltas over 9 frames, edges repeated); ``"logmel"``: ``n_mels``
    log-mel energies in dB (``F = n_mels``). Frames are ``frame_ms`` long, ``hop_ms`` apart,
    centred; a file shorter than one frame still gives at least one frame.

    Raises:
        ValueError: a bad option (named), or the file is missing, unreadable or empty.
    """
    import librosa  # slow to import; only audio needs it

    _check_options(features, sample_rate, n_mfcc, n_mels, frame_ms, hop_ms)
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: file not found")
    try:
        with warnings.catch_warnings():  # librosa warns before it falls back, then fails
            warnings.simplefilter("ignore")
            y, sr = librosa.load(path, sr=sample_rate, mono=True)
    except Exception as err:  # soundfile / audioread raise many unrelated types
        reason = str(err).strip() or type(err).__name__  # some say nothing
        raise ValueError(f"{path}: cannot read audio: {reason}") from None
    if y.size == 0:
        raise ValueError(f"{path}: no audio samples")
    n_fft = max(1, round(sr * frame_ms / 1000))
    hop = max(1, round(sr * hop_ms / 1000))
    if y.size < n_fft:
        y = np.pad(y, (0, n_fft - y.size))  # silence so that one whole frame exists
    with warnings.catch_warnings():
        # Short frames give a few empty high mel bands; that is expected, not a user error.
        warnings.filterwarnings("ignore", message="Empty filters detected")
        mel = librosa.feature.melspectrogram(
            y=y, sr=sr, n_fft=n_fft, hop_length=hop, n_mels=n_mels, power=2.0
        )
    log_mel = librosa.power_to_db(mel, ref=1.0, top_db=None)
    if features == "logmel":
        values = log_mel
    else:
        mfcc = librosa.feature.mfcc(S=log_mel, n_mfcc=n_mfcc)
        # mode="nearest" works for any number of frames (interp needs >= width frames).
        delta = librosa.feature.delta(mfcc, width=_DELTA_WIDTH, order=1, mode="nearest")
        delta2 = librosa.feature.delta(mfcc, width=_DELTA_WIDTH, order=2, mode="nearest")
        values = np.concatenate([mfcc, delta, delta2], axis=0)
    return np.ascontiguousarray(values.T, dtype=np.float32)


def _compile(option: str, pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as err:
        raise ValueError(f"{option}={pattern!r}: not a regular expression ({err})") from None


def read_audio_folder(
    folder: str | os.PathLike[str],
    label_pattern: str = r"^(\d+)_",
    test_pattern: str | None = None,
    extensions: tuple[str, ...] = (".wav", ".flac", ".ogg", ".mp3"),
    **feature_options: object,
) -> tuple[SequenceSet, SequenceSet | None]:
    """The features (:func:`audio_features`, given ``feature_options``) of the audio files
    in ``folder``, in sorted file-name order, as ``(train, test)``.

    The label of a file is group 1 of ``label_pattern`` (the whole match if it has no
    group) searched in the file name. A folder with no audio file of its own but one
    subfolder a class (``yes/*.wav``, ``no/*.wav``, as Speech Commands) labels each file by
    its subfolder's name instead. Files whose name (``subfolder/name`` in that layout)
    matches ``test_pattern`` go to the test set (FSDD's official split:
    ``r"_[0-4]\\.wav$"``); without it ``test`` is None. The ``names`` of each set are those
    names.

    Raises:
        ValueError: the folder is missing or has no audio file, a file name does not match
            ``label_pattern`` (naming file and pattern), ``test_pattern`` leaves either set
            empty, a pattern or feature option is bad, or a file cannot be read.
    """
    folder = Path(folder)
    if folder.is_file():
        raise ValueError(f"{folder}: a file; labelled audio is a folder of audio files")
    if not folder.is_dir():
        raise ValueError(f"{folder}: directory not found")
    label_regex = _compile("label_pattern", label_pattern)
    test_regex = _compile("test_pattern", test_pattern) if test_pattern is not None else None
    suffixes = tuple(ext.lower() for ext in extensions)

    def audio_in(directory: Path) -> list[Path]:
        return sorted(
            p for p in directory.iterdir() if p.suffix.lower() in suffixes and p.is_file()
        )

    files = audio_in(folder)
    by_folder = not files  # one subfolder a class
    if by_folder:
        files = [p for sub in sorted(folder.iterdir()) if sub.is_dir() for p in audio_in(sub)]
    if not files:
        raise ValueError(
            f"{folder}: no audio files ({', '.join(extensions)}), nor in its subfolders"
        )
    name = {p: f"{p.parent.name}/{p.name}" if by_folder else p.name for p in files}
    # Check every name before the slow part, so a naming mistake fails at once.
    labels = {}
    for p in files:
        if by_folder:
            labels[p] = p.parent.name
            continue
        match = label_regex.search(p.name)
        if match is None:
            raise ValueError(f"{p}: file name does not match label_pattern {label_pattern!r}")
        labels[p] = match.group(1) if label_regex.groups else match.group(0)
    is_test = {p: test_regex is not None and test_regex.search(name[p]) is not None for p in files}
    if test_regex is not None:
        count = sum(is_test.values())
        if count == 0 or count == len(files):
            which = "no" if count == 0 else "every"
            raise ValueError(
                f"{folder}: test_pattern {test_pattern!r} matches {which} file name, "
                "leaving a set empty"
            )

    # A bad feature option fails on the first file, before any time is spent.
    sets: dict[bool, tuple[list[np.ndarray], list[str], list[str]]] = {
        False: ([], [], []),
        True: ([], [], []),
    }
    for p in files:
        x = audio_features(p, **feature_options)  # type: ignore[arg-type]
        features, names_labels, names = sets[is_test[p]]
        features.append(x)
        names_labels.append(labels[p])
        names.append(name[p])
    train = SequenceSet(*sets[False][:2], source=str(folder), names=sets[False][2]).check()
    if test_regex is None:
        return train, None
    test = SequenceSet(*sets[True][:2], source=str(folder), names=sets[True][2]).check()
    return train, test
