"""Encoder–decoder models for many-to-many tasks with ``Tx ≠ Ty`` (translation, reversal...).

Notation: source ``x_1 … x_S``, target ``y_1 … y_n``, ``y_0 = <bos>``, ``E`` an embedding,
``H`` the hidden size, ``m_s`` the encoder output at source position ``s`` (size ``D·H`` with
``D = 2`` for a bidirectional encoder), ``h_t`` the decoder's top-layer hidden state.

Encoder. ``m_1 … m_S = Enc(E_src x_1 … E_src x_S)``, run with the source lengths so padding
is never read (optionally on each source reversed within its own length, Sutskever et al.
2014). A bidirectional encoder's final states are combined into the decoder's initial state by
a learned bridge, per layer ``l`` (and likewise for an LSTM's cell state)::

    h_0^(l) = tanh(W_b^(l) [→h^(l); ←h^(l)] + b_b^(l)),

a unidirectional encoder hands its final state over as it is.

Decoder, one step (``attention="luong-*"``, Luong et al. 2015)::

    h_t = RNN([E_tgt y_{t-1}; h̃_{t-1}], h_{t-1})     (input feeding; h̃_0 = 0)
    a_t = align(h_t, m),   c_t = Σ_s a_ts m_s
    h̃_t = tanh(W_c [c_t; h_t])                       (the attentional vector)
    p(y_t | y_<t, x) = softmax(W_s h̃_t + b_s)

``attention="bahdanau"`` (Bahdanau et al. 2015) attends from the previous state and feeds the
context into the RNN (its deep output simplified to the same tanh layer)::

    a_t = align(h_{t-1}, m),   c_t = Σ_s a_ts m_s
    h_t = RNN([E_tgt y_{t-1}; c_t], h_{t-1})
    h̃_t = tanh(W_c [c_t; h_t]),   p(y_t | y_<t, x) = softmax(W_s h̃_t + b_s)

``attention="none"`` is the plain encoder–decoder: ``h_t = RNN(E_tgt y_{t-1}, h_{t-1})`` and
``p = softmax(W_s h_t + b_s)``. ``align`` is the masked softmax of the chosen score
(:mod:`rnnkit.structures.attention`): padded source positions get weight exactly 0.

Dropout (``dropout > 0``, training only) acts on the embedded inputs, between stacked layers
and on ``h̃_t`` (also where it is fed back).

Targets. :meth:`Seq2Seq.loss` takes the plain target ``y_1 … y_n`` with its lengths and does
the shift itself (:meth:`Seq2Seq.shift_target`): decoder input ``<bos> y_1 … y_n``, output
``y_1 … y_n <eos>``, masked cross entropy over the ``n + 1`` real positions. :meth:`forward`
takes the decoder input directly.

Numeric sequences (forecasting). ``src_input_size=F`` replaces the source vocabulary: ``src`` is
then ``(B, S, F)`` float and goes into the encoder without an embedding. ``tgt_output_size=F``
makes the target numeric: the decoder input is the previous frame ``(B, T, F)`` (a zero frame
plays ``<bos>``), the output layer is a linear regression ``W_s h̃_t + b_s`` of size ``F`` and
the loss a masked mean squared error; there is no ``<eos>``, so decoding runs a fixed number
of steps (:meth:`Seq2Seq.forecast`) and the token decoders refuse to run.
"""

from __future__ import annotations

import numbers
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnkit.layers import CELL_NAMES, RecurrentLayer, make_recurrent
from rnnkit.losses.sampled_softmax import SampledSoftmax
from rnnkit.losses.sequence_loss import lengths_to_mask, sequence_loss
from rnnkit.structures.attention import ATTENTION_KINDS, make_attention
from rnnkit.structures.beam_search import beam_search as search_beams
from rnnkit.text.embedding import Embedding
from rnnkit.text.vocab import Vocab

__all__ = [
    "BeamDecoded",
    "Bridge",
    "DecoderState",
    "EncoderOutput",
    "GreedyDecoded",
    "Seq2Seq",
    "Seq2SeqOutput",
    "reverse_within_lengths",
]

State = Tensor | tuple[Tensor, Tensor]


class EncoderOutput(NamedTuple):
    """What the decoder needs from the source (:meth:`Seq2Seq.encode`)."""

    memory: Tensor
    """``(B, S, D·H)`` encoder outputs ``m_s``, zero past each source length."""
    mask: Tensor
    """``(B, S)`` bool, True at real source positions."""
    initial_state: State
    """The decoder's initial state, ``(L, B, H)`` (an LSTM: the tuple ``(h, c)``)."""
    src_lengths: Tensor
    """``(B,)`` long, the source lengths."""


class DecoderState(NamedTuple):
    """The decoder's recurrent state between steps."""

    rnn: State
    """``(L, N, H)`` (an LSTM: ``(h, c)``)."""
    feed: Tensor | None
    """``(N, H)`` the previous attentional vector ``h̃_{t-1}`` with input feeding, else None."""


class Seq2SeqOutput(NamedTuple):
    """Result of :meth:`Seq2Seq.forward`; unpacks as ``logits, attention``."""

    logits: Tensor
    """``(B, T, V)`` next-token logits (a numeric target: the predicted frames ``(B, T, F)``)."""
    attention: Tensor | None
    """``(B, T, S)`` attention weights over the source as given (None without attention)."""


class GreedyDecoded(NamedTuple):
    """Result of :meth:`Seq2Seq.greedy_decode`."""

    tokens: Tensor
    """``(B, T)`` generated tokens, ``<eos>`` included, ``pad_index`` after it."""
    lengths: Tensor
    """``(B,)`` number of generated tokens, ``<eos>`` included."""
    scores: Tensor
    """``(B,)`` float64 model score ``Σ_t log p(y_t | y_<t, x)``."""
    attention: Tensor | None
    """``(B, T, S)`` attention weights over the source as given, zero past each length."""


class BeamDecoded(NamedTuple):
    """Result of :meth:`Seq2Seq.beam_search`: ``K`` hypotheses per item, best first."""

    tokens: Tensor
    """``(B, K, T)`` generated tokens, ``<eos>`` included, ``pad_index`` after it."""
    lengths: Tensor
    """``(B, K)`` number of generated tokens, ``<eos>`` included."""
    scores: Tensor
    """``(B, K)`` float64 model score ``Σ_t log p(y_t | y_<t, x)``."""
    normalized_scores: Tensor
    """``(B, K)`` float64 ranking score, the model score over the GNMT length penalty."""
    finished: Tensor
    """``(B, K)`` bool: the hypothesis ended with ``<eos>`` within ``max_length``."""
    attention: Tensor | None
    """``(B, K, T, S)`` attention weights of each hypothesis (``[:, 0]``: the best one)."""


class _Memory(NamedTuple):
    """The encoder outputs as the attention reads them, for ``N`` decoder rows."""

    keys: Tensor  # (N, S, D·H)
    projected_keys: Tensor  # (N, S, P) the attention's query-independent part, computed once
    mask: Tensor  # (N, S)

    def repeat(self, times: int) -> _Memory:
        """Each row ``times`` times in a row, as the beam search lays out its lanes."""
        return _Memory(*(x.repeat_interleave(times, dim=0) for x in self))


def reverse_within_lengths(x: Tensor, lengths: Tensor, dim: int = 1) -> Tensor:
    """Reverse each ``x[b]`` along ``dim`` within its first ``lengths[b]`` positions.

    Positions past the length (padding) stay where they are, so ``[a, b, c, pad]`` becomes
    ``[c, b, a, pad]``. The map is its own inverse. ``x`` has the batch on dim 0.
    """
    dim = dim % x.dim()
    steps = torch.arange(x.shape[dim], device=x.device)  # (S,)
    lengths = lengths.to(x.device).view(-1, 1)  # (B, 1)
    index = torch.where(steps < lengths, lengths - 1 - steps, steps)  # (B, S)
    shape = [1] * x.dim()
    shape[0], shape[dim] = index.shape
    return x.gather(dim, index.view(shape).expand_as(x))


def _check_ratio(teacher_forcing_ratio: float) -> None:
    if not 0.0 <= teacher_forcing_ratio <= 1.0:
        raise ValueError(f"teacher_forcing_ratio must be in [0, 1], got {teacher_forcing_ratio}")


def _top_hidden(state: State) -> Tensor:
    """The top layer's hidden state ``(N, H)`` of a decoder state ``(L, N, H)`` / ``(h, c)``."""
    return state[0][-1] if isinstance(state, tuple) else state[-1]


def _reorder(state: DecoderState, index: Tensor) -> DecoderState:
    """Rows ``index`` of a decoder state (the batch is dim 1 of the RNN state, 0 of feed)."""
    if isinstance(state.rnn, tuple):
        rnn = tuple(s.index_select(1, index) for s in state.rnn)
    else:
        rnn = state.rnn.index_select(1, index)
    feed = None if state.feed is None else state.feed.index_select(0, index)
    return DecoderState(rnn, feed)


class Bridge(nn.Module):
    """Bidirectional encoder state → decoder initial state, one learned map per layer:
    ``h_0^(l) = tanh(W_b^(l) [→h^(l); ←h^(l)] + b_b^(l))``, and the same with separate weights
    for an LSTM's cell state ``c``.

    Args:
        hidden_size: ``H`` (each encoder direction and the decoder).
        num_layers: ``L``.
        lstm: the states are ``(h, c)`` tuples.
    """

    def __init__(self, hidden_size: int, num_layers: int, lstm: bool) -> None:
        super().__init__()
        self.hidden_size, self.num_layers = hidden_size, num_layers
        self.hidden = nn.ModuleList(
            nn.Linear(2 * hidden_size, hidden_size) for _ in range(num_layers)
        )
        self.cell = (
            nn.ModuleList(nn.Linear(2 * hidden_size, hidden_size) for _ in range(num_layers))
            if lstm
            else None
        )

    def forward(self, state: State) -> State:
        """``(2L, B, H)`` (layer-major, forward direction first) → ``(L, B, H)``."""
        if self.cell is None:
            return self._combine(state, self.hidden)
        h, c = state
        return self._combine(h, self.hidden), self._combine(c, self.cell)

    def _combine(self, state: Tensor, maps: nn.ModuleList) -> Tensor:
        _, B, H = state.shape
        both = (
            state.view(self.num_layers, 2, B, H).transpose(1, 2).reshape(self.num_layers, B, 2 * H)
        )  # (L, B, 2H) = [→h; ←h] per layer
        return torch.stack([torch.tanh(W(both[layer])) for layer, W in enumerate(maps)])


_SIDES = {"src": "source", "tgt": "target"}


class Seq2Seq(nn.Module):
    """Encoder–decoder with optional attention, input feeding, and greedy and beam decoding.

    See the module docstring for the equations. Token inputs are batch-first and padded at
    the back; lengths may come in any order.

    Args:
        src_vocab_size: source vocabulary size (or give ``src_embedding`` or ``src_input_size``).
        tgt_vocab_size: target vocabulary size (or give ``tgt_embedding`` or
            ``tgt_output_size``).
        pad_index: the target's padding token (its embedding row stays zero); must differ from
            ``bos_index`` and ``eos_index``. Source padding is handled by ``src_lengths``.
        bos_index: the first decoder input.
        eos_index: the token that ends a target. May equal ``bos_index`` (fairseq's convention).
        embedding_dim: size of the embeddings created here.
        hidden_size: ``H`` of the encoder (per direction) and the decoder.
        cell: ``"rnn"``, ``"lstm"`` or ``"gru"``, for encoder and decoder.
        num_layers: ``L``, for encoder and decoder.
        bidirectional_encoder: read the source both ways (and bridge the final states).
        dropout: see the module docstring.
        peephole: LSTM peepholes (``cell="lstm"`` only).
        attention: one of ``"bahdanau"``, ``"luong-dot"``, ``"luong-general"``,
            ``"luong-concat"``, ``"none"``. ``"luong-dot"`` needs ``D·H == H`` (no
            bidirectional encoder).
        attention_size: the hidden size of additive scores (default ``H``).
        input_feeding: feed ``h̃_{t-1}`` into step ``t``; only with Luong attention, where it
            is the default (``None`` = on for Luong, off otherwise).
        reverse_source: reverse each source within its length before encoding. Attention
            weights are still reported over the source as given.
        tie_embeddings: share the target embedding with the output layer (``W_s = E_tgt``;
            needs ``embedding_dim == hidden_size``).
        num_sampled: train the output layer with a :class:`SampledSoftmax` of this many
            sampled classes (exact softmax in eval mode and for decoding).
        src_embedding: a (pretrained) source embedding to use instead of a new one.
        tgt_embedding: a (pretrained) target embedding to use instead of a new one.
        src_input_size: numeric source of ``F`` features per step (no source vocabulary).
        tgt_output_size: numeric target of ``F`` values per step (regression output).
        backend: the recurrent layers' backend (``"auto"``, ``"rnnkit"``, ``"torch"``).

    Raises:
        ValueError: an unknown ``cell`` or ``attention``; special indices outside the target
            vocabulary or colliding with ``pad_index``; inconsistent vocabulary, embedding and
            size arguments; options that do not apply to the configuration.

    Example:
        >>> model = Seq2Seq(12, 12, pad_index=0, bos_index=2, eos_index=3, hidden_size=64)
        >>> src, src_lengths = torch.randint(4, 12, (2, 5)), torch.tensor([5, 3])
        >>> tgt, tgt_lengths = torch.randint(4, 12, (2, 4)), torch.tensor([4, 2])
        >>> loss = model.loss(src, src_lengths, tgt, tgt_lengths)
        >>> best = model.beam_search(src, src_lengths, beam_size=5, length_penalty=0.6)
    """

    def __init__(
        self,
        src_vocab_size: int | None = None,
        tgt_vocab_size: int | None = None,
        *,
        pad_index: int | None = None,
        bos_index: int | None = None,
        eos_index: int | None = None,
        embedding_dim: int = 128,
        hidden_size: int = 256,
        cell: str = "lstm",
        num_layers: int = 1,
        bidirectional_encoder: bool = False,
        dropout: float = 0.0,
        peephole: bool = False,
        attention: str = "bahdanau",
        attention_size: int | None = None,
        input_feeding: bool | None = None,
        reverse_source: bool = False,
        tie_embeddings: bool = False,
        num_sampled: int | None = None,
        src_embedding: nn.Embedding | None = None,
        tgt_embedding: nn.Embedding | None = None,
        src_input_size: int | None = None,
        tgt_output_size: int | None = None,
        backend: str = "auto",
    ) -> None:
        super().__init__()
        if cell not in CELL_NAMES:
            raise ValueError(f"cell must be one of {list(CELL_NAMES)}, got {cell!r}")
        if attention not in ATTENTION_KINDS:
            raise ValueError(f"attention must be one of {list(ATTENTION_KINDS)}, got {attention!r}")
        luong = attention.startswith("luong")
        if input_feeding is None:
            input_feeding = luong
        if input_feeding and not luong:
            raise ValueError(
                f"input_feeding applies to Luong attention only, not attention={attention!r} "
                "(Bahdanau's decoder already feeds the context into every step)"
            )
        if attention == "luong-dot" and bidirectional_encoder:
            raise ValueError(
                "attention='luong-dot' needs encoder outputs of the decoder's size, but a "
                f"bidirectional encoder gives 2·hidden_size = {2 * hidden_size}; use "
                "'luong-general' or 'bahdanau'"
            )
        self.src_embedding = self._embedding(
            "src", "src_input_size", src_vocab_size, src_embedding, src_input_size, embedding_dim
        )
        self.src_input_size = src_input_size
        self.numeric_target = tgt_output_size is not None
        self.tgt_embedding = self._embedding(
            "tgt", "tgt_output_size", tgt_vocab_size, tgt_embedding, tgt_output_size,
            embedding_dim, pad_index,
        )  # fmt: skip
        if self.tgt_embedding is not None:
            self._check_specials(self.tgt_embedding.num_embeddings, pad_index, bos_index, eos_index)
            self.tgt_vocab_size = self.tgt_embedding.num_embeddings
        else:
            if tie_embeddings or num_sampled is not None:
                raise ValueError("tie_embeddings and num_sampled need a token target")
            self.tgt_vocab_size = None
        self.pad_index, self.bos_index, self.eos_index = pad_index, bos_index, eos_index

        self.cell, self.hidden_size, self.num_layers = cell, hidden_size, num_layers
        self.attention_kind, self.input_feeding = attention, input_feeding
        self.reverse_source = reverse_source
        directions = 2 if bidirectional_encoder else 1
        memory_size = directions * hidden_size
        recurrent = dict(num_layers=num_layers, peephole=peephole, backend=backend, dropout=dropout)

        src_size = (
            src_input_size if self.src_embedding is None else self.src_embedding.embedding_dim
        )
        self.encoder: RecurrentLayer = make_recurrent(
            cell, src_size, hidden_size, bidirectional=bidirectional_encoder, **recurrent
        )
        self.bridge = Bridge(hidden_size, num_layers, cell == "lstm") if directions == 2 else None
        self.attention = make_attention(attention, hidden_size, memory_size, attention_size)

        tgt_size = (
            tgt_output_size if self.tgt_embedding is None else self.tgt_embedding.embedding_dim
        )
        decoder_input = tgt_size + (hidden_size if input_feeding else 0)
        decoder_input += memory_size if attention == "bahdanau" else 0
        self.decoder: RecurrentLayer = make_recurrent(cell, decoder_input, hidden_size, **recurrent)
        # W_c of h̃_t = tanh(W_c [c_t; h_t]); without attention the output reads h_t directly.
        self.combine = (
            nn.Linear(memory_size + hidden_size, hidden_size, bias=False)
            if self.attention is not None
            else None
        )
        self.dropout = nn.Dropout(dropout)
        self.output: nn.Module
        if self.numeric_target:
            self.output = nn.Linear(hidden_size, tgt_output_size)
        elif num_sampled is not None:
            self.output = SampledSoftmax(hidden_size, self.tgt_vocab_size, num_sampled)
        else:
            self.output = nn.Linear(hidden_size, self.tgt_vocab_size)
        if tie_embeddings:
            if self.tgt_embedding.embedding_dim != hidden_size:
                raise ValueError(
                    "tie_embeddings needs the target embedding size to equal hidden_size, got "
                    f"{self.tgt_embedding.embedding_dim} and {hidden_size}"
                )
            self.output.weight = self.tgt_embedding.weight

    @classmethod
    def from_vocabs(cls, src_vocab: Vocab, tgt_vocab: Vocab, **kwargs) -> Seq2Seq:
        """A model sized for two vocabularies, with the target's ``<pad>``, ``<bos>`` and
        ``<eos>``; ``kwargs`` go to the constructor.

        Raises:
            ValueError: the target vocabulary lacks one of the special tokens.
        """
        return cls(
            len(src_vocab),
            len(tgt_vocab),
            pad_index=tgt_vocab.pad_index,
            bos_index=tgt_vocab.bos_index,
            eos_index=tgt_vocab.eos_index,
            **kwargs,
        )

    # ------------------------------------------------------------------ construction helpers
    @staticmethod
    def _embedding(
        side: str,
        numeric_option: str,
        vocab_size: int | None,
        embedding: nn.Embedding | None,
        numeric_size: int | None,
        embedding_dim: int,
        pad_index: int | None = None,
    ) -> nn.Embedding | None:
        """The embedding of one side (``side`` is "src" or "tgt"), or None for a numeric side
        (``numeric_option`` = its size, e.g. ``src_input_size``)."""
        if numeric_size is not None:
            if vocab_size is not None or embedding is not None:
                raise ValueError(
                    f"give either {numeric_option} or a {_SIDES[side]} vocabulary, not both"
                )
            if numeric_size < 1:
                raise ValueError(f"{numeric_option} must be >= 1, got {numeric_size}")
            return None
        if embedding is not None:
            if vocab_size is not None and vocab_size != embedding.num_embeddings:
                raise ValueError(
                    f"{side}_vocab_size={vocab_size} disagrees with {side}_embedding's "
                    f"{embedding.num_embeddings} rows"
                )
            return embedding
        if vocab_size is None or vocab_size < 1:
            raise ValueError(
                f"{side}_vocab_size must be >= 1 (or give {side}_embedding or {numeric_option}), "
                f"got {vocab_size}"
            )
        in_range = pad_index is not None and 0 <= pad_index < vocab_size
        return Embedding(vocab_size, embedding_dim, padding_idx=pad_index if in_range else None)

    @staticmethod
    def _check_specials(
        vocab_size: int, pad_index: int | None, bos_index: int | None, eos_index: int | None
    ) -> None:
        for name, index in (
            ("pad_index", pad_index),
            ("bos_index", bos_index),
            ("eos_index", eos_index),
        ):
            if index is None:
                raise ValueError(f"a token target needs {name}")
            if isinstance(index, bool) or not isinstance(index, numbers.Integral):
                raise ValueError(f"{name} must be an int, got {index!r}")
            if not 0 <= index < vocab_size:
                raise ValueError(
                    f"{name}={index} is not a token of the target vocabulary of {vocab_size}"
                )
        # The pad row is zero and gets no gradient: a real input or output must not share it.
        for name, index in (("bos_index", bos_index), ("eos_index", eos_index)):
            if index == pad_index:
                raise ValueError(f"{name} must differ from pad_index, both are {index}")

    # ------------------------------------------------------------------------------ encoder
    def encode(self, src: Tensor, src_lengths: Tensor | list[int]) -> EncoderOutput:
        """Run the encoder (and the bridge) over a padded source batch.

        Args:
            src: ``(B, S)`` token ids (a numeric source: ``(B, S, F)`` floats).
            src_lengths: ``(B,)`` valid length of each source, in ``[0, S]``, any order.
        """
        lengths = self._check_source(src, src_lengths)
        if self.reverse_source:
            src = reverse_within_lengths(src, lengths)
        if self.src_embedding is None:
            x = src  # (B, S, F) numeric features go in as they are
        else:
            x = self.dropout(self.src_embedding(src))  # (B, S, E)
        memory, final = self.encoder(x, lengths=lengths)  # (B, S, D·H)
        mask = lengths_to_mask(lengths, src.shape[1])  # (B, S)
        initial = final if self.bridge is None else self.bridge(final)
        return EncoderOutput(memory, mask, initial, lengths)

    def _check_source(self, src: Tensor, src_lengths: Tensor | list[int]) -> Tensor:
        if not isinstance(src, Tensor):
            raise ValueError(f"src must be a tensor, got {type(src).__name__}")
        if self.src_embedding is not None:
            if src.dim() != 2 or src.is_floating_point() or src.is_complex():
                raise ValueError(
                    f"src must be a (B, S) tensor of token ids, got {src.dtype} {tuple(src.shape)}"
                )
        elif src.dim() != 3 or src.shape[2] != self.src_input_size or not src.is_floating_point():
            raise ValueError(
                f"src must be a (B, S, F={self.src_input_size}) float tensor, got {src.dtype} "
                f"{tuple(src.shape)}"
            )
        B, S = src.shape[:2]
        lengths = torch.as_tensor(src_lengths, device=src.device)
        if lengths.dim() != 1 or lengths.shape[0] != B:
            raise ValueError(
                f"src_lengths must have shape (B,) = ({B},) to match src {tuple(src.shape)}, "
                f"got {tuple(lengths.shape)}"
            )
        if lengths.is_floating_point() or lengths.is_complex() or lengths.dtype == torch.bool:
            raise ValueError(f"src_lengths must be integers, got {lengths.dtype}")
        if B and (lengths.min() < 0 or lengths.max() > S):
            raise ValueError(
                f"src_lengths must lie in [0, S={S}], got {int(lengths.min())} to "
                f"{int(lengths.max())}"
            )
        return lengths.long()

    # ------------------------------------------------------------------------------ decoder
    def _memory(self, encoded: EncoderOutput) -> _Memory | None:
        if self.attention is None:
            return None
        projected = self.attention.precompute_keys(encoded.memory)  # (B, S, P)
        return _Memory(encoded.memory, projected, encoded.mask)

    def _initial_state(self, encoded: EncoderOutput) -> DecoderState:
        feed = None
        if self.input_feeding:
            B = encoded.memory.shape[0]
            feed = encoded.memory.new_zeros(B, self.hidden_size)  # h̃_0 = 0
        return DecoderState(encoded.initial_state, feed)

    def _embed(self, y: Tensor) -> Tensor:
        """Decoder input of the previous output: ``E_tgt y`` (a numeric target: the frame)."""
        return y if self.tgt_embedding is None else self.dropout(self.tgt_embedding(y))

    def _attend(self, query: Tensor, memory: _Memory) -> tuple[Tensor, Tensor]:
        """Context ``c = Σ_s a_s m_s`` and weights ``a`` for ``(N, H)`` or ``(N, T, H)`` queries."""
        return self.attention(query, memory.keys, memory.mask, projected_keys=memory.projected_keys)

    def _attentional(self, h: Tensor, context: Tensor | None) -> Tensor:
        """``h̃ = tanh(W_c [c; h])`` (``h`` without attention), dropout applied."""
        if context is None:
            return self.dropout(h)
        return self.dropout(torch.tanh(self.combine(torch.cat([context, h], dim=-1))))

    def _step(
        self, y_embedded: Tensor, state: DecoderState, memory: _Memory | None
    ) -> tuple[Tensor, DecoderState, Tensor | None]:
        """One decoder step for ``N`` rows: ``(h̃_t (N, H), state, a_t (N, S) | None)``."""
        inputs = [y_embedded]  # (N, E)
        if state.feed is not None:
            inputs.append(state.feed)  # (N, H)
        context = weights = None
        if self.attention_kind == "bahdanau":
            query = _top_hidden(state.rnn)  # (N, H) the previous state attends
            context, weights = self._attend(query, memory)
            inputs.append(context)  # (N, D·H)
        out, rnn = self.decoder(torch.cat(inputs, dim=-1).unsqueeze(1), state.rnn)  # (N, 1, H)
        h = out[:, 0]  # (N, H)
        if memory is not None and self.attention_kind != "bahdanau":
            context, weights = self._attend(h, memory)
        attentional = self._attentional(h, context)  # (N, H)
        return attentional, DecoderState(rnn, attentional if self.input_feeding else None), weights

    def _project(self, attentional: Tensor) -> Tensor:
        """``W_s h̃ + b_s``: logits ``(..., V)`` or numeric frames ``(..., F)``."""
        if isinstance(self.output, SampledSoftmax):
            return self.output.full_logits(attentional)
        return self.output(attentional)

    def _predicted_input(self, prediction: Tensor) -> Tensor:
        """What the model feeds itself: the argmax token, or the (detached) predicted frame."""
        return prediction.detach() if self.numeric_target else prediction.argmax(dim=-1)

    def _decode_train(
        self, encoded: EncoderOutput, tgt_in: Tensor, teacher_forcing_ratio: float
    ) -> tuple[Tensor, Tensor | None]:
        """Attentional vectors ``(B, T, H)`` and attention ``(B, T, S)`` for decoder inputs."""
        memory = self._memory(encoded)
        parallel = not self.input_feeding and self.attention_kind != "bahdanau"
        if teacher_forcing_ratio == 1.0 and parallel:
            # Every input is known and the attention reads the RNN's outputs: one layer call.
            h, _ = self.decoder(self._embed(tgt_in), encoded.initial_state)  # (B, T, H)
            context = weights = None
            if memory is not None:
                context, weights = self._attend(h, memory)  # (B, T, D·H), (B, T, S)
            return self._attentional(h, context), weights

        B, T = tgt_in.shape[:2]
        state = self._initial_state(encoded)
        y = tgt_in[:, 0]  # (B,) <bos> (or the first frame)
        outputs, weights = [], []
        for t in range(T):
            attentional, state, w = self._step(self._embed(y), state, memory)
            outputs.append(attentional)
            weights.append(w)
            if t + 1 == T:
                break
            y = tgt_in[:, t + 1]
            if teacher_forcing_ratio < 1.0:
                predicted = self._predicted_input(self._project(attentional))
                gold = torch.rand(B, device=y.device) < teacher_forcing_ratio  # (B,)
                shape = (B, *[1] * (y.dim() - 1))
                y = torch.where(gold.view(shape), y, predicted)
        stacked = None if memory is None else torch.stack(weights, dim=1)  # (B, T, S)
        return torch.stack(outputs, dim=1), stacked

    def _check_target_input(self, tgt_in: Tensor, batch: int | None, name: str) -> None:
        if not isinstance(tgt_in, Tensor):
            raise ValueError(f"{name} must be a tensor, got {type(tgt_in).__name__}")
        if self.numeric_target:
            F_out = self.output.out_features
            if tgt_in.dim() != 3 or tgt_in.shape[2] != F_out or not tgt_in.is_floating_point():
                raise ValueError(
                    f"{name} must be a (B, T, F={F_out}) float tensor, got {tgt_in.dtype} "
                    f"{tuple(tgt_in.shape)}"
                )
        elif tgt_in.dim() != 2 or tgt_in.is_floating_point() or tgt_in.is_complex():
            raise ValueError(
                f"{name} must be a 2-D (B, T) tensor of token ids, got {tgt_in.dtype} "
                f"{tuple(tgt_in.shape)}"
            )
        if batch is not None and tgt_in.shape[0] != batch:
            raise ValueError(
                f"{name} has batch size {tgt_in.shape[0]} but src has {batch}: "
                f"{name} {tuple(tgt_in.shape)}"
            )

    def forward(
        self,
        src: Tensor,
        src_lengths: Tensor | list[int],
        tgt_in: Tensor,
        teacher_forcing_ratio: float = 1.0,
    ) -> Seq2SeqOutput:
        """Decoder outputs for given decoder inputs (``<bos> y_1 … y_{T-1}``).

        Teacher forcing: at each step ``t >= 1`` and for each batch row independently, the
        decoder reads the gold ``tgt_in[:, t]`` with probability ``teacher_forcing_ratio`` and
        otherwise its own prediction of step ``t-1`` (the argmax token; a numeric target: the
        detached predicted frame), drawn from torch's global RNG. ``1.0`` is pure teacher
        forcing (no random numbers drawn), ``0.0`` runs free: only ``tgt_in[:, 0]`` is read.
        With ratio 1 and no input feeding and no Bahdanau attention, the decoder RNN runs
        over the whole target in one call; otherwise it steps.

        Args:
            src: ``(B, S)`` token ids (numeric: ``(B, S, F)``).
            src_lengths: ``(B,)``.
            tgt_in: ``(B, T)`` decoder input tokens, ``T >= 1`` (numeric: ``(B, T, F)``).
            teacher_forcing_ratio: in ``[0, 1]``.

        Returns:
            ``(logits (B, T, V), attention (B, T, S) | None)``.
        """
        _check_ratio(teacher_forcing_ratio)
        encoded = self.encode(src, src_lengths)
        self._check_target_input(tgt_in, src.shape[0], "tgt_in")
        if tgt_in.shape[1] < 1:
            raise ValueError("tgt_in must have at least one step (the <bos> input)")
        attentional, weights = self._decode_train(encoded, tgt_in, teacher_forcing_ratio)
        return Seq2SeqOutput(self._project(attentional), self._source_order(weights, encoded))

    def _source_order(self, weights: Tensor | None, encoded: EncoderOutput) -> Tensor | None:
        """Attention weights ``(B, ..., S)`` re-indexed by the source as given."""
        if weights is None or not self.reverse_source:
            return weights
        return reverse_within_lengths(weights, encoded.src_lengths, dim=-1)

    # -------------------------------------------------------------------------------- loss
    def shift_target(self, tgt: Tensor, tgt_lengths: Tensor | list[int]) -> tuple[Tensor, ...]:
        """Decoder inputs, outputs and mask for the plain targets ``y_1 … y_n``.

        Tokens: ``tgt (B, T)`` gives ``tgt_in = <bos> y_1 … y_n`` and
        ``tgt_out = y_1 … y_n <eos>``, both ``(B, T+1)`` padded with ``pad_index``, and the
        mask ``(B, T+1)`` of the ``n+1`` real positions. A numeric ``tgt (B, T, F)`` gives
        ``tgt_in = 0 y_1 … y_{n-1}`` (a zero frame in front), ``tgt_out = tgt`` and the mask
        ``(B, T)`` of the ``n`` real frames.

        Raises:
            ValueError: ``tgt`` not ``(B, T)`` token ids (numeric: ``(B, T, F)`` floats), or
                ``tgt_lengths`` not ``(B,)`` integers in ``[0, T]``.
        """
        self._check_target_input(tgt, None, "tgt")
        B, T = tgt.shape[:2]
        lengths = torch.as_tensor(tgt_lengths, device=tgt.device)
        if lengths.dim() != 1 or lengths.shape[0] != B:
            raise ValueError(
                f"tgt_lengths must have shape (B,) = ({B},) to match tgt {tuple(tgt.shape)}, "
                f"got {tuple(lengths.shape)}"
            )
        if lengths.is_floating_point() or lengths.dtype == torch.bool:
            raise ValueError(f"tgt_lengths must be integers, got {lengths.dtype}")
        if B and (lengths.min() < 0 or lengths.max() > T):
            raise ValueError(f"tgt_lengths must lie in [0, T={T}], got {lengths.tolist()}")
        lengths = lengths.long()
        if self.numeric_target:
            start = tgt.new_zeros(B, 1, tgt.shape[2])
            return torch.cat([start, tgt[:, :-1]], dim=1), tgt, lengths_to_mask(lengths, T)
        steps = torch.arange(T + 1, device=tgt.device)  # (T+1,)
        lengths = lengths.unsqueeze(1)  # (B, 1)
        bos = tgt.new_full((B, 1), self.bos_index)
        pad = tgt.new_full((B, 1), self.pad_index)
        tgt_in = torch.cat([bos, tgt], dim=1).masked_fill(steps > lengths, self.pad_index)
        tgt_out = torch.cat([tgt, pad], dim=1).masked_fill(steps > lengths, self.pad_index)
        tgt_out = tgt_out.masked_fill(steps == lengths, self.eos_index)  # (B, T+1)
        return tgt_in, tgt_out, steps <= lengths

    def loss(
        self,
        src: Tensor,
        src_lengths: Tensor | list[int],
        tgt: Tensor,
        tgt_lengths: Tensor | list[int],
        *,
        teacher_forcing_ratio: float = 1.0,
    ) -> Tensor:
        """Mean loss per real target token (``<eos>`` included) of plain targets ``y_1 … y_n``.

        Cross entropy (sampled softmax in training mode if ``num_sampled`` was given); a
        numeric target: the mean squared error per value. See :meth:`shift_target` for the
        shift and :meth:`forward` for ``teacher_forcing_ratio``.
        """
        _check_ratio(teacher_forcing_ratio)
        encoded = self.encode(src, src_lengths)
        self._check_target_input(tgt, src.shape[0], "tgt")
        tgt_in, tgt_out, mask = self.shift_target(tgt, tgt_lengths)
        attentional, _ = self._decode_train(encoded, tgt_in, teacher_forcing_ratio)  # (B, T, H)
        if self.numeric_target:
            if not mask.any():
                raise ValueError("all target lengths are 0: the mean loss is undefined")
            error = F.mse_loss(self._project(attentional), tgt_out, reduction="none")  # (B,T,F)
            return error[mask].mean()
        if isinstance(self.output, SampledSoftmax) and self.training:
            return self.output(attentional, tgt_out, mask)
        # Only the real positions go through the output layer: with a large vocabulary it is
        # the costliest product of a batch, and a padded position would cost as much.
        real = self._project(attentional[mask])  # (N, V) for the N real target tokens
        return sequence_loss(real.unsqueeze(0), tgt_out[mask].unsqueeze(0))

    # ---------------------------------------------------------------------------- decoding
    def _check_token_decoding(self, max_length: int | None, src: Tensor) -> int:
        if self.numeric_target:
            raise ValueError("a numeric target has no <eos> to decode to; use forecast()")
        if max_length is None:
            return 2 * src.shape[1] + 10
        if max_length < 1:
            raise ValueError(f"max_length must be >= 1, got {max_length}")
        return max_length

    @torch.no_grad()
    def greedy_decode(
        self, src: Tensor, src_lengths: Tensor | list[int], max_length: int | None = None
    ) -> GreedyDecoded:
        """Decode by taking the most probable token at every step.

        A row stops at its first ``<eos>`` (later positions hold ``pad_index``); decoding
        stops when every row has stopped or after ``max_length`` tokens (default
        ``2·S + 10``). Call ``eval()`` first: in training mode dropout makes decoding random.
        """
        max_length = self._check_token_decoding(max_length, src)
        encoded = self.encode(src, src_lengths)
        memory, state = self._memory(encoded), self._initial_state(encoded)
        B = src.shape[0]
        device = encoded.memory.device
        y = torch.full((B,), self.bos_index, dtype=torch.long, device=device)
        scores = torch.zeros(B, dtype=torch.float64, device=device)
        lengths = torch.zeros(B, dtype=torch.long, device=device)
        finished = torch.zeros(B, dtype=torch.bool, device=device)
        tokens, weights = [], []
        for _ in range(max_length):
            attentional, state, w = self._step(self._embed(y), state, memory)
            log_probs = self._project(attentional).log_softmax(dim=-1)  # (B, V)
            y = log_probs.argmax(dim=-1).masked_fill(finished, self.pad_index)  # (B,)
            step_score = log_probs.gather(1, y.unsqueeze(1)).squeeze(1).double()
            scores += step_score.masked_fill(finished, 0.0)
            lengths += (~finished).long()
            tokens.append(y)
            weights.append(w)
            finished |= y == self.eos_index
            if bool(finished.all()):
                break
        attention = None
        if memory is not None:
            attention = torch.stack(weights, dim=1)  # (B, T, S)
            valid = torch.arange(attention.shape[1], device=device) < lengths.unsqueeze(1)
            attention = attention.masked_fill(~valid.unsqueeze(2), 0.0)  # (B, T, S)
            attention = self._source_order(attention, encoded)
        return GreedyDecoded(torch.stack(tokens, dim=1), lengths, scores, attention)

    @torch.no_grad()
    def beam_search(
        self,
        src: Tensor,
        src_lengths: Tensor | list[int],
        beam_size: int = 5,
        max_length: int | None = None,
        length_penalty: float = 0.0,
        keep_greedy: bool = True,
    ) -> BeamDecoded:
        """Beam search decoding, vectorised over batch × beam.

        Hypotheses are ranked by ``s(Y) / lp(Y)`` with the GNMT length penalty
        ``lp(Y) = ((5 + |Y|) / 6)^α``, ``α = length_penalty`` (0: the model score). Finished
        hypotheses (``<eos>``) are kept and not expanded; the search stops when all are
        finished or after ``max_length`` tokens (default ``2·S + 10``). With
        ``keep_greedy`` the result never ranks below :meth:`greedy_decode`; ``beam_size=1``
        is exactly greedy decoding. See :mod:`rnnkit.structures.beam_search`.
        """
        max_length = self._check_token_decoding(max_length, src)
        encoded = self.encode(src, src_lengths)
        memory = self._memory(encoded)
        B = src.shape[0]
        expanded: dict[int, _Memory | None] = {}

        def step(tokens: Tensor, state: DecoderState) -> tuple[Tensor, DecoderState, Tensor]:
            lanes = tokens.shape[0] // B
            if lanes not in expanded:  # the lanes of an item share its source: expand once
                expanded[lanes] = None if memory is None else memory.repeat(lanes)
            attentional, state, weights = self._step(self._embed(tokens), state, expanded[lanes])
            return self._project(attentional).log_softmax(dim=-1), state, weights

        result = search_beams(
            step,
            self._initial_state(encoded),
            batch_size=B,
            bos_index=self.bos_index,
            eos_index=self.eos_index,
            pad_index=self.pad_index,
            max_length=max_length,
            beam_size=beam_size,
            length_penalty=length_penalty,
            reorder_state=_reorder,
            keep_greedy=keep_greedy,
            device=encoded.memory.device,
        )
        return BeamDecoded(
            result.tokens,
            result.lengths,
            result.scores,
            result.normalized_scores,
            result.finished,
            self._source_order(result.extras, encoded),
        )

    @torch.no_grad()
    def forecast(
        self,
        src: Tensor,
        src_lengths: Tensor | list[int],
        num_steps: int,
        start: Tensor | None = None,
    ) -> Seq2SeqOutput:
        """Generate ``num_steps`` frames of a numeric target, each fed back as the next input.

        Args:
            src: ``(B, S)`` token ids (numeric: ``(B, S, F_in)``).
            src_lengths: ``(B,)``.
            num_steps: frames to generate, ``>= 1``.
            start: ``(B, F)`` first decoder input; default the zero frame used in training.

        Returns:
            ``(frames (B, num_steps, F), attention (B, num_steps, S) | None)``.
        """
        if not self.numeric_target:
            raise ValueError("forecast needs a numeric target (tgt_output_size); use greedy_decode")
        if num_steps < 1:
            raise ValueError(f"num_steps must be >= 1, got {num_steps}")
        encoded = self.encode(src, src_lengths)
        B, F_out = src.shape[0], self.output.out_features
        if start is None:
            start = encoded.memory.new_zeros(B, F_out)
        elif start.shape != (B, F_out):
            raise ValueError(
                f"start must have shape (B, F) = {(B, F_out)}, got {tuple(start.shape)}"
            )
        memory, state, y = self._memory(encoded), self._initial_state(encoded), start
        frames, weights = [], []
        for _ in range(num_steps):
            attentional, state, w = self._step(self._embed(y), state, memory)
            y = self._project(attentional)  # (B, F)
            frames.append(y)
            weights.append(w)
        attention = None if memory is None else torch.stack(weights, dim=1)  # (B, T, S)
        return Seq2SeqOutput(torch.stack(frames, dim=1), self._source_order(attention, encoded))

    def extra_repr(self) -> str:
        return (
            f"cell={self.cell!r}, attention={self.attention_kind!r}, "
            f"input_feeding={self.input_feeding}, reverse_source={self.reverse_source}"
        )
