"""Retrieval metrics of a predictor (paper Table 10), by the protocol of facebookresearch/SIE ``eval_MRR_Hk.py``.

For every object and every one of its views j, the predictor maps the source embedding and the relative
rotation (source -> view j) to a predicted embedding; the object's own views are the candidates, ranked by
cosine similarity to the prediction; the rank of view j is recorded. MRR is the mean of 1/rank, H@k the
fraction of ranks <= k.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F


def retrieval_ranks(pred: torch.Tensor, candidates: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """1-based rank of candidate ``target[n, q]`` among ``candidates[n]`` by cosine similarity to ``pred[n, q]``.

    ``pred`` [N, Q, D] (or [N, D]: one query per row), ``candidates`` [N, K, D], ``target`` [N, Q] (or [N]) long.
    Rank = 1 + the number of candidates strictly more similar than the target (SIE sorts with argsort; exact
    ties have measure zero).
    """
    if pred.dim() == 2:
        return retrieval_ranks(pred[:, None], candidates, target[:, None])[:, 0]
    sims = torch.einsum("nqd,nkd->nqk", F.normalize(pred.float(), dim=-1), F.normalize(candidates.float(), dim=-1))
    own = sims.gather(2, target[..., None])
    return 1 + (sims > own).sum(dim=2)


@torch.no_grad()
def predictor_ranks(method, views: torch.Tensor, latents: torch.Tensor, m_obs: int, relative_actions,
                    action_kind: str) -> torch.Tensor:
    """Ranks [B, V] of every view of each object when the predictor aims at it from the first ``m_obs`` views.

    ``views`` [B, V, C, H, W] (normalised) and ``latents`` [B, V, L] hold all V views of B objects. The observed
    views are 0..m_obs-1 (the caller's order); the action is the relative transformation from view m_obs-1 (the
    source) to each target view j; candidates are all V views in the method's prediction space, so the
    source itself is a target too (identity action), as in SIE's eval_MRR_Hk.py.
    """
    b, v = views.shape[:2]
    z = method.encode_views(views[:, :m_obs])
    candidates = method.retrieval_candidates(views)                                  # [B, V, P]
    observed = relative_actions(latents[:, :m_obs], action_kind)                     # [B, m_obs-1, A]
    source = latents[:, m_obs - 1:m_obs].expand(-1, v, -1)
    to_target = relative_actions(torch.stack([source, latents], dim=2).flatten(0, 1), action_kind)[:, 0]
    pred = method.retrieval_prediction(z.repeat_interleave(v, 0), observed.repeat_interleave(v, 0), to_target)
    target = torch.arange(v, device=views.device).expand(b, v)
    return retrieval_ranks(pred.view(b, v, -1), candidates, target)


def mrr_and_hits(ranks: torch.Tensor, ks: Sequence[int] = (1, 5)) -> dict[str, float]:
    """{"mrr": mean 1/rank, "h@k": fraction of ranks <= k} for 1-based ``ranks``."""
    ranks = ranks.double()
    out = {"mrr": float((1.0 / ranks).mean())}
    out.update({f"h@{k}": float((ranks <= k).double().mean()) for k in ks})
    return out
