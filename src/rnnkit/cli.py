"""The ``rnnkit`` command: it parses options and calls the task pipelines.

Every user mistake (a bad option value, a missing or malformed file, a broken run directory)
ends with one line ``rnnkit: error: ...`` on stderr and exit status 2, without a traceback;
Ctrl-C during training saves a checkpoint and exits with status 130.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, NoReturn

from rnnkit import __version__
from rnnkit.data.datadir import ENV_VAR
from rnnkit.tasks import TASK_SUMMARIES, TASKS, TaskInterrupted, get_task
from rnnkit.tasks.options import given_value, parser_of
from rnnkit.tuning import tune_malloc

EXAMPLES = """\
examples:
  rnnkit demo --epochs 30
  rnnkit train classify --train train.txt --valid dev.txt --test test.txt --out runs/sst \\
      --cell lstm --hidden-size 128 --epochs 10
  rnnkit train classify --resume runs/sst --epochs 20
  rnnkit evaluate runs/sst --data test.txt
  rnnkit train classify --recipe mnist-rows --data-dir ../shared/data --out runs/mnist
  rnnkit predict runs/sst --input texts.txt --output labels.txt
  rnnkit generate runs/shakespeare --prime "ROMEO:" --length 500 --temperature 0.8 --top-k 40
  rnnkit summary runs/sst
  rnnkit export runs/sst --format onnx
  rnnkit compare --out gradient_flow.png

'rnnkit train TASK --help' lists a task's data formats, options and recipes.
"""


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (no usage block), exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


# ---------------------------------------------------------------------- value checks
# The same parsers as the tasks' options (rnnkit.tasks.options), so a value means the same
# thing to every command.
_positive_int = parser_of("positive_int")
_seed = parser_of("seed")
_positive_float = parser_of("positive_float")
_existing_file = parser_of("file")
_existing_path = parser_of("path")


# ---------------------------------------------------------------------- the parser
GROUP_TITLES = {"data": "data", "model": "model", "training": "training"}


def _add_task(tasks: Any, name: str, full: bool) -> None:
    """``rnnkit train NAME``: the task's own options, then the common ones, by group. Only
    the task asked for (``full``) is imported: each brings its own libraries (statsmodels,
    seqeval, sacrebleu ...), which would slow every command down."""
    if not full:
        tasks.add_parser(name, help=TASK_SUMMARIES[name], add_help=False)
        return
    task = get_task(name)
    recipes = ", ".join(task.recipes) or "none"
    parser = tasks.add_parser(
        name,
        help=TASK_SUMMARIES[name],
        description=f"Train a {name} model into the run directory --out, or continue one with\n"
        "--resume. Options not given take the recipe's values, then their defaults; a\n"
        "resumed run keeps its own (only --epochs and --device may change).\n\n"
        + (sys.modules[type(task).__module__].__doc__ or "").strip(),
        epilog=f"examples:\n{task.examples}\n\nrecipes: {recipes}" if task.examples else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    groups = {key: parser.add_argument_group(title) for key, title in GROUP_TITLES.items()}
    for option in task.options():
        option.add_to(groups[option.group])
    run = parser.add_argument_group("run directory")
    run.add_argument("--out", metavar="RUN_DIR", help="the new run directory")
    run.add_argument(
        "--overwrite", action="store_true", help="replace an existing run directory --out"
    )
    run.add_argument("--resume", metavar="RUN_DIR", help="continue this run from its last epoch")
    run.add_argument("--recipe", metavar="NAME", help=f"a named configuration: {recipes}")
    run.add_argument(
        "--data-dir",
        metavar="DIR",
        help=f"where a recipe's data sets are; default: ${ENV_VAR}",
    )


def _add_train(commands: Any, task: str | None) -> None:
    train = commands.add_parser(
        "train",
        help="train a model for TASK into a run directory",
        description="Train a model for TASK; 'rnnkit train TASK --help' lists its options.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    tasks = train.add_subparsers(dest="task", required=True, metavar="TASK")
    for name in TASKS:
        _add_task(tasks, name, full=name == task)


def _asked_task(argv: list[str]) -> str | None:
    """The TASK of ``rnnkit train TASK ...`` in ``argv``, if that is the command."""
    words = [word for word in argv if not word.startswith("-")]
    if len(words) >= 2 and words[0] == "train" and words[1] in TASKS:
        return words[1]
    return None


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The ``rnnkit`` argument parser; for ``train TASK`` only that task's options are built
    (``argv`` tells which)."""
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
    _add_train(commands, _asked_task(sys.argv[1:] if argv is None else argv))
    evaluate = commands.add_parser(
        "evaluate", help="print a run's metrics on labelled data as one JSON line"
    )
    evaluate.add_argument("run_dir", metavar="RUN_DIR")
    evaluate.add_argument(
        "--data",
        type=_existing_path,
        metavar="FILE",
        help="default: the run's test file, else its validation data",
    )
    predict = commands.add_parser(
        "predict", help="a run's prediction for each example of a file, one a line"
    )
    predict.add_argument("run_dir", metavar="RUN_DIR")
    predict.add_argument(
        "--input",
        type=_existing_path,
        required=True,
        metavar="FILE",
        help="examples in the run's input format (texts: one a line)",
    )
    predict.add_argument("--output", metavar="FILE", help="one prediction a line; default: stdout")
    predict.add_argument(
        "--probabilities",
        action="store_true",
        help="classify: tab-separated lines, the label and each class's probability (a header "
        "line names the classes)",
    )
    generate = commands.add_parser("generate", help="sample from a run of the generate task")
    generate.add_argument("run_dir", metavar="RUN_DIR")
    generate.add_argument("--prime", help="text the samples continue (text runs)")
    generate.add_argument(
        "--condition", help="the class asked for (class-conditional runs), e.g. 7"
    )
    generate.add_argument("--length", type=_positive_int, help="steps to sample; default: 500")
    generate.add_argument(
        "--temperature", type=_positive_float, default=1.0, help="softmax temperature; default: 1"
    )
    generate.add_argument(
        "--top-k", type=parser_of("non_negative_int"), help="sample among the k likeliest (0: all)"
    )
    generate.add_argument("--count", type=_positive_int, default=1, help="samples; default: 1")
    generate.add_argument("--seed", type=_seed, default=0, help="default: 0")
    generate.add_argument(
        "--output", metavar="PATH", help="text file, or file stem for PNG/MIDI; default: stdout"
    )
    export = commands.add_parser(
        "export", help="write a run's model as ONNX or TorchScript and check its outputs"
    )
    export.add_argument("run_dir", metavar="RUN_DIR")
    export.add_argument("--format", choices=("onnx", "torchscript"), required=True)
    export.add_argument(
        "--output", metavar="FILE", help="default: RUN_DIR/model.onnx or RUN_DIR/model.pt"
    )
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
COMMAND_KEYS = {"command", "task", "out", "overwrite", "resume", "recipe", "data_dir"}


def _train(args: argparse.Namespace) -> None:
    from rnnkit.tasks import runner

    given = {
        name: given_value(value)
        for name, value in vars(args).items()
        if name not in COMMAND_KEYS and value is not None
    }
    runner.train(
        args.task,
        given,
        out=args.out,
        resume=args.resume,
        overwrite=args.overwrite,
        recipe=args.recipe,
        data_dir=args.data_dir,
    )


def _write_lines(lines: list[str], output: str | None) -> None:
    text = "".join(f"{line}\n" for line in lines)
    if output is None:
        sys.stdout.write(text)
        return
    try:
        Path(output).write_text(text, encoding="utf-8")
    except OSError as err:
        raise ValueError(f"--output {output}: cannot write: {err.strerror or err}") from None


def _generate(args: argparse.Namespace) -> None:
    from rnnkit.tasks.runner import generate_run

    for line in generate_run(
        args.run_dir,
        prime=args.prime,
        condition=args.condition,
        length=args.length,
        temperature=args.temperature,
        top_k=args.top_k,
        count=args.count,
        seed=args.seed,
        output=args.output,
    ):
        print(line)


def _export(args: argparse.Namespace) -> None:
    from rnnkit.export import export_run

    report = export_run(args.run_dir, args.format, args.output)
    print(json.dumps(report, sort_keys=True))


def _run(args: argparse.Namespace) -> None:
    if args.command == "demo":
        from rnnkit.demo import DemoConfig, run_demo

        run_demo(DemoConfig(hidden_size=args.hidden_size, epochs=args.epochs, seed=args.seed))
    elif args.command == "train":
        _train(args)
    elif args.command == "evaluate":
        from rnnkit.tasks.runner import evaluate_run

        print(json.dumps(evaluate_run(args.run_dir, args.data), sort_keys=True))
    elif args.command == "predict":
        from rnnkit.tasks.runner import predict_run

        _write_lines(predict_run(args.run_dir, args.input, args.probabilities), args.output)
    elif args.command == "generate":
        _generate(args)
    elif args.command == "export":
        _export(args)
    elif args.command == "compare":
        _compare(args)
    elif args.command == "summary":
        from rnnkit.tasks.runner import summarize_run

        print(summarize_run(args.run_dir))


def _one_line(err: BaseException) -> str:
    return " ".join(str(err).splitlines()) or type(err).__name__


def main(argv: list[str] | None = None) -> int:
    """Run the command; returns the exit status (0, 2 for a user mistake, 130 on Ctrl-C)."""
    args = build_parser(argv).parse_args(argv)
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
