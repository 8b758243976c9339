"""The task plumbing shared by every task: options declared once, recipes, the data directory."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import ClassVar

import pytest

from rnnkit.data.datadir import ENV_VAR, data_file, resolve_data_dir
from rnnkit.tasks import TASKS, available_tasks, get_task
from rnnkit.tasks.base import Recipe, Task
from rnnkit.tasks.options import COMMON, Option, check_config, flag, option_name
from rnnkit.tasks.runner import make_config


def _parser(*options: Option) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(exit_on_error=False)
    group = parser.add_argument_group("g")
    for option in options:
        option.add_to(group)
    return parser


def test_an_option_parses_checks_and_helps_from_one_declaration() -> None:
    size = Option("hidden_size", 128, "positive_int", "units")
    rate = Option("dropout", 0.0, "fraction", "dropout")
    cell = Option("cell", "lstm", "choice", "cell", choices=("rnn", "lstm"))
    bidirectional = flag("bidirectional", False, "both ways")
    parser = _parser(size, rate, cell, bidirectional)
    given = parser.parse_args(["--hidden-size", "7", "--no-bidirectional"])
    assert (given.hidden_size, given.dropout, given.cell, given.bidirectional) == (
        7,
        None,
        None,
        False,
    )
    for bad in (["--hidden-size", "0"], ["--dropout", "1"], ["--dropout", "nan"], ["--cell", "x"]):
        with pytest.raises((argparse.ArgumentError, SystemExit)):
            parser.parse_args(bad)
    assert size.valid(3) and not size.valid(0) and not size.valid(True) and not size.valid("3")
    assert rate.valid(0.5) and not rate.valid(1.0) and not rate.valid(float("inf"))
    assert "default: 128" in parser.format_help() and "--no-bidirectional" in parser.format_help()
    nullable = Option("patience", None, "positive_int", "p", nullable=True)
    assert nullable.valid(None) and not size.valid(None)
    assert option_name("min_freq") == "--min-freq"


def test_check_config_names_the_source_and_the_option() -> None:
    options = (Option("layers", 1, "positive_int", ""), Option("lr", 0.1, "positive_float", ""))
    check_config({"layers": 2, "lr": 0.5}, options, "config.json")
    with pytest.raises(ValueError, match=r"^config.json: --layers must be a positive integer, got"):
        check_config({"layers": "2", "lr": 0.5}, options, "config.json")
    with pytest.raises(ValueError, match=r"config\.json: missing options lr"):
        check_config({"layers": 2}, options, "config.json")


class _Toy(Task):
    name = "classify"  # make_config only needs the options and the recipes
    task_options = (Option("train", None, "file", "data", "data", True),)
    common_defaults: ClassVar = {"epochs": 3}
    recipes: ClassVar = {
        "toy": Recipe("toy", {"hidden_size": 7}, {"train": "toy/train.txt"}, "a bar")
    }


def test_make_config_layers_defaults_recipe_and_given_options(tmp_path: Path) -> None:
    (tmp_path / "toy").mkdir()
    (tmp_path / "toy" / "train.txt").write_text("a b\n")
    task = _Toy()
    names = [option.name for option in task.options()]
    assert names[0] == "train" and set(names[1:]) == {option.name for option in COMMON}
    config = make_config(task, {"layers": 2}, recipe="toy", data_dir=str(tmp_path))
    assert config["recipe"] == "toy" and config["epochs"] == 3
    assert (config["hidden_size"], config["layers"]) == (7, 2)
    assert config["train"] == str((tmp_path / "toy" / "train.txt").resolve())
    assert (
        make_config(task, {"hidden_size": 9}, recipe="toy", data_dir=str(tmp_path))["hidden_size"]
        == 9
    )
    with pytest.raises(ValueError, match="unknown options for classify: --nope"):
        make_config(task, {"nope": 1})
    with pytest.raises(ValueError, match="--recipe other: unknown recipe of classify"):
        make_config(task, {}, recipe="other", data_dir=str(tmp_path))
    with pytest.raises(ValueError, match="--data-dir goes with --recipe"):
        make_config(task, {}, data_dir=str(tmp_path))
    (tmp_path / "toy" / "train.txt").unlink()
    with pytest.raises(ValueError, match=r"train.txt: file not found in the data directory"):
        make_config(task, {}, recipe="toy", data_dir=str(tmp_path))


def test_the_data_directory_comes_from_the_option_or_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    with pytest.raises(ValueError, match=f"give --data-dir DIR or set {ENV_VAR}"):
        resolve_data_dir()
    monkeypatch.setenv(ENV_VAR, str(tmp_path))
    assert resolve_data_dir() == tmp_path
    assert resolve_data_dir(tmp_path / "..") == tmp_path / ".."
    with pytest.raises(ValueError, match="--data-dir /nonexistent: directory not found"):
        resolve_data_dir("/nonexistent")
    monkeypatch.setenv(ENV_VAR, "/nonexistent")
    with pytest.raises(ValueError, match=rf"\${ENV_VAR} /nonexistent: directory not found"):
        resolve_data_dir()
    with pytest.raises(ValueError, match=r"expected mnist/x\.gz"):
        data_file(tmp_path, "mnist/x.gz")


def test_every_available_task_declares_consistent_options_and_recipes(data_dir: Path) -> None:
    assert "classify" in available_tasks() and set(available_tasks()) <= set(TASKS)
    for name in available_tasks():
        task = get_task(name)
        assert task.name == name
        options = task.options()
        assert len({option.name for option in options}) == len(options), name
        for option in options:
            assert option.valid(option.default), (name, option.name)
        for recipe_name, recipe in task.recipes.items():
            assert recipe.name == recipe_name
            config = make_config(task, {}, recipe=recipe_name, data_dir=str(data_dir))
            assert config["recipe"] == recipe_name
    with pytest.raises(ValueError, match="unknown task 'nope'"):
        get_task("nope")


def test_batches_cover_every_example_once_in_a_seeded_order() -> None:
    import torch

    from rnnkit.data.batches import Batches, holdout

    in_order = Batches(7, 3, lambda chosen: chosen)
    assert list(in_order) == [[0, 1, 2], [3, 4, 5], [6]] and len(in_order) == 3
    shuffled = Batches(7, 3, lambda chosen: chosen, torch.Generator().manual_seed(0))
    first, second = list(shuffled), list(shuffled)
    assert sorted(i for batch in first for i in batch) == list(range(7)) and first != second
    again = Batches(7, 3, lambda chosen: chosen, torch.Generator().manual_seed(0))
    assert list(again) == first  # the order is the generator's: part of a checkpoint
    kept, held = holdout(20, 0.25, seed=3, source="f.txt")
    assert len(held) == 5 and sorted(kept + held) == list(range(20))
    assert holdout(20, 0.25, seed=3, source="f.txt") == (kept, held)
    with pytest.raises(ValueError, match=r"f\.txt: 1 example"):
        holdout(1, 0.5, seed=0, source="f.txt")


def test_a_config_without_a_later_option_reads_as_the_behaviour_before_it() -> None:
    from rnnkit.tasks.options import fill_absent

    options = (
        Option("layers", 1, "positive_int", ""),
        Option("norm", "mean", "choice", "", choices=("none", "mean"), absent="none"),
    )
    config = {"layers": 2}
    fill_absent(config, options)
    assert config == {"layers": 2, "norm": "none"}  # not the new default "mean"
    check_config(config, options, "config.json")
    with pytest.raises(ValueError, match="missing options layers"):
        check_config({"norm": "none"}, options, "config.json")


def test_a_long_run_says_after_its_first_epoch_how_long_the_rest_takes() -> None:
    from types import SimpleNamespace

    from rnnkit.tasks.runner import ProgressCallback

    said: list[str] = []
    progress = ProgressCallback(10, "examples", (), said.append)
    trainer = SimpleNamespace(config=SimpleNamespace(epochs=1000, early_stopping_patience=5))
    row = {"epoch": 1, "train_loss": 1.0, "valid_loss": 1.0, "time": 1.02}
    progress.on_epoch_end(trainer, row)
    assert said[-1] == (
        "the 999 epochs left take up to 17 min at this pace (early stopping may end them "
        "sooner; --epochs to change)"
    )
    progress.on_epoch_end(trainer, {**row, "epoch": 2})  # said once
    assert len(said) == 3
    quick = ProgressCallback(10, "examples", (), said.append)
    quick.on_epoch_end(SimpleNamespace(config=SimpleNamespace(epochs=30)), row)
    assert len(said) == 4  # 29 s left: nothing to say
    endless = ProgressCallback(10, "examples", (), said.append)  # --patience off
    config = SimpleNamespace(epochs=1000, early_stopping_patience=None)
    endless.on_epoch_end(SimpleNamespace(config=config), row)
    assert said[-1].endswith("at this pace (--epochs to change)")


def test_a_path_that_cannot_be_looked_at_is_a_message_not_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under a folder one may not enter, Path.exists raised PermissionError (a traceback)."""
    from rnnkit.tasks import options

    def refuse(path, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(options.os, "stat", refuse)
    for parse in (options._parse_file, options._parse_path, options._parse_dir):
        with pytest.raises(argparse.ArgumentTypeError, match=r"x/y.txt: cannot read: Permission"):
            parse("x/y.txt")
