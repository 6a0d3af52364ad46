"""The baseline losses against direct, loop-based computations (float64, random inputs)."""

from __future__ import annotations

import math

import pytest
import torch

from seqjepa_core import losses
from seqjepa_core.methods.sie import HyperPredictor
from ssl_reference import cos, nt_xent_loop



def _rand(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def loop_variance(z, gamma=1.0, eps=1e-4):
    n, d = z.shape
    total = 0.0
    for j in range(d):
        col = [float(z[i, j]) for i in range(n)]
        m = sum(col) / n
        var = sum((c - m) ** 2 for c in col) / (n - 1)
        total += max(0.0, gamma - math.sqrt(var + eps))
    return total / d


def loop_covariance(z):
    n, d = z.shape
    m = [sum(float(z[i, j]) for i in range(n)) / n for j in range(d)]
    total = 0.0
    for p in range(d):
        for q in range(d):
            if p != q:
                c = sum((float(z[i, p]) - m[p]) * (float(z[i, q]) - m[q]) for i in range(n)) / (n - 1)
                total += c * c
    return total / d


def test_nt_xent_matches_loop():
    z1, z2 = _rand(6, 5, seed=1), _rand(6, 5, seed=2)
    for t in (0.5, 0.1):
        assert math.isclose(float(losses.nt_xent(z1, z2, t)), nt_xent_loop(z1, z2, t), rel_tol=1e-5)


def test_vicreg_terms_match_loop():
    z1, z2 = _rand(7, 4, seed=3), 0.3 * _rand(7, 4, seed=4)  # small scale: some hinges active, some not
    mse = sum((float(a) - float(b)) ** 2 for a, b in zip(z1.flatten(), z2.flatten())) / z1.numel()
    assert math.isclose(float(losses.vicreg_invariance(z1, z2)), mse, rel_tol=1e-6)
    for z in (z1, z2):
        assert math.isclose(float(losses.vicreg_variance(z)), loop_variance(z), rel_tol=1e-5)
        assert math.isclose(float(losses.vicreg_covariance(z)), loop_covariance(z), rel_tol=1e-5)
    loss, terms = losses.vicreg_loss(z1, z2, 10.0, 10.0, 1.0)
    var = (loop_variance(z1) + loop_variance(z2)) / 2
    cov = loop_covariance(z1) + loop_covariance(z2)
    assert math.isclose(float(terms["var"]), var, rel_tol=1e-5)
    assert math.isclose(float(terms["cov"]), cov, rel_tol=1e-5)
    assert math.isclose(float(loss), 10 * mse + 10 * var + cov, rel_tol=1e-5)


def test_trajectory_loss_matches_loop():
    zl, zc, zr = _rand(5, 6, seed=5), _rand(5, 6, seed=6), _rand(5, 6, seed=7)
    total = 0.0
    for b in range(5):
        v1, v2 = zc[b] - zl[b], zr[b] - zc[b]
        u1, u2 = v1 - float(v1 @ zc[b]) * zc[b], v2 - float(v2 @ zc[b]) * zc[b]
        total += -cos(u1, u2)
    assert math.isclose(float(losses.trajectory_loss(zl, zc, zr)), total / 5, rel_tol=1e-6)
    # A straight trajectory on the unit sphere's tangent plane scores the minimum, -1.
    c = torch.tensor([[1.0, 0.0, 0.0]], dtype=torch.float64)
    step = torch.tensor([[0.0, 0.1, 0.05]], dtype=torch.float64)
    assert math.isclose(float(losses.trajectory_loss(c - step, c, c + step)), -1.0, rel_tol=1e-9)


def test_byol_regression_is_normalised_mse():
    p, t = _rand(4, 3, seed=8), _rand(4, 3, seed=9)
    unit = torch.nn.functional.normalize
    ref = ((unit(p, dim=-1) - unit(t, dim=-1)) ** 2).sum(-1).mean()
    assert torch.allclose(losses.byol_regression(p, t), ref)


def test_sie_loss_composition():
    i1, i2, e1, e2, pr = (_rand(9, 3, seed=s) for s in range(10, 15))
    loss, terms = losses.sie_loss(i1, i2, e1, e2, pr, lam_inv=10.0, lam_var=10.0, lam_equi=4.5, lam_cov=1.0)
    x, y = torch.cat([i1, e1], 1), torch.cat([i2, e2], 1)
    var = (loop_variance(x) + loop_variance(y)) / 2
    pred_var = loop_variance(pr) / 2
    cov = loop_covariance(x) + loop_covariance(y)
    inv, equi = float(((i1 - i2) ** 2).mean()), float(((pr - e2) ** 2).mean())
    for k, v in dict(inv=inv, equi=equi, var=var, pred_var=pred_var, cov=cov).items():
        assert math.isclose(float(terms[k]), v, rel_tol=1e-5), k
    assert math.isclose(float(loss), 10 * inv + 45 * equi + 10 * (var + pred_var) + cov, rel_tol=1e-5)


def test_sie_hypernetwork_predictor_is_per_sample_matrix_product():
    torch.manual_seed(0)
    pred = HyperPredictor(action_dim=4, dim=6).double()
    z, a = _rand(5, 6, seed=20), _rand(5, 4, seed=21)
    out = pred(z, a)
    for b in range(5):
        w = pred.hypernet(a[b]).view(6, 6)  # the matrix the hypernetwork emits for this action: [out, in]
        expected = torch.stack([sum(w[i, j] * z[b, j] for j in range(6)) for i in range(6)])
        assert torch.allclose(out[b], expected, atol=1e-12)


def test_losses_run_in_full_precision_under_autocast():
    z1, z2 = _rand(8, 16, seed=30).float(), _rand(8, 16, seed=31).float()
    ref_nt, (ref_vic, _) = losses.nt_xent(z1, z2, 0.1), losses.vicreg_loss(z1, z2, 10.0, 10.0, 1.0)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        nt = losses.nt_xent(z1, z2, 0.1)
        vic, _ = losses.vicreg_loss(z1, z2, 10.0, 10.0, 1.0)
    assert nt.dtype == vic.dtype == torch.float32
    assert torch.allclose(nt, ref_nt) and torch.allclose(vic, ref_vic)
