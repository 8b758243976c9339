"""Tests of rnnkit.data.padding."""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence
from torch.utils.data import DataLoader

from rnnkit.data.padding import Seq2SeqBatch, collate_pairs, pad_sequences


def test_back_and_front_padding_of_token_ids() -> None:
    seqs = [[1, 2, 3], [4], [5, 6]]
    back, lengths = pad_sequences(seqs, padding_value=9)
    assert back.tolist() == [[1, 2, 3], [4, 9, 9], [5, 6, 9]]
    assert back.dtype == torch.int64
    assert lengths.tolist() == [3, 1, 2] and lengths.dtype == torch.int64
    front, _ = pad_sequences(seqs, padding_value=9, side="front")
    assert front.tolist() == [[1, 2, 3], [9, 9, 4], [9, 5, 6]]


def test_features_tensors_and_arrays() -> None:
    a = torch.arange(6, dtype=torch.float32).reshape(3, 2)
    b = np.ones((1, 2), dtype=np.float32)
    padded, lengths = pad_sequences([a, b], padding_value=-1.0)
    assert padded.shape == (2, 3, 2) and padded.dtype == torch.float32
    assert torch.equal(padded[0], a)
    assert padded[1].tolist() == [[1.0, 1.0], [-1.0, -1.0], [-1.0, -1.0]]
    front, _ = pad_sequences([a, b], side="front")
    assert front[1].tolist() == [[0.0, 0.0], [0.0, 0.0], [1.0, 1.0]]
    assert lengths.tolist() == [3, 1]


def test_dtype_inference_and_override() -> None:
    assert pad_sequences([[1.5], [2]])[0].dtype == torch.float32
    assert pad_sequences([[1], []])[0].dtype == torch.int64  # [] does not make it float
    assert pad_sequences([[], []])[0].shape == (2, 0)
    assert pad_sequences([[], []])[0].dtype == torch.int64
    assert pad_sequences([[1], [2]], dtype=torch.float64)[0].dtype == torch.float64
    with pytest.raises(ValueError, match=r"padding_value=0\.5 does not fit dtype torch\.int64"):
        pad_sequences([[1], [2, 3]], padding_value=0.5)


def test_empty_sequence_in_a_feature_batch() -> None:
    padded, lengths = pad_sequences([np.ones((2, 3)), []], dtype=torch.float32)
    assert padded.shape == (2, 2, 3)
    assert padded[1].abs().sum() == 0
    assert lengths.tolist() == [2, 0]


def test_max_len_and_truncation() -> None:
    seqs = [[1, 2, 3, 4], [5]]
    padded, _ = pad_sequences([[1, 2], [3]], max_len=4)
    assert padded.tolist() == [[1, 2, 0, 0], [3, 0, 0, 0]]
    with pytest.raises(ValueError, match=r"sequence 0 has length 4 > max_len=3.*truncate="):
        pad_sequences(seqs, max_len=3)
    back, lengths = pad_sequences(seqs, max_len=3, truncate="back")
    assert back.tolist() == [[1, 2, 3], [5, 0, 0]] and lengths.tolist() == [3, 1]
    front, _ = pad_sequences(seqs, max_len=3, truncate="front", side="front")
    assert front.tolist() == [[2, 3, 4], [0, 0, 5]]
    with pytest.raises(ValueError, match="max_len must be a positive int"):
        pad_sequences(seqs, max_len=0)


def test_back_padding_matches_torch_and_packs() -> None:
    seqs = [torch.randn(n, 3) for n in (4, 2, 5)]
    padded, lengths = pad_sequences(seqs)
    expected = torch.nn.utils.rnn.pad_sequence(seqs, batch_first=True)
    assert torch.equal(padded, expected)
    packed = pack_padded_sequence(padded, lengths, batch_first=True, enforce_sorted=False)
    assert packed.data.shape == (11, 3)


def test_gradients_flow_through_padding() -> None:
    x = torch.randn(3, 2, requires_grad=True)
    padded, _ = pad_sequences([x, torch.randn(1, 2)], side="front")
    padded.sum().backward()
    assert torch.equal(x.grad, torch.ones(3, 2))


@pytest.mark.parametrize(
    ("seqs", "kwargs", "message"),
    [
        ([], {}, "empty batch"),
        ([[1], [2]], {"side": "left"}, r"side must be one of \['back', 'front'\], got 'left'"),
        ([[1], [2]], {"max_len": 2, "truncate": "end"}, "truncate must be one of"),
        (
            [np.ones((2, 3)), np.ones((2, 3)), np.ones((2, 4))],
            {},
            r"sequence 2 has per-step shape \(4,\), but sequence 0 has \(3,\)",
        ),
        ([[1, 2], [[1, 2]]], {}, r"sequence 1 has per-step shape \(2,\), but sequence 0 has \(\)"),
        ([[1], 5], {}, "sequence 1 is a scalar"),
        ([[1], "ab"], {}, "sequence 1 is a str"),
        ([[1], [[1, 2], [3]]], {}, "sequence 1 cannot be made into a tensor"),
    ],
)
def test_validation(seqs: list, kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        pad_sequences(seqs, **kwargs)


def test_collate_pairs() -> None:
    batch = [([1, 2, 3], [7]), ([4], [8, 9, 10])]
    out = collate_pairs(batch, 0, -1, src_side="front")
    assert isinstance(out, Seq2SeqBatch)
    src, src_lengths, tgt, tgt_lengths = out
    assert src.tolist() == [[1, 2, 3], [0, 0, 4]]
    assert tgt.tolist() == [[7, -1, -1], [8, 9, 10]]  # targets always at the back
    assert src_lengths.tolist() == [3, 1] and tgt_lengths.tolist() == [1, 3]
    assert collate_pairs(batch, 0, -1).src.tolist() == [[1, 2, 3], [4, 0, 0]]


def test_collate_pairs_in_a_dataloader() -> None:
    pairs = [([1] * n, [2] * (6 - n)) for n in range(1, 6)]
    collate = partial(collate_pairs, src_pad=0, tgt_pad=0)
    loader = DataLoader(pairs, batch_size=2, collate_fn=collate)
    batches = list(loader)
    assert [b.src.shape[0] for b in batches] == [2, 2, 1]
    assert batches[0].tgt_lengths.tolist() == [5, 4]


def test_collate_pairs_errors() -> None:
    with pytest.raises(ValueError, match="empty batch"):
        collate_pairs([], 0, 0)
    with pytest.raises(ValueError, match=r"batch item 1 must be a \(source, target\) pair"):
        collate_pairs([([1], [2]), ([1], [2], [3])], 0, 0)
    with pytest.raises(ValueError, match="src_side must be one of"):
        collate_pairs([([1], [2])], 0, 0, src_side="left")
    bad_src = [(np.ones((1, 2)), [1]), (np.ones((1, 3)), [2])]
    with pytest.raises(ValueError, match=r"^sources: sequence 1 has per-step shape"):
        collate_pairs(bad_src, 0, 0)
    with pytest.raises(ValueError, match=r"^targets: sequence 0 is a scalar"):
        collate_pairs([([1], 5)], 0, 0)
