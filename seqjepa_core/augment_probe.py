"""Probe features of the augmentation datasets (CIFAR-100, Tiny ImageNet): one fresh draw of views.

``draw_features`` augments every image anew (batched, on the device), encodes each view once with the
frozen method and returns the probes' inputs and targets (``probes.Features``):

* ``encoder``: z_res, the encoder output of the UN-augmented image (official ``orig_img``; Table 12);
* ``pair``: encoder(view 0) ⊕ encoder(view 1), the input of the crop/jitter/blur regressors (§5.5);
* ``z_agg@m``: the aggregate of views 0..m-1 with the m-1 actions between them (sequence methods);
* ``label`` and the relative-parameter targets ``crop`` [N, 4], ``jitter`` [N, 4], ``blur`` [N, 1].

A probe sequence is drawn like a training one: V = max(max M_val + 1, training views) views, the last from
the target distribution. Official normalisation (``action_norm: sequence_l2``): parameters are
L2-normalised over a training-length window before differencing: the M+1 views of a sequence of M
observed views for z_AGG@M's actions, the run's own training views for the R² targets of views 0 -> 1 (the
official evaluation draws sequences of the training length).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import torch

from seqjepa_core.data import augment
from seqjepa_core.data.image_arrays import batch_generator
from seqjepa_core.methods.base import Method

TARGET_GROUPS = ("crop", "jitter", "blur")


def relative_targets(params: torch.Tensor, window: int, normalise: bool) -> dict[str, torch.Tensor]:
    """Parameters of views 0 -> 1, normalised over the first ``window`` views: {group: [N, dims]}."""
    p = params[:, :window]
    if normalise:
        p = torch.nn.functional.normalize(p, p=2, dim=1)
    rel = p[:, 1] - p[:, 0]
    return {g: rel[:, augment.GROUPS[g]] for g in TARGET_GROUPS}


@torch.no_grad()
def draw_features(method: Method, images: torch.Tensor, labels: torch.Tensor, *, m_vals: Sequence[int],
                  action_kind: str, normalise: bool, train_views: int, mean: Sequence[float], std: Sequence[float],
                  seed: int, device: torch.device | str, batch_size: int = 256) -> dict[str, torch.Tensor]:
    """One epoch's probe features of ``images`` (uint8 [N, 3, H, W]); see the module doc."""
    device = torch.device(device)
    was_training = method.training
    method.to(device).eval()
    m_vals = sorted(set(m_vals)) if method.aggregates_sequences else []
    num_views = max(max(m_vals, default=1) + 1, train_views, 2)
    encode = max([2, *m_vals])
    mean_t = torch.tensor(mean, device=device).view(1, 1, 3, 1, 1)
    std_t = torch.tensor(std, device=device).view(1, 1, 3, 1, 1)
    out: dict[str, list[torch.Tensor]] = defaultdict(list)
    autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.type == "cuda")
    for start in range(0, len(labels), batch_size):
        batch = images[start:start + batch_size].to(device, non_blocking=True)
        gen = batch_generator(seed, 0, start, device)
        views, params = augment.augment_views(batch, num_views, gen)
        views = (views[:, :encode] - mean_t) / std_t
        orig = ((augment.to_unit(batch)[:, None] - mean_t) / std_t)
        with autocast:
            z = method.encode_views(torch.cat([orig, views], dim=1)).float()
            for m in m_vals:
                window = params[:, :m + 1]
                acts = augment.sequence_actions(window, action_kind, normalise)[:, : m - 1]
                out[f"z_agg@{m}"].append(method.aggregate_encoded(z[:, 1:m + 1], acts).float().cpu())
        out["encoder"].append(z[:, 0].cpu())
        out["pair"].append(z[:, 1:3].flatten(1).cpu())
        for g, t in relative_targets(params, min(train_views, num_views), normalise).items():
            out[g].append(t.float().cpu())
        out["label"].append(labels[start:start + batch_size].cpu())
    method.train(was_training)
    if not out:
        raise ValueError("no images to extract probe features from")
    return {k: torch.cat(v) for k, v in out.items()}
