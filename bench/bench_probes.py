"""The probe stage of one run: feature bank vs per-draw re-encoding, same protocol, same draws.

Both fit the same heads on the same fresh draw per probe epoch and score the same fixed test draws; the bank
encodes every view of every object once (``probe_samplers.threedie.BankSampler``), the baseline re-decodes and
re-encodes each epoch's drawn views (``reencoding_sampler``, the old per-draw path). The run is a seq-JEPA
(M_tr = 3) at the demo's scale (64 px, width-16 ResNet-18, the demo's probe settings), on the demo's
generated 3DIEBench: pass the demo's data, or a miniature is generated (5 classes x 40 objects, 64 px).
CPU time (user + sys of this process) is reported besides wall time: robust to a shared machine.

Usage: python bench/bench_probes.py [--data results/demo] [--epochs N] [--threads 1]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import tempfile
import time
from pathlib import Path

import torch
import yaml

from seqjepa_core.config import load_config, merge_configs
from seqjepa_core.data.synthetic_3diebench import generate
from seqjepa_core.data.threedie import build_index, write_index
from seqjepa_core.evaluate import PROBE_SEED_OFFSET
from seqjepa_core.methods import MethodContext, build_method
from seqjepa_core.probe_samplers import ProbeContext
from seqjepa_core.probe_samplers.threedie import BankSampler, reencoding_sampler
from seqjepa_core.probes import get_probe_specs, run_probes

REPO = Path(__file__).resolve().parents[1]


def demo_run(epochs: int | None):
    """The demo's resolved seq-JEPA (3) run config (config.yaml + config/demo.yaml)."""
    raw = merge_configs(*(yaml.safe_load((REPO / f).read_text()) for f in ("config.yaml", "config/demo.yaml")))
    run = load_config(raw).run_config("3diebench", "seqjepa", "mtr3", 0)
    probe = run.probe if epochs is None else dataclasses.replace(run.probe, epochs=epochs,
                                                                  linear_epochs=min(epochs, run.probe.linear_epochs))
    return dataclasses.replace(run, probe=probe, train=dataclasses.replace(run.train, num_workers=0))


def data_paths(data: str | None, tmp: Path) -> tuple[str, str, str]:
    if data:
        d = Path(data)
        return str(d / "index/3diebench/train.npz"), str(d / "index/3diebench/val.npz"), str(d / "data/3DIEBench")
    root, splits = tmp / "root", tmp / "splits"
    generate(root, splits, num_classes=5, objects_per_class_train=40, objects_per_class_val=12, image_size=64,
             workers=os.cpu_count())
    for split in ("train", "val"):
        write_index(build_index(root, splits, split), tmp / f"{split}.npz")
    return str(tmp / "train.npz"), str(tmp / "val.npz"), str(root)


def timed(fn) -> tuple[object, float, float]:
    cpu, wall = time.process_time(), time.perf_counter()
    out = fn()
    return out, time.process_time() - cpu, time.perf_counter() - wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", help="a finished demo's results dir (results/demo); default: generate one")
    ap.add_argument("--epochs", type=int, help="probe epochs (default: the demo's)")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    run = demo_run(args.epochs)
    with tempfile.TemporaryDirectory() as tmp:
        train, test, root = data_paths(args.data, Path(tmp))
        torch.manual_seed(0)
        method = build_method("seqjepa", MethodContext(action_dim=4, encoder_width=run.encoder_width, m_tr=run.m_tr))
        method.eval().requires_grad_(False)
        ctx = ProbeContext(method, run, train, test, root, torch.device("cpu"), seed=run.seed + PROBE_SEED_OFFSET)
        specs = get_probe_specs("3diebench", run.actions)
        results = {}
        for name, make in (("per-draw re-encoding", reencoding_sampler), ("feature bank", BankSampler)):
            records, cpu, wall = timed(lambda: run_probes(make(ctx), specs, run.probe, "cpu", seed=0))
            results[name] = ([r["value"] for r in records], cpu, wall)
            print(f"{name:>22}: {cpu:7.1f} s CPU, {wall:7.1f} s wall  ({run.probe.epochs} probe epochs, "
                  f"{len(records)} heads)")
    (base_values, base_cpu, base_wall), (bank_values, bank_cpu, bank_wall) = results.values()
    same = max(abs(a - b) for a, b in zip(base_values, bank_values))
    print(f"speed-up (CPU time): {base_cpu / bank_cpu:.2f}x   (wall: {base_wall / bank_wall:.2f}x); "
          f"largest difference between the two runs' scores: {same:.2e}")


if __name__ == "__main__":
    main()
