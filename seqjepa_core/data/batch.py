"""The one batch type every method trains on: a sequence of views with the actions between them."""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch


@dataclass
class SequenceBatch:
    """``views[:, i]`` is view i; ``actions[:, i]`` is the transformation taking view i to view i+1.

    A pair-based method uses V = 2, VICReg-Traj V = 3, seq-JEPA V = M_tr + 1 (the last view is the target).
    ``latents`` keeps each view's raw generative factors (rotation, colours, ...) for probes.
    """

    views: torch.Tensor    # [B, V, C, H, W] float, normalised
    actions: torch.Tensor  # [B, V-1, A]
    labels: torch.Tensor   # [B] int64
    latents: torch.Tensor  # [B, V, L] float

    @property
    def num_views(self) -> int:
        return self.views.shape[1]

    def to(self, device: torch.device | str, non_blocking: bool = True) -> "SequenceBatch":
        return replace(self, **{k: getattr(self, k).to(device, non_blocking=non_blocking)
                                for k in ("views", "actions", "labels", "latents")})
