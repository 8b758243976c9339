"""Helpers for recurrent state: truncated BPTT and the one-tensor LSTM state layout."""

from __future__ import annotations

import torch
from torch import Tensor

State = Tensor | tuple[Tensor, Tensor]


def detach_state(state: State) -> State:
    """Cut the graph behind a state so the next chunk's backward stops here (truncated BPTT).

    Example:
        >>> lstm, state = rnnkit.LSTM(8, 16), None
        >>> for chunk in long_sequence.split(35, dim=1):   # (B, 35, 8) at a time
        ...     out, state = lstm(chunk, state)
        ...     loss_of(out).backward()
        ...     state = detach_state(state)                 # carry the values, not the graph
    """
    if isinstance(state, tuple):
        return tuple(s.detach() for s in state)
    return state.detach()


def state_to_tensor(state: State) -> Tensor:
    """One tensor for a state: an LSTM's ``(h, c)`` becomes ``[h, c]`` concatenated on the last
    dimension, ``(L·D, B, 2H)`` (the seeds' ``state_is_tuple=False``); h alone is returned as is."""
    if isinstance(state, tuple):
        if len(state) != 2 or state[0].shape != state[1].shape:
            raise ValueError(
                "state must be a tuple (h, c) of two tensors of the same shape, got "
                f"{[tuple(s.shape) for s in state]}"
            )
        return torch.cat(state, dim=-1)
    return state


def tensor_to_state(tensor: Tensor, lstm: bool = True) -> State:
    """Inverse of :func:`state_to_tensor`: ``(L·D, B, 2H)`` → ``(h, c)`` for an LSTM."""
    if not lstm:
        return tensor
    if tensor.shape[-1] % 2:
        raise ValueError(
            "tensor must hold [h, c] on its last dimension (even size 2H), "
            f"got {tuple(tensor.shape)}"
        )
    h, c = tensor.chunk(2, dim=-1)
    return h.contiguous(), c.contiguous()
