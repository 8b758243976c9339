"""Tests of the seq2seq attention modules: masking, padding, shapes, gradients, learning."""

from __future__ import annotations

import pytest
import torch

from rnnkit.structures.attention import (
    ATTENTION_KINDS,
    Attention,
    BahdanauAttention,
    LuongAttention,
    make_attention,
    masked_softmax,
)

KINDS = [kind for kind in ATTENTION_KINDS if kind != "none"]
Q, K, V = 5, 4, 3  # query, key and value sizes used throughout


def build(kind: str, query_size: int = Q, key_size: int = K) -> Attention:
    if kind == "luong-dot":
        query_size = key_size  # dot attention needs equal sizes
    torch.manual_seed(0)
    attn = make_attention(kind, query_size, key_size, attention_size=6)
    assert attn is not None
    return attn.double()


def source_batch(
    lengths: list[int], S: int, query_size: int, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(query (B, Hq), keys (B, S, K), values (B, S, V), mask (B, S)) with garbage in padding."""
    g = torch.Generator().manual_seed(seed)
    B = len(lengths)
    mask = torch.arange(S) < torch.tensor(lengths).unsqueeze(1)  # (B, S)
    query = torch.randn(B, query_size, generator=g, dtype=torch.float64)
    keys = torch.randn(B, S, K, generator=g, dtype=torch.float64)
    values = torch.randn(B, S, V, generator=g, dtype=torch.float64)
    # Large padding values would dominate the softmax and the context if they leaked in.
    keys[~mask] = 50.0
    values[~mask] = 1e3
    return query, keys, values, mask


# ---------------------------------------------------------------------------------------------
# Masking and padding
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_weights_sum_to_one_over_valid_positions_and_are_zero_on_padding(kind: str) -> None:
    attn = build(kind)
    query, keys, values, mask = source_batch([5, 2, 1, 4], S=5, query_size=attn.query_size)
    context, weights = attn(query, keys, mask, values)
    assert context.shape == (4, V) and weights.shape == (4, 5)
    assert (weights[~mask] == 0).all()
    assert (weights[mask] > 0).all()
    torch.testing.assert_close(weights.sum(1), torch.ones(4, dtype=torch.float64))
    torch.testing.assert_close(context, torch.einsum("bs,bsv->bv", weights, values))


@pytest.mark.parametrize("kind", KINDS)
def test_row_without_valid_positions_gives_zero_weights_and_context(kind: str) -> None:
    attn = build(kind)
    query, keys, values, mask = source_batch([3, 0], S=3, query_size=attn.query_size)
    query.requires_grad_()
    keys.requires_grad_()
    context, weights = attn(query, keys, mask, values)
    assert (weights[1] == 0).all() and (context[1] == 0).all()
    torch.testing.assert_close(weights[0].sum(), torch.tensor(1.0, dtype=torch.float64))
    (context.sum() + weights.sum()).backward()
    assert query.grad is not None and keys.grad is not None
    assert torch.isfinite(query.grad).all() and torch.isfinite(keys.grad).all()
    assert (query.grad[1] == 0).all()


@pytest.mark.parametrize("kind", KINDS)
def test_padding_changes_nothing(kind: str) -> None:
    attn = build(kind)
    lengths = [6, 3, 1, 5]
    query, keys, values, mask = source_batch(lengths, S=6, query_size=attn.query_size, seed=1)
    context, weights = attn(query, keys, mask, values)
    for b, length in enumerate(lengths):
        alone_context, alone_weights = attn(
            query[b : b + 1], keys[b : b + 1, :length], values=values[b : b + 1, :length]
        )
        torch.testing.assert_close(context[b : b + 1], alone_context)
        torch.testing.assert_close(weights[b : b + 1, :length], alone_weights)


def test_masked_softmax_matches_softmax_over_the_valid_slice() -> None:
    scores = torch.randn(3, 4, 6, dtype=torch.float64)
    mask = torch.rand(3, 1, 6) > 0.3
    mask[0, 0, :] = False  # one fully masked slice
    weights = masked_softmax(scores, mask)
    for b in range(3):
        for t in range(4):
            valid = mask[b, 0]
            if valid.any():
                torch.testing.assert_close(weights[b, t, valid], scores[b, t, valid].softmax(0))
            else:
                assert (weights[b, t] == 0).all()
            assert (weights[b, t, ~valid] == 0).all()
    torch.testing.assert_close(masked_softmax(scores, None), scores.softmax(-1))


# ---------------------------------------------------------------------------------------------
# Single step, multi step, cached keys
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_multi_step_equals_one_step_at_a_time(kind: str) -> None:
    attn = build(kind)
    _, keys, values, mask = source_batch([4, 2, 3], S=4, query_size=attn.query_size)
    queries = torch.randn(3, 5, attn.query_size, dtype=torch.float64)  # (B, Tq, Hq)
    context, weights = attn(queries, keys, mask, values)
    assert context.shape == (3, 5, V) and weights.shape == (3, 5, 4)
    projected = attn.precompute_keys(keys)
    for t in range(5):
        step_context, step_weights = attn(
            queries[:, t], keys, mask, values, projected_keys=projected
        )
        torch.testing.assert_close(context[:, t], step_context)
        torch.testing.assert_close(weights[:, t], step_weights)


@pytest.mark.parametrize("kind", KINDS)
def test_precomputed_keys_give_the_same_result(kind: str) -> None:
    attn = build(kind)
    query, keys, values, mask = source_batch([3, 2], S=3, query_size=attn.query_size)
    projected = attn.precompute_keys(keys)
    assert projected.shape == (2, 3, attn.projected_key_size)
    direct = attn(query, keys, mask, values)
    cached = attn(query, keys, mask, values, projected_keys=projected)
    torch.testing.assert_close(direct, cached)


def test_values_default_to_keys() -> None:
    attn = build("luong-general")
    query, keys, _, mask = source_batch([3, 1], S=3, query_size=Q)
    torch.testing.assert_close(attn(query, keys, mask), attn(query, keys, mask, keys))


# ---------------------------------------------------------------------------------------------
# Equations
# ---------------------------------------------------------------------------------------------


def test_dot_attention_matches_manual_computation() -> None:
    attn = LuongAttention(K, K, "dot")
    assert not list(attn.parameters())
    query, keys, values, mask = source_batch([4, 2], S=4, query_size=K)
    context, weights = attn(query, keys, mask, values)
    for b in range(2):
        valid = mask[b]
        scores = keys[b, valid] @ query[b]  # (S_b,)
        want_weights = torch.exp(scores) / torch.exp(scores).sum()
        torch.testing.assert_close(weights[b, valid], want_weights)
        torch.testing.assert_close(context[b], want_weights @ values[b, valid])


def test_general_and_concat_and_bahdanau_scores_match_their_equations() -> None:
    torch.manual_seed(0)
    q = torch.randn(1, 1, Q, dtype=torch.float64)
    k = torch.randn(1, 3, K, dtype=torch.float64)

    general = LuongAttention(Q, K, "general").double()
    want = torch.stack([q[0, 0] @ general.W.weight @ k[0, s] for s in range(3)])
    torch.testing.assert_close(general.score(q, general.precompute_keys(k))[0, 0], want)

    concat = LuongAttention(Q, K, "concat").double()
    W = torch.cat([concat.W_q.weight, concat.W_k.weight], dim=1)  # W [q; k], (A, Q + K)
    want = torch.stack(
        [concat.v.weight[0] @ torch.tanh(W @ torch.cat([q[0, 0], k[0, s]])) for s in range(3)]
    )
    torch.testing.assert_close(concat.score(q, concat.precompute_keys(k))[0, 0], want)

    additive = BahdanauAttention(Q, K, 7).double()
    want = torch.stack(
        [
            additive.v.weight[0]
            @ torch.tanh(additive.W_q.weight @ q[0, 0] + additive.W_k.weight @ k[0, s])
            for s in range(3)
        ]
    )
    torch.testing.assert_close(additive.score(q, additive.precompute_keys(k))[0, 0], want)


# ---------------------------------------------------------------------------------------------
# Gradients
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_gradcheck(kind: str) -> None:
    attn = build(kind)
    query, keys, values, mask = source_batch([3, 1, 2], S=3, query_size=attn.query_size)
    keys[~mask] = torch.randn(int((~mask).sum()), K, dtype=torch.float64)  # keep it well-scaled
    params = {name: p.detach().clone().requires_grad_() for name, p in attn.named_parameters()}
    names = list(params)
    inputs = [t.requires_grad_() for t in (query, keys, values)]

    def attend(query, keys, values, *param_values):
        return torch.func.functional_call(
            attn, dict(zip(names, param_values, strict=True)), (query, keys, mask, values)
        )

    assert torch.autograd.gradcheck(attend, (*inputs, *params.values()))


# ---------------------------------------------------------------------------------------------
# Construction and validation
# ---------------------------------------------------------------------------------------------


def test_factory() -> None:
    assert make_attention("none", 4, 4) is None
    assert isinstance(make_attention("bahdanau", 4, 3), BahdanauAttention)
    for method in ("dot", "general", "concat"):
        attn = make_attention(f"luong-{method}", 4, 4)
        assert isinstance(attn, LuongAttention) and attn.method == method
    bahdanau = make_attention("bahdanau", 4, 3)
    assert isinstance(bahdanau, BahdanauAttention) and bahdanau.attention_size == 4
    concat = make_attention("luong-concat", 4, 3, attention_size=9)
    assert isinstance(concat, LuongAttention) and concat.attention_size == 9
    with pytest.raises(ValueError, match="luong-general"):
        make_attention("luong", 4, 4)


def test_luong_dot_size_mismatch_raises() -> None:
    with pytest.raises(ValueError, match="query_size == key_size"):
        LuongAttention(5, 4, "dot")
    with pytest.raises(ValueError, match="query_size == key_size"):
        make_attention("luong-dot", 5, 4)


def test_constructor_validation() -> None:
    with pytest.raises(ValueError, match="method"):
        LuongAttention(4, 4, "location")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="attention_size only applies"):
        LuongAttention(4, 4, "general", attention_size=3)
    with pytest.raises(ValueError, match="attention_size"):
        BahdanauAttention(4, 4, 0)
    with pytest.raises(ValueError, match="query_size"):
        BahdanauAttention(0, 4, 3)


def test_call_validation() -> None:
    attn = build("bahdanau")
    query, keys, values, mask = source_batch([2, 2], S=2, query_size=Q)
    with pytest.raises(ValueError, match=r"keys must have shape \(B, S, key_size=4\)"):
        attn(query, keys[..., :3])
    with pytest.raises(ValueError, match=r"query must have shape \(B=2, query_size=5\)"):
        attn(query[:, :4], keys)
    with pytest.raises(ValueError, match="query must have shape"):
        attn(query[:1], keys)
    with pytest.raises(ValueError, match=r"mask must be a bool tensor of shape \(B=2, S=2\)"):
        attn(query, keys, mask.long())
    with pytest.raises(ValueError, match="mask must be"):
        attn(query, keys, mask[:, :1])
    with pytest.raises(ValueError, match=r"values must have shape \(B=2, S=2, Hv\)"):
        attn(query, keys, mask, values[:, :1])
    with pytest.raises(ValueError, match="projected_keys must have shape"):
        attn(query, keys, mask, projected_keys=keys)


# ---------------------------------------------------------------------------------------------
# Learning
# ---------------------------------------------------------------------------------------------


def matching_task(
    B: int, g: torch.Generator, embed_query: torch.Tensor, embed_key: torch.Tensor, S: int = 6
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Each source holds distinct symbols; the query is one of them, embedded differently.

    Returns ``(query (B, D), keys (B, S, D), mask (B, S), target (B,))``.
    """
    vocab = embed_key.shape[0]
    symbols = torch.rand(B, vocab, generator=g).argsort(1)[:, :S]  # (B, S), distinct per row
    lengths = torch.randint(2, S + 1, (B,), generator=g)
    mask = torch.arange(S) < lengths.unsqueeze(1)  # (B, S)
    target = (torch.rand(B, generator=g) * lengths).long()  # (B,), a valid position
    query_symbols = symbols.gather(1, target.unsqueeze(1)).squeeze(1)  # (B,)
    return embed_query[query_symbols], embed_key[symbols], mask, target


@pytest.mark.parametrize("kind", ["bahdanau", "luong-general", "luong-concat"])
def test_learns_to_attend_to_the_matching_key(kind: str) -> None:
    """Query and key embeddings of a symbol are unrelated random vectors, so the score function
    has to learn which query goes with which key."""
    g = torch.Generator().manual_seed(0)
    vocab, D = 10, 12
    embed_query = torch.randn(vocab, D, generator=g)
    embed_key = torch.randn(vocab, D, generator=g)
    torch.manual_seed(0)
    attn = make_attention(kind, D, D, attention_size=32)
    assert attn is not None
    test_set = matching_task(1000, g, embed_query, embed_key)

    def accuracy() -> float:
        query, keys, mask, target = test_set
        with torch.no_grad():
            _, weights = attn(query, keys, mask)
        return (weights.argmax(1) == target).float().mean().item()

    assert accuracy() < 0.5  # untrained: about chance (1 / mean length)
    optimizer = torch.optim.Adam(attn.parameters(), lr=0.02)
    for _ in range(100):
        query, keys, mask, target = matching_task(64, g, embed_query, embed_key)
        _, weights = attn(query, keys, mask)
        # Cross-entropy of the attention distribution against the matching position.
        loss = -weights.gather(1, target.unsqueeze(1)).clamp_min(1e-12).log().mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert accuracy() > 0.95
