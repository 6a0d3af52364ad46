"""Generated CIFAR-100 and Tiny ImageNet stand-ins in the real archive formats (tests and ``make demo``).

Each image is a class pattern (one of five stripe/checker/ring layouts at one of two spatial
frequencies, random phase, its own colour) over a background whose red and blue ramps encode the absolute
position, plus fine pixel noise. So the class survives crops, flips and colour changes, and every
augmentation leaves a trace an encoder can read: the crop in the ramps and the stripe scale, the jitter
in the colour statistics, the blur in the noise and stripe edges.

The archives are written exactly as published (``cifar-100-python.tar.gz`` with pickled
``train``/``test``/``meta``; ``tiny-imagenet-200.zip`` with ``wnids.txt``, per-class train folders,
``val/images`` and ``val_annotations.txt``) and extracted with the same code as a download.
"""

from __future__ import annotations

import io
import os
import pickle
import tarfile
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

from seqjepa_core.download import extract_archive, write_marker

LAYOUTS = 5       # horizontal, vertical, checker, diagonal cross, rings
FREQUENCIES = 2   # cycles across the image, a factor 3 apart: a zoom by a crop (<= 2.2x) keeps them apart


def render(labels: np.ndarray, size: int, rng: np.random.Generator, edges: float = 0.0,
           noise: float = 0.04, cycles: tuple[float, float] = (2.0, 6.0)) -> np.ndarray:
    """uint8 [N, size, size, 3] images of the given classes (class c: layout c % 5, frequency (c // 5) % 2);
    ``edges`` > 0 hardens the waves into tanh(edges * wave) bands."""
    n = len(labels)
    yy, xx = np.meshgrid(np.linspace(0, 1, size), np.linspace(0, 1, size), indexing="ij")
    layout, band = labels % LAYOUTS, (labels // LAYOUTS) % FREQUENCIES
    cycles = np.where(band == 0, *cycles) * rng.uniform(0.9, 1.1, n)
    phase = rng.uniform(0, 2 * np.pi, n)
    f = (2 * np.pi * cycles)[:, None, None]
    ph = phase[:, None, None]
    x, y = xx[None], yy[None]
    waves = np.stack([np.sin(f * y + ph), np.sin(f * x + ph), np.sin(f * x + ph) * np.sin(f * y + ph),
                      np.sin(f * (x + y) / 1.4 + ph) * np.sin(f * (x - y) / 1.4 + ph),
                      np.sin(f * np.hypot(x - 0.5, y - 0.5) * 1.5 + ph)])            # [5, N, S, S]
    pattern = waves[layout, np.arange(n)]
    if edges > 0:
        pattern = np.tanh(edges * pattern) / np.tanh(edges)
    colour = rng.uniform(0.2, 1.0, (n, 3))
    img = 0.45 + 0.3 * pattern[..., None] * colour[:, None, None, :]
    img[..., 0] += 0.25 * (x[0] - 0.5)  # position ramps: where a crop came from
    img[..., 2] += 0.25 * (y[0] - 0.5)
    img += rng.normal(0, noise, img.shape)  # fine texture: what a blur removes
    return np.clip(np.round(img * 255), 0, 255).astype(np.uint8)


def _labels(classes: int, per_class: int, rng: np.random.Generator) -> np.ndarray:
    return rng.permutation(np.repeat(np.arange(classes), per_class))


# --------------------------------------------------------------------------------------------- CIFAR-100

def write_cifar100_archive(path: str | os.PathLike, classes: int = 10, train_per_class: int = 50,
                           test_per_class: int = 10, seed: int = 0) -> Path:
    """``cifar-100-python.tar.gz`` as published: pickles of dicts with byte-string-free keys (latin1-readable)."""
    rng = np.random.default_rng(seed)
    names = [f"class_{c:03d}" for c in range(classes)]
    members = {"meta": {"fine_label_names": names, "coarse_label_names": [f"super_{c}" for c in range(-(-classes // 5))]}}
    for split, per_class in (("train", train_per_class), ("test", test_per_class)):
        labels = _labels(classes, per_class, rng)
        images = render(labels, 32, rng)
        members[split] = {"filenames": [f"img_{i:05d}.png" for i in range(len(labels))], "batch_label": f"{split} batch",
                          "fine_labels": labels.tolist(), "coarse_labels": (labels // 5).tolist(),
                          "data": images.transpose(0, 3, 1, 2).reshape(len(labels), -1)}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as tar:
        for name, obj in members.items():
            blob = pickle.dumps(obj, protocol=2)
            info = tarfile.TarInfo(f"cifar-100-python/{name}")
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    return path


# --------------------------------------------------------------------------------------------- Tiny ImageNet

def _jpeg(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="JPEG", quality=95)
    return buf.getvalue()


def write_tinyimagenet_zip(path: str | os.PathLike, classes: int = 10, train_per_class: int = 50,
                           val_per_class: int = 10, seed: int = 0, size: int = 64) -> Path:
    rng = np.random.default_rng(seed)
    wnids = [f"n{1000000 + 7919 * c:08d}" for c in range(classes)]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    top = "tiny-imagenet-200"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        z.writestr(f"{top}/wnids.txt", "".join(f"{w}\n" for w in wnids))
        z.writestr(f"{top}/words.txt", "".join(f"{w}\tsynthetic class {c}\n" for c, w in enumerate(wnids)))
        train = np.repeat(np.arange(classes), train_per_class)
        for k, (label, img) in enumerate(zip(train, render(train, size, rng))):
            z.writestr(f"{top}/train/{wnids[label]}/images/{wnids[label]}_{k % train_per_class}.JPEG", _jpeg(img))
        for c, w in enumerate(wnids):
            z.writestr(f"{top}/train/{w}/{w}_boxes.txt",
                       "".join(f"{w}_{k}.JPEG\t0\t0\t{size - 1}\t{size - 1}\n" for k in range(train_per_class)))
        val = _labels(classes, val_per_class, rng)
        lines = []
        for k, (label, img) in enumerate(zip(val, render(val, size, rng))):
            z.writestr(f"{top}/val/images/val_{k}.JPEG", _jpeg(img))
            lines.append(f"val_{k}.JPEG\t{wnids[label]}\t0\t0\t{size - 1}\t{size - 1}\n")
        z.writestr(f"{top}/val/val_annotations.txt", "".join(lines))
        for k, img in enumerate(render(val[: min(len(val), 20)], size, rng)):  # unlabelled, as published
            z.writestr(f"{top}/test/images/test_{k}.JPEG", _jpeg(img))
    return path


def generate(dataset: str, root: str | os.PathLike, archive_dir: str | os.PathLike, *, classes: int,
             train_per_class: int, test_per_class: int, seed: int = 0) -> Path:
    """Write the dataset's archive into ``archive_dir`` and extract it into ``root`` as a download would;
    ``root/.complete`` is written last."""
    writers = {"cifar100": (write_cifar100_archive, "cifar-100-python.tar.gz"),
               "tinyimagenet": (write_tinyimagenet_zip, "tiny-imagenet-200.zip")}
    if dataset not in writers:
        raise ValueError(f"no generator for dataset {dataset!r}; valid: {sorted(writers)}")
    write, name = writers[dataset]
    archive = write(Path(archive_dir) / name, classes, train_per_class, test_per_class, seed)
    extract_archive(archive, root, marker=False)
    write_marker(root, {"source": f"synthetic {dataset}", "archive": str(archive), "classes": classes, "seed": seed})
    return Path(root)
