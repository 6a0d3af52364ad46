"""The pieces every method shares (seqjepa_core/methods/base.py and the registry)."""

import pytest
import torch

from seqjepa_core.methods import METHODS, MethodContext, build_method, register
from seqjepa_core.methods.base import mlp


def test_weight_decay_only_on_weights_not_on_biases_norms_or_learned_tokens():
    torch.manual_seed(0)
    m = build_method("seqjepa", MethodContext(action_dim=4, encoder_width=8, m_tr=2), {"action_embed_dim": 8})
    decay, no_decay = m.param_groups(0.05)
    assert decay["weight_decay"] == 0.05 and no_decay["weight_decay"] == 0.0
    names = {id(p): n for n, p in m.named_parameters()}
    decayed = {names[id(p)] for p in decay["params"]}
    assert "agg_token" not in decayed                          # a learned token, although 3-d
    assert "encoder.conv1.weight" in decayed and "predictor.0.weight" in decayed
    params = dict(m.named_parameters())
    assert all(params[n].ndim >= 2 for n in decayed)          # biases and norm scales are 1-d
    assert not any(n.startswith("target_encoder.") for n in decayed | {names[id(p)] for p in no_decay["params"]})
    assert len(decay["params"]) + len(no_decay["params"]) == sum(p.requires_grad for p in m.parameters())


def test_mlp_layers_with_and_without_batch_norm():
    with_bn = mlp([4, 8, 8, 2])
    assert [type(x).__name__ for x in with_bn] == ["Linear", "BatchNorm1d", "ReLU"] * 2 + ["Linear"]
    assert with_bn[0].bias is None and with_bn[-1].bias is not None       # BN makes the bias redundant
    plain = mlp([4, 8, 2], batch_norm=False, last_bias=False)
    assert [type(x).__name__ for x in plain] == ["Linear", "ReLU", "Linear"]
    assert plain[0].bias is not None and plain[-1].bias is None


def test_a_name_cannot_be_registered_twice():
    with pytest.raises(ValueError, match="method 'simclr' registered twice"):
        register("simclr")(type("Other", (METHODS["simclr"],), {}))
    assert METHODS["simclr"].__name__ == "SimCLR"


def test_lookup_and_params_errors_name_the_choices():
    ctx = MethodContext(action_dim=4, encoder_width=8)
    with pytest.raises(KeyError, match=r"unknown method 'simclrr'; valid: \['byol', 'byol-cond', .*'vicreg-traj'\]"):
        build_method("simclrr", ctx)
    with pytest.raises(KeyError, match=r"^\"method: unknown parameter\(s\) \['depth'\] for method 'simclr'; valid: "):
        build_method("simclr", ctx, {"depth": 2})
    assert build_method("simclr", ctx, {"temperature": 0.2}).params.temperature == 0.2


def test_transformer_projector_has_the_aggregator_shape():
    """Table 8's projector: 3 post-norm layers, 4 heads, FFN 4x, dropout 0.1, a final LayerNorm, then Linear."""
    from seqjepa_core.methods.base import TransformerProjector, projector_head

    head = projector_head("transformer", [32, 64, 16], out_bn=True)
    proj, bn = head
    assert isinstance(proj, TransformerProjector) and not bn.affine and bn.num_features == 16
    layers = proj.transformer.layers
    assert len(layers) == 3
    for layer in layers:
        assert layer.self_attn.num_heads == 4 and layer.self_attn.batch_first and not layer.norm_first
        assert (layer.linear1.in_features, layer.linear1.out_features) == (32, 128)
        assert layer.dropout.p == 0.1
    assert proj.norm.normalized_shape == (32,) and (proj.out.in_features, proj.out.out_features) == (32, 16)
    assert proj.eval()(torch.randn(5, 32)).shape == (5, 16)
    assert isinstance(projector_head("mlp", [32, 64, 16], out_bn=False)[-1], torch.nn.Linear)  # no output BN
