"""Padding variable-length sequences into batch tensors, and a seq2seq collate function.

Which side to pad depends on the model. A recurrent layer that is given the ``lengths``
(e.g. through ``pack_padded_sequence``) handles padding at the *back* correctly: it stops at
each sequence's true end. A model that reads a fixed ``T`` steps and keeps only the final
state does not know the lengths, so its input must be padded at the *front* to make the
real tokens the last ones it sees; this is the left-padded (and often reversed) encoder
input of the classic TensorFlow seq2seq models. Decoder targets are always padded at the
back, so that step ``t`` of every row is the ``t``-th target token.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import Any, Literal, NamedTuple

import torch
from torch import Tensor

Side = Literal["back", "front"]
_SIDES: tuple[str, ...] = ("back", "front")


def _check_side(name: str, side: object) -> None:
    if side not in _SIDES:
        raise ValueError(f"{name} must be one of {list(_SIDES)}, got {side!r}")


def _to_tensor(seq: Any, i: int) -> Tensor:
    if isinstance(seq, Tensor):
        tensor = seq
    elif isinstance(seq, (str, bytes)):
        raise ValueError(f"sequence {i} is a {type(seq).__name__}; encode it to ids first")
    else:
        try:
            tensor = torch.as_tensor(seq)
        except (TypeError, ValueError, RuntimeError) as e:
            raise ValueError(f"sequence {i} cannot be made into a tensor: {e}") from None
    if tensor.dim() == 0:
        raise ValueError(f"sequence {i} is a scalar, expected a sequence of steps")
    return tensor


def pad_sequences(
    seqs: Sequence[Any],
    padding_value: float = 0,
    side: Side = "back",
    max_len: int | None = None,
    dtype: torch.dtype | None = None,
    truncate: Side | None = None,
) -> tuple[Tensor, Tensor]:
    """Pad sequences of different lengths into one ``[B, T, ...]`` tensor.

    Args:
        seqs: The sequences: lists of token ids, lists of feature vectors, 1-D or 2-D
            tensors or arrays. All must have the same per-step shape.
        padding_value: Value of the padded positions (e.g. ``vocab.pad_index``).
        side: ``"back"`` pads after the tokens, ``"front"`` before them.
        max_len: Pad every sequence to this length rather than to the longest one.
        dtype: Output dtype; by default the promoted dtype of the inputs (``int64`` for
            token-id lists, ``float32`` for Python floats). Empty sequences do not take part,
            and an all-empty batch gives ``int64``.
        truncate: With ``max_len``, how to shorten longer sequences: ``"back"`` drops their
            end, ``"front"`` their beginning. ``None`` makes them an error.

    Returns:
        ``(padded, lengths)``: ``padded`` is ``[B, T, *step_shape]`` on the device of the
        first tensor given (else the CPU), and ``lengths`` an ``int64`` CPU tensor ``[B]`` of
        the (possibly truncated) lengths, as ``pack_padded_sequence`` expects.

    Raises:
        ValueError: If the batch is empty, a side is unknown, a sequence is a scalar or has a
            different per-step shape (the message names its index), a sequence exceeds
            ``max_len`` without ``truncate``, or ``padding_value`` does not fit ``dtype``.
    """
    _check_side("side", side)
    if truncate is not None:
        _check_side("truncate", truncate)
    if max_len is not None and (
        isinstance(max_len, bool) or not isinstance(max_len, int) or max_len < 1
    ):
        raise ValueError(f"max_len must be a positive int or None, got {max_len!r}")
    seqs = list(seqs)
    if not seqs:
        raise ValueError("cannot pad an empty batch")

    tensors = [_to_tensor(seq, i) for i, seq in enumerate(seqs)]
    # A sequence written as [] is 1-D even in a batch of (T, F) sequences; it only has a
    # length, so it neither fixes the step shape nor votes on the dtype.
    is_blank = [t.dim() == 1 and t.numel() == 0 for t in tensors]
    ref = next((i for i, blank in enumerate(is_blank) if not blank), None)
    step_shape = tensors[ref].shape[1:] if ref is not None else torch.Size()
    for i, t in enumerate(tensors):
        if not is_blank[i] and t.shape[1:] != step_shape:
            raise ValueError(
                f"sequence {i} has per-step shape {tuple(t.shape[1:])}, but sequence {ref} "
                f"has {tuple(step_shape)}"
            )

    if dtype is None:
        voters = [t.dtype for t, blank in zip(tensors, is_blank, strict=True) if not blank]
        dtype = functools.reduce(torch.promote_types, voters) if voters else torch.int64
    if not (dtype.is_floating_point or dtype.is_complex):
        if not math.isfinite(padding_value) or padding_value != int(padding_value):
            raise ValueError(f"padding_value={padding_value!r} does not fit dtype {dtype}")

    lengths = [len(t) for t in tensors]
    if max_len is not None:
        for i, n in enumerate(lengths):
            if n > max_len and truncate is None:
                raise ValueError(
                    f"sequence {i} has length {n} > max_len={max_len}; pass "
                    "truncate='back' or truncate='front' to shorten it"
                )
        if truncate == "front":
            tensors = [t[max(len(t) - max_len, 0) :] for t in tensors]
        else:
            tensors = [t[:max_len] for t in tensors]
        lengths = [len(t) for t in tensors]
    T = max_len if max_len is not None else max(lengths)

    device = next((s.device for s in seqs if isinstance(s, Tensor)), torch.device("cpu"))
    padded = torch.full((len(tensors), T, *step_shape), padding_value, dtype=dtype, device=device)
    for i, t in enumerate(tensors):
        n = len(t)
        if n == 0:
            continue
        if side == "back":
            padded[i, :n] = t
        else:
            padded[i, T - n :] = t
    return padded, torch.tensor(lengths, dtype=torch.int64)


class Seq2SeqBatch(NamedTuple):
    """A padded batch of (source, target) pairs, as returned by :func:`collate_pairs`."""

    src: Tensor
    """Sources ``[B, S, ...]``, padded at the side asked for."""
    src_lengths: Tensor
    """Source lengths ``[B]`` (``int64``, CPU)."""
    tgt: Tensor
    """Targets ``[B, T, ...]``, always padded at the back."""
    tgt_lengths: Tensor
    """Target lengths ``[B]`` (``int64``, CPU)."""


def collate_pairs(
    batch: Sequence[tuple[Any, Any]],
    src_pad: float,
    tgt_pad: float,
    src_side: Side = "back",
) -> Seq2SeqBatch:
    """Collate ``(source, target)`` pairs for a sequence-to-sequence model.

    Use ``functools.partial(collate_pairs, src_pad=..., tgt_pad=...)`` as the
    ``collate_fn`` of a :class:`~torch.utils.data.DataLoader`.

    Args:
        batch: The pairs, each a source and a target sequence of token ids (or features).
        src_pad: Padding value of the sources (e.g. the source vocabulary's ``pad_index``).
        tgt_pad: Padding value of the targets.
        src_side: ``"back"`` for encoders that take the lengths, ``"front"`` for those that
            do not (see the module documentation).

    Returns:
        ``Seq2SeqBatch(src, src_lengths, tgt, tgt_lengths)``.

    Raises:
        ValueError: If the batch is empty, an item is not a pair, ``src_side`` is unknown,
            or the sources or targets cannot be padded together; the message says which.
    """
    _check_side("src_side", src_side)
    batch = list(batch)
    if not batch:
        raise ValueError("cannot collate an empty batch")
    for i, item in enumerate(batch):
        if isinstance(item, (str, bytes)) or not hasattr(item, "__len__") or len(item) != 2:
            raise ValueError(f"batch item {i} must be a (source, target) pair")
    try:
        src, src_lengths = pad_sequences([s for s, _ in batch], src_pad, side=src_side)
    except ValueError as e:
        raise ValueError(f"sources: {e}") from e
    try:
        tgt, tgt_lengths = pad_sequences([t for _, t in batch], tgt_pad, side="back")
    except ValueError as e:
        raise ValueError(f"targets: {e}") from e
    return Seq2SeqBatch(src, src_lengths, tgt, tgt_lengths)
