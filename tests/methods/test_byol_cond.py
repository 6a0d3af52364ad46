"""Conditional BYOL's training loss against a hand-written reference: one direction, action-conditioned."""

import torch
from ssl_reference import (assert_same_loss_and_grads, fixed_batch, fixed_method, linear_bn, mlp_head,
                           normalized_mse, reference_copy)

PARAMS = {"projector_dims": (32, 32, 16), "predictor_hidden": 24, "action_embed_dim": 8}


def reference(m, batch):
    x1, x2, a = batch.views[:, 0], batch.views[:, 1], batch.actions[:, 0]  # a takes view 1 to view 2
    y1 = mlp_head(m.encoder(x1), m.projector, out_bn=True)
    pred = mlp_head(torch.cat([y1, linear_bn(a, m.action_proj)], dim=-1), m.predictor)
    with torch.no_grad():
        target = mlp_head(m.target_encoder(x2), m.target_projector, out_bn=True)
    return normalized_mse(pred, target)


def test_training_loss_matches_reference():
    method = fixed_method("byol-cond", **PARAMS)
    assert_same_loss_and_grads(method, fixed_batch(2), reference_copy(method), reference)
