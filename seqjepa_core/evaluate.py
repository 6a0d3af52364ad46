"""The probe stage of one run: load its checkpoint, extract frozen features, fit the paper's probes."""

from __future__ import annotations

import dataclasses
import os

import torch

from seqjepa_core.data.loading import BatchStream, DataSpec, build_dataset, dataset_module
from seqjepa_core.io import atomic_write_json
from seqjepa_core.probes import run_probes
from seqjepa_core.train import load_method, resolve_device

PROBE_SEED_OFFSET = 10_000  # probe views are drawn independently of the pretraining draws


def evaluate_checkpoint(checkpoint: str | os.PathLike, train_index: str, test_index: str, root: str,
                        out_json: str | os.PathLike, device: str = "auto", batch_size: int = 256) -> dict:
    dev = resolve_device(device)
    method, run = load_method(checkpoint, dev)
    if hasattr(dataset_module(run.dataset), "build_stream"):  # sampled on the device: fresh draws per epoch
        from seqjepa_core.saccade_probes import probe_saccades
        metrics = probe_saccades(method, run, train_index, test_index, dev, PROBE_SEED_OFFSET)
        return _write(run, metrics, out_json)
    num_views = max(2, max(run.probe.m_val))  # z_AGG up to the longest M_val; pairs need 2 views

    def batches(index: str):
        """``samples_per_object`` independent draws of views per object, one after the other."""
        spec = DataSpec(run.dataset, index, root, run.img_size, run.actions)
        for draw in range(run.probe.samples_per_object):
            seed = run.seed + PROBE_SEED_OFFSET + draw
            ds = build_dataset(spec, num_views, seed=seed)
            yield from BatchStream(ds, spec, batch_size, seed, dev, num_workers=run.train.num_workers,
                                   shuffle=False, drop_last=False).epoch(0)

    metrics = run_probes(method, batches(train_index), batches(test_index), run.probe, run.actions, dev,
                         seed=run.seed, dataset=run.dataset)
    return _write(run, metrics, out_json)


def _write(run, metrics: list[dict], out_json: str | os.PathLike) -> dict:
    result = {"run": {"experiment": run.experiment, "method": run.method, "variant": run.variant,
                      "seed": run.seed, "m_tr": run.m_tr, "epochs": run.train.epochs},
              "config": dataclasses.asdict(run), "metrics": metrics}
    atomic_write_json(result, out_json)
    return result
