"""Type checks for option values read from configs, JSON and command lines."""

from __future__ import annotations

import math


def is_int(value: object) -> bool:
    """An ``int`` and not a ``bool`` (``True`` is an int in Python, never a size)."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: object) -> bool:
    """A finite ``int`` or ``float`` (not a ``bool``)."""
    return (is_int(value) or isinstance(value, float)) and math.isfinite(value)  # type: ignore[arg-type]
