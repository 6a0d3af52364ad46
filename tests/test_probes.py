"""Frozen-probe protocol: heads learn what they should, scores match independent formulas, features are right."""

import dataclasses

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from seqjepa_core.data.batch import SequenceBatch
from seqjepa_core.methods import MethodContext, build_method
from seqjepa_core.methods.base import Method, MethodParams
from seqjepa_core.probes import (PROBE_SPECS, ProbeConfig, ProbeSpec, evaluate_probes, extract_features,
                                 get_probe_specs, run_probes, score, train_and_score)

CPU = torch.device("cpu")
FAST = ProbeConfig(m_val=(1, 3), epochs=2, linear_epochs=2, batch_size=16, hidden=16)


def _batches(n_batches=2, b=8, v=4, a_dim=4, seed=0, px=32):
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(n_batches):
        latents = torch.rand(b, v, 7, generator=g) * 2 - 1
        out.append(SequenceBatch(views=torch.randn(b, v, 3, px, px, generator=g),
                                 actions=torch.randn(b, v - 1, a_dim, generator=g),
                                 labels=torch.randint(0, 5, (b,), generator=g), latents=latents))
    return out


def _tiny_seqjepa(a_dim=4, m_tr=3):
    torch.manual_seed(0)
    return build_method("seqjepa", MethodContext(action_dim=a_dim, encoder_width=8, m_tr=m_tr))


def test_linear_probe_separates_separable_classes():
    g = torch.Generator().manual_seed(0)
    centers = torch.randn(4, 16, generator=g) * 4
    def split(n):
        y = torch.randint(0, 4, (n,), generator=g)
        return {"encoder": centers[y] + 0.3 * torch.randn(n, 16, generator=g), "label": y}
    cfg = ProbeConfig(epochs=30, batch_size=64)
    recs = evaluate_probes(split(400), split(200), [ProbeSpec("top1", "encoder", lambda f: f["label"])],
                           cfg, CPU, seed=0)
    assert len(recs) == 1 and recs[0]["representation"] == "encoder" and recs[0]["m_val"] is None
    assert recs[0]["value"] >= 99.0


def test_scores_match_independent_formulas():
    g = torch.Generator().manual_seed(1)
    y = torch.randn(50, 4, generator=g) * torch.tensor([1.0, 2.0, 0.5, 3.0])
    pred = y + 0.7 * torch.randn(50, 4, generator=g)
    yn, pn = y.double().numpy(), pred.double().numpy()
    per_dim = 1 - ((yn - pn) ** 2).sum(0) / ((yn - yn.mean(0)) ** 2).sum(0)
    assert score(pred, y) == pytest.approx(per_dim.mean(), rel=1e-9)  # uniform average over dims
    labels = torch.tensor([0, 1, 2, 1])
    logits = torch.eye(3)[[0, 2, 2, 1]]
    assert score(logits, labels) == pytest.approx(75.0)


def test_mlp_regressor_fits_a_smooth_function_and_is_seeded():
    g = torch.Generator().manual_seed(2)
    f = lambda x: torch.stack([torch.sin(2 * x[:, 0]), x[:, 1] * x[:, 2], x[:, 3] ** 2], 1)
    x_tr, x_te = torch.rand(1000, 4, generator=g) * 2 - 1, torch.rand(500, 4, generator=g) * 2 - 1
    cfg = ProbeConfig(epochs=30, hidden=64, lr=3e-3, batch_size=128)
    r2 = train_and_score(x_tr, f(x_tr), x_te, f(x_te), "mlp", cfg.epochs, cfg, CPU, seed=0)
    assert r2 > 0.9
    assert train_and_score(x_tr, f(x_tr), x_te, f(x_te), "linear", 20, cfg, CPU, seed=0) < 0.5  # needs the MLP
    short = dataclasses.replace(cfg, epochs=2)
    a, b = (train_and_score(x_tr, f(x_tr), x_te, f(x_te), "mlp", 2, short, CPU, seed=5) for _ in range(2))
    assert a == b


def test_extract_features_shapes_and_values():
    method = _tiny_seqjepa()
    method.train()
    batches = _batches()
    feats = extract_features(method, batches, [1, 3], CPU)
    d, t = method.embed_dim, method.token_dim
    assert feats["encoder"].shape == (16, d) and feats["pair"].shape == (16, 2 * d)
    assert feats["z_agg@1"].shape == feats["z_agg@3"].shape == (16, t)
    assert not torch.allclose(feats["z_agg@1"], feats["z_agg@3"])
    assert method.training  # the caller's mode is restored
    views = torch.cat([b.views for b in batches])
    actions = torch.cat([b.actions for b in batches])
    method.eval()
    with torch.no_grad():
        torch.testing.assert_close(feats["encoder"], method.encoder(views[:, 0]))
        torch.testing.assert_close(feats["pair"][:, d:], method.encoder(views[:, 1]))
        torch.testing.assert_close(feats["z_agg@3"], method.aggregate(views[:, :3], actions[:, :2]))
    torch.testing.assert_close(feats["label"], torch.cat([b.labels for b in batches]))
    torch.testing.assert_close(feats["latents"], torch.cat([b.latents for b in batches]))
    with pytest.raises(ValueError, match="views"):
        extract_features(method, _batches(v=2), [3], CPU)


def test_3diebench_targets():
    b = _batches(n_batches=1, b=6, a_dim=6)[0]
    f = {"label": b.labels, "latents": b.latents, "actions": b.actions}
    specs = {s.metric + "/" + s.features: s for s in PROBE_SPECS["3diebench"]}
    torch.testing.assert_close(specs["rel_rot_r2/pair"].target(f), b.actions[:, 0, :4])
    quat = Rotation.from_euler("xyz", b.latents[:, 0, :3].double().numpy()).as_quat()
    np.testing.assert_allclose(specs["indiv_rot_r2/encoder"].target(f).numpy(), quat, atol=1e-6)
    hue = b.latents[:, 1, [3, 6]] - b.latents[:, 0, [3, 6]]
    torch.testing.assert_close(specs["color_r2/pair"].target(f), hue)
    assert [s.metric for s in get_probe_specs("3diebench", "rotation")].count("color_r2") == 0
    assert [s.metric for s in get_probe_specs("3diebench", "rotcolor")].count("color_r2") == 1


def test_run_probes_records_and_determinism():
    method = _tiny_seqjepa(a_dim=6)
    recs = run_probes(method, _batches(a_dim=6), _batches(a_dim=6, seed=1), FAST, "rotcolor", CPU, seed=3)
    keys = {(r["metric"], r["representation"], r["m_val"]) for r in recs}
    assert keys == {("top1", "z_agg", 1), ("top1", "z_agg", 3), ("top1", "encoder", None),
                    ("rel_rot_r2", "pair", None), ("indiv_rot_r2", "encoder", None), ("color_r2", "pair", None)}
    assert all(0 <= r["value"] <= 100 for r in recs if r["metric"] == "top1")
    again = run_probes(method, _batches(a_dim=6), _batches(a_dim=6, seed=1), FAST, "rotcolor", CPU, seed=3)
    assert [r["value"] for r in recs] == [r["value"] for r in again]


def test_run_probes_baseline_has_no_aggregate_probe():
    torch.manual_seed(0)
    baseline = Method(MethodContext(action_dim=4, encoder_width=8), MethodParams())
    recs = run_probes(baseline, _batches(v=2), _batches(v=2, seed=1), FAST, "rotation", CPU, seed=0)
    assert {(r["metric"], r["representation"]) for r in recs} == {
        ("top1", "encoder"), ("rel_rot_r2", "pair"), ("indiv_rot_r2", "encoder")}


def test_relative_rotation_target_is_learnable_by_the_probe_mlp():
    """The README's claim: the rel-rot R² probe can fit its target from the true angles (R² ~ 1), so negative
    demo R² comes from the representations, not from the target's quaternion sign convention."""
    from seqjepa_core.geometry import relative_rotation_quaternion

    g = torch.Generator().manual_seed(0)
    angles = [(torch.rand(n, 2, 3, generator=g) - 0.5) * torch.pi for n in (3200, 800)]
    feats = [torch.cat([a.flatten(1), a.sin().flatten(1), a.cos().flatten(1)], 1) for a in angles]
    targets = [relative_rotation_quaternion(a[:, 0].double(), a[:, 1].double()).float() for a in angles]
    cfg = ProbeConfig(batch_size=256, standardize=True)
    r2 = train_and_score(feats[0], targets[0], feats[1], targets[1], "mlp", 20, cfg, CPU, seed=0)
    assert r2 > 0.98
