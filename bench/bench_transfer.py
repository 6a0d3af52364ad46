"""ImageNet transfer (Fig. 15) probe-draw throughput: what one probe epoch over ImageNet costs.

A probe epoch of the transfer draws fresh saccades over every image and encodes them with the frozen
STL-10 model (ResNet-18, CIFAR stem, width 64; transformer on z_AGG at M_val 1-8). This times, on images
already in memory (batch 256, 8 fixations with inhibition of return, bf16 autocast on CUDA):

- baseline: the same draw at STL-10's own setting (96 x 96 images, 32 px patches), as the STL-10 probe does;
- the transfer at 224 x 224 with 32 px and with 84 px patches;
- decoding + resizing one ImageNet-sized JPEG (500 x 375) and its native-size map on one CPU core
  (``read_pair``, what each DataLoader worker does);

and prints images/s and the ratio to the baseline, then the epoch time for 1,281,167 training images that
follows (the slower of the device and ``--workers`` decoding processes). It also runs the real sampler
(``TransferSampler``, DataLoader workers, pinned memory) over a small generated ImageNet folder on the device
as a smoke check. Usage: python bench/bench_transfer.py [--device cuda] [--seconds 5] [--workers 16]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from seqjepa_core.config import ProbeConfig, RunConfig, TrainConfig
from seqjepa_core.data import imagenet_saliency as ins
from seqjepa_core.data.fixations import FixationSampler
from seqjepa_core.data.saccade_options import SaccadeOptions
from seqjepa_core.probe_samplers import ProbeContext, autocast_for, encoded_features
from seqjepa_core.probe_samplers.imagenet_transfer import TransferSampler
from seqjepa_core.train import build_method_for_run

M_VALS = tuple(range(1, 9))
TRAIN_IMAGES = 1_281_167


def stl_model(device: torch.device):
    run = RunConfig("stl10", "seqjepa", "mtr4", 0, "stl10", "position", 32, 64, True, 4, {},
                    TrainConfig(epochs=0, num_workers=0), ProbeConfig(m_val=M_VALS), {})
    return build_method_for_run(run).to(device).eval(), run


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def timed(fn, seconds: float, device) -> float:
    fn()
    sync(device)
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds or n < 2:
        fn()
        n += 1
    sync(device)
    return (time.perf_counter() - start) / n


@torch.no_grad()
def draw_rate(method, size: int, patch: int, batch: int, seconds: float, device) -> float:
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (batch, 3, size, size), generator=g, dtype=torch.uint8).to(device)
    maps = (torch.rand(batch, size, size, generator=g) ** 4).to(device)
    sampler = FixationSampler(SaccadeOptions(patch_size=patch, ior_radius=patch // 2), size, ins.MEAN, ins.STD,
                              cut_normalised=True)
    labels = torch.zeros(batch, dtype=torch.long, device=device)

    def step():
        b = sampler.batch(images, maps, labels, max(M_VALS), torch.Generator(device=device).manual_seed(1))
        with autocast_for(device):
            z = method.encode_views(b.views)
        return encoded_features(method, z, b.actions, M_VALS)

    return batch / timed(step, seconds, device)


def decode_rate(tmp: Path, seconds: float) -> float:
    from PIL import Image
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (375, 500, 3), dtype=np.uint8)).save(tmp / "x.JPEG", quality=90)
    sal = rng.random((375, 500)).astype(np.float32)
    np.save(tmp / "x_sal.npy", sal / sal.sum())
    return 1 / timed(lambda: ins.read_pair(str(tmp / "x.JPEG"), str(tmp / "x_sal.npy"), 224), seconds,
                     torch.device("cpu"))


def smoke(method, run, tmp: Path, device, workers: int) -> str:
    from seqjepa_core.data.synthetic_imagenet import generate
    generate(tmp / "img", tmp / "sal", classes=4, train_per_class=10, val_per_class=3, seed=0)
    tr = ins.build_index(tmp / "img", tmp / "sal", "train", image_size=224, workers=4)
    ins.write_index(tr, tmp / "train.npz")
    ins.write_index(ins.build_index(tmp / "img", tmp / "sal", "val", wnids=list(tr["wnids"]), workers=4),
                    tmp / "val.npz")
    run = RunConfig(**{**run.__dict__, "dataset": "imagenet", "data": {"patch_size": 84, "ior_radius": 42},
                       "probe": ProbeConfig(m_val=M_VALS, test_draws=1),
                       "train": TrainConfig(epochs=0, num_workers=workers)})
    s = TransferSampler(ProbeContext(method, run, str(tmp / "train.npz"), str(tmp / "val.npz"), "", device,
                                     seed=3, batch_size=16))
    a, b, again = s.draw(0), s.draw(1), s.draw(0)
    assert a["z_agg@8"].shape[0] == 40 and a["z_agg@8"].device.type == device.type
    assert torch.equal(a["z_agg@8"], again["z_agg@8"]) and not torch.equal(a["z_agg@1"], b["z_agg@1"])
    assert torch.isfinite(a["z_agg@8"]).all() and len(s.test()["label"]) == 12
    return "smoke check on the device: 40 training images, 3 draws (deterministic per epoch, fresh across epochs): ok"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--workers", type=int, default=16, help="decoding processes assumed for the epoch estimate")
    ap.add_argument("--threads", type=int, default=0)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    dev = torch.device(args.device)
    method, run = stl_model(dev)
    with tempfile.TemporaryDirectory() as d:
        print(smoke(method, run, Path(d), dev, workers=2))
        dec = decode_rate(Path(d), args.seconds)
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu"
    print(f"device {dev} ({name}), batch {args.batch}, {max(M_VALS)} fixations, z_AGG at M_val 1-8, "
          f"{'bf16 autocast' if dev.type == 'cuda' else 'fp32'}")
    base = draw_rate(method, 96, 32, args.batch, args.seconds, dev)
    print(f"baseline: STL-10 draw, 96 px images, 32 px patches: {base:9.1f} images/s")
    for patch in (32, 84):
        r = draw_rate(method, ins.IMAGE_SIZE, patch, args.batch, args.seconds, dev)
        device_s = TRAIN_IMAGES / r
        decode_s = TRAIN_IMAGES / (dec * args.workers)
        print(f"transfer, 224 px images, {patch} px patches:      {r:9.1f} images/s ({base / r:.2f}x the baseline's "
              f"time); one epoch over ImageNet train: {device_s / 60:.1f} min on the device, "
              f"{decode_s / 60:.1f} min decoding with {args.workers} workers")
    print(f"decode + resize (JPEG 500x375 + native map -> 224): {dec:.1f} images/s per CPU core")


if __name__ == "__main__":
    main()
