"""Every training loss, as pure functions of tensors (no modules, no state).

Batch statistics (contrastive negatives, VICReg variance/covariance) must cover the GLOBAL batch under
torch.distributed: the composite losses below (``nt_xent``, ``vicreg_loss``, ``sie_loss``) all-gather
their inputs first with ``gather_with_grad`` and then compute every term on the gathered rows, so each
rank returns the single-process loss of the global batch (see ``seqjepa_core.distributed`` for the
gradient convention). The single terms (``vicreg_variance`` ...) use exactly the rows they are given.
Every loss runs with autocast off on at least-float32 inputs: bf16 logits and covariances are too coarse.
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F

from seqjepa_core.distributed import gather_with_grad


def _full_precision(fn):
    """Run ``fn`` outside autocast with half/bfloat16 tensor arguments up-cast to float32 (float64 stays)."""
    @functools.wraps(fn)
    def wrapped(*args, **kwargs):
        device = next(a.device.type for a in args if isinstance(a, torch.Tensor))
        args = [a.to(torch.promote_types(a.dtype, torch.float32)) if isinstance(a, torch.Tensor) else a
                for a in args]
        with torch.autocast(device_type=device, enabled=False):
            return fn(*args, **kwargs)
    return wrapped


def negative_cosine_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """seq-JEPA's loss: mean over the batch of 1 - cos(pred, target); ``target`` is not differentiated."""
    return (1.0 - F.cosine_similarity(pred, target.detach(), dim=-1)).mean()


@_full_precision
def byol_regression(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """BYOL's normalised MSE ||p/|p| - t/|t|||^2 = 2 - 2 cos(p, t), batch mean; no gradient to ``target``."""
    return (2.0 - 2.0 * F.cosine_similarity(pred, target.detach(), dim=-1)).mean()


# ----------------------------------------------------------------------------------------- contrastive

@_full_precision
def nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float) -> torch.Tensor:
    """SimCLR's NT-Xent on the global batch: (z1_i, z2_i) are positives.

    Over the 2N embeddings (N = global batch), each one is classified against its positive among the
    2N-1 others (2N-2 negatives) with cosine logits / ``temperature``; mean over all 2N anchors, so both
    directions count equally.
    """
    z1, z2 = gather_with_grad(z1), gather_with_grad(z2)  # gathered separately: rows stay paired
    n = z1.shape[0]
    z = F.normalize(torch.cat([z1, z2]), dim=-1)
    logits = (z @ z.T) / temperature
    self_mask = torch.eye(2 * n, dtype=torch.bool, device=z.device)
    logits = logits.masked_fill(self_mask, float("-inf"))
    idx = torch.arange(n, device=z.device)
    positives = torch.cat([idx + n, idx])
    return F.cross_entropy(logits, positives)


# ------------------------------------------------------------------------------------------------ VICReg

@_full_precision
def vicreg_invariance(z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
    """Mean squared error over all elements."""
    return F.mse_loss(z1, z2)


@_full_precision
def vicreg_variance(z: torch.Tensor, gamma: float = 1.0, eps: float = 1e-4) -> torch.Tensor:
    """Hinge on each dimension's std over the batch: mean_d relu(gamma - sqrt(Var(z_d) + eps)).

    Unbiased variance, eps inside the square root, as in VICReg's reference implementation.
    """
    std = torch.sqrt(z.var(dim=0) + eps)
    return F.relu(gamma - std).mean()


@_full_precision
def vicreg_covariance(z: torch.Tensor) -> torch.Tensor:
    """Sum of squared off-diagonal entries of the (unbiased) covariance matrix, divided by D."""
    n, d = z.shape
    z = z - z.mean(dim=0)
    cov = (z.T @ z) / (n - 1)
    off_diag = cov.flatten()[1:].view(d - 1, d + 1)[:, :-1]  # drops the diagonal without a mask
    return off_diag.pow(2).sum() / d


def _vicreg_terms(z1: torch.Tensor, z2: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(invariance, variance averaged over both branches, covariance summed over both) on the given rows."""
    inv = vicreg_invariance(z1, z2)
    var = (vicreg_variance(z1) + vicreg_variance(z2)) / 2
    cov = vicreg_covariance(z1) + vicreg_covariance(z2)
    return inv, var, cov


@_full_precision
def vicreg_loss(z1: torch.Tensor, z2: torch.Tensor, lam_inv: float, lam_var: float, lam_cov: float
                ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """VICReg (Bardes et al. 2022) on the global batch; returns (loss, {inv, var, cov} detached)."""
    z1, z2 = gather_with_grad(z1), gather_with_grad(z2)
    inv, var, cov = _vicreg_terms(z1, z2)
    loss = lam_inv * inv + lam_var * var + lam_cov * cov
    return loss, {"inv": inv.detach(), "var": var.detach(), "cov": cov.detach()}


@_full_precision
def trajectory_loss(z_prev: torch.Tensor, z_mid: torch.Tensor, z_next: torch.Tensor) -> torch.Tensor:
    """Viewpoint-trajectory regulariser (Wang et al. 2024) on the embeddings of three consecutive views.

    The two steps v1 = z_mid - z_prev and v2 = z_next - z_mid have their component along z_mid removed,
    u_k = v_k - <v_k, z_mid> z_mid, and the loss is -cos(u1, u2), batch mean: it is lowest when the
    trajectory keeps its direction through the middle view (a locally straight path). Wang et al. phrase
    this as a projection onto the tangent plane at z_mid; as in the seq-JEPA official code, z_mid is used
    as is (not unit-normalised), so the projection is exact only for unit-norm embeddings. Per-sample,
    so no global statistics are involved.
    """
    v1, v2 = z_mid - z_prev, z_next - z_mid
    u1 = v1 - (v1 * z_mid).sum(-1, keepdim=True) * z_mid
    u2 = v2 - (v2 * z_mid).sum(-1, keepdim=True) * z_mid
    return -F.cosine_similarity(u1, u2, dim=-1).mean()


# --------------------------------------------------------------------------------------------------- SIE

@_full_precision
def sie_loss(inv1: torch.Tensor, inv2: torch.Tensor, equi1: torch.Tensor, equi2: torch.Tensor,
             equi2_pred: torch.Tensor, lam_inv: float, lam_var: float, lam_equi: float, lam_cov: float
             ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """SIE (Garrido et al. 2023) on the global batch; returns (loss, {inv, equi, var, pred_var, cov}).

    ``inv*``/``equi*`` are the invariant/equivariant head outputs of views 1 and 2, ``equi2_pred`` the
    predictor's guess of ``equi2`` from ``equi1`` and the action. As in SIE's reference code:
    - the equivariant MSE is weighted lam_equi * lam_inv (lam_equi is relative to the invariance weight);
    - variance and covariance act on the concatenation [inv, equi] of each view, and the predictions get
      their own variance hinge at half weight, so predictions cannot collapse either.
    """
    inv1, inv2, equi1, equi2, equi2_pred = (gather_with_grad(t) for t in (inv1, inv2, equi1, equi2, equi2_pred))
    inv = vicreg_invariance(inv1, inv2)
    equi = vicreg_invariance(equi2_pred, equi2)
    z1, z2 = torch.cat([inv1, equi1], dim=-1), torch.cat([inv2, equi2], dim=-1)
    var = (vicreg_variance(z1) + vicreg_variance(z2)) / 2
    pred_var = vicreg_variance(equi2_pred) / 2
    cov = vicreg_covariance(z1) + vicreg_covariance(z2)
    loss = lam_inv * inv + lam_equi * lam_inv * equi + lam_var * (var + pred_var) + lam_cov * cov
    terms = {"inv": inv, "equi": equi, "var": var, "pred_var": pred_var, "cov": cov}
    return loss, {k: v.detach() for k, v in terms.items()}
