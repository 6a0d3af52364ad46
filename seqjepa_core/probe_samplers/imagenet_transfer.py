"""ImageNet-1k's probe sampler (Fig. 15): fresh saccades over every image in every probe epoch, frozen model.

The model is an STL-10 one (32 x 32 patches of 96 x 96 images); here it sees patches of 32 or 84 pixels of
224 x 224 ImageNet images. Images and maps are decoded by DataLoader workers; fixations (the training
sampler's, inhibition of return included) and patches are made batched on the device. As in the official
transfer loader, the full image is normalised (ImageNet statistics) before patches are cut, so a patch's
part outside the image is the mean colour (0 after normalisation), and patches are not truncated to whole
grey levels. ``Features``: ``z_agg@M`` and ``label`` only (the transfer probes z_AGG). ``draw`` and ``test``
are the STL-10 sampler's; only the splits and how a draw reads them differ.
"""

from __future__ import annotations

import torch
from tqdm import tqdm

from seqjepa_core.data.fixations import FixationSampler
from seqjepa_core.data.imagenet_saliency import MEAN, STD, SaliencyImageFolder, loader
from seqjepa_core.data.saccade_options import parse_saccade_options
from seqjepa_core.data.stl10 import batch_generator
from seqjepa_core.probe_samplers import (Features, ProbeContext, autocast_for, encoded_features, register_sampler,
                                         zagg_key)
from seqjepa_core.probe_samplers.stl10 import SaccadeSampler


class TransferSampler(SaccadeSampler):
    def __init__(self, ctx: ProbeContext):
        self.ctx = ctx
        self.train, self.test_split = SaliencyImageFolder(ctx.train_index), SaliencyImageFolder(ctx.test_index)
        if self.train.image_size != self.test_split.image_size:
            raise ValueError(f"{ctx.train_index} and {ctx.test_index}: image sizes {self.train.image_size} and "
                             f"{self.test_split.image_size} differ")
        self.sampler = FixationSampler(parse_saccade_options(ctx.run.data, "data"), self.train.image_size, MEAN, STD,
                                       cut_normalised=True)
        self.num_views = max(ctx.m_vals)
        self._test: Features | None = None

    @torch.no_grad()
    def _draw(self, data: SaliencyImageFolder, epoch: int) -> Features:
        """One fixation sequence per image of ``data``: a pure function of (checkpoint, seed, epoch)."""
        c = self.ctx
        parts: dict[str, list[torch.Tensor]] = {}
        batches = loader(data, c.batch_size, c.run.train.num_workers, c.device)
        # an epoch over ImageNet train takes hours: show its batches
        for step, (images, saliency, labels) in enumerate(tqdm(batches, desc=f"draw {epoch}", unit="batch",
                                                               leave=False)):
            batch = self.sampler.batch(images.to(c.device, non_blocking=True),
                                       saliency.to(c.device, non_blocking=True), labels.to(c.device),
                                       self.num_views, batch_generator(c.device, c.seed, epoch, step))
            with autocast_for(c.device):
                z = c.method.encode_views(batch.views)
            feats = encoded_features(c.method, z, batch.actions, c.m_vals)
            for k in [zagg_key(m) for m in c.m_vals]:
                parts.setdefault(k, []).append(feats[k])
            parts.setdefault("label", []).append(batch.labels)
        return {k: torch.cat(v) for k, v in parts.items()}


@register_sampler("imagenet")
def build(ctx: ProbeContext) -> TransferSampler:
    if not ctx.m_vals:
        raise ValueError(f"{ctx.run.method}: the ImageNet transfer probes z_AGG; the method has no aggregator")
    return TransferSampler(ctx)
