"""Tests of the generic beam search on toy Markov chains whose best output is known exactly."""

from __future__ import annotations

import itertools
import math
from typing import NamedTuple

import pytest
import torch

from rnnkit.structures.beam_search import (
    BeamSearchResult,
    beam_search,
    gnmt_length_penalty,
    select_rows,
)

BOS, EOS = 0, 1


pytestmark = pytest.mark.usefixtures("one_thread")


# ---------------------------------------------------------------------------------------------
# Toy models: Markov chains with a per-item table, so the state (and its reordering) matters.
# ---------------------------------------------------------------------------------------------


class ChainState(NamedTuple):
    item: torch.Tensor  # (N,) which batch item's table the row reads
    previous: torch.Tensor  # (N,) the token before the last one (second-order chain)


def second_order_chain(batch: int, V: int, seed: int, eos_bias: float = 0.0) -> torch.Tensor:
    """log p(y_t | y_{t-2}, y_{t-1}) per item, ``(B, V, V, V)``; ``<bos>`` is never emitted."""
    g = torch.Generator().manual_seed(seed)
    logits = 2.0 * torch.randn(batch, V, V, V, generator=g, dtype=torch.float64)
    logits[..., BOS] = float("-inf")
    logits[..., EOS] += eos_bias
    return logits.log_softmax(-1)


def chain_step(table: torch.Tensor):
    """The step function of a second-order chain ``table (B, V, V, V)``."""

    def step(tokens: torch.Tensor, state: ChainState) -> tuple[torch.Tensor, ChainState]:
        log_probs = table[state.item, state.previous, tokens]  # (N, V)
        return log_probs, ChainState(state.item, tokens)

    return step


def chain_start(batch: int) -> ChainState:
    return ChainState(torch.arange(batch), torch.full((batch,), BOS))


def sequence_score(table: torch.Tensor, item: int, tokens: list[int]) -> float:
    """Σ_t log p(y_t | y_{t-2}, y_{t-1}) from the definition, with y_{-1} = y_0 = <bos>."""
    previous, last, total = BOS, BOS, 0.0
    for token in tokens:
        total += float(table[item, previous, last, token])
        previous, last = last, token
    return total


def brute_force_best(
    table: torch.Tensor, item: int, max_length: int, alpha: float
) -> tuple[float, list[int]]:
    """Best normalised score over every output: ended by <eos>, or cut at max_length."""
    V = table.shape[-1]
    best: tuple[float, list[int]] = (-math.inf, [])
    for length in range(1, max_length + 1):
        for body in itertools.product([t for t in range(V) if t != EOS], repeat=length - 1):
            endings = [EOS] if length < max_length else range(V)
            for last in endings:
                tokens = [*body, last]
                key = sequence_score(table, item, tokens) / ((5 + length) / 6) ** alpha
                if key > best[0]:
                    best = (key, tokens)
    return best


def greedy_reference(table: torch.Tensor, item: int, max_length: int) -> tuple[list[int], float]:
    """Greedy decoding written out: the argmax token until <eos> or max_length."""
    previous, last, tokens = BOS, BOS, []
    while len(tokens) < max_length and (not tokens or tokens[-1] != EOS):
        token = int(table[item, previous, last].argmax())
        tokens.append(token)
        previous, last = last, token
    return tokens, sequence_score(table, item, tokens)


def hypothesis(result: BeamSearchResult, item: int, rank: int = 0) -> list[int]:
    return result.tokens[item, rank, : result.lengths[item, rank]].tolist()


def run(table: torch.Tensor, **kwargs) -> BeamSearchResult:
    options = dict(bos_index=BOS, eos_index=EOS, max_length=4, beam_size=3) | kwargs
    batch = table.shape[0]
    return beam_search(chain_step(table), chain_start(batch), batch_size=batch, **options)


# ---------------------------------------------------------------------------------------------
# Exactness
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("alpha", [0.0, 1.5])
def test_big_enough_beam_finds_the_brute_force_optimum(alpha: float) -> None:
    V, max_length = 4, 5
    table = second_order_chain(batch=4, V=V, seed=1, eos_bias=-2.0)  # long optima
    # Every prefix has at most V - 1 live continuations (no <bos>), so this beam is exhaustive.
    result = run(
        table, beam_size=(V - 1) ** (max_length - 1), max_length=max_length, length_penalty=alpha
    )
    for item in range(4):
        best_key, best_tokens = brute_force_best(table, item, max_length, alpha)
        assert hypothesis(result, item) == best_tokens
        assert result.normalized_scores[item, 0].item() == pytest.approx(best_key, abs=1e-12)


def test_scores_are_the_sums_of_log_probs_of_the_returned_tokens() -> None:
    table = second_order_chain(batch=2, V=5, seed=2)
    result = run(table, beam_size=4, max_length=5, length_penalty=0.7)
    for item, rank in itertools.product(range(2), range(4)):
        tokens = hypothesis(result, item, rank)
        score = sequence_score(table, item, tokens)
        assert result.scores[item, rank].item() == pytest.approx(score, abs=1e-12)
        lp = ((5 + len(tokens)) / 6) ** 0.7
        assert result.normalized_scores[item, rank].item() == pytest.approx(score / lp, abs=1e-12)
    # Best first, and K distinct hypotheses per item.
    assert (result.normalized_scores[:, :-1] >= result.normalized_scores[:, 1:]).all()
    for item in range(2):
        assert len({tuple(hypothesis(result, item, rank)) for rank in range(4)}) == 4


@pytest.mark.parametrize("seed", range(4))
def test_beam_one_is_greedy_decoding(seed: int) -> None:
    table = second_order_chain(batch=3, V=6, seed=seed)
    result = run(table, beam_size=1, max_length=6)
    for item in range(3):
        tokens, score = greedy_reference(table, item, 6)
        assert hypothesis(result, item) == tokens
        assert result.scores[item, 0].item() == pytest.approx(score, abs=1e-12)


def greedy_trap() -> torch.Tensor:
    """A first-order chain on which plain beam search with K = 2 ends below greedy decoding.

    From <bos>: a (0.5) or b (0.45). After a: one of ten fillers (~0.1 each), then <eos>.
    After b: x or y (~0.5 each), then a filler, then <eos>. Greedy takes a, filler, <eos>
    (about 0.05); the beam keeps b-x and b-y (about 0.25 each) over every a-filler (about
    0.05) at step 2, and all their completions end near 0.025.
    """
    a, b, x, y, fillers = 2, 3, 4, 5, list(range(6, 16))
    V = 16
    probs = torch.zeros(V, V, dtype=torch.float64)
    probs[BOS, a], probs[BOS, b], probs[BOS, EOS] = 0.5, 0.45, 0.05
    spread = torch.linspace(0.12, 0.08, len(fillers), dtype=torch.float64)
    for row in (a, x, y):
        probs[row, fillers] = spread / spread.sum()
    probs[b, x], probs[b, y] = 0.51, 0.49
    probs[fillers, EOS] = 1.0
    probs[EOS, EOS] = 1.0
    first_order = probs.log()  # (V, V), log 0 = -inf
    return first_order.expand(1, V, V, V)  # ignore y_{t-2}


def test_plain_beam_search_can_end_below_greedy_and_the_greedy_lane_prevents_it() -> None:
    table = greedy_trap()
    greedy_tokens, greedy_score = greedy_reference(table, 0, 5)
    plain = run(table, beam_size=2, max_length=5, keep_greedy=False)
    assert plain.scores[0, 0].item() < greedy_score - 0.5  # the search curse, reproduced
    kept = run(table, beam_size=2, max_length=5, keep_greedy=True)
    assert hypothesis(kept, 0) == greedy_tokens
    assert kept.scores[0, 0].item() == pytest.approx(greedy_score, abs=1e-12)
    assert hypothesis(kept, 0, 1) == hypothesis(plain, 0, 0)  # the beam's best is still there


@pytest.mark.parametrize("beam_size", [2, 3, 6])
def test_beam_never_scores_below_greedy(beam_size: int) -> None:
    for seed in range(6):
        table = second_order_chain(batch=4, V=5, seed=10 + seed)
        result = run(table, beam_size=beam_size, max_length=6)
        for item in range(4):
            _, greedy_score = greedy_reference(table, item, 6)
            assert result.scores[item, 0].item() >= greedy_score - 1e-12


def test_greedy_lane_is_not_returned_twice() -> None:
    table = second_order_chain(batch=2, V=5, seed=3)
    result = run(table, beam_size=5, max_length=4)  # the beam holds the greedy output here
    for item in range(2):
        greedy_tokens, _ = greedy_reference(table, item, 4)
        found = [hypothesis(result, item, rank) for rank in range(5)]
        assert found.count(greedy_tokens) == 1
        assert len({tuple(tokens) for tokens in found}) == 5


def test_batch_items_are_searched_independently() -> None:
    table = second_order_chain(batch=3, V=5, seed=4)
    together = run(table, beam_size=3, max_length=5)
    for item in range(3):
        alone = run(table[item : item + 1], beam_size=3, max_length=5)
        T = alone.tokens.shape[2]
        assert torch.equal(together.tokens[item, :, :T], alone.tokens[0])
        assert (together.tokens[item, :, T:] == EOS).all()  # padding (pad_index = eos_index)
        torch.testing.assert_close(together.scores[item], alone.scores[0])


# ---------------------------------------------------------------------------------------------
# <eos>, max_length, padding and extras
# ---------------------------------------------------------------------------------------------


def test_finished_hypotheses_stop_and_are_padded() -> None:
    table = second_order_chain(batch=2, V=5, seed=5)
    table[:, :, :, EOS] += 1.5  # end early and often
    table = table.log_softmax(-1)
    result = run(table, beam_size=3, max_length=6, pad_index=4)
    assert result.finished.any()
    for item, rank in itertools.product(range(2), range(3)):
        length = int(result.lengths[item, rank])
        tokens = result.tokens[item, rank]
        if result.finished[item, rank]:
            assert tokens[length - 1] == EOS
            assert (tokens[: length - 1] != EOS).all()
            assert (tokens[length:] == 4).all()
        else:
            assert length == 6 and (tokens != EOS).all()


def test_search_stops_when_every_hypothesis_has_finished() -> None:
    V = 4
    table = torch.full((1, V, V, V), float("-inf"), dtype=torch.float64)
    table[..., 2], table[..., 3] = math.log(0.6), math.log(0.4)  # two tokens...
    table[:, :, 2:, :] = float("-inf")
    table[:, :, 2, EOS] = 0.0  # ...<eos> surely follows token 2...
    table[:, :, 3, 2] = 0.0  # ...and token 2 surely follows token 3
    calls = []

    def counting_step(tokens, state):
        calls.append(len(tokens))
        return chain_step(table)(tokens, state)

    result = beam_search(
        counting_step,
        chain_start(1),
        batch_size=1,
        bos_index=BOS,
        eos_index=EOS,
        max_length=50,
        beam_size=2,
    )
    assert len(calls) == 3  # "3 2 <eos>" ends at step 3; nothing runs to max_length=50
    assert result.tokens.shape == (1, 2, 3)
    assert hypothesis(result, 0, 0) == [2, EOS] and hypothesis(result, 0, 1) == [3, 2, EOS]
    assert result.finished.all()


def test_max_length_cuts_hypotheses_that_never_end() -> None:
    table = second_order_chain(batch=2, V=5, seed=6)
    table[..., EOS] = float("-inf")
    result = run(table, beam_size=3, max_length=4)
    assert result.tokens.shape == (2, 3, 4)
    assert (result.lengths == 4).all() and not result.finished.any()
    assert torch.isfinite(result.scores).all()


def test_surplus_places_of_a_small_search_space_score_minus_infinity() -> None:
    table = second_order_chain(batch=1, V=3, seed=7)  # outputs of length 1: <eos> or 2
    result = run(table, beam_size=4, max_length=1)
    assert torch.isfinite(result.scores[0, :2]).all()
    assert (result.scores[0, 2:] == float("-inf")).all()
    assert sorted(hypothesis(result, 0, rank) for rank in range(2)) == [[EOS], [2]]


def test_extras_follow_each_hypothesis_back_to_its_own_prefix() -> None:
    table = second_order_chain(batch=2, V=5, seed=8)

    def step_with_input(tokens, state):
        log_probs, state = chain_step(table)(tokens, state)
        return log_probs, state, tokens.unsqueeze(1) * 10  # (N, 1) the token fed in

    result = beam_search(
        step_with_input,
        chain_start(2),
        batch_size=2,
        bos_index=BOS,
        eos_index=EOS,
        max_length=5,
        beam_size=3,
    )
    assert result.extras is not None and result.extras.shape == (*result.tokens.shape, 1)
    for item, rank in itertools.product(range(2), range(3)):
        tokens = hypothesis(result, item, rank)
        fed = result.extras[item, rank, : len(tokens), 0].tolist()
        assert fed == [10 * t for t in [BOS, *tokens[:-1]]]
        assert (result.extras[item, rank, len(tokens) :] == 0).all()


def test_length_penalty_matches_gnmt() -> None:
    lengths = torch.tensor([1, 7, 13])
    torch.testing.assert_close(
        gnmt_length_penalty(lengths, 0.0), torch.ones(3, dtype=torch.float64)
    )
    torch.testing.assert_close(
        gnmt_length_penalty(lengths, 1.0), torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)
    )
    assert gnmt_length_penalty(torch.tensor(7), 0.5).item() == pytest.approx(math.sqrt(2))


def test_a_length_penalty_favours_longer_outputs() -> None:
    table = second_order_chain(batch=8, V=5, seed=9)
    short = run(table, beam_size=4, max_length=6, length_penalty=0.0)
    long = run(table, beam_size=4, max_length=6, length_penalty=3.0)
    assert (long.lengths[:, 0] >= short.lengths[:, 0]).all()
    assert (long.lengths[:, 0] > short.lengths[:, 0]).any()


def test_select_rows_reorders_nested_states() -> None:
    state = {"h": (torch.arange(3), [torch.arange(6).view(3, 2)]), "none": None}
    index = torch.tensor([2, 2, 0])
    moved = select_rows(state, index)
    assert moved["h"][0].tolist() == [2, 2, 0]
    assert moved["h"][1][0].tolist() == [[4, 5], [4, 5], [0, 1]]
    assert moved["none"] is None
    with pytest.raises(TypeError, match="reorder_state"):
        select_rows(object(), index)


# ---------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"beam_size": 0}, "beam_size"),
        ({"max_length": 0}, "max_length"),
        ({"length_penalty": -0.5}, "length_penalty"),
        ({"eos_index": 9}, "eos_index=9"),
        ({"bos_index": -1}, "bos_index=-1"),
        ({"pad_index": 5}, "pad_index=5"),
    ],
)
def test_bad_arguments_raise_value_errors(kwargs: dict, message: str) -> None:
    table = second_order_chain(batch=1, V=5, seed=0)
    with pytest.raises(ValueError, match=message):
        run(table, **kwargs)


def test_bad_step_outputs_raise_value_errors() -> None:
    table = second_order_chain(batch=2, V=5, seed=0)
    options = dict(batch_size=2, bos_index=BOS, eos_index=EOS, max_length=3)

    def wrong_rows(tokens, state):
        log_probs, state = chain_step(table)(tokens, state)
        return log_probs[:1], state

    with pytest.raises(ValueError, match=r"shape \(N=12, V\)"):
        beam_search(wrong_rows, chain_start(2), **options)
    with pytest.raises(ValueError, match="must return"):
        beam_search(lambda tokens, state: table, chain_start(2), **options)
