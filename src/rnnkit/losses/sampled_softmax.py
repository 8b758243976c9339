"""Sampled softmax: a cheap training loss for large vocabularies, exact softmax at evaluation.

Notation: hidden vector ``h``, output projection ``W [V, H]``, bias ``b [V]``, logits
``s_k = W_k·h + b_k``, partition function ``Z = Σ_k exp(s_k)``, true class ``y``.
The full softmax cross entropy is ``CE = log Z − s_y`` and costs ``O(V·H)`` per token.

Sampled softmax (Bengio & Senécal 2008; Jean et al. 2015) draws ``S`` classes
``j_1 … j_S`` **with replacement** from a proposal ``Q`` (one draw shared by the whole batch),
so only ``S + 1`` logits per token are computed. The expected number of times class ``k``
appears in the sample is ``S·Q(k)``; subtracting its log from each sampled logit
(the "log-Q" or expected-count correction) and discarding accidental hits ``j_i = y`` gives

    L̂ = log( exp(s_y) + Σ_{i: j_i ≠ y} exp(s_{j_i} − log(S·Q(j_i))) ) − s_y  =  log Ẑ − s_y,

the cross entropy of the true class at position 0 among the candidates. What is true:

* ``Ẑ`` is an unbiased importance-sampling estimate of ``Z``:
  ``E[Σ_i 1[j_i ≠ y] exp(s_{j_i}) / (S·Q(j_i))] = Σ_{k ≠ y} exp(s_k)``. Hence
  ``exp(L̂)`` is an unbiased estimator of ``exp(CE)``.
* ``L̂`` itself is biased low (Jensen: ``E[L̂] ≤ CE``) by about ``Var(Ẑ) / (2 Z²) = O(1/S)``,
  and converges to ``CE`` as ``S → ∞``. Its gradient is a self-normalised importance-sampling
  estimate of the full gradient, also consistent with ``O(1/S)`` bias.

Unlike TensorFlow's ``sampled_softmax_loss`` the true logit is *not* corrected: with sampling
with replacement, correcting it would make ``L̂`` diverge from ``CE`` as ``S`` grows (the true
class's expected count ``S·Q(y)`` is unbounded); leaving it alone gives the estimate above.
"""

from __future__ import annotations

import math
from typing import Literal, get_args

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnkit.losses.sequence_loss import prepare_token_weights

__all__ = ["Proposal", "SampledSoftmax", "proposal_log_probs", "sample_classes"]

Proposal = Literal["log_uniform", "uniform"]
Reduction = Literal["mean", "sum", "none"]


def _check_proposal(proposal: str) -> None:
    if proposal not in get_args(Proposal):
        raise ValueError(f"proposal must be one of {get_args(Proposal)}; got {proposal!r}")


def proposal_log_probs(
    classes: Tensor,
    vocab_size: int,
    proposal: Proposal = "log_uniform",
    dtype: torch.dtype = torch.float32,
) -> Tensor:
    """``log Q(k)`` for each class id in ``classes``.

    * ``"log_uniform"`` (Zipfian, for ids sorted by decreasing frequency, as TF's
      ``log_uniform_candidate_sampler``): ``Q(k) = log((k + 2) / (k + 1)) / log(V + 1)``.
    * ``"uniform"``: ``Q(k) = 1 / V``.
    """
    _check_proposal(proposal)
    if proposal == "uniform":
        return torch.full(classes.shape, -math.log(vocab_size), dtype=dtype, device=classes.device)
    k = classes.to(torch.float64)
    # log1p(1/(k+1)) = log((k+2)/(k+1)) without cancellation for large k.
    log_q = torch.log(torch.log1p(1.0 / (k + 1.0))) - math.log(math.log(vocab_size + 1.0))
    return log_q.to(dtype)


def sample_classes(
    num_sampled: int,
    vocab_size: int,
    proposal: Proposal = "log_uniform",
    *,
    device: torch.device | str | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Draw ``num_sampled`` class ids i.i.d. (with replacement) from the proposal ``Q``."""
    _check_proposal(proposal)
    if proposal == "uniform":
        return torch.randint(vocab_size, (num_sampled,), device=device, generator=generator)
    # Inverse CDF of the log-uniform law: k = floor(exp(u · log(V + 1))) − 1 for u ~ U[0, 1)
    # lands on k exactly when log(k+1) ≤ u·log(V+1) < log(k+2). float64 keeps the bucket
    # edges exact enough for V in the millions; the clamp only guards the last rounding.
    u = torch.rand(num_sampled, dtype=torch.float64, device=device, generator=generator)
    k = torch.floor(torch.exp(u * math.log(vocab_size + 1.0))).long() - 1
    return k.clamp_(0, vocab_size - 1)


class SampledSoftmax(nn.Module):
    """Output layer + loss: sampled softmax while training, exact softmax in ``eval()`` mode.

    Holds the output projection ``weight [V, H]`` and ``bias [V]``, so it replaces an
    ``nn.Linear(H, V)`` followed by cross entropy. In training mode ``forward`` computes the
    sampled loss ``L̂`` of the module docstring (``num_sampled`` classes with replacement from
    ``proposal``, expected-count correction ``log(S·Q)``, accidental hits removed); in
    evaluation mode it computes the exact cross entropy. Sampling uses torch's global RNG on
    the weight's device, so results are reproducible under ``torch.manual_seed``.

    The weight can be tied to an input embedding by assignment
    (``layer.weight = embedding.weight``); shapes ``[V, H]`` agree.

    Args:
        hidden_size: ``H``.
        vocab_size: ``V``.
        num_sampled: ``S``, negative classes drawn per batch (with replacement).
        proposal: ``"log_uniform"`` (class ids sorted by decreasing frequency) or ``"uniform"``.
        remove_accidental_hits: drop sampled copies of the true class. Keep True: otherwise
            they add ``exp(s_y)`` to ``E[Ẑ]`` and the loss estimates ``log(Z + exp(s_y)) − s_y``.
        subtract_log_q: apply the expected-count correction. Only for ablations; without it
            the loss is not an estimate of the full cross entropy.
        bias: learn a per-class bias.
    """

    def __init__(
        self,
        hidden_size: int,
        vocab_size: int,
        num_sampled: int,
        *,
        proposal: Proposal = "log_uniform",
        remove_accidental_hits: bool = True,
        subtract_log_q: bool = True,
        bias: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        for name, value in (
            ("hidden_size", hidden_size),
            ("vocab_size", vocab_size),
            ("num_sampled", num_sampled),
        ):
            if value < 1:
                raise ValueError(f"{name} must be a positive integer; got {value}")
        _check_proposal(proposal)
        self.hidden_size = hidden_size
        self.vocab_size = vocab_size
        self.num_sampled = num_sampled
        self.proposal: Proposal = proposal
        self.remove_accidental_hits = remove_accidental_hits
        self.subtract_log_q = subtract_log_q
        factory = {"device": device, "dtype": dtype}
        self.weight = nn.Parameter(torch.empty(vocab_size, hidden_size, **factory))
        self.bias = nn.Parameter(torch.empty(vocab_size, **factory)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """``nn.Linear``'s weight init, ``U(±1/√H)``; zero bias (no initial class preference)."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        nn.init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            nn.init.zeros_(self.bias)

    def full_logits(self, hidden: Tensor) -> Tensor:
        """Exact logits ``[..., V]`` for hidden vectors ``[..., H]``."""
        return F.linear(hidden, self.weight, self.bias)

    def forward(
        self,
        hidden: Tensor,
        targets: Tensor,
        weights: Tensor | None = None,
        *,
        reduction: Reduction = "mean",
        ignore_index: int | None = None,
    ) -> Tensor:
        """Loss of ``targets`` given ``hidden`` (sampled in training mode, exact in eval mode).

        Args:
            hidden: ``[N, H]`` or ``[B, T, H]``.
            targets: integer class ids of shape ``hidden.shape[:-1]``.
            weights: per-token weights of the shape of ``targets`` (padding 0); None = ones.
            reduction: ``"mean"`` = ``Σ w·L / Σ w`` (as `sequence_loss`'s default; all-zero
                weights raise ``ValueError``), ``"sum"`` = ``Σ w·L``, ``"none"`` = ``w·L``
                shaped like ``targets``.
            ignore_index: target value treated as padding (weight 0).

        Raises:
            ValueError: on mismatched shapes or the value errors of `sequence_loss`.
        """
        if reduction not in get_args(Reduction):
            raise ValueError(f"reduction must be one of {get_args(Reduction)}; got {reduction!r}")
        if hidden.dim() not in (2, 3) or hidden.shape[-1] != self.hidden_size:
            raise ValueError(
                f"hidden must have shape [N, H] or [B, T, H] with H = {self.hidden_size}; "
                f"got {tuple(hidden.shape)}"
            )
        if tuple(targets.shape) != tuple(hidden.shape[:-1]):
            raise ValueError(
                f"targets must have shape {tuple(hidden.shape[:-1])} to match hidden "
                f"{tuple(hidden.shape)}; got {tuple(targets.shape)}"
            )
        accumulate = torch.promote_types(self.weight.dtype, torch.float32)
        targets, w = prepare_token_weights(
            targets,
            weights,
            vocab_size=self.vocab_size,
            ignore_index=ignore_index,
            dtype=accumulate,
            averaging=reduction == "mean",
        )
        flat_hidden = hidden.reshape(-1, self.hidden_size)
        flat_targets = targets.reshape(-1)
        if self.training:
            token_loss = self._sampled_token_losses(flat_hidden, flat_targets)
        else:
            token_loss = F.cross_entropy(
                self.full_logits(flat_hidden), flat_targets, reduction="none"
            )
        weighted = token_loss.to(accumulate).view(targets.shape) * w
        if reduction == "none":
            return weighted
        if reduction == "sum":
            return weighted.sum()
        return weighted.sum() / w.sum()

    def _sampled_token_losses(self, hidden: Tensor, targets: Tensor) -> Tensor:
        """``L̂`` per token for ``hidden [N, H]``, ``targets [N]``."""
        sampled = sample_classes(
            self.num_sampled, self.vocab_size, self.proposal, device=self.weight.device
        )
        num_tokens = targets.shape[0]
        # One gather for true and sampled rows: backward then builds one dense [V, H] gradient
        # instead of two that autograd must add, which dominates the step at large V.
        candidate_ids = torch.cat([targets, sampled])
        candidate_weight = self.weight[candidate_ids]
        true_weight, sampled_weight = candidate_weight.split([num_tokens, self.num_sampled])
        true_logits = (hidden * true_weight).sum(dim=-1)  # [N]
        # Per-class offsets [S] (bias − log expected count) fused into the matmul via addmm.
        sampled_offset = torch.zeros(
            self.num_sampled, dtype=candidate_weight.dtype, device=candidate_weight.device
        )
        if self.bias is not None:
            true_bias, sampled_bias = self.bias[candidate_ids].split([num_tokens, self.num_sampled])
            true_logits = true_logits + true_bias
            sampled_offset = sampled_offset + sampled_bias
        if self.subtract_log_q:
            log_q = proposal_log_probs(sampled, self.vocab_size, self.proposal, dtype=torch.float64)
            log_expected_count = log_q + math.log(self.num_sampled)
            sampled_offset = sampled_offset - log_expected_count.to(sampled_offset.dtype)
        sampled_logits = torch.addmm(sampled_offset, hidden, sampled_weight.T)  # [N, S]
        if self.remove_accidental_hits:
            hits = sampled.unsqueeze(0) == targets.unsqueeze(1)  # [N, S]
            sampled_logits = sampled_logits.masked_fill(hits, float("-inf"))
        # Cross entropy of the true class at position 0; the true logit keeps every row finite.
        candidates = torch.cat([true_logits.unsqueeze(1), sampled_logits], dim=1)
        return torch.logsumexp(candidates, dim=1) - true_logits

    def extra_repr(self) -> str:
        return (
            f"hidden_size={self.hidden_size}, vocab_size={self.vocab_size}, "
            f"num_sampled={self.num_sampled}, proposal={self.proposal!r}, "
            f"remove_accidental_hits={self.remove_accidental_hits}, "
            f"subtract_log_q={self.subtract_log_q}, bias={self.bias is not None}"
        )
