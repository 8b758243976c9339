"""rnnkit.summary, the state helpers, the `rnnkit` command and the speed benchmark's plumbing."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
import torch
from torch import nn

import rnnkit
from rnnkit.cli import main

ROOT = Path(__file__).resolve().parents[1]


def test_summary_shows_the_four_to_one_ratio_of_lstm_to_rnn() -> None:
    counts = {
        name: rnnkit.summary(layer(10, 20)).total
        for name, layer in (("rnn", rnnkit.RNN), ("gru", rnnkit.GRU), ("lstm", rnnkit.LSTM))
    }
    per_gate = 20 * (10 + 20) + 2 * 20  # W_ih, W_hh, b_ih, b_hh of one gate
    assert counts == {"rnn": per_gate, "gru": 3 * per_gate, "lstm": 4 * per_gate}


def test_summary_has_one_row_per_layer_and_direction_and_counts_each_parameter_once() -> None:
    model = nn.Sequential(rnnkit.LSTM(3, 4, 2, bidirectional=True, peephole=True), nn.Linear(8, 2))
    model[1].weight.requires_grad_(False)
    report = rnnkit.summary(model)
    names = [row.name for row in report.rows if row.parameters]
    assert names == ["0.l0", "0.l0_reverse", "0.l1", "0.l1_reverse", "1"]
    assert report.total == sum(p.numel() for p in model.parameters())
    assert report.trainable == report.total - 16
    assert "weight_peephole (3, 4)" in str(report)


def test_state_round_trip_and_detach() -> None:
    lstm = rnnkit.LSTM(3, 4, 2)
    _, state = lstm(torch.randn(2, 5, 3))
    packed = rnnkit.state_to_tensor(state)
    assert packed.shape == (2, 2, 8)
    h, c = rnnkit.tensor_to_state(packed)
    assert torch.equal(h, state[0]) and torch.equal(c, state[1])
    detached = rnnkit.detach_state(state)
    assert all(s.grad_fn is None and not s.requires_grad for s in detached)
    assert state[0].grad_fn is not None
    gru_state = torch.randn(1, 2, 4, requires_grad=True) * 2
    assert rnnkit.detach_state(gru_state).grad_fn is None
    assert rnnkit.tensor_to_state(gru_state, lstm=False) is gru_state
    with pytest.raises(ValueError, match="even size 2H"):
        rnnkit.tensor_to_state(torch.zeros(1, 2, 5))
    with pytest.raises(ValueError, match="same shape"):
        rnnkit.state_to_tensor((torch.zeros(1, 2, 4), torch.zeros(1, 2, 3)))


def test_demo_learns_digits(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--epochs", "12", "--hidden-size", "32"]) == 0
    out = capsys.readouterr().out
    accuracy = float(out.split("test accuracy ")[1].split("%")[0])
    assert accuracy > 90.0, out


def test_cli_rejects_a_bad_option_with_one_line_and_status_2() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "rnnkit", "demo", "--epochs", "0"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert "--epochs" in result.stderr and "Traceback" not in result.stderr


def _bench_rnn() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_rnn", ROOT / "benchmarks/bench_rnn.py")
    bench = importlib.util.module_from_spec(spec)
    sys.modules["bench_rnn"] = bench  # dataclasses look their module up there
    spec.loader.exec_module(bench)
    return bench


def test_bench_rnn_runs_on_a_tiny_shape() -> None:
    bench = _bench_rnn()
    table = bench.main(
        ["--rounds", "1", "--latency-rounds", "1", "--shapes", "2,3,4,5",
         "--memory-shape", "2,30,4,5", "--truncated-lengths", "20", "40"]
    )  # fmt: skip
    for cell in ("lstm", "gru", "rnn", "lstm+peephole"):
        assert f"| {cell} | (2, 3, 4, 5) |" in table
    assert "B=1 inference latency" in table
    assert "Peak training memory" in table and "| T=20 | T=40 |" in table


def test_bench_rnn_latency_rounds_zero_skips_the_latency_table() -> None:
    bench = _bench_rnn()
    table = bench.main(
        ["--rounds", "1", "--latency-rounds", "0", "--shapes", "2,3,4,5", "--cells", "gru",
         "--no-memory"]
    )  # fmt: skip
    assert "| gru | (2, 3, 4, 5) |" in table and "B=1 inference latency" not in table
    with pytest.raises(SystemExit):
        bench.main(["--rounds", "0"])


PAGE_FAULTS_OF_A_STEP = """
import resource, sys, torch, rnnkit
if sys.argv[1] == "tuned":
    rnnkit.tune_malloc()
layer = rnnkit.LSTM(16, 256, backend="rnnkit")
x = torch.randn(64, 200, 16)  # the step's gates alone: 200 * 64 * 1024 floats, 52 MB
def step():
    out, _ = layer(x)
    out.sum().backward()
step(); step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(4):
    step()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_tune_malloc_leaves_a_training_step_without_page_faults() -> None:
    """glibc gives blocks over 32 MiB back to the system on free, so each step faults in fresh
    pages for them; after tune_malloc a step reuses the memory of the steps before it (the
    heap may still grow now and then, when its free blocks are split so that none fits)."""

    def faults(mode: str) -> int:
        result = subprocess.run([sys.executable, "-c", PAGE_FAULTS_OF_A_STEP, mode],
                                capture_output=True, text=True, check=True)  # fmt: skip
        return int(result.stdout.split()[-1])

    plain = faults("plain")
    assert plain > 4 * 10_000  # four steps; 52 MB of gates alone are 12 700 pages
    assert faults("tuned") < plain / 5


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_tune_malloc_takes_effect_unless_the_user_chose() -> None:
    probe = "import rnnkit; print(rnnkit.tune_malloc())"
    tuned = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                           check=True)  # fmt: skip
    assert tuned.stdout.strip() == "True"
    env = {"MALLOC_MMAP_THRESHOLD_": "131072", "PATH": ""}
    chosen = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            check=True, env=env)  # fmt: skip
    assert chosen.stdout.strip() == "False"
