"""torchrun and DistributedDataParallel: set-up, tear-down and the collectives training needs.

Outside torchrun (no WORLD_SIZE in the environment, or 1) every helper is a no-op, so the
training loop is one code path for one process and for many.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import numpy as np
import torch
import torch.distributed as dist
from torch import nn


def world() -> int:
    """Number of processes in the job (1 without torchrun)."""
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def rank() -> int:
    """This process's rank (0 without torchrun)."""
    return dist.get_rank() if world() > 1 else 0


def launched() -> bool:
    """Whether torchrun started this process as one of several."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


@contextlib.contextmanager
def session(device: str) -> Iterator[None]:
    """Join the torchrun job for the block: nccl for CUDA devices, gloo on CPU."""
    if not launched() or dist.is_initialized():
        yield
        return
    cuda = device != "cpu" and torch.cuda.is_available()
    if cuda:
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group(backend="nccl" if cuda else "gloo")
    try:
        yield
    finally:
        dist.destroy_process_group()


def local_device(device: torch.device) -> torch.device:
    """Each process of a job on GPUs takes the GPU of its local rank."""
    if world() > 1 and device.type == "cuda" and device.index is None:
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    return device


def wrap(model: nn.Module, device: torch.device) -> nn.Module:
    """DistributedDataParallel around `model` in a job (gradients averaged over processes
    during backward), the model itself otherwise."""
    if world() == 1:
        return model
    ids = [device.index] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(model, device_ids=ids)


def shard(order: torch.Tensor) -> torch.Tensor:
    """This process's share of a shuffled order: every world()-th item from its rank, cut to
    the same length everywhere so all take the same number of steps. Step k's batches of all
    processes together are step k's batch of a single process with the global batch size."""
    n = len(order) // world() * world()
    return order[rank() : n : world()]


def all_sum(*values: torch.Tensor) -> list[torch.Tensor]:
    """Each tensor summed over the processes (unchanged in a single process)."""
    if world() == 1:
        return list(values)
    packed = torch.stack([v.to(torch.float64) for v in values])
    dist.all_reduce(packed)
    return list(packed.to(values[0].dtype))


def any_process(flag: bool, device: torch.device) -> bool:
    """True on every process if it is true on any (so all stop after the same batch)."""
    if world() == 1:
        return flag
    value = torch.tensor([float(flag)], device=device)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item())


def broadcast_numpy(array: np.ndarray) -> np.ndarray:
    """Rank 0's values of `array` on every process (computed once, identical everywhere)."""
    if world() == 1:
        return array
    tensor = torch.from_numpy(np.ascontiguousarray(array))
    if dist.get_backend() == "nccl":
        tensor = tensor.cuda()
    dist.broadcast(tensor, src=0)
    return tensor.cpu().numpy()
