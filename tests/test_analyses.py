"""Job-level evaluations (seqjepa_core.analyses) on the generated miniature 3DIEBench."""

import json

import numpy as np
import pytest
import torch

from seqjepa_core.analyses import (embedding_umaps, evaluate_ood, evaluate_path_integration, evaluate_retrieval,
                                   nearest_neighbour_grid)
from seqjepa_core.data.synthetic_3diebench import generate_ood
from seqjepa_core.data.threedie import build_eval_index, load_index, write_index
from seqjepa_core.evaluate import evaluate_checkpoint
from seqjepa_core.config import ProbeConfig, RunConfig, TrainConfig
from seqjepa_core.train import build_method_for_run


def _checkpoint(tmp_path, method: str, m_tr: int = 1, params: dict | None = None,
                probe: ProbeConfig = ProbeConfig(m_val=(1,))) -> str:
    run = RunConfig("3diebench", method, "t", 0, "3diebench", "rotation", 32, 4, False, m_tr, params or {},
                    TrainConfig(epochs=0, num_workers=0), probe)
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


SMALL_PROBE = ProbeConfig(m_val=(1, 3, 5), epochs=30, linear_epochs=10, batch_size=8, hidden=32, test_draws=2)


def test_ood_scores_the_probe_jobs_heads(tiny_3diebench, tmp_path):
    """The probe job's own heads (saved beside probe.json) scored on OOD draws; the drop is against probe.json."""
    synsets = [str(s) for s in load_index(tiny_3diebench["train"])["synsets"]]
    generate_ood(tmp_path / "ood", num_classes=len(synsets), objects_per_class=2, image_size=32, seed=5, workers=1)
    write_index(build_eval_index(tmp_path / "ood", tmp_path / "splits", "ood", synsets, workers=1), tmp_path / "ood.npz")
    ckpt = _checkpoint(tmp_path, "seqjepa", m_tr=3, probe=SMALL_PROBE)
    probe = evaluate_checkpoint(ckpt, tiny_3diebench["train"], tiny_3diebench["val"], tiny_3diebench["root"],
                                tmp_path / "p.json", device="cpu", heads_out=tmp_path / "heads.pt")
    res = evaluate_ood(ckpt, tmp_path / "heads.pt", tmp_path / "p.json", str(tmp_path / "ood.npz"),
                       str(tmp_path / "ood"), tmp_path / "o.json", device="cpu")
    recs = {(r["metric"], r["representation"], r["m_val"]): r for r in res["metrics"]}
    assert ("top1", "z_agg", 5) not in recs  # OOD objects hold 4 views: no z_AGG over 5
    assert {m for (k, rep, m) in recs if rep == "z_agg"} == {1, 3}
    in_dist = {(r["metric"], r["representation"], r["m_val"]): r["value"] for r in probe["metrics"]}
    for key, r in recs.items():
        if key[0] in ("top1", "rel_rot_r2", "indiv_rot_r2"):
            assert r["in_distribution"] == in_dist[key]
            assert r["n_test"] == 2 * 2 * len(synsets)  # test_draws x OOD objects
    for (k, rep, m), r in recs.items():
        if k == "top1":
            assert recs[("top1_drop", rep, m)]["value"] == r["value"] - in_dist[(k, rep, m)]
    # the saved heads reproduce the probe job's in-distribution scores exactly
    from seqjepa_core.evaluate import load_frozen
    from seqjepa_core.probe_samplers import ProbeContext
    from seqjepa_core.probe_samplers.threedie import test_features
    from seqjepa_core.probes import get_probe_specs, load_heads, score_heads
    method, run, dev = load_frozen(ckpt, "cpu")
    heads = load_heads(tmp_path / "heads.pt", get_probe_specs("3diebench", "rotation"), run.probe, dev)
    ctx = ProbeContext(method, run, tiny_3diebench["train"], tiny_3diebench["val"], tiny_3diebench["root"], dev,
                       seed=run.seed + 10_000)
    for h, (v, _) in zip(heads, score_heads(heads, test_features(ctx, tiny_3diebench["val"]), dev)):
        assert v == in_dist[(h.spec.metric, h.spec.features, h.m_val)]


def test_path_integration_full_model_beats_zeroed_actions_at_one_view(tiny_3diebench, tmp_path):
    """At M_val = 1 the target is a_M itself: the head given emb(a_M) fits it, the one with it zeroed cannot."""
    probe = ProbeConfig(epochs=150, batch_size=16, hidden=64, test_draws=2)
    ckpt = _checkpoint(tmp_path, "seqjepa", m_tr=2, probe=probe)
    res = evaluate_path_integration(ckpt, tiny_3diebench["train"], tiny_3diebench["val"], tiny_3diebench["root"],
                                    tmp_path / "pi.json", m_vals=(1, 2), device="cpu")
    r2 = {(r["metric"], r["m_val"]): r["value"] for r in res["metrics"]}
    assert set(r2) == {(f"path_r2_{c}", m) for c in ("full", "no_action", "no_vision") for m in (1, 2)}
    assert r2[("path_r2_full", 1)] > 0.5 and r2[("path_r2_no_vision", 1)] > 0.5
    assert r2[("path_r2_no_action", 1)] < r2[("path_r2_full", 1)] - 0.3
    fit = {(r["metric"], r["m_val"]): r["train_value"] for r in res["metrics"]}  # R² on the last training draw
    assert fit[("path_r2_full", 1)] > 0.5 and set(fit) == set(r2)


def test_nearest_neighbours_and_umaps(tiny_3diebench, tmp_path):
    ckpts = {"seq-JEPA": _checkpoint(tmp_path, "seqjepa", m_tr=3),
             "SimCLR": _checkpoint(tmp_path, "simclr", params={"projector_dims": [32, 32, 32]})}
    found = nearest_neighbour_grid(ckpts, tiny_3diebench["val"], tiny_3diebench["root"], tmp_path / "nn.png",
                                   queries=3, k=2, device="cpu")
    n = len(load_index(tiny_3diebench["val"])["paths"])
    q = np.linspace(0, n - 1, 3).round().astype(int)
    for rows in found.values():
        assert rows.shape == (3, 2) and not (rows == q[:, None]).any()  # a query never retrieves itself
    assert (tmp_path / "nn.png").stat().st_size > 0
    assert embedding_umaps(ckpts["seq-JEPA"], tiny_3diebench["val"], tiny_3diebench["root"], tmp_path / "u.png",
                           m_val=3, device="cpu") == 3


def test_nearest_neighbours_decode_each_image_once_for_all_methods(tiny_3diebench, tmp_path, monkeypatch):
    """Fig. 4 compares methods on the same views: they are read once, and each method's neighbours are those
    it finds when it is the only one drawn."""
    from seqjepa_core.data.threedie import ThreeDIEBenchSequences
    ckpts = {"seq-JEPA": _checkpoint(tmp_path, "seqjepa", m_tr=3),
             "SimCLR": _checkpoint(tmp_path, "simclr", params={"projector_dims": [32, 32, 32]})}
    alone = {label: nearest_neighbour_grid({label: c}, tiny_3diebench["val"], tiny_3diebench["root"],
                                           tmp_path / f"{label}.png", queries=3, k=2, device="cpu")[label]
             for label, c in ckpts.items()}
    reads, getitem = [], ThreeDIEBenchSequences.__getitem__
    monkeypatch.setattr(ThreeDIEBenchSequences, "__getitem__", lambda ds, i: reads.append(i) or getitem(ds, i))
    found = nearest_neighbour_grid(ckpts, tiny_3diebench["val"], tiny_3diebench["root"], tmp_path / "nn.png",
                                   queries=3, k=2, device="cpu")
    assert sorted(reads) == list(range(len(load_index(tiny_3diebench["val"])["paths"])))  # each object once
    for label in ckpts:
        np.testing.assert_array_equal(found[label], alone[label])
