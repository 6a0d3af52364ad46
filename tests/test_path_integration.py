"""Path integration's head inputs (paper Fig. 6) against a reference built by hand from the model's parts."""

import pytest
import torch

from seqjepa_core.methods import build_method
from seqjepa_core.methods.base import MethodContext
from seqjepa_core.path_integration import CONDITIONS, path_features, path_key

A, E = 2, 8  # action and action-embedding sizes


@pytest.fixture(scope="module")
def method():
    torch.manual_seed(0)
    m = build_method("seqjepa", MethodContext(action_dim=A, encoder_width=4, cifar_stem=True, m_tr=2),
                     {"action_embed_dim": E, "predictor_hidden": 16, "num_heads": 1})
    bn = m.action_proj[1]  # running statistics of a trained model, not the identity of a fresh one
    bn.running_mean.normal_()
    bn.running_var.uniform_(0.5, 2.0)
    return m.eval()


def reference(method, z: torch.Tensor, actions: torch.Tensor, m: int, zero_actions=False, zero_vision=False):
    """z_AGG ⊕ emb(a_M), one sample at a time: emb(a) = (W a - running mean) / sqrt(running var + eps)."""
    lin, bn = method.action_proj
    rows = []
    for zs, acts in zip(z, actions):
        emb = [(lin.weight @ a - bn.running_mean) / torch.sqrt(bn.running_var + bn.eps) for a in acts[:m]]
        if zero_actions:
            emb = [torch.zeros(E) for _ in emb]
        tokens = [torch.cat([torch.zeros_like(zs[i]) if zero_vision else zs[i], emb[i] if i < m - 1 else torch.zeros(E)])
                  for i in range(m)]  # the last observed token carries no action
        seq = torch.stack([method.agg_token[0, 0], *tokens])[None]
        rows.append(torch.cat([method.transformer_encoder(seq)[0, 0], emb[m - 1]]))
    return torch.stack(rows)


@pytest.fixture(scope="module")
def draw(method):
    g = torch.Generator().manual_seed(1)
    z = torch.randn(5, 4, method.embed_dim, generator=g)      # 4 views: M up to 3
    actions = torch.randn(5, 3, A, generator=g)
    with torch.no_grad():
        return z, actions, path_features(method, z, actions, [1, 3])


@pytest.mark.parametrize("m", [1, 3])
def test_each_condition_equals_the_reference(method, draw, m):
    z, actions, feats = draw
    assert set(feats) == {path_key(c, k) for c in CONDITIONS for k in (1, 3)}
    flags = {"full": {}, "no_action": {"zero_actions": True}, "no_vision": {"zero_vision": True}}
    with torch.no_grad():
        for c in CONDITIONS:
            torch.testing.assert_close(feats[path_key(c, m)], reference(method, z, actions, m, **flags[c]),
                                       atol=1e-5, rtol=1e-5, msg=c)


def test_ablations_remove_what_their_names_say(method, draw):
    z, actions, feats = draw
    g = torch.Generator().manual_seed(2)
    with torch.no_grad():
        other_actions = path_features(method, z, torch.randn(actions.shape, generator=g), [3])
        other_views = path_features(method, torch.randn(z.shape, generator=g), actions, [3])
    key = {c: path_key(c, 3) for c in CONDITIONS}
    assert torch.equal(other_actions[key["no_action"]], feats[key["no_action"]])    # blind to every action
    assert not torch.allclose(other_views[key["no_action"]], feats[key["no_action"]])
    assert torch.equal(feats[key["no_action"]][:, -E:], torch.zeros(5, E))           # emb(a_M) zeroed too
    assert torch.equal(other_views[key["no_vision"]], feats[key["no_vision"]])      # blind to every view
    assert not torch.allclose(other_actions[key["no_vision"]], feats[key["no_vision"]])
    assert not torch.allclose(other_actions[key["full"]], feats[key["full"]])
    assert not torch.allclose(other_views[key["full"]], feats[key["full"]])


def test_at_one_view_the_target_a_1_is_linear_in_the_full_and_no_vision_inputs(draw):
    """M = 1: the target x_1 -> x_2 is a_1 itself (paper: R² 1 for both curves that keep the actions)."""
    _, actions, feats = draw
    for c in ("full", "no_vision"):
        x = torch.cat([feats[path_key(c, 1)], torch.ones(5, 1)], 1).double()
        fit = x @ torch.linalg.lstsq(x, actions[:, 0].double()).solution
        torch.testing.assert_close(fit, actions[:, 0].double(), atol=1e-6, rtol=0)


def test_too_few_actions_and_methods_without_a_predictor(method, draw):
    z, actions, _ = draw
    with pytest.raises(ValueError, match="M=4 needs M views and the action a_M"):
        path_features(method, z, actions, [4])
    encoder_only = build_method("simclr", MethodContext(action_dim=A, encoder_width=4, cifar_stem=True),
                                {"projector_dims": [8, 8]})
    assert path_features(encoder_only, z, actions, [1]) == {}
