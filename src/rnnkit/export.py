"""``rnnkit export``: a run's model as an ONNX or TorchScript file, checked against PyTorch.

The file runs without rnnkit: ONNX in onnxruntime, TorchScript with ``torch.jit.load``.

How it is made:

- rnnkit's own engine (custom autograd Functions, optional C kernels through ctypes) cannot
  be traced, and a layer's ``backend="torch"`` path calls ``torch.func.functional_call``, which
  refuses to run under the tracer. So a copy of the model gets every recurrent layer and cell
  replaced by its torch.nn twin holding the same weights (:func:`with_torch_layers`); the
  parameter names and gate orders are torch.nn's, so ``load_state_dict`` moves them as they are.
  A peephole LSTM has no torch.nn twin and is refused.
- Variable lengths go through ``pack_padded_sequence``, whose batch sizes depend on the
  values of ``lengths``. ``torch.jit.trace`` records the packing ops with their tensors, and
  the TorchScript-based ONNX exporter (``dynamo=False``) turns packing + RNN into ONNX's
  RNN/LSTM/GRU with ``sequence_lens``; the newer ``torch.export`` path (``dynamo=True``) stops
  at that data-dependent shape, so it is not used.
- Inputs come from ``task.example_inputs``: batch-first tensors (dimension 0 is the batch, 1
  the time of tensors with two or more dimensions); a 1-D integer tensor is a ``lengths``
  vector. Those axes are dynamic.
- The written file is loaded again and run on the example inputs and on a second batch of
  another size, length and set of lengths; its outputs must match the PyTorch model's within
  1e-4, else nothing is written.
"""

from __future__ import annotations

import contextlib
import copy
import inspect
import os
import sys
import tempfile
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from rnnkit.cells.gru import GRUCell
from rnnkit.cells.lstm import LSTMCell
from rnnkit.cells.rnn import RNNCell
from rnnkit.layers import _TORCH_CLASSES, RecurrentLayer

__all__ = [
    "FORMATS",
    "TOLERANCE",
    "TorchRecurrent",
    "export_model",
    "export_run",
    "resized_inputs",
    "with_torch_layers",
]

FORMATS = {"onnx": "model.onnx", "torchscript": "model.pt"}
TOLERANCE = 1e-4
OPSET = 17
PEEPHOLE = (
    "a peephole LSTM has no torch.nn twin (torch.nn.LSTM has no peepholes), "
    "and rnnkit's own engine cannot be traced"
)
Runner = Callable[[tuple[Tensor, ...]], list[Tensor]]


# ---------------------------------------------------------------- torch.nn twins
class TorchRecurrent(nn.Module):
    """A :class:`~rnnkit.layers.RecurrentLayer`'s forward on a torch.nn module with its
    weights, written so that the tracer records it: same arguments, same outputs (zeros past
    each length, the state at each sequence's last step, the initial state for length 0).
    Batched inputs only."""

    def __init__(self, layer: RecurrentLayer) -> None:
        super().__init__()
        if layer.peephole:
            raise ValueError(PEEPHOLE)
        kwargs: dict[str, Any] = {
            "num_layers": layer.num_layers,
            "bias": layer.bias,
            "batch_first": False,
            "bidirectional": layer.bidirectional,
        }
        if layer.cell_name == "rnn":
            kwargs["nonlinearity"] = layer.nonlinearity
        self.module = _TORCH_CLASSES[layer.cell_name](layer.input_size, layer.hidden_size, **kwargs)
        self.module.load_state_dict(layer.state_dict())
        self.module.to(next(layer.parameters()).device)
        self.is_lstm = layer.cell_name == "lstm"
        self.batch_first = layer.batch_first
        self.state_shape = (layer.num_layers * layer.num_directions, layer.hidden_size)

    def forward(
        self,
        x: Tensor,
        state: Tensor | tuple[Tensor, Tensor] | None = None,
        lengths: Tensor | list[int] | None = None,
    ) -> tuple[Tensor, Tensor | tuple[Tensor, Tensor]]:
        """``x (B, T, I)`` (time-major without ``batch_first``) → ``(output, final state)``."""
        if self.batch_first:
            x = x.transpose(0, 1)  # (T, B, I)
        if state is None:
            zeros = x.new_zeros(self.state_shape[0], x.shape[1], self.state_shape[1])
            state = (zeros, zeros) if self.is_lstm else zeros
        if lengths is None:
            output, final = self.module(x, state)
        else:
            lengths = torch.as_tensor(lengths, dtype=torch.long)
            # torch.nn refuses empty sequences: run them for one step and undo that below;
            # the masks are always applied, so the graph does not depend on the example
            packed = pack_padded_sequence(x, lengths.clamp(min=1).cpu(), enforce_sorted=False)
            packed_output, final = self.module(packed, state)
            output, _ = pad_packed_sequence(packed_output, total_length=x.shape[0])
            empty = (lengths == 0).to(x.device).view(1, -1, 1)
            output = output.masked_fill(empty, 0.0)
            if self.is_lstm:
                final = tuple(torch.where(empty, s0, s)
                              for s, s0 in zip(final, state, strict=True))  # fmt: skip
            else:
                final = torch.where(empty, state, final)
        if self.batch_first:
            output = output.transpose(0, 1)
        return output, final


def _cell_twin(cell: nn.Module) -> nn.Module:
    """torch.nn's cell of an rnnkit cell (same parameter names, same call)."""
    twin: nn.Module
    if isinstance(cell, LSTMCell):
        if cell.peephole:
            raise ValueError(PEEPHOLE)
        twin = nn.LSTMCell(cell.input_size, cell.hidden_size, cell.bias)
    elif isinstance(cell, GRUCell):
        twin = nn.GRUCell(cell.input_size, cell.hidden_size, cell.bias)
    else:
        twin = nn.RNNCell(cell.input_size, cell.hidden_size, cell.bias, cell.nonlinearity)
    twin.load_state_dict(cell.state_dict())
    return twin.to(cell.weight_ih.device)


def with_torch_layers(model: nn.Module) -> nn.Module:
    """A copy of ``model`` (in eval mode) whose rnnkit recurrent layers and cells are torch.nn
    twins with the same weights; ``model`` itself is left as it is.

    Raises:
        ValueError: a layer or cell has peepholes (torch.nn has no such LSTM).
    """
    model = copy.deepcopy(model).eval()
    kinds = (RecurrentLayer, LSTMCell, GRUCell, RNNCell)
    for name, module in list(model.named_modules()):
        if not isinstance(module, kinds):
            continue
        if getattr(module, "peephole", False):
            where = f"layer {name!r}" if name else "the model"
            raise ValueError(f"cannot export {where}: {PEEPHOLE}")
        if isinstance(module, RecurrentLayer):
            twin: nn.Module = TorchRecurrent(module)
        else:
            twin = _cell_twin(module)
        if not name:
            return twin.eval()
        parent, _, child = name.rpartition(".")
        setattr(model.get_submodule(parent), child, twin.eval())
    return model


# ---------------------------------------------------------------- inputs
def resized_inputs(
    example: Sequence[Tensor], batch: int, steps: int, generator: torch.Generator
) -> tuple[Tensor, ...]:
    """New inputs like ``example`` with ``batch`` sequences of ``steps`` steps: random floats,
    token ids below the example's largest + 1 (3-D ids, characters of words, 3 longer words),
    and lengths in ``[1, steps]`` (unsorted, the longest one ``steps``)."""
    inputs = []
    for tensor in example:
        if tensor.dim() == 1 and not tensor.is_floating_point() and tensor.dtype != torch.bool:
            lengths = torch.randint(1, steps + 1, (batch,), generator=generator)
            lengths[batch // 2] = steps
            inputs.append(lengths.to(tensor.dtype))
            continue
        shape = (batch, steps, *tensor.shape[2:]) if tensor.dim() >= 2 else (batch,)
        if tensor.dim() >= 3 and not tensor.is_floating_point():
            shape = (batch, steps, tensor.shape[2] + 3, *tensor.shape[3:])  # longer words
        if tensor.is_floating_point():
            new = torch.randn(shape, generator=generator, dtype=tensor.dtype)
        elif tensor.dtype == torch.bool:
            new = torch.rand(shape, generator=generator) < 0.5
        else:
            high = int(tensor.max()) + 1 if tensor.numel() else 1
            new = torch.randint(high, shape, generator=generator, dtype=tensor.dtype)
        inputs.append(new)
    return tuple(inputs)


def _steps(example: Sequence[Tensor]) -> int:
    return next((int(t.shape[1]) for t in example if t.dim() >= 2), 1)


def _input_names(model: nn.Module, count: int) -> list[str]:
    names = [
        p.name
        for p in inspect.signature(model.forward).parameters.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    return names[:count] if len(names) >= count else [f"input_{i}" for i in range(count)]


class _NoneDropped(nn.Module):
    """``model`` whose tuple of outputs leaves out the ``None`` ones, which the exporters
    cannot write (and :func:`_flatten` skips in the model's own outputs)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, *inputs: Tensor) -> Any:
        outputs = self.model(*inputs)
        if not isinstance(outputs, (tuple, list)):
            return outputs
        kept = tuple(output for output in outputs if output is not None)
        return kept[0] if len(kept) == 1 else kept


def _flatten(outputs: Any) -> list[Tensor]:
    if outputs is None:  # an output the model does not make (a tagger without sentence labels)
        return []
    if isinstance(outputs, Tensor):
        return [outputs]
    if isinstance(outputs, (tuple, list)):
        return [t for item in outputs for t in _flatten(item)]
    raise ValueError(f"cannot export a model whose outputs include a {type(outputs).__name__}")


# ---------------------------------------------------------------- writing and reading
def _write_torchscript(model: nn.Module, example: tuple[Tensor, ...], path: str) -> None:
    traced = torch.jit.trace(model, example, check_trace=False)
    torch.jit.save(traced, path)


def _write_onnx(
    model: nn.Module, example: tuple[Tensor, ...], names: list[str], outputs: int, path: str
) -> None:
    output_names = ["output"] if outputs == 1 else [f"output_{i}" for i in range(outputs)]
    axes = {
        name: ({0: "batch", 1: "time"} if t.dim() >= 2 else {0: "batch"})
        for name, t in zip(names, example, strict=True)
    }
    for name, t in zip(names, example, strict=True):
        if t.dim() >= 3 and not t.is_floating_point():  # characters of each word: any length
            axes[name][2] = f"{name}_length"
    axes.update({name: {0: "batch"} for name in output_names})
    with _quiet_native_stderr():
        torch.onnx.export(
            model,
            example,
            path,
            dynamo=False,
            input_names=names,
            output_names=output_names,
            dynamic_axes=axes,
            opset_version=OPSET,
        )


@contextlib.contextmanager
def _quiet_native_stderr() -> Iterator[None]:
    """Silence file descriptor 2: the ONNX exporter's C++ warnings (PackPadded has no shape
    inference) bypass Python's warnings, and the check after export covers what they warn
    about. Errors still arrive as exceptions."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _load_torchscript(path: str) -> Runner:
    module = torch.jit.load(path, map_location="cpu")
    return lambda inputs: _flatten(module(*inputs))


def _load_onnx(path: str, names: list[str]) -> Runner:
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1  # the check's batches are tiny
    session = onnxruntime.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    wanted = {node.name for node in session.get_inputs()}  # unused inputs are dropped

    def run(inputs: tuple[Tensor, ...]) -> list[Tensor]:
        feed = {n: t.numpy() for n, t in zip(names, inputs, strict=True) if n in wanted}
        return [torch.from_numpy(a) for a in session.run(None, feed)]

    return run


def _compare(expected: list[Tensor], actual: list[Tensor], shapes: dict[str, list[int]]) -> float:
    if len(expected) != len(actual):
        raise ValueError(
            f"the exported model gives {len(actual)} outputs, the PyTorch model {len(expected)}"
        )
    worst = 0.0
    for want, got in zip(expected, actual, strict=True):
        if tuple(want.shape) != tuple(got.shape):
            raise ValueError(
                f"on inputs {shapes} the exported model's output has shape {tuple(got.shape)}, "
                f"the PyTorch model's {tuple(want.shape)}"
            )
        if want.numel():
            diff = (want.double() - got.double()).abs().max().item()
            worst = max(worst, diff if diff == diff else float("inf"))  # NaN counts as a miss
    if worst > TOLERANCE:
        raise ValueError(
            f"on inputs {shapes} the exported model's outputs differ from the PyTorch model's "
            f"by {worst:.3g} (more than {TOLERANCE:g})"
        )
    return worst


def _one_line(err: BaseException) -> str:
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    return lines[0] if lines else type(err).__name__


# ---------------------------------------------------------------- the command
def export_model(
    model: nn.Module, example: Sequence[Tensor], format: str, path: str | os.PathLike[str]
) -> dict[str, Any]:
    """Export ``model.forward`` (in eval mode, recurrent layers on torch.nn) traced on
    ``example`` to ``path`` as ``format`` (``"onnx"`` or ``"torchscript"``), atomically, after
    checking the written file against ``model`` on ``example`` and on a resized batch.

    Returns:
        ``{"format", "path", "max_abs_diff", "inputs"}``: ``inputs`` lists the shapes of the
        inputs of each check, by argument name.

    Raises:
        ValueError: one line; unknown format, a layer without torch.nn twin, a model the
            exporter refuses, outputs that differ by more than ``TOLERANCE``, or a path that
            cannot be written.
    """
    if format not in FORMATS:
        raise ValueError(f"--format: expected one of {', '.join(FORMATS)}, got {format!r}")
    model.eval()
    example = tuple(example)
    # no autograd in the file; outputs that are None (not made) are left out of it
    exportable = _NoneDropped(with_torch_layers(model).requires_grad_(False))
    names = _input_names(model, len(example))
    B, T = (int(example[0].shape[0]) if example[0].dim() else 1), _steps(example)
    generator = torch.Generator().manual_seed(1)
    checks = [example, resized_inputs(example, B + 2, T + 4, generator)]
    with torch.no_grad():
        expected = [_flatten(model(*inputs)) for inputs in checks]
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{path}: is a directory; give a file name")
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as err:
        raise ValueError(f"{path}: cannot write: {err.strerror or err}") from None
    os.close(fd)
    try:
        with warnings.catch_warnings(), torch.no_grad():
            # the tracer's warnings are about the shape checks, which our check covers;
            # the deprecation notices are about torch.jit / the legacy ONNX exporter
            warnings.simplefilter("ignore")
            try:
                if format == "onnx":
                    _write_onnx(exportable, example, names, len(expected[0]), tmp)
                    run = _load_onnx(tmp, names)
                else:
                    _write_torchscript(exportable, example, tmp)
                    run = _load_torchscript(tmp)
                actual = [run(inputs) for inputs in checks]
            except ValueError:
                raise
            except OSError as err:
                raise ValueError(f"{path}: cannot write: {err.strerror or err}") from None
            except Exception as err:  # the exporters' and onnxruntime's errors, in one line
                raise ValueError(f"cannot export the model as {format}: {_one_line(err)}") from None
        shapes = [
            {name: list(t.shape) for name, t in zip(names, inputs, strict=True)}
            for inputs in checks
        ]
        worst = max(
            _compare(want, got, shape)
            for want, got, shape in zip(expected, actual, shapes, strict=True)
        )
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # a file to share: the usual permissions, not mkstemp's 0600
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return {"format": format, "path": str(path), "max_abs_diff": worst, "inputs": shapes}


def export_run(run_dir: str, format: str, output: str | None = None) -> dict[str, Any]:
    """Export a run's model to ``output`` (default ``RUN_DIR/model.onnx`` or ``model.pt``) on
    the inputs its task's ``example_inputs`` gives; see :func:`export_model`."""
    from rnnkit.tasks.runner import load_run

    if format not in FORMATS:
        raise ValueError(f"--format: expected one of {', '.join(FORMATS)}, got {format!r}")
    loaded = load_run(run_dir)
    example = loaded.task.example_inputs(loaded.model, loaded.config, loaded.artifacts)
    path = Path(output) if output is not None else Path(loaded.run.path) / FORMATS[format]
    try:
        return export_model(loaded.model, example, format, path)
    except ValueError as err:
        if output is not None and str(err).startswith(str(path)):
            raise ValueError(f"--output {err}") from None
        raise
