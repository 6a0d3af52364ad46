"""The Table 2 (augmentations) demo trials behind README's "What moved the numbers": generate CIFAR-100 /
Tiny ImageNet-sized archives with one of several generators, pretrain seq-JEPA with ``train.pretrain`` and
probe it with ``evaluate.evaluate_checkpoint`` (the rules' code paths), in process, on the CPU. Not part of
the DAG; minutes per trial.

    python tools/augment_demo_trials.py generate OUT_DIR [--dataset cifar100] [--generator demo]
    python tools/augment_demo_trials.py run [--dataset cifar100] [--generator demo] [--epochs 60] [--batch-size 16]
        [--lr 1e-3] [--probe-epochs 60] [--action-norm raw] [--cifar-stem 1] [--size 32] [--width 8]
        [--params JSON]
        [--train-seed 0] [--variants mtr2-random,mtr2-noact,mtr2] [--out DIR]
    python tools/augment_demo_trials.py ceiling [--dataset cifar100]
    python tools/augment_demo_trials.py components RUN_DIR/checkpoint.pt ARCHIVE_DIR
    python tools/augment_demo_trials.py reliance RUN_DIR/checkpoint.pt ARCHIVE_DIR
    python tools/augment_demo_trials.py probe RUN_DIR/checkpoint.pt ARCHIVE_DIR [--probe-seeds 0,1,2,3]
        [--test-draws N] [--root IMAGE_ROOT]

Settings start from ``config.yaml`` merged with ``config/demo.yaml`` (the demo's run of
``<dataset>/seqjepa/<variant>``); the options override them. ``--epochs`` leaves the random encoder
(``mtr2-random``, 0 epochs) alone. Data: 10 classes, 40 train and 20 test images per class, 32 px (CIFAR) or
64 px (Tiny ImageNet, JPEG quality-95 round trip as in the archive), drawn from
``np.random.default_rng(seed + 0 | 1)``; train split first, then test. Each variant prints one line:
``<archive> <variant> train <CPU s> probe <CPU s> {top1@M_val, top1_res, crop/jitter/blur R²}``.
``ceiling`` prints, per target component, the R² that the true parameters of views 0 and 1 allow (gradient-
boosted trees); ``components`` the per-component R² of a ridge on a trial checkpoint's view-pair features; ``reliance``
how much a conditioned checkpoint's predictor uses each action group (held-out loss with it shuffled); ``probe``
re-runs the DAG's probes on a trial checkpoint once per probe seed (heads and fresh draws both follow it), with
the run's or another number of test draws: how much of a gap is the probe's own noise.

Generators (``--generator``):
  demo              the demo's generator (``synthetic_images.render``): five layouts x two frequencies with
                    position ramps and fine texture
  demo-texture      demo + ±0.06 binary achromatic pixel texture
  demo-light        demo x the STL-10 demo's global light (brightness 1 -> 0.5 top to bottom; red +0.1 and
                    blue -0.1 left to right): where a crop sits shows in its brightness and tint
  demo-pink         demo + achromatic 1/f-spectrum texture (std 0.08, >= 3 cycles/image): the same at every zoom
  demo-light-grid   demo-light + an achromatic grating of 10 cycles per image along x and along y (±0.05 each):
                    its period in a view shows the crop's zoom (w along x, h along y)
  demo-pink-fine    as demo-pink with std 0.06 and only >= 8 cycles/image (the class patterns' scales left free)
  demo-vivid        demo with each pixel's chroma (distance from its grey) x2.5: hue and saturation show
  canonical-disc    a centred soft disc holding the class pattern on a fixed colour field, ±0.12 texture
  dimmed-disc       the class pattern (random colour) over the whole image, full contrast inside a centred
                    disc and 0.35 outside it, ±0.12 texture
  dimmed-disc-fine  as dimmed-disc with ±0.07 texture, 0.6 outside, amplitude 0.4 and colour ramps
  demo-edges        demo with its waves hardened into tanh(8 wave) bands (``render(edges=8)``): sharp edges a
                    blur visibly softens; demo-edges3 the same at 3
  demo-edges-noisy  demo-edges with pixel noise 0.08 (the demo's: 0.04)
  demo-edges-fine   demo-edges-noisy with 3 / 9 cycles per image (the demo's: 2 / 6)
  demo-disc         demo with the class pattern's contrast full inside a centred soft disc (radius 0.3) and
                    0.35 outside it: an object-like layout; demo-disc-edges the same from demo-edges
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
import yaml
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from seqjepa_core.config import load_config, merge_configs  # noqa: E402
from seqjepa_core.data.image_arrays import pack, write_packed  # noqa: E402
from seqjepa_core.data.loading import DataSpec  # noqa: E402
from seqjepa_core.data.synthetic_images import render as render_demo  # noqa: E402
from seqjepa_core.evaluate import evaluate_checkpoint  # noqa: E402
from seqjepa_core.train import pretrain  # noqa: E402

CLASSES, TRAIN_PER_CLASS, TEST_PER_CLASS = 10, 40, 20
SIZES = {"cifar100": 32, "tinyimagenet": 64}
DATASET_SEED_OFFSET = {"cifar100": 0, "tinyimagenet": 1}
DATA_HELP = "a trial's archive or a DAG index directory (train.npz, test.npz or val.npz)"


# ------------------------------------------------------------------ generators

def _grid(size: int):
    yy, xx = np.meshgrid(np.linspace(0, 1, size), np.linspace(0, 1, size), indexing="ij")
    return xx, yy


def _class_waves(labels, rng, x, y, f_lo, f_hi):
    """One of five wave layouts (label % 5) at a low or high frequency (label // 5 % 2), random phase."""
    n = len(labels)
    layout, band = labels % 5, (labels // 5) % 2
    cycles = np.where(band == 0, f_lo, f_hi) * rng.uniform(0.9, 1.1, n)
    phase = rng.uniform(0, 2 * np.pi, n)
    f, ph = (2 * np.pi * cycles)[:, None, None], phase[:, None, None]
    waves = np.stack([np.sin(f * y + ph), np.sin(f * x + ph), np.sin(f * x + ph) * np.sin(f * y + ph),
                      np.sin(f * (x + y) / 1.4 + ph) * np.sin(f * (x - y) / 1.4 + ph),
                      np.sin(f * np.hypot(x - 0.5, y - 0.5) * 1.5 + ph)])
    return waves[layout, np.arange(n)]


def _soft_disc(x, y, size, radius):
    return np.clip((radius - np.hypot(x - 0.5, y - 0.5)) * size / 1.5 + 0.5, 0, 1)


def _with_texture(img, amp, rng):
    """±amp binary achromatic pixel texture (what blur removes), then uint8."""
    img = img + amp * rng.choice([-1.0, 1.0], size=(img.shape[0], img.shape[1], img.shape[2], 1))
    return np.clip(np.round(img * 255), 0, 255).astype(np.uint8)


def render_demo_texture(labels, size, rng, amp=0.06):
    return _with_texture(render_demo(labels, size, rng).astype(np.float64) / 255, amp, rng)


def render_canonical_disc(labels, size, rng, noise=0.12, radius=0.32, contrast=0.4):
    xx, yy = _grid(size)
    x, y = xx[None], yy[None]
    pat = _class_waves(labels, rng, x, y, 3.0, 9.0)
    inside = _soft_disc(x, y, size, radius)[..., None]
    field = np.stack([0.15 + 0.7 * xx, 0.15 + 0.7 * yy, 0.85 - 0.35 * (xx + yy)], -1)[None]
    obj = (0.5 + contrast * np.sign(pat) * np.minimum(1, 3 * np.abs(pat)))[..., None].repeat(3, -1)
    return _with_texture(field * (1 - inside) + obj * inside, noise, rng)


def render_dimmed_disc(labels, size, rng, noise=0.12, radius=0.3, outside=0.35, amplitude=0.35, ramps=0.0):
    xx, yy = _grid(size)
    x, y = xx[None], yy[None]
    pat = _class_waves(labels, rng, x, y, 2.0, 6.0)
    inside = _soft_disc(x, y, size, radius)[..., None]
    colour = rng.uniform(0.2, 1.0, (len(labels), 1, 1, 3))
    img = (0.5 + amplitude * pat[..., None] * colour) * (inside + outside * (1 - inside))
    img[..., 0] += ramps * (xx - 0.5)
    img[..., 2] += ramps * (yy - 0.5)
    return _with_texture(img, noise, rng)


def render_demo_light(labels, size, rng, light=0.5, tint=0.1):
    """demo + the STL-10 demo's global light: dimmer towards the bottom, warmer towards the right."""
    xx, yy = _grid(size)
    img = render_demo(labels, size, rng).astype(np.float64) / 255 * (1 - light * yy)[None, ..., None]
    img[..., 0] += tint * xx
    img[..., 2] += tint * (1 - xx)
    return np.clip(np.round(img * 255), 0, 255).astype(np.uint8)


def pink_texture(n, size, rng, amp, f_min=3.0):
    """[n, size, size, 1] achromatic noise with a 1/f amplitude spectrum above f_min cycles per image, std amp:
    statistically the same at every zoom, so what it loses to a blur does not depend on the crop's scale."""
    f = np.hypot(*np.meshgrid(np.fft.fftfreq(size) * size, np.fft.fftfreq(size) * size, indexing="ij"))
    spectrum = np.where(f >= f_min, 1 / np.maximum(f, 1e-9), 0.0)
    noise = np.fft.ifft2(np.fft.fft2(rng.normal(size=(n, size, size))) * spectrum).real
    return (amp * noise / noise.std(axis=(1, 2), keepdims=True))[..., None]


def render_demo_pink(labels, size, rng, amp=0.08, f_min=3.0):
    img = render_demo(labels, size, rng).astype(np.float64) / 255 + pink_texture(len(labels), size, rng, amp, f_min)
    return np.clip(np.round(img * 255), 0, 255).astype(np.uint8)


def render_demo_light_grid(labels, size, rng, cycles=10.0, amp=0.05):
    """demo-light + a fixed achromatic grating along x and along y (``cycles`` per image, random phase): its
    period in a view is the crop's zoom, along x for w and along y for h, whatever the class."""
    xx, yy = _grid(size)
    phase = rng.uniform(0, 2 * np.pi, (2, len(labels), 1, 1))
    grid = amp * (np.sin(2 * np.pi * cycles * xx + phase[0]) + np.sin(2 * np.pi * cycles * yy + phase[1]))
    img = render_demo_light(labels, size, rng).astype(np.float64) / 255 + grid[..., None]
    return np.clip(np.round(img * 255), 0, 255).astype(np.uint8)


def render_demo_vivid(labels, size, rng, chroma=2.5):
    """demo with every pixel's chroma (its distance from its own grey) scaled by ``chroma``: the demo's
    colours are pale, so hue and saturation changes hardly show; here they do."""
    img = render_demo(labels, size, rng).astype(np.float64) / 255
    grey = img @ np.array([0.299, 0.587, 0.114])
    img = grey[..., None] + chroma * (img - grey[..., None])
    return np.clip(np.round(img * 255), 0, 255).astype(np.uint8)


def render_demo_disc(labels, size, rng, outside=0.35, edges=0.0):
    """demo with the class pattern's contrast (around mid grey) full inside a centred soft disc and
    ``outside`` beyond it: an object-like layout, so where a crop sits and how far it zooms show in the view."""
    xx, yy = _grid(size)
    mask = outside + (1 - outside) * _soft_disc(xx, yy, size, 0.3)
    img = render_demo(labels, size, rng, edges=edges).astype(np.float64) / 255
    img = 0.45 + (img - 0.45) * mask[None, ..., None]
    return np.clip(np.round(img * 255), 0, 255).astype(np.uint8)


GENERATORS = {
    "demo": render_demo,
    "demo-edges": lambda labels, size, rng: render_demo(labels, size, rng, edges=8.0),
    "demo-edges3": lambda labels, size, rng: render_demo(labels, size, rng, edges=3.0),
    "demo-edges-noisy": lambda labels, size, rng: render_demo(labels, size, rng, edges=8.0, noise=0.08),
    "demo-edges-fine": lambda labels, size, rng: render_demo(labels, size, rng, edges=8.0, noise=0.08,
                                                             cycles=(3.0, 9.0)),
    "demo-disc": render_demo_disc,
    "demo-disc-edges": lambda labels, size, rng: render_demo_disc(labels, size, rng, edges=8.0),
    "demo-texture": render_demo_texture,
    "demo-light": render_demo_light,
    "demo-pink": render_demo_pink,
    "demo-pink-fine": lambda labels, size, rng: render_demo_pink(labels, size, rng, amp=0.06, f_min=8.0),
    "demo-vivid": render_demo_vivid,
    "demo-light-grid": render_demo_light_grid,
    "canonical-disc": render_canonical_disc,
    "dimmed-disc": render_dimmed_disc,
    "dimmed-disc-fine": lambda labels, size, rng: render_dimmed_disc(labels, size, rng, noise=0.07, outside=0.6,
                                                                     amplitude=0.4, ramps=0.25),
}


def _jpeg_round_trip(images: np.ndarray) -> np.ndarray:
    out = []
    for im in images:
        buf = io.BytesIO()
        Image.fromarray(im).save(buf, format="JPEG", quality=95)
        out.append(np.array(Image.open(io.BytesIO(buf.getvalue())).convert("RGB")))
    return np.stack(out)


def generate(out_dir: Path, dataset: str, generator: str, seed: int = 0, size: int | None = None) -> None:
    """Write ``train.npz`` and ``test.npz`` (the packed index format the rules read) into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    size, rng = size or SIZES[dataset], np.random.default_rng(seed + DATASET_SEED_OFFSET[dataset])
    for split, per_class in (("train", TRAIN_PER_CLASS), ("test", TEST_PER_CLASS)):
        labels = rng.permutation(np.repeat(np.arange(CLASSES), per_class))
        images = GENERATORS[generator](labels, size, rng)
        if dataset == "tinyimagenet":
            images = _jpeg_round_trip(images)
        write_packed(pack(images, labels, [f"c{c}" for c in range(CLASSES)], split), out_dir / f"{split}.npz")


# ------------------------------------------------------------------ trials

def demo_run(dataset: str, variant: str, args):
    """The demo's run config for ``dataset/seqjepa/variant`` with the trial's overrides."""
    cfg = load_config(merge_configs(yaml.safe_load((ROOT / "config.yaml").read_text()),
                                    yaml.safe_load((ROOT / "config/demo.yaml").read_text())))
    run = cfg.run_config(dataset, "seqjepa", variant, args.train_seed)
    train = run.train
    if args.epochs is not None and variant != "mtr2-random":
        train = dataclasses.replace(train, epochs=args.epochs)
    if args.batch_size is not None:
        train = dataclasses.replace(train, batch_size=args.batch_size)
    if args.lr is not None:
        train = dataclasses.replace(train, lr=args.lr)
    probe = run.probe
    if args.probe_epochs is not None:
        probe = dataclasses.replace(probe, epochs=args.probe_epochs, linear_epochs=args.probe_epochs)
    run = dataclasses.replace(run, train=train, probe=probe, img_size=args.size or SIZES[dataset])
    if args.width is not None:
        run = dataclasses.replace(run, encoder_width=args.width)
    if args.action_norm is not None:
        run = dataclasses.replace(run, action_norm=args.action_norm)
    if args.cifar_stem is not None:
        run = dataclasses.replace(run, cifar_stem=bool(args.cifar_stem))
    if args.params:
        run = dataclasses.replace(run, params={**run.params, **json.loads(args.params)})
    if args.m_tr is not None:
        run = dataclasses.replace(run, m_tr=args.m_tr)
    return run


def _summary(metrics: list[dict]) -> dict:
    """``top1@<M_val>`` on z_AGG, ``top1_res`` on the encoder output, ``<group>_r2``; 3 decimals."""
    def key(m):
        encoder = "_res" if m["representation"] == "encoder" else ""
        return m["metric"] + (f"@{m['m_val']}" if m["m_val"] else "") + encoder
    return {key(m): round(m["value"], 3) for m in metrics}


def run_trials(args) -> None:
    name = f"{args.dataset}_{args.generator}"
    data = Path(args.out or ROOT / "results/demo_trials" / name)
    generate(data, args.dataset, args.generator, args.seed, args.size)
    for variant in args.variants.split(","):
        run = demo_run(args.dataset, variant, args)
        out = data / (f"{variant}_m{run.m_tr}_e{run.train.epochs}_b{run.train.batch_size}_w{run.encoder_width}"
                      f"_stem{int(run.cifar_stem)}_{run.action_norm}" + (f"_s{run.seed}" if run.seed else ""))
        t0 = time.process_time()
        ckpt = pretrain(run, DataSpec.for_run(run, str(data / "train.npz"), str(data)), out, "cpu", show_progress=False)
        t1 = time.process_time()
        result = evaluate_checkpoint(ckpt, data / "train.npz", data / "test.npz", str(data), out / "probe.json",
                                     device="cpu")
        t2 = time.process_time()
        print(name, variant, f"train {t1 - t0:.0f}s probe {t2 - t1:.0f}s", json.dumps(_summary(result["metrics"])),
              flush=True)


# ------------------------------------------------------------------ diagnostics

def _test_split(data: Path) -> Path:
    """The held-out split of a trial archive (``test.npz``) or of a DAG index (Tiny ImageNet's ``val.npz``)."""
    return data / "test.npz" if (data / "test.npz").exists() else data / "val.npz"


def _fit_r2(x_train, y_train, x_test, y_test, model) -> list[float]:
    """Per-component held-out R² of ``model`` fitted on (x_train, y_train)."""
    from sklearn.metrics import r2_score
    y_fit = y_train.ravel() if y_train.shape[1] == 1 else y_train
    pred = np.asarray(model.fit(x_train, y_fit).predict(x_test)).reshape(y_test.shape)
    return [round(float(r2_score(y_test[:, k], pred[:, k])), 3) for k in range(y_test.shape[1])]


def ceiling(args) -> None:
    """R² of each group's targets from the TRUE parameters of views 0 and 1 (a perfect per-view encoder),
    gradient-boosted trees, per component: how much of each target two views can tell at all."""
    from sklearn.ensemble import HistGradientBoostingRegressor

    from seqjepa_core.data import augment
    from seqjepa_core.probe_samplers.augmented import relative_targets

    gen, n, size = torch.Generator().manual_seed(args.seed), 30000, SIZES[args.dataset]
    obs = augment.sample_params(2 * n, size, size, augment.OBSERVED, gen, "cpu").vector().view(n, 2, -1)
    last = augment.OBSERVED if args.last_observed else augment.TARGET   # the window's third view
    tgt = augment.sample_params(n, size, size, last, gen, "cpu").vector()[:, None]
    params = torch.cat([obs, tgt], 1).double()
    targets = relative_targets(params, True)   # M_tr 2: 2 observed views and the target view, as the probes
    for group in ("crop", "jitter", "blur"):
        x = params[:, :2, augment.GROUPS[group]].flatten(1).numpy()
        y = targets[group].numpy()
        r2 = [_fit_r2(x[:20000], y[:20000, [k]], x[20000:], y[20000:, [k]], HistGradientBoostingRegressor())[0]
              for k in range(y.shape[1])]
        print(args.dataset, group, "from the true parameters of views 0, 1: per component", r2, flush=True)


def components(args) -> None:
    """Per-component held-out R² of a ridge on encoder(view 0) ⊕ encoder(view 1) of a trial's checkpoint
    (6 fresh draws of the train split, 2 of the test split): which parameters an encoder shows."""
    from sklearn.linear_model import RidgeCV
    from sklearn.preprocessing import StandardScaler

    from seqjepa_core.data.image_arrays import ImageSequences
    from seqjepa_core.data.loading import dataset_module
    from seqjepa_core.evaluate import load_frozen
    from seqjepa_core.probe_samplers.augmented import draw_features

    method, run, _ = load_frozen(args.checkpoint, "cpu")
    mean, std = dataset_module(run.dataset).NORMALIZATION[run.normalization]
    opts = dict(m_vals=[1], action_kind=run.actions, normalise=run.action_norm == "sequence_l2",
                train_views=method.num_views, mean=mean, std=std, seed=5, device="cpu")

    def draws(split, epochs):
        feats = [draw_features(method, split.images, split.labels, epoch=e, **opts) for e in epochs]
        return {k: torch.cat([f[k] for f in feats]).numpy() for k in ("pair", "crop", "jitter", "blur")}

    train = draws(ImageSequences(args.data / "train.npz"), range(6))
    test = draws(ImageSequences(_test_split(args.data)), [-1, -2])
    scale = StandardScaler().fit(train["pair"])
    x_train, x_test = scale.transform(train["pair"]), scale.transform(test["pair"])
    print(args.checkpoint.parent.name, " | ".join(
        f"{g} {_fit_r2(x_train, train[g], x_test, test[g], RidgeCV(alphas=np.logspace(-1, 4, 12)))}"
        for g in ("crop", "jitter", "blur")), flush=True)


@torch.no_grad()
def reliance(args) -> None:
    """Held-out JEPA loss of a conditioned trial checkpoint with the true a_M, and with one action group's
    components of a_M (the action to the target view) shuffled across the batch: how much the predictor
    uses each group (10 fresh draws of the test split, batches of 100, eval mode)."""
    from seqjepa_core.data import augment
    from seqjepa_core.data.loading import make_stream
    from seqjepa_core.losses import negative_cosine_loss
    from seqjepa_core.train import load_method

    method, run = load_method(args.checkpoint)
    method.eval()
    stream = make_stream(DataSpec.for_run(run, str(_test_split(args.data)), str(args.data)), method.num_views,
                         100, 123, torch.device("cpu"), shuffle=False, drop_last=False)
    gen, cases = torch.Generator().manual_seed(0), ("true", "crop", "jitter", "blur")
    totals, batches = dict.fromkeys(cases, 0.0), 0
    for epoch in range(10):
        for batch in stream.epoch(epoch):
            m = batch.num_views - 1
            z, target = method.encode_views(batch.views[:, :m]), method.retrieval_candidates(batch.views[:, m:])[:, 0]
            for case in cases:
                a_m = batch.actions[:, m - 1].clone()   # the action to the target view
                if case != "true":
                    dims = augment.GROUPS[case]
                    a_m[:, dims] = a_m[torch.randperm(len(a_m), generator=gen)][:, dims]
                pred = method.retrieval_prediction(z, batch.actions[:, :m - 1], a_m)
                totals[case] += negative_cosine_loss(pred, target).item()
            batches += 1
    print(args.checkpoint.parent.name, "held-out loss, a_M true / crop, jitter, blur shuffled:",
          " / ".join(f"{totals[c] / batches:.4f}" for c in cases), flush=True)


def probe(args) -> None:
    """The DAG's probes (``evaluate.probe_frozen``) on a checkpoint, once per probe seed; one line each."""
    from seqjepa_core.evaluate import load_frozen, probe_frozen

    method, run, dev = load_frozen(args.checkpoint, "cpu")
    if args.test_draws is not None:
        run = dataclasses.replace(run, probe=dataclasses.replace(run.probe, test_draws=args.test_draws))
    for seed in map(int, (args.probe_seeds or str(run.seed)).split(",")):
        metrics = probe_frozen(method, dataclasses.replace(run, seed=seed), dev, args.data / "train.npz",
                               _test_split(args.data), args.root or args.data)
        print(args.checkpoint.parent.name, f"probe seed {seed}, {run.probe.test_draws} test draws",
              json.dumps(_summary(metrics)), flush=True)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    g = sub.add_parser("generate", help="write train.npz / test.npz only")
    g.add_argument("out_dir", type=Path)
    r = sub.add_parser("run", help="generate, pretrain each variant, probe it, print one line per variant")
    r.add_argument("--out", type=Path, default=None, help="archive and run directory "
                   "(default results/demo_trials/<dataset>_<generator>)")
    r.add_argument("--variants", default="mtr2-random,mtr2-noact,mtr2", help="comma-separated seqjepa variants")
    r.add_argument("--epochs", type=int, default=None, help="pretraining epochs (demo config if unset)")
    r.add_argument("--batch-size", type=int, default=None, help="pretraining batch (demo config if unset)")
    r.add_argument("--lr", type=float, default=None, help="pretraining learning rate (demo config if unset)")
    r.add_argument("--probe-epochs", type=int, default=None, help="epochs of the MLP and linear probes")
    r.add_argument("--m-tr", type=int, default=None, help="observed views per training sequence (M_tr)")
    r.add_argument("--params", default=None, help='method params as JSON, e.g. \'{"action_embed_dim": 16}\'')
    r.add_argument("--size", type=int, default=None, help="image size in px (default: the data set's, 32 or 64)")
    r.add_argument("--width", type=int, default=None, help="encoder width (demo: CIFAR-100 8, Tiny ImageNet 16)")
    r.add_argument("--action-norm", choices=("sequence_l2", "raw"), default=None,
                   help="augmentation actions: sequence_l2 (official) or raw differences")
    r.add_argument("--train-seed", type=int, default=0, help="the run's training seed (the demo's: 0)")
    r.add_argument("--cifar-stem", type=int, choices=(0, 1), default=None, help="1: 3x3 stride-1 stem, no max-pool")
    c = sub.add_parser("ceiling", help="R² of the targets from the true parameters of views 0 and 1")
    c.add_argument("--last-observed", action="store_true",
                   help="close the 3-view window with an observed view (the probes' layout before 1 Dec)")
    k = sub.add_parser("components", help="per-component ridge R² of a trial checkpoint's view-pair features")
    q = sub.add_parser("reliance", help="held-out loss of a conditioned checkpoint with each group of a_M shuffled")
    v = sub.add_parser("probe", help="the DAG's probes on a checkpoint, once per probe seed")
    for sp in (k, q, v):
        sp.add_argument("checkpoint", type=Path)
        sp.add_argument("data", type=Path, help=DATA_HELP)
    v.add_argument("--probe-seeds", default=None,
                   help="comma-separated; default: the run's training seed, what the trial's own probe ran")
    v.add_argument("--test-draws", type=int, default=None, help="default: the checkpoint's run config's")
    v.add_argument("--root", type=Path, default=None,
                   help="the images' root where the index holds paths (3DIEBench: results/demo/data/3DIEBench)")
    for sp in (g, r, c):
        sp.add_argument("--dataset", choices=sorted(SIZES), default="cifar100")
        sp.add_argument("--generator", choices=sorted(GENERATORS), default="demo")
        sp.add_argument("--seed", type=int, default=0, help="data seed (+1 for Tiny ImageNet)")
    g.set_defaults(func=lambda a: generate(a.out_dir, a.dataset, a.generator, a.seed))
    for sp, func in ((r, run_trials), (c, ceiling), (k, components), (q, reliance), (v, probe)):
        sp.set_defaults(func=func)
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    args.func(args)

if __name__ == "__main__":
    main()
