"""Every registered method at demo scale: forward + backward, and a few optimiser steps on a fixed batch."""

from __future__ import annotations

import pytest
import torch

from seqjepa_core.data.batch import SequenceBatch
from seqjepa_core.methods import METHODS, build_method
from seqjepa_core.methods.base import MethodContext

CTX = MethodContext(action_dim=4, encoder_width=8, m_tr=2)  # embed_dim = 64

DEMO_PARAMS = {
    "simclr": {"projector_dims": (64, 64, 64)},
    "byol": {"projector_dims": (64, 64, 64), "predictor_hidden": 32},
    "byol-cond": {"projector_dims": (64, 64, 64), "predictor_hidden": 32, "action_embed_dim": 16},
    "vicreg": {"projector_dims": (64, 64, 64)},
    "vicreg-traj": {"projector_dims": (64, 64, 64)},
    "sen": {"projector_dims": (64, 64, 64), "action_embed_dim": 16},
    "simclr-equimod": {"projector_dims": (64, 64, 32), "action_embed_dim": 16},
    "sie": {"head_dims": (32, 32, 32)},
    "seqjepa": {"action_embed_dim": 16, "predictor_hidden": 64},
}
BASELINES = ["simclr", "byol", "vicreg", "vicreg-traj", "sen", "simclr-equimod", "sie", "byol-cond"]



def make_batch(num_views: int, b: int = 8, seed: int = 0) -> SequenceBatch:
    g = torch.Generator().manual_seed(seed)
    actions = torch.nn.functional.normalize(torch.randn(b, num_views - 1, CTX.action_dim, generator=g), dim=-1)
    return SequenceBatch(views=torch.randn(b, num_views, 3, 32, 32, generator=g), actions=actions,
                         labels=torch.randint(0, 5, (b,), generator=g),
                         latents=torch.randn(b, num_views, 4, generator=g))


def build(name: str):
    torch.manual_seed(0)
    return build_method(name, CTX, DEMO_PARAMS[name])


def test_registry_names_and_metadata():
    assert set(BASELINES) | {"seqjepa"} <= set(METHODS)
    families = {n: METHODS[n].family for n in BASELINES}
    assert {n for n, f in families.items() if f == "invariant"} == {"simclr", "byol", "vicreg", "vicreg-traj"}
    assert {n for n, f in families.items() if f == "equivariant"} == {"sen", "simclr-equimod", "sie", "byol-cond"}
    for n in BASELINES:
        cls = METHODS[n]
        assert cls.uses_actions == (families[n] == "equivariant")
        assert (cls.optim_defaults.name, cls.optim_defaults.lr, cls.optim_defaults.weight_decay,
                cls.optim_defaults.schedule) == ("adam", 1e-3, 0.0, "constant")


def test_paper_defaults():
    p = {n: METHODS[n].Params() for n in BASELINES}
    assert p["simclr"].temperature == 0.5 and p["simclr"].projector_dims == (2048, 2048, 2048)
    assert p["byol"].projector_dims == (2048, 2048, 2048) and p["byol"].predictor_hidden == 512
    assert (p["vicreg"].lam_inv, p["vicreg"].lam_var, p["vicreg"].lam_cov) == (10.0, 10.0, 1.0)
    assert p["vicreg-traj"].lam_traj == 0.01
    assert p["sen"].temperature == 0.5 and p["sen"].projector_dims == (2048, 2048, 2048)
    assert p["simclr-equimod"].temperature == 0.1 and p["simclr-equimod"].projector_dims == (1024, 1024, 128)
    assert p["simclr-equimod"].action_embed_dim == 128 and p["simclr-equimod"].lam_equi == 1.0
    assert p["sie"].head_dims == (1024, 1024, 1024)
    assert (p["sie"].lam_inv, p["sie"].lam_var, p["sie"].lam_equi, p["sie"].lam_cov) == (10.0, 10.0, 4.5, 1.0)
    assert p["byol-cond"].action_embed_dim == 128


@pytest.mark.parametrize("name", BASELINES)
def test_forward_backward_reaches_encoder(name):
    method = build(name)
    assert method.num_views == (3 if name == "vicreg-traj" else 2)
    loss, logs = method.training_loss(make_batch(method.num_views))
    assert loss.ndim == 0 and torch.isfinite(loss)
    assert "loss" in logs and all(v.ndim == 0 and not v.requires_grad for v in logs.values())
    loss.backward()
    grads = [p.grad for p in method.encoder.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert method.encoder.conv1.weight.grad.abs().sum() > 0
    for target in ("target_encoder", "target_projector"):  # EMA copies never receive gradients
        if target in dict(method.named_children()):
            assert all(p.grad is None for p in getattr(method, target).parameters())


def test_byol_ema_moves_target_towards_online():
    method = build("byol")
    method.training_loss(make_batch(2))[0].backward()
    torch.optim.Adam(method.parameters(), lr=1e-2).step()
    before = method.target_encoder.conv1.weight.clone()
    gap = (method.encoder.conv1.weight - before).norm()
    method.after_optimizer_step(0.0)  # tau = 0.996
    online = method.encoder.conv1.weight
    assert torch.allclose(method.target_encoder.conv1.weight, before + 0.004 * (online - before))
    assert (method.encoder.conv1.weight - method.target_encoder.conv1.weight).norm() < gap


@pytest.mark.parametrize("name", BASELINES + ["seqjepa"])
def test_few_steps_lower_the_loss_on_a_fixed_batch(name):
    method = build(name)
    batch = make_batch(method.num_views, b=16, seed=1)
    od = method.optim_defaults
    opt = (torch.optim.AdamW if od.name == "adamw" else torch.optim.Adam)(
        method.param_groups(od.weight_decay), lr=od.lr)
    steps, losses = 15, []
    for step in range(steps):
        loss, _ = method.training_loss(batch)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        method.after_optimizer_step((step + 1) / steps)
        losses.append(float(loss.detach()))
    with torch.no_grad():
        final = float(method.training_loss(batch)[0])
    assert final < losses[0], (name, losses, final)
