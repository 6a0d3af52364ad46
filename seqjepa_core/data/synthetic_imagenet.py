"""A miniature ImageNet-1k with saliency maps in the real layouts, for tests: ``train/<wnid>/*.JPEG`` and
``val/<wnid>/*.JPEG`` images of varying native sizes (a class-coloured disc on noise) and, per image, a float32
probability map at the image's native size peaked on the disc (``<split>/<wnid>/<stem>_sal.npy``)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image

from seqjepa_core.data.imagenet_saliency import SALIENCY_NAME, saliency_path

SIZES = ((40, 56), (48, 48), (64, 44), (36, 60))   # (H, W): ImageNet's images are not square


def make_pair(rng: np.random.Generator, label: int, classes: int, shape: tuple[int, int]):
    """uint8 image [H, W, 3] and its map [H, W]: a disc of the class's hue on noise, the map peaked on it."""
    h, w = shape
    colour = np.array([255 * (label + 1) / classes, 255 * (1 - label / classes), 128 + 100 * (label % 2)])
    image = rng.integers(0, 90, (h, w, 3)).astype(np.float64)
    cy, cx, r = rng.uniform(0.3, 0.7) * h, rng.uniform(0.3, 0.7) * w, min(h, w) / 5
    yy, xx = np.mgrid[:h, :w]
    d2 = (yy - cy) ** 2 + (xx - cx) ** 2
    image[d2 <= r * r] = colour
    sal = np.exp(-d2 / (2 * r * r)).astype(np.float32)
    return image.clip(0, 255).astype(np.uint8), sal / sal.sum()


def generate(image_root: str | os.PathLike, saliency_root: str | os.PathLike, classes: int = 3,
             train_per_class: int = 4, val_per_class: int = 2, seed: int = 0,
             saliency_name: str = SALIENCY_NAME) -> list[str]:
    """Write the images and maps; returns the class folders (wnids)."""
    rng = np.random.default_rng(seed)
    wnids = [f"n{label + 1:08d}" for label in range(classes)]
    for split, per_class in (("train", train_per_class), ("val", val_per_class)):
        for label, wnid in enumerate(wnids):
            folder = Path(image_root) / split / wnid
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(per_class):
                image, sal = make_pair(rng, label, classes, SIZES[(label + i) % len(SIZES)])
                path = folder / f"{wnid}_{split}_{i}.JPEG"
                Image.fromarray(image).save(path, quality=95)
                target = saliency_path(saliency_root, split, path, saliency_name)
                target.parent.mkdir(parents=True, exist_ok=True)
                np.save(target, sal)
    return wnids
