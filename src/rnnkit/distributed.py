"""Data-parallel training with PyTorch DDP, launched by ``torchrun``.

One machine, N processes (gloo on CPU, nccl with ``--device cuda``)::

    torchrun --standalone --nproc_per_node 2 -m rnnkit train classify \\
        --train train.txt --valid dev.txt --out runs/ddp --batch-size 32

Several machines: run the same command on every node, with the node count, this node's index
(0 on one of them) and an address and free port of node 0 that every node can reach::

    # on node 0 (10.0.0.1)                      # on node 1
    torchrun --nnodes 2 --node_rank 0 \\          torchrun --nnodes 2 --node_rank 1 \\
        --nproc_per_node 4 \\                        --nproc_per_node 4 \\
        --master_addr 10.0.0.1 \\                    --master_addr 10.0.0.1 \\
        --master_port 29500 \\                       --master_port 29500 \\
        -m rnnkit train classify ...                -m rnnkit train classify ...

Every node needs the data files at the same paths. Only the global rank 0 (on node 0) writes
the run directory, so ``--out`` only has to be writable there.

How the work is split: every rank reads the data in the same order (the trainer's data-order
generator has the same seed everywhere) and :func:`shard` gives each rank its contiguous slice
of every *global* batch of ``--batch-size`` examples. DDP averages the gradients over the
ranks, which equals the gradient of the global batch **when the loss is a mean over the
batch's examples** (as every rnnkit ``loss`` is) and the slices are equal; hence the global
batch size must be divisible by the number of processes. A last, smaller batch that does not
split equally is split as evenly as possible and each rank's loss is scaled by
``world_size · local / global`` examples, so its update is still the global batch's mean.
With the same seed and batch size, an N-process run therefore takes the same optimizer steps
as a 1-process run, up to floating-point rounding.

Every rank validates on the whole validation data (the weights are the same everywhere, so
early stopping decides alike); the ``train_loss`` rank 0 logs is the mean over its own slices
(with the scale above on an unequal last batch), not over the whole global batches.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel

from rnnkit.train import Batch, LossFn, default_loss

__all__ = [
    "LOSS_SCALE_KEY",
    "Context",
    "LossModule",
    "ShardedBatches",
    "barrier",
    "cleanup",
    "init_from_env",
    "loss_fn",
    "shard",
    "wrap",
]

# A dict batch key carrying a rank's loss weight for an unequally split batch (see shard).
LOSS_SCALE_KEY = "loss_scale"


@dataclass(frozen=True)
class Context:
    """Where this process stands in the job.

    Attributes:
        rank: the global rank, 0 to ``world_size - 1``.
        world_size: the number of processes; 1 for a plain run.
        local_rank: the rank on this node (the GPU index with nccl).
        is_main: whether this is rank 0, the one that writes files and prints.
        owns_group: whether :func:`init_from_env` created the process group (and
            :func:`cleanup` should destroy it).
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    owns_group: bool = False

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"environment variable {name} must be an integer, got {value!r}") from None


def init_from_env(device: str = "cpu") -> Context:
    """Join the job ``torchrun`` started, from its ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``,
    ``MASTER_ADDR`` and ``MASTER_PORT`` variables.

    Without them (or with ``WORLD_SIZE=1``) this is a plain run: nothing is initialized and
    the context is rank 0 of 1. Otherwise the process group is created with the ``nccl``
    backend for ``device="cuda"`` (and this process's GPU is ``cuda:LOCAL_RANK``) or ``gloo``
    for the CPU. A group that already exists (the caller set it up) is used as it is.
    """
    world_size = _env_int("WORLD_SIZE", 1)
    rank, local_rank = _env_int("RANK", 0), _env_int("LOCAL_RANK", 0)
    if world_size < 1 or not 0 <= rank < world_size:
        raise ValueError(f"bad torchrun environment: RANK={rank}, WORLD_SIZE={world_size}")
    if world_size == 1:
        return Context()
    if dist.is_initialized():
        return Context(dist.get_rank(), dist.get_world_size(), local_rank, owns_group=False)
    for name in ("MASTER_ADDR", "MASTER_PORT"):
        if not os.environ.get(name):
            raise ValueError(f"WORLD_SIZE={world_size} but {name} is not set; launch with torchrun")
    if device == "cuda":
        torch.cuda.set_device(local_rank)  # so "cuda" means this process's GPU
        backend = "nccl"
    else:
        backend = "gloo"
    dist.init_process_group(backend=backend, init_method="env://")
    context = Context(rank, world_size, local_rank, owns_group=True)
    barrier(context)  # every rank has checked its inputs before any rank writes
    return context


def barrier(context: Context) -> None:
    """Wait until every rank gets here (nothing to wait for in a plain run)."""
    if context.distributed and dist.is_initialized():
        dist.barrier()


def cleanup(context: Context) -> None:
    """Destroy the process group if :func:`init_from_env` created it."""
    if context.owns_group and dist.is_initialized():
        dist.destroy_process_group()


# ---------------------------------------------------------------------- the model
class LossModule(nn.Module):
    """A module whose ``forward(batch)`` is ``inner``'s loss on the batch.

    DDP synchronizes gradients only for what went through *its* ``forward``; calling
    ``ddp.module.loss(...)`` would skip the all-reduce. Wrapping this adapter makes the loss
    the forward. The parameters are ``inner``'s own, so the optimizer, checkpoints and
    evaluation keep using ``inner`` unwrapped.
    """

    def __init__(self, inner: nn.Module, loss: LossFn = default_loss) -> None:
        super().__init__()
        self.inner, self.loss = inner, loss

    def forward(self, batch: Batch) -> Tensor:
        scale = None
        if isinstance(batch, Mapping) and LOSS_SCALE_KEY in batch:
            batch = dict(batch)
            scale = batch.pop(LOSS_SCALE_KEY)
        loss = self.loss(self.inner, batch)
        return loss if scale is None else loss * scale


def wrap(model: nn.Module, context: Context, loss: LossFn = default_loss) -> nn.Module:
    """``DistributedDataParallel(LossModule(model, loss))`` in a distributed run, else
    ``model``.

    ``model`` must already be on its device. Train ``model`` itself (the optimizer takes its
    parameters) with :func:`loss_fn` of the result as the trainer's loss.
    """
    if not context.distributed:
        return model
    device_ids = [context.local_rank] if next(model.parameters()).is_cuda else None
    return DistributedDataParallel(LossModule(model, loss), device_ids=device_ids)


def loss_fn(wrapped: nn.Module, loss: LossFn = default_loss) -> LossFn:
    """The trainer's ``loss_fn(model, batch)`` for what :func:`wrap` returned.

    Distributed, the loss goes through the DDP wrapper's forward (so the gradients are
    averaged over the ranks in the backward pass); otherwise it is ``loss`` itself.
    """
    if not isinstance(wrapped, DistributedDataParallel):
        return loss
    inner = wrapped.module.inner

    def ddp_loss(model: nn.Module, batch: Batch) -> Tensor:
        if model is not inner:
            raise ValueError("the trainer's model is not the model wrapped for DDP")
        return wrapped(batch)

    return ddp_loss


# ---------------------------------------------------------------------- the data
def _slice(batch: Batch, start: int, stop: int) -> Batch:
    """Rows ``start:stop`` of every tensor with a batch dimension in dicts, tuples, lists."""
    if isinstance(batch, Tensor):
        return batch[start:stop] if batch.dim() > 0 else batch
    if isinstance(batch, Mapping):
        return {key: _slice(value, start, stop) for key, value in batch.items()}
    if isinstance(batch, (tuple, list)):
        return type(batch)(_slice(value, start, stop) for value in batch)
    return batch


def _rows(batch: Batch) -> int:
    """The leading size of the batch's first tensor with a dimension."""
    if isinstance(batch, Tensor):
        return batch.shape[0] if batch.dim() > 0 else 0
    if isinstance(batch, Mapping):
        values: Iterable[Batch] = batch.values()
    elif isinstance(batch, (tuple, list)):
        values = batch
    else:
        return 0
    for value in values:
        rows = _rows(value)
        if rows:
            return rows
    return 0


def _bounds(total: int, parts: int, index: int) -> tuple[int, int]:
    """The ``index``-th of ``parts`` contiguous, as equal as possible, slices of ``total``."""
    base, extra = divmod(total, parts)
    start = index * base + min(index, extra)
    return start, start + base + (1 if index < extra else 0)


class ShardedBatches:
    """This rank's slice of every global batch of ``batches`` (see :func:`shard`)."""

    def __init__(self, batches: Iterable[Batch], context: Context) -> None:
        self.batches, self.context = batches, context

    def __len__(self) -> int:
        return len(self.batches)  # type: ignore[arg-type]

    def __iter__(self) -> Iterator[Batch]:
        world, rank = self.context.world_size, self.context.rank
        for batch in self.batches:
            total = _rows(batch)
            if total < world:
                raise ValueError(
                    f"a training batch has {total} example(s), fewer than the {world} processes; "
                    "choose --batch-size so that the last batch has at least that many"
                )
            start, stop = _bounds(total, world, rank)
            local = _slice(batch, start, stop)
            if total % world:
                if not isinstance(local, Mapping):
                    raise ValueError(
                        f"a batch of {total} examples does not split equally over {world} "
                        "processes and only dict batches can carry a loss scale"
                    )
                # DDP averages equally over ranks; weigh each rank by its share of the batch.
                local = {**local, LOSS_SCALE_KEY: world * (stop - start) / total}
            yield local


def shard(
    batches: Iterable[Batch],
    context: Context,
    *,
    batch_size: int,
    num_examples: int | None = None,
) -> Iterable[Batch]:
    """Each rank's part of the same global batches, in the same order on every rank.

    ``batches`` must yield the same sequence on every rank (shuffle with the trainer's
    generator, which has the same seed everywhere); rank ``r`` of ``N`` gets the ``r``-th
    contiguous ``batch_size / N`` rows of each. In a plain run ``batches`` is returned as is.

    Raises:
        ValueError: ``batch_size`` is not divisible by the number of processes, or (when
            ``num_examples`` is given) the last batch would have fewer examples than processes.
    """
    world = context.world_size
    if world == 1:
        return batches
    if batch_size % world:
        raise ValueError(
            f"--batch-size {batch_size} must be divisible by the {world} processes "
            "(it is the global batch, split equally over them)"
        )
    last = num_examples % batch_size if num_examples is not None else 0
    if 0 < last < world:
        raise ValueError(
            f"--batch-size {batch_size} leaves a last batch of {last} of the {num_examples} "
            f"training examples, fewer than the {world} processes; choose another batch size"
        )
    return ShardedBatches(batches, context)
