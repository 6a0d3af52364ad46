import copy
import math
from pathlib import Path

import pytest
import torch

from seqjepa_core.data.batch import SequenceBatch
from seqjepa_core.methods import MethodContext, build_method

REF = Path(__file__).resolve().parents[1] / "reference"  # released checkpoints' keys (plain data)


def tiny(m_tr=3, **params):
    torch.manual_seed(0)
    return build_method("seqjepa", MethodContext(action_dim=4, encoder_width=8, m_tr=m_tr), params)


def batch(b=6, v=4, a=4, size=32):
    g = torch.Generator().manual_seed(1)
    return SequenceBatch(torch.randn(b, v, 3, size, size, generator=g), torch.randn(b, v - 1, a, generator=g),
                         torch.zeros(b, dtype=torch.long), torch.zeros(b, v, 7))


def test_tokens_have_zero_action_slot_on_last_view():
    m = tiny()
    z = torch.randn(2, 3, m.embed_dim)
    emb = torch.randn(2, 2, 128)
    tok = m.tokens(z, emb)
    assert tok.shape == (2, 3, m.embed_dim + 128)
    torch.testing.assert_close(tok[:, :, : m.embed_dim], z)
    torch.testing.assert_close(tok[:, :2, m.embed_dim:], emb)
    assert torch.all(tok[:, 2, m.embed_dim:] == 0)


def test_agg_token_and_output_shapes():
    m = tiny()
    assert m.agg_token.shape == (1, 1, m.embed_dim + 128) and torch.all(m.agg_token == 0)
    m.eval()
    b = batch()
    z_agg = m.aggregate(b.views[:, :3], b.actions[:, :2])
    assert z_agg.shape == (6, m.token_dim)


def test_z_agg_depends_on_number_of_observed_views_and_actions():
    m = tiny().eval()
    b = batch(v=6)
    with torch.no_grad():
        outs = [m.aggregate(b.views[:, :k], b.actions[:, : k - 1]) for k in (1, 3, 5)]
        assert not torch.allclose(outs[0], outs[1]) and not torch.allclose(outs[1], outs[2])
        # with actions: changing an action changes z_AGG; without conditioning it cannot
        other = b.actions.clone()
        other[:, 0] += 1.0
        assert not torch.allclose(m.aggregate(b.views[:, :3], other[:, :2]), outs[1])
        noact = tiny(condition_transformer=False, condition_predictor=False).eval()
        torch.testing.assert_close(noact.aggregate(b.views[:, :3], b.actions[:, :2]),
                                   noact.aggregate(b.views[:, :3], other[:, :2]))
        # permutation invariance only through the missing positional encoding: same views, same set
        assert noact.token_dim == noact.embed_dim


def test_predictor_conditioning_switches_shapes():
    assert tiny(condition_predictor=False).predictor[0].in_features == tiny().embed_dim + 128
    assert tiny(condition_transformer=False).predictor[0].in_features == tiny().embed_dim + 128
    assert tiny(action_embed_dim=16).predictor[0].in_features == tiny().embed_dim + 32


def test_bad_m_tr_is_rejected():
    with pytest.raises(ValueError, match="m_tr"):
        tiny(m_tr=0)


@pytest.mark.parametrize("tsv,action_dim,cifar", [("official_ckpt_keys_3diebench_seqjepa.tsv", 4, False),
                                                  ("official_ckpt_keys_stl10_pls_seqjepa.tsv", 2, True)])
def test_state_dict_matches_released_checkpoints(tsv, action_dim, cifar):
    ref = {}
    for line in (REF / tsv).read_text().splitlines():
        if line.startswith("#") or not line.strip():
            continue
        key, shape, _ = line.split("\t")
        if not key.startswith("online"):  # the official code trains online probes inside the model
            ref[key] = shape
    m = build_method("seqjepa", MethodContext(action_dim=action_dim, cifar_stem=cifar), {})
    ours = {k: str(tuple(v.shape)) for k, v in m.state_dict().items()}
    assert ours == ref


def test_stl10_paper_run_builds_the_released_stl10_layout():
    """The paper config's STL-10 seq-JEPA run (what a released-checkpoint row would load into)."""
    import yaml

    from seqjepa_core.config import load_config
    from seqjepa_core.train import build_method_for_run

    cfg = load_config(yaml.safe_load((Path(__file__).resolve().parents[2] / "config.yaml").read_text()))
    m = build_method_for_run(cfg.run_config("stl10", "seqjepa", "mtr4", 0))
    ref = {line.split("\t")[0]: line.split("\t")[1]
           for line in (REF / "official_ckpt_keys_stl10_pls_seqjepa.tsv").read_text().splitlines()
           if line.strip() and not line.startswith(("#", "online"))}
    assert {k: str(tuple(v.shape)) for k, v in m.state_dict().items()} == ref


# ------------------------------------------------------------------------------------------------------
# seq-JEPA's objective against a reference written from the paper's equations (§3, Fig. 1) and the
# official call order of the action projector. The encoder f is used as a black box (it is pinned against
# torchvision in tests/models/test_encoder.py); everything after it is written out here by hand.

def ref_batch_norm(x, running_mean, running_var, weight=None, bias=None, eps=1e-5, momentum=0.1):
    """Train-mode BatchNorm1d: batch statistics (biased variance) out, running statistics updated with the
    unbiased variance. Returns (y, new_running_mean, new_running_var)."""
    mean, var = x.mean(0), ((x - x.mean(0)) ** 2).mean(0)
    y = (x - mean) / torch.sqrt(var + eps)
    if weight is not None:
        y = y * weight + bias
    n = x.shape[0]
    return (y, (1 - momentum) * running_mean + momentum * mean,
            (1 - momentum) * running_var + momentum * var * n / (n - 1))


def ref_layer_norm(x, ln):
    mu = x.mean(-1, keepdim=True)
    var = ((x - mu) ** 2).mean(-1, keepdim=True)
    return (x - mu) / torch.sqrt(var + ln.eps) * ln.weight + ln.bias


def ref_self_attention(x, attn, heads):
    b, t, d = x.shape
    dh = d // heads
    q, k, v = (x @ attn.in_proj_weight.T + attn.in_proj_bias).split(d, dim=-1)
    q, k, v = (u.reshape(b, t, heads, dh).transpose(1, 2) for u in (q, k, v))
    weights = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(dh), dim=-1)
    out = (weights @ v).transpose(1, 2).reshape(b, t, d)
    return out @ attn.out_proj.weight.T + attn.out_proj.bias


def ref_post_norm_layer(x, layer, heads):
    x = ref_layer_norm(x + ref_self_attention(x, layer.self_attn, heads), layer.norm1)
    ff = torch.relu(x @ layer.linear1.weight.T + layer.linear1.bias) @ layer.linear2.weight.T + layer.linear2.bias
    return ref_layer_norm(x + ff, layer.norm2)


def ref_seqjepa_step(m, views, actions, own_call=True):
    """The loss of one training step by hand, plus the running statistics it leaves in the action
    projector's and the predictor's BatchNorms. ``m``: a copy of the model (its modules give the weights)."""
    b, v = views.shape[:2]
    big_m = v - 1                                                   # M observed views, view M+1 is the target
    z = m.encoder(views[:, :big_m].flatten(0, 1)).view(b, big_m, -1)  # online f on x_1..x_M (one batch)
    with torch.no_grad():
        target = m.target_encoder(views[:, big_m])                 # EMA encoder on x_{M+1}
    w_act, bn_act = m.action_proj[0].weight, m.action_proj[1]
    rm, rv = bn_act.running_mean.clone(), bn_act.running_var.clone()
    a = actions[:, :big_m]                                          # a_i: view i -> view i+1; a_M -> target
    if own_call:                                                    # official: a_M alone, then a_1..a_M
        u_m, rm, rv = ref_batch_norm(a[:, -1] @ w_act.T, rm, rv)
        u_all, rm, rv = ref_batch_norm(a.flatten(0, 1) @ w_act.T, rm, rv)
    else:
        u_all, rm, rv = ref_batch_norm(a.flatten(0, 1) @ w_act.T, rm, rv)
        u_m = u_all.view(b, big_m, -1)[:, -1]
    u_tokens = u_all.view(b, big_m, -1).clone()
    u_tokens[:, -1] = 0                                             # the last observed view has no next action
    tokens = torch.cat([z, u_tokens], dim=-1)
    x = torch.cat([m.agg_token.expand(b, 1, -1), tokens], dim=1)    # [AGG] first, no positional encoding
    for layer in m.transformer_encoder.transformer_encoder.layers:
        x = ref_post_norm_layer(x, layer, m.params.num_heads)
    z_agg = ref_layer_norm(x, m.transformer_encoder.norm)[:, 0]    # final LayerNorm, output at [AGG]
    lin1, bn_pred, _, lin2 = m.predictor
    h, prm, prv = ref_batch_norm(torch.cat([z_agg, u_m], dim=-1) @ lin1.weight.T, bn_pred.running_mean,
                                 bn_pred.running_var, bn_pred.weight, bn_pred.bias)
    pred = torch.relu(h) @ lin2.weight.T + lin2.bias
    cos = (pred * target).sum(-1) / (pred.norm(dim=-1) * target.norm(dim=-1))
    loss = (1 - cos).mean()
    return loss, {"action_proj": (rm, rv), "predictor": (prm, prv)}


def fixed_model(m_tr=3, **params):
    """A tiny seq-JEPA in float64 with every weight after the encoder random (LayerNorms and [AGG]
    included, so each of them changes the output) and a target encoder that differs from the online one."""
    m = tiny(m_tr=m_tr, dropout=0.0, action_embed_dim=8, predictor_hidden=16, **params).double()
    g = torch.Generator().manual_seed(5)
    with torch.no_grad():
        for name, p in m.named_parameters():
            if not name.startswith(("encoder.", "target_encoder.")):
                p.copy_(torch.randn(p.shape, generator=g, dtype=p.dtype) * 0.5 + (1.0 if "norm" in name else 0.0))
        for p in m.target_encoder.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=g, dtype=p.dtype))
    return m


def fixed_batch(m_tr=3, b=6):
    g = torch.Generator().manual_seed(2)
    return SequenceBatch(torch.randn(b, m_tr + 1, 3, 32, 32, generator=g, dtype=torch.float64),
                         torch.randn(b, m_tr, 4, generator=g, dtype=torch.float64),
                         torch.zeros(b, dtype=torch.long), torch.zeros(b, m_tr + 1, 7))


@pytest.mark.parametrize("m_tr", [1, 3])
def test_training_step_matches_paper_reference_with_official_action_order(m_tr):
    model, b = fixed_model(m_tr), fixed_batch(m_tr)
    ref = copy.deepcopy(model)
    loss, logs = model.training_loss(b)
    ref_loss, ref_stats = ref_seqjepa_step(ref, b.views, b.actions)
    torch.testing.assert_close(loss, ref_loss, rtol=1e-10, atol=1e-10)
    assert logs["loss"] == loss.detach()
    # BatchNorm running statistics: two updates of the action projector (a_M, then a_1..a_M), one of the predictor
    torch.testing.assert_close((model.action_proj[1].running_mean, model.action_proj[1].running_var),
                               ref_stats["action_proj"], rtol=1e-10, atol=1e-12)
    torch.testing.assert_close((model.predictor[1].running_mean, model.predictor[1].running_var),
                               ref_stats["predictor"], rtol=1e-10, atol=1e-12)
    # Gradients: the same function of the same weights, and none into the target encoder (stop-gradient)
    loss.backward()
    ref_loss.backward()
    for (name, p), q in zip(model.named_parameters(), ref.parameters()):
        if name.startswith("target_encoder."):
            assert p.grad is None and q.grad is None
        else:
            torch.testing.assert_close(p.grad, q.grad, rtol=1e-7, atol=1e-10, msg=name)


def test_one_call_switch_matches_reference_and_changes_the_step():
    model, b = fixed_model(3, target_action_own_call=False), fixed_batch(3)
    ref = copy.deepcopy(model)
    loss, _ = model.training_loss(b)
    ref_loss, ref_stats = ref_seqjepa_step(ref, b.views, b.actions, own_call=False)
    torch.testing.assert_close(loss, ref_loss, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close((model.action_proj[1].running_mean, model.action_proj[1].running_var),
                               ref_stats["action_proj"], rtol=1e-10, atol=1e-12)
    # the two orders are different training steps on this batch (so the tests above can tell them apart)
    official, _ = fixed_model(3).training_loss(b)
    assert abs(float(official) - float(loss)) > 1e-4


def test_loss_is_one_minus_cosine_to_the_target():
    """Predictor output equal to the target gives 0, opposite gives 2 (pins the sign of the loss)."""
    model, b = fixed_model(1), fixed_batch(1)
    with torch.no_grad():
        target = model.target_encoder(b.views[:, 1])
    for scale, expected in ((1.0, 0.0), (-2.0, 2.0)):
        model.predictor = FixedOutput(scale * target)
        loss, _ = model.training_loss(b)
        assert abs(float(loss) - expected) < 1e-9


class FixedOutput(torch.nn.Module):
    def __init__(self, out):
        super().__init__()
        self.out = out

    def forward(self, x):
        return self.out + 0 * x.sum()


def test_ema_target_follows_the_cosine_momentum_of_run_progress():
    model, b = fixed_model(1), fixed_batch(1)
    model.training_loss(b)[0].backward()
    torch.optim.SGD(model.parameters(), lr=0.1).step()
    before = copy.deepcopy(model.target_encoder.state_dict())
    for progress in (0.3, 1.0):
        tau = 1 - (1 - 0.996) * (math.cos(math.pi * progress) + 1) / 2
        model.after_optimizer_step(progress)
        online = model.encoder.state_dict()
        for k, t in model.target_encoder.state_dict().items():
            if k.endswith(("running_mean", "running_var", "num_batches_tracked")):
                assert torch.equal(t, online[k]), k  # BatchNorm statistics are copied, not averaged
            else:
                torch.testing.assert_close(t, tau * before[k] + (1 - tau) * online[k], rtol=0, atol=1e-12)
        before = copy.deepcopy(model.target_encoder.state_dict())
    # at progress 1, tau = 1: the target no longer moves
    assert all(torch.equal(before[k], v) for k, v in model.target_encoder.state_dict().items())
