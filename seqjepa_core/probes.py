"""Frozen-representation probes (paper §5.5): linear top-1 for invariance, regressors' R² for equivariance.

The protocol is data, not code: each dataset lists ``ProbeSpec`` entries (which features, which target,
which head) in ``PROBE_SPECS``. A new dataset (augmentations: crop/jitter/blur R²; STL-10 saccades:
linear position R²) adds an entry there; methods only expose ``encoder`` and, for sequence methods,
``aggregate``.

Features are extracted once per split (method frozen, eval mode) and every probe trains on-device on the
in-memory tensors with Adam and a seeded generator, so a result is a function of (checkpoint, seed).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from sklearn.metrics import r2_score
from torch import nn
from tqdm import tqdm

from seqjepa_core.config import ProbeConfig  # noqa: F401 (re-exported: the probe protocol)
from seqjepa_core.data.batch import SequenceBatch
from seqjepa_core.geometry import euler_xyz_to_quaternion
from seqjepa_core.methods.base import Method

log = logging.getLogger(__name__)
Features = dict[str, torch.Tensor]


# ---------------------------------------------------------------------------------------------------
# Feature extraction


def zagg_key(m: int) -> str:
    return f"z_agg@{m}"


@torch.no_grad()
def extract_features(method: Method, batches: Iterable[SequenceBatch], m_vals: Sequence[int],
                     device: torch.device | str) -> Features:
    """Frozen features of every sample, on the CPU in fp32.

    ``encoder``: encoder(view 0) (z_res); ``pair``: encoder(view 0) ⊕ encoder(view 1);
    ``z_agg@m`` (sequence methods): aggregate of views 0..m-1 with the m-1 actions between them;
    ``label``, ``latents``, ``actions``: kept as probe targets.
    """
    device = torch.device(device)
    was_training = method.training
    method.to(device).eval()
    m_vals = sorted(set(m_vals)) if method.aggregates_sequences else []
    need = max([2, *m_vals])
    out: dict[str, list[torch.Tensor]] = defaultdict(list)
    # bf16 on CUDA only: CPU autocast is slow and the CPU path is for tests and the demo.
    autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.type == "cuda")
    for batch in tqdm(batches, desc="features", unit="batch"):
        if batch.num_views < need:
            raise ValueError(f"probing needs {need} views per sample (pair and M_val={m_vals}), "
                             f"the loader gave {batch.num_views}")
        views = batch.views.to(device, non_blocking=True)
        actions = batch.actions.to(device, non_blocking=True)
        with autocast:
            z = method.encode_views(views[:, :need])  # each view through the encoder once, for every probe
            out["encoder"].append(z[:, 0].float().cpu())
            out["pair"].append(z[:, :2].flatten(1).float().cpu())
            for m in m_vals:
                out[zagg_key(m)].append(method.aggregate_encoded(z[:, :m], actions[:, : m - 1]).float().cpu())
        out["label"].append(batch.labels.cpu())
        out["latents"].append(batch.latents.float().cpu())
        out["actions"].append(batch.actions.float().cpu())
    method.train(was_training)
    if not out:
        raise ValueError("no batches to extract features from")
    return {k: torch.cat(v) for k, v in out.items()}


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

    def targets(self, feats: Features, m_val: int | None) -> torch.Tensor:
        return self.target(feats, m_val) if self.target_needs_m else self.target(feats)


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
    # Table 3 / 12, Figs. 6a and 9. Position R²: linear, 50 epochs (§5.5). Path integration (Fig. 6a): a
    # linear head on z_AGG ⊕ a_M (features built in seqjepa_core.path_integration) predicting x_1 -> x_{M+1};
    # the paper gives no epoch count for it, the linear regressors' 50 is used.
    "stl10": (
        ProbeSpec("top1", "z_agg", _labels),
        ProbeSpec("top1", "encoder", _labels),
        ProbeSpec("position_r2", "pair", _relative_position, epochs="linear_epochs"),
        ProbeSpec("path_r2", "path", _displacement, epochs="linear_epochs", target_needs_m=True),
        ProbeSpec("path_noact_r2", "path_noact", _displacement, epochs="linear_epochs", target_needs_m=True),
        ProbeSpec("path_novis_r2", "path_novis", _displacement, epochs="linear_epochs", target_needs_m=True),
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


def fit_probe(head: nn.Module, x: torch.Tensor, y: torch.Tensor, *, epochs: int, batch_size: int,
              lr: float, seed: int, desc: str = "probe") -> nn.Module:
    """Adam on shuffled mini-batches of on-device tensors; cross-entropy for class ids, else MSE."""
    loss_fn = F.mse_loss if y.is_floating_point() else F.cross_entropy
    gen = torch.Generator().manual_seed(seed)  # CPU generator: the same order on any device
    # fused Adam on CUDA: ~50k tiny steps per probe are bound by per-step launch overhead
    opt = torch.optim.Adam(head.parameters(), lr=lr, fused=x.device.type == "cuda")
    head.train()
    n = x.shape[0]
    for _ in tqdm(range(epochs), desc=desc, unit="epoch", leave=False):
        perm = torch.randperm(n, generator=gen).to(x.device)
        for i in range(0, n, batch_size):  # the last partial batch is kept, as a DataLoader would
            idx = perm[i:i + batch_size]
            loss = loss_fn(head(x[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return head.eval()


@torch.no_grad()
def predict(head: nn.Module, x: torch.Tensor, batch_size: int = 4096) -> torch.Tensor:
    head.eval()
    return torch.cat([head(x[i:i + batch_size]) for i in range(0, x.shape[0], batch_size)])


def score(pred: torch.Tensor, y: torch.Tensor) -> float:
    """Top-1 (%) for class ids; sklearn R² (uniform average over output dims) for float targets."""
    if y.is_floating_point():
        return float(r2_score(y.cpu().double().numpy(), pred.cpu().double().numpy()))
    return float((pred.argmax(-1) == y).double().mean().item() * 100.0)


def train_and_score(x_train: torch.Tensor, y_train: torch.Tensor, x_test: torch.Tensor,
                    y_test: torch.Tensor, head_kind: str, epochs: int, cfg: ProbeConfig,
                    device: torch.device | str, seed: int, desc: str = "probe") -> float:
    """Fit a freshly (seeded) initialised head on the train split, score it on the held-out split."""
    device = torch.device(device)
    classify = not y_train.is_floating_point()
    d_out = int(max(y_train.max(), y_test.max())) + 1 if classify else y_train.reshape(len(y_train), -1).shape[1]
    if not classify:
        y_train, y_test = y_train.reshape(len(y_train), -1), y_test.reshape(len(y_test), -1)
    if cfg.standardize:
        # one scalar scale, not per-dimension: near-dead dimensions must not be blown up into noise
        mean, std = x_train.mean(0, keepdim=True), x_train.std().clamp_min(1e-12)
        x_train, x_test = (x_train - mean) / std, (x_test - mean) / std
    with torch.random.fork_rng(devices=[]):  # seeded init without disturbing the caller's RNG
        torch.manual_seed(seed)
        head = build_head(head_kind, x_train.shape[1], d_out, cfg.hidden).to(device)
    fit_probe(head, x_train.to(device), y_train.to(device), epochs=epochs, batch_size=cfg.batch_size,
              lr=cfg.lr, seed=seed, desc=desc)
    return score(predict(head, x_test.to(device)), y_test.to(device))


def evaluate_probes(train: Features, test: Features, specs: Sequence[ProbeSpec], cfg: ProbeConfig,
                    device: torch.device | str, seed: int) -> list[dict]:
    """Run every applicable spec on extracted features; one record per (spec, M_val)."""
    records = []
    for spec in specs:
        for key, m_val in spec.inputs(train):
            y_train, y_test = spec.targets(train, m_val), spec.targets(test, m_val)
            value = train_and_score(train[key], y_train, test[key], y_test, spec.head,
                                    getattr(cfg, spec.epochs), cfg, device, seed,
                                    desc=f"{spec.metric}[{key}]")
            records.append({"metric": spec.metric, "representation": spec.features, "m_val": m_val,
                            "value": value, "head": spec.head, "n_train": len(y_train),
                            "n_test": len(y_test)})
            log.info("probe %s on %s: %.4f", spec.metric, key, value)
    return records


def run_probes(method: Method, train_batches: Iterable[SequenceBatch], test_batches: Iterable[SequenceBatch],
               cfg: ProbeConfig, action_kind: str, device: torch.device | str, seed: int,
               dataset: str = "3diebench") -> list[dict]:
    """The paper's frozen-probe protocol for ``dataset``: extract both splits, fit on train, score on test.

    Records look like {"metric": "top1", "representation": "z_agg", "m_val": 3, "value": 85.1, ...};
    ``m_val`` is None for encoder/pair probes.
    """
    specs = get_probe_specs(dataset, action_kind)
    m_vals = list(cfg.m_val) if method.aggregates_sequences else []
    train = extract_features(method, train_batches, m_vals, device)
    test = extract_features(method, test_batches, m_vals, device)
    return evaluate_probes(train, test, specs, cfg, device, seed)
