"""Linear-chain conditional random field (CRF) output layer for sequence tagging.

Notation (matches the code): a sequence of length ``L`` with emission scores
``e[t, k]`` (``t < L``, ``k < K``) and a tag path ``y = (y_0, ..., y_{L-1})`` has the score

    s(y) = start[y_0] + Σ_{t<L} e[t, y_t] + Σ_{1≤t<L} transitions[y_{t-1}, y_t] + end[y_{L-1}]

and probability ``p(y) = exp(s(y)) / Z`` with the log-partition

    log Z = logsumexp over all K^L paths y of s(y).

``log Z`` is computed by the forward algorithm, ``α_0 = start + e[0]`` and

    α_t[j] = logsumexp_i(α_{t-1}[i] + transitions[i, j]) + e[t, j],
    log Z  = logsumexp_k(α_{L-1}[k] + end[k]),

and the best path by the Viterbi recursion (the same with ``max`` in place of ``logsumexp``,
plus back-pointers). Both are vectorised over the batch and loop over time only.

The forward step is evaluated as a matrix product in the scaled (probability) domain, which
replaces a ``(B, K, K)`` logsumexp per step by one ``(B, K) @ (K, K)`` product:

    α_t[j] = log Σ_i exp(α_{t-1}[i] - m) · exp(transitions[i, j] - c_j) + m + c_j + e[t, j]

with ``m = max_i α_{t-1}[i]`` per sequence and ``c_j = max_i transitions[i, j]`` (both
constants for autograd: the value does not depend on them). Every factor is at most 1, so
nothing overflows; an entry whose sum falls below ``tiny / eps`` of the dtype (where terms
lost to underflow could matter) is recomputed with the logsumexp form, so the result is the
logsumexp recursion's to rounding.

Conventions:

* Emissions are batch-first, ``(B, T, K)``. Which steps are real is given either by a bool
  ``mask (B, T)`` (True = valid step) or by ``lengths (B,)``; masks must be left-aligned
  (valid steps first), because the recursions stop at the last valid step.
* A zero-length sequence has exactly one path, the empty one, with score 0: its
  log-partition, gold score and negative log-likelihood are 0 and it decodes to ``[]``.
* Hard constraints forbid some transitions (and some first/last tags). A forbidden score is
  replaced by :data:`FORBIDDEN_SCORE`, a large negative *finite* number: ``-inf`` would make
  ``logsumexp`` return NaN (``-inf - -inf``) whenever every candidate at a step is forbidden.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

import torch
from torch import Tensor, nn

__all__ = [
    "CRF",
    "FORBIDDEN_SCORE",
    "TransitionConstraints",
    "bio_constraints",
    "bio_transition_mask",
]

#: Score given to forbidden transitions: exp(-1e4) underflows to exactly 0 in float32 and
#: float64, yet sums of a few such scores stay finite, so no NaN can appear.
FORBIDDEN_SCORE = -1.0e4

Reduction = Literal["mean", "sum", "none"]


class TransitionConstraints(NamedTuple):
    """Hard constraints of a CRF, as bool masks where True = allowed.

    Attributes:
        transitions: ``(K, K)``, ``transitions[i, j]`` allows the step from tag ``i`` to tag ``j``.
        start: ``(K,)``, which tags may begin a sequence.
        end: ``(K,)``, which tags may end a sequence.
    """

    transitions: Tensor
    start: Tensor
    end: Tensor


# ---------------------------------------------------------------------------------------------
# BIO / BIOES constraints
# ---------------------------------------------------------------------------------------------

_SCHEME_PREFIXES = {"BIO": frozenset("BI"), "BIOES": frozenset("BIES")}


def _parse_tag(name: str, scheme: str) -> tuple[str, str]:
    """Split ``"B-PER"`` into ``("B", "PER")``; ``"O"`` becomes ``("O", "")``."""
    if name == "O":
        return "O", ""
    prefix, sep, entity = name.partition("-")
    if not sep or not entity or prefix not in _SCHEME_PREFIXES[scheme]:
        allowed = ", ".join(sorted(_SCHEME_PREFIXES[scheme]))
        raise ValueError(
            f"tag {name!r} is not valid in the {scheme} scheme: expected 'O' or "
            f"'<prefix>-<type>' with prefix in {{{allowed}}}"
        )
    return prefix, entity


def _allowed_step(prev: tuple[str, str], curr: tuple[str, str], scheme: str) -> bool:
    """Whether tag ``curr`` may directly follow tag ``prev``."""
    prev_prefix, prev_entity = prev
    curr_prefix, curr_entity = curr
    # Continuation tags (I, and E in BIOES) must extend an open chunk of the same type.
    continues = curr_prefix in ("I", "E")
    if scheme == "BIO":
        if not continues:
            return True
        return prev_prefix in ("B", "I") and prev_entity == curr_entity
    # BIOES: after B or I a chunk is open and must be continued; otherwise it must not be.
    chunk_open = prev_prefix in ("B", "I")
    if chunk_open:
        return continues and prev_entity == curr_entity
    return not continues


def bio_constraints(
    tag_names: list[str] | tuple[str, ...], scheme: Literal["BIO", "BIOES"] = "BIO"
) -> TransitionConstraints:
    """Allowed transitions, first tags and last tags of a chunk-tagging scheme.

    Tags are ``"O"`` or ``"<prefix>-<type>"``, e.g. ``"B-PER"``.

    * ``"BIO"`` (IOB2): ``I-X`` may only follow ``B-X`` or ``I-X`` and may not begin a
      sequence; everything else is allowed (e.g. ``O → I-PER`` and ``B-LOC → I-PER`` are not).
    * ``"BIOES"``: after ``B-X`` or ``I-X`` only ``I-X`` or ``E-X`` may follow; after ``O``,
      ``E-Y`` or ``S-Y`` only ``O``, ``B-*`` or ``S-*`` may follow. A sequence may begin with
      ``O``, ``B-*`` or ``S-*`` and end with ``O``, ``E-*`` or ``S-*``.

    Raises:
        ValueError: unknown scheme, or a tag name that does not fit the scheme.
    """
    if scheme not in _SCHEME_PREFIXES:
        raise ValueError(f"scheme must be one of {sorted(_SCHEME_PREFIXES)}, got {scheme!r}")
    tags = [_parse_tag(name, scheme) for name in tag_names]
    transitions = torch.tensor(
        [[_allowed_step(prev, curr, scheme) for curr in tags] for prev in tags], dtype=torch.bool
    ).reshape(len(tags), len(tags))
    # The sequence boundary behaves like an "O" on either side.
    outside = ("O", "")
    start = torch.tensor([_allowed_step(outside, tag, scheme) for tag in tags], dtype=torch.bool)
    end = torch.tensor([_allowed_step(tag, outside, scheme) for tag in tags], dtype=torch.bool)
    return TransitionConstraints(transitions, start, end)


def bio_transition_mask(
    tag_names: list[str] | tuple[str, ...], scheme: Literal["BIO", "BIOES"] = "BIO"
) -> Tensor:
    """The ``(K, K)`` bool matrix of allowed transitions (from → to) of a BIO/BIOES tag set.

    Only the tag-to-tag part of :func:`bio_constraints`; pass the full
    :class:`TransitionConstraints` to :class:`CRF` to also forbid bad first/last tags.
    """
    return bio_constraints(tag_names, scheme).transitions


# ---------------------------------------------------------------------------------------------
# CRF
# ---------------------------------------------------------------------------------------------


class CRF(nn.Module):
    """Linear-chain CRF over ``K = num_tags`` tags (see the module docstring for the equations).

    Args:
        num_tags: number of tags ``K``.
        constraints: optional hard constraints, either a ``(K, K)`` bool matrix of allowed
            transitions (from → to) or a :class:`TransitionConstraints` that also restricts the
            first and last tags. Forbidden scores are pinned to :data:`FORBIDDEN_SCORE` and get
            no gradient.

    Parameters:
        transitions: ``(K, K)``, ``transitions[i, j]`` scores the step from tag ``i`` to tag ``j``.
        start_transitions: ``(K,)``, score of beginning with each tag.
        end_transitions: ``(K,)``, score of ending with each tag.

    Every method takes ``emissions (B, T, K)`` and either ``mask (B, T)`` (bool, left-aligned)
    or ``lengths (B,)``; with neither, all ``T`` steps are valid. Calling the module computes
    :meth:`neg_log_likelihood`.
    """

    allowed_transitions: Tensor | None
    allowed_start: Tensor | None
    allowed_end: Tensor | None

    def __init__(
        self, num_tags: int, *, constraints: Tensor | TransitionConstraints | None = None
    ) -> None:
        super().__init__()
        if num_tags < 1:
            raise ValueError(f"num_tags must be >= 1, got {num_tags}")
        self.num_tags = num_tags
        self.transitions = nn.Parameter(torch.empty(num_tags, num_tags))
        self.start_transitions = nn.Parameter(torch.empty(num_tags))
        self.end_transitions = nn.Parameter(torch.empty(num_tags))

        allowed_transitions, allowed_start, allowed_end = None, None, None
        if isinstance(constraints, TransitionConstraints):
            allowed_transitions, allowed_start, allowed_end = constraints
        elif constraints is not None:
            allowed_transitions = constraints
        K = num_tags
        self.register_buffer(
            "allowed_transitions", _check_bool(allowed_transitions, "constraints", (K, K))
        )
        self.register_buffer("allowed_start", _check_bool(allowed_start, "constraints.start", (K,)))
        self.register_buffer("allowed_end", _check_bool(allowed_end, "constraints.end", (K,)))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Small uniform scores, so no tag or transition is preferred at the start of training."""
        for param in (self.transitions, self.start_transitions, self.end_transitions):
            nn.init.uniform_(param, -0.1, 0.1)

    def extra_repr(self) -> str:
        constrained = self.allowed_transitions is not None or self.allowed_start is not None
        return f"num_tags={self.num_tags}, constrained={constrained}"

    # -- public API --------------------------------------------------------------------------

    def forward(
        self,
        emissions: Tensor,
        tags: Tensor,
        mask: Tensor | None = None,
        *,
        lengths: Tensor | None = None,
        reduction: Reduction = "mean",
    ) -> Tensor:
        """Same as :meth:`neg_log_likelihood`."""
        return self.neg_log_likelihood(emissions, tags, mask, lengths=lengths, reduction=reduction)

    def log_partition(
        self, emissions: Tensor, mask: Tensor | None = None, *, lengths: Tensor | None = None
    ) -> Tensor:
        """``log Z`` of each sequence, ``(B,)``, by the forward algorithm.

        ``α_0 = start + e[0]``, ``α_t[j] = logsumexp_i(α_{t-1}[i] + transitions[i, j]) + e[t, j]``
        at valid steps (α is carried unchanged over padding), ``log Z = logsumexp(α + end)``.
        """
        mask, lengths = self._validate(emissions, mask, lengths)
        start, transitions, end = self._scores()
        B, T, _ = emissions.shape
        if T == 0:
            return emissions.new_zeros(B)
        alpha = start + emissions[:, 0]  # (B, K)
        # Column-scaled exp(transitions), computed once: every entry in [0, 1], each column's
        # largest exactly 1; forbidden scores give exp(FORBIDDEN_SCORE - c_j) = 0.
        column_max = transitions.detach().amax(dim=0)  # (K,) c_j
        exp_transitions = torch.exp(transitions - column_max)  # (K_from, K_to)
        for t in range(1, T):
            step = _log_matmul_exp(alpha, exp_transitions, column_max, transitions)  # (B, K)
            step = step + emissions[:, t]  # (B, K)
            alpha = torch.where(mask[:, t, None], step, alpha)  # (B, K)
        log_z = torch.logsumexp(alpha + end, dim=1)  # (B,)
        return torch.where(lengths > 0, log_z, torch.zeros_like(log_z))

    def score(
        self,
        emissions: Tensor,
        tags: Tensor,
        mask: Tensor | None = None,
        *,
        lengths: Tensor | None = None,
    ) -> Tensor:
        """Score ``s(y)`` of the given tag paths, ``(B,)``.

        ``tags`` is ``(B, T)`` integer; entries at padded steps are ignored (any value, e.g. -100).
        """
        mask, lengths = self._validate(emissions, mask, lengths)
        tags = self._validate_tags(tags, emissions, mask)
        start, transitions, end = self._scores()
        B, T, _ = emissions.shape
        if T == 0:
            return emissions.new_zeros(B)
        tags = tags.masked_fill(~mask, 0)  # (B, T), padding made a safe index; masked out below

        emitted = emissions.gather(2, tags.unsqueeze(2)).squeeze(2)  # (B, T)
        stepped = transitions[tags[:, :-1], tags[:, 1:]]  # (B, T-1)
        last_tag = tags.gather(1, (lengths - 1).clamp(min=0).unsqueeze(1)).squeeze(1)  # (B,)

        # masked_fill rather than multiplying by the mask: padding may hold inf/NaN garbage.
        emitted = emitted.masked_fill(~mask, 0.0)  # (B, T)
        stepped = stepped.masked_fill(~mask[:, 1:], 0.0)  # (B, T-1)
        total = emitted.sum(1) + stepped.sum(1)  # (B,)
        total = total + start[tags[:, 0]] + end[last_tag]  # (B,)
        return torch.where(lengths > 0, total, torch.zeros_like(total))

    def neg_log_likelihood(
        self,
        emissions: Tensor,
        tags: Tensor,
        mask: Tensor | None = None,
        *,
        lengths: Tensor | None = None,
        reduction: Reduction = "mean",
    ) -> Tensor:
        """``-log p(tags) = log Z - s(tags)`` per sequence, reduced over the batch.

        Args:
            reduction: ``"mean"`` (over sequences), ``"sum"`` or ``"none"`` (``(B,)``).
        """
        if reduction not in ("mean", "sum", "none"):
            raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
        # Normalise lengths to a mask once; both halves then take the same mask.
        mask, _ = self._validate(emissions, mask, lengths)
        nll = self.log_partition(emissions, mask) - self.score(emissions, tags, mask)  # (B,)
        if reduction == "mean":
            return nll.mean()
        if reduction == "sum":
            return nll.sum()
        return nll

    @torch.no_grad()
    def viterbi_decode(
        self,
        emissions: Tensor,
        mask: Tensor | None = None,
        *,
        lengths: Tensor | None = None,
        pad_tag: int = -1,
    ) -> tuple[Tensor, Tensor]:
        """Best paths as a tensor: ``(tags (B, T) long, best_scores (B,))``.

        ``δ_0 = start + e[0]``, ``δ_t[j] = max_i(δ_{t-1}[i] + transitions[i, j]) + e[t, j]`` with
        back-pointers ``ψ_t[j] = argmax_i(...)``; the best last tag is ``argmax(δ + end)`` and
        the path is read back through ψ. Padded steps (and all steps of empty sequences) hold
        ``pad_tag``; ``best_scores`` equals :meth:`score` of the returned path (0 when empty).
        Runs without autograd: decoding is for inference, train with :meth:`neg_log_likelihood`.
        """
        mask, lengths = self._validate(emissions, mask, lengths)
        start, transitions, end = self._scores()
        B, T, K = emissions.shape
        tags = torch.full((B, T), pad_tag, dtype=torch.long, device=emissions.device)
        if T == 0:
            return tags, emissions.new_zeros(B)

        # At padded steps the back-pointer is the identity, so backtracking from the final step
        # walks through the padding unchanged and reaches each sequence's real last tag.
        identity = torch.arange(K, device=emissions.device).expand(B, K)  # (B, K)
        delta = start + emissions[:, 0]  # (B, K)
        backpointers = []
        for t in range(1, T):
            best_prev, argbest_prev = (delta.unsqueeze(2) + transitions).max(dim=1)  # (B, K)
            step = best_prev + emissions[:, t]  # (B, K)
            valid = mask[:, t, None]  # (B, 1)
            delta = torch.where(valid, step, delta)  # (B, K)
            backpointers.append(torch.where(valid, argbest_prev, identity))  # (B, K)

        best_scores, best_last = (delta + end).max(dim=1)  # (B,), (B,)
        path = [best_last]
        for psi in reversed(backpointers):
            path.append(psi.gather(1, path[-1].unsqueeze(1)).squeeze(1))  # (B,)
        path.reverse()
        decoded = torch.stack(path, dim=1)  # (B, T)

        tags = torch.where(mask, decoded, tags)  # (B, T)
        best_scores = torch.where(lengths > 0, best_scores, torch.zeros_like(best_scores))
        return tags, best_scores

    def decode(
        self, emissions: Tensor, mask: Tensor | None = None, *, lengths: Tensor | None = None
    ) -> list[list[int]]:
        """Best path of each sequence as a list of tag ids, trimmed to its length."""
        mask, lengths = self._validate(emissions, mask, lengths)
        tags, _ = self.viterbi_decode(emissions, mask)
        return [row[:n] for row, n in zip(tags.tolist(), lengths.tolist(), strict=True)]

    # -- internals ---------------------------------------------------------------------------

    def _scores(self) -> tuple[Tensor, Tensor, Tensor]:
        """``(start, transitions, end)`` with forbidden entries pinned to FORBIDDEN_SCORE."""
        return (
            _forbid(self.start_transitions, self.allowed_start),
            _forbid(self.transitions, self.allowed_transitions),
            _forbid(self.end_transitions, self.allowed_end),
        )

    def _validate(
        self, emissions: Tensor, mask: Tensor | None, lengths: Tensor | None
    ) -> tuple[Tensor, Tensor]:
        """Check shapes and return ``(mask (B, T) bool, lengths (B,) long)``."""
        if emissions.dim() != 3 or emissions.shape[2] != self.num_tags:
            raise ValueError(
                f"emissions must have shape (B, T, num_tags={self.num_tags}), "
                f"got {tuple(emissions.shape)}"
            )
        B, T, _ = emissions.shape
        if mask is not None and lengths is not None:
            raise ValueError("pass either mask or lengths, not both")
        steps = torch.arange(T, device=emissions.device)  # (T,)

        if lengths is not None:
            if lengths.shape != (B,) or not _is_integer(lengths):
                raise ValueError(
                    f"lengths must be an integer tensor of shape (B={B},), "
                    f"got {lengths.dtype} {tuple(lengths.shape)}"
                )
            lengths = lengths.to(device=emissions.device, dtype=torch.long)
            if ((lengths < 0) | (lengths > T)).any():
                raise ValueError(f"lengths must lie in [0, T={T}], got {lengths.tolist()}")
            return steps < lengths.unsqueeze(1), lengths

        if mask is None:
            return (
                torch.ones(B, T, dtype=torch.bool, device=emissions.device),
                torch.full((B,), T, dtype=torch.long, device=emissions.device),
            )
        if mask.shape != (B, T) or mask.dtype != torch.bool:
            raise ValueError(
                f"mask must be a bool tensor of shape (B={B}, T={T}), "
                f"got {mask.dtype} {tuple(mask.shape)}"
            )
        mask = mask.to(emissions.device)
        lengths = mask.sum(dim=1)  # (B,)
        if not torch.equal(mask, steps < lengths.unsqueeze(1)):
            raise ValueError(
                "mask must be left-aligned: in every row the valid (True) steps come first"
            )
        return mask, lengths

    def _validate_tags(self, tags: Tensor, emissions: Tensor, mask: Tensor) -> Tensor:
        B, T, _ = emissions.shape
        if tags.shape != (B, T) or not _is_integer(tags):
            raise ValueError(
                f"tags must be an integer tensor of shape (B={B}, T={T}), "
                f"got {tags.dtype} {tuple(tags.shape)}"
            )
        tags = tags.to(device=emissions.device, dtype=torch.long)
        out_of_range = mask & ((tags < 0) | (tags >= self.num_tags))  # (B, T)
        if out_of_range.any():
            bad = tags[out_of_range].unique().tolist()
            raise ValueError(f"tags must lie in [0, num_tags={self.num_tags}), got {bad}")
        return tags


def _log_matmul_exp(
    alpha: Tensor, exp_transitions: Tensor, column_max: Tensor, transitions: Tensor
) -> Tensor:
    """``logsumexp_i(alpha[b, i] + transitions[i, j])``, ``(B, K)``, as a matrix product.

    ``exp_transitions = exp(transitions - column_max)`` with ``column_max[j] = max_i
    transitions[i, j]``. Rows are shifted by their maximum, so ``exp(alpha - m) @
    exp_transitions`` has factors in [0, 1] and cannot overflow. Terms lost to underflow are
    each below the dtype's ``tiny``; where the sum itself is below ``tiny / eps`` they could
    matter, so those rows are recomputed exactly with logsumexp (rare: it takes a gap of
    ~70 nats in float32 between a column's reachable tags and the best tag).
    """
    row_max = alpha.detach().amax(dim=1, keepdim=True)  # (B, 1) m_b
    summed = torch.exp(alpha - row_max) @ exp_transitions  # (B, K)
    info = torch.finfo(summed.dtype)
    threshold = info.tiny / info.eps
    # clamp (not where) keeps log's gradient finite at entries that are replaced below.
    out = torch.log(summed.clamp(min=threshold)) + row_max + column_max  # (B, K)
    underflow = (summed < threshold).any(dim=1)  # (B,)
    if underflow.any():
        rows = underflow.nonzero().squeeze(1)  # (R,)
        exact = torch.logsumexp(alpha[rows].unsqueeze(2) + transitions, dim=1)  # (R, K)
        out = out.index_put((rows,), exact)
    return out


def _is_integer(tensor: Tensor) -> bool:
    dtype = tensor.dtype
    return not (dtype.is_floating_point or dtype.is_complex or dtype == torch.bool)


def _forbid(scores: Tensor, allowed: Tensor | None) -> Tensor:
    # torch.where (not an in-place fill) keeps the parameter intact and gives forbidden
    # entries zero gradient, so training cannot drift them.
    if allowed is None:
        return scores
    return torch.where(allowed, scores, torch.full_like(scores, FORBIDDEN_SCORE))


def _check_bool(allowed: Tensor | None, name: str, shape: tuple[int, ...]) -> Tensor | None:
    if allowed is None:
        return None
    allowed = torch.as_tensor(allowed)
    if allowed.shape != shape or allowed.dtype != torch.bool:
        raise ValueError(
            f"{name} must be a bool tensor of shape {shape}, "
            f"got {allowed.dtype} {tuple(allowed.shape)}"
        )
    return allowed.clone()
