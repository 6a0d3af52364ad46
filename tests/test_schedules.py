import math

import pytest
import torch

from seqjepa_core.ema import ema_momentum, ema_update
from seqjepa_core.schedules import learning_rate, warmup_cosine_lr


def test_warmup_then_cosine_matches_formula():
    total, warm, peak, lo = 1000, 20, 4e-4, 1e-5
    lrs = [warmup_cosine_lr(s, total, warm, peak, lo, lo) for s in range(total + 1)]
    assert lrs[0] == pytest.approx(1e-5)
    assert lrs[10] == pytest.approx(1e-5 + (peak - 1e-5) * 10 / 20)
    assert lrs[20] == pytest.approx(peak)
    for s in (100, 500, 900):
        expect = lo + (peak - lo) * 0.5 * (1 + math.cos(math.pi * (s - warm) / (total - warm)))
        assert lrs[s] == pytest.approx(expect)
    assert lrs[-1] == pytest.approx(lo)
    assert all(a >= b for a, b in zip(lrs[20:], lrs[21:]))  # monotone decay after warm-up


def test_official_constant_after_warmup_and_constant_schedule():
    assert warmup_cosine_lr(500, 1000, 20, 4e-4, 1e-5, 1e-5, after_warmup="constant") == 4e-4
    assert learning_rate("constant", 7, 100, 10, 1e-3, 1e-5, 1e-5, "cosine") == 1e-3
    with pytest.raises(ValueError, match="warmup_cosine"):
        learning_rate("step", 0, 1, 0, 1.0, 0.0, 0.0, "cosine")


def test_ema_momentum_cosine_from_base_to_one():
    assert ema_momentum(0.0) == pytest.approx(0.996)
    assert ema_momentum(0.5) == pytest.approx(0.998)
    assert ema_momentum(1.0) == pytest.approx(1.0)
    assert ema_momentum(0.25) == pytest.approx(1 - 0.004 * (math.cos(math.pi / 4) + 1) / 2)


def test_fused_ema_update_equals_loop():
    torch.manual_seed(0)
    online = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.BatchNorm1d(3))
    target = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.BatchNorm1d(3))
    online(torch.randn(8, 4))  # moves BN running stats
    expect = [0.9 * t.detach().clone() + 0.1 * o.detach() for t, o in zip(target.parameters(), online.parameters())]
    ema_update(target, online, tau=0.9)
    for t, e in zip(target.parameters(), expect):
        torch.testing.assert_close(t, e)
    torch.testing.assert_close(target[1].running_mean, online[1].running_mean)


def test_learning_rate_passes_every_argument_to_the_warmup_cosine_schedule():
    args = dict(total_steps=50, warmup_steps=10, peak_lr=2e-3, start_lr=1e-4, final_lr=3e-5)
    for after in ("cosine", "constant"):
        for step in (0, 4, 10, 30, 50):
            assert learning_rate("warmup_cosine", step, after_warmup=after, **args) == \
                warmup_cosine_lr(step, after_warmup=after, **args)
    assert learning_rate("warmup_cosine", 4, after_warmup="cosine", **args) == pytest.approx(1e-4 + (2e-3 - 1e-4) * 0.4)
    assert learning_rate("warmup_cosine", 50, after_warmup="cosine", **args) == pytest.approx(3e-5)


def test_schedule_ends_at_final_lr_and_stays_there():
    # one decay step: the step after warm-up is the peak, the next is the end
    assert warmup_cosine_lr(10, 11, 10, 1e-3, 1e-5, 2e-5) == pytest.approx(1e-3)
    assert warmup_cosine_lr(11, 11, 10, 1e-3, 1e-5, 2e-5) == pytest.approx(2e-5)
    assert warmup_cosine_lr(15, 11, 10, 1e-3, 1e-5, 2e-5) == pytest.approx(2e-5)   # past the end: clamped
    assert warmup_cosine_lr(150, 100, 10, 1e-3, 1e-5, 2e-5) == pytest.approx(2e-5)
    with pytest.raises(ValueError, match="after_warmup.*'cosine', 'constant'"):
        warmup_cosine_lr(50, 100, 10, 1e-3, 1e-5, 1e-5, after_warmup="linear")
