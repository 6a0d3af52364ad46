"""SimCLR (Chen et al. 2020) baseline: NT-Xent between the projections of two views (paper App. A.3)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from seqjepa_core.data.batch import SequenceBatch
from seqjepa_core.losses import nt_xent
from seqjepa_core.methods import register
from seqjepa_core.methods.base import MLP_HEAD_OPTIM, Method, ProjectorChoice, projector_head


@dataclass(frozen=True)
class SimCLRParams(ProjectorChoice):
    temperature: float = 0.5                            # App. A.3
    projector_dims: tuple[int, ...] = (2048, 2048, 2048)  # App. A.3


@register("simclr")
class SimCLR(Method):
    family = "invariant"
    Params = SimCLRParams
    # Paper §5.4: ConvNet-only baselines with MLP heads use Adam, lr 1e-3, no weight decay.
    optim_defaults = MLP_HEAD_OPTIM  # paper §5.4

    def __init__(self, ctx, params: SimCLRParams):
        super().__init__(ctx, params)
        dims = [self.embed_dim, *params.projector_dims]
        # Bias-free layers and a non-affine BN on the output, as in the official code.
        self.projector = projector_head(params.projector, dims, out_bn=True)

    def training_loss(self, batch: SequenceBatch) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        # Views go through the network one at a time, so BatchNorm statistics are per view (official code).
        y1, y2 = (self.projector(self.encoder(batch.views[:, i])) for i in (0, 1))
        loss = nt_xent(y1, y2, self.params.temperature)
        return loss, {"loss": loss.detach()}
