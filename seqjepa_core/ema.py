"""EMA target networks (BYOL, seq-JEPA, Conditional BYOL)."""

from __future__ import annotations

import copy
import math

import torch
from torch import nn


def ema_momentum(progress: float, base: float = 0.996) -> float:
    """BYOL's cosine schedule: tau rises from ``base`` at progress 0 to 1 at progress 1."""
    progress = min(max(progress, 0.0), 1.0)
    return 1.0 - (1.0 - base) * (math.cos(math.pi * progress) + 1.0) / 2.0


def make_target(online: nn.Module) -> nn.Module:
    """A frozen copy of ``online`` that only ever changes through ``ema_update``."""
    target = copy.deepcopy(online)
    for p in target.parameters():
        p.requires_grad_(False)
    return target


@torch.no_grad()
def ema_update(target: nn.Module, online: nn.Module, tau: float) -> None:
    """target <- tau * target + (1 - tau) * online, fused over all tensors; buffers (BN stats) copied."""
    t_params = [p for p in target.parameters()]
    o_params = [p.detach() for p in online.parameters()]
    torch._foreach_lerp_(t_params, o_params, 1.0 - tau)
    for tb, ob in zip(target.buffers(), online.buffers()):
        tb.copy_(ob)


@torch.no_grad()
def ema_step(pairs, progress: float, base: float = 0.996) -> None:
    """One EMA update of every (target, online) pair at the momentum of ``progress``."""
    tau = ema_momentum(progress, base)
    for target, online in pairs:
        ema_update(target, online, tau)
