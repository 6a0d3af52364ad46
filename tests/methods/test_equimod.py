"""SimCLR + EquiMod's training loss against a hand-written reference: invariant NT-Xent on one head plus
lam_equi times the equivariant NT-Xent on the other (Devillers & Lefort 2023)."""

import torch
from ssl_reference import (assert_same_loss_and_grads, fixed_batch, fixed_method, linear_bn, mlp_head,
                           nt_xent_tensor, reference_copy)

PARAMS = {"projector_dims": (32, 32, 16), "action_embed_dim": 8, "temperature": 0.2, "lam_equi": 0.6}


def reference(m, batch):
    z1, z2 = m.encoder(batch.views[:, 0]), m.encoder(batch.views[:, 1])
    inv = nt_xent_tensor(mlp_head(z1, m.projector_inv, out_bn=True), mlp_head(z2, m.projector_inv, out_bn=True), 0.2)
    e1, e2 = mlp_head(z1, m.projector_equi, out_bn=True), mlp_head(z2, m.projector_equi, out_bn=True)
    pred = linear_bn(torch.cat([e1, linear_bn(batch.actions[:, 0], m.action_proj)], dim=-1), m.predictor)
    return inv + 0.6 * nt_xent_tensor(pred, e2, 0.2)


def test_training_loss_matches_reference():
    method = fixed_method("simclr-equimod", **PARAMS)
    _, logs = assert_same_loss_and_grads(method, fixed_batch(2), reference_copy(method), reference)
    assert abs(float(logs["inv"] + 0.6 * logs["equi"] - logs["loss"])) < 1e-9
