"""Tests of the many-to-one structure ``SequenceClassifier``: learning parity and a sum, padding
invariance for every pooling and direction, the pooled features against their definitions,
parameter counts and the ValueErrors of bad arguments; and ``ClassifierEnsemble``."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor

from rnnkit.structures.classifier import POOLINGS, SequenceClassifier
from rnnkit.structures.classifier_ensemble import ClassifierEnsemble
from rnnkit.summary import summary
from rnnkit.text.embedding import Embedding

CONFIGS = [  # (cell, extra options) covering every cell, peepholes and stacking
    ("rnn", {}),
    ("lstm", {}),
    ("gru", {}),
    ("lstm", {"peephole": True}),
    ("gru", {"num_layers": 2}),
]


pytestmark = pytest.mark.usefixtures("one_thread")


def bit_strings(n: int, max_len: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """``n`` random bit strings ``(n, max_len)`` with lengths in ``[1, max_len]``, zero-padded."""
    lengths = torch.randint(1, max_len + 1, (n,), generator=generator)
    bits = torch.randint(0, 2, (n, max_len), generator=generator)
    valid = torch.arange(max_len) < lengths.unsqueeze(1)  # (n, T)
    return bits * valid, lengths


def train(model: SequenceClassifier, batches, steps: int, lr: float = 0.02) -> None:
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    for _ in range(steps):
        x, targets, lengths = batches()
        loss = model.loss(x, targets, lengths)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()


# ---------------------------------------------------------------------------------------------
# Learning
# ---------------------------------------------------------------------------------------------


def test_learns_the_parity_of_variable_length_bit_strings():
    # Parity flips with every bit, so no summary short of the whole string beats chance (50%).
    torch.manual_seed(0)
    data = torch.Generator().manual_seed(0)
    model = SequenceClassifier(2, vocab_size=2, embedding_dim=4, cell="lstm", hidden_size=16)

    def batches():
        bits, lengths = bit_strings(64, 16, data)
        return bits, bits.sum(1) % 2, lengths

    train(model, batches, steps=300)
    bits, lengths = bit_strings(512, 16, torch.Generator().manual_seed(1))
    accuracy = (model.predict(bits, lengths) == bits.sum(1) % 2).float().mean()
    assert accuracy >= 0.98


def test_regressor_learns_the_sum_of_a_numeric_sequence():
    torch.manual_seed(0)
    data = torch.Generator().manual_seed(0)
    model = SequenceClassifier(
        output_size=1,
        task="regression",
        input_size=1,
        cell="gru",
        hidden_size=16,
        bidirectional=True,
        pooling="mean",
    )

    def batches(n=64, generator=data):
        lengths = torch.randint(1, 11, (n,), generator=generator)
        values = torch.rand(n, 10, 1, generator=generator) * 2 - 1  # (n, T, 1)
        values = values * (torch.arange(10) < lengths.unsqueeze(1)).unsqueeze(2)
        return values, values.sum((1, 2)), lengths

    train(model, batches, steps=300)
    x, sums, lengths = batches(512, torch.Generator().manual_seed(1))
    error = ((model.predict(x, lengths).squeeze(1) - sums) ** 2).mean()
    assert error < 0.01 * sums.var()  # R² > 0.99


# ---------------------------------------------------------------------------------------------
# Padding invariance and pooling
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("pooling", POOLINGS)
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize(("cell", "options"), CONFIGS)
def test_padding_changes_nothing(cell, options, bidirectional, pooling):
    torch.manual_seed(0)
    model = SequenceClassifier(
        3,
        vocab_size=10,
        embedding_dim=5,
        cell=cell,
        hidden_size=6,
        bidirectional=bidirectional,
        pooling=pooling,
        **options,
    ).eval()
    lengths = torch.tensor([2, 7, 1, 5])
    tokens = torch.randint(0, 10, (4, 7))  # padding holds arbitrary ids, not a pad id
    batched = model(tokens, lengths)  # (B, C)
    for b, n in enumerate(lengths.tolist()):
        alone = model(tokens[b : b + 1, :n])  # (1, C)
        torch.testing.assert_close(batched[b : b + 1], alone, atol=1e-5, rtol=0)


@pytest.mark.parametrize("pooling", POOLINGS)
def test_numeric_padding_values_do_not_leak(pooling):
    torch.manual_seed(0)
    model = SequenceClassifier(
        2, input_size=3, cell="gru", hidden_size=5, bidirectional=True, pooling=pooling
    ).eval()
    x = torch.randn(3, 6, 3)
    lengths = torch.tensor([6, 2, 4])
    garbage = x.clone()
    garbage[1, 2:] = 1e3  # huge values in the padding of sequence 1 and 2
    garbage[2, 4:] = -1e3
    torch.testing.assert_close(model(x, lengths), model(garbage, lengths), atol=0, rtol=0)


def test_pooled_features_match_their_definitions():
    torch.manual_seed(0)
    H = 4
    lengths = torch.tensor([3, 5, 1])
    x = torch.randn(3, 5, 2)
    features = {}
    for pooling in ("last", "mean", "max", "attention"):  # attention last: `model` keeps it
        torch.manual_seed(1)  # the same recurrent weights for every pooling
        model = SequenceClassifier(
            2,
            input_size=2,
            cell="lstm",
            hidden_size=H,
            num_layers=2,
            bidirectional=True,
            pooling=pooling,
        )
        features[pooling] = model.features(x, lengths)  # (B, 2H)
    outputs, _ = model.rnn(x, lengths=lengths)  # (B, T, 2H), the top layer's
    for b, n in enumerate(lengths.tolist()):
        valid = outputs[b, :n]  # (n, 2H)
        last = torch.cat([valid[-1, :H], valid[0, H:]])  # forward at its end, backward at 0
        torch.testing.assert_close(features["last"][b], last)
        torch.testing.assert_close(features["mean"][b], valid.mean(0))
        torch.testing.assert_close(features["max"][b], valid.amax(0))
        with torch.no_grad():  # α = softmax(q · tanh(W h_t + b)) over the n valid steps
            scores = torch.tanh(model.attention.project(valid)) @ model.attention.query
            weights = torch.softmax(scores, 0)  # (n,)
        torch.testing.assert_close(features["attention"][b], weights @ valid)


def test_attention_pooling_learns_its_weights():
    """The scoring layer and the query get gradients (a zero query would give neither), and
    the weights at padding are exactly zero."""
    torch.manual_seed(0)
    model = SequenceClassifier(2, input_size=2, hidden_size=4, pooling="attention")
    x, lengths = torch.randn(3, 5, 2), torch.tensor([5, 2, 3])
    model.loss(x, torch.tensor([0, 1, 1]), lengths).backward()
    assert model.attention.project.weight.grad.abs().sum() > 0
    assert model.attention.query.grad.abs().sum() > 0
    outputs, _ = model.rnn(x, lengths=lengths)
    _, weights = model.attention(outputs, torch.arange(5) < lengths.unsqueeze(1))
    assert torch.equal(weights[1, 2:], torch.zeros(3))
    torch.testing.assert_close(weights.sum(1), torch.ones(3))


def test_max_pooling_ignores_padding_when_every_value_is_negative():
    torch.manual_seed(0)
    model = SequenceClassifier(2, input_size=2, cell="rnn", hidden_size=4, pooling="max")
    with torch.no_grad():
        model.rnn.bias_ih_l0.fill_(-5.0)  # tanh(-5 + small) < 0: every hidden value is negative
    x = torch.rand(2, 6, 2) * 0.1
    lengths = torch.tensor([2, 6])
    pooled = model.features(x, lengths)  # (B, H)
    outputs, _ = model.rnn(x, lengths=lengths)
    assert (pooled < 0).all()  # the zero outputs at padding were not taken as the max
    torch.testing.assert_close(pooled[0], outputs[0, :2].amax(0))


@pytest.mark.parametrize("pooling", ["mean", "max", "attention"])
def test_an_empty_sequence_pools_to_zeros(pooling):
    model = SequenceClassifier(2, input_size=2, hidden_size=3, pooling=pooling)
    pooled = model.features(torch.randn(2, 4, 2), torch.tensor([0, 4]))
    assert torch.equal(pooled[0], torch.zeros(3))
    assert torch.isfinite(pooled).all()


# ---------------------------------------------------------------------------------------------
# Configuration, parameter counts, embeddings
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize(("cell", "options"), CONFIGS)
def test_every_cell_trains_and_summary_counts_every_parameter(cell, options, bidirectional):
    model = SequenceClassifier(
        4,
        vocab_size=7,
        embedding_dim=3,
        cell=cell,
        hidden_size=5,
        bidirectional=bidirectional,
        dropout=0.1,
        **options,
    )
    tokens, lengths = torch.randint(0, 7, (3, 6)), torch.tensor([6, 1, 3])
    model.loss(tokens, torch.tensor([0, 3, 1]), lengths).backward()
    assert all(p.grad is not None for p in model.parameters())
    report = summary(model)
    assert report.total == sum(p.numel() for p in model.parameters())
    assert report.trainable == report.total


def test_parameter_count_is_embedding_plus_layer_plus_head():
    V, E, H, C = 20, 6, 8, 3
    model = SequenceClassifier(
        C, vocab_size=V, embedding_dim=E, cell="gru", hidden_size=H, bidirectional=True
    )
    gru_direction = 3 * (H * (E + H) + 2 * H)  # three gates, each W_ih, W_hh, b_ih, b_hh
    expected = V * E + 2 * gru_direction + (2 * H * C + C)
    assert summary(model).total == expected


def test_a_pretrained_embedding_instance_is_used_as_is():
    embedding = Embedding(12, 5, padding_idx=0, freeze=True)
    model = SequenceClassifier(2, embedding=embedding, hidden_size=4)
    assert model.inputs.embedding is embedding
    assert summary(model).trainable == summary(model).total - 12 * 5
    assert model(torch.tensor([[3, 4, 0]]), torch.tensor([2])).shape == (1, 2)
    with pytest.raises(ValueError, match="embedding_dim=6 disagrees"):
        SequenceClassifier(2, embedding=embedding, embedding_dim=6)


# ---------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"cell": "transformer"}, "cell must be one of"),
        ({"pooling": "first"}, "pooling must be one of"),
        ({"task": "ranking"}, "task must be one of"),
        ({"num_classes": None}, "num_classes must be a positive integer"),
        ({"num_classes": 0}, "num_classes must be a positive integer"),
        ({"output_size": 2}, "output_size is for task='regression'"),
        ({"input_size": 3}, "exactly one"),
        ({"vocab_size": None}, "exactly one"),
        ({"cell": "gru", "peephole": True}, "peephole=True needs cell='lstm'"),
    ],
)
def test_bad_construction_raises_value_error(kwargs, message):
    arguments = {"num_classes": 2, "vocab_size": 5, **kwargs}
    with pytest.raises(ValueError, match=message):
        SequenceClassifier(arguments.pop("num_classes"), **arguments)


def test_regression_needs_output_size_not_num_classes():
    with pytest.raises(ValueError, match="num_classes is for task='classification'"):
        SequenceClassifier(3, task="regression", input_size=2)
    with pytest.raises(ValueError, match="output_size must be a positive integer"):
        SequenceClassifier(task="regression", input_size=2)


def test_bad_inputs_raise_value_errors_naming_the_argument():
    tokens = SequenceClassifier(3, vocab_size=5, embedding_dim=4, hidden_size=4)
    numeric = SequenceClassifier(3, input_size=2, hidden_size=4)
    ids = torch.randint(0, 5, (2, 4))
    with pytest.raises(ValueError, match=r"x must be integer token ids of shape \(B, T\)"):
        tokens(torch.randn(2, 4))
    with pytest.raises(ValueError, match=r"x must be integer token ids of shape \(B, T\)"):
        tokens(ids.unsqueeze(2))
    with pytest.raises(ValueError, match=r"x must be float features of shape \(B, T, F=2\)"):
        numeric(torch.randn(2, 4, 3))
    with pytest.raises(ValueError, match=r"x must be float features"):
        numeric(torch.randn(4, 2))
    with pytest.raises(ValueError, match="id 7 is out of range"):
        tokens(torch.tensor([[1, 7]]))
    with pytest.raises(ValueError, match=r"lengths must have shape \(B,\) = \(2,\)"):
        tokens(ids, torch.tensor([4, 4, 4]))
    with pytest.raises(ValueError, match=r"lengths must lie in \[0, T\] = \[0, 4\]"):
        tokens(ids, torch.tensor([5, 1]))
    with pytest.raises(ValueError, match=r"targets must be class ids of shape \(B,\) = \(2,\)"):
        tokens.loss(ids, torch.tensor([[0, 1]]))
    with pytest.raises(ValueError, match=r"targets must be ids in \[0, 3\), got \[3\]"):
        tokens.loss(ids, torch.tensor([0, 3]))
    with pytest.raises(ValueError, match="targets must be integer ids"):
        tokens.loss(ids, torch.tensor([0.0, 1.0]))


def test_regression_targets_are_checked_and_a_vector_of_one_output_is_accepted():
    model = SequenceClassifier(output_size=1, task="regression", input_size=2, hidden_size=4)
    x = torch.randn(3, 5, 2)
    flat = torch.randn(3)
    torch.testing.assert_close(model.loss(x, flat), model.loss(x, flat.unsqueeze(1)))
    with pytest.raises(ValueError, match=r"targets must be float values of shape \(B, P\)"):
        model.loss(x, torch.randn(3, 2))
    with pytest.raises(ValueError, match=r"targets must be float values"):
        model.loss(x, torch.tensor([1, 2, 3]))


# ---------------------------------------------------------------------- ensembles
def test_an_ensemble_averages_its_members_probabilities_and_their_losses():
    torch.manual_seed(0)
    members = [SequenceClassifier(3, vocab_size=6, embedding_dim=4, hidden_size=5) for _ in "ab"]
    ensemble = ClassifierEnsemble(members).eval()
    ids, lengths = torch.randint(1, 6, (4, 5)), torch.tensor([5, 3, 1, 4])
    targets = torch.tensor([0, 2, 1, 1])
    mean = sum(member(ids, lengths).softmax(1) for member in members) / 2
    torch.testing.assert_close(ensemble(ids, lengths).exp(), mean)
    torch.testing.assert_close(ensemble.predict(ids, lengths), mean.argmax(1))
    losses = [member.loss(ids, targets, lengths) for member in members]
    torch.testing.assert_close(ensemble.loss(ids, targets, lengths), sum(losses) / 2)
    # Its output stands for logits: their cross entropy is the mean probability's.
    expected = -mean[torch.arange(4), targets].log().mean()
    torch.testing.assert_close(F.cross_entropy(ensemble(ids, lengths), targets), expected)


def test_an_ensemble_needs_members_of_the_same_classes():
    two = SequenceClassifier(2, input_size=3, hidden_size=4)
    three = SequenceClassifier(3, input_size=3, hidden_size=4)
    regression = SequenceClassifier(output_size=2, task="regression", input_size=3)
    with pytest.raises(ValueError, match="at least one member"):
        ClassifierEnsemble([])
    for members in ([two, three], [two, regression]):
        with pytest.raises(ValueError, match="the same number of classes"):
            ClassifierEnsemble(members)
