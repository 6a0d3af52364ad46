"""Why the 3DIEBench demo shows no rotation equivariance: the in-process diagnostics behind README's
"Why, measured" (not part of the DAG; minutes on a CPU).

    python tools/demo_equivariance.py generate data.npz [--rotation-scale 0.333 0.333 1] [--paint 0.7] [--per-object-lighting]
        [--camera-scale 0.6]
    python tools/demo_equivariance.py features data.npz           # raw 16x16 pixels vs a random width-16 ResNet-18
    python tools/demo_equivariance.py train data.npz [--no-action] [--steps 600] [--lr 4e-4] [--width 16] [--ema 0.996]
        [--batch-size 32] [--m-tr 3] [--save PREFIX]   # PREFIX_step{N}.pt at every --eval-every step
        [--seed 0] [--encoder-seed S] [--data-seed S]   # which seed draws the encoder / the sequences
    python tools/demo_equivariance.py mlp data.npz PREFIX_step600.pt ... [--random] [--epochs 60]

Data: the demo generator's objects (5 classes x 52 objects x 50 views, 64 px); objects 0-39 of each class
train the probe, 40-51 test it. Probe: a ridge (alpha 10) on standardised features; relative rotation from
20k fresh train pairs scored on 5k held-out pairs (R² over the 4 quaternion components, and per component);
individual rotation from single views. ``mlp`` scores saved models (or, with ``--random``, the randomly
initialised seq-JEPA of ``--seed``, the demo's ``mtr3-random``) with the demo's own probe code path
(``seqjepa_core.probes.run_probes`` with the 3DIEBench ``rel_rot_r2`` and ``indiv_rot_r2`` specs, the
probe config of ``config/demo.yaml``: MLP hidden 256, batch 32, 60 epochs of fresh draws, 5 seeded test draws
per object) on a feature bank of the tool's data; the draws come from ``probe_samplers.threedie``'s
``epoch_draw``/``test_draw`` logic (5 views a sample as with M_val [1, 3, 5], views 0 and 1 the pair).
``train`` runs seq-JEPA (M_tr 3, batch 32, AdamW with 20 warm-up steps
and a cosine decay) with the project's classes and reports, every ``--eval-every`` steps, the probe and the
held-out loss with the true a_M against a_M shuffled across the batch (how much the predictor uses the action).
``--paint``, ``--per-object-lighting`` and ``--camera-scale`` are the generator's ``Look`` options
(``seqjepa_core.data.synthetic_3diebench``; the demo's ``datasets.3diebench.synthetic`` keys of the same names).
"""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from pathlib import Path

import numpy as np
import torch
from sklearn.linear_model import Ridge
from sklearn.metrics import r2_score

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from seqjepa_core.data import synthetic_3diebench as synth  # noqa: E402
from seqjepa_core.data.batch import SequenceBatch  # noqa: E402
from seqjepa_core.data.threedie import MEAN, STD, relative_actions  # noqa: E402
from seqjepa_core.geometry import euler_xyz_to_quaternion, relative_rotation_quaternion  # noqa: E402
from seqjepa_core.methods.base import MethodContext  # noqa: E402
from seqjepa_core.methods.seqjepa import SeqJEPA, SeqJEPAParams  # noqa: E402
from seqjepa_core.models.encoder import build_encoder  # noqa: E402
from seqjepa_core.probe_samplers import draw_generator, encoded_features  # noqa: E402
from seqjepa_core.probe_samplers.threedie import TEST_STREAM, draw_views  # noqa: E402
from seqjepa_core.probes import ProbeConfig, get_probe_specs, run_probes  # noqa: E402

CLASSES, OBJECTS, VIEWS, TRAIN_OBJECTS = 5, 52, 50, 40


# ------------------------------------------------------------------ data

def _render(job: tuple[int, int], scale, look: synth.Look):
    builder, index = job
    _, images, latents = synth.render_object(builder, [7, builder, index], VIEWS, 64, scale, look)
    return np.stack([np.asarray(im) for im in images]), latents


def generate(args) -> None:
    jobs = [(b, i) for b in range(CLASSES) for i in range(OBJECTS)]
    look = synth.Look.from_args(args)
    with ProcessPoolExecutor(2) as pool:
        out = list(pool.map(partial(_render, scale=tuple(args.rotation_scale), look=look), jobs, chunksize=8))
    np.savez(args.data, X=np.stack([x for x, _ in out]), L=np.stack([lat for _, lat in out]),
             I=np.array([i for _, i in jobs]))


def load(path: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """uint8 views [N, V, 3, H, W], latents [N, V, 7], train and test object indices."""
    d = np.load(path)
    index = d["I"]
    return (torch.from_numpy(d["X"]).permute(0, 1, 4, 2, 3).contiguous(), torch.from_numpy(d["L"]).float(),
            torch.from_numpy(np.flatnonzero(index < TRAIN_OBJECTS)),
            torch.from_numpy(np.flatnonzero(index >= TRAIN_OBJECTS)))


# ------------------------------------------------------------------ probes

def _ridge_r2(x_train, y_train, x_test, y_test) -> tuple[float, list[float]]:
    mu, sd = x_train.mean(0), x_train.std(0) + 1e-6
    pred = Ridge(10.0).fit(((x_train - mu) / sd).numpy(), y_train.numpy()).predict(((x_test - mu) / sd).numpy())
    return r2_score(y_test, pred), [round(r2_score(y_test[:, k], pred[:, k]), 2) for k in range(y_test.shape[1])]


def rotation_r2(name: str, feats: torch.Tensor, latents: torch.Tensor, train: torch.Tensor, test: torch.Tensor):
    """Print relative-rotation (fresh pairs) and individual-rotation ridge R² of features [N, V, D]."""
    feats, g = feats.float(), torch.Generator().manual_seed(0)

    def pairs(objects, n):
        o = objects[torch.randint(len(objects), (n,), generator=g)]
        a, b = (torch.randint(feats.shape[1], (n,), generator=g) for _ in range(2))
        return torch.cat([feats[o, a], feats[o, b]], 1), relative_rotation_quaternion(latents[o, a, :3],
                                                                                     latents[o, b, :3])
    rel, per_component = _ridge_r2(*pairs(train, 20000), *pairs(test, 5000))
    single = [(feats[s].flatten(0, 1), euler_xyz_to_quaternion(latents[s, :, :3].flatten(0, 1))) for s in (train, test)]
    ind, _ = _ridge_r2(*single[0], *single[1])
    print(f"{name:28s} dim {feats.shape[-1]} rel {rel:.3f} {per_component} ind {ind:.3f}", flush=True)


def _normalised(views: torch.Tensor) -> torch.Tensor:
    shape = (1,) * (views.dim() - 3) + (3, 1, 1)
    return (views.float() / 255 - torch.tensor(MEAN).view(shape)) / torch.tensor(STD).view(shape)


@torch.no_grad()
def encode(encoder, views: torch.Tensor) -> torch.Tensor:
    flat = _normalised(views.flatten(0, 1))
    return torch.cat([encoder(flat[i:i + 500]) for i in range(0, len(flat), 500)]).view(*views.shape[:2], -1)


def features(args) -> None:
    views, latents, train, test = load(args.data)
    raw = torch.nn.functional.avg_pool2d(views.flatten(0, 1).float() / 255, 4).view(*views.shape[:2], -1)
    rotation_r2("raw 16x16 pixels", raw, latents, train, test)
    torch.manual_seed(0)
    rotation_r2(f"random width-{args.width} ResNet-18", encode(build_encoder(width=args.width).eval(), views),
                latents, train, test)


class BankSampler:
    """The demo probe's draws (``probe_samplers.threedie``) on an in-memory bank [N, V, D] of the tool's data."""

    def __init__(self, bank, latents, train, test, seed: int, test_draws: int, num_views: int = 5):
        self.bank, self.latents, self.train, self.test_objects = bank, latents, train, test
        self.seed, self.test_draws, self.num_views = seed, test_draws, num_views

    def _features(self, objects, views):
        lat = self.latents[objects[:, None], views]
        actions = relative_actions(lat, "rotation")
        feats = encoded_features(None, self.bank[objects[:, None], views], actions, [])
        feats.update(label=torch.zeros(len(objects), dtype=torch.long), latents=lat, actions=actions)
        return feats

    def draw(self, epoch: int):
        views = draw_views(len(self.train), VIEWS, self.num_views, draw_generator(self.seed, epoch))
        return self._features(self.train, views)

    def test(self):
        gen = draw_generator(self.seed, 0, TEST_STREAM)
        views = torch.cat([draw_views(len(self.test_objects), VIEWS, self.num_views, gen)
                           for _ in range(self.test_draws)])
        return self._features(self.test_objects.repeat(self.test_draws), views)


def mlp_probe(name: str, feats, latents, train, test, seed: int, epochs: int) -> dict:
    """Relative- and individual-rotation R² of ``feats`` through the project's probes (demo protocol)."""
    cfg = ProbeConfig(m_val=(1, 3, 5), epochs=epochs, batch_size=32, hidden=256, test_draws=5)
    specs = [s for s in get_probe_specs("3diebench", "rotation") if s.metric in ("rel_rot_r2", "indiv_rot_r2")]
    started = time.process_time()
    sampler = BankSampler(feats.float(), latents, train, test, seed + 10_000, cfg.test_draws)
    out = {r["metric"]: r["value"] for r in run_probes(sampler, specs, cfg, "cpu", seed=seed)}
    print(f"{name:40s} MLP probe ({epochs} ep, {time.process_time() - started:.0f} CPU-s): rel {out['rel_rot_r2']:.3f}"
          f" ind {out['indiv_rot_r2']:.3f}", flush=True)
    return out


def build_model(width: int, m_tr: int, conditioned: bool, ema: float = 0.996) -> SeqJEPA:
    return SeqJEPA(MethodContext(action_dim=4, encoder_width=width, m_tr=m_tr),
                   SeqJEPAParams(condition_transformer=conditioned, condition_predictor=conditioned, ema_base=ema))


def mlp(args) -> None:
    views, latents, train, test = load(args.data)
    models = []
    if args.random:
        torch.manual_seed(args.seed)
        models.append((f"random init seed {args.seed}", build_model(args.width, 3, True)))
    for path in args.checkpoints:
        saved = torch.load(path, map_location="cpu", weights_only=True)
        model = build_model(saved["width"], saved["m_tr"], saved["conditioned"])
        model.load_state_dict(saved["state"])
        models.append((Path(path).name, model))
    for name, model in models:
        mlp_probe(name, encode(model.eval().encoder, views), latents, train, test, args.seed, args.epochs)


# ------------------------------------------------------------------ training

def _sequences(views, latents, objects, batch: int, m_tr: int, g: torch.Generator) -> SequenceBatch:
    o = objects[torch.randint(len(objects), (batch,), generator=g)]
    v = torch.stack([torch.randperm(views.shape[1], generator=g)[:m_tr + 1] for _ in range(batch)])
    lat = latents[o[:, None], v]
    return SequenceBatch(views=_normalised(views[o[:, None], v]), actions=relative_actions(lat, "rotation"),
                         labels=torch.zeros(batch, dtype=torch.long), latents=lat)


@torch.no_grad()
def action_reliance(model, views, latents, objects, m_tr: int) -> tuple[float, float]:
    """Mean held-out loss with the true a_M and with a_M shuffled across the batch (8 batches of 64)."""
    g, losses = torch.Generator().manual_seed(1), np.zeros(2)
    for _ in range(8):
        b = _sequences(views, latents, objects, 64, m_tr, g)
        shuffled = torch.cat([b.actions[:, :-1], b.actions[torch.randperm(64, generator=g), -1:]], 1)
        for k, actions in enumerate((b.actions, shuffled)):
            losses[k] += model.training_loss(SequenceBatch(b.views, actions, b.labels, b.latents))[0].item() / 8
    return tuple(losses)


def train(args) -> None:
    torch.manual_seed(args.seed)
    views, latents, train_objects, test_objects = load(args.data)
    conditioned = not args.no_action
    model = build_model(args.width, args.m_tr, conditioned, args.ema)
    if args.encoder_seed is not None:  # the encoder (and its EMA copy) of another seed, the rest of --seed
        torch.manual_seed(args.encoder_seed)
        encoder = build_encoder(width=args.width).state_dict()  # built first in SeqJEPA, so the same weights
        model.encoder.load_state_dict(encoder)
        model.target_encoder.load_state_dict(encoder)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-3)
    data_seed = args.seed if args.data_seed is None else args.data_seed
    g, started = torch.Generator().manual_seed(data_seed), time.time()
    for step in range(args.steps + 1):
        if step % args.eval_every == 0:
            model.eval()
            if conditioned:
                print("held-out loss, true a_M %.4f, shuffled a_M %.4f" % action_reliance(
                    model, views, latents, train_objects, args.m_tr), flush=True)
            rotation_r2(f"{'action' if conditioned else 'no action'} step {step} ({time.time() - started:.0f} s)",
                        encode(model.encoder, views), latents, train_objects, test_objects)
            if args.save:
                torch.save({"state": model.state_dict(), "width": args.width, "m_tr": args.m_tr,
                            "conditioned": conditioned, "step": step}, f"{args.save}_step{step}.pt")
            model.train()
        if step == args.steps:
            break
        for group in opt.param_groups:
            group["lr"] = args.lr * min(1, (step + 1) / 20) * 0.5 * (1 + np.cos(np.pi * step / args.steps))
        loss, _ = model.training_loss(_sequences(views, latents, train_objects, args.batch_size, args.m_tr, g))
        opt.zero_grad()
        loss.backward()
        opt.step()
        model.after_optimizer_step(step / args.steps)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    gen = sub.add_parser("generate")
    gen.add_argument("--rotation-scale", type=float, nargs=3, default=[0.333, 0.333, 1.0])
    synth.Look.add_arguments(gen)
    feat = sub.add_parser("features")
    feat.add_argument("--width", type=int, default=16)
    tr = sub.add_parser("train")
    tr.add_argument("--no-action", action="store_true")
    tr.add_argument("--steps", type=int, default=600)
    tr.add_argument("--lr", type=float, default=4e-4)
    tr.add_argument("--width", type=int, default=16)
    tr.add_argument("--ema", type=float, default=0.996)
    tr.add_argument("--m-tr", type=int, default=3)
    tr.add_argument("--eval-every", type=int, default=200)
    tr.add_argument("--seed", type=int, default=0)
    tr.add_argument("--batch-size", type=int, default=32)
    tr.add_argument("--encoder-seed", type=int, help="initialise the encoder from this seed instead of --seed")
    tr.add_argument("--data-seed", type=int, help="draw the training sequences from this seed instead of --seed")
    tr.add_argument("--save", help="save the model as SAVE_step{N}.pt at every evaluation")
    mp = sub.add_parser("mlp")
    mp.add_argument("data", help=".npz of views and latents")
    mp.add_argument("checkpoints", nargs="*", help="models saved by train --save")
    mp.add_argument("--random", action="store_true", help="also the randomly initialised model of --seed")
    mp.add_argument("--epochs", type=int, default=60)
    mp.add_argument("--width", type=int, default=16)
    mp.add_argument("--seed", type=int, default=0, help="probe seed (the demo's: the training seed)")
    for p in (gen, feat, tr):
        p.add_argument("data", help=".npz of views and latents")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    {"generate": generate, "features": features, "train": train, "mlp": mlp}[args.command](args)


if __name__ == "__main__":
    main()
