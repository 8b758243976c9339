"""One-to-many: generate a sequence from a conditioning input (a class, a vector, or nothing).

::

    condition c ──(first)──▶ h_0 = tanh(W c)      zeros without a condition (or with "every")
    condition c ──(every)──▶ joined to every input: [x_t ; c]

          x_1 = <start>   x_2 = y_1        x_T = y_{T-1}    inputs: the start, then the
              ↓              ↓                  ↓           previous output (teacher forcing:
    h_0  →   h_1     →      h_2     →  …  →    h_T          the true one); one direction
              ↓              ↓                  ↓
             ŷ_1            ŷ_2                ŷ_T          softmax over the vocabulary, or
                                                            P independent Bernoulli units

``condition_mode="first"`` feeds the condition once: a learned projection of it is the
initial state of every layer (and the LSTM's cell), after which only the outputs are fed —
the seeds' "condition at the first step only, zeros after". ``condition_mode="every"``
concatenates the (embedded) condition to the input at every step. A class condition is
embedded first; a vector condition is used as it is.

Training is a conditional language model with teacher forcing: the input at step t is the
target at step t-1 (:func:`shift_right`). Generation feeds each output back as the next input,
choosing it greedily, or by sampling with a temperature and optionally among the top k only.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnkit.layers import make_recurrent
from rnnkit.losses.sampled_softmax import SampledSoftmax
from rnnkit.losses.sequence_loss import lengths_to_mask, sequence_loss
from rnnkit.state import State
from rnnkit.structures.encoder import (
    InputEncoder,
    Lengths,
    check_positive,
    checked_ids,
    is_integer,
    sequence_lengths,
)

__all__ = ["CONDITIONS", "CONDITION_MODES", "OUTPUTS", "SequenceGenerator", "shift_right"]

CONDITIONS = (None, "class", "vector")
CONDITION_MODES = ("first", "every")
OUTPUTS = ("softmax", "bernoulli")


def shift_right(targets: Tensor, start: float = 0) -> Tensor:
    """Teacher-forcing inputs for ``targets``: ``start`` at step 0, then ``targets[:, :-1]``.

    Token ids ``(B, T)`` get the token ``start`` first (e.g. ``<bos>``); frames ``(B, T, P)``
    get a frame filled with ``start`` (zeros by default). Padding at the end stays aligned,
    so inputs and targets share their lengths.

    Example:
        >>> shift_right(torch.tensor([[4, 5, 6]]), start=1)
        tensor([[1, 4, 5]])
    """
    if targets.dim() not in (2, 3):
        raise ValueError(
            f"targets must be token ids (B, T) or frames (B, T, P), got {tuple(targets.shape)}"
        )
    first = torch.full_like(targets[:, :1], start)  # (B, 1) or (B, 1, P)
    return torch.cat([first, targets[:, :-1]], dim=1)


class SequenceGenerator(nn.Module):
    """A conditional recurrent language model that trains with teacher forcing and generates.

    Args:
        vocab_size: number of token ids, inputs and outputs (``output="softmax"``).
        output_size: number of binary units per step ``P`` (``output="bernoulli"``, e.g. the
            88 keys of a piano roll; inputs are then float frames ``(B, T, P)``).
        output: ``"softmax"`` (one token per step) or ``"bernoulli"`` (``P`` independent
            binary units per step, trained with binary cross entropy).
        condition: ``None``, ``"class"`` (integer ids ``(B,)``) or ``"vector"`` (``(B, C)``).
        num_conditions: number of classes, for ``condition="class"``.
        condition_size: ``C``, for ``condition="vector"``.
        condition_dim: size of a class's learned vector (default: the input embedding size).
        condition_mode: ``"first"`` (the condition sets the initial state) or ``"every"``
            (it is concatenated to the input at every step).
        embedding_dim, padding_idx, embedding: the token embedding, see
            :class:`~rnnkit.structures.encoder.InputEncoder`.
        cell: ``"rnn"``, ``"lstm"`` or ``"gru"``; always one direction (a generator
            cannot read its future).
        hidden_size: ``H``.
        num_layers: stacked recurrent layers.
        dropout: between stacked layers, and on the hidden states before the output layer.
        peephole: LSTM peephole connections.
        nonlinearity: ``"tanh"`` or ``"relu"`` for ``cell="rnn"``.
        num_sampled: train the softmax output with a
            :class:`~rnnkit.losses.SampledSoftmax` of this many sampled classes (for large
            vocabularies); logits, evaluation and generation stay exact.
        backend: the recurrent layer's engine, ``"auto"``, ``"rnnkit"`` or ``"torch"``.

    Example:
        >>> model = SequenceGenerator(12, condition="class", num_conditions=3,
        ...                           embedding_dim=8, hidden_size=32)
        >>> targets, classes = torch.randint(11, (4, 6)), torch.tensor([0, 2, 1, 1])
        >>> inputs = shift_right(targets, start=11)  # 11 = <bos>
        >>> loss = model.loss(inputs, targets, classes, lengths=[6, 4, 5, 6])
        >>> logits, state = model(inputs, classes)  # (B, T, V) = (4, 6, 12)
        >>> model.generate(classes, max_length=5, start_token=11, greedy=True).shape
        torch.Size([4, 5])
    """

    def __init__(
        self,
        vocab_size: int | None = None,
        *,
        output_size: int | None = None,
        output: Literal["softmax", "bernoulli"] = "softmax",
        condition: Literal["class", "vector"] | None = None,
        num_conditions: int | None = None,
        condition_size: int | None = None,
        condition_dim: int | None = None,
        condition_mode: Literal["first", "every"] = "first",
        embedding_dim: int | None = None,
        padding_idx: int | None = None,
        embedding: nn.Embedding | None = None,
        cell: str = "lstm",
        hidden_size: int = 128,
        num_layers: int = 1,
        dropout: float = 0.0,
        peephole: bool = False,
        nonlinearity: str = "tanh",
        num_sampled: int | None = None,
        backend: str = "auto",
    ) -> None:
        super().__init__()
        if output not in OUTPUTS:
            raise ValueError(f"output must be one of {OUTPUTS}, got {output!r}")
        if condition not in CONDITIONS:
            raise ValueError(f"condition must be one of {CONDITIONS}, got {condition!r}")
        if condition_mode not in CONDITION_MODES:
            raise ValueError(
                f"condition_mode must be one of {CONDITION_MODES}, got {condition_mode!r}"
            )
        self.output, self.condition, self.condition_mode = output, condition, condition_mode
        if output == "softmax":
            if output_size is not None:
                raise ValueError("output_size is for output='bernoulli'; use vocab_size")
            self.inputs = InputEncoder(
                vocab_size=vocab_size,
                embedding_dim=embedding_dim,
                padding_idx=padding_idx,
                embedding=embedding,
            )
            self.num_outputs = self.inputs.vocab_size
        else:
            given = {
                "vocab_size": vocab_size,
                "embedding_dim": embedding_dim,
                "padding_idx": padding_idx,
                "embedding": embedding,
                "num_sampled": num_sampled,
            }
            for name, value in given.items():
                if value is not None:
                    raise ValueError(f"{name} is for output='softmax', not 'bernoulli'")
            self.inputs = InputEncoder(input_size=output_size)  # frames are fed as they are
            self.num_outputs = output_size
        self.condition_embedding = None
        condition_features = self._build_condition(num_conditions, condition_size, condition_dim)

        every = condition is not None and condition_mode == "every"
        rnn_input = self.inputs.output_size + (condition_features if every else 0)
        self.rnn = make_recurrent(
            cell,
            rnn_input,
            hidden_size,
            num_layers,
            peephole=peephole,
            nonlinearity=nonlinearity,
            dropout=dropout,
            backend=backend,
        )
        self.hidden_size, self.num_layers = hidden_size, num_layers
        self.num_states = 2 if cell == "lstm" else 1  # the LSTM's (h, c)
        self.initial_state = None
        if condition is not None and condition_mode == "first":
            size = self.num_states * num_layers * hidden_size
            self.initial_state = nn.Linear(condition_features, size)
        self.dropout = nn.Dropout(dropout)
        self.head: nn.Linear | SampledSoftmax
        if num_sampled is not None:
            self.head = SampledSoftmax(hidden_size, self.num_outputs, num_sampled)
        else:
            self.head = nn.Linear(hidden_size, self.num_outputs)

    def _build_condition(
        self, num_conditions: int | None, condition_size: int | None, condition_dim: int | None
    ) -> int:
        """Create the class embedding if any; return the size of the condition's features."""
        unused = {
            None: ("num_conditions", "condition_size", "condition_dim"),
            "class": ("condition_size",),
            "vector": ("num_conditions", "condition_dim"),
        }[self.condition]
        given = {
            "num_conditions": num_conditions,
            "condition_size": condition_size,
            "condition_dim": condition_dim,
        }
        for name in unused:
            if given[name] is not None:
                raise ValueError(f"{name} does not apply to condition={self.condition!r}")
        self.num_conditions, self.condition_size = num_conditions, condition_size
        if self.condition is None:
            return 0
        if self.condition == "vector":
            check_positive("condition_size", condition_size)
            return condition_size
        check_positive("num_conditions", num_conditions)
        dim = self.inputs.output_size if condition_dim is None else condition_dim
        check_positive("condition_dim", dim)
        self.condition_embedding = nn.Embedding(num_conditions, dim)
        return dim

    # ------------------------------------------------------------------ conditioning
    def _condition_features(
        self, condition: Tensor | None, batch: int, needed: bool
    ) -> Tensor | None:
        """The condition checked against the model and batch, as features ``(B, C)``."""
        if self.condition is None:
            if condition is not None:
                raise ValueError("condition was given, but this model has condition=None")
            return None
        if condition is None:
            if needed:
                raise ValueError(
                    f"condition is required: this model has condition={self.condition!r} "
                    f"(condition_mode={self.condition_mode!r})"
                )
            return None
        if not isinstance(condition, Tensor):
            raise ValueError(f"condition must be a tensor, got {type(condition).__name__}")
        if self.condition == "vector":
            expected = (batch, self.condition_size)
            if tuple(condition.shape) != expected or not condition.is_floating_point():
                raise ValueError(
                    f"condition must be float vectors of shape (B, C) = {expected}, "
                    f"got a {condition.dtype} tensor of shape {tuple(condition.shape)}"
                )
            return condition
        if tuple(condition.shape) != (batch,) or not is_integer(condition):
            raise ValueError(
                f"condition must be integer class ids of shape (B,) = ({batch},), "
                f"got a {condition.dtype} tensor of shape {tuple(condition.shape)}"
            )
        classes = checked_ids(condition, self.num_conditions, "condition")  # (B,)
        return self.condition_embedding(classes)  # (B, C)

    def _start_state(self, features: Tensor | None) -> State | None:
        """The initial state a "first" condition sets (``None``: zeros)."""
        if features is None or self.initial_state is None:
            return None
        B = features.shape[0]
        flat = torch.tanh(self.initial_state(features))  # (B, S·L·H)
        states = flat.view(B, self.num_states, self.num_layers, self.hidden_size)
        states = states.permute(1, 2, 0, 3).contiguous()  # (S, L, B, H)
        return (states[0], states[1]) if self.num_states == 2 else states[0]

    def _hidden(
        self, inputs: Tensor, features: Tensor | None, lengths: Tensor | None, state: State | None
    ) -> tuple[Tensor, State]:
        """Top-layer hidden states ``(B, T, H)`` and the final state."""
        embedded = self.inputs(inputs)  # (B, T, E)
        if features is not None and self.condition_mode == "every":
            B, T = embedded.shape[0], embedded.shape[1]
            repeated = features.unsqueeze(1).expand(B, T, features.shape[1])  # (B, T, C)
            embedded = torch.cat([embedded, repeated.to(embedded.dtype)], dim=2)  # (B, T, E+C)
        if state is None:
            state = self._start_state(features)
        return self.rnn(embedded, state, lengths=lengths)

    def _logits(self, hidden: Tensor) -> Tensor:
        """Output scores for hidden states ``(..., H)`` → ``(..., V)``, one matrix product."""
        if isinstance(self.head, SampledSoftmax):
            return self.head.full_logits(hidden)
        return self.head(hidden)

    def _prepare(
        self, inputs: Tensor, condition: Tensor | None, lengths: Lengths, state: State | None
    ) -> tuple[Tensor | None, Tensor, Tensor | None]:
        """Validate a teacher-forced call: ``(condition features, valid lengths, lengths)``."""
        self.inputs.check(inputs, "inputs")
        B, T = inputs.shape[0], inputs.shape[1]
        needed = state is None or self.condition_mode == "every"
        features = self._condition_features(condition, B, needed)
        valid = sequence_lengths(lengths, B, T, inputs.device)  # (B,)
        return features, valid, (None if lengths is None else valid)

    # ------------------------------------------------------------------ teacher forcing
    def forward(
        self,
        inputs: Tensor,
        condition: Tensor | None = None,
        lengths: Lengths = None,
        state: State | None = None,
    ) -> tuple[Tensor, State]:
        """Teacher-forced scores of the next output at every step.

        Args:
            inputs: token ids ``(B, T)`` (or frames ``(B, T, P)``): the start, then the
                previous targets, e.g. ``shift_right(targets, start=bos)``.
            condition: class ids ``(B,)`` or vectors ``(B, C)``; required unless the model
                has none, or (``condition_mode="first"``) an explicit ``state`` is given,
                which already carries it.
            lengths: valid length of each sequence ``(B,)``, any order; all ``T`` if None.
            state: the state to continue from (truncated BPTT); by default the condition's.

        Returns:
            ``(logits (B, T, V), state)``: logits are zero past each length (for Bernoulli
            outputs, the ``P`` units' logits); ``state`` is each sequence's state after its
            last valid step, in the recurrent layer's layout.
        """
        features, valid, lengths = self._prepare(inputs, condition, lengths, state)
        hidden, state = self._hidden(inputs, features, lengths, state)  # (B, T, H)
        logits = self._logits(self.dropout(hidden))  # (B, T, V)
        if lengths is not None:
            mask = lengths_to_mask(valid, inputs.shape[1]).unsqueeze(2)  # (B, T, 1)
            logits = logits.masked_fill(~mask, 0.0)
        return logits, state

    def loss(
        self,
        inputs: Tensor,
        targets: Tensor,
        condition: Tensor | None = None,
        lengths: Lengths = None,
        state: State | None = None,
        *,
        return_state: bool = False,
    ) -> Tensor | tuple[Tensor, State]:
        """Teacher-forced training loss, averaged over the valid steps.

        Softmax: cross entropy of the target token (:func:`~rnnkit.losses.sequence_loss`,
        or the sampled softmax in training mode with ``num_sampled``). Bernoulli: the binary
        cross entropy summed over the ``P`` units of a frame (its negative log-likelihood).

        Args:
            inputs, condition, lengths, state: as for :meth:`forward`.
            targets: the shape of ``inputs``: token ids ``(B, T)`` (anything at padded steps),
                or frames ``(B, T, P)`` of values in ``[0, 1]``.
            return_state: also return the final state (truncated BPTT).
        """
        features, valid, lengths = self._prepare(inputs, condition, lengths, state)
        if not isinstance(targets, Tensor) or targets.shape != inputs.shape:
            got = tuple(targets.shape) if isinstance(targets, Tensor) else type(targets).__name__
            raise ValueError(
                f"targets must have the shape of inputs {tuple(inputs.shape)}, got {got}"
            )
        hidden, state = self._hidden(inputs, features, lengths, state)  # (B, T, H)
        hidden = self.dropout(hidden)
        mask = lengths_to_mask(valid, inputs.shape[1])  # (B, T)
        if self.output == "bernoulli":
            loss = self._bernoulli_loss(self._logits(hidden), targets, mask)
        else:
            tokens = checked_ids(targets, self.num_outputs, "targets", mask)  # (B, T)
            if isinstance(self.head, SampledSoftmax):
                loss = self.head(hidden, tokens, mask)
            else:
                loss = sequence_loss(self._logits(hidden), tokens, mask)
        return (loss, state) if return_state else loss

    @staticmethod
    def _bernoulli_loss(logits: Tensor, targets: Tensor, mask: Tensor) -> Tensor:
        if not targets.is_floating_point():
            raise ValueError(f"targets must be float frames, got {targets.dtype}")
        targets = targets.to(logits.dtype).masked_fill(~mask.unsqueeze(2), 0.0)
        if ((targets < 0) | (targets > 1)).any():
            raise ValueError("targets must be frames of values in [0, 1]")
        per_unit = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
        per_step = per_unit.sum(2).masked_fill(~mask, 0.0)  # (B, T)
        steps = mask.sum()
        if steps == 0:
            raise ValueError("every step is padding: the averaged loss is undefined")
        return per_step.sum() / steps

    # ------------------------------------------------------------------ generation
    @torch.no_grad()
    def generate(
        self,
        condition: Tensor | None = None,
        *,
        max_length: int,
        batch_size: int | None = None,
        start_token: int | None = None,
        prime: Tensor | None = None,
        temperature: float = 1.0,
        top_k: int | None = None,
        greedy: bool = False,
        eos_token: int | None = None,
        generator: torch.Generator | None = None,
        suppress_tokens: Sequence[int] | Tensor | int | None = None,
    ) -> Tensor:
        """Generate up to ``max_length`` outputs, each fed back as the next input.

        The model first reads ``start_token`` (Bernoulli: a zero frame, as
        :func:`shift_right`) followed by ``prime``, then chooses each next output: the most
        likely one with ``greedy=True``, otherwise a sample from ``softmax(logits /
        temperature)`` restricted to the ``top_k`` largest logits (Bernoulli: each unit on
        with probability ``sigmoid(logit / temperature)``). Runs without autograd and in the
        module's current mode: call ``eval()`` first.

        Args:
            condition: class ids ``(B,)`` or vectors ``(B, C)``, if the model has a condition.
            max_length: the most outputs to generate (at least 1).
            batch_size: ``B`` when neither ``condition`` nor ``prime`` gives it (default 1).
            start_token: the first input (e.g. ``<bos>``), as in training.
            prime: tokens ``(B, K)`` (frames ``(B, K, P)``) to read before generating.
            temperature: > 0; below 1 sharpens the distribution, above 1 flattens it.
            top_k: sample among the k most likely tokens only (softmax only); 0 or ``None``
                samples from all of them, as in Hugging Face's ``generate``.
            greedy: take the most likely output instead of sampling.
            eos_token: stop a sequence when it emits this token; it is kept, and the steps
                after it are filled with it. Generation ends early once all have stopped.
            generator: random generator for reproducible sampling.
            suppress_tokens: token ids never chosen (e.g. ``<pad>`` and ``<unk>``, as Hugging
                Face's ``suppress_tokens``); softmax only.

        Returns:
            The generated outputs only (not the prime): token ids ``(B, N)`` long, or frames
            ``(B, N, P)`` of 0/1 floats, with ``N <= max_length``.
        """
        batch = self._check_generation(
            condition, max_length, batch_size, start_token, prime, temperature, top_k, eos_token
        )
        top_k = top_k or None  # 0: no top-k filtering
        banned = self._suppressed(suppress_tokens)
        features = self._condition_features(condition, batch, needed=True)
        first = []
        if self.output == "bernoulli":
            first.append(self.head.weight.new_zeros(batch, 1, self.num_outputs))  # (B, 1, P)
        elif start_token is not None:
            first.append(torch.full((batch, 1), start_token, device=self.head.weight.device))
        if prime is not None:
            first.append(
                prime.to(self.head.weight.dtype) if prime.is_floating_point() else prime.long()
            )
        hidden, state = self._hidden(torch.cat(first, 1), features, None, None)  # (B, K, H)
        logits = self._logits(hidden[:, -1])  # (B, V)
        outputs = []
        finished = torch.zeros(batch, dtype=torch.bool, device=logits.device)  # (B,)
        for step in range(max_length):
            if banned is not None:
                logits = logits.index_fill(1, banned.to(logits.device), float("-inf"))
            chosen = self._choose(logits, temperature, top_k, greedy, generator)  # (B,) / (B, P)
            if eos_token is not None:
                chosen = chosen.masked_fill(finished, eos_token)
                finished = finished | (chosen == eos_token)
            outputs.append(chosen)
            if step + 1 == max_length or bool(finished.all()):
                break
            hidden, state = self._hidden(chosen.unsqueeze(1), features, None, state)  # (B, 1, H)
            logits = self._logits(hidden[:, 0])  # (B, V)
        return torch.stack(outputs, dim=1)  # (B, N) or (B, N, P)

    def _suppressed(self, tokens: Sequence[int] | Tensor | int | None) -> Tensor | None:
        """``suppress_tokens`` checked, as a tensor of ids (``None`` for none)."""
        if tokens is None:
            return None
        if isinstance(tokens, Tensor):  # ids in a tensor, as a tokenizer gives them
            tokens = tokens.flatten().tolist()
        elif isinstance(tokens, numbers.Integral):  # one id
            tokens = [tokens]
        if len(tokens) == 0:
            return None
        if self.output == "bernoulli":
            raise ValueError("suppress_tokens applies to output='softmax', not 'bernoulli'")
        ids = sorted(set(tokens))
        if not all(isinstance(t, numbers.Integral) and 0 <= t < self.num_outputs for t in ids):
            raise ValueError(
                f"suppress_tokens must be token ids in [0, {self.num_outputs}), got {tokens!r}"
            )
        if len(ids) == self.num_outputs:
            raise ValueError("suppress_tokens leaves no token to choose")
        return torch.tensor(ids, dtype=torch.long)

    def _choose(
        self,
        logits: Tensor,
        temperature: float,
        top_k: int | None,
        greedy: bool,
        generator: torch.Generator | None,
    ) -> Tensor:
        """The next output from its logits ``(B, V)``: ids ``(B,)`` or frames ``(B, P)``."""
        if self.output == "bernoulli":
            if greedy:
                return (logits > 0).to(logits.dtype)
            return torch.bernoulli(torch.sigmoid(logits / temperature), generator=generator)
        if greedy:
            return logits.argmax(1)
        scaled = logits / temperature  # (B, V)
        if top_k is not None and top_k < scaled.shape[1]:
            kth_largest = scaled.topk(top_k, dim=1).values[:, -1:]  # (B, 1)
            scaled = scaled.masked_fill(scaled < kth_largest, float("-inf"))
        probs = scaled.softmax(1)  # (B, V)
        return torch.multinomial(probs, 1, generator=generator).squeeze(1)  # (B,)

    def _check_generation(
        self,
        condition: Tensor | None,
        max_length: int,
        batch_size: int | None,
        start_token: int | None,
        prime: Tensor | None,
        temperature: float,
        top_k: int | None,
        eos_token: int | None,
    ) -> int:
        """Validate the arguments of :meth:`generate`; return the batch size."""
        check_positive("max_length", max_length)
        # numbers.Real: also NumPy's floats (a temperature from np.linspace)
        if not isinstance(temperature, numbers.Real) or not (
            math.isfinite(temperature) and temperature > 0
        ):
            raise ValueError(f"temperature must be a finite number > 0, got {temperature!r}")
        if top_k is not None and not (isinstance(top_k, numbers.Integral) and top_k == 0):
            if self.output == "bernoulli":
                raise ValueError("top_k applies to output='softmax', not 'bernoulli'")
            check_positive("top_k", top_k)
        for name, token in (("start_token", start_token), ("eos_token", eos_token)):
            if token is None:
                continue
            if self.output == "bernoulli":
                raise ValueError(f"{name} applies to output='softmax', not 'bernoulli'")
            integer = isinstance(token, numbers.Integral) and not isinstance(token, bool)
            if not integer or not 0 <= token < self.num_outputs:
                raise ValueError(
                    f"{name} must be a token id in [0, {self.num_outputs}), got {token!r}"
                )
        sizes = {}
        if batch_size is not None:
            check_positive("batch_size", batch_size)
            sizes["batch_size"] = batch_size
        if prime is not None:
            self.inputs.check(prime, "prime")
            sizes["prime"] = prime.shape[0]
        if isinstance(condition, Tensor) and condition.dim() > 0:
            sizes["condition"] = condition.shape[0]
        if len(set(sizes.values())) > 1:
            raise ValueError(f"the batch sizes of {', '.join(sizes)} disagree: {sizes}")
        has_prime = prime is not None and prime.shape[1] > 0
        if self.output == "softmax" and start_token is None and not has_prime:
            raise ValueError("generate needs a first input: give start_token or a non-empty prime")
        return next(iter(sizes.values()), 1)
