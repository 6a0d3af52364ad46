"""Frozen-probe protocol: heads learn what they should, scores match independent formulas, features are right."""

import dataclasses

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from seqjepa_core.data.batch import SequenceBatch
from seqjepa_core.methods import MethodContext, build_method
from seqjepa_core.methods.base import Method, MethodParams
from seqjepa_core.probe_samplers import FreshViewsSampler, autocast_for, draw_generator
from seqjepa_core.probes import (PROBE_SPECS, ProbeConfig, ProbeSpec, get_probe_specs, load_heads, run_probes, score,
                                 score_heads)

CPU = torch.device("cpu")
FAST = ProbeConfig(m_val=(1, 3), epochs=2, linear_epochs=2, batch_size=16, hidden=16)


class FnSampler:
    """Fresh inputs every epoch: x ~ U(-1, 1)^d from a (seed, epoch) generator, y = f(x); fixed test set.
    Records the calls, so tests can check what the probe stage asked for and when."""

    def __init__(self, f, d=4, n=1000, n_test=500, make_x=None):
        self.f, self.d, self.n, self.n_test, self.calls = f, d, n, n_test, []
        self.make_x = make_x or (lambda n, g: torch.rand(n, self.d, generator=g) * 2 - 1)

    def _feats(self, n, g):
        x = self.make_x(n, g)
        y = self.f(x)
        return {"encoder": x, "label": y if not y.is_floating_point() else torch.zeros(n, dtype=torch.long),
                "y": y}

    def draw(self, epoch):
        self.calls.append(epoch)
        return self._feats(self.n, draw_generator(0, epoch))

    def test(self):
        self.calls.append("test")
        return self._feats(self.n_test, draw_generator(0, 0, stream=9))


def _y(f):
    return f["y"]


def _batches(n_batches=2, b=8, v=4, a_dim=4, seed=0, px=32):
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(n_batches):
        latents = torch.rand(b, v, 7, generator=g) * 2 - 1
        out.append(SequenceBatch(views=torch.randn(b, v, 3, px, px, generator=g),
                                 actions=torch.randn(b, v - 1, a_dim, generator=g),
                                 labels=torch.arange(b) % 5, latents=latents))  # the same objects every draw
    return out


def _tiny_seqjepa(a_dim=4, m_tr=3):
    torch.manual_seed(0)
    return build_method("seqjepa", MethodContext(action_dim=a_dim, encoder_width=8, m_tr=m_tr))


def test_linear_probe_separates_separable_classes():
    centers = torch.randn(4, 16, generator=torch.Generator().manual_seed(0)) * 4
    make_x = lambda n, g: torch.randint(0, 4, (n,), generator=g)[:, None].float()  # the class id
    sampler = FnSampler(lambda c: c[:, 0].long(), n=400, n_test=200, make_x=make_x)
    sampler._feats = lambda n, g: (lambda y: {"encoder": centers[y] + 0.3 * torch.randn(n, 16, generator=g),
                                              "label": y})(torch.randint(0, 4, (n,), generator=g))
    recs = run_probes(sampler, [ProbeSpec("top1", "encoder", lambda f: f["label"])],
                      ProbeConfig(epochs=30, batch_size=64), CPU, seed=0)
    assert len(recs) == 1 and recs[0]["representation"] == "encoder" and recs[0]["m_val"] is None
    assert recs[0]["value"] >= 99.0 and recs[0]["train_value"] >= 99.0


def test_heads_train_jointly_on_one_fresh_draw_per_epoch_and_see_the_test_split_last():
    sampler = FnSampler(lambda x: x[:, :2] * 2, n=64, n_test=32)
    specs = [ProbeSpec("a", "encoder", _y), ProbeSpec("b", "encoder", _y, epochs="linear_epochs")]
    recs = run_probes(sampler, specs, ProbeConfig(epochs=5, linear_epochs=2, batch_size=16), CPU, seed=0)
    assert sampler.calls == [0, 1, 2, 3, 4, "test"]  # one draw per epoch, shared by every head
    assert [(r["metric"], r["epochs"], r["n_train"], r["n_test"]) for r in recs] == [("a", 5, 64, 32),
                                                                                    ("b", 2, 64, 32)]


def test_probe_is_fitted_on_fresh_draws_not_on_one_fixed_draw():
    """An MLP fitted many epochs on 16 fixed noisy points over-fits them; drawn afresh each epoch, the same
    budget generalises (why the probes re-draw every epoch)."""
    def noisy(n, g):
        x = torch.rand(n, 1, generator=g) * 2 - 1
        return {"encoder": x, "y": torch.sin(3 * x) + 0.5 * torch.randn(n, 1, generator=g)}

    spec, cfg = ProbeSpec("r2", "encoder", _y, head="mlp"), ProbeConfig(epochs=400, hidden=128, lr=3e-3, batch_size=16)
    fresh, fixed = FnSampler(None, n=16, n_test=2000), FnSampler(None, n=16, n_test=2000)
    fresh._feats = fixed._feats = noisy
    first = fixed.draw(0)
    fixed.draw = lambda epoch: first
    fresh, fixed = (run_probes(s, [spec], cfg, CPU, seed=0)[0] for s in (fresh, fixed))
    assert fixed["train_value"] > fresh["train_value"] + 0.1 and fresh["value"] > fixed["value"] + 0.1


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


def test_saved_heads_reload_and_score_as_the_fitted_ones(tmp_path):
    """``heads_out`` keeps every fitted head, linear and MLP; reloaded (as 3DIEBench-OOD scoring does), each
    has its size, epochs and fit score, and scores the test split exactly as ``run_probes`` recorded."""
    sampler = FnSampler(lambda x: x[:, :3] * 2, n=64, n_test=32)
    specs = [ProbeSpec("lin", "encoder", _y), ProbeSpec("mlp", "encoder", _y, head="mlp", epochs="linear_epochs")]
    cfg = ProbeConfig(epochs=3, linear_epochs=2, batch_size=16, hidden=8)
    recs = run_probes(sampler, specs, cfg, CPU, seed=0, heads_out=tmp_path / "heads.pt")
    heads = load_heads(tmp_path / "heads.pt", specs[::-1], cfg, CPU)
    assert [(h.spec.metric, h.spec.head, h.key, h.d_out, h.epochs, h.train_value) for h in heads] == \
        [(r["metric"], r["head"], "encoder", 3, r["epochs"], r["train_value"]) for r in recs]
    assert not any(h.module.training for h in heads)
    assert [value for value, _ in score_heads(heads, sampler.test(), CPU)] == [r["value"] for r in recs]


def test_mlp_regressor_fits_a_smooth_function_and_is_seeded():
    f = lambda x: torch.stack([torch.sin(2 * x[:, 0]), x[:, 1] * x[:, 2], x[:, 3] ** 2], 1)
    cfg = ProbeConfig(epochs=30, hidden=64, lr=3e-3, batch_size=128)
    mlp, linear = (ProbeSpec("r2", "encoder", _y, head=h) for h in ("mlp", "linear"))
    assert run_probes(FnSampler(f), [mlp], cfg, CPU, seed=0)[0]["value"] > 0.9
    assert run_probes(FnSampler(f), [linear], cfg, CPU, seed=0)[0]["value"] < 0.5  # needs the MLP
    short = dataclasses.replace(cfg, epochs=2)
    a, b, c = (run_probes(FnSampler(f), [mlp], short, CPU, seed=s)[0]["value"] for s in (5, 5, 6))
    assert a == b != c


def test_fresh_views_sampler_encodes_every_view_once_per_draw():
    method = _tiny_seqjepa()
    method.train()
    sampler = FreshViewsSampler(method.eval(), [1, 3], CPU, lambda epoch: _batches(seed=epoch),
                                lambda: _batches(seed=99))
    feats = sampler.draw(0)
    batches = _batches(seed=0)
    d, t = method.embed_dim, method.token_dim
    assert feats["encoder"].shape == (16, d) and feats["pair"].shape == (16, 2 * d)
    assert feats["z_agg@1"].shape == feats["z_agg@3"].shape == (16, t)
    assert not torch.allclose(feats["z_agg@1"], feats["z_agg@3"])
    views = torch.cat([b.views for b in batches])
    actions = torch.cat([b.actions for b in batches])
    with torch.no_grad():  # expected values straight from the model's modules, sample by sample
        for i in range(16):
            torch.testing.assert_close(feats["encoder"][i], method.encoder(views[i, :1])[0])
            torch.testing.assert_close(feats["pair"][i, d:], method.encoder(views[i, 1:2])[0])
        torch.testing.assert_close(feats["z_agg@3"], method.aggregate(views[:, :3], actions[:, :2]))
    torch.testing.assert_close(feats["label"], torch.cat([b.labels for b in batches]))
    torch.testing.assert_close(feats["latents"], torch.cat([b.latents for b in batches]))
    assert not torch.equal(sampler.draw(1)["encoder"], feats["encoder"])
    assert sampler.test() is sampler.test()  # encoded once
    with pytest.raises(ValueError, match="views"):
        FreshViewsSampler(method, [3], CPU, lambda e: _batches(v=2), lambda: []).draw(0)


def test_probe_encoding_runs_under_bf16_autocast_on_cuda_only(monkeypatch):
    """The cluster's probes encode in bf16 on the GPU; on CPU (tests, the demo) nothing is autocast. CUDA is
    stood in for: torch's autocast only asks whether it is available and supports bf16."""
    monkeypatch.setattr(torch.cuda.amp.common, "amp_definitely_not_available", lambda: False)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *args, **kwargs: True)
    with autocast_for(torch.device("cuda", 0)):
        assert torch.is_autocast_enabled("cuda") and torch.get_autocast_dtype("cuda") == torch.bfloat16
    with autocast_for(CPU):
        assert not torch.is_autocast_enabled("cuda") and not torch.is_autocast_enabled("cpu")


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


def _view_sampler(method, a_dim, v=4):
    m_vals = [1, 3] if method.aggregates_sequences else []
    return FreshViewsSampler(method.eval(), m_vals, CPU, lambda e: _batches(a_dim=a_dim, v=v, seed=e),
                             lambda: _batches(a_dim=a_dim, v=v, seed=99))


def test_run_probes_records_and_determinism():
    method = _tiny_seqjepa(a_dim=6)
    specs = get_probe_specs("3diebench", "rotcolor")
    recs = run_probes(_view_sampler(method, 6), specs, FAST, CPU, seed=3)
    keys = {(r["metric"], r["representation"], r["m_val"]) for r in recs}
    assert keys == {("top1", "z_agg", 1), ("top1", "z_agg", 3), ("top1", "encoder", None),
                    ("rel_rot_r2", "pair", None), ("indiv_rot_r2", "encoder", None), ("color_r2", "pair", None)}
    assert all(0 <= r["value"] <= 100 for r in recs if r["metric"] == "top1")
    again = run_probes(_view_sampler(method, 6), specs, FAST, CPU, seed=3)
    assert [r["value"] for r in recs] == [r["value"] for r in again]


def test_run_probes_baseline_has_no_aggregate_probe():
    torch.manual_seed(0)
    baseline = Method(MethodContext(action_dim=4, encoder_width=8), MethodParams())
    recs = run_probes(_view_sampler(baseline, 4, v=2), get_probe_specs("3diebench", "rotation"), FAST, CPU, seed=0)
    assert {(r["metric"], r["representation"]) for r in recs} == {
        ("top1", "encoder"), ("rel_rot_r2", "pair"), ("indiv_rot_r2", "encoder")}


def test_relative_rotation_target_is_learnable_by_the_probe_mlp():
    """The rel-rot R² probe can fit its target from the true angles (R² ~ 1), so a low R² comes from the
    representations, not from the target's quaternion sign convention."""
    from seqjepa_core.geometry import relative_rotation_quaternion

    angles = lambda n, g: (torch.rand(n, 2, 3, generator=g) - 0.5) * torch.pi
    feats = lambda a: torch.cat([a.flatten(1), a.sin().flatten(1), a.cos().flatten(1)], 1)
    target = lambda a: relative_rotation_quaternion(a[:, 0].double(), a[:, 1].double()).float()
    sampler = FnSampler(None, n=3200, n_test=800)
    sampler._feats = lambda n, g: (lambda a: {"encoder": feats(a), "y": target(a), "label": torch.zeros(n)})(angles(n, g))
    r2 = run_probes(sampler, [ProbeSpec("r2", "encoder", _y, head="mlp")], ProbeConfig(epochs=20, batch_size=256),
                    CPU, seed=0)[0]["value"]
    assert r2 > 0.98
