"""Conditional BYOL (the seq-JEPA authors' hybrid, App. A.3): BYOL whose predictor also receives the
embedded relative transformation, so it predicts view 2's target from view 1 and the action."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from seqjepa_core.data.batch import SequenceBatch
from seqjepa_core.losses import byol_regression
from seqjepa_core.methods import register
from seqjepa_core.methods.base import linear_bn
from seqjepa_core.methods.byol import BYOL, BYOLParams


@dataclass(frozen=True)
class ConditionalBYOLParams(BYOLParams):
    action_embed_dim: int = 128  # App. A.3: linear action projector to 128-d


@register("byol-cond")
class ConditionalBYOL(BYOL):
    family = "equivariant"
    Params = ConditionalBYOLParams
    uses_actions = True

    def __init__(self, ctx, params: ConditionalBYOLParams):
        super().__init__(ctx, params)
        # "Normalised" transformation: non-affine BN after the linear projection, as in the official code.
        e = params.action_embed_dim
        self.action_proj = linear_bn(ctx.action_dim, e)

    def predictor_in_dim(self) -> int:
        return self.proj_dim + self.params.action_embed_dim

    def training_loss(self, batch: SequenceBatch) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        # One direction only: the action maps view 1 to view 2 (official code).
        pred_in = torch.cat([self.project(batch.views[:, 0]), self.action_proj(batch.actions[:, 0])], dim=-1)
        loss = byol_regression(self.predictor(pred_in), self.target(batch.views[:, 1]))
        return loss, {"loss": loss.detach()}
