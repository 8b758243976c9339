"""Polyphonic music as piano rolls: one ``(T, P)`` 0/1 array a piece, 1 where a key sounds.

Two file formats, both with a train, a valid and a test split:

* ``.mat`` — the Boulanger-Lewandowski et al. (2012) files (``JSB_Chorales.mat``, ...):
  ``scipy.io.loadmat(f)[name][0]`` is the list of ``(T, 88)`` rolls for ``name`` in
  ``traindata``, ``validdata`` and ``testdata`` (keys ``A0`` … ``C8``, MIDI 21–108).
* ``.npz`` — plain NumPy arrays, no pickles: ``train_0, train_1, …``, ``valid_0, …`` and
  ``test_0, …``, each a ``(T, P)`` array of 0/1 (any integer, bool or float type), numbered
  from 0 without gaps; the number is the piece's order. Write one with
  ``np.savez(path, **{f"train_{i}": roll for i, roll in enumerate(train)}, ...)``. The
  ``valid`` and ``test`` arrays may be left out (their lists are then empty: the caller
  holds pieces out of train).

Every roll must be two-dimensional with ``T >= 1`` steps, hold 0 and 1 only, and all rolls of
a file share ``P``. Problems are a ``ValueError`` naming the file, the split and the index.
"""

from __future__ import annotations

import os
import re
import zipfile
from pathlib import Path

import numpy as np

__all__ = ["SPLITS", "read_piano_rolls"]

SPLITS = ("train", "valid", "test")
MAT_KEYS = {"train": "traindata", "valid": "validdata", "test": "testdata"}
_NPZ_KEY = re.compile(r"^(train|valid|test)_(0|[1-9][0-9]*)$")


def read_piano_rolls(path: str | os.PathLike[str]) -> dict[str, list[np.ndarray]]:
    """Read the train, valid and test piano rolls of a ``.mat`` or ``.npz`` file.

    Returns:
        ``{"train": [...], "valid": [...], "test": [...]}``, each a list of ``float32``
        arrays ``(T, P)`` of 0.0/1.0 (the dtype the Bernoulli outputs train on), in file
        order.

    Raises:
        ValueError: a missing or unreadable file, an unknown suffix, a missing split (an
            ``.npz`` needs only ``train``), a roll that is not ``(T, P)`` or has values other
            than 0 and 1, or two widths ``P``.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: file not found")
    suffix = path.suffix.lower()
    if suffix == ".mat":
        raw = _read_mat(path)
    elif suffix == ".npz":
        raw = _read_npz(path)
    else:
        raise ValueError(f"{path}: unknown piano-roll format {suffix!r}, expected .mat or .npz")
    rolls: dict[str, list[np.ndarray]] = {}
    width: tuple[str, int, int, int] | None = None  # the first roll's split, index, P and T
    for split in SPLITS:
        rolls[split] = []
        for index, roll in enumerate(raw[split]):
            checked = _checked_roll(roll, path, split, index)
            if width is None:
                width = (split, index, checked.shape[1], checked.shape[0])
            elif checked.shape[1] != width[2]:
                # pieces of different widths but the same length: their rows are the pitches
                transposed = (
                    " (transposed? rolls are (T, P): time steps down, pitches across)"
                    if checked.shape[0] == width[3]
                    else ""
                )
                raise ValueError(
                    f"{path}: {split}[{index}] has {checked.shape[1]} pitches, but "
                    f"{width[0]}[{width[1]}] has {width[2]}; all rolls must share P"
                    f"{transposed}"
                )
            rolls[split].append(checked)
    return rolls


def _read_mat(path: Path) -> dict[str, list[object]]:
    from scipy.io import loadmat  # scipy is slow to import; only .mat files need it

    try:
        data = loadmat(path)
    except Exception as err:  # scipy raises many kinds for a damaged or foreign file
        raise ValueError(f"{path}: not a readable MATLAB file ({err})") from None
    raw: dict[str, list[object]] = {}
    for split, key in MAT_KEYS.items():
        if key not in data:
            found = sorted(k for k in data if not k.startswith("__"))
            raise ValueError(f"{path}: no {key!r} array (found {found})")
        cell = data[key]
        if not isinstance(cell, np.ndarray) or cell.dtype != object or cell.ndim != 2:
            raise ValueError(f"{path}: {key!r} must be a 1-by-N cell array of piano rolls")
        raw[split] = list(cell[0])
    return raw


def _read_npz(path: Path) -> dict[str, list[object]]:
    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, ValueError, zipfile.BadZipFile) as err:
        raise ValueError(f"{path}: not a readable .npz file ({err})") from None
    with archive:
        numbered: dict[str, dict[int, np.ndarray]] = {split: {} for split in SPLITS}
        for key in archive.files:
            match = _NPZ_KEY.match(key)
            if match is None:
                raise ValueError(
                    f"{path}: unexpected array {key!r}; expected train_<i>, valid_<i>, test_<i>"
                )
            try:
                numbered[match[1]][int(match[2])] = archive[key]
            except ValueError as err:  # an object array, which needs pickles
                raise ValueError(f"{path}: {key}: {err}") from None
    raw: dict[str, list[object]] = {}
    for split, arrays in numbered.items():
        if not arrays and split == "train":
            raise ValueError(f"{path}: no train_<i> arrays (the training pieces)")
        missing = sorted(set(range(len(arrays))) - set(arrays))
        if missing:
            raise ValueError(
                f"{path}: {split}_{missing[0]} is missing; {split} arrays must be numbered "
                f"0 … {len(arrays) - 1} without gaps"
            )
        raw[split] = [arrays[index] for index in range(len(arrays))]
    return raw


def _checked_roll(roll: object, path: Path, split: str, index: int) -> np.ndarray:
    """``roll`` as a float32 0/1 array ``(T, P)``, or a ``ValueError`` that names it."""
    where = f"{path}: {split}[{index}]"
    if not isinstance(roll, np.ndarray) or roll.ndim != 2:
        shape = getattr(roll, "shape", type(roll).__name__)
        raise ValueError(f"{where}: expected a (T, P) array, got {shape}")
    if roll.shape[0] < 1 or roll.shape[1] < 1:
        raise ValueError(f"{where}: empty roll of shape {roll.shape}")
    if roll.dtype.kind not in "biuf":
        raise ValueError(f"{where}: expected numbers 0 and 1, got dtype {roll.dtype}")
    bad = (roll != 0) & (roll != 1)
    if bad.any():
        t, p = (int(i) for i in np.argwhere(bad)[0])
        raise ValueError(
            f"{where}: values must be 0 or 1, got {roll[t, p].item()!r} at step {t}, pitch {p}"
        )
    return roll.astype(np.float32)
