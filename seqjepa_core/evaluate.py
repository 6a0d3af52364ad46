"""The probe stage of one run: load its checkpoint, extract frozen features, fit the paper's probes."""

from __future__ import annotations

import dataclasses
import os

import torch

from seqjepa_core.augment_probe import draw_features
from seqjepa_core.data.image_arrays import ImageSequences
from seqjepa_core.data.loading import BatchStream, DataSpec, build_dataset, dataset_module
from seqjepa_core.io import atomic_write_json
from seqjepa_core.methods.base import Method
from seqjepa_core.probes import Features, evaluate_probes, get_probe_specs, run_probes
from seqjepa_core.train import load_method, resolve_device

PROBE_SEED_OFFSET = 10_000  # probe views are drawn independently of the pretraining draws


def augmented_features(method: Method, run, index: str, draws: int, dev: torch.device) -> Features:
    """``draws`` independent augmentation draws of every image of the split, concatenated."""
    ds = ImageSequences(index)
    mean, std = dataset_module(run.dataset).NORMALIZATION[run.normalization]
    feats = [draw_features(method, ds.images, ds.labels, m_vals=run.probe.m_val, action_kind=run.actions,
                           normalise=run.action_norm == "sequence_l2", train_views=method.num_views, mean=mean,
                           std=std, seed=run.seed + PROBE_SEED_OFFSET + d, device=dev) for d in range(draws)]
    return {k: torch.cat([f[k] for f in feats]) for k in feats[0]}


# Datasets whose probe views are drawn on the device from packed images (no BatchStream).
FEATURE_SAMPLERS = {"cifar100": augmented_features, "tinyimagenet": augmented_features}


def evaluate_checkpoint(checkpoint: str | os.PathLike, train_index: str, test_index: str, root: str,
                        out_json: str | os.PathLike, device: str = "auto", batch_size: int = 256) -> dict:
    dev = resolve_device(device)
    method, run = load_method(checkpoint, dev)
    num_views = max(2, max(run.probe.m_val))  # z_AGG up to the longest M_val; pairs need 2 views

    def batches(index: str):
        """``samples_per_object`` independent draws of views per object, one after the other."""
        spec = DataSpec.for_run(run, index, root)
        for draw in range(run.probe.samples_per_object):
            seed = run.seed + PROBE_SEED_OFFSET + draw
            ds = build_dataset(spec, num_views, seed=seed)
            yield from BatchStream(ds, spec, batch_size, seed, dev, num_workers=run.train.num_workers,
                                   shuffle=False, drop_last=False).epoch(0)

    if run.dataset in FEATURE_SAMPLERS:
        sample = FEATURE_SAMPLERS[run.dataset]
        train = sample(method, run, train_index, run.probe.samples_per_object, dev)
        test = sample(method, run, test_index, 1, dev)
        metrics = evaluate_probes(train, test, get_probe_specs(run.dataset, run.actions), run.probe, dev, run.seed)
    else:
        metrics = run_probes(method, batches(train_index), batches(test_index), run.probe, run.actions, dev,
                             seed=run.seed, dataset=run.dataset)
    result = {"run": {"experiment": run.experiment, "method": run.method, "variant": run.variant,
                      "seed": run.seed, "m_tr": run.m_tr, "epochs": run.train.epochs},
              "config": dataclasses.asdict(run), "metrics": metrics}
    atomic_write_json(result, out_json)
    return result
