"""Token vocabulary: counting, frequency cut-offs, special tokens and JSON persistence."""

from __future__ import annotations

import json
import operator
import os
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from rnnkit.text.normalizers import Normalizer, get_normalizer, normalizer_name

PAD = "<pad>"
UNK = "<unk>"
BOS = "<bos>"
EOS = "<eos>"
DEFAULT_SPECIALS: tuple[str, ...] = (PAD, UNK, BOS, EOS)

_FORMAT = "rnnkit.vocab"
_VERSION = 1


def _resolve_normalizers(
    normalizers: Iterable[str | Normalizer],
) -> tuple[tuple[str, ...], tuple[Normalizer, ...]]:
    """Turn a mix of names and registered callables into (names, callables)."""
    if isinstance(normalizers, str):
        # A bare "lowercase" would otherwise be iterated character by character.
        normalizers = (normalizers,)
    names: list[str] = []
    fns: list[Normalizer] = []
    for item in normalizers:
        if isinstance(item, str):
            names.append(item)
            fns.append(get_normalizer(item))
        else:
            names.append(normalizer_name(item))
            fns.append(item)
    return tuple(names), tuple(fns)


def _looks_special(token: str) -> bool:
    return len(token) > 2 and token.startswith("<") and token.endswith(">")


class Vocab:
    """A bidirectional mapping between tokens and integer ids.

    Ids ``0 .. len(specials) - 1`` are the special tokens in the order given; the regular
    tokens follow. The special roles are identified by their standard spellings
    (:data:`PAD` ``"<pad>"``, :data:`UNK` ``"<unk>"``, :data:`BOS` ``"<bos>"``,
    :data:`EOS` ``"<eos>"``); a vocabulary may omit any of them or add others.

    Most users call :meth:`build` rather than the constructor.

    Args:
        tokens: The regular (non-special) tokens, in id order.
        specials: The special tokens, placed first.
        counts: Optional corpus frequency of each regular token.
        normalizers: Normaliser names (see :mod:`rnnkit.text.normalizers`) or registered
            normaliser callables, applied in order by :meth:`encode`.

    Raises:
        ValueError: If there are no regular tokens, a token is empty or duplicated, a
            regular token is also a special, or ``counts`` mentions unknown tokens.
    """

    def __init__(
        self,
        tokens: Iterable[str],
        *,
        specials: Sequence[str] = DEFAULT_SPECIALS,
        counts: Mapping[str, int] | None = None,
        normalizers: Iterable[str | Normalizer] = (),
    ) -> None:
        specials = tuple(specials)
        tokens = tuple(tokens)
        for kind, group in (("special", specials), ("token", tokens)):
            for tok in group:
                if not isinstance(tok, str):
                    raise TypeError(f"{kind} {tok!r} must be a str, got {type(tok).__name__}")
                if not tok:
                    raise ValueError(f"empty string is not allowed as a {kind}")
        if not tokens:
            raise ValueError(
                f"empty vocabulary: there are no tokens besides the specials {list(specials)}"
            )
        itos = specials + tokens
        stoi: dict[str, int] = {}
        for i, tok in enumerate(itos):
            if tok in stoi:
                where = "special" if i < len(specials) else "token"
                raise ValueError(f"duplicate {where} {tok!r} at positions {stoi[tok]} and {i}")
            stoi[tok] = i

        counts = dict(counts or {})
        for tok, count in counts.items():
            if tok not in stoi or stoi[tok] < len(specials):
                raise ValueError(f"counts given for {tok!r}, which is not a regular token")
            if isinstance(count, bool) or not isinstance(count, int) or count < 0:
                raise ValueError(f"count of {tok!r} must be a non-negative int, got {count!r}")

        self._specials = specials
        self._itos = itos
        self._stoi = stoi
        self._counts = counts
        self._normalizer_names, self._normalizers = _resolve_normalizers(normalizers)

    @classmethod
    def build(
        cls,
        sequences: Iterable[Sequence[str]],
        *,
        min_freq: int = 1,
        max_size: int | None = None,
        specials: Sequence[str] = DEFAULT_SPECIALS,
        normalizers: Iterable[str | Normalizer] = (),
    ) -> Vocab:
        """Count tokens and build a vocabulary.

        The order is deterministic: the specials in the order given, then the regular tokens
        by descending count, ties broken by code-point order of the token. Tokens equal to a
        special (e.g. a literal ``<unk>`` in Penn Treebank text) are not counted as regular
        tokens.

        Args:
            sequences: An iterable of token sequences (e.g. a list of sentences, each a list
                of words). Consumed once, so a generator is fine.
            min_freq: Keep tokens occurring at least this many times (after normalisation).
            max_size: Upper bound on ``len(vocab)``, specials included.
            specials: The special tokens, placed first.
            normalizers: Normaliser names or registered callables, applied in order to each
                token before counting (and later by :meth:`encode`).

        Returns:
            The vocabulary.

        Raises:
            ValueError: If ``min_freq`` or ``max_size`` is invalid, a token is the empty
                string, or no token survives (empty data or everything below ``min_freq``).
            TypeError: If a sequence is a plain string or contains non-string tokens.
        """
        if isinstance(min_freq, bool) or not isinstance(min_freq, int) or min_freq < 1:
            raise ValueError(f"min_freq must be an int >= 1, got {min_freq!r}")
        specials = tuple(specials)
        if max_size is not None and (
            isinstance(max_size, bool) or not isinstance(max_size, int) or max_size <= len(specials)
        ):
            raise ValueError(
                f"max_size must be an int greater than the number of specials "
                f"({len(specials)}), got {max_size!r}"
            )
        names, fns = _resolve_normalizers(normalizers)

        counter: Counter[str] = Counter()
        for i, seq in enumerate(sequences):
            if isinstance(seq, str):
                raise TypeError(
                    f"sequence {i} is a str; pass a sequence of tokens "
                    "(for a character vocabulary use list(text))"
                )
            seq = list(seq)
            for tok in seq:
                if not isinstance(tok, str):
                    raise TypeError(
                        f"sequence {i} contains {tok!r} of type {type(tok).__name__}; "
                        "tokens must be str"
                    )
                if not tok:
                    raise ValueError(f"sequence {i} contains an empty-string token")
            for fn in fns:
                seq = [fn(tok) for tok in seq]
            counter.update(seq)

        for special in specials:
            counter.pop(special, None)
        ranked = sorted(
            ((tok, n) for tok, n in counter.items() if n >= min_freq),
            key=lambda item: (-item[1], item[0]),
        )
        if max_size is not None:
            ranked = ranked[: max_size - len(specials)]
        if not ranked:
            if counter:
                reason = f"none of the {len(counter)} distinct tokens occurs {min_freq}+ times"
            else:
                reason = "the data contains no tokens besides the specials"
            raise ValueError(f"empty vocabulary: {reason}")
        return cls(
            [tok for tok, _ in ranked],
            specials=specials,
            counts=dict(ranked),
            normalizers=names,
        )

    # ------------------------------------------------------------------ lookup

    def __len__(self) -> int:
        return len(self._itos)

    def __contains__(self, token: object) -> bool:
        """Exact membership; normalisers are *not* applied."""
        return token in self._stoi

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Vocab):
            return NotImplemented
        return (
            self._itos == other._itos
            and self._specials == other._specials
            and self._normalizer_names == other._normalizer_names
            and self._counts == other._counts
        )

    def __repr__(self) -> str:
        return (
            f"Vocab(size={len(self)}, specials={list(self._specials)}, "
            f"normalizers={list(self._normalizer_names)})"
        )

    @property
    def tokens(self) -> tuple[str, ...]:
        """All tokens in id order, specials first."""
        return self._itos

    @property
    def specials(self) -> tuple[str, ...]:
        """The special tokens, in id order."""
        return self._specials

    @property
    def normalizers(self) -> tuple[str, ...]:
        """Names of the normalisers applied by :meth:`encode`, in order."""
        return self._normalizer_names

    @property
    def counts(self) -> dict[str, int]:
        """Corpus frequency of each regular token (a copy; empty if unknown)."""
        return dict(self._counts)

    def index(self, token: str) -> int:
        """Return the id of ``token`` exactly as spelt (no normalisation, no ``<unk>``).

        Raises:
            ValueError: If the token is not in the vocabulary; for a token of the form
                ``<...>`` the message names it as a missing special and lists the specials.
        """
        try:
            return self._stoi[token]
        except (KeyError, TypeError):
            if isinstance(token, str) and _looks_special(token):
                raise ValueError(
                    f"special token {token!r} is not in this vocabulary; "
                    f"its specials are {list(self._specials)}"
                ) from None
            raise ValueError(f"token {token!r} is not in the vocabulary") from None

    @property
    def pad_index(self) -> int:
        """Id of ``<pad>``; ValueError if the vocabulary has no ``<pad>``."""
        return self.index(PAD)

    @property
    def unk_index(self) -> int:
        """Id of ``<unk>``; ValueError if the vocabulary has no ``<unk>``."""
        return self.index(UNK)

    @property
    def bos_index(self) -> int:
        """Id of ``<bos>``; ValueError if the vocabulary has no ``<bos>``."""
        return self.index(BOS)

    @property
    def eos_index(self) -> int:
        """Id of ``<eos>``; ValueError if the vocabulary has no ``<eos>``."""
        return self.index(EOS)

    def normalize(self, token: str) -> str:
        """Apply this vocabulary's normalisers to one token."""
        for fn in self._normalizers:
            token = fn(token)
        return token

    def token_to_index(self, token: str) -> int:
        """Map one token to its id: normalise it, and fall back to ``<unk>`` if unknown.

        Raises:
            ValueError: If the token is unknown and the vocabulary has no ``<unk>``.
        """
        idx = self._stoi.get(self.normalize(token))
        if idx is not None:
            return idx
        unk = self._stoi.get(UNK)
        if unk is None:
            raise ValueError(
                f"token {token!r} is not in the vocabulary, which has no {UNK!r} to map it to"
            )
        return unk

    def index_to_token(self, index: int) -> str:
        """Map one id back to its token.

        Raises:
            ValueError: If ``index`` is outside ``0 .. len(self) - 1``.
            TypeError: If ``index`` is not an integer.
        """
        i = operator.index(index)
        if not 0 <= i < len(self._itos):
            raise ValueError(f"id {i} is out of range for a vocabulary of {len(self)} tokens")
        return self._itos[i]

    def encode(
        self, tokens: Iterable[str], *, add_bos: bool = False, add_eos: bool = False
    ) -> list[int]:
        """Map a token sequence to ids (normalised; unknown tokens become ``<unk>``).

        Args:
            tokens: The tokens of one sequence.
            add_bos: Prepend the ``<bos>`` id.
            add_eos: Append the ``<eos>`` id.

        Returns:
            The ids.

        Raises:
            TypeError: If ``tokens`` is a plain string (it would be encoded per character).
            ValueError: If ``<bos>``/``<eos>`` is requested but absent, or a token is
                unknown and there is no ``<unk>``.
        """
        if isinstance(tokens, str):
            raise TypeError("encode expects a sequence of tokens, not a str")
        ids = [self.token_to_index(tok) for tok in tokens]
        if add_bos:
            ids.insert(0, self.bos_index)
        if add_eos:
            ids.append(self.eos_index)
        return ids

    def decode(self, ids: Iterable[int], *, strip_specials: bool = True) -> list[str]:
        """Map ids back to tokens.

        Args:
            ids: A sequence of ids (a list, or a 1-D integer tensor or array).
            strip_specials: Drop special tokens such as padding and ``<bos>``/``<eos>``.
                ``<unk>`` is kept because it stands for a real (unknown) word.

        Returns:
            The tokens.

        Raises:
            ValueError: If an id is out of range or ``ids`` is not one-dimensional.
        """
        shape = getattr(ids, "shape", None)  # torch.Tensor / numpy.ndarray
        if shape is not None:
            if len(shape) != 1:
                raise ValueError(f"decode expects a 1-D sequence of ids, got shape {tuple(shape)}")
            ids = ids.tolist()  # type: ignore[attr-defined]
        tokens = [self.index_to_token(i) for i in ids]
        if strip_specials:
            drop = set(self._specials) - {UNK}
            tokens = [tok for tok in tokens if tok not in drop]
        return tokens

    # ------------------------------------------------------------- persistence

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-serialisable representation written by :meth:`save`."""
        return {
            "format": _FORMAT,
            "version": _VERSION,
            "specials": list(self._specials),
            "normalizers": list(self._normalizer_names),
            "tokens": list(self._itos[len(self._specials) :]),
            "counts": dict(self._counts),
        }

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the vocabulary as UTF-8 JSON, atomically.

        The file is written next to its destination and moved into place, so an interrupted
        save never leaves a truncated vocabulary behind.
        """
        path = Path(path)
        # A plain exclusive open (not tempfile.mkstemp, which creates mode 0600) so the
        # file gets the usual permissions from the umask.
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        try:
            with open(tmp, "x", encoding="utf-8") as f:
                json.dump(self.to_dict(), f, ensure_ascii=False, indent=1)
                f.write("\n")
            os.replace(tmp, path)
        except UnicodeEncodeError as err:  # a lone surrogate from a badly decoded file
            tmp.unlink(missing_ok=True)
            bad = err.object[err.start : err.end]
            raise ValueError(f"{path}: a token holds {bad!r}, which is not UTF-8 text") from None
        except BaseException:
            # Leave no stray temporary file on failure (including KeyboardInterrupt).
            tmp.unlink(missing_ok=True)
            raise

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Vocab:
        """Read a vocabulary written by :meth:`save`.

        Raises:
            ValueError: If the file is not UTF-8, not valid JSON, not an rnnkit vocabulary,
                of an unsupported version, has missing or mistyped fields, or names an
                unknown normaliser. The message starts with the file name.
            OSError: If the file cannot be read.
        """
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except UnicodeDecodeError as e:
            raise ValueError(f"{path}: not UTF-8 text ({e})") from e
        except json.JSONDecodeError as e:
            raise ValueError(
                f"{path}: malformed JSON ({e.msg} at line {e.lineno}, column {e.colno})"
            ) from e
        return cls.from_dict(data, where=str(path))

    @classmethod
    def from_dict(cls, data: Any, where: str = "vocabulary") -> Vocab:
        """The vocabulary of a :meth:`to_dict` representation (``ValueError`` starting with
        ``where`` if it is not one)."""
        path = where
        if not isinstance(data, dict) or data.get("format") != _FORMAT:
            raise ValueError(f"{path}: not an rnnkit vocabulary (expected format {_FORMAT!r})")
        if data.get("version") != _VERSION:
            raise ValueError(
                f"{path}: unsupported vocabulary version {data.get('version')!r} "
                f"(this rnnkit reads version {_VERSION})"
            )
        fields = {"specials": list, "tokens": list, "normalizers": list, "counts": dict}
        for name, kind in fields.items():
            if name not in data:
                raise ValueError(f"{path}: missing field {name!r}")
            if not isinstance(data[name], kind):
                expected = "array" if kind is list else "object"
                raise ValueError(f"{path}: field {name!r} must be a JSON {expected}")
        try:
            return cls(
                data["tokens"],
                specials=data["specials"],
                counts=data["counts"],
                normalizers=data["normalizers"],
            )
        except (TypeError, ValueError) as e:
            raise ValueError(f"{path}: {e}") from e
