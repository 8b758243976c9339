"""Tests of the linear-chain CRF: brute-force enumeration, the matrix-product forward step
against the logsumexp recursion, padding, constraints, learning."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from rnnkit.structures.crf import (
    CRF,
    FORBIDDEN_SCORE,
    TransitionConstraints,
    bio_constraints,
    bio_transition_mask,
)

pytestmark = pytest.mark.usefixtures("one_thread")

# ---------------------------------------------------------------------------------------------
# Helpers: an independent, loop-based reference written straight from the definition.
# ---------------------------------------------------------------------------------------------


def path_score(crf: CRF, emissions: torch.Tensor, path: tuple[int, ...]) -> float:
    """s(y) of one path over one sequence's valid emissions (L, K), forbidden scores applied."""
    if not path:
        return 0.0
    start, trans, end = (
        param.detach() if allowed is None else param.detach().masked_fill(~allowed, FORBIDDEN_SCORE)
        for param, allowed in [
            (crf.start_transitions, crf.allowed_start),
            (crf.transitions, crf.allowed_transitions),
            (crf.end_transitions, crf.allowed_end),
        ]
    )
    total = start[path[0]] + end[path[-1]]
    for t, tag in enumerate(path):
        total = total + emissions[t, tag]
        if t > 0:
            total = total + trans[path[t - 1], tag]
    return float(total)


def brute_force(crf: CRF, emissions: torch.Tensor) -> tuple[float, float, list[int]]:
    """(log Z, best score, best path) of one sequence (L, K) by enumerating all K^L paths."""
    length, K = emissions.shape
    paths = itertools.product(range(K), repeat=length)
    scores = {path: path_score(crf, emissions, path) for path in paths}
    log_z = math.log(sum(math.exp(s) for s in scores.values()))
    best = max(scores, key=scores.__getitem__)
    return log_z, scores[best], list(best)


def random_crf(K: int, seed: int, constraints=None) -> CRF:
    torch.manual_seed(seed)
    crf = CRF(K, constraints=constraints).double()
    with torch.no_grad():
        # Larger than the default init so that paths differ clearly and ties are unlikely.
        for param in crf.parameters():
            param.normal_(0.0, 1.0)
    return crf


def lengths_to_mask(lengths: torch.Tensor, T: int) -> torch.Tensor:
    return torch.arange(T) < lengths.unsqueeze(1)


# ---------------------------------------------------------------------------------------------
# Brute force
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("K", [1, 2, 3])
def test_log_partition_and_viterbi_equal_brute_force(seed: int, K: int) -> None:
    crf = random_crf(K, seed)
    T = 4
    lengths = torch.tensor([4, 3, 1, 2, 0])
    emissions = torch.randn(len(lengths), T, K, dtype=torch.float64)

    log_z = crf.log_partition(emissions, lengths=lengths)
    tags, best_scores = crf.viterbi_decode(emissions, lengths=lengths)
    decoded = crf.decode(emissions, lengths=lengths)

    for b, length in enumerate(lengths.tolist()):
        want_log_z, want_best, want_path = brute_force(crf, emissions[b, :length])
        if length == 0:
            want_log_z = 0.0  # documented convention: the empty path, log Z = log 1
        assert log_z[b].item() == pytest.approx(want_log_z, abs=1e-5)
        assert best_scores[b].item() == pytest.approx(want_best, abs=1e-5)
        assert decoded[b] == want_path
        assert tags[b, :length].tolist() == want_path
        assert (tags[b, length:] == -1).all()


@pytest.mark.parametrize("seed", range(3))
def test_score_equals_reference_path_score(seed: int) -> None:
    K, T = 3, 4
    crf = random_crf(K, seed)
    lengths = torch.tensor([4, 2, 3, 0])
    emissions = torch.randn(len(lengths), T, K, dtype=torch.float64)
    tags = torch.randint(0, K, (len(lengths), T))
    tags[1, 2:] = -100  # padding may hold anything, e.g. an ignore index
    got = crf.score(emissions, tags, lengths=lengths)
    for b, length in enumerate(lengths.tolist()):
        want = path_score(crf, emissions[b, :length], tuple(tags[b, :length].tolist()))
        assert got[b].item() == pytest.approx(want, abs=1e-9)


def test_probabilities_of_all_paths_sum_to_one() -> None:
    K, T = 3, 3
    crf = random_crf(K, 7)
    emissions = torch.randn(1, T, K, dtype=torch.float64)
    paths = torch.tensor(list(itertools.product(range(K), repeat=T)))  # (K^T, T)
    batch = emissions.expand(len(paths), T, K)
    nll = crf.neg_log_likelihood(batch, paths, reduction="none")
    assert torch.exp(-nll).sum().item() == pytest.approx(1.0, abs=1e-10)


def test_viterbi_best_score_equals_score_of_its_path() -> None:
    crf = random_crf(4, 3)
    lengths = torch.tensor([6, 1, 4])
    emissions = torch.randn(3, 6, 4, dtype=torch.float64)
    tags, best = crf.viterbi_decode(emissions, lengths=lengths)
    torch.testing.assert_close(best, crf.score(emissions, tags, lengths=lengths))


# ---------------------------------------------------------------------------------------------
# Masks, lengths, padding
# ---------------------------------------------------------------------------------------------


def test_mask_and_lengths_agree() -> None:
    crf = random_crf(3, 0)
    lengths = torch.tensor([5, 2, 0, 4])
    mask = lengths_to_mask(lengths, 5)
    emissions = torch.randn(4, 5, 3, dtype=torch.float64)
    tags = torch.randint(0, 3, (4, 5))
    torch.testing.assert_close(
        crf.log_partition(emissions, mask), crf.log_partition(emissions, lengths=lengths)
    )
    torch.testing.assert_close(
        crf.score(emissions, tags, mask), crf.score(emissions, tags, lengths=lengths)
    )
    assert crf.decode(emissions, mask) == crf.decode(emissions, lengths=lengths)


def test_no_mask_means_all_steps_valid() -> None:
    crf = random_crf(3, 1)
    emissions = torch.randn(2, 4, 3, dtype=torch.float64)
    full = torch.full((2,), 4)
    torch.testing.assert_close(
        crf.log_partition(emissions), crf.log_partition(emissions, lengths=full)
    )


@pytest.mark.parametrize("seed", range(3))
def test_padding_changes_nothing(seed: int) -> None:
    K, T = 4, 7
    crf = random_crf(K, seed)
    lengths = torch.tensor([7, 3, 0, 5, 1])
    mask = lengths_to_mask(lengths, T)
    emissions = torch.randn(len(lengths), T, K, dtype=torch.float64)
    # Garbage in the padding, including non-finite values, must not leak into any result.
    emissions[~mask] = torch.tensor([1e6, -1e6, float("nan"), float("inf")], dtype=torch.float64)
    tags = torch.randint(0, K, (len(lengths), T)).masked_fill(~mask, -100)

    log_z = crf.log_partition(emissions, mask)
    score = crf.score(emissions, tags, mask)
    nll = crf.neg_log_likelihood(emissions, tags, mask, reduction="none")
    decoded, best = crf.viterbi_decode(emissions, mask)
    assert torch.isfinite(log_z).all() and torch.isfinite(nll).all()

    for b, length in enumerate(lengths.tolist()):
        alone = emissions[b : b + 1, :length]
        alone_tags = tags[b : b + 1, :length]
        torch.testing.assert_close(log_z[b : b + 1], crf.log_partition(alone))
        torch.testing.assert_close(score[b : b + 1], crf.score(alone, alone_tags))
        torch.testing.assert_close(
            nll[b : b + 1], crf.neg_log_likelihood(alone, alone_tags, reduction="none")
        )
        alone_tags_decoded, alone_best = crf.viterbi_decode(alone)
        assert decoded[b, :length].tolist() == alone_tags_decoded[0].tolist()
        torch.testing.assert_close(best[b : b + 1], alone_best)


def test_padding_gets_no_gradient() -> None:
    crf = random_crf(3, 2)
    lengths = torch.tensor([4, 2])
    emissions = torch.randn(2, 4, 3, dtype=torch.float64, requires_grad=True)
    tags = torch.randint(0, 3, (2, 4))
    crf.neg_log_likelihood(emissions, tags, lengths=lengths, reduction="sum").backward()
    assert emissions.grad is not None
    assert (emissions.grad[1, 2:] == 0).all()
    assert (emissions.grad[0] != 0).any()


def test_zero_length_sequences() -> None:
    crf = random_crf(3, 0)
    emissions = torch.randn(2, 3, 3, dtype=torch.float64)
    lengths = torch.tensor([0, 0])
    tags = torch.zeros(2, 3, dtype=torch.long)
    assert crf.log_partition(emissions, lengths=lengths).tolist() == [0.0, 0.0]
    assert crf.neg_log_likelihood(emissions, tags, lengths=lengths, reduction="none").tolist() == [
        0.0,
        0.0,
    ]
    assert crf.decode(emissions, lengths=lengths) == [[], []]
    # T = 0 altogether.
    empty = torch.randn(2, 0, 3)
    assert crf.decode(empty) == [[], []]
    assert crf.log_partition(empty).tolist() == [0.0, 0.0]
    assert crf.score(empty, torch.zeros(2, 0, dtype=torch.long)).tolist() == [0.0, 0.0]


# ---------------------------------------------------------------------------------------------
# Loss and gradients
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(3))
def test_nll_is_non_negative_and_reductions_agree(seed: int) -> None:
    crf = random_crf(3, seed)
    lengths = torch.tensor([5, 3, 1])
    emissions = torch.randn(3, 5, 3, dtype=torch.float64)
    tags = torch.randint(0, 3, (3, 5))
    nll = crf.neg_log_likelihood(emissions, tags, lengths=lengths, reduction="none")
    assert nll.shape == (3,)
    assert (nll >= 0).all()
    torch.testing.assert_close(crf(emissions, tags, lengths=lengths), nll.mean())
    torch.testing.assert_close(
        crf.neg_log_likelihood(emissions, tags, lengths=lengths, reduction="sum"), nll.sum()
    )


def test_gradcheck_nll_wrt_emissions_and_parameters() -> None:
    crf = random_crf(3, 0)
    lengths = torch.tensor([4, 2, 3])
    tags = torch.randint(0, 3, (3, 4))
    emissions = torch.randn(3, 4, 3, dtype=torch.float64, requires_grad=True)
    params = {name: p.detach().clone().requires_grad_() for name, p in crf.named_parameters()}
    names = list(params)

    def nll(emissions: torch.Tensor, *values: torch.Tensor) -> torch.Tensor:
        return torch.func.functional_call(
            crf,
            dict(zip(names, values, strict=True)),
            (emissions, tags),
            {"lengths": lengths, "reduction": "sum"},
        )

    assert torch.autograd.gradcheck(nll, (emissions, *params.values()))


def test_gradcheck_with_constraints() -> None:
    tag_names = ["O", "B-X", "I-X"]
    crf = random_crf(3, 1, constraints=bio_constraints(tag_names))
    tags = torch.tensor([[0, 1, 2, 2], [1, 2, 0, 0]])
    emissions = torch.randn(2, 4, 3, dtype=torch.float64, requires_grad=True)
    transitions = crf.transitions.detach().clone().requires_grad_()

    def nll(emissions: torch.Tensor, transitions: torch.Tensor) -> torch.Tensor:
        return torch.func.functional_call(crf, {"transitions": transitions}, (emissions, tags))

    assert torch.autograd.gradcheck(nll, (emissions, transitions))


def test_training_does_not_touch_forbidden_transitions() -> None:
    crf = CRF(3, constraints=bio_transition_mask(["O", "B-X", "I-X"]))
    emissions = torch.randn(4, 5, 3)
    tags = torch.randint(0, 3, (4, 5))
    crf(emissions, tags).backward()
    assert crf.transitions.grad is not None
    assert crf.transitions.grad[0, 2] == 0  # O -> I-X


# ---------------------------------------------------------------------------------------------
# The matrix-product forward step against the plain logsumexp recursion
# ---------------------------------------------------------------------------------------------


def logsumexp_log_partition(crf: CRF, emissions: torch.Tensor, lengths: list[int]) -> torch.Tensor:
    """log Z of each sequence by the textbook recursion, one sequence at a time (differentiable).

    α_0 = start + e[0], α_t[j] = logsumexp_i(α_{t-1}[i] + trans[i, j]) + e[t, j],
    log Z = logsumexp(α + end); forbidden scores pinned as the CRF documents.
    """

    def forbid(param: torch.Tensor, allowed: torch.Tensor | None) -> torch.Tensor:
        if allowed is None:
            return param
        return torch.where(allowed, param, torch.full_like(param, FORBIDDEN_SCORE))

    start = forbid(crf.start_transitions, crf.allowed_start)
    trans = forbid(crf.transitions, crf.allowed_transitions)
    end = forbid(crf.end_transitions, crf.allowed_end)
    out = []
    for b, length in enumerate(lengths):
        if length == 0:
            out.append(emissions.new_zeros(()))
            continue
        alpha = start + emissions[b, 0]
        for t in range(1, length):
            alpha = torch.logsumexp(alpha.unsqueeze(1) + trans, dim=0) + emissions[b, t]
        out.append(torch.logsumexp(alpha + end, dim=0))
    return torch.stack(out)


def big_random_crf(K: int, seed: int, scale: float, dtype: torch.dtype, constrained: bool) -> CRF:
    generator = torch.Generator().manual_seed(seed)
    constraints = None
    if constrained:
        allowed = torch.rand(K, K, generator=generator) > 0.5
        allowed[:, 0] = False  # a tag nothing may move to: its column is all forbidden
        start = torch.rand(K, generator=generator) > 0.3
        end = torch.rand(K, generator=generator) > 0.3
        start[1] = end[1] = True  # at least one allowed first and last tag
        constraints = TransitionConstraints(allowed, start, end)
    crf = CRF(K, constraints=constraints).to(dtype)
    with torch.no_grad():
        for param in crf.parameters():
            param.copy_(scale * torch.randn(param.shape, generator=generator, dtype=dtype))
    return crf


def compare_with_logsumexp(
    crf: CRF, emissions: torch.Tensor, lengths: torch.Tensor, *, rtol: float, atol: float
) -> None:
    """Values and gradients (emissions and every parameter) of log_partition and the reference."""
    emissions = emissions.clone().requires_grad_()
    weights = torch.linspace(0.5, 1.5, len(lengths), dtype=emissions.dtype)  # distinct per row
    names, params = zip(*crf.named_parameters(), strict=True)
    inputs = (emissions, *params)

    got = crf.log_partition(emissions, lengths=lengths)
    got_grads = torch.autograd.grad((got * weights).sum(), inputs)
    want = logsumexp_log_partition(crf, emissions, lengths.tolist())
    want_grads = torch.autograd.grad((want * weights).sum(), inputs)

    assert torch.isfinite(got).all()
    torch.testing.assert_close(got, want, rtol=rtol, atol=atol)
    for name, g, w in zip(("emissions", *names), got_grads, want_grads, strict=True):
        assert torch.isfinite(g).all(), name
        torch.testing.assert_close(g, w, rtol=rtol, atol=atol, msg=name)


@pytest.mark.parametrize("constrained", [False, True])
@pytest.mark.parametrize("scale", [1.0, 30.0, 1000.0])
@pytest.mark.parametrize("seed", range(2))
def test_forward_step_equals_logsumexp_float64(seed: int, scale: float, constrained: bool) -> None:
    """Large magnitudes make whole columns of exp(α - m) · exp(T - c) underflow (scale 1000 does
    even in float64); the fallback must keep log Z and its gradients exact."""
    K, T = 7, 9
    crf = big_random_crf(K, seed, scale, torch.float64, constrained)
    generator = torch.Generator().manual_seed(100 + seed)
    lengths = torch.tensor([9, 1, 5, 0, 8, 3])
    emissions = scale * torch.randn(len(lengths), T, K, generator=generator, dtype=torch.float64)
    compare_with_logsumexp(crf, emissions, lengths, rtol=0.0, atol=1e-5)


@pytest.mark.parametrize("constrained", [False, True])
@pytest.mark.parametrize("scale", [1.0, 50.0])
def test_forward_step_equals_logsumexp_float32(scale: float, constrained: bool) -> None:
    """float32, where underflow starts ~87 nats below the maximum: compared with the float64
    reference to float32 rounding of values whose magnitude is up to ~T · scale."""
    K, T = 12, 10
    crf = big_random_crf(K, 3, scale, torch.float64, constrained)
    generator = torch.Generator().manual_seed(7)
    lengths = torch.tensor([10, 4, 7, 1, 10])
    emissions = scale * torch.randn(len(lengths), T, K, generator=generator, dtype=torch.float64)
    got = crf.float().log_partition(emissions.float(), lengths=lengths).double()
    want = logsumexp_log_partition(crf.double(), emissions, lengths.tolist()).detach()
    torch.testing.assert_close(got, want, rtol=1e-6, atol=1e-5)


def test_underflowing_column_is_exact() -> None:
    """Tag 1 can only be reached from tag 1, whose α is 1000 below tag 0's: exp(α - m) is 0 for
    every tag that may move to 1, so the product alone would give log(0)."""
    allowed = torch.tensor([[True, False], [True, True]])  # 0 -> 1 forbidden
    crf = CRF(2, constraints=allowed).double()
    with torch.no_grad():
        crf.transitions.copy_(torch.tensor([[0.5, 0.0], [-0.3, 0.2]], dtype=torch.float64))
        crf.start_transitions.zero_()
        crf.end_transitions.copy_(torch.tensor([0.0, 2000.0]))  # make the tag-1 path matter
    emissions = torch.tensor([[[0.0, -1000.0], [0.1, 0.4], [0.0, 0.3]]], dtype=torch.float64)
    lengths = torch.tensor([3])
    # Only path ending in 1 with finite score: 1, 1, 1 (nothing may move from 0 to 1).
    want = -1000.0 + 0.4 + 0.3 + 0.2 + 0.2 + 2000.0
    assert crf.log_partition(emissions, lengths=lengths).item() == pytest.approx(want, abs=1e-9)
    compare_with_logsumexp(crf, emissions, lengths, rtol=0.0, atol=1e-9)


# ---------------------------------------------------------------------------------------------
# Constraints
# ---------------------------------------------------------------------------------------------


def test_bio_transition_mask() -> None:
    names = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
    allowed = bio_transition_mask(names, "BIO")
    index = {name: i for i, name in enumerate(names)}

    def ok(a: str, b: str) -> bool:
        return bool(allowed[index[a], index[b]])

    assert not ok("O", "I-PER")
    assert not ok("B-LOC", "I-PER")
    assert not ok("I-LOC", "I-PER")
    assert ok("B-PER", "I-PER") and ok("I-PER", "I-PER")
    assert ok("I-PER", "O") and ok("O", "B-LOC") and ok("I-PER", "B-PER")
    constraints = bio_constraints(names, "BIO")
    assert constraints.start.tolist() == [True, True, False, True, False]
    assert constraints.end.all()


def test_bioes_constraints() -> None:
    names = ["O", "B-A", "I-A", "E-A", "S-A", "B-Z", "E-Z"]
    constraints = bio_constraints(names, "BIOES")
    index = {name: i for i, name in enumerate(names)}

    def ok(a: str, b: str) -> bool:
        return bool(constraints.transitions[index[a], index[b]])

    allowed_pairs = {
        ("O", "O"), ("O", "B-A"), ("O", "S-A"), ("O", "B-Z"),
        ("B-A", "I-A"), ("B-A", "E-A"), ("I-A", "I-A"), ("I-A", "E-A"),
        ("E-A", "O"), ("E-A", "B-A"), ("E-A", "S-A"), ("E-A", "B-Z"),
        ("S-A", "O"), ("S-A", "B-A"), ("S-A", "S-A"), ("S-A", "B-Z"),
        ("B-Z", "E-Z"),
        ("E-Z", "O"), ("E-Z", "B-A"), ("E-Z", "S-A"), ("E-Z", "B-Z"),
    }  # fmt: skip
    for a, b in itertools.product(names, repeat=2):
        assert ok(a, b) == ((a, b) in allowed_pairs), (a, b)
    assert constraints.start.tolist() == [True, True, False, False, True, True, False]
    assert constraints.end.tolist() == [True, False, False, True, True, False, True]


def test_bad_tag_names_and_scheme() -> None:
    with pytest.raises(ValueError, match="scheme"):
        bio_transition_mask(["O"], "IOBX")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="E-PER"):
        bio_transition_mask(["O", "E-PER"], "BIO")
    with pytest.raises(ValueError, match="PER"):
        bio_transition_mask(["O", "PER"], "BIO")


@pytest.mark.parametrize("seed", range(4))
def test_decode_respects_constraints(seed: int) -> None:
    names = ["O", "B-A", "I-A", "E-A", "S-A", "B-Z", "I-Z", "E-Z", "S-Z"]
    constraints = bio_constraints(names, "BIOES")
    crf = random_crf(len(names), seed, constraints=constraints)
    with torch.no_grad():
        # Forbidden moves are made the most attractive: an unconstrained decoder would take them.
        crf.transitions.copy_(torch.where(constraints.transitions, -3.0, 3.0))
    lengths = torch.tensor([8, 5, 1, 3])
    emissions = 2 * torch.randn(len(lengths), 8, len(names), dtype=torch.float64)
    for path in crf.decode(emissions, lengths=lengths):
        assert constraints.start[path[0]] and constraints.end[path[-1]]
        for prev, curr in itertools.pairwise(path):
            assert constraints.transitions[prev, curr], (names[prev], names[curr])


def test_constrained_brute_force_and_no_nan_when_everything_is_forbidden() -> None:
    K = 3
    allowed = torch.rand(K, K, generator=torch.Generator().manual_seed(0)) > 0.4
    start = torch.tensor([True, False, True])
    constraints = TransitionConstraints(allowed, start, torch.ones(K, dtype=torch.bool))
    crf = random_crf(K, 0, constraints=constraints)
    emissions = torch.randn(2, 4, K, dtype=torch.float64)
    log_z = crf.log_partition(emissions)
    _, best = crf.viterbi_decode(emissions)
    for b in range(2):
        want_log_z, want_best, _ = brute_force(crf, emissions[b])
        assert log_z[b].item() == pytest.approx(want_log_z, abs=1e-5)
        assert best[b].item() == pytest.approx(want_best, abs=1e-5)

    nothing = torch.zeros(K, K, dtype=torch.bool)
    blocked = CRF(K, constraints=nothing)
    emissions = torch.randn(2, 5, K, requires_grad=True)
    tags = torch.randint(0, K, (2, 5))
    nll = blocked(emissions, tags, reduction="none")
    nll.sum().backward()
    assert torch.isfinite(nll).all()
    assert torch.isfinite(emissions.grad).all()
    assert torch.isfinite(blocked.log_partition(emissions)).all()
    _, best = blocked.viterbi_decode(emissions)
    assert torch.isfinite(best).all()
    assert (best < FORBIDDEN_SCORE / 2).all()


# ---------------------------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------------------------


def test_shape_and_value_validation() -> None:
    crf = CRF(3)
    emissions = torch.randn(2, 4, 3)
    tags = torch.zeros(2, 4, dtype=torch.long)
    with pytest.raises(ValueError, match=r"emissions must have shape \(B, T, num_tags=3\)"):
        crf.log_partition(torch.randn(2, 4, 5))
    with pytest.raises(ValueError, match="emissions"):
        crf.log_partition(torch.randn(4, 3))
    with pytest.raises(ValueError, match=r"mask must be a bool tensor of shape \(B=2, T=4\)"):
        crf.log_partition(emissions, torch.ones(2, 3, dtype=torch.bool))
    with pytest.raises(ValueError, match="mask must be a bool"):
        crf.log_partition(emissions, torch.ones(2, 4))
    with pytest.raises(ValueError, match="left-aligned"):
        crf.log_partition(emissions, torch.tensor([[True] * 4, [False, True, True, True]]))
    with pytest.raises(ValueError, match=r"lengths must be an integer tensor of shape \(B=2,\)"):
        crf.log_partition(emissions, lengths=torch.tensor([1, 2, 3]))
    with pytest.raises(ValueError, match="lengths must lie in"):
        crf.log_partition(emissions, lengths=torch.tensor([5, 2]))
    with pytest.raises(ValueError, match="either mask or lengths"):
        crf.log_partition(emissions, torch.ones(2, 4, dtype=torch.bool), lengths=tags[:, 0])
    with pytest.raises(ValueError, match=r"tags must be an integer tensor of shape \(B=2, T=4\)"):
        crf.score(emissions, tags[:, :3])
    with pytest.raises(ValueError, match=r"tags must lie in \[0, num_tags=3\)"):
        crf.score(emissions, tags.index_fill(1, torch.tensor([2]), 3))
    with pytest.raises(ValueError, match="tags must lie in"):
        bad = tags.index_fill(1, torch.tensor([0]), -1)  # -1 at a valid step
        crf.score(emissions, bad, lengths=torch.tensor([4, 1]))
    with pytest.raises(ValueError, match="reduction"):
        crf.neg_log_likelihood(emissions, tags, reduction="avg")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"constraints must be a bool tensor of shape \(3, 3\)"):
        CRF(3, constraints=torch.ones(2, 2, dtype=torch.bool))
    with pytest.raises(ValueError, match="num_tags"):
        CRF(0)


def test_constraints_move_with_the_module_and_are_saved() -> None:
    crf = CRF(3, constraints=bio_constraints(["O", "B-X", "I-X"]))
    state = crf.state_dict()
    assert {"allowed_transitions", "allowed_start", "allowed_end"} <= set(state)
    copy = CRF(3, constraints=bio_constraints(["O", "B-X", "I-X"]))
    copy.load_state_dict(state)
    torch.testing.assert_close(copy.transitions, crf.transitions)


# ---------------------------------------------------------------------------------------------
# Learning
# ---------------------------------------------------------------------------------------------


def test_learns_transitions_where_emissions_are_ambiguous() -> None:
    """Gold tags cycle 0 → 1 → 2 → 0 ...; only the first step's emission says where to start,
    later emissions are small noise around 0, so only learned transitions can recover the tags."""
    torch.manual_seed(0)
    K, T, B = 3, 8, 64
    first = torch.randint(0, K, (B,))
    gold = (first.unsqueeze(1) + torch.arange(T)) % K  # (B, T)
    emissions = 0.1 * torch.randn(B, T, K)
    emissions[torch.arange(B), 0, first] += 2.0
    lengths = torch.randint(2, T + 1, (B,))
    mask = lengths_to_mask(lengths, T)

    emission_only = (emissions.argmax(-1) == gold)[mask].float().mean()
    assert emission_only < 0.7  # the task really needs the transitions

    crf = CRF(K)
    optimizer = torch.optim.Adam(crf.parameters(), lr=0.1)
    for _ in range(60):
        optimizer.zero_grad()
        crf(emissions, gold, mask).backward()
        optimizer.step()
    decoded = crf.decode(emissions, mask)
    expected = [row[:n] for row, n in zip(gold.tolist(), lengths.tolist(), strict=True)]
    assert decoded == expected
