"""CIFAR-100's and Tiny ImageNet's probe sampler: fresh augmentations of every image every probe epoch.

``draw_features`` augments every image anew (batched, on the device), encodes each view once with the
frozen method and returns the probes' inputs and targets (``Features``):

* ``encoder``: z_res, the encoder output of the UN-augmented image (official ``orig_img``; Table 12);
* ``pair``: encoder(view 0) ⊕ encoder(view 1), the input of the crop/jitter/blur regressors (§5.5);
* ``z_agg@m``: the aggregate of views 0..m-1 with the m-1 actions between them (sequence methods);
* ``label`` and the relative-parameter targets ``crop`` [N, 4], ``jitter`` [N, 4], ``blur`` [N, 1].

A probe draw holds V = max(max M_val + 1, training views) views of each image, the last from the target
distribution. Every quantity is read off a sequence laid out as the official loader lays one out: observed
views, then that target-distribution view (``sequence_window``). z_AGG@M aggregates observed views 0..M-1;
the R² pair is views 0, 1 of a sequence of the run's training length (official evaluation: z1, z2 of its
training batches), so for a run of 2 training views (M_tr = 1, two-view baselines) view 1 is the target
view. Official normalisation (``action_norm: sequence_l2``): parameters are L2-normalised over their
sequence's views, the target view included, before differencing; so the blur target of the pair sees the
target view's sigma (0 unless it was blurred, p 0.1), as the official targets do.

Training epoch e draws from (probe seed, e); the test split is ``probe.test_draws`` fixed draws of every
image (draw d seeded as epoch -1-d, apart from every training epoch), encoded once and kept.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import torch

from seqjepa_core.data import augment
from seqjepa_core.data.image_arrays import ImageSequences, batch_generator
from seqjepa_core.data.loading import dataset_module
from seqjepa_core.methods.base import Method
from seqjepa_core.probe_samplers import Features, ProbeContext, autocast_for, register_sampler, zagg_key

TARGET_GROUPS = ("crop", "jitter", "blur")


def sequence_window(num_views: int, length: int) -> list[int]:
    """Indices, in a draw of ``num_views`` views, of a sequence of ``length`` views as the official loader
    lays one out: ``length - 1`` observed views, then the draw's last (target-distribution) view."""
    if not 2 <= length <= num_views:
        raise ValueError(f"a sequence of {length} views does not fit a draw of {num_views}")
    return [*range(length - 1), num_views - 1]


def relative_targets(params: torch.Tensor, normalise: bool) -> dict[str, torch.Tensor]:
    """Parameters of views 0 -> 1 of a sequence ``params`` [N, V, 9], normalised over its V views:
    {group: [N, dims]}."""
    p = torch.nn.functional.normalize(params, p=2, dim=1) if normalise else params
    rel = p[:, 1] - p[:, 0]
    return {g: rel[:, augment.GROUPS[g]] for g in TARGET_GROUPS}


@torch.no_grad()
def draw_features(method: Method, images: torch.Tensor, labels: torch.Tensor, *, m_vals: Sequence[int],
                  action_kind: str, normalise: bool, train_views: int, mean: Sequence[float], std: Sequence[float],
                  seed: int, device: torch.device | str, epoch: int = 0, batch_size: int = 256) -> Features:
    """One draw's probe features of ``images`` (uint8 [N, 3, H, W]); see the module doc."""
    device = torch.device(device)
    was_training = method.training
    method.to(device).eval()
    m_vals = sorted(set(m_vals)) if method.aggregates_sequences else []
    num_views = max(max(m_vals, default=1) + 1, train_views, 2)
    pair = sequence_window(num_views, max(train_views, 2))        # the R² targets' sequence
    windows = {m: sequence_window(num_views, m + 1) for m in m_vals}  # z_AGG@m's: views 0..m-1, target view
    encoded = sorted({*range(max(m_vals, default=0)), *pair[:2]})    # views that need the encoder
    pair_slots = [encoded.index(v) for v in pair[:2]]
    mean_t = torch.tensor(mean, device=device).view(1, 1, 3, 1, 1)
    std_t = torch.tensor(std, device=device).view(1, 1, 3, 1, 1)
    out: dict[str, list[torch.Tensor]] = defaultdict(list)
    for start in range(0, len(labels), batch_size):
        batch = images[start:start + batch_size].to(device, non_blocking=True)
        gen = batch_generator(seed, epoch, start, device)
        views, params = augment.augment_views(batch, num_views, gen)
        views = (views[:, encoded] - mean_t) / std_t
        orig = ((augment.to_unit(batch)[:, None] - mean_t) / std_t)
        with autocast_for(device):
            z = method.encode_views(torch.cat([orig, views], dim=1)).float()
            zv = z[:, 1:]
            for m in m_vals:
                acts = augment.sequence_actions(params[:, windows[m]], action_kind, normalise)[:, : m - 1]
                out[zagg_key(m)].append(method.aggregate_encoded(zv[:, :m], acts).float().cpu())
        out["encoder"].append(z[:, 0].cpu())
        out["pair"].append(zv[:, pair_slots].flatten(1).cpu())
        for g, t in relative_targets(params[:, pair], normalise).items():
            out[g].append(t.float().cpu())
        out["label"].append(labels[start:start + batch_size].cpu())
    method.train(was_training)
    if not out:
        raise ValueError("no images to extract probe features from")
    return {k: torch.cat(v) for k, v in out.items()}


class AugmentedSampler:
    """The registered sampler of the augmentation datasets (see the module doc)."""

    def __init__(self, ctx: ProbeContext):
        self.ctx = ctx
        self.train, self.test_split = ImageSequences(ctx.train_index), ImageSequences(ctx.test_index)
        mean, std = dataset_module(ctx.run.dataset).NORMALIZATION[ctx.run.normalization]
        self.options = dict(m_vals=ctx.m_vals, action_kind=ctx.run.actions, normalise=ctx.run.action_norm == "sequence_l2",
                            train_views=ctx.method.num_views, mean=mean, std=std, seed=ctx.seed, device=ctx.device,
                            batch_size=ctx.batch_size)
        self._test: Features | None = None

    def draw(self, epoch: int) -> Features:
        return draw_features(self.ctx.method, self.train.images, self.train.labels, epoch=epoch, **self.options)

    def test(self) -> Features:
        if self._test is None:
            draws = [draw_features(self.ctx.method, self.test_split.images, self.test_split.labels, epoch=-1 - d,
                                   **self.options) for d in range(self.ctx.run.probe.test_draws)]
            self._test = {k: torch.cat([d[k] for d in draws]) for k in draws[0]}
        return self._test


@register_sampler("cifar100")
@register_sampler("tinyimagenet")
def build(ctx: ProbeContext) -> AugmentedSampler:
    return AugmentedSampler(ctx)
