"""Path-integration features (paper Fig. 6) against the paper's definitions, composed in the test from the
aggregator's parts: tokens z_i ⊕ emb(a_i), [AGG] output, a_M appended."""

import pytest
import torch

from seqjepa_core.methods import MethodContext, build_method
from seqjepa_core.methods.base import Method, MethodParams
from seqjepa_core.path_integration import path_features


@pytest.fixture(scope="module")
def method():
    torch.manual_seed(0)
    return build_method("seqjepa", MethodContext(action_dim=2, encoder_width=4, cifar_stem=True, m_tr=2),
                        {"action_embed_dim": 8, "predictor_hidden": 16, "num_heads": 1}).eval()


@torch.no_grad()
def test_each_condition_follows_its_definition(method):
    g = torch.Generator().manual_seed(1)
    z, actions = torch.randn(5, 4, method.embed_dim, generator=g), torch.randn(5, 3, 2, generator=g)
    out = path_features(method, z, actions, [1, 3])
    z_agg = lambda vision, action_emb: method.aggregate_tokens(method.tokens(vision, action_emb))
    for m in (1, 3):
        emb, a_m = method.embed_actions(actions[:, : m - 1]), actions[:, m - 1]
        torch.testing.assert_close(out[f"path@{m}"], torch.cat([z_agg(z[:, :m], emb), a_m], -1))
        torch.testing.assert_close(out[f"path_noact@{m}"], z_agg(z[:, :m], torch.zeros_like(emb)))
        torch.testing.assert_close(out[f"path_novis@{m}"], torch.cat([z_agg(torch.zeros_like(z[:, :m]), emb), a_m], -1))
    assert set(out) == {f"{k}@{m}" for k in ("path", "path_noact", "path_novis") for m in (1, 3)}
    assert not torch.allclose(out["path_noact@3"], out["path@3"][:, :-2])        # the ablations change z_AGG
    assert not torch.allclose(out["path_novis@3"], out["path@3"])


def test_methods_without_an_aggregator_have_none_and_too_few_views_are_named(method):
    torch.manual_seed(0)
    baseline = Method(MethodContext(action_dim=2, encoder_width=4), MethodParams())
    assert path_features(baseline, torch.zeros(2, 3, 8), torch.zeros(2, 2, 2), [1, 2]) == {}
    with pytest.raises(ValueError, match="path integration at M=3 needs 4 views, got 3"):
        path_features(method, torch.zeros(2, 3, method.embed_dim), torch.zeros(2, 2, 2), [1, 3])
