"""Frozen-representation probes (paper §5.5): linear top-1 for invariance, regressors' R² for equivariance.

The protocol is data, not code: each dataset lists ``ProbeSpec`` entries (which features, which target,
which head, how many epochs) in ``PROBE_SPECS``. A new dataset (augmentations: crop/jitter/blur R²; STL-10
saccades: linear position R²) adds an entry there and a probe sampler (``seqjepa_core.probe_samplers``)
that draws its data; methods only expose ``encoder`` and, for sequence methods, ``aggregate``.

``run_probes`` trains every head of a run jointly, epoch by epoch, on one fresh draw per epoch from the
sampler (as the official eval loop re-reads its dataset every epoch), each head with its own seeded Adam,
then scores them on the sampler's fixed test draws. A result is a pure function of (checkpoint, seed).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from sklearn.metrics import r2_score
from torch import nn
from tqdm import tqdm

from seqjepa_core.config import ProbeConfig  # noqa: F401 (re-exported: the probe protocol)
from seqjepa_core.geometry import euler_xyz_to_quaternion
from seqjepa_core.probe_samplers import Features, ProbeSampler, draw_generator

log = logging.getLogger(__name__)


# ---------------------------------------------------------------------------------------------------
# Probe specs


@dataclass(frozen=True)
class ProbeSpec:
    """One probe family. An integer target is scored as top-1 (%), a float target as R²."""

    metric: str                                  # record name: "top1", "rel_rot_r2", ...
    features: str                                # "encoder" | "pair" | "z_agg" (one probe per M_val)
    target: Callable[[Features], torch.Tensor]   # class ids [N] or regression targets [N, K]
    head: str = "linear"                         # "linear" | "mlp"
    epochs: str = "epochs"                       # the ProbeConfig field with its epoch count
    action_kinds: tuple[str, ...] | None = None  # only for these experiment action kinds (None: all)

    def inputs(self, feats: Features) -> list[tuple[str, int | None]]:
        """(feature key, M_val) pairs this spec probes; none when the features are absent."""
        if self.features == "z_agg":
            keys = sorted((k for k in feats if k.startswith("z_agg@")), key=lambda k: int(k.split("@")[1]))
            return [(k, int(k.split("@")[1])) for k in keys]
        return [(self.features, None)] if self.features in feats else []


def _labels(f: Features) -> torch.Tensor:
    return f["label"].long()


def _relative_rotation(f: Features) -> torch.Tensor:
    return f["actions"][:, 0, :4]  # quaternion (x, y, z, w) taking view 0 to view 1


def _view0_rotation(f: Features) -> torch.Tensor:
    # scipy's from_euler("xyz", a).as_quat(): the same sign convention as the relative-rotation actions
    return euler_xyz_to_quaternion(f["latents"][:, 0, :3].double()).float()


def _relative_hues(f: Features) -> torch.Tensor:
    hues = f["latents"][:, :2][..., [3, 6]]  # [floor_hue, spot_hue] of views 0 and 1
    return hues[:, 1] - hues[:, 0]


# Paper §5.5 / Tables 1, 7, 12. Baselines get no z_agg probe; their "encoder" top-1 is the paper's top-1.
PROBE_SPECS: dict[str, tuple[ProbeSpec, ...]] = {
    "3diebench": (
        ProbeSpec("top1", "z_agg", _labels),
        ProbeSpec("top1", "encoder", _labels),
        ProbeSpec("rel_rot_r2", "pair", _relative_rotation, head="mlp"),
        ProbeSpec("indiv_rot_r2", "encoder", _view0_rotation, head="mlp"),
        ProbeSpec("color_r2", "pair", _relative_hues, epochs="linear_epochs", action_kinds=("rotcolor",)),
    ),
}


def get_probe_specs(dataset: str, action_kind: str) -> list[ProbeSpec]:
    try:
        specs = PROBE_SPECS[dataset]
    except KeyError:
        raise KeyError(f"no probe specs for dataset {dataset!r}; valid: {sorted(PROBE_SPECS)}") from None
    return [s for s in specs if s.action_kinds is None or action_kind in s.action_kinds]


# ---------------------------------------------------------------------------------------------------
# Training and scoring


def build_head(kind: str, d_in: int, d_out: int, hidden: int) -> nn.Module:
    if kind == "linear":
        return nn.Linear(d_in, d_out)
    if kind == "mlp":  # the official regressor: two hidden ReLU layers
        return nn.Sequential(nn.Linear(d_in, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                             nn.Linear(hidden, d_out))
    raise ValueError(f"unknown probe head {kind!r}; valid: ['linear', 'mlp']")


@torch.no_grad()
def predict(head: nn.Module, x: torch.Tensor, batch_size: int = 4096) -> torch.Tensor:
    head.eval()
    return torch.cat([head(x[i:i + batch_size]) for i in range(0, x.shape[0], batch_size)])


def score(pred: torch.Tensor, y: torch.Tensor) -> float:
    """Top-1 (%) for class ids; sklearn R² (uniform average over output dims) for float targets."""
    if y.is_floating_point():
        return float(r2_score(y.cpu().double().numpy(), pred.cpu().double().numpy()))
    return float((pred.argmax(-1) == y).double().mean().item() * 100.0)


def _target(spec: ProbeSpec, feats: Features) -> torch.Tensor:
    y = spec.target(feats)
    return y.reshape(len(y), -1) if y.is_floating_point() else y


@dataclass
class Head:
    """One probe being trained: a spec applied to one feature key (one M_val for z_AGG)."""

    spec: ProbeSpec
    key: str
    m_val: int | None
    epochs: int
    module: nn.Module
    lr: float
    d_out: int
    train_value: float = float("nan")   # its score on the last training draw it saw
    optimizer: torch.optim.Optimizer = field(init=False)

    def __post_init__(self):
        # fused Adam on CUDA: thousands of tiny steps per probe are bound by per-step launch overhead
        fused = next(self.module.parameters()).is_cuda
        self.optimizer = torch.optim.Adam(self.module.parameters(), lr=self.lr, fused=fused)

    def step(self, x: torch.Tensor, y: torch.Tensor) -> None:
        loss_fn = F.mse_loss if y.is_floating_point() else F.cross_entropy
        self.module.train()
        loss = loss_fn(self.module(x), y)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()


def build_heads(first: Features, specs: Sequence[ProbeSpec], cfg: ProbeConfig, device: torch.device,
                seed: int) -> list[Head]:
    """A freshly (seeded) initialised head per (spec, feature key); sizes from the first training draw only."""
    heads = []
    for spec in specs:
        y = _target(spec, first)
        d_out = y.shape[1] if y.is_floating_point() else int(y.max()) + 1
        for key, m_val in spec.inputs(first):
            with torch.random.fork_rng(devices=[]):  # seeded init without disturbing the caller's RNG
                torch.manual_seed(seed)
                module = build_head(spec.head, first[key].shape[1], d_out, cfg.hidden).to(device)
            heads.append(Head(spec, key, m_val, getattr(cfg, spec.epochs), module, cfg.lr, d_out))
    return heads


def _check_classes(heads: list[Head], data: dict, epoch: int) -> None:
    for h in heads:
        y = data[id(h)][1]
        if not y.is_floating_point() and int(y.max()) >= h.d_out:
            raise ValueError(f"probe draw of epoch {epoch}: class id {int(y.max())} but the first draw sized the "
                             f"{h.spec.metric}[{h.key}] head to {h.d_out} classes; a probe sampler must draw "
                             f"every object of the split each epoch")


def train_heads(sampler: ProbeSampler, heads: list[Head], batch_size: int, device: torch.device,
                seed: int, first: Features | None = None) -> None:
    """Every head trains on the same fresh draw each epoch, in shuffled mini-batches (the last partial
    batch kept, as a DataLoader would), until its own epoch count; the order is seeded by (seed, epoch)."""
    epochs = max((h.epochs for h in heads), default=0)
    for epoch in tqdm(range(epochs), desc="probes", unit="epoch", leave=False):
        feats = first if epoch == 0 and first is not None else sampler.draw(epoch)
        live = [h for h in heads if epoch < h.epochs]
        data = {id(h): (feats[h.key].to(device), _target(h.spec, feats).to(device)) for h in live}
        _check_classes(live, data, epoch)
        n = len(next(iter(data.values()))[0])
        perm = torch.randperm(n, generator=draw_generator(seed, epoch, stream=2)).to(device)
        for i in range(0, n, batch_size):
            idx = perm[i:i + batch_size]
            for h in live:
                x, y = data[id(h)]
                h.step(x[idx], y[idx])
        for h in live:
            if epoch + 1 == h.epochs:
                x, y = data[id(h)]
                h.train_value = score(predict(h.module, x), y)


def run_probes(sampler: ProbeSampler, specs: Sequence[ProbeSpec], cfg: ProbeConfig, device: torch.device | str,
               seed: int) -> list[dict]:
    """The paper's frozen-probe protocol: fit every head on fresh training draws, score on the test draws.

    Records look like {"metric": "top1", "representation": "z_agg", "m_val": 3, "value": 85.1,
    "train_value": 88.0, ...}; ``m_val`` is None for encoder/pair probes. The test split is read only
    after every head is fitted.
    """
    device = torch.device(device)
    first = sampler.draw(0)
    heads = build_heads(first, specs, cfg, device, seed)
    train_heads(sampler, heads, cfg.batch_size, device, seed, first)
    test = sampler.test()
    records = []
    for h in heads:
        y_test = _target(h.spec, test).to(device)
        value = score(predict(h.module, test[h.key].to(device)), y_test)
        records.append({"metric": h.spec.metric, "representation": h.spec.features, "m_val": h.m_val,
                        "value": value, "train_value": h.train_value, "head": h.spec.head,
                        "epochs": h.epochs, "n_train": len(first[h.key]), "n_test": len(y_test)})
        log.info("probe %s on %s: %.4f (train %.4f)", h.spec.metric, h.key, value, h.train_value)
    return records
