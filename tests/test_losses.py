"""Tests of rnnkit's losses: masked sequence cross entropy and sampled softmax."""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnkit.losses.sampled_softmax import (
    SampledSoftmax,
    proposal_log_probs,
    sample_classes,
)
from rnnkit.losses.sequence_loss import lengths_to_mask, lengths_to_weights, sequence_loss

BENCHMARK = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_sampled_softmax.py"


def reference_token_losses(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """-log softmax(logits)[target] per token, written out in float64 with explicit loops."""
    batch_size, num_steps, _ = logits.shape
    out = torch.empty(batch_size, num_steps, dtype=torch.float64)
    for b in range(batch_size):
        for t in range(num_steps):
            row = logits[b, t].double()
            log_z = row.max() + torch.log(torch.exp(row - row.max()).sum())
            out[b, t] = log_z - row[targets[b, t]]
    return out


# ---------------------------------------------------------------- sequence_loss: values


@settings(max_examples=30, deadline=None)
@given(
    batch_size=st.integers(1, 4),
    num_steps=st.integers(1, 5),
    vocab_size=st.integers(2, 7),
    seed=st.integers(0, 2**16),
)
def test_sequence_loss_matches_explicit_weighted_means(batch_size, num_steps, vocab_size, seed):
    gen = torch.Generator().manual_seed(seed)
    logits = torch.randn(batch_size, num_steps, vocab_size, generator=gen, dtype=torch.float64)
    targets = torch.randint(vocab_size, (batch_size, num_steps), generator=gen)
    weights = torch.rand(batch_size, num_steps, generator=gen, dtype=torch.float64) + 0.1
    ce = reference_token_losses(logits, targets)

    def loss(across_t: bool, across_b: bool) -> torch.Tensor:
        return sequence_loss(
            logits,
            targets,
            weights,
            average_across_timesteps=across_t,
            average_across_batch=across_b,
        )

    torch.testing.assert_close(loss(True, True), (weights * ce).sum() / weights.sum())
    torch.testing.assert_close(loss(True, False), (weights * ce).sum(1) / weights.sum(1))
    torch.testing.assert_close(loss(False, True), (weights * ce).sum(0) / weights.sum(0))
    torch.testing.assert_close(loss(False, False), weights * ce)


def test_default_weights_equal_plain_mean_cross_entropy():
    torch.manual_seed(0)
    logits = torch.randn(3, 4, 10)
    targets = torch.randint(10, (3, 4))
    expected = F.cross_entropy(logits.reshape(-1, 10), targets.reshape(-1))
    torch.testing.assert_close(sequence_loss(logits, targets), expected)


def test_padding_neither_contributes_nor_dilutes():
    torch.manual_seed(0)
    logits = torch.randn(2, 5, 6, requires_grad=True)
    targets = torch.randint(6, (2, 5))
    lengths = torch.tensor([5, 2])
    weights = lengths_to_weights(lengths, 5)
    loss = sequence_loss(logits, targets, weights)

    real_tokens = torch.cat([logits[0], logits[1, :2]])
    real_targets = torch.cat([targets[0], targets[1, :2]])
    torch.testing.assert_close(loss, F.cross_entropy(real_tokens, real_targets))

    loss.backward()
    assert torch.all(logits.grad[1, 2:] == 0)
    assert torch.any(logits.grad[1, :2] != 0)

    garbage = logits.detach().clone()
    garbage[1, 2:] = 1e4 * torch.randn(3, 6)
    torch.testing.assert_close(sequence_loss(garbage, targets, weights), loss.detach())


def test_scaling_weights_leaves_the_mean_unchanged():
    torch.manual_seed(0)
    logits = torch.randn(2, 3, 4)
    targets = torch.randint(4, (2, 3))
    weights = torch.rand(2, 3)
    torch.testing.assert_close(
        sequence_loss(logits, targets, 7.0 * weights), sequence_loss(logits, targets, weights)
    )


def test_ignore_index_is_the_same_as_weight_zero():
    torch.manual_seed(0)
    logits = torch.randn(2, 4, 5)
    targets = torch.randint(5, (2, 4))
    padded = targets.clone()
    padded[0, 3] = padded[1, 1] = -100
    weights = (padded != -100).float()
    expected = sequence_loss(logits, targets, weights)
    torch.testing.assert_close(sequence_loss(logits, padded, ignore_index=-100), expected)
    # -100 by default, as F.cross_entropy: padding labelled so needs no option
    torch.testing.assert_close(sequence_loss(logits, padded), expected)
    torch.testing.assert_close(
        sequence_loss(logits, padded, weights),
        F.cross_entropy(logits.reshape(-1, 5), padded.reshape(-1)),
    )
    with pytest.raises(ValueError, match=r"targets must be class ids in \[0, 5\)"):
        sequence_loss(logits, padded, ignore_index=None)
    per_step = sequence_loss(logits, padded, ignore_index=-100, average_across_timesteps=False)
    torch.testing.assert_close(
        per_step, sequence_loss(logits, targets, weights, average_across_timesteps=False)
    )


def test_label_smoothing_matches_torch_on_real_tokens():
    torch.manual_seed(0)
    logits = torch.randn(2, 3, 5)
    targets = torch.randint(5, (2, 3))
    weights = torch.tensor([[1.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    kept = weights.bool()
    expected = F.cross_entropy(logits[kept], targets[kept], label_smoothing=0.2)
    got = sequence_loss(logits, targets, weights, label_smoothing=0.2)
    torch.testing.assert_close(got, expected)


def test_empty_groups_in_partial_averages_are_zero():
    torch.manual_seed(0)
    logits = torch.randn(3, 4, 5)
    targets = torch.randint(5, (3, 4))
    weights = lengths_to_weights(torch.tensor([2, 0, 3]), 4)
    per_sequence = sequence_loss(logits, targets, weights, average_across_batch=False)
    per_step = sequence_loss(logits, targets, weights, average_across_timesteps=False)
    assert per_sequence[1] == 0 and per_sequence[0] > 0 and per_sequence[2] > 0
    assert per_step[3] == 0 and torch.all(per_step[:3] > 0)
    assert torch.isfinite(per_sequence).all() and torch.isfinite(per_step).all()


def test_bool_mask_and_float_weights_agree():
    torch.manual_seed(0)
    logits = torch.randn(2, 4, 3)
    targets = torch.randint(3, (2, 4))
    mask = lengths_to_mask(torch.tensor([4, 1]), 4)
    torch.testing.assert_close(
        sequence_loss(logits, targets, mask), sequence_loss(logits, targets, mask.float())
    )


def test_half_precision_logits_accumulate_in_float32():
    torch.manual_seed(0)
    logits = torch.randn(2, 3, 4)
    targets = torch.randint(4, (2, 3))
    loss = sequence_loss(logits.bfloat16(), targets)
    assert loss.dtype == torch.float32
    torch.testing.assert_close(loss, sequence_loss(logits, targets), atol=2e-2, rtol=2e-2)


# ---------------------------------------------------------------- sequence_loss: errors


@pytest.mark.parametrize(
    ("logits_shape", "targets_shape", "weights_shape", "message"),
    [
        ((2, 3), (2,), None, "logits must have shape"),
        ((2, 3, 4), (3, 2), None, "targets must have shape"),
        ((2, 3, 4), (2, 3, 1), None, "targets must have shape"),
        ((2, 3, 4), (2, 3), (3, 2), "weights must have the shape"),
        ((2, 3, 4), (2, 3), (2, 3, 1), "weights must have the shape"),
    ],
)
def test_mismatched_shapes_raise_value_error(logits_shape, targets_shape, weights_shape, message):
    logits = torch.zeros(logits_shape)
    targets = torch.zeros(targets_shape, dtype=torch.long)
    weights = None if weights_shape is None else torch.ones(weights_shape)
    with pytest.raises(ValueError, match=message):
        sequence_loss(logits, targets, weights)


@pytest.mark.parametrize(
    ("bad_weight", "message"),
    [(float("nan"), "finite"), (float("inf"), "finite"), (-1.0, "non-negative")],
)
def test_invalid_weight_values_raise_value_error(bad_weight, message):
    weights = torch.ones(2, 3)
    weights[1, 2] = bad_weight
    with pytest.raises(ValueError, match=message):
        sequence_loss(torch.zeros(2, 3, 4), torch.zeros(2, 3, dtype=torch.long), weights)


@pytest.mark.parametrize(("across_t", "across_b"), [(True, True), (True, False), (False, True)])
def test_all_zero_weights_raise_when_averaging(across_t, across_b):
    with pytest.raises(ValueError, match="all token weights are zero"):
        sequence_loss(
            torch.zeros(2, 3, 4),
            torch.zeros(2, 3, dtype=torch.long),
            torch.zeros(2, 3),
            average_across_timesteps=across_t,
            average_across_batch=across_b,
        )


def test_all_zero_weights_without_averaging_give_zeros():
    loss = sequence_loss(
        torch.randn(2, 3, 4),
        torch.zeros(2, 3, dtype=torch.long),
        torch.zeros(2, 3),
        average_across_timesteps=False,
        average_across_batch=False,
    )
    assert torch.equal(loss, torch.zeros(2, 3))


@pytest.mark.parametrize("bad_target", [-1, 4])
def test_out_of_range_targets_raise_value_error(bad_target):
    targets = torch.zeros(2, 3, dtype=torch.long)
    targets[0, 1] = bad_target
    with pytest.raises(ValueError, match=r"targets must be class ids in \[0, 4\)"):
        sequence_loss(torch.zeros(2, 3, 4), targets)


def test_float_targets_raise_value_error():
    with pytest.raises(ValueError, match="integer tensor of class ids"):
        sequence_loss(torch.zeros(2, 3, 4), torch.zeros(2, 3))


# ---------------------------------------------------------------- lengths helpers


def test_lengths_to_mask_and_weights():
    mask = lengths_to_mask(torch.tensor([3, 0, 1]))
    expected = torch.tensor([[1, 1, 1], [0, 0, 0], [1, 0, 0]], dtype=torch.bool)
    assert torch.equal(mask, expected)
    weights = lengths_to_weights(torch.tensor([1, 2]), max_len=4, dtype=torch.float64)
    assert weights.dtype == torch.float64
    assert torch.equal(
        weights, torch.tensor([[1.0, 0, 0, 0], [1.0, 1.0, 0, 0]], dtype=torch.float64)
    )


@pytest.mark.parametrize(
    ("lengths", "max_len", "message"),
    [
        (torch.tensor([1, 5]), 4, "lengths must lie in"),
        (torch.tensor([-1, 2]), 4, "lengths must lie in"),
        (torch.tensor([1.0, 2.0]), 4, "integer"),
        (torch.tensor([[1, 2]]), 4, "1-D"),
    ],
)
def test_lengths_to_mask_rejects_bad_lengths(lengths, max_len, message):
    with pytest.raises(ValueError, match=message):
        lengths_to_mask(lengths, max_len)


# ---------------------------------------------------------------- proposal distributions


@pytest.mark.parametrize("vocab_size", [1, 7, 50_000])
@pytest.mark.parametrize("proposal", ["log_uniform", "uniform"])
def test_proposal_is_a_probability_distribution(vocab_size, proposal):
    log_q = proposal_log_probs(torch.arange(vocab_size), vocab_size, proposal, torch.float64)
    torch.testing.assert_close(torch.logsumexp(log_q, 0).item(), 0.0, atol=1e-9, rtol=0)
    if proposal == "log_uniform" and vocab_size > 1:
        assert torch.all(log_q[1:] < log_q[:-1])  # Zipfian: frequent (low) ids more likely


@pytest.mark.parametrize("proposal", ["log_uniform", "uniform"])
def test_sampler_frequencies_match_the_proposal(proposal):
    vocab_size, num_draws = 30, 200_000
    gen = torch.Generator().manual_seed(0)
    draws = sample_classes(num_draws, vocab_size, proposal, generator=gen)
    assert draws.dtype == torch.long
    assert 0 <= int(draws.min()) and int(draws.max()) < vocab_size
    frequency = torch.bincount(draws, minlength=vocab_size).double() / num_draws
    q = proposal_log_probs(torch.arange(vocab_size), vocab_size, proposal, torch.float64).exp()
    standard_error = torch.sqrt(q * (1 - q) / num_draws)
    assert torch.all((frequency - q).abs() < 5 * standard_error)


def test_unknown_proposal_raises_value_error():
    with pytest.raises(ValueError, match="proposal must be one of"):
        sample_classes(3, 10, "zipf")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="proposal must be one of"):
        SampledSoftmax(4, 10, 3, proposal="zipf")  # type: ignore[arg-type]


# ---------------------------------------------------------------- SampledSoftmax: mechanics


def test_eval_mode_is_exact_softmax_and_composes_with_sequence_loss():
    torch.manual_seed(0)
    layer = SampledSoftmax(8, 20, num_sampled=5).eval()
    with torch.no_grad():
        layer.bias.normal_()
    hidden = torch.randn(3, 4, 8)
    targets = torch.randint(20, (3, 4))
    weights = lengths_to_weights(torch.tensor([4, 2, 1]), 4)

    logits = layer.full_logits(hidden)
    torch.testing.assert_close(logits, hidden @ layer.weight.T + layer.bias)
    torch.testing.assert_close(
        layer(hidden, targets, weights), sequence_loss(logits, targets, weights)
    )
    torch.testing.assert_close(
        layer(hidden, targets, weights, reduction="none"),
        sequence_loss(
            logits, targets, weights, average_across_timesteps=False, average_across_batch=False
        ),
    )
    flat = layer(hidden.reshape(12, 8), targets.reshape(12), weights.reshape(12), reduction="sum")
    torch.testing.assert_close(flat, (weights * layer(hidden, targets, reduction="none")).sum())


def test_training_mode_is_deterministic_given_the_seed_and_shape_agnostic():
    layer = SampledSoftmax(8, 1000, num_sampled=16)
    hidden = torch.randn(2, 5, 8)
    targets = torch.randint(1000, (2, 5))
    torch.manual_seed(123)
    first = layer(hidden, targets, reduction="none")
    torch.manual_seed(123)
    again = layer(hidden.reshape(10, 8), targets.reshape(10), reduction="none")
    torch.manual_seed(124)
    other = layer(hidden, targets, reduction="none")
    assert first.shape == (2, 5)
    torch.testing.assert_close(again, first.reshape(10))
    assert not torch.allclose(other, first)


def test_sampled_loss_equals_its_formula_for_a_known_sample():
    torch.manual_seed(0)
    num_sampled, vocab_size = 6, 12
    layer = SampledSoftmax(4, vocab_size, num_sampled)
    with torch.no_grad():
        layer.bias.normal_()
    hidden = torch.randn(3, 4)
    targets = torch.tensor([0, 5, 11])
    torch.manual_seed(7)
    loss = layer(hidden, targets, reduction="none")
    torch.manual_seed(7)
    sampled = sample_classes(num_sampled, vocab_size)  # the draw the layer made

    s = layer.full_logits(hidden).detach().double()
    log_expected = torch.log(num_sampled * proposal_log_probs(sampled, vocab_size).double().exp())
    for n, y in enumerate(targets.tolist()):
        terms = [s[n, y].exp()] + [
            (s[n, j] - log_expected[i]).exp() for i, j in enumerate(sampled.tolist()) if j != y
        ]
        expected = torch.log(torch.stack(terms).sum()) - s[n, y]
        torch.testing.assert_close(loss[n].double(), expected, rtol=1e-5, atol=1e-5)


def test_accidental_hits_are_removed_and_gradients_stay_finite():
    # Vocabulary of 2 with log-uniform Q(0) = log 2 / log 3 ≈ 0.63: hits on class 0 are common,
    # and with a single draw the whole sampled set is sometimes the true class itself.
    layer = SampledSoftmax(3, 2, num_sampled=1)
    hidden = torch.randn(4, 3, requires_grad=True)
    targets = torch.zeros(4, dtype=torch.long)
    saw_full_hit = False
    for seed in range(20):
        torch.manual_seed(seed)
        sampled = sample_classes(1, 2)
        torch.manual_seed(seed)
        loss = layer(hidden, targets, reduction="none")
        if int(sampled) == 0:
            saw_full_hit = True
            # Only the true class is left, whose softmax probability is 1: the loss is 0.
            torch.testing.assert_close(loss, torch.zeros(4))
        loss.sum().backward()
        assert torch.isfinite(hidden.grad).all() and torch.isfinite(layer.weight.grad).all()
    assert saw_full_hit


def test_sampled_softmax_weights_padding_and_ignore_index():
    torch.manual_seed(0)
    layer = SampledSoftmax(6, 50, num_sampled=8)
    hidden = torch.randn(2, 3, 6, requires_grad=True)
    targets = torch.randint(50, (2, 3))
    weights = lengths_to_weights(torch.tensor([3, 1]), 3)
    torch.manual_seed(1)
    loss = layer(hidden, targets, weights)
    loss.backward()
    assert torch.all(hidden.grad[1, 1:] == 0) and torch.any(hidden.grad[1, 0] != 0)

    padded = targets.masked_fill(weights == 0, -1)
    torch.manual_seed(1)
    torch.testing.assert_close(layer(hidden, padded, ignore_index=-1), loss)
    torch.manual_seed(1)
    per_token = layer(hidden, targets, weights, reduction="none")
    assert torch.all(per_token[1, 1:] == 0)
    torch.testing.assert_close(per_token.sum() / weights.sum(), loss)


@pytest.mark.parametrize(
    ("hidden_shape", "targets_shape", "weights_shape", "message"),
    [
        ((5,), (5,), None, "hidden must have shape"),
        ((2, 3, 4, 8), (2, 3, 4), None, "hidden must have shape"),
        ((5, 7), (5,), None, "hidden must have shape"),
        ((5, 8), (4,), None, "targets must have shape"),
        ((2, 3, 8), (3, 2), None, "targets must have shape"),
        ((2, 3, 8), (6,), None, "targets must have shape"),
        ((2, 3, 8), (2, 3), (2, 2), "weights must have the shape"),
    ],
)
@pytest.mark.parametrize("training", [True, False])
def test_sampled_softmax_mismatched_shapes_raise_value_error(
    hidden_shape, targets_shape, weights_shape, message, training
):
    layer = SampledSoftmax(8, 10, num_sampled=4).train(training)
    weights = None if weights_shape is None else torch.ones(weights_shape)
    with pytest.raises(ValueError, match=message):
        layer(torch.zeros(hidden_shape), torch.zeros(targets_shape, dtype=torch.long), weights)


def test_sampled_softmax_value_errors():
    layer = SampledSoftmax(4, 10, num_sampled=3)
    hidden = torch.zeros(2, 4)
    with pytest.raises(ValueError, match=r"targets must be class ids in \[0, 10\)"):
        layer(hidden, torch.tensor([0, 10]))
    with pytest.raises(ValueError, match="all token weights are zero"):
        layer(hidden, torch.tensor([0, 1]), torch.zeros(2))
    with pytest.raises(ValueError, match="finite"):
        layer(hidden, torch.tensor([0, 1]), torch.tensor([1.0, float("nan")]))
    with pytest.raises(ValueError, match="reduction must be one of"):
        layer(hidden, torch.tensor([0, 1]), reduction="avg")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="num_sampled must be a positive integer"):
        SampledSoftmax(4, 10, num_sampled=0)


# ---------------------------------------------------------------- SampledSoftmax: statistics
#
# What is true (see rnnkit.losses.sampled_softmax): with sampling with replacement, the
# expected-count correction log(S·Q) and accidental hits removed, the partition estimate Ẑ is
# unbiased, so E[exp(L̂)] = exp(CE) exactly; L̂ is biased low (Jensen) by O(1/S) and consistent;
# the averaged gradient approaches the full gradient. Each test would fail for a wrong
# correction (e.g. log Q without the log S, or none at all).

VOCAB, HIDDEN = 500, 16
TARGETS = torch.tensor([0, 1, 3, 10, 50, 100, 300, 499])  # frequent to rare classes


def zipfian_layer(num_sampled: int, **options) -> SampledSoftmax:
    """A layer whose class scores fall off like a Zipf law (as a trained LM's would)."""
    gen = torch.Generator().manual_seed(0)
    layer = SampledSoftmax(HIDDEN, VOCAB, num_sampled, **options)
    with torch.no_grad():
        layer.weight.copy_(0.3 * torch.randn(VOCAB, HIDDEN, generator=gen))
        layer.bias.copy_(-torch.log(torch.arange(1.0, VOCAB + 1)))
    return layer


def hidden_vectors() -> torch.Tensor:
    return torch.randn(len(TARGETS), HIDDEN, generator=torch.Generator().manual_seed(1))


def sampled_token_losses(layer: SampledSoftmax, hidden: torch.Tensor, draws: int) -> torch.Tensor:
    """[draws, N] per-token sampled losses, one independent class sample per draw."""
    torch.manual_seed(2)
    with torch.no_grad():
        return torch.stack([layer(hidden, TARGETS, reduction="none") for _ in range(draws)])


def exact_token_losses(layer: SampledSoftmax, hidden: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return F.cross_entropy(layer.full_logits(hidden), TARGETS, reduction="none")


def z_scores_of_mean(samples: torch.Tensor, expected: torch.Tensor) -> torch.Tensor:
    """(sample mean − expected) / standard error, per column of ``samples [draws, N]``."""
    standard_error = samples.std(0) / math.sqrt(samples.shape[0])
    return (samples.mean(0) - expected) / standard_error


@pytest.mark.parametrize("proposal", ["log_uniform", "uniform"])
def test_exp_of_sampled_loss_is_unbiased_for_exp_of_full_loss(proposal):
    hidden = hidden_vectors()
    layer = zipfian_layer(num_sampled=50, proposal=proposal)
    sampled = sampled_token_losses(layer, hidden, draws=300)
    full = exact_token_losses(layer, hidden)
    z = z_scores_of_mean(sampled.exp(), full.exp())
    assert torch.all(z.abs() < 4.5), z

    # The same statistic rejects the estimator without the expected-count correction.
    uncorrected = zipfian_layer(num_sampled=50, proposal=proposal, subtract_log_q=False)
    z_bad = z_scores_of_mean(sampled_token_losses(uncorrected, hidden, draws=300).exp(), full.exp())
    assert z_bad.abs().max() > 20, z_bad


def test_keeping_accidental_hits_adds_the_true_class_to_the_partition():
    # Sampled copies of y contribute exp(s_y) to E[Ẑ]: E[exp(L̂)] = exp(CE) + 1 exactly.
    hidden = hidden_vectors()
    layer = zipfian_layer(num_sampled=50, remove_accidental_hits=False)
    sampled = sampled_token_losses(layer, hidden, draws=300).exp()
    full = exact_token_losses(layer, hidden).exp()
    assert torch.all(z_scores_of_mean(sampled, full + 1).abs() < 4.5)
    assert z_scores_of_mean(sampled, full).max() > 5  # class 0 is hit often: visibly biased


def test_sampled_loss_is_biased_low_and_converges_to_full_loss():
    hidden = hidden_vectors()
    full = exact_token_losses(zipfian_layer(1), hidden)
    draws = {10: 150, 50: 150, VOCAB: 400}  # more draws where the bias is smallest
    bias = {
        num_sampled: sampled_token_losses(zipfian_layer(num_sampled), hidden, n).mean(0) - full
        for num_sampled, n in draws.items()
    }
    # Jensen: E[log Ẑ] < log E[Ẑ], so on average the sampled loss is below the full loss ...
    assert bias[10].mean() < -0.03 and bias[50].mean() < 0
    # ... by an amount that shrinks like 1/S, and is small once S reaches V.
    assert bias[50].mean().abs() < 0.5 * bias[10].mean().abs()
    assert bias[VOCAB].mean().abs() < 0.01
    assert bias[VOCAB].abs().max() < 0.05

    # Without the correction the average at S = V is far from the full loss.
    uncorrected = zipfian_layer(VOCAB, subtract_log_q=False)
    uncorrected_bias = sampled_token_losses(uncorrected, hidden, 30).mean(0) - full
    assert uncorrected_bias.abs().mean() > 1.0


def averaged_hidden_gradient(
    layer: SampledSoftmax, hidden: torch.Tensor, draws: int
) -> torch.Tensor:
    torch.manual_seed(3)
    total = torch.zeros_like(hidden)
    for _ in range(draws):
        h = hidden.clone().requires_grad_()
        layer(h, TARGETS).backward()
        total += h.grad
    return total / draws


def relative_error(estimate: torch.Tensor, reference: torch.Tensor) -> float:
    return float((estimate - reference).norm() / reference.norm())


def test_averaged_sampled_gradient_approximates_full_gradient():
    hidden = hidden_vectors()
    layer = zipfian_layer(num_sampled=50)
    exact = averaged_hidden_gradient(layer.eval(), hidden, draws=1)
    sampled = averaged_hidden_gradient(layer.train(), hidden, draws=150)
    uncorrected = averaged_hidden_gradient(
        zipfian_layer(num_sampled=50, subtract_log_q=False), hidden, draws=150
    )
    cosine = F.cosine_similarity(sampled.flatten(), exact.flatten(), dim=0)
    assert cosine > 0.99
    assert relative_error(sampled, exact) < 0.1
    # The correction matters: without it the averaged gradient is biased, not just noisy.
    assert relative_error(uncorrected, exact) > 3 * relative_error(sampled, exact)
    assert relative_error(uncorrected, exact) > 0.2


# ---------------------------------------------------------------- benchmark script


def load_benchmark():
    spec = importlib.util.spec_from_file_location("bench_sampled_softmax", BENCHMARK)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # dataclasses resolve string annotations through sys.modules, so register before running.
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[spec.name]
    return module


def test_benchmark_main_runs_on_tiny_sizes(capsys):
    bench = load_benchmark()
    argv = ["--vocab-size", "300", "--hidden-size", "8", "--num-tokens", "32"]
    argv += ["--num-sampled", "4", "16", "--rounds", "2", "--warmup", "1"]
    assert bench.main(argv) == 0
    output = capsys.readouterr().out
    for method in ("full softmax", "sampled S=4", "sampled S=16"):
        assert f"| {method} |" in output

    timings = bench.run_benchmark(
        vocab_size=100, hidden_size=4, num_tokens=8, num_sampled=[3], rounds=3, warmup=0
    )
    assert [t.method for t in timings] == ["full softmax", "sampled S=3"]
    assert all(len(t.seconds) == 3 and t.min_ms > 0 for t in timings)
