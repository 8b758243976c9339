"""Several sequence classifiers trained side by side, whose class probabilities are averaged.

Members differ only in their initial weights (and their dropout draws); they see the same
batches. The ensemble's output is the log of the members' mean probability,

    log p(c | x) = log (1/K) Σ_k softmax(z_k)[c]

so that it can stand wherever a classifier's logits do: ``softmax`` of it is the mean
probability, its ``argmax`` the ensemble's class, and its cross entropy the ensemble's loss.
Training minimises the mean of the members' own losses instead (each learns as it would
alone: Adam scales each parameter's step by itself), which keeps members diverse; averaging
them then lowers the variance of the prediction.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from rnnkit.structures.classifier import Lengths, SequenceClassifier

__all__ = ["ClassifierEnsemble"]


class ClassifierEnsemble(nn.Module):
    """``K`` :class:`SequenceClassifier` members; the prediction averages their probabilities.

    Args:
        members: the classifiers, each for the same classes (``K >= 1``).

    Example:
        >>> members = [SequenceClassifier(2, vocab_size=5, embedding_dim=4, hidden_size=8)
        ...            for _ in range(3)]
        >>> ensemble = ClassifierEnsemble(members)
        >>> ids = torch.tensor([[1, 2, 3], [4, 1, 0]])
        >>> ensemble(ids, lengths=[3, 2]).exp().sum(1)  # mean probabilities: each row sums to 1
        tensor([1.0000, 1.0000], grad_fn=<SumBackward1>)
    """

    def __init__(self, members: Sequence[SequenceClassifier]) -> None:
        super().__init__()
        if not members:
            raise ValueError("an ensemble needs at least one member")
        classes = {member.num_outputs for member in members}
        if len(classes) != 1 or any(member.task != "classification" for member in members):
            raise ValueError("every member must classify into the same number of classes")
        self.members = nn.ModuleList(members)
        self.num_outputs = members[0].num_outputs

    def forward(self, x: Tensor, lengths: Lengths = None) -> Tensor:
        """``log`` of the members' mean class probability, ``(B, C)``."""
        log_probs = torch.stack([member(x, lengths).log_softmax(1) for member in self.members])
        return torch.logsumexp(log_probs, dim=0) - math.log(len(self.members))

    def loss(self, x: Tensor, targets: Tensor, lengths: Lengths = None) -> Tensor:
        """The mean of the members' cross entropies (see the module docstring)."""
        losses = [member.loss(x, targets, lengths) for member in self.members]
        return torch.stack(losses).mean()

    @torch.no_grad()
    def predict(self, x: Tensor, lengths: Lengths = None) -> Tensor:
        """The ensemble's class of each sequence, ``(B,)``."""
        return self(x, lengths).argmax(1)
