r"""Attention pooling: a learned weighted mean of a sequence's hidden states.

The many-to-one summary of Yang et al. (2016, "Hierarchical attention networks") and Zhou et
al. (2016, "Attention-based bidirectional LSTM"): each valid step gets a score from one small
learned layer, the scores become weights by a softmax over the valid steps, and the summary
is the weighted sum of the states::

    u_t = tanh(W h_t + b)               (B, T, A)   a view of each state
    e_t = qᵀ u_t                        (B, T)      its score against a learned query q
    α   = softmax(e) over valid steps   (B, T)      weights, 0 past each length
    s   = Σ_t α_t h_t                   (B, D·H)    the summary

Unlike "mean" (every step weighs 1/L) or "max" (each feature from its own step), the network
learns which steps matter: in a review, the words that carry the sentiment.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from rnnkit.structures.attention import masked_softmax

__all__ = ["AttentionPooling"]


class AttentionPooling(nn.Module):
    """``summary, weights = pool(states, mask)``: states ``(B, T, F)``, mask ``(B, T)`` bool
    (True at valid steps, ``None`` for all); returns ``(B, F)`` and the weights ``(B, T)``.

    A sequence with no valid step gets zero weights and a zero summary.

    Args:
        feature_size: ``F``, the width of each state.
        attention_size: ``A``, the width of ``u_t`` (default ``F``).
    """

    def __init__(self, feature_size: int, attention_size: int | None = None) -> None:
        super().__init__()
        attention_size = attention_size or feature_size
        self.project = nn.Linear(feature_size, attention_size)  # W, b
        # A small random query: a zero one would give every step the same score and W no
        # gradient, so the pooling would start, and stay, a plain mean.
        self.query = nn.Parameter(0.1 * torch.randn(attention_size))  # q

    def forward(self, states: Tensor, mask: Tensor | None = None) -> tuple[Tensor, Tensor]:
        scores = torch.tanh(self.project(states)) @ self.query  # e, (B, T)
        weights = masked_softmax(scores, mask)  # α, (B, T)
        summary = (weights.unsqueeze(2) * states).sum(1)  # Σ_t α_t h_t, (B, F)
        return summary, weights
