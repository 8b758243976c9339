"""The ``rnnkit`` command: it parses options and calls the task pipelines.

Every user mistake (a bad option value, a missing or malformed file, a broken run directory)
ends with one line ``rnnkit: error: ...`` on stderr and exit status 2, without a traceback;
Ctrl-C during training saves a checkpoint and exits with status 130.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any, NoReturn

from rnnkit import __version__
from rnnkit.tasks import TASKS, TaskInterrupted, check_available
from rnnkit.tuning import tune_malloc

EXAMPLES = """\
examples:
  rnnkit demo --epochs 30
  rnnkit train classify --train train.txt --valid dev.txt --test test.txt --out runs/sst \\
      --cell lstm --hidden-size 128 --epochs 10
  rnnkit train classify --resume runs/sst --epochs 20
  rnnkit evaluate runs/sst --data test.txt
  rnnkit predict runs/sst --input texts.txt --output labels.txt
  rnnkit summary runs/sst
  rnnkit compare --out gradient_flow.png

data of classify: one example a line, LABEL<space>TEXT (e.g. "1 a gripping film .").
"""

# Names of the `train` options handed to the task (the rest steer the command itself).
TRAIN_OPTIONS = (
    "train",
    "valid",
    "test",
    "tokens",
    "min_freq",
    "cell",
    "hidden_size",
    "layers",
    "bidirectional",
    "dropout",
    "embedding_dim",
    "pooling",
    "epochs",
    "lr",
    "optimizer",
    "batch_size",
    "clip_norm",
    "seed",
    "patience",
    "device",
)


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (no usage block), exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


# ---------------------------------------------------------------------- value checks
def _number(text: str, kind: type, expected: str) -> Any:
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
    if kind is float and not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
    return value


def _positive_int(text: str) -> int:
    value = _number(text, int, "a positive integer")
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _seed(text: str) -> int:
    expected = "an integer in [0, 2**32)"
    value = _number(text, int, expected)
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
    return value


def _positive_float(text: str) -> float:
    value = _number(text, float, "a positive number")
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def _non_negative_float(text: str) -> float:
    value = _number(text, float, "a number >= 0")
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}")
    return value


def _fraction(text: str) -> float:
    value = _number(text, float, "a number in [0, 1)")
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1), got {text!r}")
    return value


def _existing_file(text: str) -> str:
    path = Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text}: is a directory, expected a file")
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"{text}: file not found")
    return text


# ---------------------------------------------------------------------- the parser
def _add_train(commands: Any) -> None:
    from rnnkit.tasks.classify import DEFAULTS

    def default(name: str) -> str:
        return f"default: {DEFAULTS[name]}"

    train = commands.add_parser(
        "train",
        help="train a model for TASK into a run directory",
        description="Train a model for TASK into the run directory --out, or continue one\n"
        "with --resume. Options not given take their defaults; a resumed run keeps\n"
        "its own (only --epochs and --device may change).",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    # Every task option defaults to None: "not given", so --resume can tell what was asked.
    train.add_argument("task", choices=TASKS, metavar="TASK", help=f"one of {', '.join(TASKS)}")
    data = train.add_argument_group("data")
    data.add_argument("--train", type=_existing_file, metavar="FILE", help="training examples")
    data.add_argument(
        "--valid", type=_existing_file, metavar="FILE", help="default: 10%% of --train held out"
    )
    data.add_argument("--test", type=_existing_file, metavar="FILE", help="test examples")
    data.add_argument("--tokens", choices=("word", "char"), help=default("tokens"))
    data.add_argument(
        "--min-freq",
        type=_positive_int,
        help=f"keep tokens seen this often in --train; {default('min_freq')}",
    )
    model = train.add_argument_group("model")
    model.add_argument("--cell", choices=("rnn", "lstm", "gru"), help=default("cell"))
    model.add_argument("--hidden-size", type=_positive_int, help=default("hidden_size"))
    model.add_argument("--layers", type=_positive_int, help=default("layers"))
    model.add_argument("--bidirectional", action="store_true", default=None, help="read both ways")
    model.add_argument("--dropout", type=_fraction, help=default("dropout"))
    model.add_argument("--embedding-dim", type=_positive_int, help=default("embedding_dim"))
    model.add_argument("--pooling", choices=("last", "mean", "max"), help=default("pooling"))
    trainer = train.add_argument_group("training")
    trainer.add_argument("--epochs", type=_positive_int, help=default("epochs"))
    trainer.add_argument("--lr", type=_positive_float, help=default("lr"))
    trainer.add_argument("--optimizer", choices=("adam", "adamw", "sgd"), help=default("optimizer"))
    trainer.add_argument("--batch-size", type=_positive_int, help=default("batch_size"))
    trainer.add_argument(
        "--clip-norm", type=_non_negative_float, help=f"0 turns it off; {default('clip_norm')}"
    )
    trainer.add_argument("--seed", type=_seed, help=default("seed"))
    trainer.add_argument(
        "--patience",
        type=_positive_int,
        help="early stopping on the validation loss after this many epochs; default: off",
    )
    trainer.add_argument("--device", choices=("cpu", "cuda"), help=default("device"))
    run = train.add_argument_group("run directory")
    run.add_argument("--out", metavar="RUN_DIR", help="the new run directory")
    run.add_argument(
        "--overwrite", action="store_true", help="replace an existing run directory --out"
    )
    run.add_argument("--resume", metavar="RUN_DIR", help="continue this run from its last epoch")


def build_parser() -> argparse.ArgumentParser:
    """The ``rnnkit`` argument parser."""
    parser = _Parser(
        prog="rnnkit",
        description="Recurrent neural networks done properly, on PyTorch.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"rnnkit {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    demo = commands.add_parser(
        "demo", help="train an LSTM on scikit-learn's 8x8 digits, read row by row"
    )
    demo.add_argument("--epochs", type=_positive_int, default=30, help="default: 30")
    demo.add_argument("--hidden-size", type=_positive_int, default=64, help="default: 64")
    demo.add_argument("--seed", type=int, default=0, help="default: 0")
    _add_train(commands)
    evaluate = commands.add_parser(
        "evaluate", help="print a run's metrics on labelled data as one JSON line"
    )
    evaluate.add_argument("run_dir", metavar="RUN_DIR")
    evaluate.add_argument(
        "--data",
        type=_existing_file,
        metavar="FILE",
        help="default: the run's test file, else its validation data",
    )
    predict = commands.add_parser("predict", help="predict a label for each line of a file")
    predict.add_argument("run_dir", metavar="RUN_DIR")
    predict.add_argument(
        "--input", type=_existing_file, required=True, metavar="FILE", help="one text a line"
    )
    predict.add_argument("--output", metavar="FILE", help="one label a line; default: stdout")
    summary = commands.add_parser("summary", help="a run's architecture and parameter counts")
    summary.add_argument("run_dir", metavar="RUN_DIR")
    compare = commands.add_parser(
        "compare",
        help="plot how much gradient reaches each time step in an RNN, an LSTM and a GRU",
    )
    compare.add_argument("--out", required=True, metavar="PNG", help="the picture to write")
    compare.add_argument("--steps", type=_positive_int, default=100, help="default: 100")
    compare.add_argument("--hidden-size", type=_positive_int, default=64, help="default: 64")
    compare.add_argument("--seed", type=_seed, default=0, help="default: 0")
    return parser


def _compare(args: argparse.Namespace) -> None:
    from rnnkit.inspect import compare_gradient_flow
    from rnnkit.plots import plot_gradient_through_time

    curves = compare_gradient_flow(hidden_size=args.hidden_size, steps=args.steps, seed=args.seed)
    path = plot_gradient_through_time(curves, args.out)
    for name, curve in curves.items():
        ratio = float(curve[0] / curve[-1])
        print(f"{name:5s} ‖∂L/∂h_0‖ / ‖∂L/∂h_T-1‖ = {ratio:.3g}")
    print(f"wrote {path}")


# ---------------------------------------------------------------------- commands
def _train(args: argparse.Namespace) -> None:
    check_available(args.task)
    from rnnkit.tasks import classify

    if args.resume is None and args.train is None:
        raise ValueError("--train is required (or --resume RUN_DIR)")
    options = {name: getattr(args, name) for name in TRAIN_OPTIONS}
    given = {name: value for name, value in options.items() if value is not None}
    classify.train(given, out=args.out, resume=args.resume, overwrite=args.overwrite)


def _predict(args: argparse.Namespace) -> None:
    from rnnkit.tasks.classify import predict_file

    labels = predict_file(args.run_dir, args.input)
    text = "".join(f"{label}\n" for label in labels)
    if args.output is None:
        sys.stdout.write(text)
        return
    try:
        Path(args.output).write_text(text, encoding="utf-8")
    except OSError as err:
        raise ValueError(f"--output {args.output}: cannot write: {err.strerror or err}") from None


def _run(args: argparse.Namespace) -> None:
    if args.command == "demo":
        from rnnkit.demo import DemoConfig, run_demo

        run_demo(DemoConfig(hidden_size=args.hidden_size, epochs=args.epochs, seed=args.seed))
    elif args.command == "train":
        _train(args)
    elif args.command == "evaluate":
        from rnnkit.tasks.classify import evaluate_run

        print(json.dumps(evaluate_run(args.run_dir, args.data), sort_keys=True))
    elif args.command == "predict":
        _predict(args)
    elif args.command == "compare":
        _compare(args)
    elif args.command == "summary":
        from rnnkit.tasks.classify import summarize_run

        print(summarize_run(args.run_dir))


def _one_line(err: BaseException) -> str:
    return " ".join(str(err).splitlines()) or type(err).__name__


def main(argv: list[str] | None = None) -> int:
    """Run the command; returns the exit status (0, 2 for a user mistake, 130 on Ctrl-C)."""
    args = build_parser().parse_args(argv)
    tune_malloc()
    try:
        _run(args)
    except TaskInterrupted as stop:
        print(f"rnnkit: {stop}", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("rnnkit: interrupted", file=sys.stderr)
        return 130
    except (ValueError, OSError) as err:
        print(f"rnnkit: error: {_one_line(err)}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
