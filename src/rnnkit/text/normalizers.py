"""Token normalisers: small ``str -> str`` callables applied before vocabulary lookup.

Normalisers collapse tokens that carry little lexical information (URLs, numbers) into a
single placeholder, so that the vocabulary spends its slots on real words. They are looked up
by name through a registry, so that a command line can pass ``--normalize url,number`` and a
saved :class:`~rnnkit.text.vocab.Vocab` can record which ones it was built with.
"""

from __future__ import annotations

import re
from collections.abc import Callable

Normalizer = Callable[[str], str]
"""A normaliser maps one token to one token."""

URL_TOKEN = "<url>"
NUM_TOKEN = "<num>"

# Used with fullmatch: the token must *be* a URL, not merely contain "www.".
_URL_RE = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)

# An optional sign, digits with optional thousands separators ("1,000"), an optional
# decimal part and an optional exponent. ``\d`` also accepts non-ASCII digits (e.g. full-width).
_NUMBER_RE = re.compile(
    r"[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:[eE][+-]?\d+)?"
    r"|[+-]?\.\d+(?:[eE][+-]?\d+)?"
)


def url_normalizer(token: str) -> str:
    """Replace a token that is a URL (``http://``, ``https://`` or ``www.``) by ``<url>``.

    Args:
        token: The token to normalise.

    Returns:
        ``"<url>"`` if the whole token is a URL, otherwise the token unchanged.
    """
    return URL_TOKEN if _URL_RE.fullmatch(token) else token


def number_normalizer(token: str) -> str:
    """Replace a token that is a number (``12``, ``-3.5``, ``1,000``, ``2e-3``) by ``<num>``.

    Args:
        token: The token to normalise.

    Returns:
        ``"<num>"`` if the whole token is a number, otherwise the token unchanged.
    """
    return NUM_TOKEN if _NUMBER_RE.fullmatch(token) else token


def lowercase(token: str) -> str:
    """Lower-case a token, leaving special tokens of the form ``<...>`` untouched.

    Args:
        token: The token to normalise.

    Returns:
        The lower-cased token, or the token itself if it looks like ``<SPECIAL>``.
    """
    # Specials are case-sensitive identifiers; "<UNK>" must not silently become "<unk>".
    if len(token) > 2 and token.startswith("<") and token.endswith(">"):
        return token
    return token.lower()


_REGISTRY: dict[str, Normalizer] = {
    "url": url_normalizer,
    "number": number_normalizer,
    "lowercase": lowercase,
}


def available_normalizers() -> tuple[str, ...]:
    """Return the registered normaliser names, sorted."""
    return tuple(sorted(_REGISTRY))


def get_normalizer(name: str) -> Normalizer:
    """Look up a normaliser by its registered name.

    Args:
        name: A registered name such as ``"url"``, ``"number"`` or ``"lowercase"``.

    Returns:
        The normaliser.

    Raises:
        ValueError: If no normaliser is registered under ``name``; the message lists the
            known names.
    """
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(available_normalizers())
        raise ValueError(f"unknown normalizer {name!r}; known normalizers: {known}") from None


def normalizer_name(normalizer: Normalizer) -> str:
    """Return the registered name of a normaliser (the inverse of :func:`get_normalizer`).

    Raises:
        ValueError: If the callable is not registered, since it could then not be restored
            when a vocabulary is loaded.
    """
    for name, fn in _REGISTRY.items():
        if fn is normalizer:
            return name
    raise ValueError(
        f"normalizer {normalizer!r} is not registered; register it with "
        "register_normalizer(name, fn) so that a saved vocabulary can restore it"
    )


def register_normalizer(name: str, normalizer: Normalizer) -> None:
    """Register a custom normaliser under ``name``.

    Registration is process-wide; a vocabulary saved with a custom normaliser can only be
    loaded in a process where the same name has been registered again.

    Args:
        name: The name to register; must not be empty or already taken by another callable.
        normalizer: A ``str -> str`` callable.

    Raises:
        ValueError: If the name is empty or already registered to a different callable.
        TypeError: If ``normalizer`` is not callable.
    """
    if not isinstance(name, str) or not name:
        raise ValueError("normalizer name must be a non-empty string")
    if not callable(normalizer):
        raise TypeError(f"normalizer {name!r} must be callable, got {type(normalizer).__name__}")
    existing = _REGISTRY.get(name)
    if existing is not None and existing is not normalizer:
        raise ValueError(f"a different normalizer is already registered as {name!r}")
    _REGISTRY[name] = normalizer
