"""Data-parallel training: a 2-process torchrun (gloo) run against a 1-process run."""

from __future__ import annotations

import os
import random
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from rnnkit import distributed
from rnnkit.distributed import LOSS_SCALE_KEY, Context, LossModule, shard
from rnnkit.structures.classifier import SequenceClassifier
from rnnkit.tasks.classify import build_model
from rnnkit.tasks.runner import load_run
from rnnkit.train import default_loss, seed_everything

WORDS = ("good", "bad", "fine", "awful", "great", "poor", "nice", "dull")
# 27 training examples in global batches of 8: the last batch (3) splits 2/1 over 2 ranks, so
# the loss-scaled unequal split is exercised too.
TRAIN_EXAMPLES, BATCH_SIZE = 27, 8


def _write_data(path: Path, count: int, rng: random.Random) -> None:
    lines = []
    for _ in range(count):
        words = [rng.choice(WORDS) for _ in range(rng.randint(1, 6))]
        positive = sum(word in ("good", "fine", "great", "nice") for word in words)
        lines.append(("pos" if 2 * positive >= len(words) else "neg") + " " + " ".join(words))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _torchrun() -> list[str]:
    script = Path(sys.executable).with_name("torchrun")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "torch.distributed.run"]


def _run(command: list[str]) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(name, None)  # the 1-process run must not think it is part of a job
    # The timeout only guards against a hung rendezvous; nothing asserts on time.
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, f"{command}\nstdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    return done


def test_two_process_ddp_run_ends_with_the_weights_of_a_one_process_run(tmp_path: Path) -> None:
    rng = random.Random(0)
    train, valid = tmp_path / "train.txt", tmp_path / "valid.txt"
    _write_data(train, TRAIN_EXAMPLES, rng)
    _write_data(valid, 8, rng)
    args = [
        "train", "classify", "--train", str(train), "--valid", str(valid),
        "--epochs", "2", "--batch-size", str(BATCH_SIZE), "--dropout", "0", "--word-dropout", "0",
        "--hidden-size", "8", "--embedding-dim", "8", "--seed", "3", "--lr", "0.01",
    ]  # fmt: skip
    run1, run2 = tmp_path / "RUN1", tmp_path / "RUN2"
    _run([sys.executable, "-m", "rnnkit", *args, "--out", str(run1)])
    launcher = [
        *_torchrun(), "--nnodes", "1", "--nproc_per_node", "2", "--rdzv-backend", "c10d",
        "--rdzv-endpoint", f"127.0.0.1:{_free_port()}", "--max-restarts", "0",
    ]  # fmt: skip
    done = _run([*launcher, "-m", "rnnkit", *args, "--out", str(run2)])

    first, second = load_file(run1 / "model.safetensors"), load_file(run2 / "model.safetensors")
    assert first.keys() == second.keys()
    for name, weight in first.items():
        torch.testing.assert_close(second[name], weight, atol=1e-5, rtol=0, msg=name)
    # Training moved the weights, so agreeing is more than agreeing on the initialization.
    loaded = load_run(str(run2))
    seed_everything(loaded.config["seed"])  # as train() does before building the model
    initial = build_model(loaded.config, loaded.artifacts).state_dict()
    assert max(float((initial[name] - weight).abs().max()) for name, weight in first.items()) > 1e-3

    # Rank 0 alone wrote the run directory, and completely: one log row per epoch (two
    # writers would double them) and one progress line per epoch and one final line.
    for name in ("config.json", "vocab.json", "labels.json", "metrics.json", "log.csv"):
        assert (run2 / name).is_file(), name
    assert (run2 / "checkpoints" / "last.safetensors").is_file()
    assert len((run2 / "log.csv").read_text().splitlines()) == 1 + 2
    assert done.stdout.count("epoch 1/2") == 1 and done.stdout.count("done:") == 1


def _batches(count: int, size: int) -> list[dict[str, torch.Tensor]]:
    ids = torch.arange(count)
    return [{"x": ids[i : i + size], "y": ids[i : i + size] * 2} for i in range(0, count, size)]


def test_shard_gives_each_rank_its_slice_of_every_global_batch() -> None:
    batches = _batches(11, 4)  # 4, 4, 3
    ranks = [
        list(shard(batches, Context(rank, 2), batch_size=4, num_examples=11)) for rank in (0, 1)
    ]
    assert [b["x"].tolist() for b in ranks[0]] == [[0, 1], [4, 5], [8, 9]]
    assert [b["x"].tolist() for b in ranks[1]] == [[2, 3], [6, 7], [10]]
    assert ranks[1][0]["y"].tolist() == [4, 6]
    # Equal slices need no scale; the 2/1 split weighs each rank by its share: 2·2/3, 2·1/3.
    assert LOSS_SCALE_KEY not in ranks[0][0]
    assert ranks[0][2][LOSS_SCALE_KEY] == pytest.approx(4 / 3)
    assert ranks[1][2][LOSS_SCALE_KEY] == pytest.approx(2 / 3)
    assert len(shard(batches, Context(0, 2), batch_size=4)) == 3


def test_shard_refuses_a_batch_size_that_does_not_split_equally() -> None:
    with pytest.raises(ValueError, match="--batch-size 5 must be divisible by the 2 processes"):
        shard(_batches(10, 5), Context(0, 2), batch_size=5)
    with pytest.raises(ValueError, match="last batch of 1 of the 9"):
        shard(_batches(9, 4), Context(0, 2), batch_size=4, num_examples=9)
    with pytest.raises(ValueError, match="fewer than the 2 processes"):
        list(shard(_batches(9, 4), Context(1, 2), batch_size=4))


def test_a_single_process_is_a_no_op(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)
    context = distributed.init_from_env()
    assert context == Context() and context.is_main and not context.distributed
    batches = _batches(5, 2)
    assert shard(batches, context, batch_size=3) is batches
    model = torch.nn.Linear(2, 2)
    assert distributed.wrap(model, context) is model
    assert distributed.loss_fn(model) is default_loss
    distributed.barrier(context)
    distributed.cleanup(context)


def test_init_from_env_refuses_a_job_without_a_master(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    monkeypatch.delenv("MASTER_ADDR", raising=False)
    with pytest.raises(ValueError, match="MASTER_ADDR is not set"):
        distributed.init_from_env()
    monkeypatch.setenv("RANK", "2")
    with pytest.raises(ValueError, match="RANK=2, WORLD_SIZE=2"):
        distributed.init_from_env()


def test_the_loss_module_is_the_inner_loss_scaled() -> None:
    torch.manual_seed(0)
    model = SequenceClassifier(2, vocab_size=6, embedding_dim=3, hidden_size=4)
    batch = {
        "x": torch.tensor([[1, 2, 3], [4, 5, 0]]),
        "targets": torch.tensor([0, 1]),
        "lengths": torch.tensor([3, 2]),
    }
    adapter = LossModule(model)
    assert list(adapter.parameters()) == list(model.parameters())
    loss = model.loss(**batch)
    torch.testing.assert_close(adapter(batch), loss)
    torch.testing.assert_close(adapter({**batch, LOSS_SCALE_KEY: 0.5}), loss * 0.5)
