"""``rnnkit.summary``: what a model is made of, and how many parameters each part has."""

from __future__ import annotations

import re
from dataclasses import dataclass

from torch import nn

# A recurrent layer's parameters end in _l{k} or _l{k}_reverse: one row per layer and direction.
_LAYER_SUFFIX = re.compile(r"^(?P<stem>.+?)(?P<suffix>_l\d+(?:_reverse)?)$")


@dataclass(frozen=True)
class SummaryRow:
    """One module of the summary: its dotted name, type, own parameters and trainable count."""

    name: str
    kind: str
    parameters: int
    trainable: int
    detail: str


@dataclass(frozen=True)
class ModelSummary:
    """The rows of :func:`summary` and the totals; ``str()`` gives the printed table."""

    rows: list[SummaryRow]
    total: int
    trainable: int

    def __str__(self) -> str:
        header = ("module", "type", "parameters", "shapes")
        lines = [(r.name or "(model)", r.kind, f"{r.parameters:,}", r.detail) for r in self.rows]
        widths = [max(len(str(row[i])) for row in [header, *lines]) for i in range(3)]
        fmt = f"{{:<{widths[0]}}}  {{:<{widths[1]}}}  {{:>{widths[2]}}}  {{}}"
        out = [fmt.format(*header), "-" * (sum(widths) + 16)]
        out += [fmt.format(*line) for line in lines]
        out.append("-" * (sum(widths) + 16))
        out.append(f"total parameters: {self.total:,} (trainable {self.trainable:,})")
        return "\n".join(out)


def summary(model: nn.Module) -> ModelSummary:
    """Parameter counts per module, counting each parameter once, where it is registered.

    A recurrent layer's row lists its weights by name, so the cost of each cell reads off
    directly: for input size I and hidden size H, a vanilla RNN layer has H·(I + H) + 2H
    parameters, a GRU three times and an LSTM four times that (one block per gate).

    Example:
        >>> print(rnnkit.summary(rnnkit.LSTM(10, 20)))
    """
    rows = []
    seen: set[int] = set()  # a shared (tied) parameter is counted where it first appears
    for name, module in model.named_modules():
        groups: dict[str, list[tuple[str, nn.Parameter]]] = {}
        for param_name, param in module.named_parameters(recurse=False):
            if id(param) in seen:
                continue
            seen.add(id(param))
            match = _LAYER_SUFFIX.match(param_name)
            key = match["suffix"][1:] if match else ""
            groups.setdefault(key, []).append((match["stem"] if match else param_name, param))
        if not groups and name:
            continue
        for key, own in groups.items() or [("", [])]:
            row_name = ".".join(part for part in (name, key) if part)
            count = sum(p.numel() for _, p in own)
            trainable = sum(p.numel() for _, p in own if p.requires_grad)
            detail = ", ".join(f"{n} {tuple(p.shape)}" for n, p in own)
            kind = type(module).__name__ + (" layer" if key else "")
            rows.append(SummaryRow(row_name, kind, count, trainable, detail))
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return ModelSummary(rows, total, trainable)
