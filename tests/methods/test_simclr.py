"""SimCLR's training loss against NT-Xent written out by hand (views through the network one at a time)."""

from ssl_reference import (assert_same_loss_and_grads, fixed_batch, fixed_method, mlp_head, nt_xent_loop,
                           nt_xent_tensor, reference_copy)

PARAMS = {"projector_dims": (32, 32, 16), "temperature": 0.3}


def reference(m, batch):
    # each view's batch is its own BatchNorm batch (official code); the projector ends in a non-affine BN
    y1, y2 = (mlp_head(m.encoder(batch.views[:, i]), m.projector, out_bn=True) for i in (0, 1))
    assert abs(nt_xent_tensor(y1, y2, 0.3).item() - nt_xent_loop(y1, y2, 0.3)) < 1e-10
    return nt_xent_tensor(y1, y2, 0.3)


def test_training_loss_matches_reference():
    method = fixed_method("simclr", **PARAMS)
    assert_same_loss_and_grads(method, fixed_batch(2), reference_copy(method), reference)
