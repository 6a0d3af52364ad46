from pathlib import Path

import pytest
import torch

from seqjepa_core.data.batch import SequenceBatch
from seqjepa_core.methods import MethodContext, build_method

# the team's shared/reference beside the checkout (main: ../shared, a worktree: ../../shared)
REF = next((p / "shared" / "reference" for p in Path(__file__).resolve().parents
            if (p / "shared" / "reference").is_dir()), Path("shared/reference"))


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


def test_loss_is_one_minus_cosine_against_ema_target():
    m = tiny(m_tr=1)
    b = batch(v=2, b=8)
    loss, logs = m.training_loss(b)
    assert 0.0 <= loss.item() <= 2.0 and logs["loss"] == loss.detach()
    loss.backward()
    assert m.encoder.conv1.weight.grad is not None
    assert all(p.grad is None for p in m.target_encoder.parameters())
    before = [p.clone() for p in m.target_encoder.parameters()]
    with torch.no_grad():
        for p in m.encoder.parameters():
            p.add_(1.0)
    m.after_optimizer_step(0.0)  # tau = 0.996
    for b0, t, o in zip(before, m.target_encoder.parameters(), m.encoder.parameters()):
        torch.testing.assert_close(t, 0.996 * b0 + 0.004 * o)


def test_bad_m_tr_is_rejected():
    with pytest.raises(ValueError, match="m_tr"):
        tiny(m_tr=0)


@pytest.mark.parametrize("tsv,action_dim,cifar", [("official_ckpt_keys_3diebench_seqjepa.tsv", 4, False),
                                                  ("official_ckpt_keys_stl10_pls_seqjepa.tsv", 2, True)])
def test_state_dict_matches_released_checkpoints(tsv, action_dim, cifar):
    path = REF / tsv
    if not path.exists():
        pytest.skip(f"{path} not present")
    ref = {}
    for line in path.read_text().splitlines():
        if line.startswith("#") or not line.strip():
            continue
        key, shape, _ = line.split("\t")
        if not key.startswith("online"):  # the official code trains online probes inside the model
            ref[key] = shape
    m = build_method("seqjepa", MethodContext(action_dim=action_dim, cifar_stem=cifar), {})
    ours = {k: str(tuple(v.shape)) for k, v in m.state_dict().items()}
    assert ours == ref
