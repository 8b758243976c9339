"""rnnkit: recurrent neural networks done properly, on PyTorch.

Cells (one step, hand-written BPTT): :class:`RNNCell`, :class:`LSTMCell`, :class:`GRUCell`.
Layers (drop-ins for torch.nn, plus peepholes, empty sequences and backends): :class:`RNN`,
:class:`LSTM`, :class:`GRU`. State helpers for truncated BPTT and :func:`summary`.
"""

import importlib
from types import ModuleType

from rnnkit.cells.gru import GRUCell
from rnnkit.cells.lstm import LSTMCell
from rnnkit.cells.rnn import RNNCell
from rnnkit.estimators import Classifier, NotFittedError, Regressor
from rnnkit.layers import GRU, LSTM, RNN, make_recurrent
from rnnkit.state import detach_state, state_to_tensor, tensor_to_state
from rnnkit.structures import Seq2Seq, SequenceClassifier, SequenceGenerator, SequenceTagger
from rnnkit.summary import summary
from rnnkit.tuning import tune_malloc

__version__ = "0.1.0"

__all__ = [
    "GRU",
    "LSTM",
    "RNN",
    "Classifier",
    "GRUCell",
    "LSTMCell",
    "NotFittedError",
    "RNNCell",
    "Regressor",
    "Seq2Seq",
    "SequenceClassifier",
    "SequenceGenerator",
    "SequenceTagger",
    "detach_state",
    "make_recurrent",
    "state_to_tensor",
    "summary",
    "tensor_to_state",
    "tune_malloc",
]

# The modules the README names as rnnkit.<name> (rnnkit.export.with_torch_layers, rnnkit.plots,
# ...), imported on first use rather than with the package: plots and export pull in
# matplotlib and ONNX tooling, which a program that only trains should not wait for.
_SUBMODULES = frozenset(
    {"data", "export", "inspect", "losses", "metrics", "plots", "runs", "structures", "text"}
)


def __getattr__(name: str) -> ModuleType:
    if name in _SUBMODULES:
        return importlib.import_module(f"rnnkit.{name}")
    raise AttributeError(f"module 'rnnkit' has no attribute {name!r}")
