"""Tests of the one-to-many structure ``SequenceGenerator``: learning a class-conditional copy
(both condition modes) and a piano-roll pattern; padding and batching invariance; truncated
BPTT; sampling with temperature, top-k, priming and end tokens; sampled softmax; errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import Tensor

from rnnkit.losses.sequence_loss import sequence_loss
from rnnkit.structures.generator import SequenceGenerator, shift_right
from rnnkit.summary import summary

NUM_CLASSES, EOS, BOS, VOCAB = 6, 11, 12, 13  # content tokens are 0..10


pytestmark = pytest.mark.usefixtures("one_thread")


def class_sequences() -> list[list[int]]:
    """Class c → c, c+1, …, c+n-1 with n = 3 + c mod 4, then EOS: lengths 4 to 7."""
    return [[*range(c, c + 3 + c % 4), EOS] for c in range(NUM_CLASSES)]


def padded(sequences: list[list[int]], fill: int = 0) -> tuple[Tensor, Tensor]:
    lengths = torch.tensor([len(s) for s in sequences])
    batch = torch.full((len(sequences), int(lengths.max())), fill)
    for b, sequence in enumerate(sequences):
        batch[b, : len(sequence)] = torch.tensor(sequence)
    return batch, lengths


def small_model(condition=None, condition_mode="first", cell="lstm", **kwargs) -> SequenceGenerator:
    options = {"class": {"num_conditions": 4}, "vector": {"condition_size": 3}, None: {}}
    return SequenceGenerator(
        VOCAB,
        condition=condition,
        condition_mode=condition_mode,
        cell=cell,
        embedding_dim=5,
        hidden_size=6,
        **options[condition],
        **kwargs,
    )


def some_condition(model: SequenceGenerator, batch: int) -> Tensor | None:
    if model.condition == "class":
        return torch.randint(0, model.num_conditions, (batch,))
    if model.condition == "vector":
        return torch.randn(batch, model.condition_size)
    return None


def pick(condition: Tensor | None, index: slice) -> Tensor | None:
    return None if condition is None else condition[index]


# ---------------------------------------------------------------------------------------------
# Learning
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("condition_mode", "cell"), [("first", "lstm"), ("every", "gru")])
def test_learns_a_class_conditional_copy_and_generates_it_greedily(condition_mode, cell):
    torch.manual_seed(0)
    model = SequenceGenerator(
        VOCAB,
        condition="class",
        num_conditions=NUM_CLASSES,
        condition_mode=condition_mode,
        cell=cell,
        embedding_dim=8,
        hidden_size=32,
    )
    targets, lengths = padded(class_sequences())
    inputs, classes = shift_right(targets, start=BOS), torch.arange(NUM_CLASSES)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.02)
    for _ in range(150):
        loss = model.loss(inputs, targets, classes, lengths)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    generated = model.generate(classes, max_length=10, start_token=BOS, greedy=True, eos_token=EOS)
    assert generated.shape == (NUM_CLASSES, 7)  # stopped once the longest had ended
    for row, expected in zip(generated.tolist(), class_sequences(), strict=True):
        assert row[: len(expected)] == expected
        assert all(token == EOS for token in row[len(expected) :])  # filled after the end


def test_learns_a_piano_roll_pattern_with_bernoulli_outputs():
    P, T = 8, 12
    frames = torch.zeros(1, T, P)
    for t in range(T):  # two notes per frame, moving at different speeds
        frames[0, t, t % P] = 1.0
        frames[0, t, (3 * t + 1) % P] = 1.0
    torch.manual_seed(0)
    model = SequenceGenerator(output="bernoulli", output_size=P, cell="gru", hidden_size=32)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.02)
    inputs = shift_right(frames)  # a silent frame, then the previous frame
    for _ in range(150):
        loss = model.loss(inputs, frames)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    assert torch.equal(model.generate(max_length=T, greedy=True), frames)
    sampled = model.generate(batch_size=4, max_length=T, generator=torch.Generator().manual_seed(0))
    assert sampled.shape == (4, T, P)
    assert (sampled == frames).float().mean() >= 0.99


# ---------------------------------------------------------------------------------------------
# Teacher forcing: padding, state, losses
# ---------------------------------------------------------------------------------------------

CONDITIONED = [
    (None, "first"),
    ("class", "first"),
    ("class", "every"),
    ("vector", "first"),
    ("vector", "every"),
]


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize(("condition", "condition_mode"), CONDITIONED)
def test_padding_changes_nothing(condition, condition_mode, cell):
    torch.manual_seed(0)
    model = small_model(condition, condition_mode, cell, num_layers=2).eval()
    lengths = torch.tensor([3, 6, 1, 4])
    inputs = torch.randint(0, VOCAB, (4, 6))  # padding holds arbitrary ids
    targets = torch.randint(0, VOCAB, (4, 6))
    conditions = some_condition(model, 4)
    logits, state = model(inputs, conditions, lengths)  # (B, T, V)
    h_n = state[0] if cell == "lstm" else state  # (L, B, H)
    for b, n in enumerate(lengths.tolist()):
        one = slice(b, b + 1)
        alone, state_alone = model(inputs[one, :n], pick(conditions, one))
        torch.testing.assert_close(logits[b, :n], alone[0], atol=1e-5, rtol=0)
        assert torch.equal(logits[b, n:], torch.zeros(6 - n, VOCAB))
        h_alone = state_alone[0] if cell == "lstm" else state_alone
        torch.testing.assert_close(h_n[:, b], h_alone[:, 0], atol=1e-5, rtol=0)
        loss = model.loss(inputs[one], targets[one], pick(conditions, one), lengths[one])
        loss_alone = model.loss(inputs[one, :n], targets[one, :n], pick(conditions, one))
        torch.testing.assert_close(loss, loss_alone, atol=1e-5, rtol=0)


@pytest.mark.parametrize(("condition", "condition_mode"), CONDITIONED)
def test_state_carries_over_between_chunks(condition, condition_mode):
    torch.manual_seed(0)
    model = small_model(condition, condition_mode)
    inputs, conditions = torch.randint(0, VOCAB, (3, 8)), some_condition(model, 3)
    whole, _ = model(inputs, conditions)
    first, state = model(inputs[:, :5], conditions)
    # "first" conditions only set the start state, which the carried state already holds.
    again = conditions if condition_mode == "every" else None
    second, _ = model(inputs[:, 5:], again, state=state)
    torch.testing.assert_close(torch.cat([first, second], 1), whole, atol=1e-6, rtol=0)


def test_loss_can_return_the_state_for_truncated_bptt():
    model = small_model("class", "every")
    inputs, targets = torch.randint(0, VOCAB, (2, 4)), torch.randint(0, VOCAB, (2, 4))
    classes = torch.tensor([0, 3])
    loss, state = model.loss(inputs, targets, classes, return_state=True)
    _, expected = model(inputs, classes)
    torch.testing.assert_close(state, expected)
    assert loss.dim() == 0


def test_the_condition_sets_the_initial_state_or_joins_every_input():
    torch.manual_seed(0)
    first = small_model("vector", "first", cell="gru")
    every = small_model("vector", "every", cell="gru")
    assert first.rnn.input_size == 5 and every.rnn.input_size == 5 + 3
    inputs, vectors = torch.randint(0, VOCAB, (2, 3)), torch.randn(2, 3)
    for model in (first, every):  # a different condition changes every step's output
        changed = model(inputs, vectors)[0] - model(inputs, vectors + 1.0)[0]  # (B, T, V)
        assert (changed.abs().amax(2) > 0).all()
    zeros = torch.zeros(1, 2, 6)
    # An explicit state replaces a "first" condition, which then changes nothing ...
    torch.testing.assert_close(
        first(inputs, vectors, state=zeros)[0], first(inputs, vectors + 5.0, state=zeros)[0]
    )
    # ... while an "every" condition still joins each input.
    changed = every(inputs, vectors, state=zeros)[0] - every(inputs, vectors + 1.0, state=zeros)[0]
    assert (changed.abs().amax(2) > 0).all()
    with pytest.raises(ValueError, match="condition is required"):
        every(inputs, state=zeros)


def test_loss_is_the_token_cross_entropy_over_valid_steps():
    torch.manual_seed(0)
    model = small_model("class")
    inputs, lengths = torch.randint(0, VOCAB, (3, 5)), torch.tensor([5, 2, 3])
    classes = torch.tensor([1, 0, 3])
    targets = torch.randint(0, VOCAB, (3, 5))
    targets[1, 2:] = -1  # padding may hold anything
    logits, _ = model(inputs, classes, lengths)
    valid = torch.arange(5) < lengths.unsqueeze(1)
    expected = sequence_loss(logits, targets.clamp(min=0), valid)
    torch.testing.assert_close(model.loss(inputs, targets, classes, lengths), expected)


def test_bernoulli_loss_is_the_frame_negative_log_likelihood():
    torch.manual_seed(0)
    model = SequenceGenerator(output="bernoulli", output_size=4, hidden_size=5)
    frames = (torch.rand(2, 3, 4) > 0.5).float()
    lengths = torch.tensor([3, 1])
    logits, _ = model(shift_right(frames), lengths=lengths)
    probs = torch.sigmoid(logits)
    log_likelihood = frames * probs.log() + (1 - frames) * (1 - probs).log()  # (B, T, P)
    valid = torch.arange(3) < lengths.unsqueeze(1)
    expected = -log_likelihood.sum(2)[valid].mean()
    torch.testing.assert_close(model.loss(shift_right(frames), frames, lengths=lengths), expected)


def test_sampled_softmax_trains_on_samples_and_evaluates_exactly():
    torch.manual_seed(0)
    model = SequenceGenerator(200, num_sampled=20, embedding_dim=5, hidden_size=6)
    targets = torch.randint(0, 200, (3, 4))
    inputs, lengths = shift_right(targets), torch.tensor([4, 2, 3])
    sampled = model.loss(inputs, targets, lengths=lengths)
    sampled.backward()
    assert torch.isfinite(sampled) and model.head.weight.grad is not None
    model.eval()
    logits, _ = model(inputs, lengths=lengths)
    valid = torch.arange(4) < lengths.unsqueeze(1)
    exact = sequence_loss(logits, targets, valid)
    torch.testing.assert_close(model.loss(inputs, targets, lengths=lengths), exact)
    assert not torch.allclose(sampled, exact)  # training used the sampled estimate


def test_shift_right_puts_the_start_first():
    assert shift_right(torch.tensor([[4, 5, 6]]), start=1).tolist() == [[1, 4, 5]]
    frames = torch.ones(1, 2, 3)
    assert shift_right(frames).tolist() == [[[0.0, 0.0, 0.0], [1.0, 1.0, 1.0]]]


# ---------------------------------------------------------------------------------------------
# Generation
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("condition", "condition_mode"), CONDITIONED)
def test_greedy_generation_of_a_batch_equals_each_alone(condition, condition_mode):
    torch.manual_seed(0)
    model = small_model(condition, condition_mode, cell="gru").eval()
    conditions = some_condition(model, 3)
    prime = torch.randint(0, VOCAB, (3, 2))
    batch = model.generate(
        conditions, batch_size=3, max_length=6, start_token=BOS, prime=prime, greedy=True
    )
    for b in range(3):
        one = slice(b, b + 1)
        alone = model.generate(
            pick(conditions, one), max_length=6, start_token=BOS, prime=prime[one], greedy=True
        )
        assert torch.equal(batch[one], alone)


def test_greedy_generation_follows_the_teacher_forced_argmax():
    torch.manual_seed(0)
    model = small_model("class").eval()
    classes = torch.tensor([0, 2, 3])
    generated = model.generate(classes, max_length=5, start_token=BOS, greedy=True)
    inputs = torch.cat([torch.full((3, 1), BOS), generated[:, :-1]], 1)
    logits, _ = model(inputs, classes)
    assert torch.equal(logits.argmax(2), generated)


def test_priming_with_a_prefix_continues_it():
    torch.manual_seed(0)
    model = small_model("vector", "every").eval()
    vectors = torch.randn(2, 3)
    whole = model.generate(vectors, max_length=6, start_token=BOS, greedy=True)
    rest = model.generate(vectors, max_length=4, start_token=BOS, prime=whole[:, :2], greedy=True)
    assert torch.equal(rest, whole[:, 2:])
    # Without a start token the prime alone is the first input.
    primed = model.generate(vectors, max_length=3, prime=torch.tensor([[BOS], [BOS]]), greedy=True)
    assert torch.equal(primed, whole[:, :3])


def test_a_sequence_that_emits_the_end_token_is_filled_with_it_and_all_stop_together():
    torch.manual_seed(0)
    model = small_model("class").eval()
    classes = torch.tensor([0, 1, 2, 3])
    free = model.generate(classes, max_length=8, start_token=BOS, greedy=True).tolist()

    def ends(token: int) -> list[int]:  # where each free row would stop with this end token
        return [row.index(token) + 1 if token in row else len(row) for row in free]

    # An end token that stops one row early while another runs on, and after which the early
    # row would go on with a different token: so the filling is visible.
    eos = next(
        t
        for t in range(VOCAB)
        if min(ends(t)) < max(ends(t)) and free[ends(t).index(min(ends(t)))][min(ends(t))] != t
    )
    ended = model.generate(classes, max_length=8, start_token=BOS, greedy=True, eos_token=eos)
    width = max(ends(eos))
    assert ended.shape == (4, width)  # stopped once the last sequence had ended
    for row, free_row, stop in zip(ended.tolist(), free, ends(eos), strict=True):
        assert row == free_row[:stop] + [eos] * (width - stop)


def test_sampling_is_reproducible_with_a_seeded_generator():
    torch.manual_seed(0)
    model = small_model("class").eval()
    classes = torch.tensor([1, 2, 0, 3])

    def sample(seed: int) -> Tensor:
        generator = torch.Generator().manual_seed(seed)
        return model.generate(
            classes, max_length=8, start_token=BOS, temperature=1.5, top_k=5, generator=generator
        )

    torch.manual_seed(123)  # the global generator must not matter
    first = sample(7)
    torch.manual_seed(456)
    assert torch.equal(first, sample(7))
    assert not torch.equal(first, sample(8))


def test_top_k_samples_only_among_the_k_most_likely():
    torch.manual_seed(0)
    model = small_model().eval()
    with torch.no_grad():
        model.head.weight.mul_(5.0)  # a peaked, non-uniform distribution
    generated = model.generate(
        batch_size=16,
        max_length=6,
        start_token=BOS,
        top_k=3,
        temperature=3.0,
        generator=torch.Generator().manual_seed(0),
    )
    inputs = torch.cat([torch.full((16, 1), BOS), generated[:, :-1]], 1)
    logits, _ = model(inputs)  # (B, T, V)
    rank = (logits > logits.gather(2, generated.unsqueeze(2))).sum(2)  # tokens that beat it
    assert (rank < 3).all()
    assert (rank > 0).any()  # with T = 3 not everything is the argmax


def test_top_k_of_one_is_greedy_at_any_temperature():
    torch.manual_seed(0)
    model = small_model("class").eval()
    classes = torch.tensor([0, 1, 2, 3])
    greedy = model.generate(classes, max_length=7, start_token=BOS, greedy=True)
    top1 = model.generate(
        classes,
        max_length=7,
        start_token=BOS,
        top_k=1,
        temperature=10.0,
        generator=torch.Generator().manual_seed(0),
    )
    assert torch.equal(greedy, top1)
    # a NumPy float (from np.linspace) is a temperature like any other
    numpy_top1 = model.generate(
        classes, max_length=7, start_token=BOS, top_k=1, temperature=np.float32(10.0)
    )
    assert torch.equal(greedy, numpy_top1)


def test_suppressed_tokens_are_never_chosen_even_from_a_flat_distribution():
    torch.manual_seed(0)
    model = small_model("class").eval()
    classes = torch.tensor([0, 1, 2, 3] * 8)
    common = {"max_length": 30, "start_token": BOS, "generator": torch.Generator().manual_seed(0)}
    free = model.generate(classes, temperature=1e3, **common)
    assert {0, 1} <= set(free.unique().tolist())  # a flat distribution picks them
    kept = model.generate(classes, temperature=1e3, suppress_tokens=range(2), **common)
    assert not ({0, 1} & set(kept.unique().tolist()))
    first = int(free[0, 0])
    for banned in ([first], torch.tensor([first]), first):  # a list, a tensor, one id
        greedy = model.generate(classes, greedy=True, suppress_tokens=banned, **common)
        assert first not in greedy.tolist()
    for bad, message in (([VOCAB], r"token ids in \[0, 13\)"), (range(VOCAB), "no token")):
        with pytest.raises(ValueError, match=message):
            model.generate(classes, suppress_tokens=bad, **common)


def test_top_k_of_zero_samples_from_every_token_as_none_does():
    torch.manual_seed(0)
    model = small_model("class").eval()
    classes = torch.tensor([0, 1, 2, 3])
    drawn = [
        model.generate(classes, max_length=9, start_token=BOS, top_k=k, temperature=3.0,
                       generator=torch.Generator().manual_seed(1))
        for k in (0, None, 2)
    ]  # fmt: skip
    assert torch.equal(drawn[0], drawn[1]) and not torch.equal(drawn[0], drawn[2])


@pytest.mark.parametrize("temperature", [0.5, 2.0])
def test_sampled_frequencies_follow_the_tempered_softmax(temperature):
    torch.manual_seed(0)
    model = SequenceGenerator(5, embedding_dim=4, hidden_size=6).eval()
    with torch.no_grad():
        model.head.weight.mul_(4.0)
    n = 4000
    first = model.generate(
        batch_size=n,
        max_length=1,
        start_token=0,
        temperature=temperature,
        generator=torch.Generator().manual_seed(0),
    )
    logits, _ = model(torch.zeros(1, 1, dtype=torch.long))
    expected = (logits[0, 0] / temperature).softmax(0)
    frequencies = torch.bincount(first[:, 0], minlength=5).float() / n
    assert (frequencies - expected).abs().max() < 0.03  # > 3.5 standard errors


def test_bernoulli_generation_gives_binary_frames():
    torch.manual_seed(0)
    model = SequenceGenerator(
        output="bernoulli", output_size=4, condition="class", num_conditions=2, hidden_size=5
    ).eval()
    frames = model.generate(
        torch.tensor([0, 1, 1]), max_length=5, generator=torch.Generator().manual_seed(0)
    )
    assert frames.shape == (3, 5, 4) and frames.dtype == torch.float32
    assert ((frames == 0) | (frames == 1)).all()
    torch.manual_seed(1)  # the global generator must not matter
    again = model.generate(
        torch.tensor([0, 1, 1]), max_length=5, generator=torch.Generator().manual_seed(0)
    )
    assert torch.equal(frames, again)
    prime = torch.ones(3, 2, 4)
    greedy = model.generate(torch.tensor([0, 1, 1]), max_length=3, prime=prime, greedy=True)
    logits, _ = model(torch.cat([torch.zeros(3, 1, 4), prime], 1), torch.tensor([0, 1, 1]))
    assert torch.equal(greedy[:, 0], (logits[:, -1] > 0).float())


# ---------------------------------------------------------------------------------------------
# Configuration and parameter counts
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cell", "options"), [("rnn", {}), ("lstm", {}), ("gru", {}), ("lstm", {"peephole": True})]
)
@pytest.mark.parametrize(("condition", "condition_mode"), CONDITIONED)
def test_summary_counts_every_parameter_and_all_receive_gradients(
    condition, condition_mode, cell, options
):
    model = small_model(condition, condition_mode, cell, num_layers=2, dropout=0.1, **options)
    inputs, conditions = torch.randint(0, VOCAB, (2, 4)), some_condition(model, 2)
    model.loss(inputs, torch.randint(0, VOCAB, (2, 4)), conditions, [4, 2]).backward()
    assert all(p.grad is not None for p in model.parameters())
    assert summary(model).total == sum(p.numel() for p in model.parameters())


def test_first_mode_projects_the_condition_into_every_layers_h_and_c():
    model = small_model("vector", "first", cell="lstm", num_layers=3)
    assert model.initial_state.in_features == 3
    assert model.initial_state.out_features == 2 * 3 * 6  # (h, c) × layers × H


# ---------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"cell": "elman"}, "cell must be one of"),
        ({"condition": "label"}, "condition must be one of"),
        (
            {"condition": "class", "num_conditions": 2, "condition_mode": "last"},
            "condition_mode must be one of",
        ),
        ({"output": "gaussian"}, "output must be one of"),
        ({"condition": "class"}, "num_conditions must be a positive integer"),
        ({"condition": "vector"}, "condition_size must be a positive integer"),
        (
            {"condition": "vector", "condition_size": 2, "num_conditions": 3},
            "num_conditions does not apply to condition='vector'",
        ),
        ({"num_conditions": 3}, "num_conditions does not apply to condition=None"),
        ({"output": "bernoulli"}, "vocab_size is for output='softmax'"),
        ({"output_size": 4}, "output_size is for output='bernoulli'"),
    ],
)
def test_bad_construction_raises_value_error(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SequenceGenerator(10, **kwargs)


def test_conditions_are_checked():
    classes = small_model("class", "every")
    vectors = small_model("vector", "first")
    plain = small_model()
    inputs = torch.randint(0, VOCAB, (2, 3))
    with pytest.raises(ValueError, match="condition is required"):
        classes(inputs)
    with pytest.raises(ValueError, match="condition is required"):
        vectors(inputs)
    with pytest.raises(ValueError, match="condition was given, but this model has condition=None"):
        plain(inputs, torch.tensor([0, 1]))
    with pytest.raises(ValueError, match=r"condition must be ids in \[0, 4\), got \[4\]"):
        classes(inputs, torch.tensor([1, 4]))
    with pytest.raises(ValueError, match=r"condition must be integer class ids of shape \(B,\)"):
        classes(inputs, torch.tensor([1, 2, 3]))
    with pytest.raises(ValueError, match=r"condition must be float vectors of shape \(B, C\)"):
        vectors(inputs, torch.randn(2, 4))
    with pytest.raises(ValueError, match="condition is required"):
        classes.generate(max_length=3, start_token=BOS)


def test_inputs_and_targets_are_checked():
    model = small_model()
    frames = SequenceGenerator(output="bernoulli", output_size=3, hidden_size=4)
    inputs = torch.randint(0, VOCAB, (2, 3))
    with pytest.raises(ValueError, match=r"inputs must be integer token ids of shape \(B, T\)"):
        model(torch.randn(2, 3))
    with pytest.raises(ValueError, match=r"inputs must be float features of shape \(B, T, F=3\)"):
        frames(torch.rand(2, 3, 4))
    with pytest.raises(ValueError, match=r"lengths must have shape \(B,\) = \(2,\)"):
        model(inputs, lengths=torch.tensor([3]))
    with pytest.raises(ValueError, match=r"targets must have the shape of inputs \(2, 3\)"):
        model.loss(inputs, inputs[:, :2])
    with pytest.raises(ValueError, match=r"targets must be ids in \[0, 13\)"):
        model.loss(inputs, inputs + VOCAB)
    with pytest.raises(ValueError, match=r"targets must be frames of values in \[0, 1\]"):
        frames.loss(torch.rand(2, 3, 3), torch.rand(2, 3, 3) * 3)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_length": 0}, "max_length must be a positive integer"),
        ({"temperature": 0.0}, "temperature must be a finite number > 0"),
        ({"temperature": -1.0}, "temperature must be a finite number > 0"),
        ({"top_k": -1}, "top_k must be a positive integer"),
        ({"start_token": None}, "give start_token or a non-empty prime"),
        ({"start_token": VOCAB}, r"start_token must be a token id in \[0, 13\)"),
        ({"eos_token": -1}, r"eos_token must be a token id in \[0, 13\)"),
        (
            {"batch_size": 2, "prime": torch.zeros(3, 1, dtype=torch.long)},
            "the batch sizes of batch_size, prime disagree",
        ),
        ({"prime": torch.zeros(3, 1)}, "prime must be integer token ids"),
    ],
)
def test_bad_generation_arguments_raise_value_error(kwargs, message):
    model = small_model()
    arguments = {"max_length": 4, "start_token": BOS, **kwargs}
    with pytest.raises(ValueError, match=message):
        model.generate(**arguments)


def test_bernoulli_generation_refuses_token_options():
    model = SequenceGenerator(output="bernoulli", output_size=3, hidden_size=4)
    with pytest.raises(ValueError, match="top_k applies to output='softmax'"):
        model.generate(max_length=2, top_k=2)
    with pytest.raises(ValueError, match="start_token applies to output='softmax'"):
        model.generate(max_length=2, start_token=0)


def test_numpy_integers_are_integers_to_the_structures() -> None:
    """generate(start_token=np.int64(11)) said "must be a token id in [0, 12), got 11"."""
    from rnnkit.structures import Seq2Seq

    model = SequenceGenerator(12, embedding_dim=4, hidden_size=8).eval()
    tokens = model.generate(
        batch_size=np.int64(2), max_length=np.int64(3), start_token=np.int64(11),
        top_k=np.int64(3), generator=torch.Generator().manual_seed(0),
    )  # fmt: skip
    assert tokens.shape == (2, 3)
    Seq2Seq(12, 12, pad_index=np.int64(0), bos_index=np.int64(1), eos_index=np.int64(2),
            hidden_size=8, embedding_dim=4)  # fmt: skip
    with pytest.raises(ValueError, match="must be a token id"):
        model.generate(batch_size=1, max_length=2, start_token=True)
