"""The STL-10 demo's position-R² trials: the in-process runs behind README's "Second round of trials"
(not part of the DAG; ~25-55 CPU-s a model on a CPU).

    python tools/stl10_demo_trials.py trial OUT [--discs-per-colour 2] [--light 0.5] [--tint 0.1] [--epochs 12]
        [--lr 4e-3] [--weight-decay 1e-3] [--ema-base 0.95] [--ior-radius 16] [--batch-size 32] [--seed 0] [--variants mtr4 mtr4-noact mtr4-random]
    python tools/stl10_demo_trials.py ridge OUT [--variants mtr4 mtr4-noact]
    python tools/stl10_demo_trials.py probe OUT [--probe-seeds 0 1 2] [--variants mtr4 mtr4-noact]

``trial`` generates the demo's synthetic STL-10 into OUT (40 train / 20 test images per class, 1200 unlabeled,
generator seed 0 whatever ``--seed`` is), builds the indexes, trains each variant of seq-JEPA from
``config.yaml`` + ``config/demo.yaml`` with ``train.pretrain`` (``--seed`` is the training seed) and probes it
with ``evaluate.evaluate_checkpoint`` with the demo's probes at M_val {1, 4} and no path integration
(``--all-m-val`` keeps the demo's full grid). Options left out keep the demo's values; the ones given apply
to every trained variant (``mtr4-random`` trains nothing). It prints one line ``{"name", "settings", "res"}``
(per variant: top-1 of z_AGG at M_val 1 / 4 and of the encoder, position R² of the linear pair probe,
CPU seconds of training and probing) and appends it to ``--results`` (default OUT/results.jsonl).
``ridge`` scores a closed-form ridge (alpha 1) of the relative position from the same pair features, fitted
on 10 fresh probe draws of the train images (2,400 pairs) and scored on the test draw: it tells whether a
model holds the position information when the short linear probe fails to read it; it also prints the row's
and the column's R² apart. ``probe`` re-probes a finished trial's checkpoints as the demo's DAG does (its full
M_val grid and path integration) once per probe seed (0 is the DAG's own: the training seed's probe stream),
so a gap can be told from the short probe's noise.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import torch
import yaml
from sklearn.linear_model import Ridge
from sklearn.metrics import r2_score

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from seqjepa_core.config import load_config, merge_configs  # noqa: E402
from seqjepa_core.data import synthetic_stl10  # noqa: E402
from seqjepa_core.data.loading import DataSpec  # noqa: E402
from seqjepa_core.data.stl10 import build_index, write_index  # noqa: E402
from seqjepa_core.evaluate import evaluate_checkpoint, load_frozen, probe_frozen  # noqa: E402
from seqjepa_core.probe_samplers import ProbeContext, build_sampler  # noqa: E402
from seqjepa_core.train import pretrain  # noqa: E402

VARIANTS = ("mtr4", "mtr4-noact", "mtr4-random")
SPLITS = ("train", "test", "unlabeled")
RIDGE_DRAWS, RIDGE_SEED = 10, 10000


# ------------------------------------------------------------------ data and config

def generate_data(out: Path, args: argparse.Namespace) -> None:
    """The demo's generated STL-10 (real formats) and its three split indexes under ``out``."""
    light = {k: getattr(args, k) for k in ("light", "tint") if getattr(args, k) is not None}
    synthetic_stl10.generate(out / "stl", out / "sal", train_per_class=40, test_per_class=20, unlabeled=1200,
                             seed=0, discs_per_colour=args.discs_per_colour, **light)
    for split in SPLITS:
        write_index(build_index(out / "stl", out / "sal", split), out / f"{split}.npz")


def demo_config(args: argparse.Namespace):
    """config.yaml + config/demo.yaml, with the trial's settings on every trained seq-JEPA variant."""
    train = {k: v for k, v in (("epochs", args.epochs), ("lr", args.lr), ("batch_size", args.batch_size),
                               ("weight_decay", args.weight_decay)) if v is not None}
    params = {"ema_base": args.ema_base} if args.ema_base is not None else {}
    trained = [v for v in args.variants if not v.endswith("-random")]
    stl10 = {"runs": {"seqjepa": {v: {"train": train, "params": params} for v in trained}}}
    if args.ior_radius is not None:
        stl10["data"] = {"ior_radius": args.ior_radius}
    raw = merge_configs(yaml.safe_load((ROOT / "config.yaml").read_text()),
                        yaml.safe_load((ROOT / "config/demo.yaml").read_text()))
    return load_config(merge_configs(raw, {"experiments": {"stl10": stl10}}))


# ------------------------------------------------------------------ trial

def train_and_probe(cfg, variant: str, seed: int, out: Path, all_m_val: bool) -> dict:
    run = cfg.run_config("stl10", "seqjepa", variant, seed)
    if not all_m_val:
        run = dataclasses.replace(run, probe=dataclasses.replace(run.probe, m_val=(1, 4), path_m_val=()))
    t0 = time.process_time()
    pretrain(run, DataSpec.for_run(run, str(out / "unlabeled.npz"), str(out / "stl")), out / variant, "cpu")
    t1 = time.process_time()
    result = evaluate_checkpoint(out / variant / "checkpoint.pt", str(out / "train.npz"), str(out / "test.npz"),
                                 str(out / "stl"), out / variant / "probe.json", "cpu")
    t2 = time.process_time()
    scores = {f"{m['metric']}_{m['representation']}{m['m_val'] or ''}": round(m["value"], 3)
              for m in result["metrics"]}
    return {**scores, "cpu_train": round(t1 - t0, 1), "cpu_probe": round(t2 - t1, 1)}


def cmd_trial(args: argparse.Namespace) -> None:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.process_time()
    generate_data(out, args)
    print(f"data: {time.process_time() - t0:.1f} CPU-s", flush=True)
    cfg = demo_config(args)
    res = {v: train_and_probe(cfg, v, args.seed, out, args.all_m_val) for v in args.variants}
    settings = {k: getattr(args, k) for k in ("discs_per_colour", "light", "tint", "epochs", "lr", "batch_size",
                                              "weight_decay", "ema_base", "ior_radius", "seed", "all_m_val")}
    line = json.dumps({"name": args.name or out.name, "settings": settings, "res": res})
    print(line, flush=True)
    with open(args.results or out / "results.jsonl", "a") as f:
        f.write(line + "\n")


# ------------------------------------------------------------------ ridge

def pair_features(out: Path, variant: str) -> tuple:
    """(train pairs, train relative positions), (test pairs, test relative positions) from the probe sampler."""
    method, run, device = load_frozen(out / variant / "checkpoint.pt", "cpu")
    ctx = ProbeContext(method, run, str(out / "train.npz"), str(out / "test.npz"), str(out / "stl"), device,
                       seed=RIDGE_SEED)
    sampler = build_sampler("stl10", ctx)
    draws, test = [sampler.draw(epoch) for epoch in range(RIDGE_DRAWS)], sampler.test()
    train = (torch.cat([d["pair"] for d in draws]).numpy(), torch.cat([d["actions"] for d in draws])[:, 0].numpy())
    return train, (test["pair"].numpy(), test["actions"][:, 0].numpy())


def cmd_ridge(args: argparse.Namespace) -> None:
    out = Path(args.out)
    for variant in args.variants:
        (x, y), (x_test, y_test) = pair_features(out, variant)
        pred = Ridge(1.0).fit(x, y).predict(x_test)
        row, col = (r2_score(y_test[:, k], pred[:, k]) for k in (0, 1))
        print(f"{out.name} {variant} ridge position R2 {r2_score(y_test, pred):.3f} (row {row:.3f}, col {col:.3f})",
              flush=True)


# ------------------------------------------------------------------ probe

def cmd_probe(args: argparse.Namespace) -> None:
    """The demo's probes (full M_val grid, path integration) on a trial's checkpoints, per probe seed."""
    out = Path(args.out)
    cfg = demo_config(argparse.Namespace(epochs=None, lr=None, batch_size=None, weight_decay=None, ema_base=None,
                                         ior_radius=None, variants=[]))
    demo_probe = cfg.run_config("stl10", "seqjepa", "mtr4", 0).probe
    for variant in args.variants:
        res = []
        method, trained_run, device = load_frozen(out / variant / "checkpoint.pt", "cpu")   # frozen: load once
        for seed in args.probe_seeds:
            run = dataclasses.replace(trained_run, seed=seed, probe=demo_probe)
            metrics = probe_frozen(method, run, device, out / "train.npz", out / "test.npz", out / "stl")
            got = {(m["metric"], m["representation"], m["m_val"]): m["value"] for m in metrics}
            res.append(f"{got['position_r2', 'pair', None]:.3f}, {got['top1', 'z_agg', 4]:.1f}")
        print(f"{out.name} {variant} position R2, top-1 at M_val 4 per probe seed {args.probe_seeds}: "
              + " / ".join(res), flush=True)


def main(argv: list[str] | None = None) -> None:
    torch.set_num_threads(1)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    trial = sub.add_parser("trial", help="generate the data, train and probe the variants")
    trial.add_argument("out", help="folder for the data, checkpoints and probe results")
    trial.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    trial.add_argument("--discs-per-colour", type=int, default=1, help="the generator's discs of each colour")
    trial.add_argument("--light", type=float, help="the generator's dimming from top to bottom row (default 0.5)")
    trial.add_argument("--tint", type=float, help="the generator's red/blue shift from left to right (default 0.1)")
    trial.add_argument("--epochs", type=int, help="pretraining epochs (demo: 24)")
    trial.add_argument("--lr", type=float, help="pretraining lr (demo: 2e-3)")
    trial.add_argument("--batch-size", type=int, help="pretraining batch size (demo: 32)")
    trial.add_argument("--weight-decay", type=float, help="pretraining AdamW weight decay (seq-JEPA: 1e-3)")
    trial.add_argument("--ema-base", type=float, help="target encoder's EMA base (default 0.996)")
    trial.add_argument("--ior-radius", type=int, help="inhibition-of-return radius (demo: 8)")
    trial.add_argument("--seed", type=int, default=0, help="training seed (the data always use seed 0)")
    trial.add_argument("--all-m-val", action="store_true", help="probe the demo's whole M_val grid")
    trial.add_argument("--name", help="the trial's name in the results line (default: OUT's name)")
    trial.add_argument("--results", help="JSON-lines file to append to (default OUT/results.jsonl)")
    trial.set_defaults(func=cmd_trial)
    ridge = sub.add_parser("ridge", help="ridge position R² of a finished trial's pair features")
    ridge.add_argument("out", help="a folder written by `trial`")
    ridge.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    ridge.set_defaults(func=cmd_ridge)
    probe = sub.add_parser("probe", help="the demo's probes on a finished trial, once per probe seed")
    probe.add_argument("out", help="a folder written by `trial`")
    probe.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    probe.add_argument("--probe-seeds", nargs="+", type=int, default=[0, 1, 2])
    probe.set_defaults(func=cmd_probe)
    args = parser.parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    main()
