"""A recurrent forecaster: a window of past rows in, the next ``H`` rows out.

Three shapes of network (``kind``): ``"direct"`` reads the window and emits all ``H`` rows
at once from its last state (a multi-output head); ``"seq2seq"`` encodes the window and
decodes the rows one by one, each fed back; ``"nextstep"`` predicts one row ahead at every
step and rolls out for ``H > 1``. Each outputs a correction to a classic forecast (the
residual base) after per-window normalisation; see :class:`Forecaster`.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnkit.structures.classifier import SequenceClassifier
from rnnkit.structures.seq2seq import Seq2Seq
from rnnkit.structures.tagger import SequenceTagger

__all__ = ["MODELS", "NORMS", "RESIDUALS", "ForecastEnsemble", "Forecaster"]

MODELS = ("auto", "direct", "seq2seq", "nextstep")
RESIDUALS = ("none", "last", "season")
NORMS = ("none", "last", "mean", "revin")
REVIN_EPS = 1e-5  # keeps a flat window's spread away from 0


class Forecaster(nn.Module):
    """A recurrent forecaster ``(B, W, F_in)`` window → ``(B, H, F_out)`` next rows.

    Per-window normalisation (``norm``) first moves each window to a common level, as
    RevIN (Kim et al., ICLR 2022) and NLinear do: ``z = (x - loc) / spread`` with ``loc`` the
    window's last row (``"last"``) or mean (``"mean"``, ``"revin"``) and ``spread`` 1 or, for
    ``"revin"``, the window's standard deviation; the forecast is mapped back with the same
    ``loc`` and ``spread``. So a level the training rows never reached is no news to the
    network, and adding a constant to a window adds it to the forecast.

    In that frame ``ŷ = base(z) + net(z)``: ``base`` is 0 (``residual="none"``), the window's
    last value of each target column (``"last"``, the naive forecast) or the value one
    ``season`` earlier (``"season"``), so the network learns a correction to a classic
    forecast. The output layer starts at zero: an untrained model *is* the classic forecast.

    Args:
        kind: ``"direct"`` (a :class:`SequenceClassifier` regressor with ``H·F_out``
            outputs), ``"seq2seq"`` (a numeric :class:`Seq2Seq`) or ``"nextstep"`` (a
            :class:`SequenceTagger` regressor, rolled out; needs inputs = targets).
        input_size, output_size, window, horizon: ``F_in``, ``F_out``, ``W``, ``H``.
        target_index: the position of each target column among the input columns.
        residual, season: see above.
        norm: ``"none"``, ``"last"``, ``"mean"`` or ``"revin"``, see above.
        cell, hidden_size, num_layers, dropout: the recurrent network.
        attention: the seq2seq decoder's attention.
        teacher_forcing: the seq2seq decoder's teacher-forcing ratio in training.
    """

    def __init__(
        self,
        kind: str,
        *,
        input_size: int,
        output_size: int,
        window: int,
        horizon: int,
        target_index: list[int],
        residual: str = "last",
        season: int | None = None,
        norm: str = "none",
        cell: str = "lstm",
        hidden_size: int = 64,
        num_layers: int = 1,
        dropout: float = 0.0,
        attention: str = "none",
        teacher_forcing: float = 0.5,
    ) -> None:
        super().__init__()
        if residual not in RESIDUALS:
            raise ValueError(f"residual must be one of {', '.join(RESIDUALS)}, got {residual!r}")
        if len(target_index) != output_size:
            raise ValueError(
                f"target_index names {len(target_index)} columns but output_size is "
                f"{output_size}: one input column per forecast column"
            )
        if any(not 0 <= int(i) < input_size for i in target_index):
            raise ValueError(f"target_index must lie in [0, input_size={input_size}), got "
                             f"{list(target_index)}")  # fmt: skip
        if residual == "season" and (season is None or season > window):
            raise ValueError(f"residual='season' needs 1 <= season <= window, got {season}")
        if kind == "nextstep" and target_index != list(range(input_size)):
            raise ValueError("the nextstep model needs the inputs to be the target columns")
        if norm not in NORMS:
            raise ValueError(f"norm must be one of {', '.join(NORMS)}, got {norm!r}")
        self.kind, self.window, self.horizon = kind, window, horizon
        self.input_size = input_size
        self.output_size, self.residual, self.season = output_size, residual, season
        self.norm, self.teacher_forcing = norm, teacher_forcing
        self.register_buffer("target_index", torch.tensor(target_index), persistent=False)
        recurrent = dict(cell=cell, hidden_size=hidden_size, num_layers=num_layers, dropout=dropout)
        self.net: nn.Module
        if kind == "direct":
            self.net = SequenceClassifier(
                output_size=horizon * output_size, task="regression", input_size=input_size,
                **recurrent,
            )  # fmt: skip
            last_layer = self.net.head
        elif kind == "seq2seq":
            self.net = Seq2Seq(
                src_input_size=input_size, tgt_output_size=output_size, attention=attention,
                **recurrent,
            )  # fmt: skip
            last_layer = self.net.output
        elif kind == "nextstep":
            self.net = SequenceTagger(
                output_size=output_size, task="regression", input_size=input_size, **recurrent
            )
            last_layer = self.net.head
        else:
            raise ValueError(f"kind must be one of direct, seq2seq, nextstep, got {kind!r}")
        # Start at the classic forecast: the network's correction is 0 until it has learnt one.
        nn.init.zeros_(last_layer.weight)
        nn.init.zeros_(last_layer.bias)

    # -------------------------------------------------------------- normalisation
    def window_stats(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``(loc, spread)`` of each window's columns, ``(B, 1, F_in)`` each."""
        if self.norm == "none":
            return x.new_zeros(x.shape[0], 1, x.shape[2]), x.new_ones(x.shape[0], 1, x.shape[2])
        if self.norm == "last":
            return x[:, -1:], torch.ones_like(x[:, -1:])
        loc = x.mean(dim=1, keepdim=True)
        if self.norm == "mean":
            return loc, torch.ones_like(loc)
        spread = torch.sqrt(x.var(dim=1, keepdim=True, unbiased=False) + REVIN_EPS)
        return loc, spread

    def _targets(self, stat: Tensor) -> Tensor:
        return stat.index_select(2, self.target_index)

    def base(self, x: Tensor, horizon: int | None = None) -> Tensor:
        """The classic forecast the network corrects, ``(B, H, F_out)``, in the frame of
        ``x`` (call it on normalised windows)."""
        horizon = horizon or self.horizon
        targets = x.index_select(2, self.target_index)  # (B, W, F_out)
        B, W, F_out = targets.shape
        if self.residual == "none":
            return targets.new_zeros(B, horizon, F_out)
        if self.residual == "last" or self.kind == "nextstep":
            return targets[:, -1:].expand(B, horizon, F_out)
        steps = W - self.season + torch.arange(horizon, device=x.device) % self.season
        return targets[:, steps]

    def forward(self, x: Tensor) -> Tensor:
        """The forecast ``(B, H, F_out)`` of each window ``x (B, W, F_in)``."""
        if x.dim() != 3 or x.shape[2] != self.input_size:
            raise ValueError(f"x must be (B, W, {self.input_size}) windows, got {tuple(x.shape)}")
        if self.residual == "season" and x.shape[1] < self.season:  # (indices would wrap)
            raise ValueError(f"a window of {x.shape[1]} rows is shorter than season={self.season}")
        loc, spread = self.window_stats(x)
        z = (x - loc) / spread
        return self._forecast(z) * self._targets(spread) + self._targets(loc)

    def _forecast(self, z: Tensor) -> Tensor:
        if self.kind == "nextstep":
            return self._roll_out(z, self.horizon)
        base = self.base(z)
        B = z.shape[0]
        if self.kind == "direct":
            return base + self.net(z).view(B, self.horizon, self.output_size)
        lengths = torch.full((B,), z.shape[1], dtype=torch.long, device=z.device)
        start = z.index_select(2, self.target_index)[:, -1] - base[:, 0]  # (B, F_out)
        return base + self.net.forecast(z, lengths, self.horizon, start=start).logits

    def _roll_out(self, x: Tensor, horizon: int) -> Tensor:
        steps = []
        for _ in range(horizon):
            change = self.net(x)[:, -1:]  # (B, 1, F)
            step = (x[:, -1:] if self.residual != "none" else 0) + change
            steps.append(step)
            x = torch.cat([x[:, 1:], step], dim=1)
        return torch.cat(steps, dim=1)

    def loss(self, x: Tensor, y: Tensor, **_: Any) -> Tensor:
        """Mean squared error of the forecast of ``y (B, H, F_out)`` in the normalised frame
        (the next-step model: of every step's next row, the window's own and the first of
        ``y``)."""
        loc, spread = self.window_stats(x)
        z = (x - loc) / spread
        y = (y - self._targets(loc)) / self._targets(spread)
        if self.kind == "direct":
            return F.mse_loss(self._forecast(z), y)
        if self.kind == "nextstep":
            following = torch.cat([z[:, 1:], y[:, :1]], dim=1)  # (B, W, F)
            change = following - z if self.residual != "none" else following
            return self.net.loss(z, change)
        base = self.base(z)
        B = z.shape[0]
        lengths = torch.full((B,), z.shape[1], dtype=torch.long, device=z.device)
        change = y - base
        start = z.index_select(2, self.target_index)[:, -1:] - base[:, :1]  # (B, 1, F_out)
        tgt_in = torch.cat([start, change[:, :-1]], dim=1)
        ratio = self.teacher_forcing if self.training else 0.0
        predicted = self.net(z, lengths, tgt_in, teacher_forcing_ratio=ratio).logits
        return F.mse_loss(predicted, change)


class ForecastEnsemble(nn.Module):
    """``K`` forecasters trained side by side from different initial weights; the forecast
    is their mean and the loss the mean of their losses (Adam scales each parameter's step
    on its own, so each member trains as it would alone; they share the data order)."""

    def __init__(self, members: list[Forecaster]) -> None:
        super().__init__()
        self.members = nn.ModuleList(members)
        self.kind = members[0].kind

    def forward(self, x: Tensor) -> Tensor:
        """The members' mean forecast ``(B, H, F_out)``."""
        return torch.stack([member(x) for member in self.members]).mean(dim=0)

    def loss(self, x: Tensor, y: Tensor, **_: Any) -> Tensor:
        """The mean of the members' losses."""
        return torch.stack([member.loss(x, y) for member in self.members]).mean()
