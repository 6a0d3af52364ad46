"""VICReg (Bardes et al. 2022) baseline: invariance + variance + covariance on two views' projections."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from seqjepa_core.data.batch import SequenceBatch
from seqjepa_core.losses import vicreg_loss
from seqjepa_core.methods import register
from seqjepa_core.methods.base import MLP_HEAD_OPTIM, Method, ProjectorChoice, projector_head


@dataclass(frozen=True)
class VICRegParams(ProjectorChoice):
    projector_dims: tuple[int, ...] = (2048, 2048, 2048)  # App. A.3
    # App. A.3 (λ_inv = λ_V = 10, λ_C = 1); the official code's defaults are 25 / 25 / 1.
    lam_inv: float = 10.0
    lam_var: float = 10.0
    lam_cov: float = 1.0


@register("vicreg")
class VICReg(Method):
    family = "invariant"
    Params = VICRegParams
    optim_defaults = MLP_HEAD_OPTIM  # paper §5.4

    def __init__(self, ctx, params: VICRegParams):
        super().__init__(ctx, params)
        # VICReg's expander: plain Linear output (no BN), as in the official code.
        self.projector = projector_head(params.projector, [self.embed_dim, *params.projector_dims], out_bn=False)

    def regulariser(self, y1: torch.Tensor, y2: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        p = self.params
        return vicreg_loss(y1, y2, p.lam_inv, p.lam_var, p.lam_cov)

    def training_loss(self, batch: SequenceBatch) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        # One view at a time: BatchNorm statistics per view, as in the official code.
        y1, y2 = (self.projector(self.encoder(batch.views[:, i])) for i in (0, 1))
        loss, terms = self.regulariser(y1, y2)
        return loss, {"loss": loss.detach(), **terms}
