"""Data-parallel training under ``torchrun`` (PyTorch DDP semantics, any method, no code change).

    torchrun --nproc_per_node 2 -m mfdiff train --dataset … --algo …      # gloo on CPU
    torchrun --nnodes 2 --nproc_per_node 8 --rdzv_backend c10d \\
        --rdzv_endpoint HOST:29500 -m mfdiff train …                       # NCCL on GPUs

:func:`mfdiff_agents.training.train` calls :func:`setup` when torchrun's ``WORLD_SIZE`` > 1.
Every rank builds the same model from the same seed (so no broadcast is needed), then each rank
but 0 reseeds its window sampler, its learner's noise generators and torch's global generator
from ``(seed, rank)``, so that each rank trains on different windows with its own diffusion
noise; before every optimiser step the gradients are averaged over ranks (an all-reduce per
parameter, which is what DDP computes, without its overlap of communication and backward), and
after it rank 0's buffers (e.g. the running advantage scale, updated from each rank's own batch)
are broadcast to every rank, as DDP's ``broadcast_buffers`` does. Gradient clipping, where a
method clips, acts on each rank's local gradient before the average. Rank 0 alone writes
metrics.csv and checkpoints; the effective batch is ``world_size × batch_size`` windows.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

from mfdiff_agents.config import ConfigError


@dataclass(frozen=True)
class Rank:
    """This process's place in the job."""

    rank: int
    world_size: int
    local_rank: int

    @property
    def is_main(self) -> bool:
        """Rank 0: the process that writes checkpoints and logs."""
        return self.rank == 0


def from_env() -> Rank | None:
    """The torchrun rank of this process, or None outside a multi-process launch."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return None
    return Rank(int(os.environ["RANK"]), world, int(os.environ.get("LOCAL_RANK", "0")))


def setup(rank: Rank, device: torch.device) -> torch.device:
    """Join the process group (NCCL on CUDA, gloo on CPU); returns this rank's device."""
    if device.type == "cuda":
        # a launcher that shows each process one GPU makes local rank 1 an invalid index
        device = torch.device("cuda", rank.local_rank % torch.cuda.device_count())
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    if device.type == "cuda":
        _refuse_shared_gpus(rank, device)
    return device


def shared_gpus(gpus: list[tuple[str, str]]) -> list[list[int]]:
    """Groups of ranks (two or more) whose ``(host, GPU uuid)`` is the same."""
    ranks: dict[tuple[str, str], list[int]] = {}
    for r, gpu in enumerate(gpus):
        ranks.setdefault(tuple(gpu), []).append(r)
    return [rs for rs in ranks.values() if len(rs) > 1]


def _refuse_shared_gpus(rank: Rank, device: torch.device) -> None:
    """NCCL cannot put two ranks on one GPU, and says only "invalid usage" at the first
    collective (seen on an H200, 2 processes, 1 GPU): compare the ranks' GPUs first, over gloo,
    and name the fix. A launcher that shows each process its own GPU passes (uuids differ)."""
    uuid = getattr(torch.cuda.get_device_properties(device), "uuid", None)
    if uuid is None:  # an old torch: NCCL's own error stands
        return
    try:
        gloo = dist.new_group(backend="gloo")
    except (RuntimeError, ValueError):  # a torch built without gloo: NCCL's own error stands
        return
    gpus: list[Any] = [None] * rank.world_size
    dist.all_gather_object(gpus, (socket.gethostname(), str(uuid)), group=gloo)
    dist.destroy_process_group(gloo)
    shared = shared_gpus(gpus)
    if shared:
        dist.destroy_process_group()
        raise ConfigError(  # a launch setting, not a failure: `mfdiff train` prints one line
            f"torchrun: ranks {shared[0]} share one GPU ({gpus[shared[0][0]][1]} on "
            f"{gpus[shared[0][0]][0]}; {torch.cuda.device_count()} GPU(s) visible to rank "
            f"{rank.rank}) and NCCL cannot run two ranks on one GPU: give --nproc_per_node at "
            "most the number of GPUs, or train on the CPU (--set device=cpu, gloo)")


def average_gradients_before_step(opt: torch.optim.Optimizer, world_size: int) -> None:
    """Make ``opt.step()`` first average every parameter's gradient over the ranks."""
    step = opt.step

    def averaged_step(*args: Any, **kwargs: Any) -> Any:
        for group in opt.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    dist.all_reduce(p.grad, op=dist.ReduceOp.SUM)
                    p.grad.div_(world_size)
        return step(*args, **kwargs)

    opt.step = averaged_step  # type: ignore[method-assign]


def broadcast_buffers_after_step(opt: torch.optim.Optimizer, module: torch.nn.Module) -> None:
    """Make ``opt.step()`` then copy rank 0's buffers of ``module`` to every rank: buffers a
    rank updates from its own batch would otherwise drift apart, and rank 0's alone are saved."""
    step = opt.step

    def step_then_broadcast(*args: Any, **kwargs: Any) -> Any:
        out = step(*args, **kwargs)
        for buf in module.buffers():
            dist.broadcast(buf, src=0)
        return out

    opt.step = step_then_broadcast  # type: ignore[method-assign]


def close_after_failure() -> None:
    """Close the process group without the barrier: the other ranks may never reach one."""
    if dist.is_initialized():
        dist.destroy_process_group()


def teardown() -> None:
    """Wait for every rank, then close the process group (no-op outside ``torchrun``)."""
    if dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
