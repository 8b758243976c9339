"""The training loop: full or truncated BPTT, clipping, optimizers, schedules, early stopping.

::

    config = TrainConfig(epochs=20, optimizer="adamw", lr=3e-3, schedule="cosine",
                         warmup_steps=100, early_stopping_patience=3, seed=0)
    trainer = Trainer(model, config)            # seeds everything, builds the optimizer
    loader = DataLoader(data, batch_size=32, shuffle=True, generator=trainer.generator)
    history = trainer.fit(loader, valid_loader)  # rows of epoch, train_loss, valid_loss, lr, ...

A batch is whatever the data gives (a dict, a tuple, a tensor); by default it is passed to the
model's own ``loss`` method (``model.loss(**batch)`` or ``model.loss(*batch)``), so every
structure of :mod:`rnnkit.structures` trains as it is. ``loss_fn(model, batch) -> loss``
replaces that.

Truncated BPTT (``bptt=K``) is for streams: each batch holds ``B`` long sequences ``(B, T, ...)``
that are cut into chunks of ``K`` steps. The model continues from the state the previous chunk
left, detached (:func:`rnnkit.detach_state`) so each backward stops at the chunk's start, and
the optimizer steps once per chunk. The state is carried across the batches of an epoch (they
continue the same ``B`` streams) and reset at every epoch's start.

The trainer's own state (:meth:`Trainer.state_dict`: epoch, step, best metric, optimizer,
schedule, every random generator) is tensors and plain values, so a checkpoint saved at an
epoch's end with ``torch.save`` loads with ``weights_only=True`` and resumes exactly.
"""

from __future__ import annotations

import math
import random
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from rnnkit.checks import is_int, is_number
from rnnkit.rng import rng_state, set_rng_state
from rnnkit.state import detach_state

__all__ = [
    "COUNT_KEYS",
    "OPTIMIZERS",
    "SCHEDULES",
    "Callback",
    "History",
    "LRSchedule",
    "TrainConfig",
    "Trainer",
    "build_optimizer",
    "default_loss",
    "default_stream_loss",
    "evaluating",
    "seed_everything",
    "split_stream",
]

OPTIMIZERS = ("adam", "adamw", "sgd")
SCHEDULES = ("none", "plateau", "cosine")
MODES = ("min", "max")
DEVICES = ("cpu", "cuda")
# Keys a dict batch may carry to say how much it holds; removed before the loss sees it.
COUNT_KEYS = ("num_examples", "num_tokens")

Batch = Any
LossFn = Callable[[nn.Module, Batch], Tensor]
StreamLossFn = Callable[[nn.Module, Batch, Any], tuple[Tensor, Any]]
EvaluateFn = Callable[[nn.Module, Iterable[Batch]], Mapping[str, float]]


# ---------------------------------------------------------------------- configuration


def _require(name: str, ok: bool, expected: str, value: object) -> None:
    if not ok:
        raise ValueError(f"{name} must be {expected}, got {value!r}")


@dataclass
class TrainConfig:
    """Everything the training loop needs to know; every field is checked on creation.

    Attributes:
        epochs: passes over the training batches (>= 1).
        optimizer: ``"adam"``, ``"adamw"`` or ``"sgd"``.
        lr: the peak learning rate (> 0).
        weight_decay: L2 penalty (Adam, SGD) or decoupled decay (AdamW), >= 0.
        momentum: SGD momentum in ``[0, 1)``; only for ``optimizer="sgd"``.
        clip_norm: rescale the gradients so their global L2 norm is at most this; ``None``
            or 0 turns it off.
        clip_value: clamp every gradient element to ``[-v, v]`` (applied before
            ``clip_norm``); ``None`` or 0 turns it off.
        schedule: after the warm-up, ``"none"`` (constant), ``"cosine"`` (down to
            ``min_lr`` at ``total_steps``) or ``"plateau"`` (times ``plateau_factor`` once
            the monitored metric has not improved for more than ``plateau_patience`` epochs).
        warmup_steps: optimizer steps of linear warm-up: step ``s`` uses ``lr·(s+1)/W``.
        total_steps: the cosine's length in optimizer steps; by default ``epochs`` times the
            steps of an epoch (the number of batches, times the chunks of a batch with
            ``bptt``).
        plateau_patience, plateau_factor: see ``schedule``.
        min_lr: the floor of the cosine and plateau schedules.
        early_stopping_patience: stop after this many epochs without improvement of the
            monitored metric and restore the best weights; ``None`` turns it off.
        monitor: the history column watched by early stopping and the plateau schedule,
            e.g. ``"valid_loss"`` or ``"valid_accuracy"`` (valid metrics get ``valid_``).
        mode: ``"min"`` or ``"max"``: whether a smaller or larger ``monitor`` is better.
            Of two epochs with an equal ``monitor`` (an accuracy or F1), the one with the
            lower ``valid_loss`` is the better.
        min_delta: the least change that counts as an improvement.
        bptt: truncated BPTT over chunks of this many steps; ``None`` is full BPTT.
        seed: seeds Python, NumPy and torch and the data-order generator; ``None`` does not.
        device: ``"cpu"`` or ``"cuda"``.
        amp: mixed precision (autocast and a gradient scaler); honoured on CUDA only.
    """

    epochs: int = 10
    optimizer: str = "adam"
    lr: float = 1e-3
    weight_decay: float = 0.0
    momentum: float = 0.0
    clip_norm: float | None = 5.0
    clip_value: float | None = None
    schedule: str = "none"
    warmup_steps: int = 0
    total_steps: int | None = None
    plateau_patience: int = 2
    plateau_factor: float = 0.5
    min_lr: float = 0.0
    early_stopping_patience: int | None = None
    monitor: str = "valid_loss"
    mode: str = "min"
    min_delta: float = 0.0
    bptt: int | None = None
    seed: int | None = 0
    device: str = "cpu"
    amp: bool = False

    def __post_init__(self) -> None:
        epochs = self.epochs
        _require("epochs", is_int(epochs) and epochs >= 1, "an integer >= 1", epochs)
        _require("optimizer", self.optimizer in OPTIMIZERS, f"one of {OPTIMIZERS}", self.optimizer)
        _require("lr", is_number(self.lr) and self.lr > 0, "a finite number > 0", self.lr)
        for name in ("weight_decay", "min_lr", "min_delta"):
            value = getattr(self, name)
            _require(name, is_number(value) and value >= 0, "a finite number >= 0", value)
        momentum = self.momentum
        _require("momentum", is_number(momentum) and 0 <= momentum < 1, "in [0, 1)", momentum)
        if momentum and self.optimizer != "sgd":
            raise ValueError(f"momentum applies to optimizer='sgd' only, not {self.optimizer!r}")
        for name in ("clip_norm", "clip_value"):
            value = getattr(self, name)
            ok = value is None or (is_number(value) and value >= 0)
            _require(name, ok, "None or a finite number >= 0", value)
        _require("schedule", self.schedule in SCHEDULES, f"one of {SCHEDULES}", self.schedule)
        for name in ("warmup_steps", "plateau_patience"):
            value = getattr(self, name)
            _require(name, is_int(value) and value >= 0, "an integer >= 0", value)
        factor = self.plateau_factor
        _require("plateau_factor", is_number(factor) and 0 < factor < 1, "in (0, 1)", factor)
        for name in ("total_steps", "early_stopping_patience", "bptt"):
            value = getattr(self, name)
            ok = value is None or (is_int(value) and value >= 1)
            _require(name, ok, "None or an integer >= 1", value)
        _require("monitor", isinstance(self.monitor, str) and self.monitor, "a name", self.monitor)
        _require("mode", self.mode in MODES, f"one of {MODES}", self.mode)
        seed = self.seed
        ok = seed is None or (is_int(seed) and 0 <= seed < 2**32)  # NumPy's seed range
        _require("seed", ok, "None or an integer in [0, 2**32)", seed)
        _require("device", self.device in DEVICES, f"one of {DEVICES}", self.device)
        if self.device == "cuda" and not torch.cuda.is_available():
            raise ValueError("device='cuda' but CUDA is not available here; use device='cpu'")
        _require("amp", isinstance(self.amp, bool), "True or False", self.amp)


# ---------------------------------------------------------------------- random generators
def seed_everything(seed: int) -> torch.Generator:
    """Seed Python's, NumPy's and torch's (CPU and CUDA) global generators with ``seed``.

    Returns a new ``torch.Generator`` seeded with ``seed`` for the data order: give it to
    ``DataLoader(..., shuffle=True, generator=...)`` so the order is reproducible and, being
    separate from the global generator, part of the trainer's saved state.
    """
    _require("seed", is_int(seed) and 0 <= seed < 2**32, "an integer in [0, 2**32)", seed)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device
    return torch.Generator().manual_seed(seed)


# ---------------------------------------------------------------------- optimizer, schedule
def build_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    """The optimizer ``config`` names, over the model's trainable parameters."""
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("the model has no trainable parameters")
    if config.optimizer == "adam":
        return torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay)
    if config.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    return torch.optim.SGD(
        params, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay
    )


class _Best:
    """The best value of a metric so far, its epoch, and the epochs since it improved.

    ``tie``, a loss given with each value, settles equal values: the lower one wins. A small
    validation set's accuracy or F1 often stays equal for epochs while the model still
    improves (its loss falls); without it the first of them would be kept. Such an epoch
    restarts the patience too, except at ``perfect`` (an accuracy or F1 of 1): there the
    loss only falls as the model grows surer of what it already gets right, which it would
    do for every epoch of the budget.
    """

    def __init__(self, mode: str, min_delta: float, perfect: float | None = None) -> None:
        self.mode, self.min_delta, self.perfect = mode, min_delta, perfect
        self.value: float | None = None
        self.tie: float | None = None
        self.epoch: int | None = None
        self.bad_epochs = 0

    def update(self, value: float, epoch: int, tie: float | None = None) -> bool:
        """Record the epoch's ``value`` (and ``tie``); return whether it improved on the best."""
        if math.isnan(value):
            improved = False
        elif self.value is None:
            improved = True
        elif self.mode == "min":
            improved = value < self.value - self.min_delta
        else:
            improved = value > self.value + self.min_delta
        patient = improved
        if not improved and value == self.value and None not in (tie, self.tie):
            improved = tie < self.tie
            patient = improved and value != self.perfect
        if improved:
            self.value, self.tie, self.epoch = value, tie, epoch
        self.bad_epochs = 0 if patient else self.bad_epochs + 1
        return improved

    def state_dict(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "tie": self.tie,
            "epoch": self.epoch,
            "bad_epochs": self.bad_epochs,
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.value, self.epoch = state["value"], state["epoch"]
        self.tie = state.get("tie")  # absent from checkpoints made before it
        self.bad_epochs = state["bad_epochs"]


class LRSchedule:
    """The learning rate of every optimizer step: linear warm-up, then the chosen schedule.

    ``lr(s) = warm(s) · after(s)`` for each parameter group with peak rate ``base``:
    ``warm(s) = min(1, (s+1)/W)``; ``after`` is ``base`` (``"none"``),
    ``min_lr + (base - min_lr)·(1 + cos(π·p))/2`` with ``p = (s - W)/(total - W)`` clamped to
    ``[0, 1]`` (``"cosine"``), or ``max(base·scale, min_lr)`` where ``scale`` is multiplied by
    ``plateau_factor`` at each plateau (``"plateau"``).
    """

    def __init__(self, optimizer: torch.optim.Optimizer, config: TrainConfig) -> None:
        self.optimizer = optimizer
        self.base_lrs = [group["lr"] for group in optimizer.param_groups]
        self.kind, self.warmup_steps = config.schedule, config.warmup_steps
        self.total_steps = config.total_steps
        self.factor, self.patience, self.min_lr = (
            config.plateau_factor,
            config.plateau_patience,
            config.min_lr,
        )
        self.scale = 1.0
        self.plateau = _Best(config.mode, config.min_delta)

    def lrs_at(self, step: int) -> list[float]:
        """The learning rate of each parameter group at optimizer step ``step`` (from 0)."""
        warm = min(1.0, (step + 1) / self.warmup_steps) if self.warmup_steps else 1.0
        lrs = []
        for base in self.base_lrs:
            if self.kind == "cosine":
                if self.total_steps is None:
                    raise ValueError("the cosine schedule needs total_steps")
                span = max(self.total_steps - self.warmup_steps, 1)
                progress = min(max((step - self.warmup_steps) / span, 0.0), 1.0)
                after = self.min_lr + (base - self.min_lr) * (1 + math.cos(math.pi * progress)) / 2
            elif self.kind == "plateau":
                after = max(base * self.scale, self.min_lr)
            else:
                after = base
            lrs.append(warm * after)
        return lrs

    def apply(self, step: int) -> None:
        """Set the optimizer's learning rates for step ``step``."""
        for group, lr in zip(self.optimizer.param_groups, self.lrs_at(step), strict=True):
            group["lr"] = lr

    def epoch_end(self, value: float, epoch: int) -> None:
        """Feed the monitored metric; a plateau longer than the patience lowers the rate."""
        if self.kind != "plateau":
            return
        if not self.plateau.update(value, epoch) and self.plateau.bad_epochs > self.patience:
            self.scale *= self.factor
            self.plateau.bad_epochs = 0

    def state_dict(self) -> dict[str, Any]:
        return {
            "base_lrs": list(self.base_lrs),
            "total_steps": self.total_steps,
            "scale": self.scale,
            "plateau": self.plateau.state_dict(),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        # The peak rates and the cosine's length are the config's, not the checkpoint's: a run
        # resumed for more epochs stretches its cosine over them from where it is (with the
        # old length it would train at min_lr for every added epoch); resumed as it was, both
        # are the same as saved.
        self.scale = state["scale"]
        self.plateau.load_state_dict(state["plateau"])


# ---------------------------------------------------------------------- batches
def _map_tensors(batch: Batch, fn: Callable[[Tensor], Any]) -> Batch:
    """``batch`` with ``fn`` applied to every tensor inside dicts, tuples and lists."""
    if isinstance(batch, Tensor):
        return fn(batch)
    if isinstance(batch, Mapping):
        return {key: _map_tensors(value, fn) for key, value in batch.items()}
    if isinstance(batch, tuple) and hasattr(batch, "_fields"):  # a namedtuple, as collated
        return type(batch)(*(_map_tensors(value, fn) for value in batch))
    if isinstance(batch, (tuple, list)):
        return type(batch)(_map_tensors(value, fn) for value in batch)
    return batch


def _tensors(batch: Batch) -> Iterator[Tensor]:
    if isinstance(batch, Tensor):
        yield batch
    elif isinstance(batch, Mapping):
        for value in batch.values():
            yield from _tensors(value)
    elif isinstance(batch, (tuple, list)):
        for value in batch:
            yield from _tensors(value)


def _batch_size(batch: Batch) -> int:
    """The leading size of the batch's first tensor with a dimension (0 if none)."""
    for tensor in _tensors(batch):
        if tensor.dim() > 0:
            return tensor.shape[0]
    return 0


def _split_counts(batch: Batch) -> tuple[Batch, dict[str, int]]:
    """Take the :data:`COUNT_KEYS` out of a dict batch."""
    if not isinstance(batch, Mapping) or not any(key in batch for key in COUNT_KEYS):
        return batch, {}
    counts = {key: int(batch[key]) for key in COUNT_KEYS if key in batch}
    return {key: value for key, value in batch.items() if key not in COUNT_KEYS}, counts


def split_stream(batch: Batch, steps: int) -> list[Batch]:
    """Cut a stream batch into chunks of ``steps`` time steps (the last may be shorter).

    Every tensor of at least two dimensions ``(B, T, ...)`` is split along dimension 1 (they
    must share ``T``); smaller ones (e.g. a condition ``(B,)``) are repeated in every chunk,
    and so is a dict batch's ``"condition"`` of any shape (a vector condition ``(B, C)``).
    """
    if isinstance(batch, Mapping) and "condition" in batch:
        rest = {key: value for key, value in batch.items() if key != "condition"}
        return [{**chunk, "condition": batch["condition"]} for chunk in split_stream(rest, steps)]
    streams = [t for t in _tensors(batch) if t.dim() >= 2]
    if not streams:
        raise ValueError("a stream batch needs tensors (B, T, ...) to split along time")
    lengths = {t.shape[1] for t in streams}
    if len(lengths) != 1:
        raise ValueError(f"the streams of a batch must share their length T, got {lengths}")
    total = lengths.pop()
    return [
        _map_tensors(batch, lambda t, s=start: t[:, s : s + steps] if t.dim() >= 2 else t)
        for start in range(0, total, steps)
    ]


def _chunk_tokens(chunk: Batch) -> int:
    """``B·K`` of a stream chunk: its first stream tensor's batch and time sizes."""
    for tensor in _tensors(chunk):
        if tensor.dim() >= 2:
            return tensor.shape[0] * tensor.shape[1]
    return 0


class _Prepared:
    """A re-iterable view of ``batches`` without count keys, moved to ``device``."""

    def __init__(self, batches: Iterable[Batch], device: torch.device) -> None:
        self.batches, self.device = batches, device

    def __iter__(self) -> Iterator[Batch]:
        for batch in self.batches:
            batch, _ = _split_counts(batch)
            yield _map_tensors(batch, lambda t: t.to(self.device))

    def __len__(self) -> int:
        return len(self.batches)  # type: ignore[arg-type]


@contextmanager
def evaluating(model: nn.Module) -> Iterator[nn.Module]:
    """``model`` in eval mode (dropout off) without autograd; its training mode is restored
    afterwards, also on an error."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield model
    finally:
        model.train(was_training)


def default_loss(model: nn.Module, batch: Batch) -> Tensor:
    """``model.loss(**batch)`` for a dict, ``model.loss(*batch)`` for a tuple or list, else
    ``model.loss(batch)``: the ``loss`` method every rnnkit structure has."""
    if isinstance(batch, Mapping):
        return model.loss(**batch)
    if isinstance(batch, (tuple, list)):
        return model.loss(*batch)
    return model.loss(batch)


def default_stream_loss(model: nn.Module, chunk: Batch, state: Any) -> tuple[Tensor, Any]:
    """A chunk's ``(loss, final state)`` given the carried ``state``, from
    ``model.loss(..., state=state, return_state=True)`` (e.g. a
    :class:`~rnnkit.structures.SequenceGenerator` language model)."""
    if isinstance(chunk, Mapping):
        return model.loss(**chunk, state=state, return_state=True)
    if isinstance(chunk, (tuple, list)):
        return model.loss(*chunk, state=state, return_state=True)
    return model.loss(chunk, state=state, return_state=True)


# ---------------------------------------------------------------------- hooks and history
class Callback:
    """Hooks into :meth:`Trainer.fit`; override the ones you need (all do nothing here).

    A progress bar uses ``on_step_end``; a checkpoint ``on_epoch_end`` (with
    :meth:`Trainer.state_dict`); any hook may set ``trainer.should_stop = True`` to end
    training after the current epoch.
    """

    def on_fit_start(self, trainer: Trainer) -> None:
        """Before the first epoch of a :meth:`Trainer.fit` call."""

    def on_epoch_start(self, trainer: Trainer, epoch: int) -> None:
        """Before epoch ``epoch`` (from 1), e.g. to set a distributed sampler's epoch."""

    def on_before_step(self, trainer: Trainer) -> None:
        """After the backward pass and clipping, before ``optimizer.step()``."""

    def on_step_end(self, trainer: Trainer, loss: float, count: int) -> None:
        """After an optimizer step on ``count`` examples (tokens with ``bptt``)."""

    def on_epoch_end(self, trainer: Trainer, row: dict[str, float]) -> None:
        """After an epoch's validation, with its history row."""

    def on_fit_end(self, trainer: Trainer, history: History) -> None:
        """After training (and restoring the best weights, with early stopping)."""


@dataclass
class History:
    """One row per epoch, and the best epoch of the monitored metric.

    A row has ``epoch``, ``train_loss``, each validation metric as ``valid_<name>``, ``lr``
    (of the epoch's last step), ``time`` in seconds, ``examples_per_s`` and, when known
    (``bptt``, or a ``num_tokens`` key in dict batches), ``tokens_per_s``.
    """

    rows: list[dict[str, float]] = field(default_factory=list)
    monitor: str = "valid_loss"
    best_epoch: int | None = None
    best_value: float | None = None
    stopped_early: bool = False
    #: the epoch whose training loss was NaN or infinite (training stopped there), if any
    diverged: int | None = None

    def column(self, name: str) -> list[float]:
        """The values of ``name`` over the epochs that have it."""
        return [row[name] for row in self.rows if name in row]

    def state_dict(self) -> dict[str, Any]:
        return {
            "rows": [dict(row) for row in self.rows],
            "monitor": self.monitor,
            "best_epoch": self.best_epoch,
            "best_value": self.best_value,
            "stopped_early": self.stopped_early,
            "diverged": self.diverged,
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.rows = [dict(row) for row in state["rows"]]
        self.monitor, self.best_epoch = state["monitor"], state["best_epoch"]
        self.best_value, self.stopped_early = state["best_value"], state["stopped_early"]
        self.diverged = state.get("diverged")  # absent from checkpoints made before it


# ---------------------------------------------------------------------- the trainer
class Trainer:
    """Trains ``model`` with ``config``: optimizer, clipping, schedule, early stopping, seeds.

    Args:
        model: any module; moved to ``config.device``.
        config: the :class:`TrainConfig` (default: its defaults).
        loss_fn: ``loss_fn(model, batch) -> scalar loss`` (default :func:`default_loss`);
            with ``config.bptt``, ``loss_fn(model, chunk, state) -> (loss, state)``
            (default :func:`default_stream_loss`).
        callbacks: :class:`Callback` objects, called in order.

    Creating a trainer seeds everything with ``config.seed`` (build the model before or
    after, under :func:`seed_everything`, as you like) and makes :attr:`generator`, the
    data-order generator to shuffle with.
    """

    def __init__(
        self,
        model: nn.Module,
        config: TrainConfig | None = None,
        loss_fn: LossFn | StreamLossFn | None = None,
        *,
        callbacks: Sequence[Callback] = (),
    ) -> None:
        self.config = config = TrainConfig() if config is None else config
        self.device = torch.device(config.device)
        self.model = model.to(self.device)
        self.bptt = config.bptt
        if loss_fn is None:
            loss_fn = default_loss if self.bptt is None else default_stream_loss
        self.loss_fn = loss_fn
        self.callbacks = list(callbacks)
        if config.seed is not None:
            self.generator = seed_everything(config.seed)
        else:
            self.generator = torch.Generator()
            self.generator.seed()  # a fresh non-deterministic seed
        self.optimizer = build_optimizer(self.model, config)
        self.schedule = LRSchedule(self.optimizer, config)
        self.use_amp = config.amp and self.device.type == "cuda"
        if config.amp and not self.use_amp:
            warnings.warn("amp=True is only honoured on CUDA; training in float32", stacklevel=2)
        self.scaler = torch.amp.GradScaler("cuda") if self.use_amp else None
        self.epoch = 0  # completed epochs
        self.global_step = 0  # optimizer steps taken
        # a fraction that cannot be bettered (tag's F1 and classify's accuracy are fractions)
        perfect = 1.0 if config.monitor.endswith(("accuracy", "f1")) else None
        self.best = _Best(config.mode, config.min_delta, perfect if config.mode == "max" else None)
        self.best_weights: dict[str, Tensor] | None = None
        self.history = History(monitor=config.monitor)
        self.should_stop = False
        self._batches_per_epoch: int | None = None

    # ------------------------------------------------------------------ fitting
    def fit(
        self,
        train_batches: Iterable[Batch],
        valid_batches: Iterable[Batch] | None = None,
        evaluate: EvaluateFn | None = None,
    ) -> History:
        """Train from the current epoch up to ``config.epochs`` (or an early stop).

        Args:
            train_batches: re-iterable batches (e.g. a ``DataLoader``), read once an epoch.
            valid_batches: evaluated after every epoch, if given.
            evaluate: ``evaluate(model, batches) -> {name: value}`` (called in eval mode
                without autograd, on batches moved to the device); default: the mean loss,
                ``{"loss": ...}``. Its metrics enter the history as ``valid_<name>``.

        Returns:
            :attr:`history`, which also holds the epochs of earlier calls (after a resume).
        """
        self._check_inputs(train_batches, valid_batches, evaluate)
        self.should_stop = False
        self._resolve_total_steps(train_batches)
        self._call("on_fit_start")
        while self.epoch < self.config.epochs and not self.should_stop:
            epoch = self.epoch + 1
            self._call("on_epoch_start", epoch)
            start = time.perf_counter()
            train_loss, examples, tokens = self._train_epoch(train_batches)
            elapsed = time.perf_counter() - start
            row: dict[str, float] = {"epoch": epoch, "train_loss": train_loss}
            if valid_batches is not None:
                metrics = self.evaluate(valid_batches, evaluate)
                row.update({f"valid_{name}": float(value) for name, value in metrics.items()})
            row["lr"] = self.optimizer.param_groups[0]["lr"]
            row["time"] = elapsed
            if elapsed > 0:
                row["examples_per_s"] = examples / elapsed
                if tokens:
                    row["tokens_per_s"] = tokens / elapsed
            self.epoch = epoch
            self._watch(row)
            self.history.rows.append(row)
            self._call("on_epoch_end", row)
            if not math.isfinite(train_loss):  # the weights are NaN now: nothing to gain
                self.history.diverged = epoch
                self.should_stop = True
        if self.config.early_stopping_patience is not None and self.best_weights is not None:
            self.model.load_state_dict(self.best_weights)
        self._call("on_fit_end", self.history)
        return self.history

    def evaluate(
        self, batches: Iterable[Batch], evaluate: EvaluateFn | None = None
    ) -> dict[str, float]:
        """Metrics of the model on ``batches`` in eval mode without autograd (see :meth:`fit`)."""
        with evaluating(self.model), self._autocast():
            prepared = _Prepared(batches, self.device)
            if evaluate is not None:
                metrics = evaluate(self.model, prepared)
                return {name: float(value) for name, value in metrics.items()}
            return {"loss": self._mean_loss(prepared)}

    def _mean_loss(self, batches: Iterable[Batch]) -> float:
        """The loss averaged over examples (tokens with ``bptt``), state carried as in training."""
        total, count, state = 0.0, 0, None
        for batch in batches:
            if self.bptt is None:
                n = _batch_size(batch)
                total += float(self.loss_fn(self.model, batch)) * n
                count += n
                continue
            for chunk in split_stream(batch, self.bptt):
                loss, state = self.loss_fn(self.model, chunk, state)
                n = _chunk_tokens(chunk)
                total, count = total + float(loss) * n, count + n
        if count == 0:
            raise ValueError("no validation examples: the batches are empty")
        return total / count

    def _train_epoch(self, batches: Iterable[Batch]) -> tuple[float, int, int]:
        """One pass over ``batches``: the weighted mean loss, the examples and tokens seen."""
        self.model.train()
        total, weight, examples, tokens = 0.0, 0, 0, 0
        state = None  # truncated BPTT: every epoch starts from the initial state
        for raw in batches:
            batch, counts = _split_counts(raw)
            batch = _map_tensors(batch, lambda t: t.to(self.device))
            size = counts.get("num_examples", _batch_size(batch))
            examples += size
            if self.bptt is None:
                loss = self._step(self._forward(batch))
                total, weight = total + loss * size, weight + size
                tokens += counts.get("num_tokens", 0)
                self._call("on_step_end", loss, size)
                continue
            chunks = split_stream(batch, self.bptt)
            self._count_chunks(len(chunks))
            for chunk in chunks:
                with self._autocast():
                    loss_tensor, state = self.loss_fn(self.model, chunk, state)
                loss = self._step(loss_tensor)
                state = None if state is None else detach_state(state)  # cut the graph here
                n = _chunk_tokens(chunk)
                total, weight, tokens = total + loss * n, weight + n, tokens + n
                self._call("on_step_end", loss, n)
        if weight == 0:
            raise ValueError("no training examples: the training batches are empty")
        return total / weight, examples, tokens

    def _forward(self, batch: Batch) -> Tensor:
        with self._autocast():
            return self.loss_fn(self.model, batch)

    def _step(self, loss: Tensor) -> float:
        """Backward, clip and step the optimizer at the scheduled rate; the loss as a float."""
        if not isinstance(loss, Tensor) or loss.dim() != 0:
            got = tuple(loss.shape) if isinstance(loss, Tensor) else type(loss).__name__
            raise ValueError(f"the loss must be a scalar tensor, got {got}")
        self.schedule.apply(self.global_step)
        self.optimizer.zero_grad(set_to_none=True)
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
            self.scaler.unscale_(self.optimizer)  # clip the true gradients, not scaled ones
        else:
            loss.backward()
        self._clip()
        self._call("on_before_step")
        if self.scaler is not None:
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            self.optimizer.step()
        self.global_step += 1
        return float(loss.detach())

    def _clip(self) -> None:
        params = [p for group in self.optimizer.param_groups for p in group["params"]]
        if self.config.clip_value:
            nn.utils.clip_grad_value_(params, self.config.clip_value)
        if self.config.clip_norm:
            nn.utils.clip_grad_norm_(params, self.config.clip_norm)

    def _autocast(self) -> torch.autocast:
        return torch.autocast(device_type=self.device.type, enabled=self.use_amp)

    def _check_inputs(
        self,
        train_batches: Iterable[Batch],
        valid_batches: Iterable[Batch] | None,
        evaluate: EvaluateFn | None,
    ) -> None:
        """What would otherwise fail only after a whole epoch of training."""
        for name, batches in (("train_batches", train_batches), ("valid_batches", valid_batches)):
            if isinstance(batches, Iterator):  # a generator: used up by the first epoch
                raise ValueError(
                    f"{name} must be re-iterable, read once an epoch (a list, a DataLoader), "
                    f"not a one-pass {type(batches).__name__}"
                )
        config = self.config
        watched = config.early_stopping_patience is not None or config.schedule == "plateau"
        if not watched or not config.monitor.startswith("valid_"):
            return
        if valid_batches is None:
            raise ValueError(
                f"monitor={config.monitor!r} needs valid_batches (or monitor another column)"
            )
        if evaluate is None and config.monitor != "valid_loss":
            raise ValueError(
                f"monitor={config.monitor!r}: without an evaluate function the validation "
                "metrics are the loss alone (valid_loss); pass evaluate=... returning "
                f"{config.monitor.removeprefix('valid_')!r}"
            )

    def _resolve_total_steps(self, train_batches: Iterable[Batch]) -> None:
        """Give the cosine schedule its length: epochs × steps of an epoch, unless set.

        With ``bptt`` the chunks of a batch are only known from the first batch (streams keep
        their length), so :meth:`_train_epoch` finishes the count; peeking here would draw
        from the data-order generator.
        """
        self._batches_per_epoch = None
        if self.config.schedule != "cosine" or self.config.total_steps is not None:
            return
        self.schedule.total_steps = None  # counted for this fit's epochs (more on a resume)
        try:
            self._batches_per_epoch = len(train_batches)  # type: ignore[arg-type]
        except TypeError:
            raise ValueError(
                "the cosine schedule needs total_steps when the training batches have no len()"
            ) from None
        if self.bptt is None:
            self.schedule.total_steps = max(self.config.epochs * self._batches_per_epoch, 1)

    def _count_chunks(self, chunks: int) -> None:
        """Finish the cosine's length from the chunks of the first stream batch."""
        if self.schedule.total_steps is None and self._batches_per_epoch is not None:
            steps = self.config.epochs * self._batches_per_epoch * chunks
            self.schedule.total_steps = max(steps, 1)

    def _watch(self, row: dict[str, float]) -> None:
        """Track the monitored metric: best epoch, best weights, plateau, early stop."""
        config = self.config
        value = row.get(config.monitor)
        if value is None:
            if config.early_stopping_patience is not None or config.schedule == "plateau":
                raise ValueError(
                    f"monitor={config.monitor!r} is not among the epoch's metrics "
                    f"{sorted(row)}; give valid_batches or monitor another column"
                )
            return
        tie = row.get("valid_loss") if config.monitor != "valid_loss" else None
        if self.best.update(value, self.epoch, tie):
            self.history.best_epoch, self.history.best_value = self.epoch, value
            if config.early_stopping_patience is not None:
                self.best_weights = {
                    name: tensor.detach().clone()
                    for name, tensor in self.model.state_dict().items()
                }
        self.schedule.epoch_end(value, self.epoch)
        patience = config.early_stopping_patience
        if patience is not None and self.best.bad_epochs >= patience:
            self.should_stop = True
            self.history.stopped_early = True

    def _call(self, hook: str, *args: Any) -> None:
        for callback in self.callbacks:
            getattr(callback, hook)(self, *args)

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        """The trainer's state (not the model's weights) as tensors and plain values.

        Taken between epochs (e.g. in ``on_epoch_end``), it resumes training exactly.
        """
        return {
            "epoch": self.epoch,
            "global_step": self.global_step,
            "best": self.best.state_dict(),
            "best_weights": self.best_weights,
            "history": self.history.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "schedule": self.schedule.state_dict(),
            "scaler": None if self.scaler is None else self.scaler.state_dict(),
            "rng": rng_state(self.generator),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore :meth:`state_dict` (load the model's weights separately)."""
        self.epoch, self.global_step = state["epoch"], state["global_step"]
        self.best.load_state_dict(state["best"])
        weights = state["best_weights"]
        self.best_weights = None if weights is None else dict(weights)
        self.history.load_state_dict(state["history"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.schedule.load_state_dict(state["schedule"])
        if self.scaler is not None and state["scaler"] is not None:
            self.scaler.load_state_dict(state["scaler"])
        set_rng_state(state["rng"], self.generator)
