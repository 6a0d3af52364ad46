"""ImageNet-1k's probe sampler (Fig. 15): fresh saccades over every image in every probe epoch, frozen model.

The model is an STL-10 one (32 x 32 patches of 96 x 96 images); here it sees patches of 32 or 84 pixels of
224 x 224 ImageNet images. Images and maps are decoded by DataLoader workers; fixations (the training
sampler's ``sample_fixations``, inhibition of return included) and patches are made batched on the device.
As in the official transfer loader, the full image is normalised (ImageNet statistics) before patches are
cut, so a patch's part outside the image is the mean colour (0 after normalisation), and patches are not
truncated to whole grey levels. ``Features``: ``z_agg@M`` and ``label`` only (the transfer probes z_AGG).
"""

from __future__ import annotations

import torch

from seqjepa_core.data.batch import SequenceBatch
from seqjepa_core.data.fixations import (CPU_BLOCK, FixationSampler, bilinear_patches, patch_grid,
                                         relative_positions, sample_fixations)
from seqjepa_core.data.imagenet_saliency import MEAN, STD, SaliencyImageFolder, loader
from seqjepa_core.data.saccade_options import parse_saccade_options
from seqjepa_core.data.stl10 import batch_generator
from seqjepa_core.probe_samplers import (Features, ProbeContext, autocast_for, encoded_features, register_sampler,
                                         zagg_key)

TEST_STREAM = 1_000_000  # test draws use epoch keys far from every training epoch's


def normalised_fixation_batch(sampler: FixationSampler, images: torch.Tensor, saliency: torch.Tensor,
                              labels: torch.Tensor, num_views: int, generator: torch.Generator) -> SequenceBatch:
    """uint8 images [B, 3, S, S] + maps [B, S, S] -> patches of the normalised images and saccade actions.

    The same random numbers and fixations as ``FixationSampler.batch``; only the order of normalising and
    cutting differs (the official transfer normalises first)."""
    o = sampler.options
    u = torch.rand(images.shape[0], num_views, generator=generator, device=images.device, dtype=torch.float64)
    h, w = saliency.shape[-2:]
    step = images.shape[0] if images.is_cuda else CPU_BLOCK
    views, centres = [], []
    for i in range(0, images.shape[0], step):
        c = sample_fixations(saliency[i:i + step] if o.fixations == "saliency" else None, u[i:i + step], h, w,
                             o.ior, o.ior_radius)
        rows, cols = patch_grid(c, o.patch_size, o.patch_convention)
        views.append(bilinear_patches(sampler.normalise(images[i:i + step].float()), rows, cols))
        centres.append(c)
    positions = torch.cat(centres).float() / sampler.image_size
    return SequenceBatch(torch.cat(views), relative_positions(positions), labels, positions)


class TransferSampler:
    def __init__(self, ctx: ProbeContext):
        self.ctx = ctx
        opts = parse_saccade_options(ctx.run.data, "data")
        self.train, self.test_split = SaliencyImageFolder(ctx.train_index), SaliencyImageFolder(ctx.test_index)
        if self.train.image_size != self.test_split.image_size:
            raise ValueError(f"{ctx.train_index} and {ctx.test_index}: image sizes {self.train.image_size} and "
                             f"{self.test_split.image_size} differ")
        self.sampler = FixationSampler(opts, self.train.image_size, MEAN, STD)
        self.num_views = max(ctx.m_vals)
        self._test: Features | None = None

    @torch.no_grad()
    def _draw(self, data: SaliencyImageFolder, epoch: int) -> Features:
        """One fixation sequence per image of ``data``: a pure function of (checkpoint, seed, epoch)."""
        c = self.ctx
        parts: dict[str, list[torch.Tensor]] = {}
        batches = loader(data, c.batch_size, c.run.train.num_workers, c.device)
        for step, (images, saliency, labels) in enumerate(batches):
            images, saliency = images.to(c.device, non_blocking=True), saliency.to(c.device, non_blocking=True)
            batch = normalised_fixation_batch(self.sampler, images, saliency, labels.to(c.device), self.num_views,
                                              batch_generator(c.device, c.seed, epoch, step))
            with autocast_for(c.device):
                z = c.method.encode_views(batch.views)
            feats = encoded_features(c.method, z, batch.actions, c.m_vals)
            for k in [zagg_key(m) for m in c.m_vals]:
                parts.setdefault(k, []).append(feats[k])
            parts.setdefault("label", []).append(batch.labels)
        return {k: torch.cat(v) for k, v in parts.items()}

    def draw(self, epoch: int) -> Features:
        return self._draw(self.train, epoch)

    def test(self) -> Features:
        if self._test is None:
            draws = [self._draw(self.test_split, TEST_STREAM + k) for k in range(self.ctx.run.probe.test_draws)]
            self._test = {k: torch.cat([d[k] for d in draws]) for k in draws[0]}
        return self._test


@register_sampler("imagenet")
def build(ctx: ProbeContext) -> TransferSampler:
    if not ctx.m_vals:
        raise ValueError(f"{ctx.run.method}: the ImageNet transfer probes z_AGG; the method has no aggregator")
    return TransferSampler(ctx)
