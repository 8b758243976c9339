"""Joint slot filling and intent detection: one encoder, a tag per word and a label per sentence.

::

    chars of w_t ──→ BiLSTM ──→ [c_fwd ; c_bwd]        optional character features of a word
    w_t ──→ embedding ──────────→ x_t = [emb(w_t) ; c_t]
    x_1 … x_T ──→ (bi)directional recurrent layer ──→ h_1 … h_T     (B, T, D·H)
    h_t ──→ one linear layer over all B·T steps ──→ emissions e_t   (B, T, K)
            └─ argmax per step, or CRF Viterbi over the chain ──→ slot tags
    [pool_t h_t ; final states] ──→ linear ──→ intent logits        (B, num_intents)

The intent head reads the final states of the top layer and a pooling of all outputs: their
mean (``intent_pooling="mean"``), or an attention-weighted sum (``"attention"``, as the
intent attention of Liu & Lane 2016): ``a = softmax_t(q · tanh(W h_t + b))`` over the real
words, ``Σ_t a_t h_t``, with a learned query ``q``.

The loss is the tag loss (mean cross entropy over real tokens, or the CRF negative
log-likelihood averaged over sentences) plus the intent cross entropy (mean over sentences
whose intent is known: the id :data:`UNKNOWN_INTENT`, -1, marks a sentence label the model
has no class for, e.g. one seen only in a test file, and adds no intent loss).
Every padded position is masked, so a sentence gets the same outputs alone or padded in a
batch.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnkit.layers import LSTM, make_recurrent
from rnnkit.losses.sequence_loss import lengths_to_mask, sequence_loss
from rnnkit.structures.attention_pooling import AttentionPooling
from rnnkit.structures.crf import CRF, TransitionConstraints
from rnnkit.structures.encoder import Lengths, check_positive, checked_ids, sequence_lengths
from rnnkit.text.embedding import Embedding

__all__ = ["INTENT_POOLINGS", "UNKNOWN_INTENT", "JointTagger"]

#: intent id of a sentence whose label is not one of the model's classes
UNKNOWN_INTENT = -1

Reduction = Literal["mean", "sum"]
IntentPooling = Literal["mean", "attention"]
INTENT_POOLINGS = ("mean", "attention")
# weight names of runs saved before the intent attention was an AttentionPooling
_RENAMED_INTENT_WEIGHTS = {
    "intent_attention.weight": "intent_attention.project.weight",
    "intent_attention.bias": "intent_attention.project.bias",
    "intent_query": "intent_attention.query",
}


class JointTagger(nn.Module):
    """A recurrent tagger (slot filling / NER) with optional character features, CRF and
    sentence-level intent head.

    Args:
        vocab_size: number of word ids.
        num_tags: number of tags ``K``.
        embedding_dim: size of a word vector (taken from ``pretrained`` if given).
        padding_idx: word id of padding: its vector is zero and gets no gradient.
        pretrained: ``(vocab_size, embedding_dim)`` initial word vectors (stay trainable
            unless ``freeze_embedding``).
        freeze_embedding: keep the word vectors fixed.
        char_vocab_size: number of character ids; enables the character features.
        char_dim: size of a character vector.
        char_hidden: hidden size per direction of the character BiLSTM; each word gets
            ``2 · char_hidden`` features (its final forward and backward states).
        char_padding_idx: character id of padding.
        cell: ``"rnn"``, ``"lstm"`` or ``"gru"`` for the word-level layer.
        hidden_size: ``H`` per direction.
        num_layers: stacked word-level layers.
        bidirectional: read each sentence both ways.
        dropout: on the word features, between stacked layers and before the heads.
        crf: decode with a linear-chain CRF on the emissions.
        crf_constraints: hard CRF constraints, e.g. ``bio_constraints(tag_names)``.
        num_intents: number of sentence labels; enables the intent head.
        intent_pooling: how the intent head summarises the outputs besides the final
            states: ``"mean"`` over the real words, or ``"attention"`` with a learned query.
        word_dropout: in training, the probability of replacing each real word by
            ``unk_idx`` (so the model learns what to do with words it has never seen).
        unk_idx: the word id of unknown words; required with ``word_dropout``.
        backend: recurrent engine, ``"auto"``, ``"rnnkit"`` or ``"torch"``.

    Inputs of :meth:`forward`, :meth:`loss` and :meth:`predict`:
        tokens ``(B, T)`` word ids; lengths ``(B,)`` words per sentence (all ``T`` if None);
        chars ``(B, T, C)`` character ids of each word and char_lengths ``(B, T)``
        characters per word (0 at padded words), required iff ``char_vocab_size`` is set.

    Example:
        >>> model = JointTagger(50, 5, embedding_dim=8, hidden_size=16, crf=True, num_intents=3)
        >>> words, tags = torch.randint(1, 50, (2, 4)), torch.randint(5, (2, 4))
        >>> loss = model.loss(words, [4, 2], tags, intents=torch.tensor([0, 2]))
        >>> paths, intents = model.eval().predict(words, [4, 2])
        >>> [len(p) for p in paths], len(intents)
        ([4, 2], 2)
    """

    def __init__(
        self,
        vocab_size: int,
        num_tags: int,
        *,
        embedding_dim: int = 100,
        padding_idx: int | None = 0,
        pretrained: Tensor | None = None,
        freeze_embedding: bool = False,
        char_vocab_size: int | None = None,
        char_dim: int = 25,
        char_hidden: int = 25,
        char_padding_idx: int | None = 0,
        cell: str = "lstm",
        hidden_size: int = 128,
        num_layers: int = 1,
        bidirectional: bool = True,
        dropout: float = 0.0,
        crf: bool = False,
        crf_constraints: Tensor | TransitionConstraints | None = None,
        num_intents: int | None = None,
        intent_pooling: IntentPooling = "mean",
        word_dropout: float = 0.0,
        unk_idx: int | None = None,
        backend: str = "auto",
    ) -> None:
        super().__init__()
        check_positive("vocab_size", vocab_size)
        check_positive("num_tags", num_tags)
        if pretrained is not None:
            if not isinstance(pretrained, Tensor) or pretrained.dim() != 2:
                raise ValueError("pretrained must be a (vocab_size, embedding_dim) tensor")
            if pretrained.shape[0] != vocab_size:
                raise ValueError(
                    f"pretrained has {pretrained.shape[0]} rows for vocab_size={vocab_size}"
                )
            embedding_dim = pretrained.shape[1]
        check_positive("embedding_dim", embedding_dim)
        if crf_constraints is not None and not crf:
            raise ValueError("crf_constraints needs crf=True")
        if not 0.0 <= word_dropout < 1.0:
            raise ValueError(f"word_dropout must be in [0, 1), got {word_dropout!r}")
        if word_dropout > 0 and (unk_idx is None or not 0 <= unk_idx < vocab_size):
            raise ValueError(f"word_dropout needs unk_idx in [0, {vocab_size}), got {unk_idx!r}")
        self.word_dropout, self.unk_idx = word_dropout, unk_idx
        self.num_tags = num_tags
        self.num_intents = num_intents
        self.words = Embedding(vocab_size, embedding_dim, padding_idx, freeze=freeze_embedding)
        if pretrained is not None:
            with torch.no_grad():
                self.words.weight.copy_(pretrained)
                if padding_idx is not None:  # padding stays the zero vector
                    self.words.weight[padding_idx].zero_()

        self.chars: Embedding | None = None
        self.char_rnn: LSTM | None = None
        word_features = embedding_dim
        if char_vocab_size is not None:
            check_positive("char_vocab_size", char_vocab_size)
            check_positive("char_dim", char_dim)
            check_positive("char_hidden", char_hidden)
            self.chars = Embedding(char_vocab_size, char_dim, char_padding_idx)
            self.char_rnn = LSTM(char_dim, char_hidden, bidirectional=True, backend=backend)
            word_features += 2 * char_hidden

        self.rnn = make_recurrent(
            cell,
            word_features,
            hidden_size,
            num_layers,
            bidirectional=bidirectional,
            dropout=dropout,
            backend=backend,
        )
        self.num_directions = 2 if bidirectional else 1
        self.feature_size = self.num_directions * hidden_size
        self.dropout = nn.Dropout(dropout)
        self.tag_head = nn.Linear(self.feature_size, num_tags)
        self.crf = CRF(num_tags, constraints=crf_constraints) if crf else None
        self.intent_head: nn.Linear | None = None
        self.intent_attention: AttentionPooling | None = None
        if intent_pooling not in INTENT_POOLINGS:
            raise ValueError(
                f"intent_pooling must be one of {INTENT_POOLINGS}, got {intent_pooling!r}"
            )
        if num_intents is not None:
            check_positive("num_intents", num_intents)
            self.intent_head = nn.Linear(2 * self.feature_size, num_intents)
            if intent_pooling == "attention":
                self.intent_attention = AttentionPooling(self.feature_size)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # Runs saved before the intent attention was an AttentionPooling named its weights
        # intent_attention.{weight,bias} and intent_query.
        for old, new in _RENAMED_INTENT_WEIGHTS.items():
            if prefix + old in state_dict:
                state_dict[prefix + new] = state_dict.pop(prefix + old)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    # ------------------------------------------------------------------ encoder

    def _char_features(self, chars: Tensor, char_lengths: Tensor, mask: Tensor) -> Tensor:
        """``(B, T, 2·char_hidden)``: final states of the character BiLSTM of each real word."""
        assert self.chars is not None and self.char_rnn is not None
        B, T = mask.shape
        if chars.dim() != 3 or tuple(chars.shape[:2]) != (B, T):
            raise ValueError(
                f"chars must be character ids of shape (B, T, C) with (B, T) = {(B, T)}, "
                f"got {tuple(chars.shape)}"
            )
        if not isinstance(char_lengths, Tensor) or tuple(char_lengths.shape) != (B, T):
            raise ValueError(f"char_lengths must be a (B, T) = {(B, T)} tensor of lengths")
        C = chars.shape[2]
        # Only the real words go through the character BiLSTM: padding costs nothing and
        # cannot leak in.
        words = mask.reshape(-1)  # (B·T,)
        word_chars = chars.reshape(B * T, C)[words]  # (N, C)
        word_lengths = char_lengths.to(mask.device).reshape(-1)[words].long()  # (N,)
        if ((word_lengths < 0) | (word_lengths > C)).any():
            raise ValueError(f"char_lengths must lie in [0, C={C}] at real words")
        steps = torch.arange(C, device=mask.device)
        valid_chars = steps < word_lengths.unsqueeze(1)  # (N, C)
        word_chars = checked_ids(word_chars, self.chars.num_embeddings, "chars", valid_chars)
        embedded = self.chars(word_chars)  # (N, C, char_dim)
        _, (h, _) = self.char_rnn(embedded, lengths=word_lengths)  # h: (2, N, Hc)
        per_word = torch.cat([h[0], h[1]], dim=1)  # (N, 2·Hc)
        out = per_word.new_zeros(B * T, per_word.shape[1])
        out[words] = per_word
        return out.view(B, T, -1)

    def _encode(
        self,
        tokens: Tensor,
        lengths: Lengths,
        chars: Tensor | None,
        char_lengths: Tensor | None,
    ) -> tuple[Tensor, Tensor | None, Tensor, Tensor]:
        """``(emissions (B, T, K), intent logits (B, I) or None, lengths (B,), mask (B, T))``."""
        if not isinstance(tokens, Tensor) or tokens.dim() != 2:
            raise ValueError(f"tokens must be a (B, T) tensor of word ids, got {tokens!r:.60}")
        B, T = tokens.shape
        valid = sequence_lengths(lengths, B, T, tokens.device)  # (B,)
        mask = lengths_to_mask(valid, T)  # (B, T)
        ids = checked_ids(tokens, self.words.num_embeddings, "tokens", mask)  # padding → 0
        if self.words.padding_idx is not None:
            ids = ids.masked_fill(~mask, self.words.padding_idx % self.words.num_embeddings)
        if self.training and self.word_dropout > 0:
            dropped = (torch.rand(ids.shape, device=ids.device) < self.word_dropout) & mask
            ids = ids.masked_fill(dropped, self.unk_idx)
        features = self.words(ids)  # (B, T, E)
        if self.chars is not None:
            if chars is None or char_lengths is None:
                raise ValueError("this model has character features: pass chars and char_lengths")
            features = torch.cat([features, self._char_features(chars, char_lengths, mask)], 2)
        elif chars is not None or char_lengths is not None:
            raise ValueError("chars given, but the model has no char_vocab_size")
        features = self.dropout(features)

        hidden, final = self.rnn(features, lengths=valid)  # (B, T, D·H); zero past lengths
        hidden = self.dropout(hidden)
        flat = self.tag_head(hidden.reshape(B * T, self.feature_size))  # (B·T, K)
        # The bias would otherwise leak into padded steps.
        emissions = flat.view(B, T, self.num_tags).masked_fill(~mask.unsqueeze(2), 0.0)

        intent_logits = None
        if self.intent_head is not None:
            h = final[0] if isinstance(final, tuple) else final  # (L·D, B, H)
            last = h[-self.num_directions :]  # (D, B, H), the top layer
            last = last.transpose(0, 1).reshape(B, self.feature_size)  # (B, D·H)
            pooled = self._pool(hidden, valid, mask)  # (B, D·H)
            intent_logits = self.intent_head(self.dropout(torch.cat([pooled, last], 1)))
        return emissions, intent_logits, valid, mask

    def _pool(self, hidden: Tensor, valid: Tensor, mask: Tensor) -> Tensor:
        """``(B, D·H)``: mean or attention-weighted sum of the outputs at real words."""
        if self.intent_attention is None:
            # Outputs past a length are zero, so the sum runs over the real words only.
            return hidden.sum(1) / valid.clamp(min=1).unsqueeze(1).to(hidden.dtype)
        return self.intent_attention(hidden, mask)[0]

    def forward(
        self,
        tokens: Tensor,
        lengths: Lengths = None,
        chars: Tensor | None = None,
        char_lengths: Tensor | None = None,
    ) -> tuple[Tensor, Tensor | None]:
        """``(emissions (B, T, K), intent logits (B, num_intents) or None)``; emissions are
        zero past each length."""
        emissions, intents, _, _ = self._encode(tokens, lengths, chars, char_lengths)
        return emissions, intents

    # ------------------------------------------------------------------ training

    def loss(
        self,
        tokens: Tensor,
        lengths: Lengths,
        tags: Tensor,
        chars: Tensor | None = None,
        char_lengths: Tensor | None = None,
        intents: Tensor | None = None,
        *,
        reduction: Reduction = "mean",
    ) -> Tensor:
        """Tag loss + intent loss of a batch.

        Args:
            tags: ``(B, T)`` tag ids (any value at padded steps).
            intents: ``(B,)`` intent ids (:data:`UNKNOWN_INTENT` for an unknown label: no
                intent loss); required iff the model has an intent head.
            reduction: ``"mean"``: tag cross entropy averaged over real tokens (CRF:
                negative log-likelihood averaged over sentences) plus intent cross entropy
                averaged over the sentences of known intent. ``"sum"``: the same terms
                summed, so the loss of a batch is the sum of its sentences' losses (padding
                adds nothing).
        """
        if reduction not in ("mean", "sum"):
            raise ValueError(f"reduction must be 'mean' or 'sum', got {reduction!r}")
        emissions, intent_logits, _, mask = self._encode(tokens, lengths, chars, char_lengths)
        B, T, K = emissions.shape
        if not isinstance(tags, Tensor) or tuple(tags.shape) != (B, T):
            raise ValueError(f"tags must be a (B, T) = {(B, T)} tensor of tag ids")
        tags = checked_ids(tags.to(mask.device), K, "tags", mask)
        if self.crf is not None:
            total = self.crf.neg_log_likelihood(emissions, tags, mask, reduction=reduction)
        else:
            mean = reduction == "mean"
            total = sequence_loss(
                emissions, tags, mask, average_across_timesteps=mean, average_across_batch=mean
            )
            if not mean:
                total = total.sum()  # (B, T) token losses, zero at padding
        if (intents is None) != (intent_logits is None):
            raise ValueError("intents are required with num_intents and not allowed without it")
        if intent_logits is not None:
            if not isinstance(intents, Tensor) or tuple(intents.shape) != (B,):
                raise ValueError(f"intents must be a (B,) = ({B},) tensor of intent ids")
            intents = intents.to(mask.device)
            known = intents != UNKNOWN_INTENT  # (B,)
            labels = checked_ids(intents, self.num_intents, "intents", known)  # unknown -> 0
            losses = F.cross_entropy(intent_logits, labels, reduction="none")  # (B,)
            intent_loss = (losses * known).sum()
            if reduction == "mean":
                intent_loss = intent_loss / known.sum().clamp(min=1)
            total = total + intent_loss
        return total

    @torch.no_grad()
    def predict(
        self,
        tokens: Tensor,
        lengths: Lengths = None,
        chars: Tensor | None = None,
        char_lengths: Tensor | None = None,
    ) -> tuple[list[list[int]], list[int] | None]:
        """``(tag ids of each sentence trimmed to its length, intent ids or None)``.

        Tags are the argmax per step, or the Viterbi path with ``crf=True``. Runs without
        autograd in the module's current mode: call ``eval()`` first.
        """
        emissions, intent_logits, valid, _ = self._encode(tokens, lengths, chars, char_lengths)
        if self.crf is not None:
            paths = self.crf.decode(emissions, lengths=valid)
        else:
            best = emissions.argmax(2).tolist()
            paths = [row[:n] for row, n in zip(best, valid.tolist(), strict=True)]
        intents = None if intent_logits is None else intent_logits.argmax(1).tolist()
        return paths, intents
