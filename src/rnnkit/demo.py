"""The main job of the README: an LSTM reads scikit-learn's 8×8 digits row by row.

Each image is a sequence of 8 rows of 8 pixels; the LSTM's last hidden state is classified
into the 10 digits (many-to-one). The data ships inside scikit-learn, so this runs anywhere
without a download.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from rnnkit.layers import LSTM


@dataclass
class DemoConfig:
    """Settings of the digits demo."""

    hidden_size: int = 64
    epochs: int = 30
    batch_size: int = 64
    learning_rate: float = 1e-2
    test_fraction: float = 0.2
    seed: int = 0


class RowClassifier(nn.Module):
    """LSTM over image rows, then a linear layer on the last hidden state."""

    def __init__(self, rows: int, hidden_size: int, classes: int) -> None:
        super().__init__()
        self.lstm = LSTM(rows, hidden_size)
        self.head = nn.Linear(hidden_size, classes)

    def forward(self, images: Tensor) -> Tensor:
        _, (hidden, _) = self.lstm(images)  # images (B, T=rows, I=pixels per row)
        return self.head(hidden[-1])  # (B, classes)


def load_digits_sequences(test_fraction: float, seed: int):
    """scikit-learn's digits as (N, 8, 8) float sequences in [0, 1], split stratified."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    images = torch.tensor(digits.images / 16.0, dtype=torch.float32)  # (N, 8, 8)
    labels = torch.tensor(digits.target, dtype=torch.long)
    split = train_test_split(
        images, labels, test_size=test_fraction, random_state=seed, stratify=labels
    )
    return split  # x_train, x_test, y_train, y_test


def run_demo(config: DemoConfig | None = None, log=print) -> float:
    """Train and return the test accuracy (a fraction)."""
    config = config or DemoConfig()
    torch.manual_seed(config.seed)
    x_train, x_test, y_train, y_test = load_digits_sequences(config.test_fraction, config.seed)
    model = RowClassifier(8, config.hidden_size, 10)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    log(f"digits: {len(x_train)} train / {len(x_test)} test images, read as 8 rows of 8 pixels")
    start = time.perf_counter()
    for epoch in range(1, config.epochs + 1):
        model.train()
        order = torch.randperm(len(x_train))
        total = 0.0
        for batch in order.split(config.batch_size):
            loss = nn.functional.cross_entropy(model(x_train[batch]), y_train[batch])
            optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            optimizer.step()
            total += loss.item() * len(batch)
        if epoch % 5 == 0 or epoch == config.epochs:
            log(f"epoch {epoch:3d}  train loss {total / len(x_train):.4f}")
    model.eval()
    with torch.no_grad():
        accuracy = (model(x_test).argmax(1) == y_test).float().mean().item()
    log(f"test accuracy {accuracy:.2%} ({time.perf_counter() - start:.1f} s of training)")
    return accuracy
