"""VICReg's training loss against a hand-written reference, with distinct weights so each term is pinned."""

from ssl_reference import (assert_same_loss_and_grads, covariance_penalty, fixed_batch, fixed_method, mlp_head,
                           mse, reference_copy, variance_hinge)

PARAMS = {"projector_dims": (32, 32, 16), "lam_inv": 2.0, "lam_var": 3.0, "lam_cov": 5.0}


def reference(m, batch):
    y1, y2 = (mlp_head(m.encoder(batch.views[:, i]), m.projector) for i in (0, 1))  # plain Linear output
    var = (variance_hinge(y1) + variance_hinge(y2)) / 2
    return 2.0 * mse(y1, y2) + 3.0 * var + 5.0 * (covariance_penalty(y1) + covariance_penalty(y2))


def test_training_loss_matches_reference():
    method = fixed_method("vicreg", **PARAMS)
    loss, logs = assert_same_loss_and_grads(method, fixed_batch(2), reference_copy(method), reference)
    torch_terms = 2.0 * logs["inv"] + 3.0 * logs["var"] + 5.0 * logs["cov"]
    assert abs(float(torch_terms) - float(loss)) < 1e-9  # the logged terms are the loss's own terms
