"""Many-to-one: read a whole sequence, predict one output (a class, or numbers).

::

    x_1 → x_2 → … → x_L          inputs (token ids or features), L = the sequence's length
     ↓     ↓         ↓
    h_1 → h_2 → … → h_L          recurrent layer(s), optionally bidirectional
     └─────┴── pool ─┘           "last": h_L (forward) ⊕ h_1 (backward);  "mean" / "max" /
             ↓                   "attention" (a learned weighted mean) over the valid steps
           linear → ŷ            logits (B, C), or values (B, P) for regression

Padding never reaches the output: the last state is each sequence's own, and mean / max
ignore the steps past its length, and attention gives them zero weight.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnkit.layers import make_recurrent
from rnnkit.losses.sequence_loss import lengths_to_mask
from rnnkit.structures.attention_pooling import AttentionPooling
from rnnkit.structures.encoder import (
    InputEncoder,
    Lengths,
    check_positive,
    checked_ids,
    sequence_lengths,
)

__all__ = ["POOLINGS", "SequenceClassifier"]

Pooling = Literal["last", "mean", "max", "attention"]
POOLINGS = ("last", "mean", "max", "attention")
TASKS = ("classification", "regression")


class SequenceClassifier(nn.Module):
    """A recurrent encoder and one linear layer on a pooled summary of its hidden states.

    With ``task="classification"`` the output is ``num_classes`` logits per sequence and the
    loss is cross entropy; with ``task="regression"`` it is ``output_size`` values and the loss
    is the mean squared error (a sequence regressor).

    Args:
        num_classes: number of classes (classification).
        output_size: number of outputs (regression).
        task: ``"classification"`` or ``"regression"``.
        vocab_size, embedding_dim, padding_idx, embedding, input_size: the input front, see
            :class:`~rnnkit.structures.encoder.InputEncoder` (token ids or float features).
        cell: ``"rnn"``, ``"lstm"`` or ``"gru"``.
        hidden_size: ``H``, per direction.
        num_layers: stacked recurrent layers.
        bidirectional: read each sequence both ways; the summary has size ``2H``.
        dropout: between stacked layers, and on the summary before the linear layer.
        peephole: LSTM peephole connections.
        nonlinearity: ``"tanh"`` or ``"relu"`` for ``cell="rnn"``.
        pooling: how the hidden states become one vector: ``"last"`` (the state at each
            sequence's last valid step; bidirectional: the forward direction's there and the
            backward direction's at step 0, i.e. the layer's final ``h_n``), ``"mean"``,
            ``"max"`` or ``"attention"`` (over the valid steps of the top layer's outputs;
            attention is a weighted mean whose weights a small layer learns, see
            :class:`~rnnkit.structures.attention_pooling.AttentionPooling`).
        backend: the recurrent layer's engine, ``"auto"``, ``"rnnkit"`` or ``"torch"``.

    Example:
        >>> model = SequenceClassifier(2, vocab_size=2, embedding_dim=8, hidden_size=16)
        >>> bits = torch.tensor([[1, 0, 1, 1], [0, 1, 0, 0]])
        >>> logits = model(bits, lengths=[4, 2])  # (B, C) = (2, 2)
        >>> loss = model.loss(bits, torch.tensor([1, 1]), lengths=[4, 2])
        >>> model.predict(bits, lengths=[4, 2]).shape
        torch.Size([2])
    """

    def __init__(
        self,
        num_classes: int | None = None,
        *,
        output_size: int | None = None,
        task: Literal["classification", "regression"] = "classification",
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
        pooling: Pooling = "last",
        backend: str = "auto",
    ) -> None:
        super().__init__()
        if task not in TASKS:
            raise ValueError(f"task must be one of {TASKS}, got {task!r}")
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
        if task == "classification":
            if output_size is not None:
                raise ValueError("output_size is for task='regression'; use num_classes")
            outputs, name = num_classes, "num_classes"
        else:
            if num_classes is not None:
                raise ValueError("num_classes is for task='classification'; use output_size")
            outputs, name = output_size, "output_size"
        check_positive(name, outputs)
        self.task, self.pooling = task, pooling
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
        self.num_directions = 2 if bidirectional else 1
        self.feature_size = self.num_directions * hidden_size
        self.dropout = nn.Dropout(dropout)
        self.attention = AttentionPooling(self.feature_size) if pooling == "attention" else None
        self.head = nn.Linear(self.feature_size, outputs)

    def features(self, x: Tensor, lengths: Lengths = None) -> Tensor:
        """The pooled summary of each sequence, ``(B, D·H)``, before the linear layer.

        A sequence of length 0 has the initial state (zeros) as its last state, and zeros
        as its mean, max and attention summary.
        """
        embedded = self.inputs(x)  # (B, T, E)
        B, T = embedded.shape[0], embedded.shape[1]
        valid = sequence_lengths(lengths, B, T, embedded.device)  # (B,)
        outputs, state = self.rnn(embedded, lengths=None if lengths is None else valid)
        if self.pooling == "last":
            h_n = state[0] if isinstance(state, tuple) else state  # (L·D, B, H)
            top = h_n[-self.num_directions :]  # (D, B, H): forward, then backward
            return top.transpose(0, 1).reshape(B, self.feature_size)  # (B, D·H)
        if self.pooling == "mean":
            total = outputs.sum(1)  # (B, D·H); the layer's outputs are zero past each length
            return total / valid.clamp(min=1).unsqueeze(1).to(total.dtype)
        if T == 0:
            return outputs.new_zeros(B, self.feature_size)
        mask = lengths_to_mask(valid, T)  # (B, T)
        if self.attention is not None:
            return self.attention(outputs, mask)[0]
        # -inf, not 0, at padding: the max of all-negative valid values must not be 0.
        peak = outputs.masked_fill(~mask.unsqueeze(2), float("-inf")).amax(1)  # (B, D·H)
        return torch.where(valid.unsqueeze(1) > 0, peak, torch.zeros_like(peak))

    def forward(self, x: Tensor, lengths: Lengths = None) -> Tensor:
        """Logits ``(B, C)`` (or values ``(B, P)`` for regression) of each sequence.

        Args:
            x: token ids ``(B, T)`` or features ``(B, T, F)``.
            lengths: valid length of each sequence ``(B,)``, any order; all ``T`` if None.
        """
        summary = self.dropout(self.features(x, lengths))  # (B, D·H)
        return self.head(summary)  # (B, C)

    def loss(self, x: Tensor, targets: Tensor, lengths: Lengths = None) -> Tensor:
        """Mean cross entropy against class ids ``(B,)``, or mean squared error against values
        ``(B, P)`` (``(B,)`` also accepted when ``P = 1``) for regression."""
        outputs = self(x, lengths)  # (B, C)
        B = outputs.shape[0]
        if not isinstance(targets, Tensor):
            raise ValueError(f"targets must be a tensor, got {type(targets).__name__}")
        if self.task == "classification":
            if tuple(targets.shape) != (B,):
                raise ValueError(
                    f"targets must be class ids of shape (B,) = ({B},), got {tuple(targets.shape)}"
                )
            return F.cross_entropy(outputs, checked_ids(targets, self.num_outputs, "targets"))
        if targets.dim() == 1 and self.num_outputs == 1:
            targets = targets.unsqueeze(1)  # (B, 1)
        expected = (B, self.num_outputs)
        if tuple(targets.shape) != expected or not targets.is_floating_point():
            raise ValueError(
                f"targets must be float values of shape (B, P) = {expected}, "
                f"got a {targets.dtype} tensor of shape {tuple(targets.shape)}"
            )
        return F.mse_loss(outputs, targets.to(outputs.dtype))

    @torch.no_grad()
    def predict(self, x: Tensor, lengths: Lengths = None) -> Tensor:
        """The class id of each sequence ``(B,)`` (or the values ``(B, P)`` for regression).

        Runs without autograd and in the module's current mode: call ``eval()`` first.
        """
        outputs = self(x, lengths)
        return outputs.argmax(1) if self.task == "classification" else outputs
