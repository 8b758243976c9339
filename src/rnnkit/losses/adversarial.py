r"""Adversarial training on embedded tokens (Miyato, Dai & Goodfellow 2017, "Adversarial
Training Methods for Semi-Supervised Text Classification", its supervised part).

A text's words are discrete, so the perturbation is made where the input is continuous: the
embedded sequence ``e`` (B, T, E). For each text, the loss is also taken at the point a small
step away in the direction that increases it most::

    g     = ∂L(e) / ∂e                       (per text, held constant)
    r_adv = ε · g / ‖g‖₂                     (‖·‖₂ over the text's T·E values)
    loss  = L(e) + L(e + r_adv)

so the model learns to keep its answer over a small neighbourhood of each training text. The
same ``e`` (its word dropout included) is used in both terms. ε is on the scale of the
embedded words: with embeddings standardised per dimension (the paper's, and
:class:`rnnkit.tasks.classify.WordDropoutEmbedding`'s ``frequencies``), ε = 2 is about a third
of one word vector's length.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import torch
from torch import Tensor, nn

__all__ = ["adversarial_loss"]


def adversarial_loss(
    model: nn.Module, batch: Mapping[str, Any], embedding: nn.Module, epsilon: float
) -> Tensor:
    """``L(e) + L(e + r_adv)`` for ``model.loss(**batch)``, where ``e`` is the output of
    ``embedding`` (a submodule of ``model``) for the batch; ``epsilon`` 0 gives ``L(e)``."""
    if epsilon < 0:
        raise ValueError(f"epsilon must be >= 0, got {epsilon!r}")
    if epsilon == 0:
        return model.loss(**batch)
    seen: list[Tensor] = []

    def capture(module: nn.Module, inputs: Any, output: Tensor) -> Tensor:
        # frozen vectors give an output without a graph: make it a leaf the gradient reaches
        embedded = output if output.requires_grad else output.detach().requires_grad_()
        seen.append(embedded)
        return embedded

    with _hooked(embedding, capture):
        loss = model.loss(**batch)
    (embedded,) = seen
    (grad,) = torch.autograd.grad(loss, embedded, retain_graph=True)
    step = epsilon * _unit_per_text(grad.detach())
    with _hooked(embedding, lambda module, inputs, output: embedded + step):
        moved = model.loss(**batch)
    return loss + moved


def _unit_per_text(grad: Tensor) -> Tensor:
    """Each text's slice of ``grad`` (B, ...) scaled to length 1 (0 where it is all 0);
    divided by its largest value first, so that its squares neither underflow nor overflow."""
    dims = tuple(range(1, grad.dim()))
    grad = grad / (grad.abs().amax(dim=dims, keepdim=True) + 1e-12)
    return grad / (grad.pow(2).sum(dim=dims, keepdim=True).sqrt() + 1e-12)


@contextmanager
def _hooked(module: nn.Module, hook: Any) -> Iterator[None]:
    """``module``'s output replaced by ``hook(module, inputs, output)`` inside a ``with``."""
    handle = module.register_forward_hook(hook)
    try:
        yield
    finally:
        handle.remove()
