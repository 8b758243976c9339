"""Forward + backward time of sampled softmax vs the full softmax at a large vocabulary.

The baseline is plain PyTorch, ``F.cross_entropy(F.linear(h, W, b), y)``; the sampled layers
are ``rnnkit.losses.SampledSoftmax`` in training mode sharing the same ``W`` and ``b``. Every
round times each method once, in a rotated order (so drift in a noisy machine's speed hits
all methods alike), all in one process; the table reports medians over rounds.

    PYTHONPATH=src python benchmarks/bench_sampled_softmax.py --vocab-size 50000
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from rnnkit.losses.sampled_softmax import SampledSoftmax

FULL = "full softmax"


@dataclass(frozen=True)
class Timing:
    """Seconds per forward+backward step of one method, over all rounds."""

    method: str
    seconds: list[float]

    @property
    def median_ms(self) -> float:
        return 1e3 * statistics.median(self.seconds)

    @property
    def min_ms(self) -> float:
        return 1e3 * min(self.seconds)


def _time_step(loss_fn: Callable[[Tensor], Tensor], hidden: Tensor, params: list[Tensor]) -> float:
    # Fresh gradients each step, as optimizer.zero_grad(set_to_none=True) would leave them.
    for p in [hidden, *params]:
        p.grad = None
    start = time.perf_counter()
    loss_fn(hidden).backward()
    return time.perf_counter() - start


def run_benchmark(
    vocab_size: int = 50_000,
    hidden_size: int = 256,
    num_tokens: int = 2048,
    num_sampled: Sequence[int] = (512, 1024),
    rounds: int = 7,
    warmup: int = 1,
    seed: int = 0,
) -> list[Timing]:
    """Time full and sampled softmax; return one `Timing` per method, full softmax first."""
    torch.manual_seed(seed)
    reference = SampledSoftmax(hidden_size, vocab_size, num_sampled=1)
    weight, bias = reference.weight, reference.bias
    assert bias is not None
    hidden = torch.randn(num_tokens, hidden_size, requires_grad=True)
    # Zipf-distributed targets, as in text whose ids are sorted by frequency.
    ranks = torch.arange(1, vocab_size + 1, dtype=torch.float64)
    targets = torch.multinomial(1.0 / ranks, num_tokens, replacement=True)

    methods: dict[str, Callable[[Tensor], Tensor]] = {
        FULL: lambda h: F.cross_entropy(F.linear(h, weight, bias), targets)
    }
    for size in num_sampled:
        layer = SampledSoftmax(hidden_size, vocab_size, num_sampled=size)
        layer.weight, layer.bias = weight, bias  # same parameters as the baseline
        methods[f"sampled S={size}"] = lambda h, layer=layer: layer(h, targets)

    names = list(methods)
    seconds: dict[str, list[float]] = {name: [] for name in names}
    for round_index in range(warmup + rounds):
        shift = round_index % len(names)
        for name in names[shift:] + names[:shift]:
            elapsed = _time_step(methods[name], hidden, [weight, bias])
            if round_index >= warmup:
                seconds[name].append(elapsed)
    return [Timing(name, seconds[name]) for name in names]


def format_table(timings: list[Timing]) -> str:
    """Markdown table of median/min milliseconds and the speed-up over the first (full) row."""
    full_ms = timings[0].median_ms
    lines = [
        "| method | median ms | min ms | speed-up vs full |",
        "|---|---:|---:|---:|",
    ]
    for timing in timings:
        speedup = full_ms / timing.median_ms
        lines.append(
            f"| {timing.method} | {timing.median_ms:.1f} | {timing.min_ms:.1f} | {speedup:.1f}x |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point: run the benchmark and print its table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vocab-size", type=int, default=50_000)
    parser.add_argument("--hidden-size", type=int, default=256)
    parser.add_argument("--num-tokens", type=int, default=2048)
    parser.add_argument("--num-sampled", type=int, nargs="+", default=[512, 1024])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    timings = run_benchmark(
        vocab_size=args.vocab_size,
        hidden_size=args.hidden_size,
        num_tokens=args.num_tokens,
        num_sampled=args.num_sampled,
        rounds=args.rounds,
        warmup=args.warmup,
        seed=args.seed,
    )
    print(
        f"forward+backward, vocab {args.vocab_size}, hidden {args.hidden_size}, "
        f"{args.num_tokens} tokens, torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"median of {args.rounds} interleaved rounds"
    )
    print(format_table(timings))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
