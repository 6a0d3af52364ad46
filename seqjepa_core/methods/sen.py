"""SEN (Park et al. 2022, symmetry-based equivariant network) baseline: a transformation-conditioned
predictor maps view 1's projection to view 2's; NT-Xent between predicted and actual (App. A.3)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from seqjepa_core.data.batch import SequenceBatch
from seqjepa_core.losses import nt_xent
from seqjepa_core.methods import register
from seqjepa_core.methods.base import MLP_HEAD_OPTIM, Method, ProjectorChoice, linear_bn, projector_head


@dataclass(frozen=True)
class SENParams(ProjectorChoice):
    temperature: float = 0.5                            # App. A.3
    projector_dims: tuple[int, ...] = (2048, 2048, 2048)  # App. A.3
    action_embed_dim: int = 128                         # official code (--act-projdim 128); paper silent


@register("sen")
class SEN(Method):
    family = "equivariant"
    Params = SENParams
    optim_defaults = MLP_HEAD_OPTIM  # paper §5.4
    uses_actions = True

    def __init__(self, ctx, params: SENParams):
        super().__init__(ctx, params)
        dims, e = [self.embed_dim, *params.projector_dims], params.action_embed_dim
        out = dims[-1]
        # Architecture details the paper leaves open follow the official code: bias-free layers,
        # non-affine BN on the projector/action/predictor outputs, and a linear predictor.
        self.projector = projector_head(params.projector, dims, out_bn=True)
        self.action_proj = linear_bn(ctx.action_dim, e)
        self.predictor = linear_bn(out + e, out)

    def training_loss(self, batch: SequenceBatch) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        y1, y2 = (self.projector(self.encoder(batch.views[:, i])) for i in (0, 1))
        pred = self.predictor(torch.cat([y1, self.action_proj(batch.actions[:, 0])], dim=-1))
        loss = nt_xent(pred, y2, self.params.temperature)
        return loss, {"loss": loss.detach()}
