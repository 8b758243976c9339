"""The tasks of ``rnnkit train TASK``: each a pipeline from plain files to a run directory.

A task is a :class:`~rnnkit.tasks.base.Task` (options, data, model, metrics) in its own
module; :mod:`rnnkit.tasks.runner` runs any of them. :func:`get_task` imports a task's
module only when it is asked for, so ``rnnkit --help`` stays fast.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rnnkit.tasks.base import Task

__all__ = ["TASKS", "TASK_SUMMARIES", "TaskInterrupted", "available_tasks", "get_task"]

TASKS = ("classify", "forecast", "tag", "translate", "generate")
# For `rnnkit train --help` without importing every task (each brings its own libraries).
TASK_SUMMARIES = {
    "classify": "sequence classification: texts, numeric sequences, images by rows, audio",
    "forecast": "time-series forecasting from a CSV series",
    "tag": "slot filling / NER tagging from CoNLL columns or seq.in/seq.out",
    "translate": "sequence to sequence with attention from parallel text",
    "generate": "next-step generation: text, piano rolls, class-conditional sequences",
}


class TaskInterrupted(Exception):  # noqa: N818 - it reports an interruption, it is no error
    """Training was interrupted (Ctrl-C) after saving a checkpoint; the message says where."""


def _module_exists(name: str) -> bool:
    return importlib.util.find_spec(f"rnnkit.tasks.{name}") is not None


def available_tasks() -> tuple[str, ...]:
    """The task names whose pipeline is installed."""
    return tuple(name for name in TASKS if _module_exists(name))


def get_task(name: object) -> Task:
    """The task called ``name`` (``ValueError`` naming the known ones otherwise)."""
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; expected one of {', '.join(TASKS)}")
    if not _module_exists(str(name)):
        raise ValueError(
            f"task {name!r} is not available yet; available: {', '.join(available_tasks())}"
        )
    module = importlib.import_module(f"rnnkit.tasks.{name}")
    return module.TASK
