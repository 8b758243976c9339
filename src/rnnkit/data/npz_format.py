"""Reader of labelled sequences saved with ``numpy.savez``.

Two layouts:

* equal length: ``X`` of shape ``(N, T, F)`` (or ``(N, T)``: one feature), optionally
  ``lengths`` ``(N,)`` to keep only the first ``lengths[i]`` steps of example ``i``; without
  it, closing steps that are NaN in every feature are padding (``rnnkit.Classifier``'s
  convention);
* variable length: one array per example, ``X_0, X_1, ...``, each ``(T_i, F)`` or ``(T_i,)``,
  saved as ``np.savez(f, y=y, **{f"X_{i}": x for i, x in enumerate(seqs)})``.

``y`` ``(N,)`` holds the labels, integers or strings; an input to predict from needs none
(``read_npz(path, labelled=False)``). Pickled (object) arrays are refused.
"""

from __future__ import annotations

import os
import re
import zipfile
from pathlib import Path

import numpy as np

from rnnkit.data.sequences import SequenceSet

__all__ = ["read_npz"]

_SAVE_HINT = 'np.savez(f, y=y, **{f"X_{i}": x for i, x in enumerate(seqs)})'
_PER_EXAMPLE = re.compile(r"X_(\d+)")


def _load(path: Path) -> dict[str, np.ndarray]:
    """Every array of the archive, read without unpickling."""
    if not path.is_file():
        raise ValueError(f"{path}: file not found")
    with open(path, "rb") as file:
        magic = file.read(6)
    if not magic.startswith((b"PK\x03\x04", b"\x93NUMPY")):  # a zip of arrays, an array
        # (numpy would try to unpickle it, and its message suggests allow_pickle)
        raise ValueError(f"{path}: not a .npz archive (as np.savez writes: X and y)")
    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, ValueError, zipfile.BadZipFile) as err:
        raise ValueError(f"{path}: not a .npz archive ({err})") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise ValueError(f"{path}: a single .npy array, expected a .npz archive with X and y")
    arrays = {}
    with archive:
        for key in archive.files:
            try:
                arrays[key] = archive[key]
            except ValueError:  # object arrays need pickle, which we never allow
                hint = f"; save variable-length data as {_SAVE_HINT}" if key == "X" else ""
                raise ValueError(
                    f"{path}: key {key!r} is an object (pickled) array, which is not loaded{hint}"
                ) from None
    return arrays


def _as_steps(path: Path, key: str, x: np.ndarray) -> np.ndarray:
    """A numeric ``(T,)`` or ``(T, F)`` array as float32 ``(T, F)``."""
    if not (np.issubdtype(x.dtype, np.number) or x.dtype == np.bool_):
        raise ValueError(f"{path}: key {key!r} has dtype {x.dtype}, expected numbers")
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2:
        raise ValueError(f"{path}: key {key!r} has shape {x.shape}, expected (T, F) or (T,)")
    return np.ascontiguousarray(x, dtype=np.float32)


def _unpadded(x: np.ndarray) -> np.ndarray:
    """``(T, F)`` without its closing steps that are NaN in every feature (padding); NaN
    before them stays, for the check of non-finite values to report."""
    real = np.flatnonzero(~np.isnan(x).all(axis=1))
    return x[: real[-1] + 1].copy() if real.size and real[-1] + 1 < len(x) else x


def _labels(path: Path, y: np.ndarray) -> list[str]:
    """``y`` as strings; integer-valued numbers print without decimals."""
    if y.ndim != 1:
        raise ValueError(f"{path}: key 'y' has shape {y.shape}, expected (N,)")
    if np.issubdtype(y.dtype, np.integer) or y.dtype == np.bool_:
        return [str(int(v)) for v in y]
    if np.issubdtype(y.dtype, np.floating):
        if not (np.isfinite(y).all() and (y == np.round(y)).all()):
            raise ValueError(f"{path}: key 'y' has non-integer numbers, expected class labels")
        return [str(int(v)) for v in y]
    if y.dtype.kind in "US":
        return [v.decode() if isinstance(v, bytes) else str(v) for v in y.tolist()]
    raise ValueError(f"{path}: key 'y' has dtype {y.dtype}, expected integers or strings")


def read_npz(path: str | os.PathLike[str], *, labelled: bool = True) -> SequenceSet:
    """The labelled sequences of a ``.npz`` archive (layouts in the module docstring).

    ``labelled=False`` reads the sequences of an archive to predict from: ``y`` is neither
    needed nor read, and every label is ``""``.

    Raises:
        ValueError: the file is missing or not an archive, ``y`` is missing or of the wrong
            shape, ``X`` and ``X_i`` are both (or neither) present, the ``X_i`` do not run
            ``0..N-1``, an array is pickled, not numeric or of the wrong shape, a length is
            out of range, or a value is not finite; the message names the file and key.
    """
    path = Path(path)
    arrays = _load(path)
    per_example = {
        int(match.group(1)): key for key in arrays if (match := _PER_EXAMPLE.fullmatch(key))
    }
    if not labelled:
        # as many placeholders as examples, so the checks below hold whatever y says
        count = len(arrays["X"]) if "X" in arrays and arrays["X"].ndim else len(per_example)
        labels = [""] * count
    elif "y" not in arrays:
        raise ValueError(f"{path}: no key 'y' (the labels); keys are {sorted(arrays)}")
    else:
        labels = _labels(path, arrays["y"])
    if "X" in arrays and per_example:
        raise ValueError(f"{path}: both key 'X' and per-example keys X_0, X_1, ...; keep one")
    if "X" in arrays:
        X = arrays["X"]
        if X.ndim == 2:
            X = X[:, :, None]
        if X.ndim != 3:
            raise ValueError(f"{path}: key 'X' has shape {X.shape}, expected (N, T, F) or (N, T)")
        if len(X) != len(labels):
            raise ValueError(f"{path}: key 'X' has {len(X)} examples but key 'y' has {len(labels)}")
        features = [_as_steps(path, "X", x) for x in X]
        if "lengths" in arrays:
            lengths = arrays["lengths"]
            if lengths.shape != (len(X),) or not np.issubdtype(lengths.dtype, np.integer):
                raise ValueError(
                    f"{path}: key 'lengths' has shape {lengths.shape} and dtype "
                    f"{lengths.dtype}, expected ({len(X)},) integers"
                )
            bad = np.flatnonzero((lengths < 1) | (lengths > X.shape[1]))
            if bad.size:
                i = int(bad[0])
                raise ValueError(
                    f"{path}: key 'lengths': example {i} has length {int(lengths[i])}, "
                    f"expected 1..{X.shape[1]}"
                )
            features = [x[:n].copy() for x, n in zip(features, lengths.tolist(), strict=True)]
        else:  # NaN padding, as rnnkit.Classifier takes it: the steps after the last real one
            features = [_unpadded(x) for x in features]
    elif per_example:
        expected = list(range(len(per_example)))
        if sorted(per_example) != expected:
            missing = min(set(expected) - set(per_example))
            raise ValueError(f"{path}: key 'X_{missing}' missing (keys X_i must run 0..N-1)")
        if len(per_example) != len(labels):
            raise ValueError(
                f"{path}: {len(per_example)} keys X_i but key 'y' has {len(labels)} labels"
            )
        features = [_as_steps(path, per_example[i], arrays[per_example[i]]) for i in expected]
    else:
        raise ValueError(
            f"{path}: no key 'X' (N, T, F) nor per-example keys X_0, X_1, ...; "
            f"keys are {sorted(arrays)}"
        )
    return SequenceSet(features, labels, str(path)).check()
