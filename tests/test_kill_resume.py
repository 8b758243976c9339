"""SIGKILL a training run at random moments, then ``--resume`` it: every kill leaves a loadable
``checkpoints/last``, and the resumed run ends with the weights and the ``log.csv`` of a run
that was never interrupted (CPU, same seed).

The children run ``python -m rnnkit train classify`` in subprocesses. The (seeded) random
delays, the epoch lines on the child's stdout and the temp files of checkpoint writes only
decide *when* to kill (see :func:`kill_child`); nothing asserts on timing. Some kills watch
``checkpoints/`` for the temp file of a ``last`` write and kill the moment it appears, so they
land inside the write (the stale temp file left behind shows it did); others kill the moment
it was renamed, before the epoch's ``log.csv`` row is written.
"""

from __future__ import annotations

import os
import queue
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors.torch import load_file

from rnnkit.runs import RunDir
from rnnkit.tasks.classify import build_model
from rnnkit.text.vocab import Vocab

EPOCHS = 8
OPTIONS = [
    *("--hidden-size", "16", "--embedding-dim", "8", "--batch-size", "8"),
    *("--epochs", str(EPOCHS), "--seed", "3", "--dropout", "0"),
]
KILLS = 10  # at least this many SIGKILLs that land (the issue asks for 10)
MAX_ATTEMPTS = 12  # kills per interrupted run; then it is resumed to its end
LAST_TEMP_PREFIX = ".last.safetensors."  # atomic_write's temp file for checkpoints/last
WAIT = 120.0  # seconds: a generous bound on any single wait for the child, never asserted


def write_toy(path: Path, count: int, seed: int) -> Path:
    """``count`` lines "pos|neg TEXT": two filler words and a word that gives the label."""
    rng = random.Random(seed)
    filler = ("the", "a", "film", "movie", "is", "was", "plot", "very")
    lines = []
    for _ in range(count):
        label = rng.choice(("pos", "neg"))
        cue = rng.choice(("good", "nice", "great") if label == "pos" else ("bad", "awful", "poor"))
        words = [*rng.sample(filler, 2), cue]
        rng.shuffle(words)
        lines.append(f"{label} {' '.join(words)}\n")
    path.write_text("".join(lines), encoding="utf-8")
    return path


class Child:
    """``python -m rnnkit ARGV`` with its stdout read line by line on a thread (so waiting
    for a line never blocks forever) and its stderr in a file."""

    def __init__(self, argv: list[str], stderr_path: Path) -> None:
        env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        env["PYTHONUNBUFFERED"] = "1"  # an epoch line reaches us when it is printed
        self.stderr_path = stderr_path
        with stderr_path.open("w", encoding="utf-8") as stderr:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "rnnkit", *argv],
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
                env=env,
            )
        self.started = time.monotonic()
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.epochs: list[int] = []  # the epoch numbers printed so far
        self.epoch_times: list[float] = []  # when each was read (monotonic clock)
        self.stdout_ended = False
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        with self.proc.stdout:
            for line in self.proc.stdout:
                self.lines.put(line)
        self.lines.put(None)

    def next_epoch_line(self) -> bool:
        """Wait for the next "epoch K/N ..." line; False if the child's stdout ended first."""
        deadline = time.monotonic() + WAIT
        while not self.stdout_ended and (left := deadline - time.monotonic()) > 0:
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                self.stdout_ended = True
                return False
            if line.startswith("epoch "):
                self.epochs.append(int(line.split()[1].split("/")[0]))
                self.epoch_times.append(time.monotonic())
                return True
        return False

    def kill(self) -> bool:
        """SIGKILL the child; False if it had already exited by itself."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=WAIT)
        self.drain()
        return self.proc.returncode == -signal.SIGKILL

    def drain(self) -> None:
        """Record the epoch lines printed before the child died."""
        while self.next_epoch_line():
            pass

    def finish(self) -> int:
        """Let the child run to its end; its exit status."""
        self.proc.wait(timeout=WAIT)
        self.drain()
        return self.proc.returncode

    def stderr(self) -> str:
        return self.stderr_path.read_text(encoding="utf-8")


def train_argv(train_file: Path, run_dir: Path) -> list[str]:
    return ["train", "classify", "--train", str(train_file), "--out", str(run_dir), *OPTIONS]


# ---------------------------------------------------------------------- killing
@dataclass
class Timing:
    """Rough durations of the reference run, only used to spread the kills over a run."""

    startup: float  # start to the first batch
    epoch: float
    finish: float  # last epoch line to exit: final weights, metrics, plots

    @classmethod
    def of(cls, child: Child, ended: float) -> Timing:
        times = child.epoch_times
        epoch = (times[-1] - times[0]) / (len(times) - 1)
        return cls(times[0] - epoch - child.started, epoch, ended - times[-1])

    def remaining(self, done_epochs: int) -> float:
        return self.startup + (EPOCHS - done_epochs) * self.epoch + self.finish


KINDS = (
    "at random",
    "after an epoch line",
    "near a checkpoint write",
    "in a checkpoint write",
    "just after a checkpoint write",
    "while finishing",
)


def last_write_temps(run_dir: Path) -> list[str]:
    """Temp files of an unfinished ``checkpoints/last`` write."""
    try:
        names = os.listdir(run_dir / "checkpoints")
    except FileNotFoundError:
        return []
    return [name for name in names if name.startswith(LAST_TEMP_PREFIX)]


def kill_child(
    child: Child, kind: str, rng: random.Random, timing: Timing, done_epochs: int, run_dir: Path
) -> bool:
    """SIGKILL ``child`` at a moment of ``kind``; False if it finished by itself first.

    - at random: a uniform delay over the (expected) rest of the run, startup included;
    - after an epoch line: just after one, as the next epoch starts;
    - near a checkpoint write: about an epoch after an epoch line, as the next epoch ends;
    - in a checkpoint write: as soon as the temp file of a ``checkpoints/last`` write exists;
    - just after a checkpoint write: as soon as that temp file has been renamed, before the
      epoch's ``log.csv`` row is written;
    - while finishing: after the last epoch line, as the final weights, metrics and plots are
      written.
    """
    if kind == "at random":
        time.sleep(rng.uniform(0.0, timing.remaining(done_epochs)))
    elif kind in ("in a checkpoint write", "just after a checkpoint write"):
        wait_for(child, lambda: bool(last_write_temps(run_dir)))
        if kind == "just after a checkpoint write":
            wait_for(child, lambda: not last_write_temps(run_dir))
    elif kind == "while finishing":
        while child.next_epoch_line() and child.epochs[-1] < EPOCHS:
            pass
        time.sleep(rng.uniform(0.0, timing.finish))
    elif child.next_epoch_line():
        low, high = (0.0, 0.2) if kind == "after an epoch line" else (0.8, 1.1)
        time.sleep(rng.uniform(low, high) * timing.epoch)
    return child.kill()


def wait_for(child: Child, condition: Callable[[], bool]) -> None:
    """Poll ``condition`` as fast as possible while ``child`` runs (a write takes ~ms)."""
    deadline = time.monotonic() + WAIT
    while child.proc.poll() is None and time.monotonic() < deadline and not condition():
        pass


# ---------------------------------------------------------------------- checking a run dir
def load_last_checkpoint(run_dir: Path) -> int:
    """Load ``checkpoints/last`` into a model built from the run's config as the CLI does;
    the epoch it was saved after."""
    run = RunDir.open(run_dir)
    config = run.read_config()
    model = build_model(
        config,
        {"vocab": Vocab.load(run_dir / "vocab.json").to_dict(), "labels": run.read_json("labels")},
    )
    state = run.load_checkpoint("last", model, restore_rng=False)
    return int(state["epoch"])


def same_weights(a: Path, b: Path) -> bool:
    first, second = load_file(a), load_file(b)
    return first.keys() == second.keys() and all(torch.equal(first[k], second[k]) for k in first)


def deterministic_log(run_dir: Path) -> list[dict[str, str]]:
    """``log.csv`` without the wall-clock columns."""
    rows = RunDir(run_dir).read_log()
    return [{k: v for k, v in row.items() if k not in ("time", "examples_per_s")} for row in rows]


@dataclass
class Kills:
    """The kills that landed (the child was running), by kind, and how many of them left a
    ``checkpoints/last`` write unfinished (its temp file is still there)."""

    landed: Counter[str] = field(default_factory=Counter)
    in_write: int = 0
    attempts: int = 0

    def next_kind(self) -> str:
        self.attempts += 1
        return KINDS[self.attempts % len(KINDS)]


def interrupt_and_resume(
    train_file: Path, run_dir: Path, rng: random.Random, timing: Timing, kills: Kills
) -> None:
    """Train into ``run_dir``, SIGKILL the child, resume it (``--resume``), kill it again, ...
    until a child finishes by itself (after ``MAX_ATTEMPTS`` kills it is left alone). After
    every kill ``checkpoints/last``, once it exists, must load and must not go back."""
    done = 0  # epochs in checkpoints/last; 0 while there is none
    for attempt in range(MAX_ATTEMPTS + 1):
        if (run_dir / "metrics.json").is_file():  # killed while the plots were drawn
            return
        if done == 0:  # killed before the first checkpoint: nothing to resume, start over
            shutil.rmtree(run_dir, ignore_errors=True)
            argv = train_argv(train_file, run_dir)
        else:
            argv = ["train", "classify", "--resume", str(run_dir)]
        child = Child(argv, run_dir.with_name(f"{run_dir.name}-{attempt}.err"))
        if attempt == MAX_ATTEMPTS:
            killed = False
            assert child.finish() == 0, child.stderr()
        else:
            kind = kills.next_kind()
            killed = kill_child(child, kind, rng, timing, done, run_dir)
            assert killed or child.proc.returncode == 0, child.stderr()
        if child.epochs:  # a resume goes on after the checkpoint; it does not start over
            assert child.epochs[0] == done + 1, (attempt, done, child.epochs)
        if killed:
            kills.landed[kind] += 1
            kills.in_write += bool(last_write_temps(run_dir))
        if RunDir(run_dir).has_checkpoint("last"):
            epoch = load_last_checkpoint(run_dir)  # raises if the kill left it unloadable
            assert epoch >= done, (attempt, done, epoch)
            done = epoch
        if not killed:
            return


def test_sigkill_at_random_moments_then_resume_gives_the_uninterrupted_weights(
    tmp_path: Path,
) -> None:
    train_file = write_toy(tmp_path / "train.txt", 400, seed=7)
    reference = tmp_path / "reference"
    child = Child(train_argv(train_file, reference), tmp_path / "reference.err")
    assert child.finish() == 0, child.stderr()
    timing = Timing.of(child, time.monotonic())
    assert child.epochs == list(range(1, EPOCHS + 1))

    rng, kills, runs = random.Random(20240), Kills(), []
    while sum(kills.landed.values()) < KILLS:  # usually one run, a second if it ended early
        runs.append(tmp_path / f"killed{len(runs)}")
        interrupt_and_resume(train_file, runs[-1], rng, timing, kills)
    print(f"kills: {dict(kills.landed)}; {kills.in_write} during a checkpoint write")
    assert kills.in_write >= 1, "no kill landed during a checkpoint write"

    for run_dir in runs:
        assert load_last_checkpoint(run_dir) == EPOCHS
        assert same_weights(run_dir / "model.safetensors", reference / "model.safetensors")
        epochs = [row["epoch"] for row in RunDir(run_dir).read_log()]
        assert epochs == [str(epoch) for epoch in range(1, EPOCHS + 1)]
        assert deterministic_log(run_dir) == deterministic_log(reference)
