"""VICReg-Traj (Wang et al. 2024, pose-aware SSL with viewpoint-trajectory regularisation).

VICReg on the first two of three consecutive views plus λ_traj times the trajectory loss on all three
(``losses.trajectory_loss``). Uses no ground-truth transformations: the three views are simply
consecutive in the sequence.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from seqjepa_core.data.batch import SequenceBatch
from seqjepa_core.losses import trajectory_loss
from seqjepa_core.methods import register
from seqjepa_core.methods.vicreg import VICReg, VICRegParams


@dataclass(frozen=True)
class VICRegTrajParams(VICRegParams):
    lam_traj: float = 0.01  # App. A.3 (the official code's --alpha defaults to 1.0)


@register("vicreg-traj")
class VICRegTraj(VICReg):
    Params = VICRegTrajParams

    @property
    def num_views(self) -> int:
        return 3

    def training_loss(self, batch: SequenceBatch) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        if batch.num_views < 3:
            raise ValueError(f"vicreg-traj needs 3 consecutive views, got {batch.num_views}")
        # The three views share one forward pass (BatchNorm over all 3B), as in the official code.
        y = self.projector(self.encode_views(batch.views[:, :3]).flatten(0, 1)).unflatten(0, (-1, 3))
        vic, terms = self.regulariser(y[:, 0], y[:, 1])
        traj = trajectory_loss(y[:, 0], y[:, 1], y[:, 2])
        loss = vic + self.params.lam_traj * traj
        return loss, {"loss": loss.detach(), **terms, "traj": traj.detach()}
