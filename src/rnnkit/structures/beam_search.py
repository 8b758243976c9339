"""Beam search over any autoregressive model, given as a step function.

The model is seen through one callback::

    log_probs, state = step(tokens, state)            # or: log_probs, state, extra = ...

``tokens (N,)`` are the last token of each of the ``N`` hypotheses, ``log_probs (N, V)`` the
model's ``log p(y_t | y_<t, x)`` for every next token, and ``state`` whatever the model needs
to carry (an RNN state, an input-feeding vector...). An optional third output ``extra (N, ...)``
is recorded at every step and returned along each hypothesis (a decoder's attention weights,
for plotting). Hypotheses move between rows of the batch as the beam is pruned, so the search
also needs ``reorder_state(state, index)``, which returns the state of rows ``index (N,)``.

Scores. A hypothesis ``Y = y_1 … y_n`` (``y_n`` = ``<eos>`` if it finished) has the model score
``s(Y) = Σ_t log p(y_t | y_<t, x)`` and is ranked by the GNMT-normalised score (Wu et al.,
2016, eq. 14)::

    s(Y) / lp(Y),    lp(Y) = ((5 + |Y|) / 6)^α,

where ``|Y|`` counts the tokens including ``<eos>``; ``α = 0`` gives ``lp = 1``, the plain
model score, and larger ``α`` favours longer outputs. Scores are accumulated in float64, so a
sum of many log-probabilities never reorders candidates that the model itself tells apart.

Search. Each batch item has ``K`` lanes (the beam). At every step each live lane proposes its
``V`` extensions and the best ``K`` of the ``K·V`` candidates, by normalised score, become the
new beam. A hypothesis that emitted ``<eos>`` is finished: it stays in the beam as one frozen
candidate (same tokens, same score), competing with the live ones for a place, and is never
expanded again. The search stops when every lane of every item is finished or after
``max_length`` steps; hypotheses still open then are returned as they are (``finished`` False).
At the first step all lanes hold the same prefix ``<bos>``, so only one of them is expanded.

The greedy lane. Plain beam search can end *below* greedy decoding: a prefix pruned early may
have been the one with the best completion. With ``keep_greedy=True`` (and ``K > 1``) each item
carries one extra lane that always takes its own argmax token and is never pruned; at the end
it competes with the ``K`` beam hypotheses for the ``K`` places (a duplicate of a beam
hypothesis is dropped). The result then never ranks below greedy decoding, at the cost of one
more row per item. With ``K = 1`` the beam *is* greedy decoding, and no extra lane is needed.

Layout contract (models may rely on it). The initial state describes ``B`` rows, one per batch
item; the search first calls ``reorder_state(state, index)`` with
``index = [0]*L + [1]*L + … + [B-1]*L`` to give each of the ``L`` lanes of an item its copy,
so rows ``b·L … b·L + L − 1`` belong to item ``b``. Every later ``index`` moves rows only within
their item, so data that is the same for all lanes of an item (an encoder's outputs) can be
expanded once and never reordered.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import torch
from torch import Tensor

__all__ = ["BeamSearchResult", "beam_search", "gnmt_length_penalty", "select_rows"]

StepOutput = tuple[Tensor, Any] | tuple[Tensor, Any, Tensor | None]
StepFunction = Callable[[Tensor, Any], StepOutput]
ReorderFunction = Callable[[Any, Tensor], Any]


class BeamSearchResult(NamedTuple):
    """The ``K`` best hypotheses of each batch item, best first (``[:, 0]`` is the answer)."""

    tokens: Tensor
    """``(B, K, T)`` the generated tokens (``<eos>`` included), ``pad_index`` past each length;
    ``T`` is the number of steps run, at most ``max_length``."""
    lengths: Tensor
    """``(B, K)`` number of tokens of each hypothesis, ``<eos>`` included."""
    scores: Tensor
    """``(B, K)`` float64 model score ``s(Y) = Σ log p(y_t | y_<t, x)``."""
    normalized_scores: Tensor
    """``(B, K)`` float64 ranking score ``s(Y) / lp(Y)``, sorted in decreasing order."""
    finished: Tensor
    """``(B, K)`` bool: the hypothesis ended with ``<eos>`` (else ``max_length`` cut it)."""
    extras: Tensor | None
    """``(B, K, T, ...)`` the step function's ``extra`` along each hypothesis (the entry at
    ``t`` is the one computed while choosing ``tokens[..., t]``), zero past each length;
    ``None`` if the step function returns none."""


def gnmt_length_penalty(lengths: Tensor, alpha: float) -> Tensor:
    """``lp(Y) = ((5 + |Y|) / 6)^α`` for the hypothesis lengths ``|Y|`` (any shape), in float64.

    ``α = 0`` gives exactly 1 (no normalisation); GNMT used ``α`` between 0.6 and 1.
    """
    return ((5.0 + lengths.to(torch.float64)) / 6.0) ** alpha


def select_rows(state: Any, index: Tensor) -> Any:
    """The default ``reorder_state``: rows ``index`` (dim 0) of every tensor in ``state``.

    ``state`` may be a tensor, ``None``, or a (named) tuple, list or dict of those, nested.
    States whose batch dimension is not the first, like an RNN's ``(L, N, H)``, need their own
    reorder function.
    """
    if state is None:
        return None
    if isinstance(state, Tensor):
        return state.index_select(0, index)
    if isinstance(state, tuple) and hasattr(state, "_fields"):  # a NamedTuple
        return type(state)(*(select_rows(s, index) for s in state))
    if isinstance(state, (tuple, list)):
        return type(state)(select_rows(s, index) for s in state)
    if isinstance(state, dict):
        return {key: select_rows(value, index) for key, value in state.items()}
    raise TypeError(
        f"select_rows cannot reorder a {type(state).__name__}; pass a reorder_state function"
    )


def beam_search(
    step: StepFunction,
    initial_state: Any,
    *,
    batch_size: int,
    bos_index: int,
    eos_index: int,
    max_length: int,
    beam_size: int = 5,
    length_penalty: float = 0.0,
    reorder_state: ReorderFunction = select_rows,
    keep_greedy: bool = True,
    pad_index: int | None = None,
    device: torch.device | str | None = None,
) -> BeamSearchResult:
    """Find the ``beam_size`` best continuations of ``<bos>`` for each batch item.

    See the module docstring for the step-function protocol, the scores and the search.

    Args:
        step: ``step(tokens (N,), state) -> (log_probs (N, V), state[, extra (N, ...)])``.
        initial_state: the model state for the ``batch_size`` items (one row each).
        batch_size: ``B``.
        bos_index: the token fed at the first step.
        eos_index: the token that ends a hypothesis.
        max_length: the most tokens a hypothesis may have, ``<eos>`` included.
        beam_size: ``K >= 1``, hypotheses kept per item (and returned).
        length_penalty: ``α >= 0`` of the GNMT length penalty; 0 ranks by the model score.
        reorder_state: ``reorder_state(state, index (N,)) -> state`` of rows ``index``.
        keep_greedy: add the never-pruned greedy lane (see the module docstring).
        pad_index: fills ``tokens`` past each length and is fed to finished hypotheses;
            default ``eos_index``.
        device: where the token and index tensors live (default: the CPU).

    Returns:
        :class:`BeamSearchResult`, best hypothesis first.

    Raises:
        ValueError: ``beam_size < 1``, ``max_length < 1``, ``batch_size < 1``, a negative
            ``length_penalty``, ``log_probs`` not of shape ``(N, V)``, or a special index
            outside ``[0, V)``.
    """
    if beam_size < 1:
        raise ValueError(f"beam_size must be >= 1, got {beam_size}")
    if max_length < 1:
        raise ValueError(f"max_length must be >= 1, got {max_length}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if length_penalty < 0:
        raise ValueError(f"length_penalty (alpha) must be >= 0, got {length_penalty}")
    pad_index = eos_index if pad_index is None else pad_index
    B, K = batch_size, beam_size
    L = K + 1 if keep_greedy and K > 1 else K  # lanes per item; lane K (if any) is greedy
    greedy = L > K
    N = B * L

    items = torch.arange(B, device=device)
    state = reorder_state(initial_state, items.repeat_interleave(L))
    row_offset = (items * L).unsqueeze(1)  # (B, 1) first row of each item
    tokens = torch.full((N,), bos_index, dtype=torch.long, device=device)
    scores = torch.zeros(B, L, dtype=torch.float64, device=device)
    scores[:, 1:K] = float("-inf")  # K identical copies of <bos>: expand only the first
    lengths = torch.zeros(B, L, dtype=torch.long, device=device)
    finished = torch.zeros(B, L, dtype=torch.bool, device=device)
    chosen_history: list[Tensor] = []  # (B, L) token chosen at each step
    parent_history: list[Tensor] = []  # (B, L) lane each new hypothesis extends
    extra_history: list[Tensor] = []  # (N, ...) computed in the parents' rows

    for t in range(max_length):
        log_probs, state, extra = _call_step(step, tokens, state)
        V = _check_log_probs(log_probs, N, t, bos_index, eos_index, pad_index)
        log_probs = log_probs.to(torch.float64).view(B, L, V)  # (B, L, V)

        extended_lengths = lengths + (~finished).long()  # (B, L) length after this step
        candidates = scores.unsqueeze(2) + log_probs  # (B, L, V)
        # A finished hypothesis has a single candidate, itself (padded), at an unchanged score.
        frozen = torch.full_like(candidates, float("-inf"))
        frozen[:, :, pad_index] = scores
        candidates = torch.where(finished.unsqueeze(2), frozen, candidates)
        ranked = candidates / gnmt_length_penalty(extended_lengths, length_penalty).unsqueeze(2)

        best = ranked[:, :K].reshape(B, K * V).topk(K, dim=1).indices  # (B, K)
        parents, chosen = best // V, best % V  # (B, K) each
        if greedy:
            greedy_token = ranked[:, K].argmax(dim=1, keepdim=True)  # (B, 1)
            parents = torch.cat([parents, torch.full_like(greedy_token, K)], dim=1)  # (B, L)
            chosen = torch.cat([chosen, greedy_token], dim=1)  # (B, L)

        scores = candidates.view(B, L * V).gather(1, parents * V + chosen)  # (B, L)
        lengths = extended_lengths.gather(1, parents)
        finished = finished.gather(1, parents) | (chosen == eos_index)
        chosen_history.append(chosen)
        parent_history.append(parents)
        if (extra is None) != (not extra_history) and t > 0:
            raise ValueError("step must return an extra at every step or at none")
        if extra is not None:
            extra_history.append(extra)
        if bool(finished.all()):
            break
        rows = (row_offset + parents).view(N)  # (N,) stays within each item
        state = reorder_state(state, rows)
        tokens = chosen.view(N)

    out_tokens, out_extras = _backtrack(chosen_history, parent_history, extra_history, B, L)
    steps = torch.arange(out_tokens.shape[2], device=out_tokens.device)
    valid = steps < lengths.unsqueeze(2)  # (B, L, T)
    out_tokens = out_tokens.masked_fill(~valid, pad_index)
    if out_extras is not None:
        shape = (*valid.shape, *[1] * (out_extras.dim() - 3))
        out_extras = out_extras.masked_fill(~valid.view(shape), 0)

    normalized = scores / gnmt_length_penalty(lengths, length_penalty)  # (B, L)
    if greedy:  # the greedy hypothesis gives up its place if a beam lane holds it already
        same = (out_tokens[:, :K] == out_tokens[:, K:]).all(dim=2) & (
            lengths[:, :K] == lengths[:, K:]
        )  # (B, K)
        normalized_rank = normalized.clone()
        normalized_rank[:, K] = torch.where(same.any(dim=1), float("-inf"), normalized[:, K])
    else:
        normalized_rank = normalized
    # Stable: among equal scores the beam lanes (lower index) come before the greedy lane.
    order = normalized_rank.sort(dim=1, descending=True, stable=True).indices[:, :K]  # (B, K)

    def pick(x: Tensor) -> Tensor:
        index = order.view(*order.shape, *[1] * (x.dim() - 2)).expand(B, K, *x.shape[2:])
        return x.gather(1, index)

    return BeamSearchResult(
        tokens=pick(out_tokens),
        lengths=pick(lengths),
        scores=pick(scores),
        normalized_scores=pick(normalized),
        finished=pick(finished),
        extras=None if out_extras is None else pick(out_extras),
    )


def _call_step(step: StepFunction, tokens: Tensor, state: Any) -> tuple[Tensor, Any, Any]:
    output = step(tokens, state)
    if not isinstance(output, tuple) or len(output) not in (2, 3):
        raise ValueError("step must return (log_probs, state) or (log_probs, state, extra)")
    if len(output) == 2:
        return output[0], output[1], None
    return output


def _check_log_probs(
    log_probs: Tensor, rows: int, t: int, bos_index: int, eos_index: int, pad_index: int
) -> int:
    """Validate the step's output; returns the vocabulary size ``V``."""
    if log_probs.dim() != 2 or log_probs.shape[0] != rows:
        raise ValueError(
            f"step must return log_probs of shape (N={rows}, V), got {tuple(log_probs.shape)}"
        )
    V = log_probs.shape[1]
    if t == 0:
        for name, index in (("bos", bos_index), ("eos", eos_index), ("pad", pad_index)):
            if not 0 <= index < V:
                raise ValueError(f"{name}_index={index} is not a token of a vocabulary of {V}")
    return V


def _backtrack(
    chosen_history: list[Tensor],
    parent_history: list[Tensor],
    extra_history: list[Tensor],
    B: int,
    L: int,
) -> tuple[Tensor, Tensor | None]:
    """Follow each final lane's parents back to the first step: tokens ``(B, L, T)`` and the
    extras ``(B, L, T, ...)`` along each hypothesis."""
    lane = torch.arange(L, device=chosen_history[0].device).expand(B, L)  # (B, L)
    tokens: list[Tensor] = []
    extras: list[Tensor] = []
    for t in reversed(range(len(chosen_history))):
        tokens.append(chosen_history[t].gather(1, lane))
        parent = parent_history[t].gather(1, lane)  # (B, L) row that computed step t
        if extra_history:
            extra = extra_history[t].reshape(B, L, *extra_history[t].shape[1:])
            index = parent.view(B, L, *[1] * (extra.dim() - 2)).expand_as(extra)
            extras.append(extra.gather(1, index))
        lane = parent
    out_tokens = torch.stack(tokens[::-1], dim=2)  # (B, L, T)
    out_extras = torch.stack(extras[::-1], dim=2) if extras else None  # (B, L, T, ...)
    return out_tokens, out_extras
