"""A text file as one long token stream, cut into batches for truncated BPTT (char-rnn).

::

    text = read_text("input.txt")
    tokens = tokenize_stream(text, tokens="char")            # every character, "\\n" included
    train, valid = split_by_fraction(tokens, (0.9, 0.1))     # nanoGPT: first 90 %, last 10 %
    vocab = Vocab.build([train], specials=["<unk>"])
    batches = StreamBatches(vocab.encode(train), batch_size=32, steps_per_batch=200)
    Trainer(SequenceGenerator(len(vocab)), TrainConfig(bptt=50)).fit(batches)

The char-rnn layout: the ids are cut into ``B`` contiguous streams of ``S`` tokens, stream
``i`` being ``ids[i·S : (i+1)·S]``, laid out as the rows of a ``(B, S)`` matrix. Batch ``k``
is the columns ``[k·L, (k+1)·L)``: its row ``i`` continues exactly where row ``i`` of batch
``k-1`` stopped, so the state the trainer carries from batch to batch (and from chunk to chunk
inside one with ``bptt``) belongs to the same stream. Inputs and targets are the same streams
shifted by one token: the target of every input token is the token after it, and the first
input of a batch is the last target of the previous one (no ``<bos>``; the carried state
already knows what came before).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Literal, TypeVar

import torch
from torch import Tensor

from rnnkit.data.readers import read_bytes
from rnnkit.text.tokenize import split_marks

__all__ = ["TOKENIZATIONS", "StreamBatches", "read_text", "split_by_fraction", "tokenize_stream"]

TOKENIZATIONS = ("char", "word")
NEWLINE = "\n"

T = TypeVar("T")


def read_text(path: str | os.PathLike[str]) -> str:
    """The whole UTF-8 file as one string (a leading byte order mark dropped, Windows line
    ends ``\r\n`` read as ``\n``: a character model would otherwise learn ``\r`` as a
    character of its own and write it back).

    Raises:
        ValueError: the file is missing, a directory, not UTF-8 (the message names the
            line and column of the first bad byte) or empty.
    """
    path = Path(path)
    data = read_bytes(path)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        column = err.start - (data.rfind(b"\n", 0, err.start) + 1) + 1  # in bytes
        raise ValueError(
            f"{path}:{line}: not UTF-8 text (byte {data[err.start]:#04x} at column {column})"
        ) from None
    if not text:
        raise ValueError(f"{path}: empty file, expected text")
    return text.replace("\r\n", "\n")


def tokenize_stream(
    text: str, tokens: Literal["char", "word"] = "char", punct: bool = False
) -> list[str]:
    """Cut ``text`` into the tokens of one stream.

    ``"char"``: every character (Unicode code point), newlines and spaces included, so
    ``"".join(tokens) == text`` and Chinese text is read character by character.
    ``"word"``: the whitespace-separated words, with a ``"\\n"`` token at every line end
    (blank lines give several), so generated text keeps its lines: ``"a b\\nc\\n"`` →
    ``["a", "b", "\\n", "c", "\\n"]``. A ``"\\r"`` before a line end is whitespace.
    With ``punct``, punctuation is split off words too (``"be," -> "be", ","``:
    :func:`rnnkit.text.tokenize.split_marks`, which :func:`~rnnkit.text.tokenize.join_marks`
    undoes).
    """
    if tokens not in TOKENIZATIONS:
        raise ValueError(f"tokens must be one of {TOKENIZATIONS}, got {tokens!r}")
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    if tokens == "char":
        return list(text)
    words: list[str] = []
    lines = text.split(NEWLINE)
    for number, line in enumerate(lines):
        if punct:
            words.extend(piece for word in line.split() for piece in split_marks(word))
        else:
            words.extend(line.split())
        if number < len(lines) - 1:  # the last piece has no newline after it
            words.append(NEWLINE)
    return words


def split_by_fraction(items: Sequence[T], fractions: Sequence[float] = (0.9, 0.1)) -> list[list[T]]:
    """Contiguous consecutive parts of ``items`` of the given fractions, in order.

    nanoGPT's split: ``(0.9, 0.1)`` gives the first 90 % (train) and the last 10 % (val). Part
    ``j`` ends at ``floor(n·(f_0 + … + f_j))`` as nanoGPT's ``int(n*0.9)`` (tiny Shakespeare:
    1,003,854 and 111,540 characters); the last part ends at ``n`` exactly, so every item is in
    exactly one part. The fractions must be > 0 and sum to 1.
    """
    fractions = [float(f) for f in fractions]
    if not fractions or any(not math.isfinite(f) or f <= 0 for f in fractions):
        raise ValueError(f"fractions must be numbers > 0, got {fractions}")
    if abs(sum(fractions) - 1) > 1e-9:
        raise ValueError(f"fractions must sum to 1, got {fractions} (sum {sum(fractions)})")
    n, parts, start, cumulative = len(items), [], 0, 0.0
    for number, fraction in enumerate(fractions):
        cumulative += fraction
        # the epsilon: in floating point n·Σf may land a hair below a whole number
        end = n if number == len(fractions) - 1 else math.floor(n * cumulative + 1e-9)
        parts.append(list(items[start:end]))
        start = end
    return parts


class StreamBatches:
    """Batches ``{"inputs": (B, L), "targets": (B, L)}`` of ``batch_size`` parallel streams.

    Re-iterable (one pass an epoch) and with a ``len()``; see the module docstring for the
    layout. The keys are those of :meth:`SequenceGenerator.loss
    <rnnkit.structures.SequenceGenerator.loss>`, so the :class:`~rnnkit.train.Trainer`'s
    default stream loss (``bptt=K``) trains a softmax generator on them as they are.

    Args:
        ids: the token ids of the whole stream (a list or a 1-D integer tensor).
        batch_size: ``B``, the number of parallel streams.
        steps_per_batch: ``L``, the time steps of a batch; the trainer cuts it into chunks of
            ``bptt`` steps and carries the state through all of them.
        generator: if given, every pass starts the streams at a random offset in ``[0, L)``
            drawn from it, so chunk boundaries move from epoch to epoch (the streams keep
            their length, so ``len()`` is fixed). ``None``: always offset 0.
        drop_last: drop the last batch when it would be shorter than ``L``.

    Each stream holds ``S = (N - 1 - max offset) // B`` inputs (``N`` ids): the last
    ``(N - 1 - max offset) mod B`` ids of the stream are never read.
    """

    def __init__(
        self,
        ids: Sequence[int] | Tensor,
        batch_size: int,
        steps_per_batch: int,
        generator: torch.Generator | None = None,
        *,
        drop_last: bool = False,
    ) -> None:
        for name, value in (("batch_size", batch_size), ("steps_per_batch", steps_per_batch)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        tensor = torch.as_tensor(ids)
        if tensor.dim() != 1 or tensor.is_floating_point() or tensor.is_complex():
            raise ValueError(
                f"ids must be a 1-D sequence of integer ids, got a {tensor.dtype} tensor of "
                f"shape {tuple(tensor.shape)}"
            )
        self.ids = tensor.long()
        self.batch_size, self.steps_per_batch = batch_size, steps_per_batch
        self.generator, self.drop_last = generator, drop_last
        self.max_offset = steps_per_batch - 1 if generator is not None else 0
        self.stream_length = (len(self.ids) - 1 - self.max_offset) // batch_size  # S
        if self.stream_length < 1 or len(self) == 0:
            raise ValueError(
                f"{len(self.ids)} ids are too few for batch_size={batch_size} streams of "
                f"steps_per_batch={steps_per_batch} steps"
                + (" after the random offset" if generator is not None else "")
            )

    def __len__(self) -> int:
        full, rest = divmod(self.stream_length, self.steps_per_batch)
        return full + (1 if rest and not self.drop_last else 0)

    def streams(self, offset: int = 0) -> tuple[Tensor, Tensor]:
        """The whole input and target streams ``(B, S)`` read from ``offset``."""
        B, S = self.batch_size, self.stream_length
        inputs = self.ids[offset : offset + B * S].view(B, S)
        targets = self.ids[offset + 1 : offset + 1 + B * S].view(B, S)
        return inputs, targets

    def __iter__(self) -> Iterator[dict[str, Tensor]]:
        offset = 0
        if self.generator is not None:
            draw = torch.randint(self.max_offset + 1, (1,), generator=self.generator)
            offset = int(draw)
        inputs, targets = self.streams(offset)
        L = self.steps_per_batch
        for number in range(len(self)):
            columns = slice(number * L, (number + 1) * L)
            yield {
                "inputs": inputs[:, columns].contiguous(),
                "targets": targets[:, columns].contiguous(),
            }
