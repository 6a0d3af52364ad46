"""Conv-JEPA: its loss against a hand-written per-pair computation; sum (paper) vs mean (official)."""

import pytest
import torch
import torch.nn.functional as F

from seqjepa_core.data.batch import SequenceBatch
from seqjepa_core.methods import build_method, get_method_class
from seqjepa_core.methods.base import MethodContext

CTX = MethodContext(action_dim=2, encoder_width=8, cifar_stem=True, m_tr=3)
SMALL = {"projector_dims": (64, 32), "action_embed_dim": 16, "predictor_hidden": 32}


def batch(b: int = 8, seed: int = 0) -> SequenceBatch:
    g = torch.Generator().manual_seed(seed)
    pos = torch.rand(b, CTX.m_tr + 1, 2, generator=g)
    return SequenceBatch(torch.randn(b, CTX.m_tr + 1, 3, 16, 16, generator=g), pos[:, 1:] - pos[:, :-1],
                         torch.zeros(b, dtype=torch.long), pos)


@pytest.mark.parametrize("reduce", ["sum", "mean"])
def test_loss_is_the_sum_or_mean_of_per_pair_losses(reduce):
    torch.manual_seed(0)
    m = build_method("conv-ijepa", CTX, {**SMALL, "pair_losses": reduce}).train()
    bt = batch()
    loss, _ = m.training_loss(bt)
    # independent: each earlier patch i predicts the last one from the displacement pos_last - pos_i
    z = m.encoder(bt.views[:, :3].flatten(0, 1)).view(8, 3, -1)  # one encoder call: BN over all patches
    y = m.projector(z.flatten(0, 1)).view(8, 3, -1)
    target = m.target_projector(m.target_encoder(bt.views[:, 3]))
    pairs = []
    for i in range(3):
        a = m.action_proj(bt.latents[:, 3] - bt.latents[:, i])
        pred = m.predictor(torch.cat([a, y[:, i]], -1))
        pairs.append((1 - F.cosine_similarity(pred, target, dim=-1)).mean())
    expected = sum(pairs) if reduce == "sum" else sum(pairs) / 3
    torch.testing.assert_close(loss, expected, rtol=1e-4, atol=1e-5)


def test_paper_defaults_and_bad_reduction():
    p = get_method_class("conv-ijepa").Params()
    assert (p.projector_dims, p.action_embed_dim, p.predictor_hidden, p.pair_losses) == ((2048, 128), 128, 1024, "sum")
    with pytest.raises(ValueError, match="pair_losses"):
        build_method("conv-ijepa", CTX, {"pair_losses": "max"})


def test_steps_lower_the_loss_and_ema_tracks_encoder_and_projector():
    torch.manual_seed(0)
    m = build_method("conv-ijepa", CTX, SMALL).train()
    opt = torch.optim.Adam(m.parameters(), lr=1e-3)
    bt = batch(16, seed=1)
    first = None
    for step in range(12):
        loss, _ = m.training_loss(bt)
        first = float(loss.detach()) if first is None else first
        opt.zero_grad()
        loss.backward()
        opt.step()
        before = m.target_projector[0][0].weight.clone()
        m.after_optimizer_step(step / 12)  # tau < 1 until the very end
        assert not torch.equal(before, m.target_projector[0][0].weight)
    assert all(p.grad is None for p in m.target_encoder.parameters())
    with torch.no_grad():
        assert float(m.training_loss(bt)[0]) < first
