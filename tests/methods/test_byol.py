"""BYOL's training loss against a hand-written reference, and its EMA targets against the cosine momentum."""

import copy
import math

import torch
from ssl_reference import (assert_same_loss_and_grads, fixed_batch, fixed_method, mlp_head, normalized_mse,
                           reference_copy)

PARAMS = {"projector_dims": (32, 32, 16), "predictor_hidden": 24, "ema_base": 0.99}


def reference(m, batch):
    x1, x2 = batch.views[:, 0], batch.views[:, 1]
    online = [mlp_head(mlp_head(m.encoder(x), m.projector, out_bn=True), m.predictor) for x in (x1, x2)]
    with torch.no_grad():
        target = [mlp_head(m.target_encoder(x), m.target_projector, out_bn=True) for x in (x1, x2)]
    # symmetrised: view 1 predicts view 2's target and vice versa, the two terms summed
    return normalized_mse(online[0], target[1]) + normalized_mse(online[1], target[0])


def test_training_loss_matches_reference():
    method = fixed_method("byol", **PARAMS)
    assert_same_loss_and_grads(method, fixed_batch(2), reference_copy(method), reference)


def test_ema_targets_follow_the_cosine_momentum_of_run_progress():
    method = fixed_method("byol", **PARAMS)
    method.training_loss(fixed_batch(2))[0].backward()
    torch.optim.SGD(method.parameters(), lr=0.1).step()
    pairs = [(method.target_encoder, method.encoder), (method.target_projector, method.projector)]
    before = [copy.deepcopy(t.state_dict()) for t, _ in pairs]
    progress = 0.25
    tau = 1 - (1 - 0.99) * (math.cos(math.pi * progress) + 1) / 2
    method.after_optimizer_step(progress)
    for (target, online), old in zip(pairs, before):
        on = online.state_dict()
        for k, t in target.state_dict().items():
            if k.endswith(("running_mean", "running_var", "num_batches_tracked")):
                assert torch.equal(t, on[k]), k
            else:
                torch.testing.assert_close(t, tau * old[k] + (1 - tau) * on[k], rtol=0, atol=1e-12)
