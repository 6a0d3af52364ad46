"""Table 8's transformer projector (sequence length 1) against a hand-written post-norm transformer, and
the six '+' baselines it is swapped into."""

import pytest
import torch
from ssl_reference import (CTX, assert_same_loss_and_grads, batch_norm, fixed_batch, fixed_method, mlp_head,
                           nt_xent_tensor, reference_copy)
from torch import nn

from seqjepa_core.methods import build_method

TABLE8 = ("simclr", "byol", "vicreg", "vicreg-traj", "sen", "byol-cond")


def layer_norm(x, w, b, eps=1e-5):
    mean = x.mean(-1, keepdim=True)
    return (x - mean) / torch.sqrt(((x - mean) ** 2).mean(-1, keepdim=True) + eps) * w + b


def transformer_projector(x, tp):
    """One token: attention over a single key has weight 1, so self-attention is out_proj(value(x))."""
    d = x.shape[-1]
    for layer in tp.transformer.layers:
        attn = layer.self_attn
        value = x @ attn.in_proj_weight[2 * d:].T + attn.in_proj_bias[2 * d:]
        x = layer_norm(x + value @ attn.out_proj.weight.T + attn.out_proj.bias, layer.norm1.weight, layer.norm1.bias)
        hidden = torch.relu(x @ layer.linear1.weight.T + layer.linear1.bias)
        x = layer_norm(x + hidden @ layer.linear2.weight.T + layer.linear2.bias, layer.norm2.weight, layer.norm2.bias)
    x = layer_norm(x, tp.norm.weight, tp.norm.bias)
    return x @ tp.out.weight.T + tp.out.bias


def no_dropout(method):
    for m in method.modules():
        if isinstance(m, nn.Dropout):
            m.p = 0.0
        if isinstance(m, nn.MultiheadAttention):  # its attention-weight dropout is a float attribute
            m.dropout = 0.0
    return method


def test_simclr_plus_loss_matches_a_hand_written_transformer_projector():
    method = no_dropout(fixed_method("simclr", projector="transformer", projector_dims=(32, 32, 16), temperature=0.3))
    assert isinstance(method.projector[1], nn.BatchNorm1d) and not method.projector[1].affine

    def reference(m, batch):
        y1, y2 = (batch_norm(transformer_projector(m.encoder(batch.views[:, i]), m.projector[0])) for i in (0, 1))
        return nt_xent_tensor(y1, y2, 0.3)

    assert_same_loss_and_grads(method, fixed_batch(2), reference_copy(method), reference)


@pytest.mark.parametrize("name", TABLE8)
def test_each_table8_baseline_swaps_only_its_projector(name):
    torch.manual_seed(0)
    mlp = build_method(name, CTX, {"projector_dims": (32, 32, 16)})
    plus = build_method(name, CTX, {"projector_dims": (32, 32, 16), "projector": "transformer"})
    kept = {k for k in mlp.state_dict() if not k.startswith(("projector.", "target_projector."))}
    assert kept <= set(plus.state_dict())
    assert not any(".transformer." in k for k in mlp.state_dict())
    assert any(k.startswith("projector.") and ".transformer.layers.2." in k for k in plus.state_dict())
    batch = fixed_batch(plus.num_views, b=6)
    loss, _ = plus.double().training_loss(batch)
    loss.backward()
    assert torch.isfinite(loss)
    tp_grads = [p.grad for n, p in plus.named_parameters() if n.startswith("projector.") and "transformer" in n]
    assert tp_grads and all(g is not None and torch.isfinite(g).all() for g in tp_grads)


def test_mlp_projector_is_the_default_and_unchanged():
    m = fixed_method("simclr", projector_dims=(32, 32, 16))
    batch = fixed_batch(2)
    y = mlp_head(m.encoder(batch.views[:, 0]), m.projector, out_bn=True)
    torch.testing.assert_close(m.projector(m.encoder(batch.views[:, 0])), y)
