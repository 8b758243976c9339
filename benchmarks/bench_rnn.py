"""Speed of rnnkit's hand-written engine against torch.nn's fused kernels, in one process.

For each cell and shape (B, T, I, H) this times one training step (forward + backward of a
single-layer, batch-first layer whose input requires grad) and one inference call (no grad),
in interleaved rounds: one shape at a time, as in training, the two engines alternating step
by step (so the machine's noise hits both alike) and taking turns to go first; and prints
the median over the rounds of each round's ratio of throughput rnnkit / torch.nn (> 1 means
rnnkit is faster). The peephole LSTM is compared with torch.nn.LSTM, which has no peepholes.
It also prints the engine's achieved GFLOP/s as a fraction of a large float32 matrix product
measured in the same run, and the B=1 inference latency at (1, 100, 256, 256).

Memory is measured last, each number in a fresh process (the growth of its peak resident
memory over what it held before the step): one LSTM training step at (B, T, I, H) =
(32, 2000, 256, 256) for both engines, and truncated BPTT (chunks of 100 steps, the state
carried over detached) over ever longer sequences, which must stay flat.

    python benchmarks/bench_rnn.py                 # the README's table (a few minutes)
    python benchmarks/bench_rnn.py --rounds 3 --shapes 32,50,64,64 --no-memory
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

import rnnkit
from rnnkit.cells.matmul import linear
from rnnkit.tuning import tune_malloc

SHAPES = [(64, 100, 256, 256), (128, 28, 28, 128), (128, 50, 512, 512), (32, 200, 64, 128)]
LATENCY_SHAPE = (1, 100, 256, 256)
MEMORY_SHAPE = (32, 2000, 256, 256)
TRUNCATED_LENGTHS = (500, 1000, 2000, 4000)
TRUNCATED_CHUNK = 100
CELLS = {  # name: (rnnkit layer, its keyword arguments, torch.nn peer, gates)
    "lstm": (rnnkit.LSTM, {}, nn.LSTM, 4),
    "gru": (rnnkit.GRU, {}, nn.GRU, 3),
    "rnn": (rnnkit.RNN, {}, nn.RNN, 1),
    "lstm+peephole": (rnnkit.LSTM, {"peephole": True}, nn.LSTM, 4),
}


@dataclass
class Case:
    """One (cell, shape) pair: the two layers, the input, and the timings collected."""

    cell: str
    shape: tuple[int, int, int, int]
    ours: nn.Module
    peer: nn.Module
    x: torch.Tensor
    times: dict[str, list[float]]


def train_step(layer: nn.Module, x: torch.Tensor) -> None:
    layer.zero_grad(set_to_none=True)
    x.grad = None
    out, _ = layer(x)
    out.sum().backward()


def infer(layer: nn.Module, x: torch.Tensor) -> None:
    with torch.no_grad():
        layer(x)


def timed(fn: Callable[[], None]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def make_case(cell: str, shape: tuple[int, int, int, int]) -> Case:
    B, T, I, H = shape
    ours_cls, kwargs, peer_cls, _ = CELLS[cell]
    ours = ours_cls(I, H, backend="rnnkit", **kwargs)
    peer = peer_cls(I, H, batch_first=True)
    peer.load_state_dict(ours.state_dict(), strict=False)
    x = torch.randn(B, T, I, requires_grad=True)
    return Case(
        cell, shape, ours, peer, x, {k: [] for k in ("ours", "peer", "ours_inf", "peer_inf")}
    )


def flops_per_train_step(cell: str, shape: tuple[int, int, int, int]) -> float:
    """Matrix-product FLOPs of one training step: forward 2·T·B·(I+H)·G·H, backward twice it."""
    B, T, I, H = shape
    gates = CELLS[cell][3]
    return 3 * 2 * T * B * (I + H) * gates * H


def sgemm_peak(size: int = 2048, rounds: int = 5) -> float:
    """GFLOP/s of a large float32 matrix product: the best of torch.mm and the engine's GEMM."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    b_t = b.t().contiguous()
    best = 0.0
    for fn in (lambda: a.mm(b), lambda: linear(a, b_t)):
        fn()
        seconds = statistics.median(timed(fn) for _ in range(rounds))
        best = max(best, 2 * size**3 / seconds / 1e9)
    return best


def run(shapes, cells, rounds: int, latency_rounds: int, steps: int = 1) -> str:
    tune_malloc()  # both sides run in this process, so both get the same allocator settings
    torch.manual_seed(0)
    cases = [make_case(cell, shape) for shape in shapes for cell in cells]
    peak = sgemm_peak()
    for case in cases:
        # One case at a time, as a training run repeats one shape step after step (so the
        # caches and the allocator are in their steady state), the two engines alternating
        # step by step (so the machine's drift hits both alike) and taking turns to go first.
        for mode, step in (("", train_step), ("_inf", infer)):
            for layer in (case.ours, case.peer):  # warm up: first calls allocate, pick kernels
                step(layer, case.x)
                step(layer, case.x)
            for round_ in range(rounds):
                for side in ("ours", "peer") if round_ % 2 == 0 else ("peer", "ours"):
                    layer = case.ours if side == "ours" else case.peer
                    # `steps` calls in a row, as training makes them: the median is one
                    # engine's step in its steady state, its caches not just filled by the
                    # other engine's step (with steps=1, every call pays that)
                    block = [timed(lambda c=case, m=layer, f=step: f(m, c.x)) for _ in range(steps)]
                    case.times[side + mode].append(statistics.median(block))
    peak = max(peak, sgemm_peak())

    lines = [
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, {rounds} rounds of "
        f"{steps} step{'s' if steps > 1 else ''} per engine; "
        f"large sgemm: {peak:.0f} GFLOP/s",
        "",
        "| cell | shape (B,T,I,H) | train ms rnnkit / torch | train ratio | "
        "infer ratio | rnnkit GFLOP/s (% of sgemm) |",
        "|---|---|---|---|---|---|",
    ]
    for case in cases:
        med = {k: statistics.median(v) for k, v in case.times.items()}
        gflops = flops_per_train_step(case.cell, case.shape) / med["ours"] / 1e9
        peer = "nn.LSTM" if case.cell == "lstm+peephole" else ""
        lines.append(
            f"| {case.cell} | {case.shape} | {med['ours'] * 1e3:.1f} / {med['peer'] * 1e3:.1f}"
            f"{' ' + peer if peer else ''} | {speed_ratio(case.times, ''):.2f}x | "
            f"{speed_ratio(case.times, '_inf'):.2f}x | {gflops:.0f} ({gflops / peak:.0%}) |"
        )

    if latency_rounds == 0:
        return "\n".join(lines)
    lines += ["", "B=1 inference latency, shape (1, 100, 256, 256), median ms:", ""]
    lines += ["| cell | rnnkit | torch.nn | ratio |", "|---|---|---|---|"]
    for cell in cells:
        case = make_case(cell, LATENCY_SHAPE)
        for layer in (case.ours, case.peer):
            infer(layer, case.x)
        ours, peer = [], []
        for _ in range(latency_rounds):
            ours.append(timed(lambda c=case: infer(c.ours, c.x)))
            peer.append(timed(lambda c=case: infer(c.peer, c.x)))
        o, p = statistics.median(ours) * 1e3, statistics.median(peer) * 1e3
        lines.append(f"| {cell} | {o:.2f} | {p:.2f} | {p / o:.2f}x |")
    return "\n".join(lines)


def speed_ratio(times: dict[str, list[float]], mode: str) -> float:
    """torch.nn's time over rnnkit's: the median over the rounds of each round's ratio. The two
    calls of a round run back to back, so a slow spell of the (shared) machine slows both;
    a ratio of the two medians would mix calls from different spells."""
    pairs = zip(times["peer" + mode], times["ours" + mode], strict=True)
    return statistics.median(peer / ours for peer, ours in pairs)


def resident_bytes(field: str = "VmRSS") -> int:
    """This process's resident memory now (``VmRSS``) or at its peak (``VmHWM``). Not
    ``getrusage``'s maximum, which a child started by ``subprocess`` inherits from its parent."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024  # kB
    raise RuntimeError(f"no {field} in /proc/self/status (Linux only)")


def memory_probe(engine: str, shape: tuple[int, int, int, int], chunk: int | None) -> None:
    """In a fresh process: one training step of an LSTM of ``shape`` (B, T, I, H), the whole
    sequence at once or in chunks of ``chunk`` steps with the state carried over detached;
    prints how far the peak resident memory rose above what the process held before it."""
    tune_malloc()
    B, T, I, H = shape
    torch.manual_seed(0)
    layer = nn.LSTM(I, H, batch_first=True) if engine == "torch" else rnnkit.LSTM(I, H)
    if engine == "rnnkit":
        layer.backend = "rnnkit"
    # a whole step's input needs its gradient (as in the speed table); chunked data does not
    # (its gradient would be one more tensor of the full length)
    x = torch.randn(B, T, I, requires_grad=chunk is None)
    before = resident_bytes()
    state = None
    for part in x.split(chunk or T, dim=1):
        out, state = layer(part, state)
        out.sum().backward()
        state = rnnkit.detach_state(state)
    print(max(resident_bytes("VmHWM") - before, 0) / 2**20)


def measure_memory(engine: str, shape: tuple[int, int, int, int], chunk: int | None) -> float:
    command = [sys.executable, __file__, "--memory-probe", engine, ",".join(map(str, shape)),
               str(chunk or 0)]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    return float(result.stdout.split()[-1])


def memory_table(shape: tuple[int, int, int, int], lengths: list[int]) -> str:
    ours, peer = measure_memory("rnnkit", shape, None), measure_memory("torch", shape, None)
    B, _, I, H = shape
    truncated = [measure_memory("rnnkit", (B, T, I, H), TRUNCATED_CHUNK) for T in lengths]
    lines = [
        f"Peak training memory (MiB above the process's before the step), LSTM, "
        f"(B,T,I,H) = {shape}:",
        "",
        "| rnnkit | torch.nn | ratio |",
        "|---|---|---|",
        f"| {ours:.0f} | {peer:.0f} | {ours / peer:.2f}x |",
        "",
        f"Truncated BPTT, rnnkit LSTM, chunks of {TRUNCATED_CHUNK} steps, peak MiB by "
        "sequence length:",
        "",
        "| " + " | ".join(f"T={T}" for T in lengths) + " |",
        "|" + "---|" * len(lengths),
        "| " + " | ".join(f"{peak:.0f}" for peak in truncated) + " |",
    ]
    return "\n".join(lines)


def parse_shape(text: str) -> tuple[int, int, int, int]:
    values = tuple(int(v) for v in text.split(","))
    if len(values) != 4 or min(values) <= 0:
        raise argparse.ArgumentTypeError(f"a shape is B,T,I,H (4 positive integers), got {text!r}")
    return values


def count(text: str, least: int) -> int:
    value = int(text) if text.strip().lstrip("-").isdigit() else None
    if value is None or value < least:
        raise argparse.ArgumentTypeError(f"expected an integer >= {least}, got {text!r}")
    return value


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rounds", type=lambda v: count(v, 1), default=15, help="interleaved rounds (default 15)"
    )
    parser.add_argument(
        "--steps",
        type=lambda v: count(v, 1),
        default=1,
        help="calls of one engine in a row in each round, timed by their median (default 1)",
    )
    parser.add_argument(
        "--latency-rounds",
        type=lambda v: count(v, 0),
        default=50,
        help="B=1 calls (default 50; 0 skips the latency table)",
    )
    parser.add_argument("--shapes", type=parse_shape, nargs="+", default=SHAPES)
    parser.add_argument("--cells", nargs="+", choices=list(CELLS), default=list(CELLS))
    parser.add_argument("--no-memory", action="store_true", help="skip the memory measurements")
    parser.add_argument("--memory-shape", type=parse_shape, default=MEMORY_SHAPE)
    parser.add_argument("--truncated-lengths", type=int, nargs="+", default=list(TRUNCATED_LENGTHS))
    parser.add_argument("--memory-probe", nargs=3, help=argparse.SUPPRESS)  # ENGINE SHAPE CHUNK
    args = parser.parse_args(argv)
    if args.memory_probe:
        engine, shape, chunk = args.memory_probe
        memory_probe(engine, parse_shape(shape), int(chunk) or None)
        return ""
    table = run(args.shapes, args.cells, args.rounds, args.latency_rounds, args.steps)
    print(table, flush=True)
    if not args.no_memory:
        memory = memory_table(args.memory_shape, args.truncated_lengths)
        print("\n" + memory)
        table += "\n\n" + memory
    return table


if __name__ == "__main__":
    main()
