"""Frozen probes of the STL-10 saccade setting with fresh fixations in every probe epoch (official PLS eval).

Each probe epoch draws new fixation sequences for every train image, passes the patches through the
frozen model (``draw_features``: fixations -> patches -> encoder -> z_AGG / path-integration features +
targets, one ``Features`` dict) and trains every probe head one epoch on them, all heads jointly. The
test split is drawn once, with a fixed seed, and scores every head at the end. Heads, their epochs and
targets come from ``PROBE_SPECS["stl10"]``.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from seqjepa_core.config import ProbeConfig
from seqjepa_core.data.fixations import FixationSampler
from seqjepa_core.data.stl10 import SaccadeImages, batch_generator
from seqjepa_core.methods.base import Method
from seqjepa_core.path_integration import path_features
from seqjepa_core.probes import Features, ProbeSpec, build_head, predict, score, zagg_key

log = logging.getLogger(__name__)
TEST_DRAW = -1  # the test split's one draw


@torch.no_grad()
def draw_features(method: Method, data: SaccadeImages, sampler: FixationSampler, num_views: int,
                  m_vals: Sequence[int], path_m_vals: Sequence[int], seed: int, epoch: int,
                  device: torch.device, batch_size: int = 512, encoder: torch.Tensor | None = None) -> Features:
    """One draw of fixation sequences for every image of ``data`` (a pure function of seed and epoch).

    ``encoder`` (z_res) is the first patch's encoding unless given (SimCLR, trained on full images: the
    un-augmented full images' encodings, which no draw changes; see ``full_image_features``);
    ``pair``: the first two patches' encodings.
    """
    was_training = method.training
    method.eval()
    out: dict[str, list[torch.Tensor]] = defaultdict(list)
    autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.type == "cuda")
    for step, start in enumerate(range(0, len(data), batch_size)):
        idx = np.arange(start, min(start + batch_size, len(data)))
        images, saliency, labels = data.batch(idx, device)
        batch = sampler.batch(images, saliency, labels, num_views, batch_generator(device, seed, epoch, step))
        with autocast:
            z = method.encode_views(batch.views)
            if encoder is None:
                out["encoder"].append(z[:, 0].float().cpu())
            out["pair"].append(z[:, :2].flatten(1).float().cpu())
            if method.aggregates_sequences:
                for m in m_vals:
                    out[zagg_key(m)].append(method.aggregate_encoded(z[:, :m], batch.actions[:, : m - 1]).float().cpu())
                for k, v in path_features(method, z, batch.actions, path_m_vals).items():
                    out[k].append(v.float().cpu())
        out["label"].append(batch.labels.cpu())
        out["latents"].append(batch.latents.float().cpu())
        out["actions"].append(batch.actions.float().cpu())
    method.train(was_training)
    feats = {k: torch.cat(v) for k, v in out.items()}
    if encoder is not None:
        feats["encoder"] = encoder
    return feats


@torch.no_grad()
def full_image_features(method: Method, data: SaccadeImages, sampler: FixationSampler, device: torch.device,
                        batch_size: int = 512) -> torch.Tensor:
    """Encoder outputs of the normalised, un-augmented full images [N, D] (computed once per split)."""
    was_training = method.training
    method.eval()
    out = []
    for start in range(0, len(data), batch_size):
        images, _, _ = data.batch(np.arange(start, min(start + batch_size, len(data))), device)
        out.append(method.encoder(sampler.normalise(images.float())).float().cpu())
    method.train(was_training)
    return torch.cat(out)


class _Head:
    """One probe: a seeded head, its optimiser, its epoch budget and the train split's standardisation."""

    def __init__(self, spec: ProbeSpec, key: str, m_val: int | None, feats: Features, cfg: ProbeConfig,
                 device: torch.device, seed: int):
        self.spec, self.key, self.m_val, self.epochs = spec, key, m_val, getattr(cfg, spec.epochs)
        x, y = feats[key], spec.targets(feats, m_val)
        self.classify = not y.is_floating_point()
        d_out = int(y.max()) + 1 if self.classify else y.reshape(len(y), -1).shape[1]
        self.mean = x.mean(0, keepdim=True) if cfg.standardize else torch.zeros(1, x.shape[1])
        self.scale = x.std().clamp_min(1e-12) if cfg.standardize else torch.tensor(1.0)
        with torch.random.fork_rng(devices=[]):  # seeded init without disturbing the caller's RNG
            torch.manual_seed(seed)
            self.head = build_head(spec.head, x.shape[1], d_out, cfg.hidden).to(device)
        self.opt = torch.optim.Adam(self.head.parameters(), lr=cfg.lr)
        self.gen = torch.Generator().manual_seed(seed)
        self.device = device

    def xy(self, feats: Features) -> tuple[torch.Tensor, torch.Tensor]:
        x = ((feats[self.key] - self.mean) / self.scale).to(self.device)
        y = self.spec.targets(feats, self.m_val)
        y = y if self.classify else y.reshape(len(y), -1)
        return x, y.to(self.device)

    def train_epoch(self, feats: Features, batch_size: int) -> None:
        x, y = self.xy(feats)
        loss_fn = F.cross_entropy if self.classify else F.mse_loss
        self.head.train()
        perm = torch.randperm(len(x), generator=self.gen).to(self.device)
        for i in range(0, len(x), batch_size):
            idx = perm[i:i + batch_size]
            loss = loss_fn(self.head(x[idx]), y[idx])
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            self.opt.step()

    def score(self, feats: Features) -> float:
        x, y = self.xy(feats)
        return score(predict(self.head, x), y)


def fit_epochwise(draw_train: Callable[[int], Features], test: Features, specs: Sequence[ProbeSpec],
                  cfg: ProbeConfig, device: torch.device, seed: int) -> list[dict]:
    """Train every applicable probe jointly, epoch by epoch, each epoch on a fresh ``draw_train(epoch)``."""
    feats = draw_train(0)
    heads = [_Head(s, k, m, feats, cfg, device, seed) for s in specs for k, m in s.inputs(feats)]
    if not heads:
        raise ValueError("no probe applies to these features")
    total = max(h.epochs for h in heads)
    for epoch in tqdm(range(total), desc="probe epochs", unit="epoch"):
        if epoch:
            feats = draw_train(epoch)
        for h in heads:
            if epoch < h.epochs:
                h.train_epoch(feats, cfg.batch_size)
    records = []
    for h in heads:
        value = h.score(test)
        records.append({"metric": h.spec.metric, "representation": h.spec.features, "m_val": h.m_val,
                        "value": value, "head": h.spec.head, "epochs": h.epochs, "n_train": len(feats["label"]),
                        "n_test": len(test["label"])})
        log.info("probe %s on %s: %.4f", h.spec.metric, h.key, value)
    return records


def probe_saccades(method: Method, run, train_index: str, test_index: str, device: torch.device, seed_offset: int,
                   batch_size: int = 512) -> list[dict]:
    """The STL-10 protocol of one run (``run``: its RunConfig): fresh train fixations per probe epoch, one
    seeded test draw. Patches follow the run's sampler options; a run trained on full images (SimCLR) is
    probed for top-1 on full images and for position on patches drawn with the paper's defaults."""
    from seqjepa_core.data.saccade_options import SaccadeOptions, parse_saccade_options
    from seqjepa_core.data.stl10 import MEAN, STD
    from seqjepa_core.probes import get_probe_specs

    opts = parse_saccade_options(run.data, "data")
    full = opts.views == "augmentations"
    patch_opts = SaccadeOptions(ior_radius=opts.ior_radius, patch_size=opts.patch_size) if full else opts
    train, test = SaccadeImages(train_index), SaccadeImages(test_index)
    sampler = FixationSampler(patch_opts, train.image_size, MEAN, STD)
    full_images = FixationSampler(opts, train.image_size, MEAN, STD) if full else None
    cfg = run.probe
    m_vals = list(cfg.m_val) if method.aggregates_sequences else []
    path_m = list(cfg.path_m_val) if method.aggregates_sequences else []
    num_views = max([2, *m_vals, *(m + 1 for m in path_m)])
    seed = run.seed + seed_offset

    full = {d: full_image_features(method, d, full_images, device, batch_size) if full_images else None
            for d in (train, test)}

    def draw(data: SaccadeImages, epoch: int) -> Features:
        return draw_features(method, data, sampler, num_views, m_vals, path_m, seed, epoch, device, batch_size,
                             full[data])

    specs = get_probe_specs(run.dataset, run.actions)
    return fit_epochwise(lambda e: draw(train, e), draw(test, TEST_DRAW), specs, cfg, device, seed=run.seed)
