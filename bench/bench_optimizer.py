"""The pretraining optimiser step: torch's default AdamW (a loop over the tensors on the CPU, ``foreach`` on
CUDA) against its fused kernel, which ``train.build_optimizer`` uses on CUDA only (on the CPU it keeps torch's
loop: docs/demo-trials.md, #9 fourth pass). Parameters of the demo's seq-JEPA runs (3DIEBench M_tr 3, width
8; CIFAR-100 M_tr 2, width 8: the transformer and predictor hold most of them) and of the CIFAR-100 run at
the paper's width 64. Same parameters and gradients; the median of ``--steps`` timed steps after warm-up, on
each device present (CPU, and CUDA when there is one).

Usage: python bench/bench_optimizer.py [--steps 200] [--threads 1]
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time
from pathlib import Path

import torch
import yaml

from seqjepa_core.config import load_config, merge_configs
from seqjepa_core.train import build_method_for_run, build_optimizer

REPO = Path(__file__).resolve().parents[1]
RUNS = (("3diebench", "mtr3", None), ("cifar100", "mtr2", None), ("cifar100", "mtr2", 64))


def run_config(experiment: str, variant: str, width: int | None):
    """The demo's resolved run (config.yaml + config/demo.yaml), optionally at another encoder width."""
    raw = merge_configs(*(yaml.safe_load((REPO / f).read_text()) for f in ("config.yaml", "config/demo.yaml")))
    run = load_config(raw).run_config(experiment, "seqjepa", variant, 0)
    return run if width is None else dataclasses.replace(run, encoder_width=width)


def median_step_ms(optimizer: torch.optim.Optimizer, steps: int, device: torch.device) -> float:
    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize()
    for _ in range(5):
        optimizer.step()
    times = []
    for _ in range(steps):
        sync()
        t = time.perf_counter()
        optimizer.step()
        sync()
        times.append(time.perf_counter() - t)
    return 1e3 * statistics.median(times)


def compare(run, device: torch.device, steps: int) -> tuple[int, float, float]:
    """(parameter count, default ms, fused ms) for one run's method on ``device``."""
    method = build_method_for_run(run).to(device)
    ours, _, lr = build_optimizer(method, run)
    assert bool(ours.defaults["fused"]) == (device.type == "cuda"), "build_optimizer's fusing policy changed"
    def groups():  # fresh dicts: an optimiser writes its defaults into the group dicts it is given
        return [{"params": list(g["params"]), "weight_decay": g["weight_decay"]} for g in ours.param_groups]
    default = type(ours)(groups(), lr=lr)   # torch's choice: a per-tensor loop on the CPU, foreach on CUDA
    fused = type(ours)(groups(), lr=lr, fused=True)
    assert fused.param_groups[0]["fused"] and not default.param_groups[0]["fused"]
    for p in method.parameters():
        p.grad = torch.randn_like(p)
    n = sum(p.numel() for p in method.parameters() if p.requires_grad)
    return n, median_step_ms(default, steps, device), median_step_ms(fused, steps, device)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    print(f"{'run':<34} {'device':<6} {'params':>9} {'default ms':>11} {'fused ms':>9} {'speed-up':>9}")
    for experiment, variant, width in RUNS:
        run = run_config(experiment, variant, width)
        name = f"{experiment}/{variant} width {run.encoder_width}"
        for device in devices:
            n, default_ms, fused_ms = compare(run, device, args.steps)
            print(f"{name:<34} {device.type:<6} {n:>9,} {default_ms:>11.2f} {fused_ms:>9.2f} "
                  f"{default_ms / fused_ms:>8.1f}x")


if __name__ == "__main__":
    main()
