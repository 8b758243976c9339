"""Tests of the encoder–decoder: learning, padding, decoding, teacher forcing, errors, summary."""

from __future__ import annotations

import itertools

import pytest
import torch

import rnnkit
from rnnkit.losses import sequence_loss
from rnnkit.structures.attention import ATTENTION_KINDS
from rnnkit.structures.seq2seq import Seq2Seq, reverse_within_lengths
from rnnkit.text import Embedding, Vocab

PAD, BOS, EOS = 0, 2, 3  # Vocab's default specials: <pad> <unk> <bos> <eos>
V = 14  # 4 specials + 10 regular tokens


pytestmark = pytest.mark.usefixtures("one_thread")


def model(**kwargs) -> Seq2Seq:
    options = dict(pad_index=PAD, bos_index=BOS, eos_index=EOS, embedding_dim=6, hidden_size=8)
    torch.manual_seed(0)
    return Seq2Seq(V, V, **(options | kwargs))


def reversal_batch(
    g: torch.Generator, batch: int, shortest: int = 3, longest: int = 8
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Random token sequences and their reversals, padded with <pad>."""
    lengths = torch.randint(shortest, longest + 1, (batch,), generator=g)
    src = torch.full((batch, longest), PAD)
    tgt = torch.full((batch, longest), PAD)
    for b, n in enumerate(lengths.tolist()):
        tokens = torch.randint(4, V, (n,), generator=g)
        src[b, :n], tgt[b, :n] = tokens, tokens.flip(0)
    return src, lengths, tgt, lengths.clone()


def token_accuracy(net: Seq2Seq, src, src_lengths, tgt, tgt_lengths) -> float:
    """Fraction of the target tokens (and <eos>) that greedy decoding gets right, in place."""
    decoded = net.greedy_decode(src, src_lengths, max_length=tgt.shape[1] + 1)
    _, tgt_out, mask = net.shift_target(tgt, tgt_lengths)
    predicted = torch.full_like(tgt_out, -1)
    T = min(decoded.tokens.shape[1], tgt_out.shape[1])
    predicted[:, :T] = decoded.tokens[:, :T]
    return ((predicted == tgt_out) & mask).sum().item() / mask.sum().item()


def train(net: Seq2Seq, steps: int, seed: int = 1, lr: float = 0.01) -> None:
    optimizer = torch.optim.Adam(net.parameters(), lr=lr)
    g = torch.Generator().manual_seed(seed)
    net.train()
    for _ in range(steps):
        loss = net.loss(*reversal_batch(g, 32))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    net.eval()


# ---------------------------------------------------------------------------------------------
# Learning
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("attention", ["bahdanau", "luong-general"])
def test_learns_to_reverse_sequences(attention: str) -> None:
    net = model(cell="lstm", attention=attention, embedding_dim=32, hidden_size=64)
    test_set = reversal_batch(torch.Generator().manual_seed(2), 200)
    assert token_accuracy(net.eval(), *test_set) < 0.3  # chance is about 1/10
    train(net, steps=200)
    assert token_accuracy(net, *test_set) >= 0.95


SMOKE_CONFIGS = [
    dict(cell="rnn"),
    dict(cell="gru"),
    dict(cell="lstm"),
    dict(cell="lstm", peephole=True),
    dict(cell="gru", bidirectional_encoder=True, num_layers=2),
    dict(cell="rnn", attention="none"),
    dict(cell="lstm", attention="luong-concat", bidirectional_encoder=True),
    dict(cell="gru", attention="luong-dot", reverse_source=True),
]


@pytest.mark.parametrize("config", SMOKE_CONFIGS, ids=str)
def test_every_configuration_trains(config: dict) -> None:
    net = model(embedding_dim=16, hidden_size=32, **config)
    held_out = reversal_batch(torch.Generator().manual_seed(99), 64)
    with torch.no_grad():
        before = net.loss(*held_out).item()
    train(net, steps=40, seed=0)
    with torch.no_grad():
        after = net.loss(*held_out).item()
    # Chance is log 14 ≈ 2.6 and token frequencies alone give log 10 ≈ 2.3 (a ratio of 0.87).
    assert after < 0.8 * before


# ---------------------------------------------------------------------------------------------
# The equations of the module docstring, written out with the model's own parts
# ---------------------------------------------------------------------------------------------


def reference_logits(net: Seq2Seq, src: torch.Tensor, tgt_in: torch.Tensor) -> torch.Tensor:
    """Step-by-step logits ``(T, V)`` for one unpadded sequence, from the docstring's equations
    (a unidirectional encoder, so the decoder starts from the encoder's final state)."""
    memory, h = net.encoder(net.src_embedding(src))  # (1, S, H), (L, 1, H)
    attentional = torch.zeros(1, net.hidden_size)  # h̃_0
    logits = []
    for t in range(tgt_in.shape[1]):
        e = net.tgt_embedding(tgt_in[:, t])  # (1, E)
        if net.attention_kind == "bahdanau":
            c, _ = net.attention(h[-1], memory)  # a_t = align(h_{t-1}, m)
            out, h = net.decoder(torch.cat([e, c], -1).unsqueeze(1), h)
        else:
            x = torch.cat([e, attentional], -1) if net.input_feeding else e
            out, h = net.decoder(x.unsqueeze(1), h)
            c, _ = net.attention(out[:, 0], memory)  # a_t = align(h_t, m)
        attentional = torch.tanh(net.combine(torch.cat([c, out[:, 0]], -1)))
        logits.append(net.output(attentional)[0])
    return torch.stack(logits)


@pytest.mark.parametrize(
    "config",
    [
        dict(attention="bahdanau"),
        dict(attention="luong-general"),  # with input feeding
        dict(attention="luong-dot", input_feeding=False),
        dict(attention="luong-concat", num_layers=2),
    ],
    ids=str,
)
def test_decoder_follows_the_documented_equations(config: dict) -> None:
    net = model(cell="gru", **config).eval()
    g = torch.Generator().manual_seed(21)
    src, tgt_in = torch.randint(0, V, (1, 5), generator=g), torch.randint(0, V, (1, 4), generator=g)
    expected = reference_logits(net, src, tgt_in)
    torch.testing.assert_close(net(src, [5], tgt_in).logits[0], expected)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_bridge_combines_both_directions_of_every_layer(cell: str) -> None:
    net = model(cell=cell, bidirectional_encoder=True, num_layers=2).eval()
    src, lengths = (
        torch.randint(0, V, (3, 5), generator=torch.Generator().manual_seed(22)),
        [5, 2, 3],
    )
    _, final = net.encoder(net.src_embedding(src), lengths=lengths)  # (2L, B, H) per state
    finals = final if cell == "lstm" else (final,)
    maps = [net.bridge.hidden, net.bridge.cell][: len(finals)]
    initial = net.encode(src, lengths).initial_state
    initial = initial if cell == "lstm" else (initial,)
    for state, bridged, linears in zip(finals, initial, maps, strict=True):
        for layer in range(2):
            both = torch.cat([state[2 * layer], state[2 * layer + 1]], dim=-1)  # [→h; ←h]
            torch.testing.assert_close(bridged[layer], torch.tanh(linears[layer](both)))


# ---------------------------------------------------------------------------------------------
# Padding changes nothing
# ---------------------------------------------------------------------------------------------

PADDING_CONFIGS = [
    *(dict(cell="gru", attention=kind) for kind in ATTENTION_KINDS),
    dict(cell="lstm", bidirectional_encoder=True, num_layers=2, reverse_source=True),
    dict(cell="lstm", peephole=True, attention="luong-concat", input_feeding=False),
    dict(cell="rnn", attention="none", bidirectional_encoder=True),
]


@pytest.mark.parametrize("config", PADDING_CONFIGS, ids=str)
def test_padding_changes_nothing(config: dict) -> None:
    net = model(**config).double().eval()
    g = torch.Generator().manual_seed(3)
    src_lengths, tgt_lengths = torch.tensor([5, 2, 4]), torch.tensor([3, 6, 1])
    src = torch.randint(0, V, (3, 7), generator=g)  # padding is random tokens, not <pad>
    tgt_in = torch.randint(0, V, (3, 6), generator=g)
    batch = net(src, src_lengths, tgt_in)
    greedy = net.greedy_decode(src, src_lengths, max_length=5)
    beam = net.beam_search(src, src_lengths, beam_size=3, max_length=5)
    for b in range(3):
        n, m = int(src_lengths[b]), int(tgt_lengths[b])
        alone = net(src[b : b + 1, :n], [n], tgt_in[b : b + 1, :m])
        torch.testing.assert_close(batch.logits[b, :m], alone.logits[0])
        alone_greedy = net.greedy_decode(src[b : b + 1, :n], [n], max_length=5)
        k = int(greedy.lengths[b])
        assert torch.equal(greedy.tokens[b, :k], alone_greedy.tokens[0, :k])
        torch.testing.assert_close(greedy.scores[b], alone_greedy.scores[0])
        alone_beam = net.beam_search(src[b : b + 1, :n], [n], beam_size=3, max_length=5)
        T = alone_beam.tokens.shape[2]
        assert torch.equal(beam.tokens[b, :, :T], alone_beam.tokens[0])
        torch.testing.assert_close(beam.scores[b], alone_beam.scores[0])
        if batch.attention is None:
            assert alone.attention is None and greedy.attention is None
            continue
        torch.testing.assert_close(batch.attention[b, :m, :n], alone.attention[0])
        assert (batch.attention[b, :, n:] == 0).all()
        torch.testing.assert_close(greedy.attention[b, :k, :n], alone_greedy.attention[0, :k])
        assert (greedy.attention[b, :, n:] == 0).all()
        torch.testing.assert_close(beam.attention[b, :, :T, :n], alone_beam.attention[0])
        assert (beam.attention[b, ..., n:] == 0).all()


def test_attention_weights_are_distributions_over_the_real_source() -> None:
    net = model(attention="bahdanau").eval()
    src, src_lengths, tgt, tgt_lengths = reversal_batch(torch.Generator().manual_seed(4), 5)
    tgt_in, _, _ = net.shift_target(tgt, tgt_lengths)
    weights = net(src, src_lengths, tgt_in).attention  # (B, T, S)
    assert weights.shape == (5, tgt_in.shape[1], src.shape[1])
    valid = torch.arange(src.shape[1]) < src_lengths.unsqueeze(1)  # (B, S)
    torch.testing.assert_close(weights.sum(-1), torch.ones(weights.shape[:2]))
    assert (weights.masked_select(~valid.unsqueeze(1)) == 0).all()


def test_source_reversal_reverses_within_each_length_and_reports_weights_in_source_order() -> None:
    reversed_net = model(attention="luong-general", reverse_source=True).eval()
    plain_net = model(attention="luong-general").eval()
    plain_net.load_state_dict(reversed_net.state_dict())
    src = torch.tensor([[4, 5, 6, 7, 0], [8, 9, 0, 0, 0]])
    lengths = torch.tensor([4, 2])
    flipped = torch.tensor([[7, 6, 5, 4, 0], [9, 8, 0, 0, 0]])
    assert torch.equal(reverse_within_lengths(src, lengths), flipped)
    tgt_in = torch.tensor([[BOS, 5, 6], [BOS, 7, 8]])
    by_reversal = reversed_net(src, lengths, tgt_in)
    by_hand = plain_net(flipped, lengths, tgt_in)
    torch.testing.assert_close(by_reversal.logits, by_hand.logits)
    torch.testing.assert_close(
        by_reversal.attention[0, :, :4], by_hand.attention[0, :, :4].flip(-1)
    )
    torch.testing.assert_close(
        by_reversal.attention[1, :, :2], by_hand.attention[1, :, :2].flip(-1)
    )


# ---------------------------------------------------------------------------------------------
# Decoding
# ---------------------------------------------------------------------------------------------

DECODING_CONFIGS = [
    dict(cell="lstm", attention="bahdanau"),
    dict(cell="gru", attention="luong-general", num_layers=2),
    dict(cell="rnn", attention="none", bidirectional_encoder=True),
    dict(cell="lstm", attention="luong-dot", reverse_source=True),
]


def untrained(config: dict) -> Seq2Seq:
    """An untrained model with a sharper output, so that decoding decisions are not all ties."""
    net = model(**config).eval()
    with torch.no_grad():
        net.output.weight.mul_(4.0)
    return net


@pytest.mark.parametrize("config", DECODING_CONFIGS, ids=str)
def test_beam_of_one_is_greedy_decoding(config: dict) -> None:
    net = untrained(config)
    src, src_lengths, _, _ = reversal_batch(torch.Generator().manual_seed(5), 16)
    greedy = net.greedy_decode(src, src_lengths, max_length=7)
    beam = net.beam_search(src, src_lengths, beam_size=1, max_length=7)
    T = greedy.tokens.shape[1]
    assert beam.tokens.shape == (16, 1, T)
    assert torch.equal(beam.tokens[:, 0], greedy.tokens)
    assert torch.equal(beam.lengths[:, 0], greedy.lengths)
    torch.testing.assert_close(beam.scores[:, 0], greedy.scores)
    if greedy.attention is not None:
        torch.testing.assert_close(beam.attention[:, 0], greedy.attention)


@pytest.mark.parametrize("config", DECODING_CONFIGS, ids=str)
def test_larger_beams_never_score_below_greedy(config: dict) -> None:
    net = untrained(config)
    src, src_lengths, _, _ = reversal_batch(torch.Generator().manual_seed(6), 48)
    greedy = net.greedy_decode(src, src_lengths, max_length=6)
    better = torch.zeros(48, dtype=torch.bool)
    for beam_size in (2, 4):
        beam = net.beam_search(src, src_lengths, beam_size=beam_size, max_length=6)
        assert (beam.scores[:, 0] >= greedy.scores - 1e-5).all()
        better |= beam.scores[:, 0] > greedy.scores + 1e-5
    assert better.any()  # the beam does find better outputs than greedy on some inputs


def teacher_forced_score(net: Seq2Seq, src, src_lengths, tokens, lengths) -> torch.Tensor:
    """Σ_t log p(y_t | y_<t, x) of given outputs, from one teacher-forced forward pass."""
    tgt_in = torch.cat([torch.full_like(tokens[:, :1], BOS), tokens[:, :-1]], dim=1)
    log_probs = net(src, src_lengths, tgt_in).logits.log_softmax(-1)
    chosen = log_probs.gather(2, tokens.unsqueeze(2)).squeeze(2)  # (B, T)
    valid = torch.arange(tokens.shape[1]) < lengths.unsqueeze(1)
    return (chosen * valid).sum(1).double()


@pytest.mark.parametrize("config", DECODING_CONFIGS, ids=str)
def test_decoded_scores_are_the_model_scores_of_the_decoded_tokens(config: dict) -> None:
    net = untrained(config)
    src, src_lengths, _, _ = reversal_batch(torch.Generator().manual_seed(7), 6)
    greedy = net.greedy_decode(src, src_lengths, max_length=6)
    expected = teacher_forced_score(net, src, src_lengths, greedy.tokens, greedy.lengths)
    torch.testing.assert_close(greedy.scores, expected, rtol=0, atol=1e-4)
    beam = net.beam_search(src, src_lengths, beam_size=3, max_length=6, length_penalty=0.8)
    for k in range(3):
        tokens, lengths = beam.tokens[:, k], beam.lengths[:, k]
        expected = teacher_forced_score(net, src, src_lengths, tokens, lengths)
        torch.testing.assert_close(beam.scores[:, k], expected, rtol=0, atol=1e-4)
    lp = ((5 + beam.lengths.double()) / 6) ** 0.8
    torch.testing.assert_close(beam.normalized_scores, beam.scores / lp)
    assert (beam.normalized_scores[:, :-1] >= beam.normalized_scores[:, 1:]).all()


def biased_towards_eos(bias: float) -> Seq2Seq:
    net = untrained(dict(cell="gru"))
    with torch.no_grad():
        net.output.bias[EOS] += bias
    return net


def test_decoding_stops_at_eos_and_pads_after_it() -> None:
    net = biased_towards_eos(1e4)  # <eos> at once, every time
    src, src_lengths, _, _ = reversal_batch(torch.Generator().manual_seed(8), 4)
    greedy = net.greedy_decode(src, src_lengths, max_length=9)
    assert greedy.tokens.tolist() == [[EOS]] * 4 and greedy.lengths.tolist() == [1] * 4
    beam = net.beam_search(src, src_lengths, beam_size=3, max_length=9)
    assert (beam.tokens[:, 0, 0] == EOS).all() and (beam.tokens[:, 0, 1:] == PAD).all()
    assert (beam.lengths[:, 0] == 1).all() and beam.finished[:, 0].all()

    net = untrained(dict(cell="gru"))  # a mix of early and late ends
    with torch.no_grad():
        net.output.bias[EOS] += 2.0
    greedy = net.greedy_decode(src, src_lengths, max_length=9)
    beam = net.beam_search(src, src_lengths, beam_size=3, max_length=9)
    for tokens, lengths in [
        (greedy.tokens, greedy.lengths),
        (beam.tokens.flatten(0, 1), beam.lengths.flatten()),
    ]:
        for row, n in zip(tokens.tolist(), lengths.tolist(), strict=True):
            ended = EOS in row[:n]
            assert not ended or row.index(EOS) == n - 1
            assert all(token == PAD for token in row[n:])


def test_decoding_respects_max_length() -> None:
    net = biased_towards_eos(-1e4)  # never ends
    src, src_lengths, _, _ = reversal_batch(torch.Generator().manual_seed(9), 4)
    greedy = net.greedy_decode(src, src_lengths, max_length=5)
    assert greedy.tokens.shape == (4, 5) and (greedy.lengths == 5).all()
    beam = net.beam_search(src, src_lengths, beam_size=2, max_length=5)
    assert beam.tokens.shape == (4, 2, 5) and (beam.lengths == 5).all()
    assert not beam.finished.any()
    default = net.greedy_decode(src, src_lengths)  # 2·S + 10
    assert default.tokens.shape == (4, 2 * src.shape[1] + 10)


# ---------------------------------------------------------------------------------------------
# Teacher forcing
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("config", DECODING_CONFIGS, ids=str)
def test_teacher_forcing_reads_the_gold_inputs_and_only_the_past(config: dict) -> None:
    net = untrained(config)
    src, src_lengths, tgt, tgt_lengths = reversal_batch(torch.Generator().manual_seed(10), 4)
    tgt_in, _, _ = net.shift_target(tgt, tgt_lengths)
    logits = net(src, src_lengths, tgt_in, teacher_forcing_ratio=1.0).logits
    changed = tgt_in.clone()
    changed[:, 3] = (changed[:, 3] + 1 - 4) % 10 + 4  # another regular token
    logits_changed = net(src, src_lengths, changed, teacher_forcing_ratio=1.0).logits
    torch.testing.assert_close(logits_changed[:, :3], logits[:, :3])  # causal
    assert not torch.allclose(logits_changed[:, 3], logits[:, 3])  # reads the gold input


@pytest.mark.parametrize("config", DECODING_CONFIGS, ids=str)
def test_free_running_feeds_back_its_own_predictions(config: dict) -> None:
    net = biased_towards_eos(-1e4) if config == {} else untrained(config)
    with torch.no_grad():
        net.output.bias[EOS] -= 1e4  # no <eos>: greedy decoding runs all steps like forward
    src, src_lengths, _, _ = reversal_batch(torch.Generator().manual_seed(11), 5)
    greedy = net.greedy_decode(src, src_lengths, max_length=6)
    garbage = torch.randint(4, V, (5, 6), generator=torch.Generator().manual_seed(12))
    garbage[:, 0] = BOS
    free = net(src, src_lengths, garbage, teacher_forcing_ratio=0.0)
    assert torch.equal(free.logits.argmax(-1), greedy.tokens)  # only tgt_in[:, 0] was read
    # Teacher forcing with the model's own outputs as gold reproduces the free run.
    own = torch.cat([garbage[:, :1], greedy.tokens[:, :-1]], dim=1)
    forced = net(src, src_lengths, own, teacher_forcing_ratio=1.0)
    torch.testing.assert_close(forced.logits, free.logits)
    if free.attention is not None:
        torch.testing.assert_close(forced.attention, free.attention)


def test_partial_teacher_forcing_mixes_gold_and_predictions_per_row() -> None:
    net = untrained(dict(cell="gru", attention="luong-general", input_feeding=False))
    src, src_lengths, tgt, tgt_lengths = reversal_batch(torch.Generator().manual_seed(13), 64)
    tgt_in, _, _ = net.shift_target(tgt, tgt_lengths)
    forced = net(src, src_lengths, tgt_in, 1.0).logits
    free = net(src, src_lengths, tgt_in, 0.0).logits
    torch.manual_seed(0)
    mixed = net(src, src_lengths, tgt_in, 0.5).logits
    torch.manual_seed(0)
    torch.testing.assert_close(net(src, src_lengths, tgt_in, 0.5).logits, mixed)  # torch's RNG
    torch.testing.assert_close(mixed[:, 0], forced[:, 0])  # the first input is always <bos>
    # Step 1 reads gold or prediction per row: each row matches one of the two runs there
    # (to float32 rounding, as assert_close above: the runs batch their steps differently).
    as_forced = torch.isclose(mixed[:, 1], forced[:, 1], atol=1e-5).all(-1)
    as_free = torch.isclose(mixed[:, 1], free[:, 1], atol=1e-5).all(-1)
    assert (as_forced | as_free).all()
    assert (as_forced & ~as_free).any() and (as_free & ~as_forced).any()


# ---------------------------------------------------------------------------------------------
# Loss, output layers, embeddings, numeric sequences
# ---------------------------------------------------------------------------------------------


def test_shift_target_adds_bos_and_eos_within_each_length() -> None:
    net = model()
    tgt = torch.tensor([[5, 6, 7], [8, 9, 0], [0, 0, 0]])
    tgt_in, tgt_out, mask = net.shift_target(tgt, [3, 2, 0])
    assert tgt_in.tolist() == [[BOS, 5, 6, 7], [BOS, 8, 9, PAD], [BOS, PAD, PAD, PAD]]
    assert tgt_out.tolist() == [[5, 6, 7, EOS], [8, 9, EOS, PAD], [EOS, PAD, PAD, PAD]]
    assert mask.tolist() == [[True] * 4, [True] * 3 + [False], [True] + [False] * 3]


def test_loss_is_the_masked_cross_entropy_of_the_shifted_target() -> None:
    net = model(cell="gru").eval()
    src, src_lengths, tgt, tgt_lengths = reversal_batch(torch.Generator().manual_seed(14), 4)
    tgt_in, tgt_out, mask = net.shift_target(tgt, tgt_lengths)
    expected = sequence_loss(net(src, src_lengths, tgt_in).logits, tgt_out, mask)
    torch.testing.assert_close(net.loss(src, src_lengths, tgt, tgt_lengths), expected)


def test_sampled_softmax_trains_sampled_and_evaluates_exactly() -> None:
    net = model(cell="gru", num_sampled=4)
    src, src_lengths, tgt, tgt_lengths = reversal_batch(torch.Generator().manual_seed(15), 4)
    net.eval()
    exact = net.loss(src, src_lengths, tgt, tgt_lengths)
    tgt_in, tgt_out, mask = net.shift_target(tgt, tgt_lengths)
    torch.testing.assert_close(
        exact, sequence_loss(net(src, src_lengths, tgt_in).logits, tgt_out, mask)
    )
    net.train()
    torch.manual_seed(0)
    sampled = net.loss(src, src_lengths, tgt, tgt_lengths)
    sampled.backward()
    assert not torch.isclose(sampled, exact)
    assert net.output.weight.grad is not None
    assert net.greedy_decode(src, src_lengths, max_length=3).tokens.shape[0] == 4


def test_tied_embeddings_share_one_matrix() -> None:
    tied = model(embedding_dim=8, hidden_size=8, tie_embeddings=True)
    untied = model(embedding_dim=8, hidden_size=8)
    assert tied.output.weight is tied.tgt_embedding.weight
    count = rnnkit.summary(tied).total
    assert count == rnnkit.summary(untied).total - V * 8
    assert count == sum(p.numel() for p in tied.parameters())


def test_given_embeddings_are_used_and_set_the_sizes() -> None:
    src_embedding, tgt_embedding = Embedding(11, 5), Embedding(9, 7, padding_idx=PAD)
    net = Seq2Seq(
        src_embedding=src_embedding,
        tgt_embedding=tgt_embedding,
        pad_index=PAD,
        bos_index=BOS,
        eos_index=EOS,
        hidden_size=8,
    )
    assert net.src_embedding is src_embedding and net.tgt_embedding is tgt_embedding
    assert net.encoder.input_size == 5 and net.tgt_vocab_size == 9
    out = net(torch.randint(0, 11, (2, 4)), [4, 3], torch.randint(0, 9, (2, 3)))
    assert out.logits.shape == (2, 3, 9)


def test_from_vocabs_takes_the_special_tokens_of_the_target_vocabulary() -> None:
    src_vocab = Vocab(["a", "b", "c"])
    tgt_vocab = Vocab(["x", "y"], specials=("<pad>", "<eos>", "<bos>"))
    net = Seq2Seq.from_vocabs(src_vocab, tgt_vocab, embedding_dim=4, hidden_size=4)
    assert (net.pad_index, net.bos_index, net.eos_index) == (0, 2, 1)
    assert net.tgt_vocab_size == 5 and net.src_embedding.num_embeddings == 7
    with pytest.raises(ValueError, match="<bos>"):
        Seq2Seq.from_vocabs(src_vocab, Vocab(["x"], specials=("<pad>", "<eos>")))


def test_numeric_source_and_target_for_forecasting() -> None:
    torch.manual_seed(0)
    net = Seq2Seq(
        src_input_size=2,
        tgt_output_size=1,
        embedding_dim=4,
        hidden_size=16,
        cell="gru",
        attention="luong-general",
    )
    g = torch.Generator().manual_seed(16)

    def series(batch: int) -> tuple[torch.Tensor, ...]:
        """Continue a sine wave: the past (value, step) and the next 4 values."""
        phase = torch.rand(batch, 1, generator=g) * 6.28
        t = torch.arange(10.0)
        wave = torch.sin(phase + 0.5 * t)  # (B, 10)
        src = torch.stack([wave[:, :6], t[:6].expand(batch, 6) / 6], dim=2)  # (B, 6, 2)
        return src, torch.full((batch,), 6), wave[:, 6:].unsqueeze(2), torch.full((batch,), 4)

    held_out = series(32)
    with torch.no_grad():
        before = net.loss(*held_out).item()
    optimizer = torch.optim.Adam(net.parameters(), lr=0.01)
    for _ in range(60):
        loss = net.loss(*series(32))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    net.eval()
    with torch.no_grad():
        assert net.loss(*held_out).item() < 0.5 * before
    src, src_lengths, tgt, _ = held_out
    frames, attention = net.forecast(src, src_lengths, num_steps=4)
    assert frames.shape == (32, 4, 1) and attention.shape == (32, 4, 6)
    free = net(src, src_lengths, torch.zeros_like(tgt), teacher_forcing_ratio=0.0)
    torch.testing.assert_close(frames, free.logits)  # forecast = the free-running decoder
    with pytest.raises(ValueError, match="forecast"):
        net.greedy_decode(src, src_lengths)
    with pytest.raises(ValueError, match="float"):
        net(src, src_lengths, torch.zeros(32, 4, dtype=torch.long))


# ---------------------------------------------------------------------------------------------
# Parameter counts
# ---------------------------------------------------------------------------------------------


def test_summary_counts_every_part() -> None:
    E, H = 6, 8
    gru = 3 * (H * (E + H) + 2 * H)  # one GRU layer, input E
    plain = model(cell="gru", attention="none")
    assert rnnkit.summary(plain).total == 2 * V * E + 2 * gru + H * V + V

    bidirectional = model(cell="lstm", attention="none", bidirectional_encoder=True, num_layers=2)
    rows = rnnkit.summary(bidirectional).rows
    bridge = sum(row.parameters for row in rows if row.name.startswith("bridge"))
    assert bridge == 2 * 2 * (2 * H * H + H)  # layers × (h, c) × Linear(2H → H)
    assert rnnkit.summary(bidirectional).total == sum(p.numel() for p in bidirectional.parameters())
    text = str(rnnkit.summary(model(attention="bahdanau")))
    assert "attention" in text and "combine" in text and "bridge" not in text


# ---------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"cell": "transformer"}, "cell must be one of"),
        ({"attention": "scaled-dot"}, "attention must be one of"),
        ({"bos_index": V}, f"bos_index={V} is not a token"),
        ({"eos_index": -1}, "eos_index=-1 is not a token"),
        ({"pad_index": None}, "needs pad_index"),
        ({"eos_index": PAD}, "eos_index must differ from pad_index"),
        ({"bos_index": PAD}, "bos_index must differ from pad_index"),
        ({"attention": "bahdanau", "input_feeding": True}, "input_feeding applies to Luong"),
        ({"attention": "luong-dot", "bidirectional_encoder": True}, "luong-general"),
        ({"peephole": True, "cell": "gru"}, "peephole"),
        ({"tie_embeddings": True}, "tie_embeddings needs"),
        ({"src_input_size": 3}, "either src_input_size or a source vocabulary"),
        ({"src_embedding": Embedding(5, 6)}, "disagrees with src_embedding"),
    ],
)
def test_bad_configurations_raise_value_errors(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        model(**kwargs)


def test_special_indices_may_share_bos_and_eos() -> None:
    net = model(bos_index=EOS, eos_index=EOS)  # fairseq starts decoding with <eos>
    src, src_lengths, tgt, tgt_lengths = reversal_batch(torch.Generator().manual_seed(17), 2)
    assert torch.isfinite(net.loss(src, src_lengths, tgt, tgt_lengths))


def test_mismatched_inputs_raise_value_errors() -> None:
    net = model()
    src, src_lengths, tgt, tgt_lengths = reversal_batch(torch.Generator().manual_seed(18), 3)
    tgt_in, _, _ = net.shift_target(tgt, tgt_lengths)
    cases = [
        (lambda: net(src, src_lengths[:2], tgt_in), r"src_lengths must have shape \(B,\)"),
        (lambda: net(src, src_lengths + 10, tgt_in), r"src_lengths must lie in \[0, S=8\]"),
        (lambda: net(src, src_lengths.float(), tgt_in), "src_lengths must be integers"),
        (lambda: net(src.float(), src_lengths, tgt_in), "src must be a"),
        (lambda: net(src[0], src_lengths, tgt_in), "src must be a"),
        (lambda: net(src, src_lengths, tgt_in[0]), "tgt_in must be a 2-D"),
        (lambda: net(src, src_lengths, tgt_in[:2]), "batch size 2 but src has 3"),
        (lambda: net(src, src_lengths, tgt_in[:, :0]), "at least one step"),
        (lambda: net(src, src_lengths, tgt_in, 1.5), "teacher_forcing_ratio"),
        (lambda: net.loss(src, src_lengths, tgt.unsqueeze(2), tgt_lengths), "tgt must be a 2-D"),
        (lambda: net.loss(src, src_lengths, tgt, tgt_lengths[:1]), "tgt_lengths must have"),
        (lambda: net.loss(src, src_lengths, tgt, tgt_lengths + 9), "tgt_lengths must lie"),
        (lambda: net.beam_search(src, src_lengths, beam_size=0), "beam_size must be >= 1"),
        (lambda: net.greedy_decode(src, src_lengths, max_length=0), "max_length"),
        (lambda: net.forecast(src, src_lengths, 3), "numeric target"),
    ]
    for call, message in cases:
        with pytest.raises(ValueError, match=message):
            call()


def test_unknown_target_tokens_raise_value_errors() -> None:
    net = model()
    src, src_lengths, tgt, tgt_lengths = reversal_batch(torch.Generator().manual_seed(19), 2)
    with pytest.raises(ValueError, match="out of range"):
        net.loss(src, src_lengths, tgt + V, tgt_lengths)
    with pytest.raises(ValueError, match="out of range"):
        net(src + V, src_lengths, torch.full((2, 1), BOS))


def test_all_cells_layers_and_directions_decode_with_the_right_shapes() -> None:
    src, src_lengths, _, _ = reversal_batch(torch.Generator().manual_seed(20), 2, longest=5)
    for cell, bidirectional, layers in itertools.product(
        ("rnn", "lstm", "gru"), (False, True), (1, 2)
    ):
        net = model(cell=cell, bidirectional_encoder=bidirectional, num_layers=layers).eval()
        beam = net.beam_search(src, src_lengths, beam_size=2, max_length=4)
        assert beam.tokens.shape[:2] == (2, 2) and beam.attention.shape[-1] == 5
