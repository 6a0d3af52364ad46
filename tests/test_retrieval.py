"""MRR / H@k against a brute-force reference with known ranks (SIE eval_MRR_Hk.py protocol)."""

import numpy as np
import torch

from seqjepa_core.retrieval import mrr_and_hits, retrieval_ranks


def brute_force_rank(pred: np.ndarray, cands: np.ndarray, target: int) -> int:
    """SIE's way: normalise, dot, sort descending, position of the target (1-based)."""
    p = pred / np.linalg.norm(pred)
    sims = [float(c @ p / np.linalg.norm(c)) for c in cands]
    order = sorted(range(len(cands)), key=lambda k: -sims[k])
    return order.index(target) + 1


def test_constructed_ranks_are_recovered():
    # the candidate at position k sits at angle k*0.1 rad from the prediction: its rank is k+1 by construction
    k_total, wanted = 6, [1, 4, 6, 2]
    pred = torch.tensor([[1.0, 0.0, 0.0]] * len(wanted))
    angles = torch.arange(k_total) * 0.1
    base = torch.stack([torch.cos(angles), torch.sin(angles), torch.zeros(k_total)], dim=1)
    candidates = torch.stack([base * (1 + i) for i in range(len(wanted))])  # norms must not matter
    target = torch.tensor(wanted) - 1
    ranks = retrieval_ranks(pred, candidates, target)
    assert ranks.tolist() == wanted
    m = mrr_and_hits(ranks)
    assert np.isclose(m["mrr"], np.mean([1 / r for r in wanted]))
    assert m["h@1"] == 0.25 and m["h@5"] == 0.75


def test_random_case_matches_brute_force():
    g = torch.Generator().manual_seed(0)
    pred, cands = torch.randn(40, 8, generator=g), torch.randn(40, 50, 8, generator=g)
    target = torch.randint(0, 50, (40,), generator=g)
    ranks = retrieval_ranks(pred, cands, target)
    want = [brute_force_rank(pred[n].numpy(), cands[n].numpy(), int(target[n])) for n in range(40)]
    assert ranks.tolist() == want
    m = mrr_and_hits(ranks, ks=(1, 2, 5, 10))
    assert np.isclose(m["mrr"], np.mean(1 / np.array(want)))
    for k in (1, 2, 5, 10):
        assert np.isclose(m[f"h@{k}"], np.mean(np.array(want) <= k))
