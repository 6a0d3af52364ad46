"""Job-level evaluations (seqjepa_core.analyses) on the generated miniature 3DIEBench."""

import json

import pytest
import torch

from seqjepa_core.analyses import evaluate_retrieval
from seqjepa_core.config import ProbeConfig, RunConfig, TrainConfig
from seqjepa_core.data.threedie import load_index
from seqjepa_core.train import build_method_for_run


def _checkpoint(tmp_path, method: str, m_tr: int = 1, params: dict | None = None) -> str:
    run = RunConfig("3diebench", method, "t", 0, "3diebench", "rotation", 32, 4, False, m_tr, params or {},
                    TrainConfig(epochs=0, num_workers=0), ProbeConfig(m_val=(1,)))
    torch.manual_seed(0)
    path = tmp_path / f"{method}.pt"
    torch.save({"run": run.to_json(), "model": build_method_for_run(run).state_dict()}, path)
    return str(path)


def test_retrieval_scores_every_view_of_every_object(tiny_3diebench, tmp_path):
    ckpt = _checkpoint(tmp_path, "seqjepa", m_tr=3)
    out = tmp_path / "r.json"
    res = evaluate_retrieval(ckpt, tiny_3diebench["val"], tiny_3diebench["root"], out, m_obs=[3, 1], device="cpu")
    assert json.loads(out.read_text()) == res
    n_objects = len(load_index(tiny_3diebench["val"])["paths"])
    recs = {(r["metric"], r["m_val"]): r for r in res["metrics"]}
    assert set(recs) == {(k, m) for k in ("mrr", "h@1", "h@5") for m in (1, 3)}
    for m in (1, 3):
        mrr, h1, h5 = (recs[(k, m)]["value"] for k in ("mrr", "h@1", "h@5"))
        assert recs[("mrr", m)]["n_test"] == n_objects * 50
        assert 1 / 50 <= mrr <= 1 and h1 <= mrr and h1 <= h5 <= 1
    again = evaluate_retrieval(ckpt, tiny_3diebench["val"], tiny_3diebench["root"], tmp_path / "r2.json",
                               m_obs=[3, 1], device="cpu")
    assert again["metrics"] == res["metrics"]  # the observed views are seeded


def test_retrieval_of_pair_methods_and_methods_without_predictor(tiny_3diebench, tmp_path):
    res = evaluate_retrieval(_checkpoint(tmp_path, "sie", params={"head_dims": [32, 32, 32]}), tiny_3diebench["val"],
                             tiny_3diebench["root"], tmp_path / "s.json", m_obs=[3], device="cpu")
    assert {r["m_val"] for r in res["metrics"]} == {None}  # a pair method observes one view whatever is asked
    with pytest.raises(ValueError, match="simclr.*no action-conditioned predictor"):
        evaluate_retrieval(_checkpoint(tmp_path, "simclr", params={"projector_dims": [32, 32, 32]}),
                           tiny_3diebench["val"], tiny_3diebench["root"], tmp_path / "x.json", device="cpu")
