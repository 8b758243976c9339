"""The ``rnnkit`` command."""

from __future__ import annotations

import argparse
import sys

from rnnkit import __version__
from rnnkit.tuning import tune_malloc


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rnnkit",
        description="Recurrent neural networks done properly, on PyTorch.",
        epilog="example: rnnkit demo --epochs 30",
    )
    parser.add_argument("--version", action="version", version=f"rnnkit {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser(
        "demo", help="train an LSTM on scikit-learn's 8x8 digits, read row by row"
    )
    demo.add_argument("--epochs", type=_positive_int, default=30, help="default: 30")
    demo.add_argument("--hidden-size", type=_positive_int, default=64, help="default: 64")
    demo.add_argument("--seed", type=int, default=0, help="default: 0")
    return parser


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    tune_malloc()
    if args.command == "demo":
        from rnnkit.demo import DemoConfig, run_demo

        run_demo(DemoConfig(hidden_size=args.hidden_size, epochs=args.epochs, seed=args.seed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
