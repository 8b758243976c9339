"""Translation (sequence to sequence): two line-aligned files per split, one sentence a line,
or one file of tab-separated pairs.

::

    rnnkit train translate --train-src train.de --train-tgt train.en \\
        --valid-src val.de --valid-tgt val.en --test-src test.de --test-tgt test.en --out runs/mt
    rnnkit train translate --pair-dir data/ --src-lang de --tgt-lang en --out runs/mt
    rnnkit train translate --train fra.txt --src-column 1 --tgt-column 0 --out runs/fr-en
    rnnkit train translate --recipe multi30k-de-en --data-dir ../shared/data --out runs/m30k
    rnnkit predict runs/mt --input sentences.de --output sentences.en

Files. Line ``i`` of the source file translates line ``i`` of the target file; files with
different line counts are refused before training, naming both files and counts. Either give
each split's two files (``--train-src/--train-tgt``, optional ``--valid-...`` and
``--test-...``; without validation files a seeded ``--valid-fraction`` of the training pairs
is held out) or a directory (``--pair-dir``) where the files of split ``train`` are the one
file named ``train.*.{SRC_LANG}`` (or ``train.{SRC_LANG}``) and the one
``train.*.{TGT_LANG}``; the split names are ``--train-split``, ``--valid-split``,
``--test-split`` (no test files: no test). Or give one file of pairs a split (``--train``,
optional ``--valid``, ``--test``): ``SOURCE<TAB>TARGET`` a line, further columns ignored, as
Tatoeba's and Anki's sentence lists (``eng<TAB>fra<TAB>attribution``); ``--src-column`` and
``--tgt-column`` (0 and 1) say which column is which.

Text. Tokens are separated by whitespace (``--tokenize space``, for files tokenised already,
like Multi30k's ``tok/``), or punctuation is split off words as well (``--tokenize punct``);
by default (``auto``) the training text decides: ``punct`` where more than 2 % of its words
have punctuation attached (``bushes.``: 9-12 % of raw Multi30k, 0.2 % of ``tok/``), kept in
``config.json`` and named in the log;
``--lowercase`` lowercases both sides. Vocabularies hold the training tokens seen
``--min-freq`` times; others read as ``<unk>``. ``--max-length`` drops long training pairs
only: the validation and test sets are always scored whole.

Model: a :class:`~rnnkit.structures.seq2seq.Seq2Seq` encoder–decoder (``--cell``,
``--hidden-size``, ``--layers``, ``--embedding-dim``, ``--bidirectional`` encoder) with
``--attention`` bahdanau, luong-dot, luong-general or none. Training batches hold sentences of
similar source length (bucketing), in a seeded random order.

Metrics. Each epoch: the validation loss per target token (``<eos>`` included) and its
perplexity. After training (``metrics.json``), for the validation and test sets: ``loss``,
``ppl``, and corpus BLEU of greedy decoding (``bleu_greedy``) and of beam search
(``bleu_beam``, ``--beam-size``, GNMT length penalty ``--length-penalty``), computed by
sacrebleu with ``tokenize="none"``: the model's tokens against the reference's tokens exactly
as read (after ``--lowercase``/``--tokenize``), the way the published Multi30k numbers are
computed; ``bleu_signature`` records sacrebleu's settings. ``chrf_beam`` is the beam
translations' chrF (character n-grams), which, unlike BLEU, short phrases do not keep near 0
(the log says so when most references have fewer than 4 tokens). ``plots/attention*.png``
show the attention of a few validation sentences.

Training: 10 epochs, patience 3 on the validation loss, which grow for a small corpus to at
least ``--min-updates`` (3000) optimizer updates and a sixth of that where they are not given
(2000 Multi30k pairs: validation BLEU 9.0 after 10 epochs, still improving; 16.7 with 188
epochs and patience 32, the best epoch 22).

``rnnkit predict RUN --input FILE`` translates one source sentence a line with beam search
(a run trained on a pair file also reads pair lines, taking their source column), written
as tokens separated by spaces, or, with ``--tokenize punct``, as text (the marks joined back
to their words: ``Hi , you .`` → ``Hi, you.``);
``rnnkit evaluate RUN --data FILE`` scores a source file against its target twin (``FILE``
with the target file's suffix, e.g. ``test.de`` → ``test.en``), or a pair file if the run
trained on one. ``rnnkit export`` is not
offered: the decoder steps through the target and decodes by search, which a traced graph
would freeze to one length.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnkit.data.batches import holdout
from rnnkit.data.bucketing import BucketBatchSampler, pooled_batches
from rnnkit.data.padding import pad_sequences
from rnnkit.data.parallel import (
    SentencePair,
    find_pair_files,
    pair_layout,
    read_pair_file,
    read_parallel,
)
from rnnkit.data.readers import decode_line, raw_lines
from rnnkit.metrics.translation import corpus_bleu, corpus_chrf, perplexity
from rnnkit.plots import plot_attention
from rnnkit.structures.seq2seq import Seq2Seq
from rnnkit.tasks.base import Prepared, Recipe, Task, vocab_artifact
from rnnkit.tasks.budget import min_updates_option
from rnnkit.tasks.options import Option, data_file, flag, option_name
from rnnkit.text.tokenize import RAW_TEXT_SHARE, auto_split, join_marks, split_marks
from rnnkit.text.vocab import Vocab
from rnnkit.train import evaluating

__all__ = ["TASK", "Batches", "Corpus", "TranslateTask", "build_model", "tokenize"]

DEFAULT_VALID_SPLIT = "valid"  # --valid-split when not given

TOKENIZERS = ("auto", "space", "punct")
ATTENTIONS = ("bahdanau", "luong-dot", "luong-general", "none")
SIDES = ("src", "tgt")
BLEU_TOKENIZE = "none"  # the tokens as read; see the module docstring
# Sentences per decoding batch: beam search runs (beam_size + 1) rows for each.
DECODE_BATCH = 100
PLOTTED_SENTENCES = 3


def tokenize(tokens: Sequence[str], how: str) -> list[str]:
    """The tokens of a whitespace-split sentence under ``--tokenize``: as they are
    (``space``) or with punctuation split off words (``punct``: ``"dog." -> "dog", "."``)."""
    if how == "space":
        return list(tokens)
    if how == "punct":
        return [piece for token in tokens for piece in split_marks(token)]
    raise ValueError(f"{option_name('tokenize')}: expected one of {', '.join(TOKENIZERS)}")


# ---------------------------------------------------------------------- data
@dataclass
class Corpus:
    """One split: token lists of both sides, their ids, and where they came from."""

    source_tokens: list[list[str]]
    target_tokens: list[list[str]]
    src: list[list[int]]
    tgt: list[list[int]]
    source: str
    pad_index: int = 0

    def __len__(self) -> int:
        return len(self.src)

    @property
    def references(self) -> list[str]:
        """The target sentences as BLEU reads them (tokens joined by spaces)."""
        return [" ".join(tokens) for tokens in self.target_tokens]


def split_files(config: Mapping[str, Any], split: str) -> tuple[str, ...] | None:
    """The (source, target) files of ``split`` (``train``, ``valid``, ``test``), its one pair
    file ``(FILE,)``, or None."""
    if config[split] is not None or (split != "train" and config["train"] is not None):
        return None if config[split] is None else (config[split],)
    if config["pair_dir"] is not None:
        name = config[f"{split}_split"]
        directory = Path(config["pair_dir"])
        # no test files: no test; no files of the default validation name: pairs held out
        # of train (a name given, e.g. --valid-split dev, must be there)
        optional = split == "test" or (split == "valid" and name == DEFAULT_VALID_SPLIT)
        if optional and not any(p.name.startswith(f"{name}.") for p in directory.iterdir()):
            return None
        try:
            src, tgt = find_pair_files(directory, name, config["src_lang"], config["tgt_lang"])
        except ValueError as err:
            raise ValueError(f"{option_name('pair_dir')} {err}") from None
        return str(src), str(tgt)
    src, tgt = config[f"{split}_src"], config[f"{split}_tgt"]
    return None if src is None else (src, tgt)


def read_split(
    config: Mapping[str, Any], files: tuple[str, ...], max_length: int | None = None
) -> tuple[list[SentencePair], int]:
    """The sentence pairs of two files (or one pair file), lowercased and tokenised as the
    run says, and how many ``max_length`` dropped."""
    if len(files) == 1:
        columns = config["src_column"], config["tgt_column"]
        pairs, dropped = read_pair_file(files[0], config["lowercase"], *columns)
    else:
        pairs, dropped = read_parallel(*files, lowercase=config["lowercase"])
    how = config["tokenize"]
    for pair in pairs:
        pair.source, pair.target = tokenize(pair.source, how), tokenize(pair.target, how)
    kept = within(pairs, max_length)
    return kept, dropped + len(pairs) - len(kept)


def _tokenize_for(config: Mapping[str, Any]) -> tuple[str, str]:
    """``--tokenize auto`` resolved from the training pairs' words, and why, for the log."""
    pairs, _ = read_split({**config, "tokenize": "space"}, split_files(config, "train"))
    return auto_split(word for pair in pairs for word in (*pair.source, *pair.target))


def within(pairs: list[SentencePair], max_length: int | None) -> list[SentencePair]:
    """The pairs with at most ``max_length`` tokens on either side (all of them for None)."""
    if max_length is None:
        return pairs
    return [pair for pair in pairs if max(len(pair.source), len(pair.target)) <= max_length]


def read_splits(
    config: Mapping[str, Any],
) -> tuple[tuple[list[SentencePair], int, str], ...]:
    """``(pairs, dropped, source)`` of the train, valid and test splits (test: ``None`` when
    there is none; ``dropped``: the training pairs ``--max-length`` removed). Without
    validation files a seeded ``--valid-fraction`` of the training pairs is held out, before
    ``--max-length`` (a validation set keeps every sentence), the same for the same seed."""
    files = {split: split_files(config, split) for split in ("train", "valid", "test")}
    train_source = files["train"][0]
    if files["valid"] is not None:
        train, dropped = read_split(config, files["train"], config["max_length"])
        valid = (*read_split(config, files["valid"]), files["valid"][0])
    else:
        every, _ = read_split(config, files["train"])
        kept, held = holdout(
            len(every), config["valid_fraction"], config["seed"], train_source, "sentence pairs"
        )
        train = within([every[i] for i in kept], config["max_length"])
        dropped = len(kept) - len(train)
        valid = ([every[i] for i in held], 0, f"{train_source} (held out)")
    test = None if files["test"] is None else (*read_split(config, files["test"]), files["test"][0])
    return (train, dropped, train_source), valid, test


def encode(pairs: Sequence[SentencePair], vocabs: Mapping[str, Vocab], source: str) -> Corpus:
    """The pairs as ids of the run's vocabularies."""
    src_tokens = [pair.source for pair in pairs]
    tgt_tokens = [pair.target for pair in pairs]
    return Corpus(
        src_tokens,
        tgt_tokens,
        [vocabs["src"].encode(tokens) for tokens in src_tokens],
        [vocabs["tgt"].encode(tokens) for tokens in tgt_tokens],
        source,
        vocabs["tgt"].pad_index,
    )


def _vocabs(artifacts: Mapping[str, Any]) -> dict[str, Vocab]:
    return {side: vocab_artifact(artifacts, f"{side}_vocab") for side in SIDES}


class Batches:
    """Re-iterable padded batches ``{"src", "src_lengths", "tgt", "tgt_lengths",
    "num_tokens"}`` of sentences of similar length. With ``generator`` (training) the
    sentences are shuffled, sorted by length within pools of 50 batches and the batches
    shuffled again, a fresh order each pass drawn from ``generator``; without, batches follow
    the source length in a fixed order."""

    def __init__(
        self,
        corpus: Corpus,
        batch_size: int,
        pad_index: int,
        generator: torch.Generator | None = None,
    ) -> None:
        self.corpus, self.batch_size, self.pad_index = corpus, batch_size, pad_index
        self.generator = generator
        # The sort key: target length, then source length. The decoder's steps (attention,
        # output layer) cost more than the encoder's, so target padding is the one to avoid.
        longest = max((len(ids) for ids in corpus.src), default=0) + 1
        self.lengths = [
            len(tgt) * longest + len(src) for src, tgt in zip(corpus.src, corpus.tgt, strict=True)
        ]

    def __len__(self) -> int:
        return -(-len(self.corpus) // self.batch_size)

    def order(self) -> list[list[int]]:
        """The sentence indices of each batch of this pass."""
        if self.generator is None:
            sampler = BucketBatchSampler(self.lengths, self.batch_size, shuffle=False)
        else:
            sampler = pooled_batches(self.lengths, self.batch_size, self.generator)
        return list(sampler)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for chosen in self.order():
            yield self.batch(chosen)

    def batch(self, chosen: Sequence[int]) -> dict[str, Any]:
        """The padded batch of sentences ``chosen``."""
        src, src_lengths = pad_sequences([self.corpus.src[i] for i in chosen], self.pad_index)
        tgt, tgt_lengths = pad_sequences([self.corpus.tgt[i] for i in chosen], self.pad_index)
        tokens = int(tgt_lengths.sum()) + len(chosen)  # the predicted tokens, <eos> included
        return {
            "src": src,
            "src_lengths": src_lengths,
            "tgt": tgt,
            "tgt_lengths": tgt_lengths,
            "num_tokens": tokens,
        }


def token_nll(model: Seq2Seq, batch: Mapping[str, Tensor]) -> tuple[float, int]:
    """The summed negative log-likelihood (nats) of a batch's target tokens, ``<eos>``
    included, and their number."""
    tgt_in, tgt_out, mask = model.shift_target(batch["tgt"], batch["tgt_lengths"])
    logits, _ = model(batch["src"], batch["src_lengths"], tgt_in)
    nll = F.cross_entropy(logits.transpose(1, 2), tgt_out, reduction="none")  # (B, T)
    return float(nll[mask].sum()), int(mask.sum())


def loss_metrics(model: nn.Module, batches: Any) -> dict[str, float]:
    """Mean loss per target token and its perplexity (called without autograd)."""
    total, count = 0.0, 0
    for batch in batches:
        nll, tokens = token_nll(model, batch)
        total, count = total + nll, count + tokens
    if count == 0:
        raise ValueError("no sentences to evaluate")
    return {"loss": total / count, "ppl": perplexity(total, count)}


# ---------------------------------------------------------------------- decoding
def translate_ids(
    model: Seq2Seq,
    sentences: Sequence[Sequence[int]],
    pad_index: int,
    beam_size: int,
    length_penalty: float,
) -> list[list[int]]:
    """The model's translation (target ids, ``<eos>`` and padding removed) of each source
    sentence, in the given order: greedy decoding with ``beam_size`` 1, else beam search.
    Sentences are decoded in batches of similar length."""
    order = sorted(range(len(sentences)), key=lambda i: len(sentences[i]))
    out: list[list[int]] = [[] for _ in sentences]
    with evaluating(model):
        for start in range(0, len(order), DECODE_BATCH):
            chosen = order[start : start + DECODE_BATCH]
            src, lengths = pad_sequences([sentences[i] for i in chosen], pad_index)
            if beam_size == 1:
                decoded = model.greedy_decode(src, lengths)
                tokens, token_lengths = decoded.tokens, decoded.lengths
            else:
                beams = model.beam_search(
                    src, lengths, beam_size=beam_size, length_penalty=length_penalty
                )
                tokens, token_lengths = beams.tokens[:, 0], beams.lengths[:, 0]
            for row, i in enumerate(chosen):
                # At most the 2·S + 10 tokens a sentence alone would get: the batch's longest
                # source must not lengthen the others' translations.
                limit = min(int(token_lengths[row]), 2 * len(sentences[i]) + 10)
                ids = tokens[row, :limit].tolist()
                if ids and ids[-1] == model.eos_index:
                    ids = ids[:-1]
                out[i] = ids
    return out


def translate_corpus(
    model: Seq2Seq, corpus: Corpus, vocabs: Mapping[str, Vocab], beam_size: int, alpha: float
) -> list[str]:
    """Each source sentence's translation as one string of tokens."""
    ids = translate_ids(model, corpus.src, vocabs["src"].pad_index, beam_size, alpha)
    return [" ".join(vocabs["tgt"].decode(sentence)) for sentence in ids]


def corpus_metrics(
    model: Seq2Seq,
    corpus: Corpus,
    config: Mapping[str, Any],
    vocabs: Mapping[str, Vocab],
    log: Any = None,
) -> dict[str, Any]:
    """Loss, perplexity and greedy and beam BLEU of one split."""
    batches = Batches(corpus, config["batch_size"], vocabs["tgt"].pad_index)
    with evaluating(model):
        metrics: dict[str, Any] = loss_metrics(model, batches)
        references = corpus.references
        for name, beam in (("greedy", 1), ("beam", config["beam_size"])):
            hypotheses = translate_corpus(model, corpus, vocabs, beam, config["length_penalty"])
            bleu = corpus_bleu(hypotheses, references, tokenize=BLEU_TOKENIZE)
            metrics[f"bleu_{name}"] = bleu.score
            metrics["bleu_signature"] = bleu.signature
            if log is not None:
                log(f"{corpus.source}: {name} {bleu}")
            if name == "beam":
                metrics["chrf_beam"] = corpus_chrf(hypotheses, references)
        lengths = sorted(len(reference.split()) for reference in references)
        if log is not None and lengths[len(lengths) // 2] < 4:
            log(
                f"{corpus.source}: most references have fewer than 4 tokens, and BLEU counts "
                f"4-grams: it is near 0 whatever the quality; beam chrF = "
                f"{metrics['chrf_beam']:.2f} (character n-grams) says more"
            )
    return metrics


# ---------------------------------------------------------------------- the task
class TranslateTask(Task):
    """Sequence-to-sequence translation with attention, greedy and beam decoding, BLEU."""

    name = "translate"
    task_options = (
        data_file("train", "training pairs, SOURCE<TAB>TARGET a line (Tatoeba/Anki)", absent=None),
        data_file("valid", "validation pairs, as --train", absent=None),
        data_file("test", "test pairs, as --train", absent=None),
        Option("src_column", 0, "non_negative_int", "source column of --train", "data", absent=0),
        Option("tgt_column", 1, "non_negative_int", "target column of --train", "data", absent=1),
        data_file("train_src", "training source sentences, one a line"),
        data_file("train_tgt", "their translations, line by line"),
        data_file("valid_src", "validation source sentences"),
        data_file("valid_tgt", "validation translations"),
        data_file("test_src", "test source sentences"),
        data_file("test_tgt", "test translations"),
        Option(
            "pair_dir",
            None,
            "dir",
            "a directory of SPLIT[.*].LANG files instead of the six file options",
            "data",
            True,
        ),
        Option("src_lang", "src", "text", "source file suffix in --pair-dir", "data"),
        Option("tgt_lang", "tgt", "text", "target file suffix in --pair-dir", "data"),
        Option("train_split", "train", "text", "training split name in --pair-dir", "data"),
        Option(
            "valid_split",
            DEFAULT_VALID_SPLIT,
            "text",
            "validation split name in --pair-dir (none of that name: --valid-fraction held out)",
            "data",
        ),
        Option(
            "valid_fraction",
            0.1,
            "fraction",
            "held out of the training pairs without validation files",
            "data",
            absent=0.1,
        ),
        Option("test_split", "test", "text", "test split name in --pair-dir (optional)", "data"),
        flag("lowercase", False, "lowercase both sides", "data"),
        Option(
            "tokenize",
            "auto",
            "choice",
            "space: split on whitespace (tokenised files); punct: split punctuation off too; "
            f"auto: punct where over {RAW_TEXT_SHARE:.0%} of the training words have "
            "punctuation attached (raw text), else space",
            "data",
            choices=TOKENIZERS,
        ),
        Option(
            "max_length",
            None,
            "positive_int",
            "drop training pairs longer than this on either side",
            "data",
            True,
        ),
        Option("min_freq", 2, "positive_int", "keep tokens seen this often in training", "data"),
        Option("embedding_dim", 256, "positive_int", "token embedding size (both sides)"),
        flag("bidirectional", True, "bidirectional encoder"),
        Option("attention", "bahdanau", "choice", "attention", choices=ATTENTIONS),
        Option("beam_size", 5, "positive_int", "beam search width (1: greedy)"),
        Option(
            "length_penalty",
            0.0,
            "non_negative_float",
            "GNMT length penalty alpha of beam search",
        ),
        min_updates_option(),
    )
    common_defaults: ClassVar[Mapping[str, Any]] = {
        "cell": "gru",
        "hidden_size": 256,
        "dropout": 0.3,
        "batch_size": 128,
        "clip_norm": 1.0,
        "patience": 3,
    }
    sized_by_data = ("epochs", "patience")
    monitor = ("valid_loss", "min")
    shown_metrics = ("ppl",)
    examples = """\
  rnnkit train translate --train-src train.de --train-tgt train.en --valid-src val.de \\
      --valid-tgt val.en --test-src test.de --test-tgt test.en --out runs/mt
  rnnkit train translate --pair-dir data/ --src-lang de --tgt-lang en --valid-split val \\
      --out runs/mt
  rnnkit train translate --train fra.txt --src-column 1 --tgt-column 0 --tokenize punct \\
      --lowercase --out runs/fr-en
  rnnkit train translate --recipe multi30k-de-en --data-dir ../shared/data --out runs/m30k
  rnnkit predict runs/m30k --input sentences.de"""

    def check(self, config: Mapping[str, Any], where: str) -> None:
        files = [f"{split}_{side}" for split in ("train", "valid", "test") for side in SIDES]
        pair_files = [split for split in ("train", "valid", "test") if config[split] is not None]
        if pair_files:
            if config["train"] is None:
                raise ValueError(
                    f"{option_name(pair_files[0])} is a pair file: it goes with "
                    f"{option_name('train')}"
                )
            _refuse_beside(config, [*files, "pair_dir"], "train")
            if config["src_column"] == config["tgt_column"]:
                raise ValueError(
                    f"{option_name('src_column')} and {option_name('tgt_column')} are both "
                    f"{config['src_column']}"
                )
            _check_held_out(config, where, "valid")
        elif config["pair_dir"] is not None:
            _refuse_beside(config, files, "pair_dir")
            if config["src_lang"] == config["tgt_lang"]:
                raise ValueError(f"{option_name('tgt_lang')} must differ from --src-lang")
        else:
            if config["train_src"] is None:
                raise ValueError(
                    f"{option_name('train_src')} is required (or {option_name('pair_dir')}, "
                    f"or {option_name('train')} for a file of tab-separated pairs)"
                )
            _check_held_out(config, where, "valid_src")
            for split in ("train", "valid", "test"):
                src, tgt = (option_name(f"{split}_{side}") for side in SIDES)
                if (config[f"{split}_src"] is None) != (config[f"{split}_tgt"] is None):
                    raise ValueError(f"{src} and {tgt} go together")
        if config["attention"] == "luong-dot" and config["bidirectional"]:
            raise ValueError(
                f"{option_name('attention')} luong-dot needs encoder states of the decoder's "
                "size: add --no-bidirectional or use luong-general"
            )

    def artifact_names(self, config: Mapping[str, Any]) -> tuple[str, ...]:
        return ("src_vocab", "tgt_vocab")

    def prepare(self, config: Mapping[str, Any], artifacts: Mapping[str, Any] | None) -> Prepared:
        chosen, told = {}, None
        if config["tokenize"] == "auto":  # told from the training text, then kept
            chosen["tokenize"], told = _tokenize_for(config)
            config = {**config, **chosen}
        (train, dropped, train_source), valid, test = read_splits(config)
        if not train:
            raise ValueError(f"{train_source}: no training pairs (--max-length?)")
        if artifacts is None:
            artifacts = {}
            for side in SIDES:
                sentences = [pair.source if side == "src" else pair.target for pair in train]
                try:
                    vocab = Vocab.build(sentences, min_freq=config["min_freq"])
                except ValueError as err:
                    raise ValueError(f"{train_source} ({side} side): {err}") from None
                artifacts[f"{side}_vocab"] = vocab.to_dict()
        vocabs = _vocabs(artifacts)
        splits = {
            "train": encode(train, vocabs, train_source),
            "valid": encode(valid[0], vocabs, valid[2]),
            "test": None if test is None else encode(test[0], vocabs, test[2]),
        }
        info = {
            name: f"{len(corpus)} sentence pairs from {corpus.source}"
            for name, corpus in splits.items()
            if corpus is not None
        }
        if dropped:
            info["train"] += f" ({dropped} longer than --max-length dropped)"
        info["vocabularies"] = f"{len(vocabs['src'])} source, {len(vocabs['tgt'])} target tokens"
        if told is not None:
            info["tokenize"] = told
        return Prepared(
            splits["train"], splits["valid"], splits["test"], dict(artifacts), info, chosen=chosen
        )

    def build_model(self, config: Mapping[str, Any], artifacts: Mapping[str, Any]) -> nn.Module:
        return build_model(config, artifacts)

    def batches(
        self,
        config: Mapping[str, Any],
        examples: Corpus,
        generator: torch.Generator | None = None,
    ) -> Batches:
        return Batches(examples, config["batch_size"], examples.pad_index, generator)

    def evaluate(self, model: nn.Module, batches: Any) -> dict[str, float]:
        return loss_metrics(model, batches)

    def final_metrics(
        self, model: nn.Module, prepared: Prepared, config: Mapping[str, Any], log: Any
    ) -> dict[str, Any]:
        """Loss, perplexity, greedy and beam BLEU of the validation and test sets."""
        vocabs = _vocabs(prepared.artifacts)
        metrics: dict[str, Any] = {}
        for split, corpus in (("valid", prepared.valid), ("test", prepared.test)):
            if corpus is None:
                continue
            values = corpus_metrics(model, corpus, config, vocabs, log)
            metrics["bleu_signature"] = values.pop("bleu_signature")
            metrics.update({f"{split}_{key}": value for key, value in values.items()})
            metrics[f"{split}_examples"] = len(corpus)
        metrics["bleu_tokenize"] = "none: tokens as read (after --lowercase/--tokenize)"
        return metrics

    def write_plots(
        self,
        plots_dir: Path,
        rows: list[dict[str, Any]],
        model: nn.Module,
        prepared: Prepared,
        config: Mapping[str, Any],
    ) -> list[Path]:
        """``attention.png`` (and ``attention_2.png`` ...): the greedy translation's attention
        for the first few validation sentences of at most 20 tokens."""
        if model.attention is None:
            return []
        vocabs = _vocabs(prepared.artifacts)
        corpus: Corpus = prepared.valid
        chosen = [i for i in range(len(corpus)) if len(corpus.src[i]) <= 20][:PLOTTED_SENTENCES]
        paths = []
        for n, i in enumerate(chosen, start=1):
            src, lengths = pad_sequences([corpus.src[i]], vocabs["src"].pad_index)
            decoded = model.greedy_decode(src, lengths)
            T = int(decoded.lengths[0])
            target = vocabs["tgt"].decode(decoded.tokens[0, :T], strip_specials=False)
            weights = decoded.attention[0, :T, : len(corpus.src[i])]
            name = "attention.png" if n == 1 else f"attention_{n}.png"
            paths.append(plot_attention(weights, plots_dir / name, corpus.source_tokens[i], target))
        return paths

    # ------------------------------------------------------------------ using a run
    def evaluate_file(
        self,
        model: nn.Module,
        config: Mapping[str, Any],
        artifacts: Mapping[str, Any],
        data: str | None,
    ) -> dict[str, Any]:
        """Loss, perplexity and BLEU on the source file ``data`` and its target twin (the
        same name with the training target file's suffix), or on the pair file ``data`` if
        the run trained on one; default the run's test split (else its validation split)."""
        if data is None:
            _, valid, test = read_splits(config)
            pairs, _, source = test if test is not None else valid
        else:
            pair_file = config["train"] is not None
            files = (data,) if pair_file else (data, str(_target_twin(config, Path(data))))
            (pairs, _), source = read_split(config, files), files[0]
        vocabs = _vocabs(artifacts)
        if not pairs:
            raise ValueError(f"{source}: no sentences")
        corpus = encode(pairs, vocabs, source)
        metrics = corpus_metrics(model, corpus, config, vocabs)
        return {"data": source, "examples": len(corpus), **metrics}

    def predict_file(
        self,
        model: nn.Module,
        config: Mapping[str, Any],
        artifacts: Mapping[str, Any],
        input_path: str,
    ) -> list[str]:
        """The beam-search translation of each line (one source sentence) of ``input_path``;
        for a run trained on a pair file, a line with tabs is read as a pair too (its
        ``--src-column``), its header row, Anki's opening lines and pandas' index column passed
        over as in training. A blank line is answered by a blank line, so that the answers
        stay line for line with the input's sentences."""
        vocabs = _vocabs(artifacts)
        path = Path(input_path)
        numbered = list(enumerate(raw_lines(path), start=1))
        column, skipped = config["src_column"], set()
        if config["train"] is not None and any(b"\t" in raw for _, raw in numbered):
            # a pair file read as training reads it: its header, Anki's lines and pandas'
            # index column are not sentences
            pairs = [(number, raw) for number, raw in numbered if raw.strip()]
            skip, column, _ = pair_layout(pairs, column, config["tgt_column"])
            skipped = {number for number, _ in pairs[:skip]}
        lines = [
            decode_line(raw, path, number).strip()
            for number, raw in numbered
            if number not in skipped
        ]
        if not any(lines):
            raise ValueError(f"{input_path}: no sentences (the file is empty)")
        blank = [i for i, line in enumerate(lines) if not line]
        lines = [line for line in lines if line]
        if config["train"] is not None:
            cells = [line.split("\t") for line in lines]
            if any(len(row) > 1 and len(row) <= column for row in cells):
                raise ValueError(
                    f"{input_path}: a line with tabs but no column {column}, where the run's "
                    f"sources are ({option_name('src_column')})"
                )
            lines = [row[column] if len(row) > 1 else row[0] for row in cells]
        sentences = []
        for line in lines:
            text = line.lower() if config["lowercase"] else line
            sentences.append(vocabs["src"].encode(tokenize(text.split(), config["tokenize"])))
        tokens = [ids or [vocabs["src"].unk_index] for ids in sentences]
        ids = translate_ids(
            model, tokens, vocabs["src"].pad_index, config["beam_size"], config["length_penalty"]
        )
        # text again: marks --tokenize punct split off words are joined back to them
        join = join_marks if config["tokenize"] == "punct" else " ".join
        answers = [join(vocabs["tgt"].decode(sentence)) for sentence in ids]
        for index in blank:
            answers.insert(index, "")
        return answers


def _refuse_beside(config: Mapping[str, Any], names: Sequence[str], owner: str) -> None:
    """The first of the options ``names`` given beside ``owner`` is an error."""
    given = [name for name in names if config[name] is not None]
    if given:
        raise ValueError(f"{option_name(given[0])} cannot be combined with {option_name(owner)}")


def _check_held_out(config: Mapping[str, Any], where: str, valid: str) -> None:
    """Without the validation option ``valid`` a ``--valid-fraction`` of the training pairs
    is held out: it must not be 0."""
    if config[valid] is None and config["valid_fraction"] == 0:
        raise ValueError(
            f"{where}: {option_name('valid_fraction')} must be > 0 without {option_name(valid)}"
        )


def _target_twin(config: Mapping[str, Any], source: Path) -> Path:
    """The target file beside ``source``: its last suffix replaced by the target side's."""
    if config["pair_dir"] is not None:
        src_suffix, tgt_suffix = f".{config['src_lang']}", f".{config['tgt_lang']}"
    else:
        src_suffix = Path(config["train_src"]).suffix
        tgt_suffix = Path(config["train_tgt"]).suffix
    if not src_suffix or not tgt_suffix or src_suffix == tgt_suffix:
        raise ValueError(
            f"--data {source}: cannot tell its target file (the training files' names do "
            "not end in a language suffix such as .de/.en)"
        )
    if source.suffix != src_suffix:
        raise ValueError(f"--data {source}: expected a source file ending in {src_suffix}")
    twin = source.with_suffix(tgt_suffix)
    if not twin.is_file():
        raise ValueError(f"{twin}: file not found (the target side of --data {source})")
    return twin


def build_model(config: Mapping[str, Any], artifacts: Mapping[str, Any]) -> Seq2Seq:
    """The encoder–decoder ``config`` describes, sized for the run's vocabularies."""
    vocabs = _vocabs(artifacts)
    return Seq2Seq.from_vocabs(
        vocabs["src"],
        vocabs["tgt"],
        embedding_dim=config["embedding_dim"],
        hidden_size=config["hidden_size"],
        cell=config["cell"],
        num_layers=config["layers"],
        bidirectional_encoder=config["bidirectional"],
        dropout=config["dropout"],
        attention=config["attention"],
    )


RECIPES = {
    "multi30k-de-en": Recipe(
        "multi30k-de-en",
        {
            "src_lang": "de",
            "tgt_lang": "en",
            "train_split": "train",
            "valid_split": "val",
            "test_split": "test_2016_flickr",
            "lowercase": True,
            "tokenize": "space",  # the tok/ files, tokenised as the published numbers' were
            "min_freq": 2,
            "cell": "gru",
            "attention": "bahdanau",
            "bidirectional": True,
            "embedding_dim": 256,
            "hidden_size": 256,
            "dropout": 0.3,
            "batch_size": 128,
            "epochs": 10,
            "lr": 1e-3,
            "clip_norm": 1.0,
            "patience": 2,
            "beam_size": 5,
            "length_penalty": 0.6,
        },
        {"pair_dir": "multi30k/tok"},
        "bentrevett/pytorch-seq2seq, de→en, lowercased: Bahdanau-attention GRU, greedy "
        "decoding, PPL 25.6 / BLEU 28.3",
        bars={"test_bleu_beam": 30.0},
    ),
}

TASK = TranslateTask()
TASK.recipes = RECIPES
