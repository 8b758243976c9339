"""Variable-length batches: validating lengths, sorting by length, reversing within lengths."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


def check_lengths(lengths: Tensor | list[int], steps: int, batch: int) -> None:
    """Refuse lengths that are not ``B`` integers in ``[0, T]``."""
    try:
        values = torch.as_tensor(lengths)
    except (TypeError, ValueError, RuntimeError):  # [3, None], ["3"], ragged lists
        raise ValueError(f"lengths must be B integers, got {lengths!r}") from None
    if values.numel() == 0 and batch == 0:
        return  # an empty list reads as float; no sequence, nothing to check
    if values.dim() != 1 or values.shape[0] != batch:
        raise ValueError(f"lengths must have shape (B,) = ({batch},), got {tuple(values.shape)}")
    if values.is_floating_point() or values.is_complex() or values.dtype == torch.bool:
        raise ValueError(f"lengths must be integers, got dtype {values.dtype}")
    if batch and (values.min() < 0 or values.max() > steps):
        raise ValueError(
            f"lengths must lie in [0, T] = [0, {steps}], got min {int(values.min())} "
            f"and max {int(values.max())}"
        )


@dataclass(frozen=True)
class Padding:
    """A batch of padded sequences, seen as a packed sequence.

    ``order`` sorts the batch by decreasing length (stable) and ``restore`` undoes it;
    ``batch_sizes[t]`` is how many sorted sequences are still running at step t; ``sorted``
    holds the sorted lengths and ``lengths`` the original ones.
    """

    lengths: Tensor
    sorted: Tensor
    order: Tensor
    restore: Tensor
    batch_sizes: list[int] | None
    has_empty: bool

    @staticmethod
    def build(lengths: Tensor | list[int], steps: int, batch: int, device: torch.device) -> Padding:
        lengths = torch.as_tensor(lengths, dtype=torch.long).to(device)
        sorted_lengths, order = torch.sort(lengths, descending=True, stable=True)
        restore = torch.empty_like(order)
        restore[order] = torch.arange(batch, device=device)
        counts = sorted_lengths.unsqueeze(0) > torch.arange(steps, device=device).unsqueeze(1)
        sizes = counts.sum(1).tolist()
        full = all(size == batch for size in sizes)
        return Padding(lengths, sorted_lengths, order, restore, None if full else sizes,
                       bool((lengths == 0).any()))  # fmt: skip

    def reverse(self, seq: Tensor) -> Tensor:
        """Reverse each (sorted, time-major) sequence within its own length; padding stays."""
        T, B = seq.shape[0], seq.shape[1]
        steps = torch.arange(T, device=seq.device).unsqueeze(1)  # (T, 1)
        length = self.sorted.unsqueeze(0)  # (1, B)
        index = torch.where(steps < length, length - 1 - steps, steps)  # (T, B)
        return seq.gather(0, index.unsqueeze(2).expand(T, B, seq.shape[2]))
