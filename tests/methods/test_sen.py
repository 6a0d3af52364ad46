"""SEN's training loss against a hand-written reference: NT-Xent between the action-conditioned linear
prediction of view 2's projection and view 2's projection."""

import torch
from ssl_reference import (assert_same_loss_and_grads, fixed_batch, fixed_method, linear_bn, mlp_head,
                           nt_xent_loop, nt_xent_tensor, reference_copy)

PARAMS = {"projector_dims": (32, 32, 16), "action_embed_dim": 8, "temperature": 0.4}


def reference(m, batch):
    y1, y2 = (mlp_head(m.encoder(batch.views[:, i]), m.projector, out_bn=True) for i in (0, 1))
    pred = linear_bn(torch.cat([y1, linear_bn(batch.actions[:, 0], m.action_proj)], dim=-1), m.predictor)
    assert abs(nt_xent_tensor(pred, y2, 0.4).item() - nt_xent_loop(pred, y2, 0.4)) < 1e-10
    return nt_xent_tensor(pred, y2, 0.4)


def test_training_loss_matches_reference():
    method = fixed_method("sen", **PARAMS)
    assert_same_loss_and_grads(method, fixed_batch(2), reference_copy(method), reference)
