"""The probe stage of one run: load its checkpoint, draw frozen features, fit the paper's probes."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence

import torch

from seqjepa_core.config import RunConfig
from seqjepa_core.io import atomic_write_json
from seqjepa_core.methods.base import Method
from seqjepa_core.probe_samplers import ProbeContext, build_sampler
from seqjepa_core.probes import get_probe_specs, run_probes
from seqjepa_core.train import load_method, resolve_device

PROBE_SEED_OFFSET = 10_000  # probe views are drawn independently of the pretraining draws


def load_frozen(checkpoint: str | os.PathLike, device: str = "auto") -> tuple[Method, RunConfig, torch.device]:
    """A run's method, frozen: eval mode, no gradients; its run config; the resolved device."""
    dev = resolve_device(device)
    method, run = load_method(checkpoint, dev)
    method.eval()  # a frozen encoder is a fixed function (the official eval keeps BatchNorm in train mode)
    for p in method.parameters():
        p.requires_grad_(False)
    return method, run, dev


def run_record(run: RunConfig) -> dict:
    return {"experiment": run.experiment, "method": run.method, "variant": run.variant, "seed": run.seed,
            "m_tr": run.m_tr, "epochs": run.train.epochs}


def probe_frozen(method: Method, run: RunConfig, device: torch.device, train_index: str | os.PathLike,
                 test_index: str | os.PathLike, root: str | os.PathLike, batch_size: int = 256,
                 heads_out: str | os.PathLike | None = None) -> list[dict]:
    """The run's probes on a frozen ``method``: draws and heads both seeded by ``run.seed`` (so a run with
    another seed is another probe of the same model, as the demo-trial tools use it)."""
    ctx = ProbeContext(method, run, str(train_index), str(test_index), str(root), device,
                       seed=run.seed + PROBE_SEED_OFFSET, batch_size=batch_size)
    return run_probes(build_sampler(run.dataset, ctx), get_probe_specs(run.dataset, run.actions), run.probe,
                      device, seed=run.seed, heads_out=heads_out)


def evaluate_checkpoint(checkpoint: str | os.PathLike, train_index: str, test_index: str, root: str,
                        out_json: str | os.PathLike, device: str = "auto", batch_size: int = 256,
                        m_val: Sequence[int] | None = None, heads_out: str | os.PathLike | None = None) -> dict:
    """Fit the probes of ``checkpoint`` on ``train_index``, score them on ``test_index``, write ``out_json``.

    ``m_val`` replaces the run's z_AGG lengths (the sequence-length sweep probes M_val 1..8); ``heads_out``
    keeps the fitted heads (scored on 3DIEBench-OOD by ``analyses.evaluate_ood``).
    """
    method, run, dev = load_frozen(checkpoint, device)
    if m_val is not None:
        run = dataclasses.replace(run, probe=dataclasses.replace(run.probe, m_val=tuple(m_val)))
    metrics = probe_frozen(method, run, dev, train_index, test_index, root, batch_size=batch_size,
                           heads_out=heads_out)
    result = {"run": run_record(run), "config": dataclasses.asdict(run), "metrics": metrics}
    atomic_write_json(result, out_json)
    return result
