"""VICReg-Traj's training loss against a hand-written reference: VICReg on views 1, 2 plus the
trajectory term on views 1, 2, 3 (Wang et al. 2024), the three views sharing one forward pass."""

import pytest
import torch
from ssl_reference import (assert_same_loss_and_grads, covariance_penalty, fixed_batch, fixed_method, mlp_head,
                           mse, reference_copy, variance_hinge)

PARAMS = {"projector_dims": (32, 32, 16), "lam_inv": 2.0, "lam_var": 3.0, "lam_cov": 5.0, "lam_traj": 0.7}


def trajectory(z0, z1, z2):
    """-cos of the two steps around z1, each with its component along z1 removed (z1 as is, official)."""
    out = []
    for a, b, c in zip(z0, z1, z2):
        v1, v2 = b - a, c - b
        u1, u2 = v1 - (v1 @ b) * b, v2 - (v2 @ b) * b
        out.append(-(u1 @ u2) / (u1.norm() * u2.norm()))
    return torch.stack(out).mean()


def reference(m, batch):
    b = batch.views.shape[0]
    z = m.encoder(batch.views[:, :3].flatten(0, 1))             # one BatchNorm batch of all 3B views
    y = mlp_head(z, m.projector).view(b, 3, -1)
    y1, y2, y3 = y[:, 0], y[:, 1], y[:, 2]
    vic = 2.0 * mse(y1, y2) + 3.0 * (variance_hinge(y1) + variance_hinge(y2)) / 2 \
        + 5.0 * (covariance_penalty(y1) + covariance_penalty(y2))
    return vic + 0.7 * trajectory(y1, y2, y3)


def test_training_loss_matches_reference():
    method = fixed_method("vicreg-traj", **PARAMS)
    _, logs = assert_same_loss_and_grads(method, fixed_batch(3), reference_copy(method), reference)
    assert set(logs) == {"loss", "inv", "var", "cov", "traj"}
    terms = 2.0 * logs["inv"] + 3.0 * logs["var"] + 5.0 * logs["cov"] + 0.7 * logs["traj"]
    assert abs(float(logs["loss"] - terms)) < 1e-9  # the logged terms are the loss's own terms


def test_two_views_are_rejected():
    with pytest.raises(ValueError, match="vicreg-traj needs 3 consecutive views, got 2"):
        fixed_method("vicreg-traj", **PARAMS).training_loss(fixed_batch(2))


def test_only_the_first_three_views_count():
    method = fixed_method("vicreg-traj", **PARAMS)
    four = fixed_batch(4)
    three = type(four)(four.views[:, :3], four.actions[:, :2], four.labels, four.latents[:, :3])
    torch.testing.assert_close(method.training_loss(four)[0], method.training_loss(three)[0])
