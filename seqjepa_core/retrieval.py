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
    """1-based rank of candidate ``target[n]`` among ``candidates[n]`` by cosine similarity to ``pred[n]``.

    ``pred`` [N, D], ``candidates`` [N, K, D], ``target`` [N] (long). Rank = 1 + the number of candidates
    strictly more similar than the target (SIE sorts with argsort; exact ties have measure zero).
    """
    sims = torch.einsum("nd,nkd->nk", F.normalize(pred.float(), dim=-1), F.normalize(candidates.float(), dim=-1))
    own = sims.gather(1, target.view(-1, 1))
    return 1 + (sims > own).sum(dim=1)


def mrr_and_hits(ranks: torch.Tensor, ks: Sequence[int] = (1, 5)) -> dict[str, float]:
    """{"mrr": mean 1/rank, "h@k": fraction of ranks <= k} for 1-based ``ranks``."""
    ranks = ranks.double()
    out = {"mrr": float((1.0 / ranks).mean())}
    out.update({f"h@{k}": float((ranks <= k).double().mean()) for k in ks})
    return out
