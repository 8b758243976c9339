"""Run directory: atomic files, exact checkpoints, clear errors, crash safety."""

from __future__ import annotations

import json
import math
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import safetensors.torch
import torch
from torch import nn

from rnnkit import runs
from rnnkit.runs import RunDir, RunDirError, atomic_write


class Tiny(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lstm = nn.LSTM(3, 6, batch_first=True)
        self.head = nn.Linear(6, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.lstm(x)[0])


def _snapshot(directory: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(directory)): p.read_bytes() for p in directory.rglob("*") if p.is_file()
    }


def _temps(directory: Path) -> list[Path]:
    return list(directory.rglob("*.rnnkit-tmp"))


def _assert_same(a, b, where="state"):
    """Deep equality; tensors bit for bit (dtype and values), containers of the same type."""
    if isinstance(a, dict):  # a state_dict is an OrderedDict
        assert isinstance(b, dict), f"{where}: {type(b)}"
    else:
        assert type(a) is type(b), f"{where}: {type(a)} vs {type(b)}"
    if isinstance(a, torch.Tensor):
        assert a.dtype == b.dtype and a.shape == b.shape, where
        assert torch.equal(a, b), where
    elif isinstance(a, dict):
        assert list(a) == list(b), where
        for key in a:
            _assert_same(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _assert_same(x, y, f"{where}[{i}]")
    elif isinstance(a, float) and math.isnan(a):
        assert math.isnan(b), where
    else:
        assert a == b, where


@pytest.fixture
def run(tmp_path: Path) -> RunDir:
    return RunDir(tmp_path / "run").create({"lr": 0.01, "data": tmp_path / "train.txt"})


# ---------------------------------------------------------------- creating and opening


def test_create_writes_config_and_layout(run: RunDir, tmp_path: Path):
    assert run.read_config() == {"lr": 0.01, "data": str(tmp_path / "train.txt")}
    assert run.checkpoints_dir.is_dir()
    assert RunDir.open(run.path).read_config() == run.read_config()


def test_create_refuses_a_non_empty_directory(run: RunDir):
    before = _snapshot(run.path)
    with pytest.raises(RunDirError, match=str(run.path)):
        RunDir(run.path).create({"lr": 1.0})
    assert _snapshot(run.path) == before


def test_create_overwrite_replaces_a_run_but_never_a_foreign_directory(run: RunDir, tmp_path):
    run.write_metrics({"acc": 0.5})
    RunDir(run.path).create({"lr": 1.0}, overwrite=True)
    assert run.read_config() == {"lr": 1.0}
    assert not run.metrics_path.exists()

    foreign = tmp_path / "home"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("precious")
    with pytest.raises(RunDirError, match="not a run directory"):
        RunDir(foreign).create({}, overwrite=True)
    assert (foreign / "thesis.tex").read_text() == "precious"


def test_create_accepts_an_empty_existing_directory(tmp_path: Path):
    (tmp_path / "empty").mkdir()
    assert RunDir(tmp_path / "empty").create({"a": 1}).read_config() == {"a": 1}


def test_open_names_the_missing_config(tmp_path: Path):
    (tmp_path / "x").mkdir()
    with pytest.raises(RunDirError, match=r"config\.json: file not found"):
        RunDir.open(tmp_path / "x")
    with pytest.raises(RunDirError, match="not found"):
        RunDir.open(tmp_path / "nowhere")


# ---------------------------------------------------------------- JSON, metrics, log


def test_json_files_are_sorted_utf8_and_nan_becomes_null(run: RunDir):
    run.write_json("labels", {"B-PER": 1, "Ä": 0})
    assert run.read_json("labels.json") == {"B-PER": 1, "Ä": 0}
    text = (run.path / "labels.json").read_text(encoding="utf-8")
    assert text.index("B-PER") < text.index("Ä")

    run.write_metrics({"val_loss": float("nan"), "test_ppl": np.float32(2.5), "ids": {3: "x"}})
    assert json.loads(run.metrics_path.read_text()) == {
        "ids": {"3": "x"},
        "test_ppl": 2.5,
        "val_loss": None,
    }


def test_json_errors_name_the_file(run: RunDir):
    with pytest.raises(RunDirError, match=r"vocab\.json: file not found"):
        run.read_json("vocab")
    (run.path / "vocab.json").write_text("{oops")
    with pytest.raises(RunDirError, match=r"vocab\.json: not valid JSON"):
        run.read_json("vocab")
    with pytest.raises(RunDirError, match="object"):
        run.write_json("bad", {"x": object()})
    with pytest.raises(RunDirError, match="plain file name"):
        run.write_json("../escape", {})


def test_log_header_from_first_row_and_new_keys_rejected(run: RunDir):
    run.append_log({"epoch": 1, "loss": 0.5})
    run.append_log({"epoch": 2})
    with pytest.raises(RunDirError, match="acc"):
        run.append_log({"epoch": 3, "acc": 0.9})
    assert run.log_path.read_text() == "epoch,loss\n1,0.5\n2,\n"
    assert RunDir.open(run.path).read_log() == [
        {"epoch": "1", "loss": "0.5"},
        {"epoch": "2", "loss": ""},
    ]


def test_log_drops_a_row_torn_by_a_crash(run: RunDir):
    run.append_log({"epoch": 1, "loss": 0.25})
    with run.log_path.open("ab") as f:
        f.write(b"2,0.1")  # killed mid-row
    run.append_log({"epoch": 2, "loss": 0.125})
    assert run.log_path.read_text() == "epoch,loss\n1,0.25\n2,0.125\n"


# ---------------------------------------------------------------- weights


def test_weights_round_trip_with_tied_parameters(run: RunDir):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Embedding(5, 4), nn.Linear(4, 5))
    model[1].weight = model[0].weight  # tied: safetensors refuses shared memory unless copied
    run.save_weights(model)
    fresh = nn.Sequential(nn.Embedding(5, 4), nn.Linear(4, 5))
    fresh[1].weight = fresh[0].weight
    run.load_weights(fresh)
    _assert_same(model.state_dict(), fresh.state_dict())
    assert set(safetensors.torch.load_file(run.weights_path)) == {"0.weight", "1.weight", "1.bias"}


def test_load_weights_is_strict_and_leaves_the_model_alone(run: RunDir):
    run.save_weights(nn.Linear(3, 2))
    other = nn.Sequential(nn.Linear(3, 4))
    before = {k: v.clone() for k, v in other.state_dict().items()}
    with pytest.raises(RunDirError) as err:
        run.load_weights(other)
    message = str(err.value)
    assert "missing keys: 0.weight, 0.bias" in message
    assert "unexpected keys: bias, weight" in message
    assert "\n" not in message
    _assert_same(before, other.state_dict())

    with pytest.raises(RunDirError, match=r"shape mismatch: weight \(2, 3\) in file vs \(4, 3\)"):
        run.load_weights(nn.Linear(3, 4))


# ---------------------------------------------------------------- checkpoints: exact resume


def _training(seed: int, scheduler: str):
    torch.manual_seed(seed)
    model = Tiny()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2, betas=(0.8, 0.95))
    if scheduler == "step":
        sched = torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)
    else:
        sched = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda epoch: 1 / (1 + epoch))
    return model, optimizer, sched


def _train(model, optimizer, scheduler, steps: int) -> None:
    """Draws from torch's, numpy's and Python's RNG, as data order, dropout and noise do."""
    for _ in range(steps):
        x = torch.randn(4, 5, 3)
        order = list(range(4))
        random.shuffle(order)
        scale = 1.0 + float(np.random.rand())
        loss = (model(x[order]) ** 2).mean() * scale
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        scheduler.step()


@pytest.mark.parametrize("scheduler", ["step", "lambda"])
def test_resume_continues_bit_for_bit(run: RunDir, scheduler: str, one_thread):
    model, optimizer, sched = _training(0, scheduler)
    _train(model, optimizer, sched, 3)
    run.save_checkpoint("last", model, optimizer, sched, trainer_state={"epoch": 3})
    _train(model, optimizer, sched, 4)

    model2, optimizer2, sched2 = _training(1, scheduler)  # different init, RNG moved on
    state = RunDir.open(run.path).load_checkpoint("last", model2, optimizer2, sched2)
    assert state == {"epoch": 3}
    _train(model2, optimizer2, sched2, 4)

    _assert_same(model.state_dict(), model2.state_dict(), "model")
    _assert_same(optimizer.state_dict(), optimizer2.state_dict(), "optimizer")
    _assert_same(sched.state_dict(), sched2.state_dict(), "scheduler")


def test_trainer_state_round_trips_exactly(run: RunDir):
    trainer = {
        "epoch": 7,
        "best": float("inf"),
        "diverged": float("nan"),
        "done": False,
        "history": [1.5, (2, "a"), None],
        "by_id": {0: "x", (1, 2): [3]},
        "__dunder": 1,
        "ema": torch.arange(6, dtype=torch.float64).reshape(2, 3),
    }
    run.save_checkpoint("best", nn.Linear(2, 2), trainer_state=trainer)
    _assert_same(trainer, run.load_checkpoint("best", nn.Linear(2, 2)), "trainer")


def test_checkpoint_is_one_safetensors_file_with_prefixed_keys(run: RunDir):
    model, optimizer, sched = _training(0, "step")
    _train(model, optimizer, sched, 1)
    path = run.save_checkpoint("last", model, optimizer, sched)
    assert sorted(p.name for p in run.checkpoints_dir.iterdir()) == ["last.safetensors"]
    keys = set(safetensors.torch.load_file(path))
    assert {"model.lstm.weight_ih_l0", "model.head.bias", "rng.torch", "rng.numpy.keys"} <= keys
    assert any(k.startswith("optim.state.") for k in keys)


def test_restore_rng_false_leaves_rng_alone(run: RunDir):
    torch.manual_seed(0)
    run.save_checkpoint("last", nn.Linear(2, 2))
    model = nn.Linear(2, 2)
    torch.manual_seed(5)
    expected = torch.get_rng_state()
    run.load_checkpoint("last", model, restore_rng=False)
    assert torch.equal(torch.get_rng_state(), expected)
    run.load_checkpoint("last", model)
    assert not torch.equal(torch.get_rng_state(), expected)


def test_load_checkpoint_without_optimizer_state_is_an_error(run: RunDir):
    model = nn.Linear(2, 2)
    run.save_checkpoint("last", model)
    optimizer = torch.optim.Adam(model.parameters())
    with pytest.raises(RunDirError, match="has no optimizer state"):
        run.load_checkpoint("last", model, optimizer)


# ---------------------------------------------------------------- corrupt and foreign files


def _corrupt_random(path: Path) -> None:
    path.write_bytes(random.Random(0).randbytes(4096))


def _corrupt_half(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _no_metadata(path: Path) -> None:
    safetensors.torch.save_file({"model.weight": torch.zeros(2, 2)}, path)


def _future_version(path: Path) -> None:
    meta = {"format": "rnnkit-checkpoint", "format_version": "99", "structure": "{}"}
    safetensors.torch.save_file({"model.weight": torch.zeros(2, 2)}, path, metadata=meta)


def _bad_structure(path: Path) -> None:
    meta = {"format": "rnnkit-checkpoint", "format_version": "1", "structure": "{not json"}
    safetensors.torch.save_file({"model.weight": torch.zeros(2, 2)}, path, metadata=meta)


@pytest.mark.parametrize(
    ("corrupt", "message"),
    [
        (_corrupt_random, "not a valid safetensors file"),
        (_corrupt_half, "not a valid safetensors file"),
        (_no_metadata, "no rnnkit metadata"),
        (_future_version, "format version '99'"),
        (_bad_structure, "corrupt checkpoint metadata"),
    ],
)
def test_corrupt_checkpoint_is_a_one_line_error_and_changes_nothing(run: RunDir, corrupt, message):
    model = nn.Linear(2, 2)
    run.save_checkpoint("best", model)
    run.save_checkpoint("last", model)
    corrupt(run.checkpoint_path("last"))
    before_files, before_weights = (
        _snapshot(run.path),
        {k: v.clone() for k, v in model.state_dict().items()},
    )
    with pytest.raises(RunDirError) as err:
        run.load_checkpoint("last", model)
    assert str(run.checkpoint_path("last")) in str(err.value)
    assert message in str(err.value)
    assert "\n" not in str(err.value)
    assert _snapshot(run.path) == before_files
    _assert_same(before_weights, model.state_dict())


def test_missing_checkpoint_names_the_file(run: RunDir):
    with pytest.raises(RunDirError, match=r"last\.safetensors: file not found"):
        run.load_checkpoint("last", nn.Linear(2, 2))
    assert not run.has_checkpoint("last")


def test_weights_file_is_not_accepted_as_a_checkpoint(run: RunDir):
    run.save_weights(nn.Linear(2, 2))
    os.replace(run.weights_path, run.checkpoint_path("last"))
    with pytest.raises(RunDirError, match="is a rnnkit-weights file, expected a rnnkit-checkpoint"):
        run.load_checkpoint("last", nn.Linear(2, 2))


# ---------------------------------------------------------------- failed saves lose nothing


def test_unsaveable_tensor_leaves_previous_checkpoint_intact(run: RunDir):
    model = nn.Linear(2, 2)
    run.save_checkpoint("last", model, trainer_state={"epoch": 1})
    before = _snapshot(run.path)
    sparse = torch.eye(3).to_sparse()
    with pytest.raises(RunDirError, match=r"last\.safetensors: cannot save checkpoint"):
        run.save_checkpoint("last", model, trainer_state={"epoch": 2, "bad": sparse})
    with pytest.raises(RunDirError, match="cannot store a value of type object"):
        run.save_checkpoint("last", model, trainer_state={"epoch": 2, "bad": object()})
    assert _snapshot(run.path) == before
    assert run.load_checkpoint("last", model) == {"epoch": 1}


def test_disk_error_during_save_leaves_previous_files_intact(run: RunDir, monkeypatch):
    model = nn.Linear(2, 2)
    run.save_checkpoint("last", model, trainer_state={"epoch": 1})
    run.save_weights(model)
    run.write_metrics({"acc": 0.5})
    before = _snapshot(run.path)

    def disk_full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(runs.os, "fsync", disk_full)
    with torch.no_grad():
        model.weight.fill_(7.0)
    with pytest.raises(RunDirError, match=r"last\.safetensors: cannot write: .*No space left"):
        run.save_checkpoint("last", model, trainer_state={"epoch": 2})
    with pytest.raises(RunDirError, match=r"model\.safetensors: cannot write"):
        run.save_weights(model)
    with pytest.raises(RunDirError, match=r"metrics\.json: cannot write"):
        run.write_metrics({"acc": 0.9})
    monkeypatch.undo()
    assert _snapshot(run.path) == before
    assert run.load_checkpoint("last", nn.Linear(2, 2)) == {"epoch": 1}


def test_atomic_write_keeps_the_old_file_when_the_writer_raises(tmp_path: Path):
    target = tmp_path / "f.bin"
    atomic_write(target, lambda f: f.write(b"old"))

    def half_then_fail(f) -> None:
        f.write(b"ne")
        raise KeyboardInterrupt  # Ctrl-C mid-write

    with pytest.raises(KeyboardInterrupt):
        atomic_write(target, half_then_fail)
    assert target.read_bytes() == b"old"
    assert _temps(tmp_path) == []


def test_stale_temp_files_are_cleaned(run: RunDir):
    stale = run.checkpoints_dir / ".last.safetensors.abc123.rnnkit-tmp"
    stale.write_bytes(b"half a checkpoint")
    other = run.path / ".config.json.xyz.rnnkit-tmp"
    other.write_bytes(b"{")
    run.save_checkpoint("last", nn.Linear(2, 2))
    assert not stale.exists()
    RunDir.open(run.path)
    assert _temps(run.path) == []


# ---------------------------------------------------------------- SIGKILL at random moments

_SAVER = r"""
import os, sys
import torch
torch.set_num_threads(1)
from torch import nn
from rnnkit.runs import RunDir

def fill(model, i):
    gen = torch.Generator().manual_seed(i)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=gen))

run = RunDir.open(sys.argv[1])
model = nn.Linear(256, 256)
# A fork server: torch is imported once, each saver is a fresh forked process to SIGKILL.
for line in sys.stdin:
    first = int(line)
    pid = os.fork()
    if pid == 0:
        try:
            for i in range(first, first + 100_000):
                fill(model, i)
                run.save_checkpoint("last", model, trainer_state={"i": i}, rng=False)
                os.write(1, f"saved {i}\n".encode())
        finally:
            os._exit(0)
    os.write(1, f"pid {pid}\n".encode())
    os.waitpid(pid, 0)
    os.write(1, b"dead\n")
"""


def _fill(model: nn.Module, i: int) -> None:
    gen = torch.Generator().manual_seed(i)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=gen))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork and SIGKILL")
def test_sigkill_at_random_moments_leaves_a_loadable_last_checkpoint(run: RunDir):
    delays = random.Random(20261123)
    server = subprocess.Popen(
        [sys.executable, "-c", _SAVER, str(run.path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    assert server.stdin is not None and server.stdout is not None
    try:
        for round_ in range(12):
            server.stdin.write(f"{round_ * 1_000_000}\n".encode())
            server.stdin.flush()
            pid = int(server.stdout.readline().split()[1])
            lines = [server.stdout.readline()]  # at least one save completed
            time.sleep(delays.uniform(0.0, 0.04))
            os.kill(pid, signal.SIGKILL)
            while (line := server.stdout.readline()) not in (b"dead\n", b""):
                lines.append(line)
            completed = [int(line.split()[1]) for line in lines if line.startswith(b"saved")]
            assert completed, lines

            model = nn.Linear(256, 256)
            i = run.load_checkpoint("last", model, restore_rng=False)["i"]
            assert i in (completed[-1], completed[-1] + 1)  # last completed, or the one in flight
            expected = nn.Linear(256, 256)
            _fill(expected, i)
            _assert_same(expected.state_dict(), model.state_dict(), f"checkpoint {i}")
    finally:
        server.stdin.close()
        server.kill()
        server.wait()
    RunDir.open(run.path)
    assert _temps(run.path) == []
    run.save_checkpoint("last", nn.Linear(2, 2), trainer_state={"i": -1})
    assert run.load_checkpoint("last", nn.Linear(2, 2))["i"] == -1
