"""The training loop: optimizers, clipping, schedules, early stopping, seeding, exact resume
and truncated BPTT."""

from __future__ import annotations

import dataclasses
import io
import math
import random

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import DataLoader, TensorDataset

import rnnkit
from rnnkit.structures import SequenceClassifier, SequenceGenerator
from rnnkit.train import (
    Callback,
    LRSchedule,
    TrainConfig,
    Trainer,
    seed_everything,
    split_stream,
)


# ---------------------------------------------------------------------- helpers
class Regressor(nn.Module):
    """A linear model with the ``loss`` method the trainer calls by default."""

    def __init__(self, features: int = 3, dropout: float = 0.0) -> None:
        super().__init__()
        self.linear = nn.Linear(features, 1)
        self.dropout = nn.Dropout(dropout)

    def loss(self, x: Tensor, y: Tensor) -> Tensor:
        return F.mse_loss(self.linear(self.dropout(x)).squeeze(1), y)


class StreamModel(nn.Module):
    """An LSTM regressor over float frames that continues from a given state."""

    def __init__(self) -> None:
        super().__init__()
        self.rnn = rnnkit.LSTM(2, 4)
        self.head = nn.Linear(4, 1)

    def loss(self, x: Tensor, y: Tensor, state=None, return_state: bool = False):
        out, state = self.rnn(x, state)
        loss = F.mse_loss(self.head(out), y)
        return (loss, state) if return_state else loss


class Recorder(Callback):
    """Records what a test needs at each hook."""

    def __init__(self, before_step=None, epoch_end=None) -> None:
        self.before_step, self.epoch_end = before_step, epoch_end

    def on_before_step(self, trainer: Trainer) -> None:
        if self.before_step is not None:
            self.before_step(trainer)

    def on_epoch_end(self, trainer: Trainer, row: dict[str, float]) -> None:
        if self.epoch_end is not None:
            self.epoch_end(trainer, row)


def regression_data(n: int = 64, seed: int = 0) -> TensorDataset:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 3, generator=g)
    y = x @ torch.tensor([1.5, -2.0, 0.5]) + 0.3
    return TensorDataset(x, y)


def scripted(values):
    """An ``evaluate`` returning the next of ``values`` as the loss at each call."""
    it = iter(values)
    return lambda model, batches: {"loss": next(it)}


def grads(model: nn.Module) -> list[Tensor]:
    return [p.grad for p in model.parameters() if p.grad is not None]


def graph_size(tensor: Tensor) -> int:
    """Number of autograd nodes reachable from ``tensor``."""
    seen, todo = set(), [tensor.grad_fn]
    while todo:
        node = todo.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        todo.extend(next_node for next_node, _ in node.next_functions)
    return len(seen)


# ---------------------------------------------------------------------- learning
@pytest.mark.parametrize(
    ("optimizer", "lr", "momentum"), [("adam", 0.1, 0.0), ("adamw", 0.1, 0.0), ("sgd", 0.05, 0.9)]
)
def test_learns_linear_regression_with_each_optimizer(optimizer, lr, momentum):
    config = TrainConfig(epochs=25, optimizer=optimizer, lr=lr, momentum=momentum, seed=0)
    trainer = Trainer(Regressor(), config)
    loader = DataLoader(regression_data(), batch_size=16, shuffle=True, generator=trainer.generator)
    history = trainer.fit(loader, loader)
    losses = history.column("train_loss")
    assert len(losses) == 25
    assert losses[-1] < 0.01 * losses[0]
    assert history.rows[-1]["valid_loss"] < 1e-2
    assert history.best_epoch is not None


def test_learns_parity_with_a_sequence_classifier_and_dict_batches():
    seed_everything(0)
    bits = torch.tensor([[(i >> k) & 1 for k in range(3)] for i in range(8)])  # (8, 3)
    data = [{"x": bits, "targets": bits.sum(1) % 2}]
    model = SequenceClassifier(2, vocab_size=2, embedding_dim=4, hidden_size=16, cell="gru")

    def accuracy(model, batches):
        right = sum(int((model.predict(b["x"]) == b["targets"]).sum()) for b in batches)
        return {"accuracy": right / sum(len(b["x"]) for b in batches)}

    config = TrainConfig(epochs=150, lr=0.03, monitor="valid_accuracy", mode="max")
    history = Trainer(model, config).fit(data, data, evaluate=accuracy)
    assert history.rows[-1]["valid_accuracy"] == 1.0
    assert history.best_value == 1.0


def test_default_evaluation_is_the_loss_averaged_over_examples():
    seed_everything(0)
    model = Regressor()
    x, y = regression_data(10).tensors
    batches = [(x[:7], y[:7]), (x[7:], y[7:])]  # unequal sizes: a plain mean would differ
    with torch.no_grad():
        expected = float(model.loss(x, y))
    assert Trainer(model, TrainConfig()).evaluate(batches)["loss"] == pytest.approx(expected)


def test_history_rows_and_throughput():
    x, y = regression_data(12).tensors
    batches = [{"x": x, "y": y, "num_tokens": 40}]
    history = Trainer(Regressor(), TrainConfig(epochs=2)).fit(batches)
    row = history.rows[0]
    assert row["epoch"] == 1 and {"train_loss", "lr", "time"} <= set(row)
    assert "valid_loss" not in row
    if row["time"] > 0:
        assert row["examples_per_s"] == pytest.approx(12 / row["time"])
        assert row["tokens_per_s"] == pytest.approx(40 / row["time"])


def test_the_loss_must_be_a_scalar():
    trainer = Trainer(Regressor(), TrainConfig(epochs=1), loss_fn=lambda m, b: torch.ones(2))
    with pytest.raises(ValueError, match="scalar"):
        trainer.fit([regression_data(4).tensors])


# ---------------------------------------------------------------------- clipping
def max_grad_norms(config: TrainConfig) -> list[float]:
    """The global gradient norm seen just before each optimizer step."""
    norms: list[float] = []

    def record(trainer: Trainer) -> None:
        norms.append(
            float(torch.linalg.vector_norm(torch.cat([g.flatten() for g in grads(trainer.model)])))
        )

    def big(model: nn.Module, batch) -> Tensor:
        return 1000.0 * model.loss(*batch)  # gradients far above the bound

    trainer = Trainer(Regressor(), config, loss_fn=big, callbacks=[Recorder(before_step=record)])
    trainer.fit(DataLoader(regression_data(), batch_size=16))
    return norms


def test_clip_norm_bounds_the_global_gradient_norm():
    clipped = max_grad_norms(TrainConfig(epochs=2, clip_norm=0.5, optimizer="sgd", lr=1e-4))
    assert max(clipped) <= 0.5 + 1e-5
    assert max(clipped) == pytest.approx(0.5, rel=1e-4)  # clipping was active
    unclipped = max_grad_norms(TrainConfig(epochs=2, clip_norm=None, optimizer="sgd", lr=1e-4))
    assert max(unclipped) > 0.5


def test_clip_value_bounds_every_gradient_element():
    seen: list[float] = []

    def record(trainer: Trainer) -> None:
        seen.append(max(float(g.abs().max()) for g in grads(trainer.model)))

    config = TrainConfig(epochs=1, clip_norm=0, clip_value=0.01, optimizer="sgd", lr=1e-4)
    trainer = Trainer(Regressor(), config, callbacks=[Recorder(before_step=record)])
    trainer.fit(DataLoader(regression_data(), batch_size=16))
    assert len(seen) == 4
    assert max(seen) == pytest.approx(0.01)  # the elements were clamped at exactly 0.01


# ---------------------------------------------------------------------- schedules
def step_lrs(config: TrainConfig, batches, **fit) -> list[float]:
    lrs: list[float] = []
    record = Recorder(before_step=lambda t: lrs.append(t.optimizer.param_groups[0]["lr"]))
    Trainer(Regressor(), config, callbacks=[record]).fit(batches, **fit)
    return lrs


def test_warmup_then_cosine_over_the_total_steps():
    batches = [regression_data(4, seed=i).tensors for i in range(3)]  # 3 steps an epoch
    config = TrainConfig(epochs=4, optimizer="sgd", lr=1.0, schedule="cosine", warmup_steps=4)
    lrs = step_lrs(config, batches)
    assert len(lrs) == 12  # total_steps = 4 epochs x 3 batches
    expected = [0.25, 0.5, 0.75, 1.0] + [(1 + math.cos(math.pi * s / 8)) / 2 for s in range(8)]
    assert lrs == pytest.approx(expected)


def test_cosine_reaches_min_lr_at_total_steps():
    optimizer = torch.optim.SGD(Regressor().parameters(), lr=2.0)
    config = TrainConfig(schedule="cosine", total_steps=10, min_lr=0.1, lr=2.0, optimizer="sgd")
    schedule = LRSchedule(optimizer, config)
    assert schedule.lrs_at(0) == pytest.approx([2.0])
    assert schedule.lrs_at(5) == pytest.approx([1.05])
    assert schedule.lrs_at(10) == pytest.approx([0.1])
    assert schedule.lrs_at(50) == pytest.approx([0.1])


def test_a_cosine_run_resumed_for_more_epochs_stretches_its_cosine_over_them():
    """Before, the checkpoint's cosine length came back with it: every added epoch ran at
    min_lr (0) and learnt nothing. Resumed as it was, the rates are the straight run's."""
    batches = [regression_data(4, seed=i).tensors for i in range(3)]  # 3 steps an epoch

    def resumed(first: int, then: int) -> list[float]:
        config = TrainConfig(epochs=first, optimizer="sgd", lr=1.0, schedule="cosine")
        trainer = Trainer(Regressor(), config)
        trainer.fit(batches)
        lrs: list[float] = []
        record = Recorder(before_step=lambda t: lrs.append(t.optimizer.param_groups[0]["lr"]))
        config = dataclasses.replace(config, epochs=then)
        again = Trainer(Regressor(), config, callbacks=[record])
        again.load_state_dict(trainer.state_dict())
        again.fit(batches)
        return lrs

    cosine = [(1 + math.cos(math.pi * s / 12)) / 2 for s in range(12)]  # over 4 epochs
    assert resumed(2, 4) == pytest.approx(cosine[6:])
    assert resumed(4, 4) == []  # nothing left to do
    straight = step_lrs(TrainConfig(epochs=2, optimizer="sgd", lr=1.0, schedule="cosine"), batches)
    assert straight == pytest.approx([(1 + math.cos(math.pi * s / 6)) / 2 for s in range(6)])


def test_plateau_lowers_the_rate_after_the_patience():
    config = TrainConfig(epochs=7, optimizer="sgd", lr=1e-3, schedule="plateau", plateau_patience=1)
    lrs: list[float] = []
    record = Recorder(epoch_end=lambda t, row: lrs.append(row["lr"]))
    # Improves at epochs 1-2, then flat: bad epochs 3, 4 (> patience 1) halve, 5, 6 halve.
    evaluate = scripted([5.0, 4.0, 4.0, 4.0, 4.0, 4.0, 4.0])
    trainer = Trainer(Regressor(), config, callbacks=[record])
    trainer.fit([regression_data(4).tensors], [regression_data(4).tensors], evaluate=evaluate)
    assert lrs == pytest.approx([1e-3, 1e-3, 1e-3, 1e-3, 5e-4, 5e-4, 2.5e-4])


def test_plateau_needs_the_monitored_metric():
    trainer = Trainer(Regressor(), TrainConfig(epochs=2, schedule="plateau"))
    with pytest.raises(ValueError, match="valid_loss"):
        trainer.fit([regression_data(4).tensors])  # no validation batches


# ---------------------------------------------------------------------- early stopping
def test_early_stopping_stops_and_restores_the_best_weights():
    snapshots: dict[int, dict[str, Tensor]] = {}

    def snapshot(trainer: Trainer, row) -> None:
        snapshots[row["epoch"]] = {k: v.clone() for k, v in trainer.model.state_dict().items()}

    config = TrainConfig(epochs=20, optimizer="sgd", lr=0.01, early_stopping_patience=2)
    trainer = Trainer(Regressor(), config, callbacks=[Recorder(epoch_end=snapshot)])
    data = [regression_data(8).tensors]
    history = trainer.fit(data, data, evaluate=scripted([3.0, 2.0, 1.0, 1.5, 2.5, 0.1]))
    assert len(history.rows) == 5  # epochs 4 and 5 did not improve on epoch 3
    assert history.stopped_early and history.best_epoch == 3 and history.best_value == 1.0
    final = trainer.model.state_dict()
    assert all(torch.equal(final[k], snapshots[3][k]) for k in final)
    assert not all(torch.equal(final[k], snapshots[5][k]) for k in final)


def test_without_early_stopping_the_last_weights_stay():
    seen = {}
    record = Recorder(epoch_end=lambda t, row: seen.update(t.model.state_dict()))
    trainer = Trainer(Regressor(), TrainConfig(epochs=3, lr=0.1), callbacks=[record])
    data = [regression_data(8).tensors]
    history = trainer.fit(data, data, evaluate=scripted([1.0, 2.0, 3.0]))
    assert history.best_epoch == 1 and not history.stopped_early
    assert all(torch.equal(v, seen[k]) for k, v in trainer.model.state_dict().items())


# ---------------------------------------------------------------------- seeding
def seeded_run(seed: int) -> list[Tensor]:
    seed_everything(seed)
    model = Regressor(dropout=0.3)  # dropout and shuffling both draw random numbers
    trainer = Trainer(model, TrainConfig(epochs=3, seed=seed))
    loader = DataLoader(regression_data(), batch_size=8, shuffle=True, generator=trainer.generator)
    trainer.fit(loader)
    return [p.detach().clone() for p in model.parameters()]


def test_seeding_makes_runs_identical():
    first, second, other = seeded_run(3), seeded_run(3), seeded_run(4)
    assert all(torch.equal(a, b) for a, b in zip(first, second, strict=True))
    assert not all(torch.equal(a, b) for a, b in zip(first, other, strict=True))


def test_seed_everything_seeds_python_numpy_and_torch():
    data_order = seed_everything(7)
    drawn = (random.random(), float(np.random.rand()), float(torch.rand(())))
    order = torch.randperm(10, generator=data_order)
    again_order = seed_everything(7)
    assert (random.random(), float(np.random.rand()), float(torch.rand(()))) == drawn
    assert torch.equal(torch.randperm(10, generator=again_order), order)


# ---------------------------------------------------------------------- configuration
@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("epochs", 0),
        ("epochs", 2.5),
        ("optimizer", "rmsprop"),
        ("lr", -0.1),
        ("lr", 0),
        ("lr", float("nan")),
        ("weight_decay", -1e-4),
        ("momentum", 1.0),
        ("clip_norm", -1.0),
        ("clip_value", -0.5),
        ("schedule", "step"),
        ("warmup_steps", -1),
        ("total_steps", 0),
        ("plateau_patience", -1),
        ("plateau_factor", 1.0),
        ("min_lr", -1.0),
        ("early_stopping_patience", 0),
        ("monitor", ""),
        ("mode", "best"),
        ("min_delta", -0.1),
        ("bptt", 0),
        ("seed", -1),
        ("seed", 1.5),
        ("device", "tpu"),
        ("amp", "yes"),
    ],
)
def test_invalid_config_values_name_the_field(field, value):
    with pytest.raises(ValueError, match=f"^{field} "):
        TrainConfig(**{field: value})


def test_momentum_is_for_sgd_only():
    with pytest.raises(ValueError, match="momentum"):
        TrainConfig(optimizer="adam", momentum=0.9)
    assert TrainConfig(optimizer="sgd", momentum=0.9).momentum == 0.9


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")
def test_cuda_without_cuda_names_the_device_option():
    with pytest.raises(ValueError, match="device"):
        TrainConfig(device="cuda")


def test_amp_is_ignored_on_cpu_with_a_warning():
    with pytest.warns(UserWarning, match="amp"):
        trainer = Trainer(Regressor(), TrainConfig(amp=True))
    assert not trainer.use_amp and trainer.scaler is None


# ---------------------------------------------------------------------- exact resume
def resumable_setup(init_seed: int):
    """A dropout GRU classifier, its trainer and a shuffled loader on the trainer's generator."""
    seed_everything(init_seed)
    model = SequenceClassifier(
        2, vocab_size=5, embedding_dim=4, hidden_size=8, cell="gru", dropout=0.2, num_layers=2
    )
    config = TrainConfig(
        epochs=4,
        optimizer="adamw",
        lr=0.01,
        weight_decay=0.01,
        schedule="cosine",
        warmup_steps=3,
        early_stopping_patience=10,
        seed=0,
    )
    trainer = Trainer(model, config)
    g = torch.Generator().manual_seed(1)
    x, y = torch.randint(5, (40, 6), generator=g), torch.randint(2, (40,), generator=g)
    loader = DataLoader(
        TensorDataset(x, y), batch_size=8, shuffle=True, generator=trainer.generator
    )
    return model, trainer, loader, [(x[:16], y[:16])]


def without_timing(rows):
    timing = {"time", "examples_per_s", "tokens_per_s"}
    return [{k: v for k, v in row.items() if k not in timing} for row in rows]


class StopAfter(Callback):
    """Ends training after ``epochs`` epochs, as an interrupted run would."""

    def __init__(self, epochs: int) -> None:
        self.epochs = epochs

    def on_epoch_end(self, trainer: Trainer, row: dict[str, float]) -> None:
        trainer.should_stop = row["epoch"] == self.epochs


def test_resume_continues_exactly():
    model_a, trainer_a, loader_a, valid_a = resumable_setup(init_seed=0)
    straight = trainer_a.fit(loader_a, valid_a)

    model_b, trainer_b, loader_b, valid_b = resumable_setup(init_seed=0)
    trainer_b.callbacks.append(StopAfter(2))
    assert len(trainer_b.fit(loader_b, valid_b).rows) == 2
    buffer = io.BytesIO()
    torch.save({"model": model_b.state_dict(), "trainer": trainer_b.state_dict()}, buffer)
    buffer.seek(0)
    saved = torch.load(buffer, weights_only=True)  # tensors and plain values only

    # All fresh: other initial weights, other global random state; the checkpoint restores.
    model_c, trainer_c, loader_c, valid_c = resumable_setup(init_seed=123)
    random.seed(9)
    np.random.seed(9)
    torch.manual_seed(9)
    model_c.load_state_dict(saved["model"])
    trainer_c.load_state_dict(saved["trainer"])
    resumed = trainer_c.fit(loader_c, valid_c)

    for (name, a), c in zip(
        model_a.state_dict().items(), model_c.state_dict().values(), strict=True
    ):
        assert torch.equal(a, c), name
    assert without_timing(resumed.rows) == without_timing(straight.rows)
    assert trainer_c.global_step == trainer_a.global_step == 4 * 5

    # Restoring the weights alone (not the data order, dropout, optimizer) is not enough.
    model_d, trainer_d, loader_d, valid_d = resumable_setup(init_seed=0)
    model_d.load_state_dict(saved["model"])
    trainer_d.callbacks.append(StopAfter(2))
    trainer_d.fit(loader_d, valid_d)
    assert not all(
        torch.equal(a, d) for a, d in zip(model_a.parameters(), model_d.parameters(), strict=True)
    )


# ---------------------------------------------------------------------- truncated BPTT
def test_split_stream_cuts_along_time_and_repeats_the_rest():
    x, y, c = torch.arange(20).view(2, 10), torch.zeros(2, 10, 3), torch.tensor([0, 1])
    chunks = split_stream({"x": x, "y": y, "c": c}, 4)
    assert [chunk["x"].shape[1] for chunk in chunks] == [4, 4, 2]
    assert torch.equal(torch.cat([chunk["x"] for chunk in chunks], 1), x)
    assert all(chunk["c"] is c for chunk in chunks)
    with pytest.raises(ValueError, match="share"):
        split_stream((x, torch.zeros(2, 9)), 4)
    # a vector condition (B, C), even with C == T, is the whole sequence's, not a stream
    vector = torch.randn(2, 10)
    chunks = split_stream({"inputs": x, "condition": vector}, 4)
    assert [chunk["inputs"].shape[1] for chunk in chunks] == [4, 4, 2]
    assert all(chunk["condition"] is vector for chunk in chunks)


def test_truncated_bptt_stops_gradients_at_the_chunk_boundary():
    seed_everything(0)
    x = torch.randn(2, 12, 2, requires_grad=True)  # one stream batch: 3 chunks of 4
    y = torch.randn(2, 12, 1)
    snapshots: list[Tensor] = []
    record = Recorder(before_step=lambda trainer: snapshots.append(x.grad.clone()))
    config = TrainConfig(epochs=1, bptt=4, optimizer="sgd", lr=0.1)
    Trainer(StreamModel(), config, callbacks=[record]).fit([(x, y)])
    assert len(snapshots) == 3  # one optimizer step per chunk
    first, second, third = snapshots
    assert first[:, :4].abs().sum() > 0 and not first[:, 4:].any()
    # Chunk 2's backward reached its own inputs only: chunk 1's gradient is unchanged.
    assert torch.equal(second[:, :4], first[:, :4])
    assert second[:, 4:8].abs().sum() > 0 and not second[:, 8:].any()
    assert torch.equal(third[:, :8], second[:, :8])


def test_truncated_bptt_graph_does_not_grow_and_state_resets_each_epoch():
    sizes: list[int] = []
    received: list[object] = []

    def loss_fn(model, chunk, state):
        received.append(state)
        loss, state = model.loss(*chunk, state=state, return_state=True)
        sizes.append(graph_size(loss))
        return loss, state

    seed_everything(0)
    stream = (torch.randn(3, 20, 2), torch.randn(3, 20, 1))  # 5 chunks of 4
    config = TrainConfig(epochs=2, bptt=4)
    history = Trainer(StreamModel(), config, loss_fn=loss_fn).fit([stream])
    assert len(sizes) == 10 and len(set(sizes)) == 1  # chunk k's graph is chunk 1's size
    assert received[0] is None and received[5] is None  # a fresh state every epoch
    carried = [s for i, s in enumerate(received) if i % 5]
    for h, c in carried:
        assert h.grad_fn is None and not h.requires_grad and c.grad_fn is None
    assert "tokens_per_s" in history.rows[0] or history.rows[0]["time"] == 0


def test_truncated_bptt_trains_a_generator_language_model():
    seed_everything(0)
    pattern = torch.tensor([0, 1, 2, 3, 4, 3, 2, 1]).repeat(8)  # period 8, 64 tokens
    streams = pattern.view(2, 32)  # two streams, as a batchified corpus
    inputs, targets = streams[:, :-1], streams[:, 1:]
    model = SequenceGenerator(5, embedding_dim=8, hidden_size=24)
    config = TrainConfig(epochs=40, bptt=8, lr=0.02)
    history = Trainer(model, config).fit([(inputs, targets)], [(inputs, targets)])
    # 0 → 1 and 4 → 3 are certain; 1, 2, 3 need the carried state to tell the direction.
    assert history.rows[-1]["valid_loss"] < 0.1 < history.rows[0]["valid_loss"]


def test_truncated_bptt_cosine_counts_chunks():
    lrs: list[float] = []
    record = Recorder(before_step=lambda t: lrs.append(t.optimizer.param_groups[0]["lr"]))
    config = TrainConfig(epochs=2, bptt=4, optimizer="sgd", lr=1.0, schedule="cosine")
    stream = (torch.randn(2, 10, 2), torch.randn(2, 10, 1))  # 3 chunks: 4 + 4 + 2
    Trainer(StreamModel(), config, callbacks=[record]).fit([stream, stream])
    assert len(lrs) == 12
    assert lrs == pytest.approx([(1 + math.cos(math.pi * s / 12)) / 2 for s in range(12)])


def test_an_equal_score_with_a_lower_loss_is_the_better_epoch():
    from rnnkit.train import _Best

    best = _Best("max", 0.0)
    seen = [(0.9, 0.5), (0.9, 0.4), (0.9, 0.45), (0.8, 0.1), (0.95, 0.6), (0.95, None)]
    assert [best.update(value, epoch, tie) for epoch, (value, tie) in enumerate(seen, 1)] == [
        True, True, False, False, True, False,
    ]  # fmt: skip
    assert (best.value, best.tie, best.epoch, best.bad_epochs) == (0.95, 0.6, 5, 1)
    restored = _Best("max", 0.0)
    restored.load_state_dict(best.state_dict())
    assert restored.update(0.95, 7, 0.5) and restored.epoch == 7
    old = {"value": 0.9, "epoch": 2, "bad_epochs": 0}  # a checkpoint from before ties
    restored.load_state_dict(old)
    assert not restored.update(0.9, 3, 0.1)


def test_a_perfect_score_kept_by_a_lower_loss_does_not_restart_the_patience():
    from rnnkit.train import _Best

    best = _Best("max", 0.0, perfect=1.0)
    seen = [(0.9, 0.5), (0.9, 0.4), (1.0, 0.3), (1.0, 0.2), (1.0, 0.1), (1.0, 0.05)]
    kept = [best.update(value, epoch, tie) for epoch, (value, tie) in enumerate(seen, 1)]
    assert kept == [True] * 6 and best.epoch == 6  # the lowest loss is still the one kept
    assert best.bad_epochs == 3  # epochs 4-6 did not better the 1.0 of epoch 3
    # below perfect, a lower loss at an equal score restarts it (the model still learns)
    assert _Best("max", 0.0, perfect=1.0).update(0.9, 1, 0.5)


def test_early_stopping_ends_a_run_that_stays_perfect(tmp_path):
    """A validation accuracy of 1 from the start: the patience runs out although the loss
    keeps falling (before, each lower loss restarted it and every epoch ran)."""
    torch.manual_seed(0)
    x = torch.randn(64, 3)
    y = (x[:, 0] > 0).long()
    batches = [(x[i : i + 16], y[i : i + 16]) for i in range(0, 64, 16)]

    class Separable(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.linear = nn.Linear(3, 2)
            with torch.no_grad():  # already right on every example
                self.linear.weight.copy_(torch.tensor([[-5.0, 0, 0], [5.0, 0, 0]]))
                self.linear.bias.zero_()

        def forward(self, inputs: torch.Tensor) -> torch.Tensor:
            return self.linear(inputs)

        def loss(self, inputs, labels):
            return F.cross_entropy(self(inputs), labels)

    def accuracy(model, valid):
        right = sum(int((model(a).argmax(1) == b).sum()) for a, b in valid)
        loss = sum(float(model.loss(a, b)) for a, b in valid)
        return {"accuracy": right / 64, "loss": loss}

    config = TrainConfig(epochs=30, lr=0.01, early_stopping_patience=3,
                         monitor="valid_accuracy", mode="max")  # fmt: skip
    history = Trainer(Separable(), config).fit(batches, batches, evaluate=accuracy)
    assert history.stopped_early and len(history.rows) == 4 and history.best_epoch == 4
    assert history.column("valid_accuracy") == [1.0] * 4


def test_namedtuple_batches_as_the_dataloader_collates_them():
    """``default_collate`` keeps a namedtuple's type; rebuilding it from one iterable (as a
    plain tuple is) failed: ``Example.__new__() missing 1 required positional argument``."""
    from collections import namedtuple

    Example = namedtuple("Example", "x targets")
    data = [Example(torch.randn(6, 3), torch.tensor(i % 2)) for i in range(8)]
    loader = DataLoader(data, batch_size=4)
    model = SequenceClassifier(2, input_size=3, hidden_size=4)
    history = Trainer(model, TrainConfig(epochs=1)).fit(loader)
    assert len(history.rows) == 1 and math.isfinite(history.rows[0]["train_loss"])


def test_the_metrics_package_exports_its_functions():
    import rnnkit.metrics as metrics

    for name in metrics.__all__:
        assert callable(getattr(metrics, name)), name
    with pytest.raises(AttributeError, match="no attribute 'bleu'"):
        metrics.bleu  # noqa: B018


def test_inputs_that_would_fail_after_an_epoch_are_refused_before_it():
    """A generator is used up by the first epoch (before: "no training examples" at the
    second); a monitored metric nothing computes (before: raised after a whole epoch)."""
    batches = [regression_data(4, seed=i).tensors for i in range(2)]
    trainer = Trainer(Regressor(), TrainConfig(epochs=2))
    with pytest.raises(ValueError, match=r"train_batches must be re-iterable.* one-pass generator"):
        trainer.fit(batch for batch in batches)
    watched = TrainConfig(epochs=2, early_stopping_patience=1, monitor="valid_accuracy")
    with pytest.raises(ValueError, match=r"without an evaluate function .* 'accuracy'"):
        Trainer(Regressor(), watched).fit(batches, batches)
    with pytest.raises(ValueError, match=r"monitor='valid_accuracy' needs valid_batches"):
        Trainer(Regressor(), watched).fit(batches)


def test_a_loss_that_becomes_nan_stops_training_and_the_best_weights_are_kept():
    """The weights are NaN from then on: before, every remaining epoch ran on them."""

    class Explodes(Callback):
        def on_epoch_end(self, trainer: Trainer, row: dict[str, float]) -> None:
            if row["epoch"] == 2:
                with torch.no_grad():
                    next(trainer.model.parameters()).fill_(float("nan"))

    batches = [regression_data(4, seed=i).tensors for i in range(2)]
    config = TrainConfig(epochs=10, early_stopping_patience=5)
    model = Regressor()
    history = Trainer(model, config, callbacks=[Explodes()]).fit(batches, batches)
    assert history.diverged == 3 and len(history.rows) == 3
    assert history.best_epoch in (1, 2)
    assert all(torch.isfinite(p).all() for p in model.parameters())
