"""Attention for encoder–decoder models: Bahdanau (additive) and Luong (dot, general, concat).

Every module here has the same call contract::

    context, weights = attn(query, keys, mask=None, values=None, *, projected_keys=None)

with ``query (B, Hq)`` (one decoder step) or ``(B, Tq, Hq)`` (``Tq`` steps at once),
``keys (B, S, Hk)`` the encoder states, ``mask (B, S)`` bool (True = valid source position)
and ``values (B, S, Hv)`` (default: ``keys``). For each query ``q`` the scores
``score(q, k_s)`` over the ``S`` source positions are turned into weights
``a = masked_softmax(score)`` and the context is ``c = Σ_s a_s v_s``. The results are
``context (B, Hv)`` / ``(B, Tq, Hv)`` and ``weights (B, S)`` / ``(B, Tq, S)``; the weights
are returned so they can be plotted as an alignment matrix.

The multi-step form computes the same thing as calling the single-step form once per query
step. It suits decoders whose queries are known up front: teacher forcing without input
feeding, or Luong's attention applied to all decoder outputs after the RNN. With input
feeding (the previous attentional state fed into the next decoder step) call one step at a time.

Precomputing keys: the part of the score that depends only on the keys (``W_k k`` for
Bahdanau and Luong-concat, ``W k`` for Luong-general) is the same at every decoder step.
A decoder should call ``projected_keys = attn.precompute_keys(keys)`` once per source batch
and pass ``projected_keys=projected_keys`` at every step, saving one ``(B·S, Hk)`` matrix
product per step.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Literal

import torch
from torch import Tensor, nn

__all__ = [
    "ATTENTION_KINDS",
    "Attention",
    "BahdanauAttention",
    "LuongAttention",
    "make_attention",
    "masked_softmax",
]

#: Names accepted by :func:`make_attention`.
ATTENTION_KINDS = ("none", "bahdanau", "luong-dot", "luong-general", "luong-concat")

LuongMethod = Literal["dot", "general", "concat"]


def masked_softmax(scores: Tensor, mask: Tensor | None, dim: int = -1) -> Tensor:
    """Softmax of ``scores`` over ``dim`` restricted to positions where ``mask`` is True.

    Masked positions get exactly 0; a slice with no valid position gets all zeros (not NaN).
    ``mask`` must broadcast to ``scores``; ``None`` means all positions are valid.
    """
    if mask is None:
        return scores.softmax(dim)
    # The lowest finite value rather than -inf: a slice that is fully masked then holds equal
    # finite numbers (softmax = uniform, no -inf - -inf = NaN), and the product with the mask
    # zeroes it. Elsewhere exp(min - max) underflows to exactly 0.
    filled = scores.masked_fill(~mask, torch.finfo(scores.dtype).min)
    return filled.softmax(dim) * mask


class Attention(nn.Module, ABC):
    """Base class: validation, masking and the weighted sum; subclasses define the scores.

    A subclass implements :meth:`precompute_keys` (the key-only part of the score) and
    :meth:`score` (``(B, Tq, Hq)`` queries against projected keys → ``(B, Tq, S)``).
    """

    def __init__(self, query_size: int, key_size: int) -> None:
        super().__init__()
        if query_size < 1 or key_size < 1:
            raise ValueError(
                f"query_size and key_size must be >= 1, got {query_size} and {key_size}"
            )
        self.query_size = query_size
        self.key_size = key_size

    @property
    @abstractmethod
    def projected_key_size(self) -> int:
        """Size of the last dimension of :meth:`precompute_keys`' output."""

    @abstractmethod
    def precompute_keys(self, keys: Tensor) -> Tensor:
        """The query-independent part of the score, ``(B, S, Hk) → (B, S, projected_key_size)``.

        Compute it once per source batch and pass it as ``projected_keys`` at every step.
        """

    @abstractmethod
    def score(self, query: Tensor, projected_keys: Tensor) -> Tensor:
        """Unnormalised scores, ``(B, Tq, Hq)`` and ``(B, S, projected_key_size)`` → ``(B, Tq, S)``.

        ``projected_keys`` is the output of :meth:`precompute_keys`.
        """

    def forward(
        self,
        query: Tensor,
        keys: Tensor,
        mask: Tensor | None = None,
        values: Tensor | None = None,
        *,
        projected_keys: Tensor | None = None,
    ) -> tuple[Tensor, Tensor]:
        """Attend from ``query`` to the source positions; see the module docstring.

        Args:
            query: ``(B, Hq)`` or ``(B, Tq, Hq)``.
            keys: ``(B, S, Hk)``.
            mask: ``(B, S)`` bool, True = valid source position; ``None`` = all valid.
            values: ``(B, S, Hv)``; ``None`` = ``keys``.
            projected_keys: the cached :meth:`precompute_keys` of these keys, if available.

        Returns:
            ``(context, weights)``: ``(B, Hv)`` and ``(B, S)`` for a 2-D query,
            ``(B, Tq, Hv)`` and ``(B, Tq, S)`` for a 3-D one.
        """
        single_step = query.dim() == 2
        self._validate(query, keys, mask, values, projected_keys)
        if values is None:
            values = keys
        if projected_keys is None:
            projected_keys = self.precompute_keys(keys)  # (B, S, P)
        queries = query.unsqueeze(1) if single_step else query  # (B, Tq, Hq)

        scores = self.score(queries, projected_keys)  # (B, Tq, S)
        weights = masked_softmax(scores, None if mask is None else mask.unsqueeze(1))  # (B, Tq, S)
        context = torch.bmm(weights, values)  # (B, Tq, Hv)
        if single_step:
            return context.squeeze(1), weights.squeeze(1)
        return context, weights

    def extra_repr(self) -> str:
        return f"query_size={self.query_size}, key_size={self.key_size}"

    def _validate(
        self,
        query: Tensor,
        keys: Tensor,
        mask: Tensor | None,
        values: Tensor | None,
        projected_keys: Tensor | None,
    ) -> None:
        if keys.dim() != 3 or keys.shape[2] != self.key_size:
            raise ValueError(
                f"keys must have shape (B, S, key_size={self.key_size}), got {tuple(keys.shape)}"
            )
        B, S, _ = keys.shape
        if query.dim() not in (2, 3) or query.shape[0] != B or query.shape[-1] != self.query_size:
            raise ValueError(
                f"query must have shape (B={B}, query_size={self.query_size}) or "
                f"(B={B}, Tq, query_size={self.query_size}), got {tuple(query.shape)}"
            )
        if mask is not None and (mask.shape != (B, S) or mask.dtype != torch.bool):
            raise ValueError(
                f"mask must be a bool tensor of shape (B={B}, S={S}), "
                f"got {mask.dtype} {tuple(mask.shape)}"
            )
        if values is not None and (values.dim() != 3 or values.shape[:2] != (B, S)):
            raise ValueError(
                f"values must have shape (B={B}, S={S}, Hv), got {tuple(values.shape)}"
            )
        expected = (B, S, self.projected_key_size)
        if projected_keys is not None and projected_keys.shape != expected:
            raise ValueError(
                f"projected_keys must have shape {expected} (from precompute_keys), "
                f"got {tuple(projected_keys.shape)}"
            )


def _additive_scores(projected_query: Tensor, projected_keys: Tensor, v: nn.Linear) -> Tensor:
    """``vᵀ tanh(W_q q + W_k k)`` for all pairs: ``(B, Tq, A)``, ``(B, S, A)`` → ``(B, Tq, S)``."""
    hidden = torch.tanh(projected_query.unsqueeze(2) + projected_keys.unsqueeze(1))  # (B, Tq, S, A)
    return v(hidden).squeeze(-1)  # (B, Tq, S)


class BahdanauAttention(Attention):
    """Additive attention (Bahdanau et al., 2015): ``score(q, k) = vᵀ tanh(W_q q + W_k k)``.

    Args:
        query_size: ``Hq``, size of the decoder state used as query.
        key_size: ``Hk``, size of the encoder states.
        attention_size: ``A``, size of the hidden layer inside the score.

    Parameters: ``W_q: Hq → A``, ``W_k: Hk → A`` (no biases, as in the paper) and ``v: A → 1``.
    :meth:`precompute_keys` returns ``W_k k``, ``(B, S, A)``.
    """

    def __init__(self, query_size: int, key_size: int, attention_size: int) -> None:
        super().__init__(query_size, key_size)
        if attention_size < 1:
            raise ValueError(f"attention_size must be >= 1, got {attention_size}")
        self.attention_size = attention_size
        self.W_q = nn.Linear(query_size, attention_size, bias=False)
        self.W_k = nn.Linear(key_size, attention_size, bias=False)
        self.v = nn.Linear(attention_size, 1, bias=False)

    @property
    def projected_key_size(self) -> int:
        return self.attention_size

    def precompute_keys(self, keys: Tensor) -> Tensor:
        """``W_k k``: ``(B, S, Hk) → (B, S, A)``."""
        return self.W_k(keys)

    def score(self, query: Tensor, projected_keys: Tensor) -> Tensor:
        """``vᵀ tanh(W_q q + W_k k)``: ``(B, Tq, Hq)`` × ``(B, S, A)`` → ``(B, Tq, S)``."""
        return _additive_scores(self.W_q(query), projected_keys, self.v)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, attention_size={self.attention_size}"


class LuongAttention(Attention):
    """Multiplicative / concat attention (Luong et al., 2015).

    * ``"dot"``: ``score(q, k) = qᵀ k`` (needs ``query_size == key_size``, no parameters).
    * ``"general"``: ``score(q, k) = qᵀ W k`` with ``W: Hk → Hq``.
    * ``"concat"``: ``score(q, k) = vᵀ tanh(W [q; k])``, computed as ``vᵀ tanh(W_q q + W_k k)``
      (``W = [W_q  W_k]`` split by columns) so that ``W_k k`` can be precomputed.

    Args:
        query_size: ``Hq``.
        key_size: ``Hk``.
        method: ``"dot"``, ``"general"`` or ``"concat"``.
        attention_size: ``A`` for ``"concat"`` (default ``query_size``, as in the paper);
            must be left ``None`` for the other methods.

    :meth:`precompute_keys` returns ``k`` (dot), ``W k`` (general, ``(B, S, Hq)``) or ``W_k k``
    (concat, ``(B, S, A)``).
    """

    def __init__(
        self,
        query_size: int,
        key_size: int,
        method: LuongMethod = "general",
        attention_size: int | None = None,
    ) -> None:
        super().__init__(query_size, key_size)
        if method not in ("dot", "general", "concat"):
            raise ValueError(f"method must be 'dot', 'general' or 'concat', got {method!r}")
        if method == "dot" and query_size != key_size:
            raise ValueError(
                f"Luong dot attention needs query_size == key_size, got {query_size} and "
                f"{key_size}; use method='general' to attend across sizes"
            )
        if attention_size is not None and method != "concat":
            raise ValueError(f"attention_size only applies to method='concat', not {method!r}")
        self.method = method
        if method == "general":
            self.W = nn.Linear(key_size, query_size, bias=False)
        elif method == "concat":
            self.attention_size = query_size if attention_size is None else attention_size
            if self.attention_size < 1:
                raise ValueError(f"attention_size must be >= 1, got {self.attention_size}")
            self.W_q = nn.Linear(query_size, self.attention_size, bias=False)
            self.W_k = nn.Linear(key_size, self.attention_size, bias=False)
            self.v = nn.Linear(self.attention_size, 1, bias=False)

    @property
    def projected_key_size(self) -> int:
        if self.method == "concat":
            return self.attention_size
        return self.query_size  # dot: query_size == key_size; general: W k has size Hq

    def precompute_keys(self, keys: Tensor) -> Tensor:
        """``k`` (dot), ``W k`` (general) or ``W_k k`` (concat)."""
        if self.method == "general":
            return self.W(keys)  # (B, S, Hq)
        if self.method == "concat":
            return self.W_k(keys)  # (B, S, A)
        return keys  # (B, S, Hk)

    def score(self, query: Tensor, projected_keys: Tensor) -> Tensor:
        """``qᵀ k``, ``qᵀ (W k)`` or ``vᵀ tanh(W_q q + W_k k)``: → ``(B, Tq, S)``."""
        if self.method == "concat":
            return _additive_scores(self.W_q(query), projected_keys, self.v)
        return torch.bmm(query, projected_keys.transpose(1, 2))  # (B, Tq, S)

    def extra_repr(self) -> str:
        size = f", attention_size={self.attention_size}" if self.method == "concat" else ""
        return f"{super().extra_repr()}, method={self.method!r}{size}"


def make_attention(
    kind: str, query_size: int, key_size: int, attention_size: int | None = None
) -> Attention | None:
    """Build an attention module from its name (e.g. a config string).

    Kinds (:data:`ATTENTION_KINDS`):

    * ``"none"``: no attention, returns ``None`` (a plain encoder–decoder).
    * ``"bahdanau"``: :class:`BahdanauAttention`, ``attention_size`` defaults to ``query_size``.
    * ``"luong-dot"``, ``"luong-general"``, ``"luong-concat"``: :class:`LuongAttention` with that
      method; ``attention_size`` is used by ``"luong-concat"`` only (default ``query_size``)
      and ignored by the others, so one config can switch kinds freely.

    Raises:
        ValueError: unknown kind (the message lists the choices), or invalid sizes.
    """
    if kind == "none":
        return None
    if kind == "bahdanau":
        size = query_size if attention_size is None else attention_size
        return BahdanauAttention(query_size, key_size, size)
    if kind == "luong-concat":
        return LuongAttention(query_size, key_size, "concat", attention_size)
    if kind in ("luong-dot", "luong-general"):
        method: LuongMethod = "dot" if kind == "luong-dot" else "general"
        return LuongAttention(query_size, key_size, method)
    raise ValueError(f"unknown attention kind {kind!r}; choose one of {list(ATTENTION_KINDS)}")
