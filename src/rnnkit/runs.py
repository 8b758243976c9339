"""The run directory: config, weights, vocab/label maps, metrics, per-epoch log and checkpoints.

Layout of ``RUN_DIR/``::

    config.json              all options, so the run can be repeated
    model.safetensors        final weights only (plain state_dict keys, no pickle)
    <name>.json              vocab and label maps (``write_json``)
    metrics.json             final validation and test metrics
    log.csv                  one row per epoch
    checkpoints/last.safetensors, checkpoints/best.safetensors

Every file is replaced atomically (temp file in the same directory, fsync, ``os.replace``,
fsync of the directory), so a crash or SIGKILL at any moment leaves either the old or the new
file, never a torn one. A checkpoint is ONE safetensors file: every tensor (model weights under
``model.``, optimizer state under ``optim.``, RNG states under ``rng.``, ...) is a safetensors
entry and the non-tensor structure is a JSON string in the safetensors metadata. Loading never
executes code: no pickle, no ``torch.load``.

JSON files are UTF-8 with sorted keys; JSON has no NaN, so a non-finite float (a diverged run's
loss, say) is written as ``null`` rather than failing the write at the end of a long run.
Checkpoints store non-finite floats exactly (``best_loss = inf`` round-trips).

One process writes a run directory at a time.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import safetensors.torch
import torch
from torch import Tensor, nn

from rnnkit.rng import rng_state, set_rng_state

__all__ = ["FORMAT_VERSION", "RunDir", "RunDirError", "atomic_write"]

FORMAT_VERSION = 1
CHECKPOINT_FORMAT = "rnnkit-checkpoint"
WEIGHTS_FORMAT = "rnnkit-weights"
_TMP_SUFFIX = ".rnnkit-tmp"
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_TAGS = ("__tensor__", "__tuple__", "__dict__", "__float__")


class RunDirError(ValueError):
    """A run directory or one of its files is missing, corrupt or would be overwritten."""


# ---------------------------------------------------------------- atomic file writes


def _fsync_dir(directory: Path) -> None:
    """Make a rename or a new file in ``directory`` durable (no-op where dirs can't be opened)."""
    if not hasattr(os, "O_DIRECTORY"):
        return
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _clean_stale_temps(directory: Path, target: str | None = None) -> None:
    """Delete temp files left by a writer that was killed (all of them, or ``target``'s)."""
    pattern = f".{target}.*{_TMP_SUFFIX}" if target else f".*{_TMP_SUFFIX}"
    for stale in directory.glob(pattern):
        stale.unlink(missing_ok=True)


def atomic_write(path: str | os.PathLike[str], writer: Callable[[BinaryIO], Any]) -> None:
    """Write ``path`` atomically: ``writer(f)`` fills a temp file in the same directory, which
    is fsynced and renamed over ``path``. If anything fails (or the process dies) the previous
    ``path`` is left untouched; on an exception the temp file is removed. An ``OSError`` is
    raised as a :class:`RunDirError` naming ``path``."""
    path = Path(path)
    _clean_stale_temps(path.parent, path.name)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=_TMP_SUFFIX)
    try:
        with os.fdopen(fd, "wb") as f:
            writer(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except OSError as err:  # disk full, I/O error, ...: one line naming the file
        Path(tmp).unlink(missing_ok=True)
        raise RunDirError(f"{path}: cannot write: {_one_line(err)}") from err
    except BaseException:
        # BaseException too: a Ctrl-C mid-write must not leave the temp file behind.
        Path(tmp).unlink(missing_ok=True)
        raise


def _one_line(err: BaseException) -> str:
    text = str(err).strip() or type(err).__name__
    return " ".join(text.split())


# ---------------------------------------------------------------- JSON files


def _jsonable(obj: Any, where: str) -> Any:
    """Plain JSON values: paths → str, numpy/tensor scalars → Python, non-finite floats → null."""
    if obj is None or isinstance(obj, (bool, int, str)):
        return obj
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, Mapping):
        out = {}
        for key, value in obj.items():
            if isinstance(key, bool) or not isinstance(key, (str, int)):
                raise RunDirError(f"{where}: JSON object keys must be str or int, got {key!r}")
            out[str(key)] = _jsonable(value, where)
        return out
    if isinstance(obj, (list, tuple)):
        return [_jsonable(value, where) for value in obj]
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    if isinstance(obj, (np.generic, np.ndarray, Tensor)):
        return _jsonable(obj.tolist(), where)
    raise RunDirError(f"{where}: cannot write a value of type {type(obj).__name__} as JSON")


def _json_bytes(obj: Any, path: Path) -> bytes:
    text = json.dumps(
        _jsonable(obj, str(path)), allow_nan=False, sort_keys=True, indent=2, ensure_ascii=False
    )
    return (text + "\n").encode("utf-8")


def _read_json_file(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RunDirError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError) as err:
        raise RunDirError(f"{path}: cannot read: {_one_line(err)}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise RunDirError(f"{path}: not valid JSON: {_one_line(err)}") from None


# ---------------------------------------------------------------- nested state <-> tensors + JSON


def _flatten(obj: Any, key: str, tensors: dict[str, Tensor]) -> Any:
    """Split a nested state (optimizer/scheduler ``state_dict()``, trainer state) into tensors
    (stored under dotted keys in ``tensors``) and a JSON structure that references them.

    Tuples, non-str dict keys and non-finite floats are tagged so the round trip is exact."""
    if isinstance(obj, Tensor):
        name = key if key not in tensors else f"{key}#{len(tensors)}"
        tensors[name] = obj
        return {"__tensor__": name}
    if obj is None or isinstance(obj, (bool, int, str)):
        return obj
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else {"__float__": repr(obj)}
    if isinstance(obj, tuple):
        return {"__tuple__": [_flatten(v, f"{key}.{i}", tensors) for i, v in enumerate(obj)]}
    if isinstance(obj, list):
        return [_flatten(v, f"{key}.{i}", tensors) for i, v in enumerate(obj)]
    if isinstance(obj, Mapping):
        if all(isinstance(k, str) and not k.startswith("__") for k in obj):
            return {k: _flatten(v, f"{key}.{k}", tensors) for k, v in obj.items()}
        pairs = [
            [_flatten(k, key, tensors), _flatten(v, f"{key}.{k}", tensors)] for k, v in obj.items()
        ]
        return {"__dict__": pairs}
    raise TypeError(f"{key}: cannot store a value of type {type(obj).__name__} in a checkpoint")


def _unflatten(obj: Any, tensors: Mapping[str, Tensor]) -> Any:
    """Inverse of :func:`_flatten`; raises KeyError/ValueError/TypeError on a malformed one."""
    if isinstance(obj, list):
        return [_unflatten(v, tensors) for v in obj]
    if not isinstance(obj, dict):
        return obj
    if len(obj) == 1:
        ((tag, value),) = obj.items()
        if tag == "__tensor__":
            return tensors[value]
        if tag == "__tuple__":
            return tuple(_unflatten(v, tensors) for v in value)
        if tag == "__float__":
            return float(value)
        if tag == "__dict__":
            return {_unflatten(k, tensors): _unflatten(v, tensors) for k, v in value}
        if tag.startswith("__"):
            raise ValueError(f"unknown tag {tag!r}")
    return {k: _unflatten(v, tensors) for k, v in obj.items()}


# ---------------------------------------------------------------- safetensors files


def _safetensors_bytes(tensors: Mapping[str, Tensor], metadata: dict[str, str]) -> bytes:
    """Serialise to bytes; views of one storage (tied weights) are copied, as safetensors
    refuses shared memory."""
    prepared: dict[str, Tensor] = {}
    storages: set[int] = set()
    for name, tensor in tensors.items():
        t = tensor.detach().cpu().contiguous()
        ptr = t.untyped_storage().data_ptr()
        if ptr in storages:
            t = t.clone()
        storages.add(ptr)
        prepared[name] = t
    return safetensors.torch.save(prepared, metadata=metadata)


def _read_safetensors(path: Path) -> tuple[dict[str, Tensor], dict[str, str]]:
    """Tensors and metadata of a safetensors file, or a one-line RunDirError naming it."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise RunDirError(f"{path}: file not found") from None
    except OSError as err:
        raise RunDirError(f"{path}: cannot read: {_one_line(err)}") from None
    try:
        tensors = safetensors.torch.load(data)
    except Exception as err:  # the Rust parser's SafetensorError, or anything else it raises
        raise RunDirError(
            f"{path}: not a valid safetensors file (truncated or corrupt): {_one_line(err)}"
        ) from None
    # The parser has validated the header: 8-byte little-endian length, then JSON.
    size = int.from_bytes(data[:8], "little")
    metadata = json.loads(data[8 : 8 + size]).get("__metadata__") or {}
    return tensors, metadata


def _check_metadata(path: Path, metadata: Mapping[str, str], expected: str) -> None:
    found = metadata.get("format")
    if found is None:
        raise RunDirError(f"{path}: no rnnkit metadata; expected a {expected} file")
    if found != expected:
        raise RunDirError(f"{path}: is a {found} file, expected a {expected} file")
    version = metadata.get("format_version")
    if version != str(FORMAT_VERSION):
        raise RunDirError(
            f"{path}: format version {version!r}; this rnnkit reads version {FORMAT_VERSION}"
        )


def _names(keys: list[str], limit: int = 8) -> str:
    shown = ", ".join(keys[:limit])
    return shown + (f" and {len(keys) - limit} more" if len(keys) > limit else "")


def _check_state_dict(path: Path, model: nn.Module, state: Mapping[str, Any]) -> None:
    """Strict match of keys and shapes, before anything in ``model`` is modified."""
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = sorted(k for k in state if k not in expected)
    mismatched = [
        f"{k} {tuple(state[k].shape)} in file vs {tuple(v.shape)} in model"
        for k, v in expected.items()
        if k in state
        and isinstance(v, Tensor)
        and isinstance(state[k], Tensor)
        and state[k].shape != v.shape
    ]
    problems = []
    if missing:
        problems.append(f"missing keys: {_names(missing)}")
    if unexpected:
        problems.append(f"unexpected keys: {_names(unexpected)}")
    if mismatched:
        problems.append(f"shape mismatch: {_names(mismatched)}")
    if problems:
        raise RunDirError(f"{path}: does not match the model; " + "; ".join(problems))


# ---------------------------------------------------------------- RNG state


# ---------------------------------------------------------------- the run directory


def _csv_line(values: list[Any]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(["" if v is None else v for v in values])
    return buffer.getvalue().encode("utf-8")


class RunDir:
    """A run directory ``RUN_DIR/``; see the module docstring for its layout.

    Example:
        >>> run = RunDir("runs/tagger").create(vars(args))        # a new run
        >>> run = RunDir.open("runs/tagger")                      # --resume runs/tagger
        >>> trainer_state = run.load_checkpoint("last", model, optimizer, scheduler)
    """

    CONFIG = "config.json"
    WEIGHTS = "model.safetensors"
    METRICS = "metrics.json"
    LOG = "log.csv"
    CHECKPOINTS = "checkpoints"

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"

    # -- standard paths

    @property
    def config_path(self) -> Path:
        """``RUN_DIR/config.json``."""
        return self.path / self.CONFIG

    @property
    def weights_path(self) -> Path:
        """``RUN_DIR/model.safetensors``."""
        return self.path / self.WEIGHTS

    @property
    def metrics_path(self) -> Path:
        """``RUN_DIR/metrics.json``."""
        return self.path / self.METRICS

    @property
    def log_path(self) -> Path:
        """``RUN_DIR/log.csv``."""
        return self.path / self.LOG

    @property
    def checkpoints_dir(self) -> Path:
        """``RUN_DIR/checkpoints/``."""
        return self.path / self.CHECKPOINTS

    def checkpoint_path(self, name: str) -> Path:
        """``RUN_DIR/checkpoints/{name}.safetensors`` (``name`` is ``"last"`` or ``"best"``,
        or another plain name)."""
        return self.checkpoints_dir / f"{self._plain_name(name)}.safetensors"

    def has_checkpoint(self, name: str) -> bool:
        """Whether ``checkpoints/{name}.safetensors`` exists (e.g. before resuming)."""
        return self.checkpoint_path(name).is_file()

    # -- creating and opening

    def create(self, config: Mapping[str, Any], *, overwrite: bool = False) -> RunDir:
        """Start a new run here and write ``config.json``; returns ``self``.

        An existing non-empty directory is refused unless ``overwrite`` is true, and even then
        only if it is a run directory (has ``config.json``): its contents are deleted."""
        data = _json_bytes(config, self.config_path)  # a bad config fails before any deletion
        if self.path.exists() and not self.path.is_dir():
            raise RunDirError(f"{self.path}: exists and is not a directory")
        if self.path.is_dir() and any(self.path.iterdir()):
            if not overwrite:
                raise RunDirError(
                    f"{self.path}: run directory already exists and is not empty; "
                    "resume it or choose to overwrite it"
                )
            if not self.config_path.is_file():
                raise RunDirError(
                    f"{self.path}: not a run directory (no {self.CONFIG}); refusing to overwrite"
                )
            self._clear()
        self.path.mkdir(parents=True, exist_ok=True)
        self.checkpoints_dir.mkdir(exist_ok=True)
        _fsync_dir(self.path.parent)
        atomic_write(self.config_path, lambda f: f.write(data))
        return self

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> RunDir:
        """An existing run directory (e.g. for ``--resume``); removes stale temp files."""
        run = cls(path)
        if not run.path.is_dir():
            raise RunDirError(f"{run.path}: run directory not found")
        if not run.config_path.is_file():
            raise RunDirError(f"{run.config_path}: file not found; not a run directory")
        _clean_stale_temps(run.path)
        if run.checkpoints_dir.is_dir():
            _clean_stale_temps(run.checkpoints_dir)
        return run

    def _clear(self) -> None:
        for entry in self.path.iterdir():
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()

    # -- JSON files

    @staticmethod
    def _plain_name(name: str) -> str:
        if not _NAME_RE.fullmatch(name):
            raise RunDirError(f"{name!r}: expected a plain file name (letters, digits, _ . -)")
        return name

    def _json_path(self, name: str) -> Path:
        name = self._plain_name(name)
        return self.path / (name if name.endswith(".json") else f"{name}.json")

    def write_json(self, name: str, obj: Any) -> Path:
        """Write ``RUN_DIR/{name}`` (``.json`` added if missing), e.g. a vocab or label map.
        Int keys become strings, as in any JSON."""
        path = self._json_path(name)
        data = _json_bytes(obj, path)
        atomic_write(path, lambda f: f.write(data))
        return path

    def read_json(self, name: str) -> Any:
        """Read ``RUN_DIR/{name}`` (``.json`` added if missing)."""
        return _read_json_file(self._json_path(name))

    def write_config(self, config: Mapping[str, Any]) -> None:
        """Replace ``config.json`` (all options of the run)."""
        self.write_json(self.CONFIG, config)

    def read_config(self) -> dict[str, Any]:
        """The run's options from ``config.json``."""
        config = self.read_json(self.CONFIG)
        if not isinstance(config, dict):
            raise RunDirError(f"{self.config_path}: expected a JSON object")
        return config

    def write_metrics(self, metrics: Mapping[str, Any]) -> None:
        """Write ``metrics.json`` (final validation and test metrics; NaN/inf → null)."""
        self.write_json(self.METRICS, metrics)

    # -- per-epoch log

    def _log_header(self) -> list[str] | None:
        try:
            with self.log_path.open(encoding="utf-8", newline="") as f:
                first = f.readline()
        except FileNotFoundError:
            return None
        return next(csv.reader([first])) if first.endswith("\n") else None

    def append_log(self, row: Mapping[str, Any]) -> None:
        """Append one row to ``log.csv``; the first row fixes the columns. Flushed and fsynced,
        so a crash loses at most the row being written (a torn last row is dropped here)."""
        header = self._log_header()
        if header is None:
            header = list(row)
            data = _csv_line(header) + _csv_line([row[k] for k in header])
            atomic_write(self.log_path, lambda f: f.write(data))
            return
        new = [k for k in row if k not in header]
        if new:
            raise RunDirError(
                f"{self.log_path}: row has columns not in the header: {', '.join(new)}"
            )
        line = _csv_line([row.get(k) for k in header])
        with self.log_path.open("r+b") as f:
            content = f.read()
            if not content.endswith(b"\n"):
                f.truncate(content.rfind(b"\n") + 1)  # drop a row torn by a crash
            f.seek(0, os.SEEK_END)
            f.write(line)
            f.flush()
            os.fsync(f.fileno())

    def write_log(self, rows: list[Mapping[str, Any]]) -> None:
        """Replace ``log.csv`` (atomically) by ``rows``, e.g. by a checkpoint's history when a
        run is resumed; the first row fixes the columns, and no rows removes the file."""
        if not rows:
            self.log_path.unlink(missing_ok=True)
            return
        header = list(rows[0])
        data = _csv_line(header) + b"".join(_csv_line([row.get(k) for k in header]) for row in rows)
        atomic_write(self.log_path, lambda f: f.write(data))

    def read_log(self) -> list[dict[str, str]]:
        """The rows of ``log.csv`` as dicts of strings (empty list if there is none)."""
        try:
            with self.log_path.open(encoding="utf-8", newline="") as f:
                return [row for row in csv.DictReader(f) if None not in row]
        except FileNotFoundError:
            return []

    # -- final weights

    def save_weights(self, model: nn.Module) -> Path:
        """Write ``model.safetensors``: the model's ``state_dict()`` under its own keys."""
        path = self.weights_path
        metadata = {"format": WEIGHTS_FORMAT, "format_version": str(FORMAT_VERSION)}
        try:
            data = _safetensors_bytes(model.state_dict(), metadata)
        except Exception as err:
            raise RunDirError(f"{path}: cannot save weights: {_one_line(err)}") from err
        atomic_write(path, lambda f: f.write(data))
        return path

    def load_weights(self, model: nn.Module) -> None:
        """Load ``model.safetensors`` into ``model`` (strict: keys and shapes must match).
        A plain safetensors file without rnnkit metadata is accepted too."""
        path = self.weights_path
        tensors, metadata = _read_safetensors(path)
        if "format" in metadata:
            _check_metadata(path, metadata, WEIGHTS_FORMAT)
        _check_state_dict(path, model, tensors)
        model.load_state_dict(tensors)

    # -- checkpoints

    def save_checkpoint(
        self,
        name: str,
        model: nn.Module,
        optimizer: torch.optim.Optimizer | None = None,
        scheduler: Any | None = None,
        trainer_state: Mapping[str, Any] | None = None,
        rng: bool = True,
    ) -> Path:
        """Atomically write ``checkpoints/{name}.safetensors`` with the model, the optimizer
        and scheduler state, ``trainer_state`` (epoch, step, best metric, ... — anything made of
        tensors, numbers, strings, lists, tuples and dicts) and, if ``rng``, the torch, numpy,
        Python and CUDA RNG states. On any failure the previous checkpoint is left intact."""
        path = self.checkpoint_path(name)
        tensors: dict[str, Tensor] = {}
        try:
            structure = {
                "model": _flatten(model.state_dict(), "model", tensors),
                "optimizer": None
                if optimizer is None
                else _flatten(optimizer.state_dict(), "optim", tensors),
                "scheduler": None
                if scheduler is None
                else _flatten(scheduler.state_dict(), "sched", tensors),
                "trainer": _flatten(dict(trainer_state or {}), "trainer", tensors),
                "rng": _flatten(rng_state(), "rng", tensors) if rng else None,
            }
            metadata = {
                "format": CHECKPOINT_FORMAT,
                "format_version": str(FORMAT_VERSION),
                "structure": json.dumps(structure, allow_nan=False),
            }
            data = _safetensors_bytes(tensors, metadata)
        except Exception as err:
            raise RunDirError(f"{path}: cannot save checkpoint: {_one_line(err)}") from err
        self.checkpoints_dir.mkdir(parents=True, exist_ok=True)
        atomic_write(path, lambda f: f.write(data))
        return path

    def load_checkpoint(
        self,
        name: str,
        model: nn.Module,
        optimizer: torch.optim.Optimizer | None = None,
        scheduler: Any | None = None,
        restore_rng: bool = True,
    ) -> dict[str, Any]:
        """Restore a checkpoint written by :meth:`save_checkpoint` into ``model`` (strict) and,
        if given, ``optimizer`` and ``scheduler``; restore the RNG states if ``restore_rng``.
        Returns the ``trainer_state``. Everything is checked before anything is modified."""
        path = self.checkpoint_path(name)
        tensors, metadata = _read_safetensors(path)
        _check_metadata(path, metadata, CHECKPOINT_FORMAT)
        try:
            state = _unflatten(json.loads(metadata["structure"]), tensors)
            parts = {key: state[key] for key in ("model", "optimizer", "scheduler", "trainer")}
            saved_rng = state["rng"]
        except (KeyError, TypeError, ValueError) as err:
            raise RunDirError(f"{path}: corrupt checkpoint metadata: {_one_line(err)}") from None
        _check_state_dict(path, model, parts["model"])
        for what, obj in (("optimizer", optimizer), ("scheduler", scheduler)):
            if obj is not None and parts[what] is None:
                raise RunDirError(f"{path}: checkpoint has no {what} state")
        if optimizer is not None:
            try:  # torch checks the parameter groups before it changes anything
                optimizer.load_state_dict(parts["optimizer"])
            except (KeyError, ValueError) as err:
                raise RunDirError(f"{path}: optimizer does not match: {_one_line(err)}") from None
        if scheduler is not None:
            scheduler.load_state_dict(parts["scheduler"])
        model.load_state_dict(parts["model"])
        if restore_rng and saved_rng is not None:
            set_rng_state(saved_rng)
        return parts["trainer"]
