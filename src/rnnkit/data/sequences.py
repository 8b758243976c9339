"""A labelled set of numeric sequences: what the non-text readers of ``classify`` return.

Every example is a float32 array of shape ``(T_i, F)``: ``T_i`` time steps (different per
example) of the same ``F`` features.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["SequenceSet"]


@dataclass
class SequenceSet:
    """Sequences ``features[i]`` of shape ``(T_i, F)`` with their labels ``labels[i]``.

    ``source`` names where they came from (a file or folder) for error messages; ``names``
    optionally names each example (e.g. the audio file it was computed from).
    """

    features: list[np.ndarray]
    labels: list[str]
    source: str
    names: list[str] | None = None

    def __len__(self) -> int:
        return len(self.features)

    @property
    def num_features(self) -> int:
        """``F``, the number of features per time step (that of the first example)."""
        if not self.features:
            raise ValueError(f"{self.source}: no examples")
        return int(self.features[0].shape[1])

    def _example(self, index: int) -> str:
        """How messages refer to example ``index``: its name if there is one."""
        if self.names is not None and index < len(self.names):
            return f"example {index} ({self.names[index]})"
        return f"example {index}"

    def check(self) -> SequenceSet:
        """Raise ``ValueError`` (naming the source and the example) unless the set is usable:
        not empty, one label (and name) per example, every example a finite float32
        ``(T >= 1, F)`` array with the same ``F``. Returns the set itself."""
        if not self.features:
            raise ValueError(f"{self.source}: no examples")
        if len(self.labels) != len(self.features):
            raise ValueError(
                f"{self.source}: {len(self.features)} examples but {len(self.labels)} labels"
            )
        if self.names is not None and len(self.names) != len(self.features):
            raise ValueError(
                f"{self.source}: {len(self.features)} examples but {len(self.names)} names"
            )
        width = None
        for index, x in enumerate(self.features):
            if not isinstance(x, np.ndarray) or x.ndim != 2:
                shape = getattr(x, "shape", type(x).__name__)
                raise ValueError(
                    f"{self.source}: {self._example(index)} has shape {shape}, expected (T, F)"
                )
            if x.dtype != np.float32:
                raise ValueError(
                    f"{self.source}: {self._example(index)} has dtype {x.dtype}, expected float32"
                )
            if x.shape[0] == 0:
                raise ValueError(f"{self.source}: {self._example(index)} has no time steps")
            if width is None:
                width = x.shape[1]
            elif x.shape[1] != width:
                raise ValueError(
                    f"{self.source}: {self._example(index)} has {x.shape[1]} features, "
                    f"example 0 has {width}"
                )
            if not np.isfinite(x).all():
                step = int(np.argwhere(~np.isfinite(x))[0][0])
                raise ValueError(
                    f"{self.source}: {self._example(index)} has a non-finite value "
                    f"(NaN or inf) at time step {step}"
                )
        return self
