"""Where the named recipes find their data sets: ``--data-dir`` or ``$RNNKIT_DATA_DIR``.

The data sets themselves are never part of the project (see the README's *Data* section);
a recipe names files relative to the data directory, and :func:`data_file` checks each one
before anything is trained, naming the missing file and how to point rnnkit at the data.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["ENV_VAR", "data_file", "resolve_data_dir"]

ENV_VAR = "RNNKIT_DATA_DIR"


def resolve_data_dir(data_dir: str | os.PathLike[str] | None = None) -> Path:
    """``data_dir`` if given, else ``$RNNKIT_DATA_DIR``; an existing directory or ``ValueError``."""
    if data_dir is None:
        data_dir = os.environ.get(ENV_VAR)
        if not data_dir:
            raise ValueError(f"no data directory: give --data-dir DIR or set {ENV_VAR}")
        source = f"${ENV_VAR}"
    else:
        source = "--data-dir"
    path = Path(data_dir).expanduser()
    if not path.is_dir():
        raise ValueError(f"{source} {data_dir}: directory not found")
    return path


def data_file(data_dir: str | os.PathLike[str] | None, relative: str) -> Path:
    """The file ``relative`` inside the data directory, checked to exist (``ValueError`` names
    the missing path)."""
    path = resolve_data_dir(data_dir) / relative
    if not path.exists():
        raise ValueError(f"{path}: file not found in the data directory (expected {relative})")
    return path
