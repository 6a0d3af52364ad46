"""The probe stage of one run: load its checkpoint, draw frozen features, fit the paper's probes."""

from __future__ import annotations

import dataclasses
import os

from seqjepa_core.io import atomic_write_json
from seqjepa_core.probe_samplers import ProbeContext, build_sampler
from seqjepa_core.probes import get_probe_specs, run_probes
from seqjepa_core.train import load_method, resolve_device

PROBE_SEED_OFFSET = 10_000  # probe views are drawn independently of the pretraining draws


def evaluate_checkpoint(checkpoint: str | os.PathLike, train_index: str, test_index: str, root: str,
                        out_json: str | os.PathLike, device: str = "auto", batch_size: int = 256) -> dict:
    """Fit the probes of ``checkpoint`` on ``train_index``, score them on ``test_index``, write ``out_json``."""
    dev = resolve_device(device)
    method, run = load_method(checkpoint, dev)
    method.eval()  # a frozen encoder is a fixed function (the official eval keeps BatchNorm in train mode)
    for p in method.parameters():
        p.requires_grad_(False)
    ctx = ProbeContext(method, run, str(train_index), str(test_index), str(root), dev,
                       seed=run.seed + PROBE_SEED_OFFSET, batch_size=batch_size)
    metrics = run_probes(build_sampler(run.dataset, ctx), get_probe_specs(run.dataset, run.actions), run.probe,
                         dev, seed=run.seed)
    result = {"run": {"experiment": run.experiment, "method": run.method, "variant": run.variant,
                      "seed": run.seed, "m_tr": run.m_tr, "epochs": run.train.epochs},
              "config": dataclasses.asdict(run), "metrics": metrics}
    atomic_write_json(result, out_json)
    return result
