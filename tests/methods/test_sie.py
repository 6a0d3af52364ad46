"""SIE's training loss against a hand-written reference (Garrido et al. 2023, hypernetwork predictor):
the predictor's matrix W(a) is built explicitly here, [d, d] per sample."""

import torch
from ssl_reference import (assert_same_loss_and_grads, covariance_penalty, fixed_batch, fixed_method, mlp_head,
                           mse, reference_copy, variance_hinge)

PARAMS = {"head_dims": (16, 16, 12), "lam_inv": 2.0, "lam_var": 3.0, "lam_equi": 0.5, "lam_cov": 5.0}


def reference(m, batch):
    z1, z2 = m.encoder(batch.views[:, 0]), m.encoder(batch.views[:, 1])
    k = z1.shape[1] // 2                                            # first half invariant, second equivariant
    inv1, inv2 = mlp_head(z1[:, :k], m.projector_inv), mlp_head(z2[:, :k], m.projector_inv)
    eq1, eq2 = mlp_head(z1[:, k:], m.projector_equi), mlp_head(z2[:, k:], m.projector_equi)
    d = eq1.shape[1]
    weights = (batch.actions[:, 0] @ m.predictor.hypernet.weight.T).view(-1, d, d)   # W(a_b), [B, d_out, d_in]
    pred = torch.stack([w @ e for w, e in zip(weights, eq1)])
    c1, c2 = torch.cat([inv1, eq1], dim=-1), torch.cat([inv2, eq2], dim=-1)
    var = (variance_hinge(c1) + variance_hinge(c2)) / 2 + variance_hinge(pred) / 2
    return (2.0 * mse(inv1, inv2) + 0.5 * 2.0 * mse(pred, eq2) + 3.0 * var
            + 5.0 * (covariance_penalty(c1) + covariance_penalty(c2)))


def test_training_loss_matches_reference():
    method = fixed_method("sie", **PARAMS)
    assert_same_loss_and_grads(method, fixed_batch(2), reference_copy(method), reference)
