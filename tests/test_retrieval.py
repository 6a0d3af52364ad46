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


# ------------------------------------------------------------------------------ through a method's predictor

import pytest  # noqa: E402
from scipy.spatial.transform import Rotation  # noqa: E402

from seqjepa_core.data.threedie import relative_actions  # noqa: E402
from seqjepa_core.methods import build_method  # noqa: E402
from seqjepa_core.methods.base import MethodContext  # noqa: E402
from seqjepa_core.retrieval import predictor_ranks  # noqa: E402


@pytest.mark.parametrize("name,m_obs,params", [("seqjepa", 3, {}), ("seqjepa", 1, {}),
                                               ("sie", 1, {"head_dims": [32, 32, 32]}),
                                               ("simclr-equimod", 1, {"projector_dims": [32, 32, 16]})])
def test_predictor_ranks_match_a_per_query_loop(name, m_obs, params):
    torch.manual_seed(0)
    # float64 throughout: an untrained model's candidates are close, float32 rounding could swap two ranks
    method = build_method(name, MethodContext(action_dim=4, encoder_width=8, m_tr=max(m_obs, 1)), params).double().eval()
    b, v = 2, 6
    views = torch.randn(b, v, 3, 16, 16, dtype=torch.float64)
    latents = torch.from_numpy(np.random.default_rng(1).uniform(-1.5, 1.5, (b, v, 7)))
    ranks = predictor_ranks(method, views, latents, m_obs, relative_actions, "rotation")
    assert ranks.shape == (b, v)
    with torch.no_grad():
        for n in range(b):
            z = method.encode_views(views[n:n + 1, :m_obs])
            cands = method.retrieval_candidates(views[n:n + 1])[0].numpy()
            rots = [Rotation.from_euler("xyz", latents[n, i, :3].double().numpy()) for i in range(v)]
            seen = torch.tensor(np.array([(rots[i].inv() * rots[i + 1]).as_quat() for i in range(m_obs - 1)]),
                                dtype=torch.float64).view(1, m_obs - 1, 4)
            for j in range(v):
                a = torch.tensor((rots[m_obs - 1].inv() * rots[j]).as_quat(), dtype=torch.float64)[None]
                pred = method.retrieval_prediction(z, seen, a)[0].numpy()
                assert ranks[n, j] == brute_force_rank(pred, cands, j), (n, j)
