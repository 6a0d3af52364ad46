"""3DIEBench loading throughput: a naive per-sample loader vs ours, same files, 1 thread, 4 views at 128 px.

The naive loader is the official one (hafezgh/seq-jepa ``Dataset_3DIEBench_MultipleViews``): per view PIL
open + convert + Resize + ToTensor + Normalize and ``np.load`` of its latent file, per consecutive pair a scipy
relative rotation. Ours: the trainer's ``BatchStream`` over ``ThreeDIEBenchSequences`` (DCT-scaled decode to uint8, latents
from the index; normalisation and batched actions, here on the CPU). Images are synthetic 256 px JPEGs
in the real on-disk format. Usage: python bench/bench_dataloader.py [--seconds 10]
"""

from __future__ import annotations

import argparse
import itertools
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from scipy.spatial.transform import Rotation
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms

from seqjepa_core.data.synthetic_3diebench import generate
from seqjepa_core.data.loading import BatchStream, DataSpec, build_dataset
from seqjepa_core.data.threedie import MEAN, STD, build_index, simplejpeg, write_index

VIEWS, SIZE, BATCH = 4, 128, 16


class NaiveSequences(Dataset):
    def __init__(self, root: Path, splits: Path, split: str = "train"):
        self.root, self.samples = root, np.load(splits / f"{split}_images.npy")
        self.labels = np.load(splits / f"{split}_labels.npy")
        self.transform = transforms.Compose([transforms.Resize((SIZE, SIZE)), transforms.ToTensor(),
                                             transforms.Normalize(MEAN, STD)])

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i: int):
        folder = self.root / self.samples[i][1:]
        views = np.random.choice(50, VIEWS, replace=False)
        imgs = torch.stack([self.transform(Image.open(folder / f"image_{v}.jpg").convert("RGB")) for v in views])
        lat = [np.load(folder / f"latent_{v}.npy").astype(np.float32) for v in views]
        rel = [(Rotation.from_euler("xyz", lat[j][:3]).inv() * Rotation.from_euler("xyz", lat[j + 1][:3]))
               .as_quat().astype(np.float32) for j in range(VIEWS - 1)]
        return imgs, torch.from_numpy(np.stack(lat)), torch.from_numpy(np.stack(rel)), int(self.labels[i])


def throughput(make_batches, seconds: float, rounds: int = 3) -> list[float]:
    """Samples/s of full epochs, one figure per round (after one warm-up epoch)."""
    sum(make_batches())
    out = []
    for _ in range(rounds):
        n, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds / rounds:
            n += sum(make_batches())
        out.append(n / (time.perf_counter() - start))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=10.0, help="timing per loader, split over alternating rounds")
    ap.add_argument("--objects", type=int, default=2, help="objects per class (2 classes, 50 views each)")
    ap.add_argument("--repeat", type=int, default=24, help="each object listed this many times (longer epochs)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        root, splits, rep = Path(tmp) / "3DIEBench", Path(tmp) / "splits", Path(tmp) / "repeated"
        t = time.perf_counter()
        generate(root, splits, num_classes=2, objects_per_class_train=args.objects, objects_per_class_val=0,
                 image_size=256, seed=0)
        index = build_index(root, splits, "train")
        print(f"generated + indexed {len(index['paths'])} objects x 50 views at 256 px in "
              f"{time.perf_counter() - t:.1f} s; decoder: {'simplejpeg' if simplejpeg else 'PIL draft'}")
        rep.mkdir()
        for name in ("images", "labels"):
            np.save(rep / f"train_{name}.npy", np.repeat(np.load(splits / f"train_{name}.npy"), args.repeat))
        write_index({k: np.repeat(v, args.repeat, axis=0) if k in ("paths", "labels", "latents") else v
                     for k, v in index.items()}, Path(tmp) / "train.npz")

        naive = DataLoader(NaiveSequences(root, rep), batch_size=BATCH, shuffle=True)
        # the trainer's own path: BatchStream (seeded order, uint8 workers, normalisation + actions batched)
        spec = DataSpec("3diebench", str(Path(tmp) / "train.npz"), str(root), SIZE, "rotation")
        ours = BatchStream(build_dataset(spec, VIEWS, seed=0), spec, BATCH, seed=0, device=torch.device("cpu"),
                           drop_last=False)
        epochs = itertools.count()
        naive_sps, ours_sps = [], []
        for _ in range(2):  # alternate, so that a change of machine load hits both
            naive_sps += throughput(lambda: (len(b[3]) for b in naive), args.seconds / 4)
            ours_sps += throughput(lambda: (b.labels.numel() for b in ours.epoch(next(epochs))), args.seconds / 4)
    n, o = float(np.median(naive_sps)), float(np.median(ours_sps))
    print(f"naive loader: {n:7.1f} samples/s  (rounds: {np.round(naive_sps).astype(int).tolist()})")
    print(f"ours        : {o:7.1f} samples/s  (rounds: {np.round(ours_sps).astype(int).tolist()})")
    print(f"speed-up    : {o / n:7.2f}x  (medians; 1 thread, {VIEWS} views, {SIZE} px from 256 px JPEGs, "
          f"batch {BATCH})")


if __name__ == "__main__":
    main()
