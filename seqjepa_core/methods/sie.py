"""SIE (Garrido et al. 2023, split invariant-equivariant) baseline, hypernetwork variant.

The encoder output is split in an invariant and an equivariant half, each with its own head. A
hypernetwork turns the action into a matrix that maps view 1's equivariant embedding to view 2's.
Loss: ``losses.sie_loss`` (VICReg-style terms on both heads plus the equivariant prediction error).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from seqjepa_core.data.batch import SequenceBatch
from seqjepa_core.losses import sie_loss
from seqjepa_core.methods import register
from seqjepa_core.methods.base import MLP_HEAD_OPTIM, Method, MethodParams, mlp


@dataclass(frozen=True)
class SIEParams(MethodParams):
    head_dims: tuple[int, ...] = (1024, 1024, 1024)  # App. A.3, invariant and equivariant heads
    lam_inv: float = 10.0                           # App. A.3
    lam_var: float = 10.0                           # App. A.3
    lam_equi: float = 4.5                           # App. A.3, relative to lam_inv (official code default: 1.0)
    lam_cov: float = 1.0                            # App. A.3


class HyperPredictor(nn.Module):
    """pred_b = W(a_b) @ z_b with W(a) = ``hypernet(a)`` viewed as [d_out=d, d_in=d]: linear, no bias.

    Since W is linear in a, W(a) z = sum_k a_k (H_k z) with H_k the k-th slice of the hypernetwork weight;
    computing it that way never materialises the B x d x d matrices (2 GiB at B=512, d=1024).
    """

    def __init__(self, action_dim: int, dim: int):
        super().__init__()
        self.dim = dim
        self.hypernet = nn.Linear(action_dim, dim * dim, bias=False)

    def forward(self, z: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        d, a = self.dim, action.shape[-1]
        h = self.hypernet.weight.view(d, d, a)                                 # h[i, j, k] = W(e_k)[i, j]
        hz = (z @ h.permute(1, 2, 0).reshape(d, a * d)).view(-1, a, d)       # [B, k, i] = (H_k z)_i
        return torch.bmm(action.unsqueeze(1).to(hz.dtype), hz).squeeze(1)   # sum_k a_k (H_k z)


@register("sie")
class SIE(Method):
    family = "equivariant"
    Params = SIEParams
    optim_defaults = MLP_HEAD_OPTIM  # paper §5.4
    uses_actions = True
    predicts_embeddings = True

    def __init__(self, ctx, params: SIEParams):
        super().__init__(ctx, params)
        self.inv_dim = self.embed_dim // 2  # first half invariant, second half equivariant (official code)
        equi_dim = self.embed_dim - self.inv_dim
        # VICReg-style heads with a plain Linear output, as in SIE's code.
        self.projector_inv = mlp([self.inv_dim, *params.head_dims], last_bias=False)
        self.projector_equi = mlp([equi_dim, *params.head_dims], last_bias=False)
        self.predictor = HyperPredictor(ctx.action_dim, params.head_dims[-1])

    def training_loss(self, batch: SequenceBatch) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        p, k = self.params, self.inv_dim
        z1, z2 = self.encoder(batch.views[:, 0]), self.encoder(batch.views[:, 1])
        inv1, inv2 = self.projector_inv(z1[:, :k]), self.projector_inv(z2[:, :k])
        equi1, equi2 = self.projector_equi(z1[:, k:]), self.projector_equi(z2[:, k:])
        pred = self.predictor(equi1, batch.actions[:, 0])
        loss, terms = sie_loss(inv1, inv2, equi1, equi2, pred, p.lam_inv, p.lam_var, p.lam_equi, p.lam_cov)
        return loss, {"loss": loss.detach(), **terms}

    # Retrieval as SIE's eval_MRR_Hk.py: the equivariant head's output, predicted by the hypernetwork.
    def retrieval_candidates(self, views: torch.Tensor) -> torch.Tensor:
        z = self.encoder(views.flatten(0, 1))
        return self.projector_equi(z[:, self.inv_dim:]).view(*views.shape[:2], -1)

    def retrieval_prediction(self, z: torch.Tensor, actions: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        return self.predictor(self.projector_equi(z[:, -1, self.inv_dim:]), action)
