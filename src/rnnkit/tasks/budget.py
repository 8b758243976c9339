"""A training budget sized by the data: more epochs and patience for a small training set.

A task's default ``--epochs`` and ``--patience`` count passes over the data, which suits the
data sets they were chosen on; a set of 50 series is one or two batches a pass, so the same
defaults make a few dozen optimizer updates and stop near chance. Where the user and the
recipe left them to the task (``config["sized_by_data"]``, see
:attr:`~rnnkit.tasks.base.Task.sized_by_data`), the runner grows them, once the training
split is read, to at least ``--min-updates`` updates and a sixth of that; they never shrink.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rnnkit.tasks.options import Option, option_name

__all__ = ["MIN_UPDATES", "describe_budget", "min_updates_option", "sized_budget"]

# Enough for the UCR sets we tried to converge (GunPoint kept epoch ~200 of 1500, at two
# updates an epoch); a sixth of it as patience rides out their noisy validation curves.
MIN_UPDATES = 3000


def min_updates_option() -> Option:
    """``--min-updates N`` (default :data:`MIN_UPDATES`; a run made before it reads as 0)."""
    return Option(
        "min_updates",
        MIN_UPDATES,
        "non_negative_int",
        "a small training set trains longer: where not given, --epochs and --patience grow "
        "to at least N and N/6 optimizer updates (0: off)",
        "training",
        absent=0,
    )


def sized_budget(
    config: Mapping[str, Any], examples: int, updates_per_epoch: int | None = None
) -> dict[str, int]:
    """The ``epochs`` and ``patience`` that give ``examples`` training examples, in batches of
    ``batch_size`` (or ``updates_per_epoch`` optimizer updates an epoch, where a task counts
    them otherwise, e.g. chunks of a text stream), at least ``min_updates`` updates and a
    patience of a sixth of that: only those the config leaves to the data, and only where
    they exceed its values."""
    left = config.get("sized_by_data", ())
    if not left or not config["min_updates"] or examples < 1:
        return {}
    floor = config["min_updates"]
    updates = updates_per_epoch or -(-examples // config["batch_size"])
    wanted = {"epochs": -(-floor // updates), "patience": -(-floor // (6 * updates))}
    chosen = {
        name: wanted[name]
        for name in ("epochs", "patience")
        if name in left and config[name] is not None and wanted[name] > config[name]
    }
    epochs = chosen.get("epochs", config["epochs"])
    if "patience" in chosen and epochs is not None and chosen["patience"] >= epochs:
        del chosen["patience"]  # it could never stop the run (e.g. --epochs 2): not worth a word
    return chosen


def describe_budget(config: Mapping[str, Any], chosen: Mapping[str, int]) -> str:
    """The log's line for what :func:`sized_budget` chose."""
    shown = ", ".join(f"{option_name(name)} {value}" for name, value in chosen.items())
    return f"{shown} (at least {config['min_updates']} updates for {option_name('min_updates')})"
