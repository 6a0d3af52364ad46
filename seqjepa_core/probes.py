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
from seqjepa_core.path_integration import CONDITIONS, feature_name, path_metric
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
    target_needs_m: bool = False                 # target(features, M_val): a target that depends on M_val

    def inputs(self, feats: Features) -> list[tuple[str, int | None]]:
        """(feature key, M_val) pairs this spec probes: ``<features>@<M>`` keys (one probe per M_val), else
        the plain key; none when the features are absent."""
        prefix = f"{self.features}@"
        keys = sorted((k for k in feats if k.startswith(prefix)), key=lambda k: int(k.split("@")[1]))
        if keys:
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


def _augmentation_target(group: str) -> Callable[[Features], torch.Tensor]:
    def target(f: Features) -> torch.Tensor:
        return f[group]  # relative parameters of views 0 -> 1 (seqjepa_core.probe_samplers.augmented)
    target.__name__ = f"relative_{group}"
    return target


# Paper §5.5 / Table 2: crop and jitter by an MLP (300 epochs), blur by a linear head (50 epochs); top-1 on
# z_AGG and on z_res, the encoder output of the un-augmented image (Table 12).
AUGMENTATION_PROBES = (
    ProbeSpec("top1", "z_agg", _labels),
    ProbeSpec("top1", "encoder", _labels),
    ProbeSpec("crop_r2", "pair", _augmentation_target("crop"), head="mlp"),
    ProbeSpec("jitter_r2", "pair", _augmentation_target("jitter"), head="mlp"),
    ProbeSpec("blur_r2", "pair", _augmentation_target("blur"), epochs="linear_epochs"),
)


def _relative_position(f: Features) -> torch.Tensor:
    return f["actions"][:, 0]  # normalised (row, col) from fixation 1 to fixation 2


def _displacement(f: Features, m: int) -> torch.Tensor:
    return f["latents"][:, m] - f["latents"][:, 0]  # x_1 -> x_{M+1}: the saccade path integrated


# Paper §5.5 / Tables 1, 7, 12. Baselines get no z_agg probe; their "encoder" top-1 is the paper's top-1.
PROBE_SPECS: dict[str, tuple[ProbeSpec, ...]] = {
    "3diebench": (
        ProbeSpec("top1", "z_agg", _labels),
        ProbeSpec("top1", "encoder", _labels),
        ProbeSpec("rel_rot_r2", "pair", _relative_rotation, head="mlp"),
        ProbeSpec("indiv_rot_r2", "encoder", _view0_rotation, head="mlp"),
        ProbeSpec("color_r2", "pair", _relative_hues, epochs="linear_epochs", action_kinds=("rotcolor",)),
    ),
    "cifar100": AUGMENTATION_PROBES,
    "tinyimagenet": AUGMENTATION_PROBES,
    # Table 3 / 12, Figs. 6a and 9. Position R²: linear, 50 epochs (§5.5). Path integration (Fig. 6a): a
    # linear head on z_AGG ⊕ emb(a_M) under each condition (seqjepa_core.path_integration) predicting
    # x_1 -> x_{M+1}; the paper gives no epoch count for it, the linear regressors' 50 is used.
    "stl10": (
        ProbeSpec("top1", "z_agg", _labels),
        ProbeSpec("top1", "encoder", _labels),
        ProbeSpec("position_r2", "pair", _relative_position, epochs="linear_epochs"),
        *(ProbeSpec(path_metric(c), feature_name(c), _displacement, epochs="linear_epochs",
                    target_needs_m=True) for c in CONDITIONS),
    ),
    # Fig. 15: the STL-10 model's z_AGG on ImageNet saccades, linear top-1 (config `transfer:`)
    "imagenet": (ProbeSpec("top1", "z_agg", _labels),),
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


def _target(spec: ProbeSpec, feats: Features, m_val: int | None = None) -> torch.Tensor:
    y = spec.target(feats, m_val) if spec.target_needs_m else spec.target(feats)
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
        for key, m_val in spec.inputs(first):
            y = _target(spec, first, m_val)
            d_out = y.shape[1] if y.is_floating_point() else int(y.max()) + 1
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
        data = {id(h): (feats[h.key].to(device), _target(h.spec, feats, h.m_val).to(device)) for h in live}
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


def fit_heads(sampler: ProbeSampler, specs: Sequence[ProbeSpec], cfg: ProbeConfig, device: torch.device,
              seed: int) -> tuple[list[Head], Features]:
    """Every head of ``specs`` fitted on the sampler's training draws; returns them and the first draw."""
    first = sampler.draw(0)
    heads = build_heads(first, specs, cfg, device, seed)
    train_heads(sampler, heads, cfg.batch_size, device, seed, first)
    return heads, first


def score_heads(heads: Sequence[Head], feats: Features, device: torch.device) -> list[tuple[float, int]]:
    """(score, samples) of each fitted head on ``feats`` (a test split, or another one: 3DIEBench-OOD)."""
    out = []
    for h in heads:
        y = _target(h.spec, feats, h.m_val).to(device)
        out.append((score(predict(h.module, feats[h.key].to(device)), y), len(y)))
    return out


def save_heads(heads: Sequence[Head], path) -> None:
    """The fitted heads (weights and what rebuilds them), so other splits can be scored later (3DIEBench-OOD)."""
    from seqjepa_core.io import atomic_torch_save
    atomic_torch_save([{"metric": h.spec.metric, "features": h.spec.features, "key": h.key, "m_val": h.m_val,
                        "head": h.spec.head, "epochs": h.epochs, "d_out": h.d_out, "train_value": h.train_value,
                        "state_dict": {k: v.cpu() for k, v in h.module.state_dict().items()}} for h in heads], path)


def load_heads(path, specs: Sequence[ProbeSpec], cfg: ProbeConfig, device: torch.device) -> list[Head]:
    """Heads saved by ``save_heads``, matched to ``specs`` by (metric, features); weights-only load."""
    by_name = {(s.metric, s.features): s for s in specs}
    heads = []
    for rec in torch.load(path, map_location="cpu", weights_only=True):
        spec = by_name[(rec["metric"], rec["features"])]
        d_in = rec["state_dict"]["weight" if rec["head"] == "linear" else "0.weight"].shape[1]
        module = build_head(rec["head"], d_in, rec["d_out"], cfg.hidden)
        module.load_state_dict(rec["state_dict"])
        heads.append(Head(spec, rec["key"], rec["m_val"], rec["epochs"], module.to(device).eval(), cfg.lr,
                          rec["d_out"], rec["train_value"]))
    return heads


def run_probes(sampler: ProbeSampler, specs: Sequence[ProbeSpec], cfg: ProbeConfig, device: torch.device | str,
               seed: int, heads_out=None) -> list[dict]:
    """The paper's frozen-probe protocol: fit every head on fresh training draws, score on the test draws.

    Records look like {"metric": "top1", "representation": "z_agg", "m_val": 3, "value": 85.1,
    "train_value": 88.0, ...}; ``m_val`` is None for encoder/pair probes. The test split is read only
    after every head is fitted. ``heads_out``: also save the fitted heads there (``save_heads``).
    """
    device = torch.device(device)
    heads, first = fit_heads(sampler, specs, cfg, device, seed)
    if heads_out is not None:
        save_heads(heads, heads_out)
    records = []
    for h, (value, n_test) in zip(heads, score_heads(heads, sampler.test(), device)):
        records.append({"metric": h.spec.metric, "representation": h.spec.features, "m_val": h.m_val,
                        "value": value, "train_value": h.train_value, "head": h.spec.head,
                        "epochs": h.epochs, "n_train": len(first[h.key]), "n_test": n_test})
        log.info("probe %s on %s: %.4f (train %.4f)", h.spec.metric, h.key, value, h.train_value)
    return records
