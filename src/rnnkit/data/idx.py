"""Reader of the IDX format of the MNIST files (plain or gzip-compressed).

An IDX file is a 4-byte magic number ``0 0 TYPE NDIM``, then ``NDIM`` big-endian uint32
sizes, then the values in C order, big-endian, of the type ``TYPE`` names.
"""

from __future__ import annotations

import gzip
import os
import zlib
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from rnnkit.data.sequences import SequenceSet

__all__ = ["read_idx", "read_idx_images"]

# IDX type code -> numpy dtype (big-endian, as the format stores them).
_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def _read_bytes(path: Path) -> bytes:
    """The file's bytes, decompressed if it is gzip (recognised by content, not name)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ValueError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise ValueError(f"{path}: is a directory, expected an IDX file") from None
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as err:
            raise ValueError(f"{path}: damaged gzip file ({err})") from None
    return data


def labels_file_for(images: str, splits: Iterable[tuple[str | None, str | None]]) -> str:
    """The IDX labels file of the IDX ``images``: the one a run gave with them (``splits``:
    its ``(images, labels)`` pairs), else the one beside them by MNIST's naming
    (``*-images-idx3-*`` -> ``*-labels-idx1-*``); ``ValueError`` if there is none."""
    for split_images, labels in splits:
        same = split_images is not None and Path(split_images).resolve() == Path(images).resolve()
        if same and labels is not None:
            return labels
    path = Path(images)
    name = path.name.replace("images-idx3", "labels-idx1")
    if name != path.name and (path.parent / name).is_file():
        return str(path.parent / name)
    raise ValueError(
        f"{images}: no IDX labels file for these images (expected a *-labels-idx1-* file "
        "beside them)"
    )


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """The array stored in an IDX file, in native byte order (e.g. uint8 ``(N, 28, 28)``).

    Raises:
        ValueError: the file is missing, not IDX (bad magic number or type code), or its
            size does not match the sizes in its header; the message names the file.
    """
    path = Path(path)
    data = _read_bytes(path)
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise ValueError(f"{path}: not an IDX file (bad magic number {data[:4].hex() or 'none'})")
    code, ndim = data[2], data[3]
    if code not in _DTYPES:
        raise ValueError(f"{path}: unknown IDX type code {code:#04x}")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"{path}: truncated IDX header ({len(data)} bytes)")
    shape = tuple(int(n) for n in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    dtype = _DTYPES[code]
    expected = header + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) != expected:
        raise ValueError(
            f"{path}: {len(data)} bytes, but the header's shape {shape} of "
            f"{dtype.name.lstrip('>')} needs {expected} (truncated or not IDX?)"
        )
    values = np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)
    return values.astype(dtype.newbyteorder("="))


def read_idx_images(
    images_path: str | os.PathLike[str], labels_path: str | os.PathLike[str]
) -> SequenceSet:
    """Images ``(N, H, W)`` as sequences of ``H`` rows of ``W`` pixels scaled to ``[0, 1]``
    (MNIST: 28 steps of 28 features), with their labels ``(N,)`` as strings.

    Raises:
        ValueError: either file is unreadable (see :func:`read_idx`), the images are not
            ``(N, H, W)`` uint8, the labels not ``(N,)`` integers, or their counts differ.
    """
    images = read_idx(images_path)
    labels = read_idx(labels_path)
    if images.ndim != 3 or images.dtype != np.uint8:
        raise ValueError(
            f"{images_path}: images of shape {images.shape} and type {images.dtype}, "
            "expected (N, H, W) unsigned bytes"
        )
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(
            f"{labels_path}: labels of shape {labels.shape} and type {labels.dtype}, "
            "expected (N,) integers"
        )
    if len(images) != len(labels):
        raise ValueError(
            f"{labels_path}: {len(labels)} labels for the {len(images)} images of {images_path}"
        )
    # One conversion of the whole block, then cheap views per image.
    pixels = images.astype(np.float32) / np.float32(255.0)
    return SequenceSet(list(pixels), [str(int(v)) for v in labels], str(images_path)).check()
