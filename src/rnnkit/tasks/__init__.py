"""The tasks of ``rnnkit train TASK``: each a pipeline from plain files to a run directory.

Only :mod:`rnnkit.tasks.classify` exists so far; the other task names are part of the
command's contract and arrive with later issues.
"""

from __future__ import annotations

__all__ = ["AVAILABLE", "TASKS", "TaskInterrupted", "check_available"]

TASKS = ("classify", "forecast", "tag", "translate", "generate")
AVAILABLE = ("classify",)


class TaskInterrupted(Exception):  # noqa: N818 - it reports an interruption, it is no error
    """Training was interrupted (Ctrl-C) after saving a checkpoint; the message says where."""


def check_available(task: str) -> None:
    """Raise ``ValueError`` (one line) unless ``task`` is implemented."""
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; expected one of {', '.join(TASKS)}")
    if task not in AVAILABLE:
        raise ValueError(
            f"task {task!r} arrives with a later issue; available now: {', '.join(AVAILABLE)}"
        )
