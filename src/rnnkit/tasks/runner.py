"""A training run of any task, from options to a finished run directory, and its later use.

::

    rnnkit train classify --train train.txt --test test.txt --out runs/sst
    rnnkit train classify --recipe sst2 --data-dir ../shared/data --out runs/sst2

:func:`train` creates ``RUN_DIR`` (:class:`~rnnkit.runs.RunDir`): ``config.json`` (every
option, so the run can be repeated), the task's artifacts as JSON (vocabularies, label maps,
scalers), ``log.csv`` (a row per epoch), ``checkpoints/last`` (every epoch) and
``checkpoints/best`` (when the monitored metric improves), and at the end
``model.safetensors``, ``metrics.json`` and ``plots/``. Nothing is written before every
option and input file has been checked.

``resume`` continues from ``checkpoints/last`` exactly: weights, optimizer, schedule, epoch,
history and every random generator, so training 2 epochs and resuming to 4 gives the weights
of a straight 4-epoch run (with ``--schedule cosine``, whose length is the number of epochs,
the rate instead follows a cosine stretched over the 4 from where the 2 left it). Ctrl-C
saves ``checkpoints/last`` before leaving; inside an epoch that state is the partly trained
model, and resuming repeats the interrupted epoch from it.

Under ``torchrun`` the run is data-parallel (:mod:`rnnkit.distributed`): ``--batch-size`` is
the global batch, split over the processes, and only rank 0 writes the run directory.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm import tqdm

from rnnkit import __version__, distributed
from rnnkit.data.datadir import data_file
from rnnkit.plots import plot_curves
from rnnkit.runs import RunDir, RunDirError
from rnnkit.summary import summary
from rnnkit.tasks import TaskInterrupted, get_task
from rnnkit.tasks.base import Prepared, Task
from rnnkit.tasks.budget import describe_budget, sized_budget
from rnnkit.tasks.options import check_config, fill_absent, option_name, vectors_value
from rnnkit.train import Callback, TrainConfig, Trainer, seed_everything

__all__ = [
    "LoadedRun",
    "evaluate_run",
    "load_run",
    "make_config",
    "predict_run",
    "summarize_run",
    "train",
]

Log = Callable[[str], None]
BASE_COLUMNS = ("epoch", "train_loss", "valid_loss")
TAIL_COLUMNS = ("lr", "time", "examples_per_s", "tokens_per_s")
# Fewer validation examples than this get a warning in the log.
FEW_VALID = 10


# ---------------------------------------------------------------------- options
def make_config(
    task: Task,
    options: Mapping[str, Any],
    *,
    recipe: str | None = None,
    data_dir: str | None = None,
) -> dict[str, Any]:
    """The full config of a new run: the task's defaults, then the recipe's values and
    data files (found in ``data_dir`` or ``$RNNKIT_DATA_DIR``), then ``options``; paths are
    made absolute and every value is checked."""
    known = {option.name: option for option in task.options()}
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise ValueError(f"unknown options for {task.name}: {', '.join(map(option_name, unknown))}")
    config: dict[str, Any] = {"task": task.name, "rnnkit_version": __version__, "recipe": recipe}
    config.update(task.defaults())
    if recipe is not None:
        if recipe not in task.recipes:
            names = ", ".join(task.recipes) or "none"
            raise ValueError(f"--recipe {recipe}: unknown recipe of {task.name} (known: {names})")
        chosen = task.recipes[recipe]
        config.update(chosen.options)
        for name, relative in chosen.files.items():
            config[name] = str(data_file(data_dir, relative))
    elif data_dir is not None:
        raise ValueError("--data-dir goes with --recipe")
    config.update(options)
    given = set(options) | (set(task.recipes[recipe].options) if recipe is not None else set())
    left = [name for name in task.sized_by_data if name not in given]
    if left:
        config["sized_by_data"] = left
    for option in task.options():
        value = config[option.name]
        if not isinstance(value, str):
            continue
        if option.kind in ("file", "dir", "path"):
            config[option.name] = str(Path(value).resolve())
        elif option.kind in ("vectors", "lexicon"):  # through the Python API, maybe relative
            config[option.name] = vectors_value(value, option.kind)
    check_config(config, task.options(), "options")
    task.check(config, "options")
    return config


def _train_config(task: Task, config: Mapping[str, Any]) -> TrainConfig:
    if config["device"] == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"{option_name('device')} cuda: CUDA is not available here; use cpu")
    monitor, mode = task.monitor_of(config)
    try:
        return TrainConfig(
            epochs=config["epochs"],
            optimizer=config["optimizer"],
            lr=config["lr"],
            weight_decay=config["weight_decay"],
            schedule=config["schedule"],
            warmup_steps=config["warmup_steps"],
            clip_norm=config["clip_norm"] or None,
            early_stopping_patience=config["patience"],
            monitor=monitor,
            mode=mode,
            bptt=task.bptt(config),
            seed=config["seed"],
            device=config["device"],
        )
    except ValueError as err:
        raise ValueError(f"bad option: {err}") from None


def refit_model(
    task: Task,
    config: Mapping[str, Any],
    prepared: Prepared,
    examples: Any,
    history: Any,
    log: Any,
) -> nn.Module:
    """``--refit``: a FRESH model (same options, same seed, the task's starting values such as
    pretrained vectors) trained on ``examples`` (the training and validation examples
    together) for the best epoch's count of ``history``, without validation or early
    stopping (with ``--patience off`` the run keeps its last epoch, so all of them). Its
    ``valid_*`` metrics are in-sample, and the log says so."""
    watched = config["patience"] is not None
    epochs = (history.best_epoch if watched else None) or len(history.rows)
    train_config = dataclasses.replace(
        _train_config(task, config), epochs=epochs, early_stopping_patience=None
    )
    log(f"refit: a fresh model on {len(examples)} train + valid examples for {epochs} epochs")
    seed_everything(config["seed"])  # the model starts as the first run's did
    fresh = task.build_model(config, prepared.artifacts)
    _set_initial(fresh, prepared.initial)
    trainer = Trainer(fresh.to(train_config.device), train_config, task.loss)
    trainer.fit(task.batches(config, examples, generator=trainer.generator))
    log(
        "refit: the valid_* metrics below are in-sample (the refit trained on the validation "
        "examples); the held-out ones of the chosen epoch are in log.csv"
    )
    return trainer.model


def _log_columns(task: Task) -> tuple[str, ...]:
    shown = tuple(f"valid_{name}" for name in task.shown_metrics if name != "loss")
    return (*BASE_COLUMNS, *shown, *TAIL_COLUMNS)


# ---------------------------------------------------------------------- callbacks
class RunCallback(Callback):
    """Every epoch: ``checkpoints/last`` (and ``best`` on improvement), then a ``log.csv`` row."""

    def __init__(self, run: RunDir, columns: tuple[str, ...]) -> None:
        self.run, self.columns = run, columns

    def save_last(self, trainer: Trainer) -> Path:
        """Write the model and the whole trainer state to ``checkpoints/last.safetensors``."""
        return self.run.save_checkpoint(
            "last", trainer.model, trainer_state=trainer.state_dict(), rng=False
        )

    def on_epoch_end(self, trainer: Trainer, row: dict[str, float]) -> None:
        self.save_last(trainer)
        if trainer.history.best_epoch == row["epoch"]:
            best = {"epoch": trainer.epoch, trainer.config.monitor: trainer.history.best_value}
            self.run.save_checkpoint("best", trainer.model, trainer_state=best, rng=False)
        self.run.append_log({key: row.get(key) for key in self.columns})


def _format(name: str, value: float) -> str:
    if name in ("accuracy", "intent_accuracy", "f1", "precision", "recall"):
        return f"{value:.2%}"
    return f"{value:.4f}"


class ProgressCallback(Callback):
    """A tqdm bar per epoch (loss, throughput) on a terminal, and one line per epoch."""

    # a run that would go on longer than this after its first epoch says how long
    LONG_SECONDS = 300.0

    def __init__(self, total: int, unit: str, shown: tuple[str, ...], log: Log) -> None:
        self.total, self.unit, self.shown, self.log = total, unit, shown, log
        self.bar: tqdm | None = None
        self.timed = False  # whether the time the rest takes was said (once a process)

    def on_epoch_start(self, trainer: Trainer, epoch: int) -> None:
        self.bar = tqdm(
            total=self.total,
            desc=f"epoch {epoch}/{trainer.config.epochs}",
            unit=self.unit,
            unit_scale=True,
            leave=False,
            file=sys.stderr,
            disable=not sys.stderr.isatty(),
        )

    def on_step_end(self, trainer: Trainer, loss: float, count: int) -> None:
        if self.bar is not None:
            self.bar.set_postfix(loss=f"{loss:.4f}", refresh=False)
            self.bar.update(count)

    def close(self) -> None:
        """Remove the bar (also on an interruption)."""
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def on_epoch_end(self, trainer: Trainer, row: dict[str, float]) -> None:
        self.close()
        parts = [
            f"epoch {int(row['epoch'])}/{trainer.config.epochs}",
            f"train loss {row['train_loss']:.4f}",
            f"valid loss {row['valid_loss']:.4f}",
        ]
        for name in self.shown:
            value = row.get(f"valid_{name}")
            if name != "loss" and value is not None:
                parts.append(f"valid {name.replace('_', ' ')} {_format(name, value)}")
        for key, unit in (("tokens_per_s", "tokens/s"), ("examples_per_s", "examples/s")):
            if row.get(key) is not None:
                parts.append(f"({row[key]:,.0f} {unit})")
                break
        self.log("  ".join(parts))
        if not self.timed:
            self.timed = True
            left = trainer.config.epochs - int(row["epoch"])
            seconds = left * float(row.get("time") or 0.0)
            if seconds > self.LONG_SECONDS:
                sooner = (
                    "early stopping may end them sooner; "
                    if trainer.config.early_stopping_patience is not None
                    else ""
                )
                self.log(
                    f"the {left} epochs left take up to {_duration(seconds)} at this pace "
                    f"({sooner}{option_name('epochs')} to change)"
                )


def _duration(seconds: float) -> str:
    """``seconds`` as a person reads it: 17 min, 2.3 h."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


# ---------------------------------------------------------------------- train
def _finished(run: RunDir, epochs: int) -> bool:
    """Whether ``run`` wrote its final files after ``epochs`` epochs (metrics.json is last)."""
    if not run.metrics_path.is_file():
        return False
    metrics = run.read_json(run.METRICS)
    return isinstance(metrics, dict) and metrics.get("epochs") == epochs


def _read_artifacts(task: Task, run: RunDir, config: Mapping[str, Any]) -> dict[str, Any]:
    artifacts = {}
    for name in task.artifact_names(config):
        path = run.path / f"{name}.json"
        if not path.is_file():
            raise RunDirError(f"{path}: file not found")
        artifacts[name] = run.read_json(f"{name}.json")
    return artifacts


def _open_run(path: str) -> tuple[Task, RunDir, dict[str, Any]]:
    run = RunDir.open(path)
    config = run.read_config()
    name = config.get("task")
    try:
        task = get_task(name)
    except ValueError:
        raise RunDirError(f"{run.config_path}: unknown task {name!r}") from None
    return task, run, config


def _validates_on_training_data(config: Mapping[str, Any]) -> bool:
    """Whether ``--valid`` (``--valid-src``) names the training file itself."""
    for train, valid in (("train", "valid"), ("train_src", "valid_src")):
        if config.get(train) and config.get(valid):
            try:
                if Path(config[train]).resolve() == Path(config[valid]).resolve():
                    return True
            except OSError:
                continue
    return False


def _check_loaded(task: Task, config: dict[str, Any], where: str) -> None:
    fill_absent(config, task.options())
    check_config(config, task.options(), where)
    task.check(config, where)


def train(
    task_name: str,
    options: Mapping[str, Any],
    *,
    out: str | None = None,
    resume: str | None = None,
    overwrite: bool = False,
    recipe: str | None = None,
    data_dir: str | None = None,
    log: Log = print,
) -> dict[str, Any]:
    """Train a model for ``task_name`` into a new run directory ``out``, or continue the run
    ``resume``.

    Args:
        task_name: ``classify``, ``forecast``, ``tag``, ``translate`` or ``generate``.
        options: the options given (config keys); the others take the recipe's values or
            their defaults, or with ``resume`` the run's values (only the task's resumable
            options, ``epochs`` and ``device``, may change).
        out: the new run directory; refused if it exists and is not empty, unless
            ``overwrite`` (and it is a run directory).
        resume: an existing run directory to continue to its (or the given) ``epochs``.
        recipe, data_dir: a named configuration and where its data files are.
        log: receives the per-epoch lines.

    Returns:
        The final metrics (also in ``metrics.json``).

    Raises:
        ValueError: a bad option, a malformed file or run directory (one-line message naming
            the option, file or ``FILE:LINE``); nothing is written before all inputs check out.
        TaskInterrupted: Ctrl-C, after ``checkpoints/last`` was saved.
    """
    task = get_task(task_name)
    if resume is not None:
        if out is not None:
            raise ValueError(
                f"{option_name('out')} cannot be combined with {option_name('resume')}"
            )
        if recipe is not None:
            raise ValueError("--recipe cannot be combined with --resume (the run keeps its own)")
        fixed = [key for key in options if key not in task.resumable()]
        if fixed:
            raise ValueError(
                f"{option_name(fixed[0])} cannot be changed when resuming; only "
                f"{', '.join(map(option_name, task.resumable()))} can"
            )
        loaded_task, run, config = _open_run(resume)
        if loaded_task.name != task.name:
            raise RunDirError(f"{run.config_path}: not a {task.name} run (task {config['task']!r})")
        config.update(options)
        _check_loaded(task, config, str(run.config_path))
        artifacts: dict[str, Any] | None = _read_artifacts(task, run, config)
    else:
        if out is None:
            raise ValueError(
                f"{option_name('out')} is required (or {option_name('resume')} RUN_DIR)"
            )
        config = make_config(task, options, recipe=recipe, data_dir=data_dir)
        run, artifacts = RunDir(out), None
        if run.path.is_dir() and any(run.path.iterdir()) and not overwrite:
            raise RunDirError(
                f"{run.path}: run directory already exists and is not empty; "
                f"use {option_name('resume')} or --overwrite"
            )
    train_config = _train_config(task, config)
    # Under torchrun: join the job; only rank 0 writes the run directory and prints.
    context = distributed.init_from_env(config["device"])

    prepared = task.prepare(config, artifacts)
    artifacts = prepared.artifacts
    held = len(prepared.valid) if prepared.valid is not None else FEW_VALID
    notes = []
    if held < FEW_VALID:  # e.g. a tenth of 20 examples
        notes.append(f"only {held} validation examples choose the kept epoch and when to stop")
    if _validates_on_training_data(config):
        notes.append(
            "the validation file is the training file: the kept epoch and early stopping "
            "then reward memorising it"
        )
    if notes:
        warning = prepared.info.get("warning")
        prepared.info["warning"] = "; ".join([warning, *notes] if warning else notes)
    if resume is None:  # a resumed run keeps the epochs and patience its config.json says
        updates = task.updates_per_epoch(config, prepared.train)
        budget = sized_budget(config, len(prepared.train), updates)
        if budget:
            prepared.chosen.update(budget)
            prepared.info["chosen"] = describe_budget(config, budget)
    config.update(prepared.chosen)  # before config.json is written and the model is built
    if prepared.chosen:
        train_config = _train_config(task, config)  # e.g. epochs sized by the data

    seed_everything(config["seed"])
    model = task.build_model(config, artifacts)
    _set_initial(model, prepared.initial)
    model = model.to(train_config.device)  # before DDP
    wrapped = distributed.wrap(model, context, task.loss)
    columns = _log_columns(task)
    run_callback = RunCallback(run, columns)
    bptt = train_config.bptt is not None
    progress = ProgressCallback(
        _progress_total(prepared.train, bptt), "tok" if bptt else "ex", task.shown_metrics, log
    )
    callbacks = [run_callback, progress] if context.is_main else []
    if bptt and context.distributed:
        raise ValueError("truncated BPTT (--bptt) trains in one process, not under torchrun")
    loss_fn = task.stream_loss if bptt else distributed.loss_fn(wrapped, task.loss)
    trainer = Trainer(model, train_config, loss_fn, callbacks=callbacks)
    # Checked (by shard) before anything is written; the generator's state is set in place.
    train_batches = distributed.shard(
        task.batches(config, prepared.train, generator=trainer.generator),
        context,
        batch_size=config["batch_size"],
        num_examples=len(prepared.train),
    )
    if resume is not None:
        if not run.has_checkpoint("last"):
            raise RunDirError(f"{run.checkpoint_path('last')}: file not found; nothing to resume")
        state = run.load_checkpoint("last", trainer.model, restore_rng=False)
        try:
            trainer.load_state_dict(state)
        except (KeyError, TypeError, ValueError) as err:
            raise RunDirError(
                f"{run.checkpoint_path('last')}: corrupt trainer state: {err}"
            ) from None
        # A run killed after its last checkpoint but before its metrics.json (written after
        # model.safetensors) is not finished: resuming it writes the final files.
        if trainer.epoch >= config["epochs"] and _finished(run, trainer.epoch):
            raise ValueError(
                f"{run.path}: already trained {trainer.epoch} epochs; "
                f"give {option_name('epochs')} above {trainer.epoch} to continue"
            )
        history = trainer.history
        if history.stopped_early and _finished(run, trainer.epoch):
            # its patience is spent: resumed, it would stop again after one more epoch
            raise ValueError(
                f"{run.path}: early stopping ended it at epoch {trainer.epoch} (no better "
                f"{trainer.config.monitor} after epoch {history.best_epoch}); nothing to "
                f"resume: train a new run with a longer {option_name('patience')} to go on"
            )
        if context.is_main:
            run.write_config(config)
            # A kill between checkpoints/last and its log.csv row leaves the log a row short:
            # the log becomes the checkpoint's history, the rows the resumed run goes on from.
            run.write_log([{key: row.get(key) for key in columns} for row in trainer.history.rows])
    elif context.is_main:
        run.create(config, overwrite=overwrite)
        for name, value in artifacts.items():
            run.write_json(f"{name}.json", value)

    if context.is_main:
        for split, text in prepared.info.items():
            log(f"{split}: {text}")
    valid_batches = task.batches(config, prepared.valid)
    try:
        trainer.fit(train_batches, valid_batches, evaluate=task.evaluate)
    except KeyboardInterrupt:
        progress.close()
        if not context.is_main:
            raise TaskInterrupted(f"interrupted in epoch {trainer.epoch + 1}") from None
        path = run_callback.save_last(trainer)
        raise TaskInterrupted(
            f"interrupted in epoch {trainer.epoch + 1}; saved {path}; continue with: "
            f"rnnkit train {task.name} --resume {run.path}"
        ) from None
    finally:
        progress.close()

    if not context.is_main:  # wait for rank 0 to finish the run directory, then leave
        distributed.barrier(context)
        distributed.cleanup(context)
        return {}
    history = trainer.history
    if history.diverged is not None:
        watched = trainer.config.early_stopping_patience is not None and history.best_epoch
        kept = "the best epoch's weights are kept" if watched else "its weights are not usable"
        log(
            f"warning: the training loss became NaN or infinite at epoch {history.diverged}: "
            f"training stopped ({kept}); a lower --lr or a --clip-norm may help"
        )
    if trainer.config.early_stopping_patience is not None and history.best_epoch is not None:
        monitor, patience = trainer.config.monitor, trainer.config.early_stopping_patience
        if history.stopped_early:
            epochs = f"{patience} epoch" + ("s" if patience > 1 else "")
            # at a perfect accuracy or F1 a lower loss still picks the kept epoch, but no
            # longer restarts the patience (train._Best): "no better" would read as a
            # contradiction beside a kept last epoch
            perfect = history.best_value == trainer.best.perfect
            why = f"{monitor} perfect" if perfect else f"no better {monitor}"
            log(f"stopped after epoch {trainer.epoch}: {why} for {epochs}")
        log(f"keeping epoch {history.best_epoch}, the best {monitor} ({history.best_value:.4f})")
        # (after two epochs that the first was best says little)
        if history.best_epoch == 1 and trainer.epoch > 2:
            start = " (the residual base: the naive forecast)" if task.name == "forecast" else ""
            log(
                f"warning: no epoch after the first was better: the model is close to where it "
                f"started{start}; too few examples to learn from, or a learning rate too high?"
            )
    # The task may replace the chosen model (e.g. refit it on train + validation).
    model = task.refit(trainer.model, prepared, config, history, log)
    run.save_weights(model)
    # the weights saved: the best epoch's when early stopping kept them, else the last's
    kept = history.best_epoch if trainer.config.early_stopping_patience is not None else None
    metrics: dict[str, Any] = {
        "epochs": trainer.epoch,
        "best_epoch": history.best_epoch,
        "kept_epoch": kept or trainer.epoch,
    }
    metrics.update(task.final_metrics(model, prepared, config, log))
    run.write_metrics(metrics)
    _write_plots(task, run, trainer.history.rows, model, prepared, config, log, kept)
    distributed.barrier(context)
    distributed.cleanup(context)
    shown = "  ".join(
        f"{key} {value:.4f}"
        for key, value in metrics.items()
        if key.startswith(("valid_", "test_"))
        and not key.endswith("_examples")
        and isinstance(value, float)
    )
    log(f"done: {shown}; run directory {run.path}")
    return metrics


def _set_initial(model: nn.Module, initial: Mapping[str, torch.Tensor]) -> None:
    """Copy a task's starting values (e.g. pretrained vectors) into the new model."""
    parameters = dict(model.named_parameters())
    with torch.no_grad():
        for name, value in initial.items():
            if name not in parameters or parameters[name].shape != value.shape:
                shape = tuple(value.shape)
                raise ValueError(f"initial value {name}: the model has no {shape} parameter")
            parameters[name].copy_(value)


def _progress_total(examples: Any, bptt: bool) -> int:
    if bptt and hasattr(examples, "num_tokens"):
        return int(examples.num_tokens)
    return len(examples)


def _write_plots(
    task: Task,
    run: RunDir,
    rows: list[dict],
    model: nn.Module,
    prepared: Prepared,
    config: Mapping[str, Any],
    log: Log,
    kept: int | None = None,
) -> None:
    """``RUN_DIR/plots/``: the training curves (``kept``: the epoch whose weights were kept,
    marked) and the task's own pictures. The weights and metrics are saved before this, so a
    picture that cannot be drawn costs one warning line, not the run."""
    plots_dir = run.path / "plots"
    model = model.cpu().eval()
    try:
        plot_curves(rows, plots_dir / "curves.png", kept_epoch=kept)
        with torch.no_grad():
            task.write_plots(plots_dir, rows, model, prepared, config)
    except (ValueError, OSError, RuntimeError) as err:
        log(f"warning: plots not written ({' '.join(str(err).splitlines())})")


# ---------------------------------------------------------------------- using a run
@dataclass
class LoadedRun:
    """A finished run: its task, options, artifacts and model (in eval mode, on the CPU)."""

    task: Task
    run: RunDir
    config: dict[str, Any]
    artifacts: dict[str, Any]
    model: nn.Module


def load_run(path: str) -> LoadedRun:
    """Open a run directory of any task and load its final weights (``model.safetensors``);
    a run whose training has not finished (still running, or stopped by a kill) has none
    yet: its best checkpoint so far is loaded instead, as stderr says."""
    task, run, config = _open_run(path)
    _check_loaded(task, config, str(run.config_path))
    artifacts = _read_artifacts(task, run, config)
    try:
        model = task.build_model(config, artifacts)
    except (KeyError, TypeError, ValueError) as err:
        raise RunDirError(f"{run.path}: cannot rebuild the model: {err}") from None
    _load_final_or_checkpoint(run, model)
    model.eval()
    return LoadedRun(task, run, config, artifacts, model)


def _load_final_or_checkpoint(run: RunDir, model: nn.Module) -> None:
    if not run.weights_path.is_file():
        for name in ("best", "last"):
            if run.has_checkpoint(name):
                state = run.load_checkpoint(name, model, restore_rng=False)
                epoch = state.get("epoch") if isinstance(state, dict) else None
                print(
                    f"rnnkit: note: {run.path} has not finished training (no "
                    f"{run.weights_path.name}); using checkpoints/{name}.safetensors"
                    + (f", epoch {epoch}" if epoch is not None else ""),
                    file=sys.stderr,
                )
                return
        if not run.metrics_path.is_file():  # (a finished run's files deleted by hand: below)
            raise RunDirError(
                f"{run.path}: training has not finished an epoch yet (no "
                f"{run.weights_path.name}, no checkpoint): nothing to load"
            )
    run.load_weights(model)  # or says that the file is missing


def evaluate_run(path: str, data: str | None = None) -> dict[str, Any]:
    """A run's metrics on ``data`` (default: the run's test split, else its validation data)."""
    loaded = load_run(path)
    with torch.no_grad():
        return loaded.task.evaluate_file(loaded.model, loaded.config, loaded.artifacts, data)


def predict_run(path: str, input_path: str, probabilities: bool = False) -> list[str]:
    """The run's output line for each example of ``input_path`` (with ``probabilities``, a
    classify run's class probabilities too: see its ``predict_file``)."""
    loaded = load_run(path)
    task, args = loaded.task, (loaded.model, loaded.config, loaded.artifacts, input_path)
    if probabilities and task.name != "classify":
        raise ValueError(f"--probabilities: a {task.name} run has no class probabilities")
    with torch.no_grad():
        if probabilities:
            return task.predict_file(*args, probabilities=True)
        return task.predict_file(*args)


def summarize_run(path: str) -> str:
    """The architecture and parameter counts of a run's model (:func:`rnnkit.summary`)."""
    return str(summary(load_run(path).model))


def generate_run(
    path: str,
    *,
    prime: str | None = None,
    condition: str | None = None,
    length: int | None = None,
    temperature: float = 1.0,
    top_k: int | None = None,
    count: int = 1,
    seed: int = 0,
    output: str | None = None,
) -> list[str]:
    """Samples of a generate run: text lines to print, or the files written (``output``)."""
    loaded = load_run(path)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        return loaded.task.generate(
            loaded.model,
            loaded.config,
            loaded.artifacts,
            prime=prime,
            condition=condition,
            length=length,
            temperature=temperature,
            top_k=top_k,
            count=count,
            generator=generator,
            output=output,
        )
