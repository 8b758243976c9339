"""Recurrent layers: stacking, directions, dropout, variable lengths, state layout, backends.

This is the one place that knows about time, directions and padding; the cells in
:mod:`rnnkit.cells` each know one step and its backward. The layers take and return exactly
what ``torch.nn.RNN/LSTM/GRU`` take and return (parameter names, shapes, gate order, state
layout), so weights move both ways with ``load_state_dict``.
"""

from __future__ import annotations

import operator
import warnings
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from rnnkit.backend import choose_backend
from rnnkit.cells.common import cell_parameters, empty_parameter, init_uniform, state_or_hx
from rnnkit.cells.gru import gru
from rnnkit.cells.lstm import lstm
from rnnkit.cells.rnn import check_nonlinearity, rnn
from rnnkit.layout import Padding, check_lengths

Backend = Literal["auto", "rnnkit", "torch"]
BACKENDS = ("auto", "rnnkit", "torch")
GATES = {"rnn": 1, "lstm": 4, "gru": 3}


class RecurrentLayer(nn.Module):
    """What :class:`RNN`, :class:`LSTM` and :class:`GRU` share; use those."""

    cell_name: str = ""  # "rnn", "lstm" or "gru"

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = True,
        dropout: float = 0.0,
        bidirectional: bool = False,
        backend: Backend = "auto",
        peephole: bool = False,
        nonlinearity: str = "tanh",
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        proj_size: int = 0,
    ) -> None:
        super().__init__()
        input_size, hidden_size, num_layers, proj_size = (
            _integer(name, value)
            for name, value in (("input_size", input_size), ("hidden_size", hidden_size),
                                ("num_layers", num_layers), ("proj_size", proj_size))
        )  # fmt: skip
        for name, value in (("input_size", input_size), ("hidden_size", hidden_size)):
            if value <= 0:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if num_layers < 1:
            raise ValueError(f"num_layers must be an integer >= 1, got {num_layers!r}")
        if proj_size != 0:
            raise ValueError(
                "proj_size: rnnkit has no projected LSTM (torch.nn.LSTM's proj_size); "
                "use torch.nn.LSTM for it"
                if self.cell_name == "lstm"
                else f"proj_size exists only for LSTM, not {type(self).__name__}"
            )
        if not 0.0 <= float(dropout) <= 1.0:
            raise ValueError(f"dropout must be in [0, 1], got {dropout!r}")
        if dropout > 0 and num_layers == 1:  # as torch.nn warns
            warnings.warn(
                f"dropout={dropout} acts between recurrent layers only, so with num_layers=1 "
                "it does nothing",
                stacklevel=3,
            )
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
        if peephole and self.cell_name != "lstm":
            raise ValueError(f"peephole=True exists only for LSTM, not {type(self).__name__}")
        if nonlinearity != "tanh" and self.cell_name != "rnn":
            raise ValueError(
                f"nonlinearity exists only for RNN, not {type(self).__name__}; got {nonlinearity!r}"
            )
        if peephole and backend == "torch":
            raise ValueError(
                "backend='torch' cannot run peephole=True: torch.nn.LSTM has no peepholes; "
                "use backend='rnnkit' or 'auto'"
            )
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.proj_size = 0  # (torch.nn's attribute: no projection)
        self.bias, self.batch_first, self.dropout = bias, batch_first, float(dropout)
        self.bidirectional, self.backend = bidirectional, backend
        self.peephole, self.nonlinearity = peephole, nonlinearity
        self.num_directions = 2 if bidirectional else 1

        gate_size = GATES[self.cell_name] * hidden_size
        for layer in range(num_layers):
            layer_input = input_size if layer == 0 else hidden_size * self.num_directions
            for suffix in self._suffixes(layer):
                weights = cell_parameters(gate_size, layer_input, hidden_size, bias, device, dtype)
                names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
                for name, weight in zip(names, weights, strict=True):
                    if weight is not None:
                        self.register_parameter(name + suffix, weight)
                if peephole:
                    peep = empty_parameter(3, hidden_size, device=device, dtype=dtype)
                    self.register_parameter(f"weight_peephole{suffix}", peep)
        self.reset_parameters()

    @property
    def mode(self) -> str:
        """torch.nn's name of the cell: ``"LSTM"``, ``"GRU"``, ``"RNN_TANH"`` or ``"RNN_RELU"``."""
        if self.cell_name == "rnn":
            return f"RNN_{self.nonlinearity.upper()}"
        return self.cell_name.upper()

    def _suffixes(self, layer: int) -> list[str]:
        directions = ["", "_reverse"][: self.num_directions]
        return [f"_l{layer}{direction}" for direction in directions]

    def reset_parameters(self) -> None:
        """Uniform(-1/√H, 1/√H) for every weight and bias, as torch.nn."""
        init_uniform(self, self.hidden_size)

    def flatten_parameters(self) -> None:
        """Nothing to do: kept so that code written for torch.nn, which calls it to compact
        cuDNN's weights after ``DataParallel`` replicates a module, runs unchanged."""

    @property
    def all_weights(self) -> list[list[Tensor]]:
        """The parameters of each layer and direction, ``[weight_ih, weight_hh, bias_ih,
        bias_hh(, weight_peephole)]`` (no biases without ``bias``), as torch.nn lists them."""
        names = ["weight_ih", "weight_hh"] + (["bias_ih", "bias_hh"] if self.bias else [])
        names += ["weight_peephole"] if self.peephole else []
        return [
            [getattr(self, name + suffix) for name in names]
            for layer in range(self.num_layers)
            for suffix in self._suffixes(layer)
        ]

    def _weights(self, layer: int, direction: int) -> list[Tensor | None]:
        suffix = self._suffixes(layer)[direction]
        names = ["weight_ih", "weight_hh", "bias_ih", "bias_hh"]
        return [getattr(self, name + suffix, None) for name in names]

    # ---------------------------------------------------------------- forward
    def forward(
        self,
        x: Tensor | PackedSequence,
        state: Tensor | tuple[Tensor, Tensor] | None = None,
        lengths: Tensor | list[int] | None = None,
        *,
        hx: Tensor | tuple[Tensor, Tensor] | None = None,
    ) -> tuple[Tensor | PackedSequence, Tensor | tuple[Tensor, Tensor]]:
        """Run the layer over a batch of sequences.

        Args:
            x: ``(B, T, I)`` if ``batch_first`` else ``(T, B, I)``; or unbatched ``(T, I)``.
            state: initial state, ``(L·D, B, H)`` (LSTM: a tuple ``(h, c)``); zeros if None.
                ``hx``, torch.nn's name for it, is taken too.
            lengths: valid length of each sequence, ``(B,)``, any order. Outputs past a
                length are zero; the final state is the one at each sequence's last step; the
                reverse direction starts at that step. A length of 0 returns the initial state.

        Returns:
            ``(output, state)``: output ``(B, T, D·H)`` (or time-major), the final state in
            the layout of ``state``.

        ``x`` may also be a ``PackedSequence`` (``pack_padded_sequence``), as torch.nn takes
        it: the output is then packed the same way, and the states are in the batch's order.
        """
        state = state_or_hx(state, hx)
        if isinstance(x, PackedSequence):
            return self._forward_packed(x, state, lengths)
        x, state, unbatched = self._check(x, state, lengths)
        T, B = x.shape[0], x.shape[1]
        padding = Padding.build(lengths, T, B, x.device) if lengths is not None else None
        if T == 0:  # no step: no output, and the state is the initial one, on every engine
            output = x.new_zeros(0, B, self.num_directions * self.hidden_size)
            final = tuple(s.clone() for s in state)
        elif choose_backend(self, x, padding) == "torch":
            output, final = self._forward_torch(x, state, padding)
        else:
            output, final = self._forward_rnnkit(x, state, padding)
        if unbatched:  # (T, 1, D·H) -> (T, D·H)
            output = output.squeeze(1)
            final = tuple(s.squeeze(1) for s in final)
        elif self.batch_first:
            output = output.transpose(0, 1)
        return output, (final if self.cell_name == "lstm" else final[0])

    def _forward_packed(
        self, x: PackedSequence, state: Tensor | tuple[Tensor, Tensor] | None, lengths: object
    ) -> tuple[PackedSequence, Tensor | tuple[Tensor, Tensor]]:
        """A packed batch, run as the padded batch and lengths it holds."""
        if lengths is not None:
            raise ValueError("lengths: a PackedSequence carries its own; give one or the other")
        padded, sizes = pad_packed_sequence(x, batch_first=self.batch_first)
        output, final = self(padded, state, lengths=sizes)
        # pack the output as the input was packed: sorted by length, then step by step
        time_major = output if not self.batch_first else output.transpose(0, 1)
        order = x.sorted_indices
        if order is not None:
            time_major = time_major.index_select(1, order)
        steps = torch.arange(time_major.shape[1], device=x.batch_sizes.device)
        running = (steps.unsqueeze(0) < x.batch_sizes.unsqueeze(1)).to(time_major.device)
        data = time_major[running]  # (Σ batch_sizes, D·H), step by step
        return PackedSequence(data, x.batch_sizes, x.sorted_indices, x.unsorted_indices), final

    def _forward_rnnkit(
        self, x: Tensor, state: tuple[Tensor, ...], padding: Padding | None
    ) -> tuple[Tensor, tuple[Tensor, ...]]:
        batch_sizes = None
        if padding is not None:  # run sorted by length, longest first, as a packed sequence
            x = x.index_select(1, padding.order)
            state = tuple(s.index_select(1, padding.order) for s in state)
            batch_sizes = padding.batch_sizes
        finals: list[list[Tensor]] = [[] for _ in state]
        layer_input = x
        for layer in range(self.num_layers):
            if layer > 0 and self.dropout > 0 and self.training:
                layer_input = F.dropout(layer_input, self.dropout, training=True)
            outputs = []
            for direction in range(self.num_directions):
                index = layer * self.num_directions + direction
                seq = layer_input
                if direction == 1:
                    seq = padding.reverse(seq) if padding is not None else seq.flip(0)
                out, *last = self._run(seq, [s[index] for s in state], layer, direction,
                                       batch_sizes)  # fmt: skip
                if direction == 1:
                    out = padding.reverse(out) if padding is not None else out.flip(0)
                outputs.append(out)
                for store, s in zip(finals, last, strict=True):
                    store.append(s)
            layer_input = outputs[0] if len(outputs) == 1 else torch.cat(outputs, 2)
        output = layer_input
        final = tuple(torch.stack(store) for store in finals)
        if padding is not None:
            output = output.index_select(1, padding.restore)
            final = tuple(s.index_select(1, padding.restore) for s in final)
        return output, final

    def _run(self, x, state, layer, direction, batch_sizes):
        raise NotImplementedError  # each layer class runs its own cell engine

    def _forward_torch(
        self, x: Tensor, state: tuple[Tensor, ...], padding: Padding | None
    ) -> tuple[Tensor, tuple[Tensor, ...]]:
        """torch.nn's fused kernels, with our parameters (no copy of them is kept)."""
        module = _torch_twin(self)
        # read as attributes: a parametrized or pruned weight (weight_norm, weight drop) is
        # computed there, while named_parameters() lists only what it is computed from
        params = {name: getattr(self, name) for name in module._flat_weights_names}
        hx = state if self.cell_name == "lstm" else state[0]
        if padding is None or x.shape[1] == 0:  # (torch.nn cannot pack an empty batch)
            output, final = torch.func.functional_call(module, params, (x, hx))
        else:  # torch.nn refuses empty sequences: run them for one step, then undo that below
            packed = pack_padded_sequence(x, padding.lengths.clamp(min=1).cpu(),
                                          enforce_sorted=False)  # fmt: skip
            packed_out, final = torch.func.functional_call(module, params, (packed, hx))
            output, _ = pad_packed_sequence(packed_out, total_length=x.shape[0])
        final = final if self.cell_name == "lstm" else (final,)
        if padding is not None and padding.has_empty:
            empty = padding.lengths == 0
            output = output.masked_fill(empty.view(1, -1, 1), 0.0)
            final = tuple(torch.where(empty.view(1, -1, 1), s0, s)
                          for s, s0 in zip(final, state, strict=True))  # fmt: skip
        return output, tuple(final)

    # ------------------------------------------------------------ validation
    def _check(self, x, state, lengths):
        if not isinstance(x, Tensor):
            raise ValueError(f"x must be a tensor or a PackedSequence, got {type(x).__name__}")
        layout = "(B, T, I)" if self.batch_first else "(T, B, I)"
        if x.dim() not in (2, 3):
            raise ValueError(
                f"x must have shape {layout} with I={self.input_size} (or (T, I) unbatched), "
                f"got {tuple(x.shape)}"
            )
        if x.shape[-1] != self.input_size:
            raise ValueError(
                f"x must have {self.input_size} features in its last dimension "
                f"(shape {layout}), got {tuple(x.shape)}"
            )
        weight_dtype = next(self.parameters()).dtype
        if x.dtype != weight_dtype and not torch.is_autocast_enabled(x.device.type):
            raise ValueError(
                f"x has dtype {x.dtype} but the layer's weights are {weight_dtype}: convert x "
                f"(x.to({weight_dtype})) or the layer (layer.to({x.dtype}))"
            )
        unbatched = x.dim() == 2
        if unbatched:
            x = x.unsqueeze(1)
        elif self.batch_first:
            x = x.transpose(0, 1)
        x = x.contiguous()
        T, B = x.shape[0], x.shape[1]
        expected = (self.num_layers * self.num_directions, B, self.hidden_size)
        names = ("state[0] (h)", "state[1] (c)") if self.cell_name == "lstm" else ("state",)
        if state is None:
            zeros = x.new_zeros(expected)
            state = tuple(zeros for _ in names)
        else:
            if self.cell_name == "lstm":
                if not (isinstance(state, (tuple, list)) and len(state) == 2):
                    raise ValueError("state of an LSTM must be a tuple (h, c)")
                state = tuple(state)
            else:
                if not isinstance(state, Tensor):
                    raise ValueError(f"state must be a tensor of shape {expected}")
                state = (state,)
            for name, s in zip(names, state, strict=True):
                if not isinstance(s, Tensor):
                    raise ValueError(f"{name} must be a tensor, got {type(s).__name__}")
                if s.dtype != x.dtype and not torch.is_autocast_enabled(x.device.type):
                    raise ValueError(
                        f"{name} has dtype {s.dtype} but x is {x.dtype}: give the state in "
                        "x's dtype"
                    )
                if unbatched and s.dim() != 2:  # as torch.nn: unbatched x, unbatched state
                    raise ValueError(
                        f"{name} must have shape (num_layers*num_directions, H) = "
                        f"{(expected[0], expected[2])} for an unbatched x, got {tuple(s.shape)}"
                    )
            if unbatched:
                state = tuple(s.unsqueeze(1) for s in state)
            for name, s in zip(names, state, strict=True):
                if tuple(s.shape) != expected:
                    raise ValueError(
                        f"{name} must have shape (num_layers*num_directions, B, H) = "
                        f"{expected}, got {tuple(s.shape)}"
                    )
        if lengths is not None:
            check_lengths(lengths, T, B)
        return x, state, unbatched

    def extra_repr(self) -> str:
        text = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            text += f", num_layers={self.num_layers}"
        if not self.bias:
            text += ", bias=False"
        text += f", batch_first={self.batch_first}"
        if self.dropout:
            text += f", dropout={self.dropout}"
        if self.bidirectional:
            text += ", bidirectional=True"
        if self.peephole:
            text += ", peephole=True"
        if self.cell_name == "rnn" and self.nonlinearity != "tanh":
            text += f", nonlinearity={self.nonlinearity!r}"
        return text + f", backend={self.backend!r}"


class RNN(RecurrentLayer):
    """Vanilla (Elman) RNN, ``h_t = g(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)``,
    ``g`` = ``tanh`` or ``relu`` — a drop-in for ``torch.nn.RNN`` (``batch_first=True`` by
    default). See :mod:`rnnkit.cells.rnn` for the equations and their BPTT.

    Example:
        >>> rnn = RNN(8, 16, num_layers=2, nonlinearity="relu")
        >>> out, h_n = rnn(torch.randn(4, 10, 8), lengths=[10, 3, 7, 1])
        >>> out.shape, h_n.shape
        (torch.Size([4, 10, 16]), torch.Size([2, 4, 16]))
    """

    cell_name = "rnn"

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        nonlinearity: str = "tanh",
        bias: bool = True,
        batch_first: bool = True,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        *,
        backend: Backend = "auto",
    ) -> None:
        # the positional order is torch.nn.RNN's
        check_nonlinearity(nonlinearity)
        super().__init__(
            input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
            backend, nonlinearity=nonlinearity, device=device, dtype=dtype, proj_size=proj_size,
        )  # fmt: skip

    def _run(self, x, state, layer, direction, batch_sizes):
        w_ih, w_hh, b_ih, b_hh = self._weights(layer, direction)
        return rnn(x, state[0], w_ih, w_hh, b_ih, b_hh, self.nonlinearity,
                                 batch_sizes)  # fmt: skip


class LSTM(RecurrentLayer):
    """Long short-term memory, optionally with peepholes — a drop-in for ``torch.nn.LSTM``
    (``batch_first=True`` by default). The state is ``(h, c)``. See :mod:`rnnkit.cells.lstm`
    for the equations and their BPTT. With ``peephole=True`` each layer and direction has one
    more parameter, ``weight_peephole_l{k}{_reverse}`` of shape ``(3, H)``: the input, forget
    and output gates' diagonal weights, in that order.

    Example:
        >>> lstm = LSTM(8, 16, bidirectional=True, peephole=True)
        >>> out, (h_n, c_n) = lstm(torch.randn(4, 10, 8))
        >>> out.shape, h_n.shape
        (torch.Size([4, 10, 32]), torch.Size([2, 4, 16]))
    """

    cell_name = "lstm"

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = True,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        *,
        peephole: bool = False,
        backend: Backend = "auto",
    ) -> None:
        # the positional order is torch.nn.LSTM's (proj_size: only 0, no projection)
        super().__init__(
            input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
            backend, peephole=peephole, device=device, dtype=dtype, proj_size=proj_size,
        )  # fmt: skip

    def _run(self, x, state, layer, direction, batch_sizes):
        w_ih, w_hh, b_ih, b_hh = self._weights(layer, direction)
        peephole = None
        if self.peephole:
            peephole = getattr(self, "weight_peephole" + self._suffixes(layer)[direction])
        return lstm(x, state[0], state[1], w_ih, w_hh, b_ih, b_hh, peephole,
                                  batch_sizes)  # fmt: skip


class GRU(RecurrentLayer):
    """Gated recurrent unit — a drop-in for ``torch.nn.GRU`` (``batch_first=True`` by
    default). See :mod:`rnnkit.cells.gru` for the equations and their BPTT.

    Example:
        >>> gru = GRU(8, 16, num_layers=3, dropout=0.2)
        >>> out, h_n = gru(torch.randn(4, 10, 8))
    """

    cell_name = "gru"

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = True,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        *,
        backend: Backend = "auto",
    ) -> None:
        # the positional order is torch.nn.GRU's
        super().__init__(
            input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
            backend, device=device, dtype=dtype, proj_size=proj_size,
        )  # fmt: skip

    def _run(self, x, state, layer, direction, batch_sizes):
        w_ih, w_hh, b_ih, b_hh = self._weights(layer, direction)
        return gru(x, state[0], w_ih, w_hh, b_ih, b_hh, batch_sizes)


def _integer(name: str, value: object) -> int:
    """``value`` as an int if it is an integer of any kind (NumPy's too), else a ValueError."""
    if isinstance(value, bool):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    try:
        return operator.index(value)
    except TypeError:
        raise ValueError(f"{name} must be an integer, got {value!r}") from None


_TORCH_CLASSES = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


def _torch_twin(layer: RecurrentLayer) -> nn.RNNBase:
    """A torch.nn module of the same configuration (time-major), used only as a function of
    our parameters by ``functional_call``; built once and kept outside the module tree so it
    is neither saved nor counted."""
    twin = layer.__dict__.get("_twin")
    if twin is None:
        # dropout acts between layers only; with one layer torch.nn would warn about it
        dropout = layer.dropout if layer.num_layers > 1 else 0.0
        kwargs = dict(num_layers=layer.num_layers, bias=layer.bias, batch_first=False,
                      dropout=dropout, bidirectional=layer.bidirectional)  # fmt: skip
        if layer.cell_name == "rnn":
            kwargs["nonlinearity"] = layer.nonlinearity
        with torch.device("meta"):
            twin = _TORCH_CLASSES[layer.cell_name](layer.input_size, layer.hidden_size, **kwargs)
        layer.__dict__["_twin"] = twin
    twin.train(layer.training)
    return twin


CELL_NAMES = ("rnn", "lstm", "gru")


def make_recurrent(
    cell: str,
    input_size: int,
    hidden_size: int,
    num_layers: int = 1,
    *,
    peephole: bool = False,
    nonlinearity: str = "tanh",
    **kwargs,
) -> RecurrentLayer:
    """The layer for a cell name — how every structure takes ``cell="rnn"|"lstm"|"gru"``.

    ``peephole`` applies to ``"lstm"`` and ``nonlinearity`` to ``"rnn"``; asking for them
    with another cell is an error rather than silently ignored. Other keyword arguments go to
    the layer (``bidirectional``, ``dropout``, ``batch_first``, ``bias``, ``backend``);
    ``dropout`` acts between layers, so with one layer it is left out (a structure given
    ``dropout`` applies it elsewhere too, and the layer would warn that it does nothing).
    """
    if cell not in CELL_NAMES:
        raise ValueError(f"cell must be one of {CELL_NAMES}, got {cell!r}")
    if peephole and cell != "lstm":
        raise ValueError(f"peephole=True needs cell='lstm', got cell={cell!r}")
    if nonlinearity != "tanh" and cell != "rnn":
        raise ValueError(f"nonlinearity={nonlinearity!r} needs cell='rnn', got cell={cell!r}")
    if num_layers == 1 and kwargs.get("dropout"):
        kwargs["dropout"] = 0.0
    if cell == "lstm":
        return LSTM(input_size, hidden_size, num_layers, peephole=peephole, **kwargs)
    if cell == "gru":
        return GRU(input_size, hidden_size, num_layers, **kwargs)
    return RNN(input_size, hidden_size, num_layers, nonlinearity=nonlinearity, **kwargs)
