"""The negative log-likelihood of polyphonic music, per time step, as the papers report it.

A model with ``P`` Bernoulli outputs gives each frame ``y_t ∈ {0,1}^P`` the probability
``∏_p σ(z_tp)^{y_tp} (1 - σ(z_tp))^{1 - y_tp}``, so a frame's negative log-likelihood in nats is

    NLL_t = Σ_p  -[y_tp log σ(z_tp) + (1 - y_tp) log(1 - σ(z_tp))]   (binary cross entropy)

and the test figure of Boulanger-Lewandowski et al. (2012) and Chung et al. (2014, Table 2:
JSB Chorales LSTM 8.67, GRU 8.54) is ``Σ NLL_t / number of steps`` over all test steps of all
pieces. :func:`frame_nll` gives one batch's two sums; add them over the batches and divide at
the end (the mean of per-batch means would weight short pieces wrongly).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["frame_nll"]


def frame_nll(logits: Tensor, targets: Tensor, mask: Tensor | None = None) -> tuple[float, int]:
    """``(Σ over valid steps of Σ_p NLL, number of valid steps)`` of a batch, in nats.

    Args:
        logits: the Bernoulli logits ``z`` ``(B, T, P)``.
        targets: the true frames ``(B, T, P)`` of 0/1 (anything at invalid steps).
        mask: ``(B, T)``, true at the steps to count (e.g. ``lengths_to_mask``); ``None``
            counts every step.

    Returns:
        ``(total, steps)``; the NLL per time step of a data set is ``Σ total / Σ steps``.
    """
    if logits.dim() != 3 or targets.shape != logits.shape:
        raise ValueError(
            f"logits and targets must be (B, T, P) of one shape, got {tuple(logits.shape)} "
            f"and {tuple(targets.shape)}"
        )
    B, T = logits.shape[0], logits.shape[1]
    if mask is None:
        mask = torch.ones(B, T, dtype=torch.bool, device=logits.device)
    elif mask.shape != (B, T):
        raise ValueError(f"mask must be (B, T) = ({B}, {T}), got {tuple(mask.shape)}")
    mask = mask.bool()
    z, y = logits.detach().double(), targets.detach().double()
    y = y.masked_fill(~mask.unsqueeze(2), 0.0)  # padding may hold anything, even NaN
    valid_y = y[mask]  # (N, P)
    if ((valid_y != 0) & (valid_y != 1)).any():
        raise ValueError("targets must be frames of 0 and 1")
    per_step = F.binary_cross_entropy_with_logits(z, y, reduction="none").sum(2)  # (B, T)
    total = per_step.masked_fill(~mask, 0.0).sum()
    return float(total), int(mask.sum())
