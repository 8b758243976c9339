"""Tests of the many-to-many structure ``SequenceTagger``: learning a running count, a pattern
that only a CRF can tag from left-to-right features, and next-step prediction; padding
invariance; the single output projection; losses against their definitions; errors."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor

from rnnkit.structures.crf import bio_constraints
from rnnkit.structures.tagger import SequenceTagger
from rnnkit.summary import summary

CONFIGS = [
    ("rnn", {}),
    ("lstm", {}),
    ("gru", {}),
    ("lstm", {"peephole": True}),
    ("gru", {"num_layers": 2}),
]
PATTERN = (1, 2, 3)  # tagged B-P I-P E-P wherever it occurs
TAG_NAMES = ["O", "B-P", "I-P", "E-P"]


pytestmark = pytest.mark.usefixtures("one_thread")


def train(model: SequenceTagger, batches, steps: int, lr: float = 0.02) -> None:
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    for _ in range(steps):
        x, targets, lengths = batches()
        loss = model.loss(x, targets, lengths)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()


def token_accuracy(predicted: list[list[int]], tags: Tensor, lengths: Tensor) -> float:
    truth = [row[:n] for row, n in zip(tags.tolist(), lengths.tolist(), strict=True)]
    right = sum(
        p == t
        for path, gold in zip(predicted, truth, strict=True)
        for p, t in zip(path, gold, strict=True)
    )
    assert [len(path) for path in predicted] == lengths.tolist()
    return right / int(lengths.sum())


def count_batch(n: int, generator: torch.Generator) -> tuple[Tensor, Tensor, Tensor]:
    """Tokens in {0, 1, 2}; the tag of step t is the number of 1s up to t, modulo 3."""
    tokens = torch.randint(0, 3, (n, 16), generator=generator)
    lengths = torch.randint(1, 17, (n,), generator=generator)
    return tokens, (tokens == 1).long().cumsum(1) % 3, lengths


def pattern_batch(n: int, generator: torch.Generator) -> tuple[Tensor, Tensor, Tensor]:
    """Tokens in {0..4} with PATTERN planted at random places, tagged in the BIOES scheme."""
    T = 16
    tokens = torch.randint(0, 5, (n, T), generator=generator)
    lengths = torch.randint(6, T + 1, (n,), generator=generator)
    starts = (torch.rand(n, 2, generator=generator) * (lengths - 2).unsqueeze(1)).long()
    planted = torch.rand(n, 2, generator=generator) < 0.6
    for b, k in planted.nonzero().tolist():
        s = int(starts[b, k])
        tokens[b, s : s + 3] = torch.tensor(PATTERN)
    return tokens, pattern_tags(tokens, lengths), lengths


def pattern_tags(tokens: Tensor, lengths: Tensor) -> Tensor:
    T = tokens.shape[1]
    ends_inside = torch.arange(T - 2) + 2 < lengths.unsqueeze(1)  # (B, T-2)
    start = (tokens[:, :-2] == PATTERN[0]) & (tokens[:, 1:-1] == PATTERN[1])
    start = start & (tokens[:, 2:] == PATTERN[2]) & ends_inside  # (B, T-2)
    tags = torch.zeros_like(tokens)
    for offset, tag in enumerate((1, 2, 3)):
        tags[:, offset : T - 2 + offset][start] = tag
    return tags


# ---------------------------------------------------------------------------------------------
# Learning
# ---------------------------------------------------------------------------------------------


def test_learns_a_running_count_modulo_three():
    torch.manual_seed(0)
    data = torch.Generator().manual_seed(0)
    model = SequenceTagger(3, vocab_size=3, embedding_dim=8, cell="lstm", hidden_size=16)
    train(model, lambda: count_batch(64, data), steps=120)
    tokens, tags, lengths = count_batch(512, torch.Generator().manual_seed(1))
    assert token_accuracy(model.predict(tokens, lengths), tags, lengths) >= 0.99


def test_the_pattern_task_cannot_be_tagged_left_to_right():
    # Two strings that agree up to a step can need different tags there ("1 2 3" vs "1 2 0"),
    # so any tagger reading left to right and deciding per step must err; a CRF can wait.
    tokens = torch.tensor([[0, 1, 2, 3], [0, 1, 2, 0]])
    tags = pattern_tags(tokens, torch.tensor([4, 4]))
    assert torch.equal(tokens[0, :2], tokens[1, :2]) and tags[0, 1] != tags[1, 1]
    assert tags.tolist() == [[0, 1, 2, 3], [0, 0, 0, 0]]


def test_crf_tagger_learns_a_pattern_from_left_to_right_features():
    torch.manual_seed(0)
    data = torch.Generator().manual_seed(0)
    model = SequenceTagger(
        4,
        vocab_size=5,
        embedding_dim=8,
        cell="gru",
        hidden_size=16,
        crf=True,
        crf_constraints=bio_constraints(TAG_NAMES, "BIOES"),
    )
    train(model, lambda: pattern_batch(64, data), steps=150)
    tokens, tags, lengths = pattern_batch(512, torch.Generator().manual_seed(1))
    predicted = model.predict(tokens, lengths)
    assert token_accuracy(predicted, tags, lengths) >= 0.99
    truth = [row[:n] for row, n in zip(tags.tolist(), lengths.tolist(), strict=True)]
    exact = sum(p == t for p, t in zip(predicted, truth, strict=True)) / len(truth)
    assert exact >= 0.95
    emissions = model(tokens, lengths)
    argmax = [
        row[:n] for row, n in zip(emissions.argmax(2).tolist(), lengths.tolist(), strict=True)
    ]
    assert token_accuracy(argmax, tags, lengths) < 0.95  # the emissions alone are not enough


def test_next_step_predictor_learns_a_sine_wave():
    T = 20

    def waves(n: int, generator: torch.Generator) -> tuple[Tensor, Tensor, Tensor]:
        phase = torch.rand(n, 1, generator=generator) * 2 * math.pi
        frequency = 0.3 + 0.4 * torch.rand(n, 1, generator=generator)
        wave = torch.sin(frequency * torch.arange(T + 1) + phase).unsqueeze(2)  # (n, T+1, 1)
        lengths = torch.randint(3, T + 1, (n,), generator=generator)
        return wave[:, :-1], wave[:, 1:], lengths  # inputs, next values, lengths

    torch.manual_seed(0)
    data = torch.Generator().manual_seed(0)
    model = SequenceTagger(
        output_size=1, task="regression", input_size=1, cell="gru", hidden_size=16
    )
    train(model, lambda: waves(64, data), steps=300)
    x, following, lengths = waves(256, torch.Generator().manual_seed(1))
    predicted = model.predict(x, lengths)
    # From step 2 on the phase and frequency are determined by what was seen; variance is 0.5.
    errors = torch.cat(
        [
            (p - y[:n])[2:].flatten()
            for p, y, n in zip(predicted, following, lengths.tolist(), strict=True)
        ]
    )
    assert (errors**2).mean() < 5e-3


# ---------------------------------------------------------------------------------------------
# Padding invariance
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("crf", [False, True])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize(("cell", "options"), CONFIGS)
def test_padding_changes_nothing(cell, options, bidirectional, crf):
    torch.manual_seed(0)
    model = SequenceTagger(
        4,
        vocab_size=9,
        embedding_dim=5,
        cell=cell,
        hidden_size=6,
        bidirectional=bidirectional,
        crf=crf,
        **options,
    ).eval()
    lengths = torch.tensor([3, 7, 1, 5])
    tokens = torch.randint(0, 9, (4, 7))  # padding holds arbitrary ids
    tags = torch.randint(0, 4, (4, 7))
    emissions = model(tokens, lengths)  # (B, T, K)
    paths = model.predict(tokens, lengths)
    losses = [model.loss(tokens[b : b + 1], tags[b : b + 1], lengths[b : b + 1]) for b in range(4)]
    for b, n in enumerate(lengths.tolist()):
        alone = model(tokens[b : b + 1, :n])  # (1, n, K)
        torch.testing.assert_close(emissions[b, :n], alone[0], atol=1e-5, rtol=0)
        assert torch.equal(emissions[b, n:], torch.zeros(7 - n, 4))
        assert paths[b] == model.predict(tokens[b : b + 1, :n])[0]
        loss_alone = model.loss(tokens[b : b + 1, :n], tags[b : b + 1, :n])
        torch.testing.assert_close(losses[b], loss_alone, atol=1e-5, rtol=0)


def test_regression_padding_changes_nothing():
    torch.manual_seed(0)
    model = SequenceTagger(
        output_size=2,
        task="regression",
        input_size=3,
        cell="lstm",
        hidden_size=5,
        bidirectional=True,
    ).eval()
    x, lengths = torch.randn(3, 6, 3), torch.tensor([6, 2, 4])
    x[1, 2:] = 1e3  # garbage in the padding
    values = model.predict(x, lengths)
    for b, n in enumerate(lengths.tolist()):
        assert values[b].shape == (n, 2)
        torch.testing.assert_close(values[b], model(x[b : b + 1, :n])[0], atol=1e-5, rtol=0)


# ---------------------------------------------------------------------------------------------
# The output layer and the losses
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("bidirectional", [False, True])
def test_outputs_come_from_one_projection_over_all_steps(bidirectional):
    model = SequenceTagger(
        4, vocab_size=9, embedding_dim=5, hidden_size=6, bidirectional=bidirectional
    )
    calls = []
    model.head.register_forward_hook(lambda module, args, out: calls.append(args[0].shape))
    model(torch.randint(0, 9, (3, 7)), torch.tensor([7, 2, 5]))
    assert calls == [torch.Size([3 * 7, (2 if bidirectional else 1) * 6])]


def test_loss_is_cross_entropy_over_the_valid_steps_only():
    torch.manual_seed(0)
    model = SequenceTagger(4, vocab_size=9, embedding_dim=5, hidden_size=6)
    tokens, lengths = torch.randint(0, 9, (3, 5)), torch.tensor([5, 2, 4])
    tags = torch.randint(0, 4, (3, 5))
    tags[1, 2:] = -100  # anything at padded steps
    emissions = model(tokens, lengths)
    valid = torch.arange(5) < lengths.unsqueeze(1)
    expected = F.cross_entropy(emissions[valid], tags[valid])
    torch.testing.assert_close(model.loss(tokens, tags, lengths), expected)


def test_crf_loss_and_decoding_are_the_crf_layers():
    torch.manual_seed(0)
    model = SequenceTagger(3, input_size=2, hidden_size=4, bidirectional=True, crf=True)
    x, lengths = torch.randn(3, 5, 2), torch.tensor([5, 1, 3])
    tags = torch.randint(0, 3, (3, 5))
    emissions = model(x, lengths)
    expected = model.crf.neg_log_likelihood(emissions, tags, lengths=lengths)
    torch.testing.assert_close(model.loss(x, tags, lengths), expected)
    assert model.predict(x, lengths) == model.crf.decode(emissions, lengths=lengths)


def test_regression_loss_is_the_mean_squared_error_over_valid_steps():
    torch.manual_seed(0)
    model = SequenceTagger(output_size=2, task="regression", input_size=3, hidden_size=4)
    x, lengths = torch.randn(2, 4, 3), torch.tensor([4, 1])
    targets = torch.randn(2, 4, 2)
    targets[1, 1:] = float("nan")  # padding may hold anything
    values = model(x, lengths)
    valid = torch.arange(4) < lengths.unsqueeze(1)
    expected = F.mse_loss(values[valid], targets[valid])
    loss = model.loss(x, targets, lengths)
    torch.testing.assert_close(loss, expected)
    loss.backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters())


@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize(("cell", "options"), CONFIGS)
def test_summary_counts_every_parameter_and_all_receive_gradients(cell, options, bidirectional):
    model = SequenceTagger(
        3,
        vocab_size=6,
        embedding_dim=4,
        cell=cell,
        hidden_size=5,
        bidirectional=bidirectional,
        crf=True,
        dropout=0.1,
        **options,
    )
    tokens, lengths = torch.randint(0, 6, (2, 4)), torch.tensor([4, 2])
    model.loss(tokens, torch.randint(0, 3, (2, 4)), lengths).backward()
    assert all(p.grad is not None for p in model.parameters())
    report = summary(model)
    assert report.total == sum(p.numel() for p in model.parameters())
    crf = 3 * 3 + 3 + 3  # transitions, start, end
    assert sum(p.numel() for p in model.crf.parameters()) == crf


# ---------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"cell": "lstmx"}, "cell must be one of"),
        ({"task": "parsing"}, "task must be one of"),
        ({"num_tags": None}, "num_tags must be a positive integer"),
        ({"output_size": 3}, "output_size is for task='regression'"),
        ({"crf_constraints": torch.ones(3, 3, dtype=torch.bool)}, "crf_constraints needs crf=True"),
        ({"input_size": 4}, "exactly one"),
    ],
)
def test_bad_construction_raises_value_error(kwargs, message):
    arguments = {"num_tags": 3, "vocab_size": 5, **kwargs}
    with pytest.raises(ValueError, match=message):
        SequenceTagger(arguments.pop("num_tags"), **arguments)


def test_regression_refuses_a_crf():
    with pytest.raises(ValueError, match="crf=True needs task='tagging'"):
        SequenceTagger(output_size=1, task="regression", input_size=1, crf=True)


def test_bad_inputs_and_targets_raise_value_errors_naming_the_argument():
    model = SequenceTagger(3, vocab_size=5, embedding_dim=4, hidden_size=4, crf=True)
    regression = SequenceTagger(output_size=2, task="regression", input_size=2, hidden_size=4)
    tokens, lengths = torch.randint(0, 5, (2, 4)), torch.tensor([4, 2])
    with pytest.raises(ValueError, match=r"x must be integer token ids"):
        model(torch.randn(2, 4, 1))
    with pytest.raises(ValueError, match=r"lengths must have shape \(B,\) = \(2,\)"):
        model(tokens, torch.tensor([4]))
    with pytest.raises(ValueError, match=r"targets must be tag ids of shape \(B, T\) = \(2, 4\)"):
        model.loss(tokens, torch.zeros(2, 3, dtype=torch.long), lengths)
    bad = torch.tensor([[0, 1, 2, 0], [1, 3, 9, 9]])  # 9 is padding (ignored), 3 is not
    with pytest.raises(ValueError, match=r"targets must be ids in \[0, 3\), got \[3\]"):
        model.loss(tokens, bad, lengths)
    with pytest.raises(ValueError, match=r"targets must be float values of shape \(B, T, P\)"):
        regression.loss(torch.randn(2, 4, 2), torch.randn(2, 4), lengths)
    with pytest.raises(ValueError, match=r"x must be float features of shape \(B, T, F=2\)"):
        regression(torch.randn(2, 4, 3))
