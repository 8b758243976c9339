"""Word embeddings: trainable, or initialised from a word2vec / GloVe text file or a matrix
of vectors with its word list (:mod:`rnnkit.text.vectors`)."""

from __future__ import annotations

import gzip
import itertools
import math
import os
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TypeVar

import numpy as np
import torch
from torch import Tensor, nn

from rnnkit.data.readers import is_number
from rnnkit.text.vocab import PAD, Vocab

T = TypeVar("T")


@dataclass(frozen=True)
class CoverageReport:
    """How many vocabulary tokens a pretrained file or vector set provided vectors for.

    Special tokens are not looked up and do not count towards ``total``.

    Attributes:
        found: Tokens matched exactly.
        found_lowercase: Tokens matched only case-insensitively (e.g. ``Paris`` -> ``paris``).
        total: Regular (non-special) tokens in the vocabulary.
        missing: Tokens without a vector, in vocabulary order (most frequent first for a
            vocabulary made by :meth:`~rnnkit.text.vocab.Vocab.build`).
    """

    found: int
    found_lowercase: int
    total: int
    missing: tuple[str, ...]

    @property
    def matched(self) -> int:
        """Tokens that received a pretrained vector, by either kind of match."""
        return self.found + self.found_lowercase

    @property
    def fraction(self) -> float:
        """``matched / total`` (0.0 for an empty total)."""
        return self.matched / self.total if self.total else 0.0

    def __str__(self) -> str:
        return (
            f"coverage {self.fraction:.1%}: {self.matched}/{self.total} tokens "
            f"({self.found} exact, {self.found_lowercase} case-insensitive)"
        )


def _open_text(path: Path) -> IO[str]:
    """Open a UTF-8 text file, transparently gunzipping it if it is gzip-compressed."""
    with open(path, "rb") as raw:
        magic = raw.read(2)
    # Undecodable bytes become U+FFFD instead of aborting hours into a multi-GB file; such a
    # word then simply matches nothing in the vocabulary.
    # Lines end at "\n" alone (a "\r\n" leaves a "\r" that rstrip drops): a lone "\r" or
    # U+2028 inside a word is part of the word, not a line break, as gensim reads them.
    if magic == b"\x1f\x8b":
        return gzip.open(path, "rt", encoding="utf-8-sig", errors="replace", newline="\n")
    return open(path, encoding="utf-8-sig", errors="replace", newline="\n")


def _iter_vector_lines(
    path: Path, embedding_dim: int | None
) -> Iterator[tuple[int, str, list[str], int]]:
    """Yield ``(line number, word, value fields, dim)`` for each vector line of the file.

    The format is detected from the first line: two integers are a word2vec header
    (``count dim``); anything else is already a GloVe-style ``word v1 ... vD`` line.
    """
    dim: int | None = None
    source = ""
    with _open_text(path) as f:
        for lineno, line in enumerate(f, start=1):
            parts = line.rstrip().split(" ")
            if parts == [""]:
                continue  # blank line, typically at the end of the file
            if dim is None:
                is_header = lineno == 1 and len(parts) == 2 and all(p.isdecimal() for p in parts)
                dim = int(parts[1]) if is_header else len(parts) - 1
                if dim < 1:
                    raise ValueError(f"{path}:{lineno}: expected a word followed by its vector")
                source = "its word2vec header" if is_header else "its first vector"
                if embedding_dim is not None and dim != embedding_dim:
                    raise ValueError(
                        f"{path}:{lineno}: the file's vectors have dimension {dim} (from "
                        f"{source}) but embedding_dim={embedding_dim} was requested"
                    )
                if is_header:
                    continue
            n = len(parts) - 1
            # GloVe 840B has a few words containing spaces (". . ."): extra leading fields are
            # part of the word, unless the field just before the vector is itself a number,
            # in which case the line really has more values than the others.
            if n < dim or (n > dim and is_number(parts[-dim - 1])):
                hint = ""
                if "\ufffd" in line:
                    hint = " (binary word2vec files are not supported; convert to text)"
                raise ValueError(
                    f"{path}:{lineno}: inconsistent vector dimension: this line has {n} "
                    f"values, expected {dim} (from {source}){hint}"
                )
            word = parts[0] if n == dim else " ".join(parts[:-dim])
            yield lineno, word, parts[-dim:], dim


def vector_words(path: str | os.PathLike[str], count: int | None) -> list[str]:
    """The first ``count`` words (all of them with None) of a word2vec or GloVe text file
    (optionally gzipped), in file order: the most frequent first for the published files.
    Reads no further.

    Raises:
        ValueError: If the file's lines before them are not vector lines (naming the file
            and line).
    """
    lines = _iter_vector_lines(Path(path), None)
    return [word for _, word, _, _ in itertools.islice(lines, count)]


def _parse_vector(fields: list[str], path: Path, lineno: int) -> np.ndarray:
    try:
        vector = np.array(fields, dtype=np.float32)
    except ValueError as e:
        raise ValueError(f"{path}:{lineno}: malformed number in vector ({e})") from None
    if not np.isfinite(vector).all():
        raise ValueError(f"{path}:{lineno}: vector contains NaN or infinity")
    return vector


def _pick(
    entries: Iterable[tuple[str, T]], vocab: Vocab, lowercase_fallback: bool
) -> tuple[dict[str, T], dict[str, T]]:
    """The entries of a vector source that the regular tokens of ``vocab`` use: by word, the
    first entry of exactly that word, and (with ``lowercase_fallback``) by lowercased word,
    the first entry matching it case-insensitively. First occurrence wins: vector sets are
    sorted by frequency, and GloVe 840B has duplicates. ``T`` is whatever locates a vector
    (a file's line, a matrix row), read only for the entries kept."""
    words = vocab.tokens[len(vocab.specials) :]
    wanted = set(words)
    wanted_lower = {w.lower() for w in words} if lowercase_fallback else set()
    exact: dict[str, T] = {}
    lower: dict[str, T] = {}
    for word, where in entries:
        if word in wanted and word not in exact:
            exact[word] = where
        if wanted_lower:
            key = word.lower()
            if key in wanted_lower and key not in lower:
                lower[key] = where
    return exact, lower


class Embedding(nn.Embedding):
    """:class:`torch.nn.Embedding` with range-checked ids, freezing and pretrained loading.

    Behaves exactly like :class:`torch.nn.Embedding` (it is a subclass), except that ids
    outside ``0 .. num_embeddings - 1`` raise a ``ValueError`` naming the bad id rather than
    an opaque ``IndexError`` from the kernel.

    Args:
        num_embeddings: Number of rows (the vocabulary size).
        embedding_dim: Size of each vector.
        padding_idx: Row that is kept at zero and receives no gradient.
        freeze: Make the weight non-trainable.
        **kwargs: Further :class:`torch.nn.Embedding` options (``max_norm``, ``sparse``, ...).

    Attributes:
        coverage: The :class:`CoverageReport` of :meth:`from_pretrained_file` or
            :meth:`from_pretrained_vectors`, else ``None``.
    """

    coverage: CoverageReport | None

    def __init__(
        self,
        num_embeddings: int,
        embedding_dim: int,
        padding_idx: int | None = None,
        *,
        freeze: bool = False,
        **kwargs: Any,
    ) -> None:
        if num_embeddings < 1 or embedding_dim < 1:
            raise ValueError(
                "num_embeddings and embedding_dim must be >= 1, got "
                f"{num_embeddings} and {embedding_dim}"
            )
        if padding_idx is not None and not -num_embeddings <= padding_idx < num_embeddings:
            raise ValueError(
                f"padding_idx={padding_idx} is out of range for {num_embeddings} embeddings"
            )
        super().__init__(num_embeddings, embedding_dim, padding_idx, **kwargs)
        if freeze:
            self.weight.requires_grad_(False)
        self.coverage = None

    @classmethod
    def from_vocab(cls, vocab: Vocab, embedding_dim: int, **kwargs: Any) -> Embedding:
        """A randomly initialised embedding sized for ``vocab``, padding at ``<pad>`` if any.

        Args:
            vocab: The vocabulary.
            embedding_dim: Size of each vector.
            **kwargs: Passed to the constructor (``freeze``, ``max_norm``, ...).
        """
        padding_idx = vocab.pad_index if PAD in vocab.specials else None
        return cls(len(vocab), embedding_dim, padding_idx, **kwargs)

    @classmethod
    def from_pretrained_file(
        cls,
        path: str | os.PathLike[str],
        vocab: Vocab,
        *,
        embedding_dim: int | None = None,
        freeze: bool = False,
        lowercase_fallback: bool = True,
        generator: torch.Generator | None = None,
        **kwargs: Any,
    ) -> Embedding:
        """Build an embedding for ``vocab`` from a word2vec or GloVe text file.

        The file (optionally gzip-compressed) is streamed; only vectors of vocabulary words
        are kept in memory. The format is detected from the first line: a ``count dim``
        header means word2vec, otherwise GloVe. Vocabulary words missing from the file, and
        the special tokens, get random vectors drawn from ``N(0, s^2)`` where ``s`` is the
        standard deviation of the loaded vectors, so they are on the same scale; the
        ``<pad>`` row, if the vocabulary has one, is zero and is the ``padding_idx``. Numbers
        are parsed (and validated) only on lines whose word is used.

        Args:
            path: The vector file.
            vocab: The vocabulary whose tokens are looked up.
            embedding_dim: Expected vector size; ``None`` accepts the file's.
            freeze: Make the weight non-trainable.
            lowercase_fallback: For a word with no exact entry, use the first entry that
                matches it case-insensitively.
            generator: Random generator for the missing rows (default: torch's global one).
            **kwargs: Further :class:`torch.nn.Embedding` options.

        Returns:
            The embedding, with its :class:`CoverageReport` in ``.coverage``.

        Raises:
            ValueError: If the file's dimension disagrees with ``embedding_dim``, lines have
                inconsistent dimensions, or a used vector has a malformed or non-finite
                number; the message names the file and line.
        """
        path = Path(path)
        dims: list[int] = []  # the file's width, known from its first vector line

        def entries() -> Iterator[tuple[str, tuple[int, list[str]]]]:
            for lineno, word, fields, dim in _iter_vector_lines(path, embedding_dim):
                if not dims:
                    dims.append(dim)
                yield word, (lineno, fields)

        # Numbers are parsed only for the lines a vocabulary word took.
        exact, lower = _pick(entries(), vocab, lowercase_fallback)
        if not dims:
            raise ValueError(f"{path}: the file contains no vectors")
        return cls._from_matches(
            vocab,
            {key: _parse_vector(fields, path, line) for key, (line, fields) in exact.items()},
            {key: _parse_vector(fields, path, line) for key, (line, fields) in lower.items()},
            dims[0],
            f"{path}: none of the {{n}} vocabulary tokens has a vector in the file",
            freeze=freeze,
            generator=generator,
            **kwargs,
        )

    @classmethod
    def from_pretrained_vectors(
        cls,
        words: Sequence[str],
        vectors: np.ndarray,
        vocab: Vocab,
        *,
        source: str = "vectors",
        embedding_dim: int | None = None,
        freeze: bool = False,
        lowercase_fallback: bool = True,
        generator: torch.Generator | None = None,
        **kwargs: Any,
    ) -> Embedding:
        """Build an embedding for ``vocab`` from a matrix whose row ``i`` is the vector of
        ``words[i]`` (e.g. a memory-mapped ``.npy`` file and its word list).

        Words are matched as by :meth:`from_pretrained_file` (exact first, then the first
        case-insensitive entry; the first of duplicate words wins), missing tokens and the
        specials get random vectors on the scale of the loaded ones, ``<pad>`` is zero. Only
        the rows of vocabulary words are read.

        Args:
            words: The word of each row of ``vectors``.
            vectors: A 2-D floating-point array, one row per word.
            vocab: The vocabulary whose tokens are looked up.
            source: What the vectors are called in error messages and warnings.
            embedding_dim: Expected vector size; ``None`` accepts the matrix's.
            freeze: Make the weight non-trainable.
            lowercase_fallback: For a word with no exact entry, use the first entry that
                matches it case-insensitively.
            generator: Random generator for the missing rows (default: torch's global one).
            **kwargs: Further :class:`torch.nn.Embedding` options.

        Returns:
            The embedding, with its :class:`CoverageReport` in ``.coverage``.

        Raises:
            ValueError: If the matrix is not 2-D floating point, its row count differs from
                ``len(words)``, its width from ``embedding_dim``, or a used row is not finite.
        """
        if vectors.ndim != 2 or vectors.dtype.kind != "f":
            raise ValueError(
                f"{source}: expected a 2-D floating-point matrix of vectors, got shape "
                f"{vectors.shape} of {vectors.dtype}"
            )
        count, dim = vectors.shape
        if count != len(words):
            raise ValueError(f"{source}: {len(words)} words but {count} vectors")
        if count == 0 or dim == 0:
            raise ValueError(f"{source}: contains no vectors")
        if embedding_dim is not None and dim != embedding_dim:
            raise ValueError(
                f"{source}: the vectors have dimension {dim} but "
                f"embedding_dim={embedding_dim} was requested"
            )

        def row(i: int) -> np.ndarray:
            vector = np.asarray(vectors[i], dtype=np.float32)
            if not np.isfinite(vector).all():
                raise ValueError(f"{source}: the vector of {words[i]!r} (row {i}) is not finite")
            return vector

        exact, lower = _pick(((w, i) for i, w in enumerate(words)), vocab, lowercase_fallback)
        return cls._from_matches(
            vocab,
            {key: row(i) for key, i in exact.items()},
            {key: row(i) for key, i in lower.items()},
            dim,
            f"{source}: none of the {{n}} vocabulary tokens has a vector",
            freeze=freeze,
            generator=generator,
            **kwargs,
        )

    @classmethod
    def _from_matches(
        cls,
        vocab: Vocab,
        exact: Mapping[str, np.ndarray],
        lower: Mapping[str, np.ndarray],
        dim: int,
        nothing_found: str,
        *,
        freeze: bool,
        generator: torch.Generator | None,
        **kwargs: Any,
    ) -> Embedding:
        """The embedding of ``vocab`` from the vectors :func:`_pick` chose (by word, and by
        lowercased word for the fallback), with its coverage report; ``nothing_found`` is
        the warning (``{n}``: the number of tokens) when no token has a vector."""
        n_special = len(vocab.specials)
        words = vocab.tokens[n_special:]
        rows: list[int] = []
        vectors: list[np.ndarray] = []
        missing: list[str] = []
        n_lower = 0
        for i, word in enumerate(words, start=n_special):
            vector = exact.get(word)
            if vector is None and lower:
                vector = lower.get(word.lower())
                n_lower += vector is not None
            if vector is None:
                missing.append(word)
            else:
                rows.append(i)
                vectors.append(vector)

        if vectors:
            loaded = torch.from_numpy(np.stack(vectors))
            std = float(loaded.std(unbiased=False)) if loaded.numel() > 1 else 0.0
        else:
            warnings.warn(nothing_found.format(n=len(words)), stacklevel=3)
            loaded = torch.empty(0, dim)
            std = 0.0
        if not math.isfinite(std) or std == 0.0:
            std = 1.0  # nn.Embedding's own N(0, 1) when there is no usable scale
        weight = torch.randn(len(vocab), dim, generator=generator) * std
        weight[rows] = loaded
        padding_idx = vocab.pad_index if PAD in vocab.specials else None
        if padding_idx is not None:
            weight[padding_idx] = 0.0

        embedding = cls(len(vocab), dim, padding_idx, freeze=freeze, _weight=weight, **kwargs)
        embedding.coverage = CoverageReport(
            found=len(rows) - n_lower,
            found_lowercase=n_lower,
            total=len(words),
            missing=tuple(missing),
        )
        return embedding

    def forward(self, input: Tensor) -> Tensor:
        """Look up the vectors of ``input`` (an integer tensor of any shape)."""
        self.check_ids(input)
        return super().forward(input)

    def check_ids(self, input: Tensor) -> None:
        """A ``ValueError`` unless ``input`` holds integer ids of rows of this embedding."""
        if input.is_floating_point() or input.is_complex() or input.dtype == torch.bool:
            raise ValueError(f"embedding ids must be an integer tensor, got {input.dtype}")
        if input.numel():
            lo, hi = torch.aminmax(input)
            if lo < 0 or hi >= self.num_embeddings:
                bad = int(lo) if lo < 0 else int(hi)
                raise ValueError(
                    f"id {bad} is out of range for an embedding with "
                    f"{self.num_embeddings} rows (valid ids: 0..{self.num_embeddings - 1})"
                )
