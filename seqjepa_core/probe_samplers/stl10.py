"""STL-10's probe sampler: fresh fixation sequences for every image in every probe epoch.

A draw samples fixations and patches for every image of the split on the device (the training sampler,
``seqjepa_core.data.fixations``, with the run's options), passes them through the frozen model and returns
the ``Features``: ``encoder`` (z_res: the first patch; for a run trained on full images, SimCLR, the
un-augmented full image, encoded once since no draw changes it), ``pair`` (first two patches),
``z_agg@M`` and the path-integration features ``path*@M`` (``seqjepa_core.path_integration``), plus
``label``, ``latents`` (normalised fixation positions) and ``actions``. The test split is scored on
``probe.test_draws`` seeded draws per image.
"""

from __future__ import annotations

import numpy as np
import torch

from seqjepa_core.data.fixations import FixationSampler
from seqjepa_core.data.saccade_options import SaccadeOptions, parse_saccade_options
from seqjepa_core.data.stl10 import MEAN, STD, SaccadeImages, batch_generator
from seqjepa_core.methods.base import Method
from seqjepa_core.path_integration import path_features
from seqjepa_core.probe_samplers import Features, ProbeContext, autocast_for, encoded_features, register_sampler

TEST_STREAM = 1_000_000  # test draws use epochs keys far from every training epoch's


@torch.no_grad()
def draw_features(method: Method, data: SaccadeImages, sampler: FixationSampler, num_views: int,
                  m_vals, path_m_vals, seed: int, epoch: int, device: torch.device, batch_size: int = 256,
                  encoder: torch.Tensor | None = None) -> Features:
    """One draw of fixation sequences for every image of ``data``: a pure function of (seed, epoch)."""
    parts: dict[str, list[torch.Tensor]] = {}
    for step, start in enumerate(range(0, len(data), batch_size)):
        images, saliency, labels = data.batch(np.arange(start, min(start + batch_size, len(data))), device)
        batch = sampler.batch(images, saliency, labels, num_views, batch_generator(device, seed, epoch, step))
        with autocast_for(device):
            z = method.encode_views(batch.views)
        feats = encoded_features(method, z, batch.actions, m_vals)
        with autocast_for(device):
            feats.update({k: v.float() for k, v in path_features(method, z.float(), batch.actions, path_m_vals).items()})
        feats.update(label=batch.labels, latents=batch.latents.float(), actions=batch.actions.float())
        for k, v in feats.items():
            parts.setdefault(k, []).append(v)
    out = {k: torch.cat(v) for k, v in parts.items()}
    if encoder is not None:
        out["encoder"] = encoder
    return out


@torch.no_grad()
def full_image_features(method: Method, data: SaccadeImages, sampler: FixationSampler, device: torch.device,
                        batch_size: int = 256) -> torch.Tensor:
    """Encoder outputs of the normalised, un-augmented full images [N, D]."""
    out = []
    for start in range(0, len(data), batch_size):
        images, _, _ = data.batch(np.arange(start, min(start + batch_size, len(data))), device)
        with autocast_for(device):
            out.append(method.encoder(sampler.normalise(images.float())).float())
    return torch.cat(out)


class SaccadeSampler:
    def __init__(self, ctx: ProbeContext):
        opts = parse_saccade_options(ctx.run.data, "data")
        full = opts.views == "augmentations"
        # a run trained on full images is probed for position on patches drawn with the paper's defaults
        patch_opts = SaccadeOptions(ior_radius=opts.ior_radius, patch_size=opts.patch_size) if full else opts
        self.ctx = ctx
        self.train, self.test_split = SaccadeImages(ctx.train_index), SaccadeImages(ctx.test_index)
        self.sampler = FixationSampler(patch_opts, self.train.image_size, MEAN, STD)
        self.path_m = list(ctx.run.probe.path_m_val) if ctx.method.aggregates_sequences else []
        self.num_views = max([ctx.num_views, *(m + 1 for m in self.path_m)])
        self.full = ({d: full_image_features(ctx.method, d, self.sampler, ctx.device, ctx.batch_size)
                      for d in (self.train, self.test_split)} if full else {})
        self._test: Features | None = None

    def _draw(self, data: SaccadeImages, epoch: int) -> Features:
        c = self.ctx
        return draw_features(c.method, data, self.sampler, self.num_views, c.m_vals, self.path_m, c.seed, epoch,
                             c.device, c.batch_size, self.full.get(data))

    def draw(self, epoch: int) -> Features:
        return self._draw(self.train, epoch)

    def test(self) -> Features:
        if self._test is None:
            draws = [self._draw(self.test_split, TEST_STREAM + k) for k in range(self.ctx.run.probe.test_draws)]
            self._test = {k: torch.cat([d[k] for d in draws]) for k in draws[0]}
        return self._test


@register_sampler("stl10")
def build(ctx: ProbeContext) -> SaccadeSampler:
    return SaccadeSampler(ctx)
