"""Many-to-many with ``Tx = Ty``: one output per input step (tagging, next-step prediction).

::

    x_1    x_2    …    x_T          inputs (token ids or features)
     ↓      ↓           ↓
    h_1 →  h_2 →  … →  h_T          recurrent layer(s), optionally bidirectional
     ↓      ↓           ↓           one linear layer over the (B·T, D·H) matrix of all steps
    e_1    e_2    …    e_T          emissions (B, T, K)
    └──── argmax per step, or CRF Viterbi over the chain ────┘

The output layer is applied once to every step of every sequence as a single matrix
product, rather than step by step (Keras' ``TimeDistributed``): the same weights, one kernel.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnkit.layers import make_recurrent
from rnnkit.losses.sequence_loss import lengths_to_mask, sequence_loss
from rnnkit.structures.crf import CRF, TransitionConstraints
from rnnkit.structures.encoder import (
    InputEncoder,
    Lengths,
    check_positive,
    checked_ids,
    sequence_lengths,
)

__all__ = ["SequenceTagger"]

TASKS = ("tagging", "regression")


class SequenceTagger(nn.Module):
    """A recurrent encoder with one output per step: tag logits, or values (next-step predictor).

    * ``task="tagging"``: ``num_tags`` emission scores per step; the loss is the masked cross
      entropy of :func:`~rnnkit.losses.sequence_loss` (mean over valid steps), or with
      ``crf=True`` the negative log-likelihood of a linear-chain :class:`~rnnkit.structures.CRF`
      (forward algorithm, mean over sequences); :meth:`predict` takes the argmax per step or
      the Viterbi path.
    * ``task="regression"``: ``output_size`` values per step and the mean squared error over
      the valid steps. With targets = inputs shifted by one step this is a next-step
      predictor for numeric series.

    Outputs past a sequence's length are zero.

    Args:
        num_tags: number of tags ``K`` (tagging).
        output_size: number of values per step ``P`` (regression).
        task: ``"tagging"`` or ``"regression"``.
        vocab_size, embedding_dim, padding_idx, embedding, input_size: the input front, see
            :class:`~rnnkit.structures.encoder.InputEncoder` (token ids or float features).
        cell: ``"rnn"``, ``"lstm"`` or ``"gru"``.
        hidden_size: ``H``, per direction.
        num_layers: stacked recurrent layers.
        bidirectional: read each sequence both ways (each step then sees its whole sequence).
        dropout: between stacked layers, and on the hidden states before the output layer.
        peephole: LSTM peephole connections.
        nonlinearity: ``"tanh"`` or ``"relu"`` for ``cell="rnn"``.
        crf: put a CRF on the emissions (tagging only).
        crf_constraints: hard constraints of the CRF, e.g. ``bio_constraints(tag_names)``.
        backend: the recurrent layer's engine, ``"auto"``, ``"rnnkit"`` or ``"torch"``.

    Example:
        >>> tagger = SequenceTagger(3, vocab_size=50, embedding_dim=8, hidden_size=16,
        ...                         bidirectional=True, crf=True)
        >>> words, tags = torch.randint(50, (2, 5)), torch.randint(3, (2, 5))
        >>> tagger(words, lengths=[5, 3]).shape  # emissions (B, T, K)
        torch.Size([2, 5, 3])
        >>> loss = tagger.loss(words, tags, lengths=[5, 3])
        >>> [len(path) for path in tagger.predict(words, lengths=[5, 3])]
        [5, 3]
    """

    def __init__(
        self,
        num_tags: int | None = None,
        *,
        output_size: int | None = None,
        task: Literal["tagging", "regression"] = "tagging",
        vocab_size: int | None = None,
        embedding_dim: int | None = None,
        padding_idx: int | None = None,
        embedding: nn.Embedding | None = None,
        input_size: int | None = None,
        cell: str = "lstm",
        hidden_size: int = 128,
        num_layers: int = 1,
        bidirectional: bool = False,
        dropout: float = 0.0,
        peephole: bool = False,
        nonlinearity: str = "tanh",
        crf: bool = False,
        crf_constraints: Tensor | TransitionConstraints | None = None,
        backend: str = "auto",
    ) -> None:
        super().__init__()
        if task not in TASKS:
            raise ValueError(f"task must be one of {TASKS}, got {task!r}")
        if task == "tagging":
            if output_size is not None:
                raise ValueError("output_size is for task='regression'; use num_tags")
            outputs, name = num_tags, "num_tags"
        else:
            if num_tags is not None:
                raise ValueError("num_tags is for task='tagging'; use output_size")
            if crf:
                raise ValueError("crf=True needs task='tagging'")
            outputs, name = output_size, "output_size"
        check_positive(name, outputs)
        if crf_constraints is not None and not crf:
            raise ValueError("crf_constraints needs crf=True")
        self.task = task
        self.num_outputs = outputs
        self.inputs = InputEncoder(
            vocab_size=vocab_size,
            embedding_dim=embedding_dim,
            padding_idx=padding_idx,
            embedding=embedding,
            input_size=input_size,
        )
        self.rnn = make_recurrent(
            cell,
            self.inputs.output_size,
            hidden_size,
            num_layers,
            peephole=peephole,
            nonlinearity=nonlinearity,
            bidirectional=bidirectional,
            dropout=dropout,
            backend=backend,
        )
        self.feature_size = (2 if bidirectional else 1) * hidden_size
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(self.feature_size, outputs)
        self.crf = CRF(outputs, constraints=crf_constraints) if crf else None

    def _emissions(self, x: Tensor, lengths: Lengths) -> tuple[Tensor, Tensor]:
        """``(emissions (B, T, K), valid lengths (B,))``."""
        embedded = self.inputs(x)  # (B, T, E)
        B, T = embedded.shape[0], embedded.shape[1]
        valid = sequence_lengths(lengths, B, T, embedded.device)  # (B,)
        hidden, _ = self.rnn(embedded, lengths=None if lengths is None else valid)  # (B, T, D·H)
        hidden = self.dropout(hidden)
        # One matrix product for all B·T steps: (B·T, D·H) @ (D·H, K).
        flat = self.head(hidden.reshape(B * T, self.feature_size))  # (B·T, K)
        emissions = flat.view(B, T, self.num_outputs)  # (B, T, K)
        if lengths is not None:  # the bias would otherwise leak into padded steps
            emissions = emissions.masked_fill(~lengths_to_mask(valid, T).unsqueeze(2), 0.0)
        return emissions, valid

    def forward(self, x: Tensor, lengths: Lengths = None) -> Tensor:
        """Emission scores ``(B, T, K)`` (or values ``(B, T, P)`` for regression).

        Args:
            x: token ids ``(B, T)`` or features ``(B, T, F)``.
            lengths: valid length of each sequence ``(B,)``, any order; all ``T`` if None.
        """
        return self._emissions(x, lengths)[0]

    def loss(self, x: Tensor, targets: Tensor, lengths: Lengths = None) -> Tensor:
        """Training loss of a batch.

        Args:
            x: token ids ``(B, T)`` or features ``(B, T, F)``.
            targets: tag ids ``(B, T)`` (any value at padded steps, e.g. -100), or for
                regression values ``(B, T, P)``.
            lengths: valid length of each sequence ``(B,)``; all ``T`` if None.

        Returns:
            Tagging: mean cross entropy over valid steps, or the CRF negative log-likelihood
            averaged over sequences. Regression: mean squared error over valid steps.
        """
        emissions, valid = self._emissions(x, lengths)  # (B, T, K), (B,)
        B, T, K = emissions.shape
        mask = lengths_to_mask(valid, T)  # (B, T)
        if not isinstance(targets, Tensor):
            raise ValueError(f"targets must be a tensor, got {type(targets).__name__}")
        if self.task == "regression":
            if tuple(targets.shape) != (B, T, K) or not targets.is_floating_point():
                raise ValueError(
                    f"targets must be float values of shape (B, T, P) = {(B, T, K)} to match "
                    f"x, got a {targets.dtype} tensor of shape {tuple(targets.shape)}"
                )
            # Padded targets may hold NaN: zero them (the emissions there are zero too), so
            # padding adds exactly 0 to the loss and nothing to its gradient.
            targets = targets.to(emissions.dtype).masked_fill(~mask.unsqueeze(2), 0.0)
            squared = F.mse_loss(emissions, targets, reduction="sum")
            return squared / (mask.sum() * K).clamp(min=1)
        if tuple(targets.shape) != (B, T):
            raise ValueError(
                f"targets must be tag ids of shape (B, T) = {(B, T)} to match x, "
                f"got {tuple(targets.shape)}"
            )
        tags = checked_ids(targets.to(mask.device), K, "targets", mask)  # (B, T), padding 0
        if self.crf is not None:
            return self.crf.neg_log_likelihood(emissions, tags, mask)
        return sequence_loss(emissions, tags, mask)

    @torch.no_grad()
    def predict(self, x: Tensor, lengths: Lengths = None) -> list[list[int]] | list[Tensor]:
        """Each sequence's tags, trimmed to its length: the argmax per step, or the Viterbi
        path with ``crf=True``. For regression, each sequence's values ``(L_b, P)``.

        Runs without autograd and in the module's current mode: call ``eval()`` first.
        """
        emissions, valid = self._emissions(x, lengths)  # (B, T, K), (B,)
        sizes = valid.tolist()
        if self.task == "regression":
            return [values[:n] for values, n in zip(emissions, sizes, strict=True)]
        if self.crf is not None:
            return self.crf.decode(emissions, lengths=valid)
        best = emissions.argmax(2).tolist()  # (B, T)
        return [row[:n] for row, n in zip(best, sizes, strict=True)]
