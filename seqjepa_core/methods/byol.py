"""BYOL (Grill et al. 2020) baseline: predict the EMA target's projection of the other view (App. A.3)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from seqjepa_core.data.batch import SequenceBatch
from seqjepa_core.ema import ema_step, make_target
from seqjepa_core.losses import byol_regression
from seqjepa_core.methods import register
from seqjepa_core.methods.base import MLP_HEAD_OPTIM, Method, ProjectorChoice, mlp, projector_head


@dataclass(frozen=True)
class BYOLParams(ProjectorChoice):
    # App. A.3. The official code uses projector (2048, 128) and predictor_hidden 2048 instead.
    projector_dims: tuple[int, ...] = (2048, 2048, 2048)
    predictor_hidden: int = 512
    ema_base: float = 0.996  # tau rises to 1 on BYOL's cosine schedule


@register("byol")
class BYOL(Method):
    family = "invariant"
    Params = BYOLParams
    optim_defaults = MLP_HEAD_OPTIM  # paper §5.4

    def __init__(self, ctx, params: BYOLParams):
        super().__init__(ctx, params)
        dims = [self.embed_dim, *params.projector_dims]
        self.proj_dim = dims[-1]
        # Non-affine BN on the projector output, as in the official code.
        self.projector = projector_head(params.projector, dims, out_bn=True)
        self.predictor = mlp([self.predictor_in_dim(), params.predictor_hidden, self.proj_dim])
        self.target_encoder = make_target(self.encoder)
        self.target_projector = make_target(self.projector)

    def predictor_in_dim(self) -> int:
        return self.proj_dim

    def project(self, x: torch.Tensor) -> torch.Tensor:
        return self.projector(self.encoder(x))

    @torch.no_grad()
    def target(self, x: torch.Tensor) -> torch.Tensor:
        return self.target_projector(self.target_encoder(x))

    def training_loss(self, batch: SequenceBatch) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        x1, x2 = batch.views[:, 0], batch.views[:, 1]
        p1, p2 = self.predictor(self.project(x1)), self.predictor(self.project(x2))
        # Symmetrised: each view predicts the other's target; the two terms are summed (range [0, 8]).
        loss = byol_regression(p1, self.target(x2)) + byol_regression(p2, self.target(x1))
        return loss, {"loss": loss.detach()}

    @torch.no_grad()
    def after_optimizer_step(self, progress: float) -> None:
        ema_step([(self.target_encoder, self.encoder), (self.target_projector, self.projector)], progress,
                 self.params.ema_base)
