"""Masked (target-weighted) cross entropy over a batch of token sequences.

The loss of a batch is the weighted mean of per-token cross entropies,

    L = Σ_{b,t} w[b,t] · CE(logits[b,t], targets[b,t]) / Σ_{b,t} w[b,t],

so padding (weight 0) neither contributes to the loss nor dilutes it: this is the usual
"mean over real tokens". The flags ``average_across_timesteps`` / ``average_across_batch``
follow TensorFlow's ``sequence_loss`` and give per-sequence or per-timestep values instead.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["lengths_to_mask", "lengths_to_weights", "sequence_loss"]


def lengths_to_mask(lengths: Tensor, max_len: int | None = None) -> Tensor:
    """Boolean mask ``[B, max_len]`` that is True at the first ``lengths[b]`` steps of row b.

    Args:
        lengths: integer tensor ``[B]`` of sequence lengths (``0 <= lengths[b] <= max_len``).
        max_len: number of timesteps ``T``; defaults to ``lengths.max()`` (0 for an empty batch).

    Raises:
        ValueError: if ``lengths`` is not a 1-D integer tensor or a length is out of range.
    """
    if lengths.dim() != 1 or lengths.is_floating_point() or lengths.is_complex():
        raise ValueError(
            f"lengths must be a 1-D integer tensor [B]; got dtype {lengths.dtype}, "
            f"shape {tuple(lengths.shape)}"
        )
    if lengths.dtype == torch.bool:
        raise ValueError("lengths must be an integer tensor, not bool")
    longest = int(lengths.max()) if lengths.numel() > 0 else 0
    shortest = int(lengths.min()) if lengths.numel() > 0 else 0
    if max_len is None:
        max_len = longest
    if shortest < 0 or longest > max_len:
        raise ValueError(
            f"lengths must lie in [0, max_len={max_len}]; got min {shortest}, max {longest}"
        )
    steps = torch.arange(max_len, device=lengths.device)
    return steps.unsqueeze(0) < lengths.unsqueeze(1)


def lengths_to_weights(
    lengths: Tensor, max_len: int | None = None, dtype: torch.dtype = torch.float32
) -> Tensor:
    """Per-token weights ``[B, max_len]``: 1 at real tokens, 0 at padding (`lengths_to_mask`)."""
    return lengths_to_mask(lengths, max_len).to(dtype)


def sequence_loss(
    logits: Tensor,
    targets: Tensor,
    weights: Tensor | None = None,
    *,
    average_across_timesteps: bool = True,
    average_across_batch: bool = True,
    label_smoothing: float = 0.0,
    ignore_index: int | None = -100,
) -> Tensor:
    """Target-weighted cross entropy of a batch of sequences.

    With ``CE[b,t] = cross_entropy(logits[b,t], targets[b,t])`` and weights ``w``:

    ==========================  ========================  =====================================
    average_across_timesteps    average_across_batch      result
    ==========================  ========================  =====================================
    True                        True                      scalar ``Σ w·CE / Σ w``
    True                        False                     ``[B]``: ``Σ_t w·CE / Σ_t w``
    False                       True                      ``[T]``: ``Σ_b w·CE / Σ_b w``
    False                       False                     ``[B, T]``: ``w·CE``
    ==========================  ========================  =====================================

    Zero weights. A batch whose weights are all zero has nothing to average, so when any
    averaging is requested this raises ``ValueError`` instead of returning NaN or a silent 0.
    Inside a partial average a single empty group (a fully padded row, or a timestep past the
    end of every sequence) is normal and its value is 0.

    Args:
        logits: ``[B, T, V]`` unnormalised scores.
        targets: ``[B, T]`` integer class ids in ``[0, V)`` (or ``ignore_index``).
        weights: ``[B, T]`` finite, non-negative per-token weights (bool masks are accepted);
            ``None`` means all ones. Padding gets weight 0.
        average_across_timesteps: divide the sum over timesteps by the weight of each sequence.
        average_across_batch: divide the sum over the batch by the weight of each timestep.
        label_smoothing: as in ``torch.nn.functional.cross_entropy``.
        ignore_index: target value treated as padding (weight 0): -100 by default, as
            ``cross_entropy``'s; ``None``: every target must be a class id.

    Returns:
        The loss, accumulated in at least float32 (float64 logits give float64).

    Raises:
        ValueError: mismatched shapes, non-integer or out-of-range targets, non-finite or
            negative weights, or all-zero weights when averaging.
    """
    if logits.dim() != 3:
        raise ValueError(f"logits must have shape [B, T, V]; got {tuple(logits.shape)}")
    batch_size, num_steps, vocab_size = logits.shape
    if tuple(targets.shape) != (batch_size, num_steps):
        raise ValueError(
            f"targets must have shape [B, T] = {(batch_size, num_steps)} to match logits "
            f"{tuple(logits.shape)}; got {tuple(targets.shape)}"
        )
    accumulate = torch.promote_types(logits.dtype, torch.float32)
    targets, w = prepare_token_weights(
        targets,
        weights,
        vocab_size=vocab_size,
        ignore_index=ignore_index,
        dtype=accumulate,
        averaging=average_across_timesteps or average_across_batch,
    )

    # One cross_entropy over the flattened [B*T, V] matrix: a single fused kernel, no Python loop.
    token_ce = F.cross_entropy(
        logits.reshape(-1, vocab_size),
        targets.reshape(-1),
        reduction="none",
        label_smoothing=label_smoothing,
    ).view(batch_size, num_steps)
    weighted = token_ce.to(accumulate) * w

    if average_across_timesteps and average_across_batch:
        return weighted.sum() / w.sum()
    if average_across_timesteps:
        return _divide_or_zero(weighted.sum(dim=1), w.sum(dim=1))
    if average_across_batch:
        return _divide_or_zero(weighted.sum(dim=0), w.sum(dim=0))
    return weighted


def prepare_token_weights(
    targets: Tensor,
    weights: Tensor | None,
    *,
    vocab_size: int,
    ignore_index: int | None,
    dtype: torch.dtype,
    averaging: bool,
) -> tuple[Tensor, Tensor]:
    """Validate targets and weights; return (safe long targets, effective weights of ``dtype``).

    Ignored targets are replaced by class 0 (a valid index) and given weight 0, so downstream
    code never indexes with them. ``averaging`` demands a positive total weight. All value
    checks share one device-to-host synchronisation (it matters on accelerators).
    """
    if targets.is_floating_point() or targets.is_complex() or targets.dtype == torch.bool:
        raise ValueError(f"targets must be an integer tensor of class ids; got {targets.dtype}")
    if weights is None:
        w = torch.ones(targets.shape, dtype=dtype, device=targets.device)
    else:
        if tuple(weights.shape) != tuple(targets.shape):
            raise ValueError(
                f"weights must have the shape of targets {tuple(targets.shape)}; "
                f"got {tuple(weights.shape)}"
            )
        w = weights.to(device=targets.device, dtype=dtype)
    targets = targets.long()
    if ignore_index is not None:
        kept = targets != ignore_index
        targets = targets.masked_fill(~kept, 0)
        w = w * kept

    flags = torch.stack(
        [
            (targets < 0).any() | (targets >= vocab_size).any(),
            ~torch.isfinite(w).all(),
            (w < 0).any(),
            ~(w.sum() > 0),
        ]
    ).tolist()
    bad_target, non_finite, negative, all_zero = flags
    if bad_target:
        raise ValueError(
            f"targets must be class ids in [0, {vocab_size}); got values from "
            f"{int(targets.min())} to {int(targets.max())}"
        )
    if non_finite:
        raise ValueError("weights must be finite; got NaN or infinite entries")
    if negative:
        raise ValueError(f"weights must be non-negative; got minimum {float(w.min())}")
    if averaging and all_zero:
        raise ValueError(
            "all token weights are zero (every position is padding), so the averaged loss is "
            "undefined; pass at least one token with positive weight or do not average"
        )
    return targets, w


def _divide_or_zero(numerator: Tensor, denominator: Tensor) -> Tensor:
    # Empty groups have numerator 0 too (it is a weighted sum); define 0/0 as 0 for them.
    safe = torch.where(denominator > 0, denominator, torch.ones_like(denominator))
    return numerator / safe
