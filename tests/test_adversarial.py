"""Adversarial training on embedded tokens (rnnkit.losses.adversarial) against the loss
written out by hand, and the frequency-standardised embedding it is measured on."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from rnnkit.losses import adversarial_loss
from rnnkit.tasks.classify import WordDropoutEmbedding


class MeanClassifier(nn.Module):
    """logits = W · mean_t embedding(x_t): small enough to write the loss by hand."""

    def __init__(self, embedding: nn.Embedding) -> None:
        super().__init__()
        self.embedding, self.head = embedding, nn.Linear(embedding.embedding_dim, 3)

    def loss_of(self, embedded: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(self.head(embedded.mean(1)), targets)

    def loss(self, x: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return self.loss_of(self.embedding(x), targets)


@pytest.mark.parametrize("freeze", [False, True])
def test_the_adversarial_loss_is_the_loss_at_e_plus_the_loss_a_step_up_the_gradient(
    freeze: bool,
) -> None:
    torch.manual_seed(0)
    embedding = nn.Embedding(10, 4)
    embedding.weight.requires_grad_(not freeze)
    model = MeanClassifier(embedding)
    batch = {"x": torch.randint(10, (5, 6)), "targets": torch.randint(3, (5,))}
    e = embedding(batch["x"]).detach().requires_grad_()
    loss = model.loss_of(e, batch["targets"])
    (g,) = torch.autograd.grad(loss, e)
    step = 0.7 * g / g.flatten(1).norm(dim=1).view(-1, 1, 1)  # per text, over T·E values
    expected = loss + model.loss_of(e + step, batch["targets"])
    got = adversarial_loss(model, batch, embedding, 0.7)
    torch.testing.assert_close(got, expected)
    got.backward()  # the head learns from both terms (and the vectors, unless frozen)
    assert model.head.weight.grad is not None
    assert (embedding.weight.grad is None) is freeze
    assert adversarial_loss(model, batch, embedding, 0.0) == model.loss(**batch)
    with pytest.raises(ValueError, match="epsilon must be >= 0"):
        adversarial_loss(model, batch, embedding, -1.0)


def test_embeddings_read_standardised_by_the_training_frequencies() -> None:
    torch.manual_seed(1)
    counts = torch.tensor([0.0, 0.0, 5.0, 3.0, 1.0, 1.0])
    embedding = WordDropoutEmbedding(6, 3, 0, frequencies=counts)
    nn.init.normal_(embedding.weight, 2.0, 3.0)
    rows = embedding(torch.arange(6))
    weights = (counts / counts.sum()).unsqueeze(1)
    mean = (weights * rows).sum(0)
    torch.testing.assert_close(mean, torch.zeros(3), atol=1e-5, rtol=0)
    torch.testing.assert_close((weights * rows**2).sum(0), torch.ones(3), atol=1e-4, rtol=0)
    with pytest.raises(ValueError, match="one count a row"):
        WordDropoutEmbedding(6, 3, 0, frequencies=torch.zeros(6))
