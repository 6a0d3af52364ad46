"""SimCLR + EquiMod (Devillers & Lefort 2023) baseline: SimCLR's invariant NT-Xent plus an equivariant
NT-Xent between a transformation-conditioned prediction and the actual equivariant projection."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from seqjepa_core.data.batch import SequenceBatch
from seqjepa_core.losses import nt_xent
from seqjepa_core.methods import register
from seqjepa_core.methods.base import MLP_HEAD_OPTIM, Method, MethodParams, bn_projector, linear_bn


@dataclass(frozen=True)
class EquiModParams(MethodParams):
    temperature: float = 0.1                           # App. A.3, both losses (official code default: 0.5)
    projector_dims: tuple[int, ...] = (1024, 1024, 128)  # App. A.3, both heads
    action_embed_dim: int = 128                        # App. A.3: linear action projector to 128-d
    lam_equi: float = 1.0                              # App. A.3: equal weights


@register("simclr-equimod")
class EquiMod(Method):
    family = "equivariant"
    Params = EquiModParams
    optim_defaults = MLP_HEAD_OPTIM  # paper §5.4
    uses_actions = True
    predicts_embeddings = True

    def __init__(self, ctx, params: EquiModParams):
        super().__init__(ctx, params)
        dims, e = [self.embed_dim, *params.projector_dims], params.action_embed_dim
        out = dims[-1]
        # Head details the paper leaves open follow the official code (bias-free layers, non-affine output
        # BN, a linear predictor).
        self.projector_inv = bn_projector(dims)
        self.projector_equi = bn_projector(dims)
        self.action_proj = linear_bn(ctx.action_dim, e)
        self.predictor = linear_bn(out + e, out)

    def training_loss(self, batch: SequenceBatch) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        z1, z2 = self.encoder(batch.views[:, 0]), self.encoder(batch.views[:, 1])
        inv = nt_xent(self.projector_inv(z1), self.projector_inv(z2), self.params.temperature)
        e1, e2 = self.projector_equi(z1), self.projector_equi(z2)
        pred = self.predictor(torch.cat([e1, self.action_proj(batch.actions[:, 0])], dim=-1))
        equi = nt_xent(pred, e2, self.params.temperature)
        loss = inv + self.params.lam_equi * equi
        return loss, {"loss": loss.detach(), "inv": inv.detach(), "equi": equi.detach()}

    def retrieval_candidates(self, views: torch.Tensor) -> torch.Tensor:
        return self.projector_equi(self.encoder(views.flatten(0, 1))).view(*views.shape[:2], -1)

    def retrieval_prediction(self, z: torch.Tensor, actions: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        return self.predictor(torch.cat([self.projector_equi(z[:, -1]), self.action_proj(action)], dim=-1))
