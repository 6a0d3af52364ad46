"""Hand-written references for the methods' training losses (float64, explicit loops and formulas).

Nothing here calls ``seqjepa_core``: the per-method tests read the weights out of a method's modules and
recompute its loss from the equations of the method's paper (and the official code where the paper is
silent). The encoder f is used as a black box; it is pinned against torchvision in tests/models/.
"""

from __future__ import annotations

import copy
import math

import torch

from seqjepa_core.data.batch import SequenceBatch
from seqjepa_core.methods import MethodContext, build_method

CTX = MethodContext(action_dim=4, encoder_width=8, m_tr=2)  # encoder output: 64-d


def fixed_method(name: str, **params):
    """A tiny method in float64 whose head weights are random (BatchNorm affine parameters too, so each
    layer's role shows in the loss) and whose EMA targets differ from the online networks."""
    torch.manual_seed(0)
    method = build_method(name, CTX, params).double()
    g = torch.Generator().manual_seed(7)
    with torch.no_grad():
        for pname, p in method.named_parameters():
            if not pname.startswith(("encoder.", "target_")):
                p.copy_(torch.randn(p.shape, generator=g, dtype=p.dtype) * 0.5 + (1.0 if p.ndim == 1 else 0.0))
        for pname, p in method.named_parameters():
            if pname.startswith("target_"):
                p.add_(0.05 * torch.randn(p.shape, generator=g, dtype=p.dtype))
    return method


def fixed_batch(num_views: int, b: int = 8, seed: int = 3) -> SequenceBatch:
    g = torch.Generator().manual_seed(seed)
    return SequenceBatch(views=torch.randn(b, num_views, 3, 32, 32, generator=g, dtype=torch.float64),
                         actions=torch.randn(b, num_views - 1, CTX.action_dim, generator=g, dtype=torch.float64),
                         labels=torch.zeros(b, dtype=torch.long), latents=torch.zeros(b, num_views, 7))


def reference_copy(method):
    """An independent copy whose modules the reference reads (so BatchNorm running stats stay apart)."""
    return copy.deepcopy(method)


def assert_same_loss_and_grads(method, batch, ref_method, ref_loss_fn, rtol=1e-9):
    """``method.training_loss`` equals the reference loss, and so do the gradients of every parameter."""
    loss, logs = method.training_loss(batch)
    ref_loss = ref_loss_fn(ref_method, batch)
    torch.testing.assert_close(loss, ref_loss, rtol=rtol, atol=1e-10)
    assert logs["loss"] == loss.detach()
    loss.backward()
    ref_loss.backward()
    for (name, p), q in zip(method.named_parameters(), ref_method.parameters()):
        if p.grad is None or q.grad is None:
            assert p.grad is None and q.grad is None, name
        else:
            torch.testing.assert_close(p.grad, q.grad, rtol=1e-6, atol=1e-10, msg=name)
    return loss, logs


# ----------------------------------------------------------------------------------------- layers

def batch_norm(x, weight=None, bias=None, eps=1e-5):
    """Train-mode BatchNorm: batch mean, biased batch variance."""
    mean = x.mean(0)
    y = (x - mean) / torch.sqrt(((x - mean) ** 2).mean(0) + eps)
    return y if weight is None else y * weight + bias


def mlp_head(x, seq, out_bn: bool = False):
    """The projectors of every baseline: [Linear(no bias) -> BN -> ReLU] * k -> Linear, then optionally a
    non-affine BN. ``seq`` is the module; its weights are read by position."""
    layers = list(seq[0]) if out_bn else list(seq)
    while len(layers) > 1:
        lin, bn = layers[0], layers[1]
        x = torch.relu(batch_norm(x @ lin.weight.T, bn.weight, bn.bias))
        layers = layers[3:]
    last = layers[0]
    x = x @ last.weight.T + (last.bias if last.bias is not None else 0)
    return batch_norm(x) if out_bn else x


def linear_bn(x, seq):
    """Bias-free Linear then non-affine BatchNorm (action projectors, linear predictors)."""
    return batch_norm(x @ seq[0].weight.T)


# ----------------------------------------------------------------------------------------- losses

def cos(u, v):
    u, v = u.detach(), v.detach()
    return float(u @ v) / math.sqrt(float(u @ u) * float(v @ v))


def nt_xent_loop(z1, z2, t):
    """NT-Xent with explicit sums: anchor i's positive is its pair, its negatives the 2N-2 others."""
    z = torch.cat([z1, z2])
    n2 = z.shape[0]
    total = 0.0
    for i in range(n2):
        pos = (i + n2 // 2) % n2
        denom = sum(math.exp(cos(z[i], z[k]) / t) for k in range(n2) if k != i)
        total += -math.log(math.exp(cos(z[i], z[pos]) / t) / denom)
    return total / n2


def nt_xent_tensor(z1, z2, t):
    """The same formula in differentiable tensor form (checked against ``nt_xent_loop`` in each test)."""
    z = torch.cat([z1, z2])
    n2 = z.shape[0]
    zn = z / z.norm(dim=-1, keepdim=True)
    sim = torch.exp(zn @ zn.T / t)
    pos = torch.cat([torch.arange(n2 // 2, n2), torch.arange(0, n2 // 2)])
    denom = sim.sum(1) - sim.diagonal()
    return -(torch.log(sim[torch.arange(n2), pos] / denom)).mean()


def mse(a, b):
    return ((a - b) ** 2).mean()


def variance_hinge(z, gamma=1.0, eps=1e-4):
    """mean_d max(0, gamma - sqrt(unbiased Var(z_d) + eps))."""
    n = z.shape[0]
    var = ((z - z.mean(0)) ** 2).sum(0) / (n - 1)
    return torch.clamp(gamma - torch.sqrt(var + eps), min=0).mean()


def covariance_penalty(z):
    """Sum over d != d' of the squared unbiased covariance, divided by D (explicit double loop)."""
    n, d = z.shape
    c = z - z.mean(0)
    total = 0
    for p in range(d):
        for q in range(d):
            if p != q:
                total = total + ((c[:, p] * c[:, q]).sum() / (n - 1)) ** 2
    return total / d


def normalized_mse(p, t):
    """BYOL: || p/|p| - t/|t| ||^2, batch mean; t is a constant."""
    t = t.detach()
    return ((p / p.norm(dim=-1, keepdim=True) - t / t.norm(dim=-1, keepdim=True)) ** 2).sum(-1).mean()
