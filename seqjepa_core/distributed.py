"""torch.distributed helpers for losses whose statistics span the global batch.

Gradient convention (the one DDP expects): every rank computes the loss on the gathered global batch,
and the backward of ``gather_with_grad`` sums, over ranks, the gradients that flow into each shard.
Rank r therefore holds ``world_size * dL/dx_r``; DDP's mean over ranks turns the parameter gradients
into exactly those of the single-process loss on the global batch. With one process nothing changes.
"""

from __future__ import annotations

import torch
import torch.distributed as dist


def is_distributed() -> bool:
    """True only when a process group with more than one rank is running."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def world_size() -> int:
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def rank() -> int:
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


class _GatherWithGrad(torch.autograd.Function):
    """All-gather along dim 0; backward all-reduces (sum) and keeps this rank's slice.

    All-reduce rather than reduce-scatter so the same code runs on gloo (CPU tests) and NCCL.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        x = x.contiguous()
        parts = [torch.empty_like(x) for _ in range(dist.get_world_size())]
        dist.all_gather(parts, x)
        ctx.rows = x.shape[0]
        return torch.cat(parts, dim=0)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.contiguous().clone()  # never reduce in place into a buffer autograd owns
        dist.all_reduce(grad, op=dist.ReduceOp.SUM)
        return grad.narrow(0, dist.get_rank() * ctx.rows, ctx.rows)


def gather_with_grad(x: torch.Tensor) -> torch.Tensor:
    """Concatenate ``x`` [B, ...] from all ranks (rank order) into [world_size * B, ...].

    Every rank must pass the same shape (drop_last sampling). Identity with one process.
    """
    if not is_distributed():
        return x
    return _GatherWithGrad.apply(x)
