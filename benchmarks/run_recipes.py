"""Run the named recipes on the shared data sets and record their results.

::

    python benchmarks/run_recipes.py --data-dir ../shared/data            # every recipe
    python benchmarks/run_recipes.py --only mnist-rows --only sst2        # some of them
    python benchmarks/run_recipes.py --list

Each recipe (a :class:`rnnkit.tasks.base.Recipe`: options, data files, published anchor,
bars) is trained with the command a user would type, ``rnnkit train TASK --recipe NAME
--data-dir DIR --out RUNS/NAME``, in its own process; a recipe with a sweep (forecast
horizons) runs once per value. The wall time, the metrics of ``metrics.json`` and whether
each bar was met go to ``benchmarks/results.json`` (merged with earlier runs, one entry per
recipe variant), from which ``benchmarks/results.md`` is rewritten.
"""

from __future__ import annotations

import argparse
import csv
import fcntl
import itertools
import json
import os
import platform
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from rnnkit.tasks import available_tasks, get_task
from rnnkit.tasks.base import Recipe

HERE = Path(__file__).resolve().parent
RESULTS_JSON = HERE / "results.json"
RESULTS_MD = HERE / "results.md"
LOWER_IS_BETTER = ("mse", "mae", "nll", "loss", "ppl", "perplexity", "bpc")
# The test metrics results.md shows (when a run has them), after the ones its bars name.
SHOWN = (
    "test_accuracy",
    "test_f1",
    "test_intent_accuracy",
    "test_bleu_beam",
    "test_bleu_greedy",
    "test_ppl",
    "test_nll",
    "test_loss",
    "test_bpc",
    "test_judged_accuracy",
    "test_mse",
    "test_mae",
    "test_mse_naive",
    "test_mse_seasonal_naive",
    "test_mse_arima",
)


def all_recipes() -> dict[str, tuple[str, Recipe]]:
    """Every recipe of every available task: name -> (task, recipe)."""
    found = {}
    for task_name in available_tasks():
        for name, recipe in get_task(task_name).recipes.items():
            found[name] = (task_name, recipe)
    return found


def variants(recipe: Recipe) -> list[dict[str, Any]]:
    """The option values of each run of ``recipe`` (one empty dict without a sweep)."""
    if not recipe.sweep:
        return [{}]
    names = list(recipe.sweep)
    return [
        dict(zip(names, values, strict=True))
        for values in itertools.product(*recipe.sweep.values())
    ]


def variant_key(name: str, variant: dict[str, Any]) -> str:
    return name + "".join(f"|{key}={value}" for key, value in variant.items())


def lower_is_better(metric: str) -> bool:
    return any(word in metric for word in LOWER_IS_BETTER)


def bars_of(recipe: Recipe, variant: dict[str, Any]) -> dict[str, float]:
    """The bars that hold for this variant: plain keys, and ``key|option=value`` keys whose
    option matches."""
    chosen = {}
    for key, value in recipe.bars.items():
        metric, _, condition = key.partition("|")
        if condition:
            option, _, wanted = condition.partition("=")
            if str(variant.get(option)) != wanted:
                continue
        chosen[metric] = value
    return chosen


def run_one(
    task: str, name: str, recipe: Recipe, variant: dict[str, Any], args: argparse.Namespace
) -> dict[str, Any]:
    out = Path(args.runs_dir) / (name + "".join(f"-{v}" for v in variant.values()))
    argv = ["train", task, "--recipe", name, "--data-dir", str(args.data_dir), "--out", str(out)]
    argv.append("--overwrite")
    for key, value in variant.items():
        argv += ["--" + key.replace("_", "-"), str(value)]
    for option, other in recipe.uses.items():  # e.g. the classifier that judges samples
        argv += ["--" + option.replace("_", "-"), str(Path(args.runs_dir) / other)]
    env = dict(os.environ)
    if args.threads:
        env["OMP_NUM_THREADS"] = str(args.threads)
    shown = "rnnkit " + shlex.join(argv)
    print(f"== {variant_key(name, variant)}: {shown}", flush=True)
    load_before = os.getloadavg()[0]
    start = time.perf_counter()
    if args.from_runs:
        # record a run made earlier by this command: its training time from log.csv
        _check_made_by(out, recipe, variant)
        status = 0 if (out / "metrics.json").is_file() else 1
        wall = _training_seconds(out)
    else:
        status = subprocess.run([sys.executable, "-m", "rnnkit", *argv], env=env).returncode
        wall = time.perf_counter() - start
    entry: dict[str, Any] = {
        "recipe": name,
        "task": task,
        "variant": variant,
        "command": shown.replace(str(args.data_dir), "DATA").replace(str(out), "RUN"),
        "wall_seconds": round(wall, 1),
        "exit_status": status,
        "anchor": recipe.anchor,
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {args.threads or 'all'} threads",
        # other work on the machine slows a run down: the 1-minute load when it started and
        # when it ended (about the number of cores when the run had the machine to itself)
        "load": [round(load_before, 1), round(os.getloadavg()[0], 1)],
    }
    metrics_path = out / "metrics.json"
    if args.from_runs:
        entry["wall_seconds_kind"] = "training (epochs of log.csv), recorded from the run"
        entry.pop("load")
    if status == 0 and metrics_path.is_file():
        metrics = json.loads(metrics_path.read_text())
        entry["metrics"] = metrics
        entry["bars"] = {
            metric: {
                "bar": bar,
                "value": metrics.get(metric),
                "met": metrics.get(metric) is not None
                and (metrics[metric] <= bar if lower_is_better(metric) else metrics[metric] >= bar),
            }
            for metric, bar in bars_of(recipe, variant).items()
        }
    return entry


def _check_made_by(run: Path, recipe: Recipe, variant: dict[str, Any]) -> None:
    """Refuse to record a run whose config.json is not the recipe's (e.g. an older version)."""
    config = json.loads((run / "config.json").read_text())
    wanted = {**recipe.options, **variant}
    differ = {k: (config.get(k), v) for k, v in wanted.items() if config.get(k) != v}
    if config.get("recipe") != recipe.name or differ:
        raise SystemExit(f"{run}: not a run of the current {recipe.name} recipe: {differ}")


def _training_seconds(run: Path) -> float:
    log = run / "log.csv"
    if not log.is_file():
        return 0.0
    with log.open(encoding="utf-8") as f:
        return round(sum(float(row.get("time") or 0) for row in csv.DictReader(f)), 1)


def _value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _load(entry: dict[str, Any]) -> str:
    load = entry.get("load")
    return f", load {load[0]}→{load[1]}" if load else ""


def write_markdown(results: dict[str, dict[str, Any]], path: Path) -> None:
    """``results.md``: one row per recipe variant, in recipe order."""
    lines = [
        "# Recipe results",
        "",
        "Written by `benchmarks/run_recipes.py` from `results.json`; rerun a recipe with",
        "`python benchmarks/run_recipes.py --data-dir DATA --only NAME`. DATA is the shared data",
        "directory, RUN the run directory. Wall time includes reading the data and the final",
        "evaluation; the load (1-minute load average at the start and end of a run) says how",
        "busy the 2-core machine was with other work. A bar not met is marked **not met**.",
        "",
        "| recipe | command | result (test split) | bar | anchor | wall time | machine |",
        "|---|---|---|---|---|---|---|",
    ]
    for key in sorted(results):
        entry = results[key]
        bars = entry.get("bars", {})
        if entry.get("exit_status") != 0:
            result = f"failed (exit {entry.get('exit_status')})"
        else:
            metrics = entry.get("metrics", {})
            keys = dict.fromkeys([*bars, *SHOWN])
            result = ", ".join(
                f"{k.removeprefix('test_')} {_value(metrics[k])}" for k in keys if k in metrics
            )
        bar_text = "; ".join(
            f"{metric} {'≤' if lower_is_better(metric) else '≥'} {_value(b['bar'])}: "
            + ("met" if b["met"] else "**not met**")
            for metric, b in bars.items()
        )
        minutes = entry["wall_seconds"] / 60
        kind = " (training)" if entry.get("wall_seconds_kind") else ""
        lines.append(
            f"| {key} | `{entry['command']}` | {result} | {bar_text} | {entry['anchor']} "
            f"| {minutes:.1f} min{kind} | {entry['machine']}{_load(entry)}, {entry['date']} |"
        )
    notes = HERE / "results_notes.md"
    if notes.is_file():
        lines += ["", notes.read_text().rstrip()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def record(key: str, entry: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Merge one entry into results.json and rewrite results.md. The file is read again just
    before it is written, under a lock, so recipes run side by side keep each other's
    entries."""
    with open(HERE / ".results.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        results = json.loads(RESULTS_JSON.read_text()) if RESULTS_JSON.is_file() else {}
        results[key] = entry
        tmp = RESULTS_JSON.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
        os.replace(tmp, RESULTS_JSON)
        write_markdown(results, RESULTS_MD)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default=os.environ.get("RNNKIT_DATA_DIR"))
    parser.add_argument("--runs-dir", default="runs/recipes", help="default: runs/recipes")
    parser.add_argument("--only", action="append", metavar="NAME", help="repeatable")
    parser.add_argument("--threads", type=int, help="OMP_NUM_THREADS for the runs")
    parser.add_argument("--list", action="store_true", help="list the recipes and stop")
    parser.add_argument(
        "--from-runs",
        action="store_true",
        help="record the runs already in --runs-dir instead of training (training time only)",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="OPTION=VALUE",
        help="restrict a sweep, e.g. --set horizon=24",
    )
    args = parser.parse_args(argv)
    recipes = all_recipes()
    if args.list:
        for name, (task, recipe) in recipes.items():
            print(f"{name:20s} {task:10s} {recipe.anchor}")
        return 0
    if not args.data_dir:
        parser.error("give --data-dir DIR or set RNNKIT_DATA_DIR")
    unknown = sorted(set(args.only or ()) - set(recipes))
    if unknown:
        parser.error(f"unknown recipes: {', '.join(unknown)} (see --list)")
    fixed = dict(item.split("=", 1) for item in args.set)
    status = 0
    for name in args.only or recipes:
        task, recipe = recipes[name]
        for variant in variants(recipe):
            if any(str(variant.get(k)) != v for k, v in fixed.items() if k in variant):
                continue
            entry = run_one(task, name, recipe, variant, args)
            record(variant_key(name, variant), entry)
            met = all(b["met"] for b in entry.get("bars", {}).values())
            status |= int(entry["exit_status"] != 0 or not met)
            print(
                f"== {variant_key(name, variant)}: {json.dumps(entry.get('bars', {}))}", flush=True
            )
    return status


if __name__ == "__main__":
    sys.exit(main())
