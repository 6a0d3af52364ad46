"""Conv-JEPA (``conv-ijepa``, the seq-JEPA authors' equivariant baseline for saccades, Table 3): predict the
EMA embedding of the last patch from each earlier patch separately, given the saccade from that patch to
the last one; no sequence aggregation."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from seqjepa_core.data.batch import SequenceBatch
from seqjepa_core.ema import ema_step, make_target
from seqjepa_core.losses import negative_cosine_loss
from seqjepa_core.methods import register
from seqjepa_core.methods.base import MLP_HEAD_OPTIM, Method, MethodParams, bn_projector, linear_bn


@dataclass(frozen=True)
class ConvJEPAParams(MethodParams):
    projector_dims: tuple[int, ...] = (2048, 128)  # reference §7.1: 512 -> 2048 -> 128, non-affine BN output
    action_embed_dim: int = 128                    # linear action projector + BN, as seq-JEPA's
    predictor_hidden: int = 1024                   # (128 + 128) -> 1024 -> 128
    ema_base: float = 0.996
    pair_losses: str = "sum"                       # sum (paper) | mean (official code) over the M pairs

    def __post_init__(self):
        if self.pair_losses not in ("sum", "mean"):
            raise ValueError(f"pair_losses: {self.pair_losses!r} is not one of ['mean', 'sum']")


@register("conv-ijepa")
class ConvJEPA(Method):
    family = "equivariant"
    Params = ConvJEPAParams
    optim_defaults = MLP_HEAD_OPTIM  # paper §5.4: ConvNet with MLP heads
    uses_actions = True

    def __init__(self, ctx, params: ConvJEPAParams):
        super().__init__(ctx, params)
        dims = [self.embed_dim, *params.projector_dims]
        self.projector = bn_projector(dims)
        self.target_encoder = make_target(self.encoder)
        self.target_projector = make_target(self.projector)  # EMA on encoder and projector (official code)
        self.action_proj = linear_bn(ctx.action_dim, params.action_embed_dim)
        self.predictor = nn.Sequential(
            nn.Linear(dims[-1] + params.action_embed_dim, params.predictor_hidden, bias=False),
            nn.BatchNorm1d(params.predictor_hidden), nn.ReLU(inplace=True),
            nn.Linear(params.predictor_hidden, dims[-1]))

    @property
    def num_views(self) -> int:
        return self.ctx.m_tr + 1  # M observed patches + the target patch

    def training_loss(self, batch: SequenceBatch) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        m = batch.num_views - 1
        z = self.encode_views(batch.views[:, :m])
        y = self.projector(z.flatten(0, 1)).view(z.shape[0], m, -1)  # BN statistics over all observed patches
        with torch.no_grad():
            target = self.target_projector(self.target_encoder(batch.views[:, m]))
        # saccade from patch i to the last one: a_i + ... + a_M (positions are additive)
        to_last = batch.actions[:, :m].flip(1).cumsum(1).flip(1)
        losses = [negative_cosine_loss(self.predictor(torch.cat([self.action_proj(to_last[:, i]), y[:, i]], -1)),
                                       target) for i in range(m)]
        loss = torch.stack(losses).sum() if self.params.pair_losses == "sum" else torch.stack(losses).mean()
        return loss, {"loss": loss.detach()}

    @torch.no_grad()
    def after_optimizer_step(self, progress: float) -> None:
        ema_step([(self.target_encoder, self.encoder), (self.target_projector, self.projector)], progress,
                 self.params.ema_base)
