"""The input front every structure shares: a batch of sequences → per-step feature vectors.

A sequence is either token ids ``(B, T)``, looked up in an :class:`~rnnkit.text.Embedding`,
or numeric features ``(B, T, F)``, passed through unchanged. Either way the recurrent layer
behind the front sees ``(B, T, E)`` floats, so every structure takes token or numeric
sequences with the same code. Validation lives here too, so that a wrong rank, feature size
or ``lengths`` fails with a ``ValueError`` naming the argument before any layer runs.
"""

from __future__ import annotations

import numbers

import torch
from torch import Tensor, nn

from rnnkit.layout import check_lengths
from rnnkit.text.embedding import Embedding

__all__ = [
    "InputEncoder",
    "Lengths",
    "check_positive",
    "checked_ids",
    "is_integer",
    "sequence_lengths",
]

#: What every ``lengths`` argument takes: ``(B,)`` integers, a list of them, or None (all T).
Lengths = Tensor | list[int] | None


class InputEncoder(nn.Module):
    """Token ids through an embedding, or float features as they are: ``x → (B, T, E)``.

    Give exactly one of ``vocab_size`` (a new :class:`~rnnkit.text.Embedding` of
    ``embedding_dim``), ``embedding`` (an existing, e.g. pretrained, embedding) or
    ``input_size`` (numeric features of that size).

    Args:
        vocab_size: number of token ids; inputs are then integer ``(B, T)``.
        embedding_dim: size of each token vector (with ``vocab_size``).
        padding_idx: id whose vector is zero and gets no gradient (with ``vocab_size``).
        embedding: a ready embedding, e.g. from ``Embedding.from_pretrained_file``; its
            size, dimension and padding index are used (``vocab_size`` / ``embedding_dim``
            may be given as well, and must then agree).
        input_size: number of features per step; inputs are then float ``(B, T, F)``.

    Attributes:
        tokens: whether inputs are token ids.
        output_size: ``E``, the size of each step's feature vector.

    Example:
        >>> words = InputEncoder(vocab_size=100, embedding_dim=16, padding_idx=0)
        >>> words(torch.tensor([[5, 7, 0]])).shape
        torch.Size([1, 3, 16])
        >>> InputEncoder(input_size=3)(torch.randn(2, 5, 3)).shape
        torch.Size([2, 5, 3])
    """

    def __init__(
        self,
        *,
        vocab_size: int | None = None,
        embedding_dim: int | None = None,
        padding_idx: int | None = None,
        embedding: nn.Embedding | None = None,
        input_size: int | None = None,
    ) -> None:
        super().__init__()
        token_given = vocab_size is not None or embedding is not None
        if token_given == (input_size is not None):
            raise ValueError(
                "give either vocab_size (or embedding) for token-id inputs or input_size for "
                f"numeric inputs, exactly one; got vocab_size={vocab_size!r}, "
                f"embedding={type(embedding).__name__ if embedding is not None else None}, "
                f"input_size={input_size!r}"
            )
        self.embedding: nn.Embedding | None
        if embedding is not None:
            if not isinstance(embedding, nn.Embedding):
                raise ValueError(f"embedding must be an nn.Embedding, got {type(embedding)}")
            for name, given, actual in (
                ("vocab_size", vocab_size, embedding.num_embeddings),
                ("embedding_dim", embedding_dim, embedding.embedding_dim),
                ("padding_idx", padding_idx, embedding.padding_idx),
            ):
                if given is not None and given != actual:
                    raise ValueError(f"{name}={given} disagrees with the embedding's {actual}")
            self.embedding = embedding
        elif vocab_size is not None:
            check_positive("vocab_size", vocab_size)
            dim = 64 if embedding_dim is None else embedding_dim
            check_positive("embedding_dim", dim)
            self.embedding = Embedding(vocab_size, dim, padding_idx)
        else:
            check_positive("input_size", input_size)
            if embedding_dim is not None or padding_idx is not None:
                raise ValueError(
                    "embedding_dim and padding_idx apply to token inputs (vocab_size), "
                    "not to numeric inputs (input_size)"
                )
            self.embedding = None
        self.tokens = self.embedding is not None
        self.input_size = input_size
        self.output_size = self.embedding.embedding_dim if self.embedding else input_size

    @property
    def vocab_size(self) -> int | None:
        """Number of token ids, or ``None`` for numeric inputs."""
        return self.embedding.num_embeddings if self.embedding is not None else None

    def check(self, x: Tensor, name: str = "x") -> None:
        """Raise ``ValueError`` unless ``x`` is ``(B, T)`` integer ids or ``(B, T, F)`` floats."""
        if not isinstance(x, Tensor):
            raise ValueError(f"{name} must be a tensor, got {type(x).__name__}")
        if self.tokens:
            if x.dim() != 2 or not is_integer(x):
                raise ValueError(
                    f"{name} must be integer token ids of shape (B, T), "
                    f"got a {x.dtype} tensor of shape {tuple(x.shape)}"
                )
        elif x.dim() != 3 or x.shape[2] != self.input_size or not x.is_floating_point():
            raise ValueError(
                f"{name} must be float features of shape (B, T, F={self.input_size}), "
                f"got a {x.dtype} tensor of shape {tuple(x.shape)}"
            )

    def forward(self, x: Tensor) -> Tensor:
        """``(B, T)`` ids or ``(B, T, F)`` features → ``(B, T, E)`` features."""
        self.check(x)
        if self.embedding is None:
            return x
        return self.embedding(x)  # (B, T, E)

    def extra_repr(self) -> str:
        return "tokens" if self.tokens else f"input_size={self.input_size}"


def sequence_lengths(lengths: Lengths, batch: int, steps: int, device: torch.device) -> Tensor:
    """``lengths`` checked and as a long tensor ``(B,)`` on ``device``; all ``T`` if ``None``.

    Raises:
        ValueError: ``lengths`` is not ``B`` integers in ``[0, T]``.
    """
    if lengths is None:
        return torch.full((batch,), steps, dtype=torch.long, device=device)
    check_lengths(lengths, steps, batch)
    return torch.as_tensor(lengths, dtype=torch.long).to(device)


def is_integer(tensor: Tensor) -> bool:
    """Whether ``tensor`` holds integers (not floats, complex numbers or bools)."""
    dtype = tensor.dtype
    return not (dtype.is_floating_point or dtype.is_complex or dtype == torch.bool)


def check_positive(name: str, value: object) -> None:
    """Raise ``ValueError`` naming ``name`` unless ``value`` is an integer >= 1."""
    # (NumPy's integers too: a size read from an array, a grid of np.arange values)
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")


def checked_ids(ids: Tensor, num_classes: int, name: str, mask: Tensor | None = None) -> Tensor:
    """Class / tag / token ids as a long tensor, each in ``[0, num_classes)`` where ``mask``
    is True (everywhere if ``None``); entries outside the mask (padding) are set to 0.

    Raises:
        ValueError: naming ``name``, for non-integer ids or ids out of range.
    """
    if not is_integer(ids):
        raise ValueError(f"{name} must be integer ids, got {ids.dtype}")
    ids = ids.long()
    outside = (ids < 0) | (ids >= num_classes)
    if mask is not None:
        outside = outside & mask
    if outside.any():
        bad = ids[outside].unique()[:5].tolist()  # a few examples suffice
        raise ValueError(f"{name} must be ids in [0, {num_classes}), got {bad}")
    return ids if mask is None else ids.masked_fill(~mask, 0)
