"""Tiny ImageNet (the CS231n ``tiny-imagenet-200.zip``): reader, packed index, augmented sequences.

On disk: ``root/tiny-imagenet-200/wnids.txt`` (one WordNet id per line: the class index is the line
number, as in the official loader), ``train/<wnid>/images/*.JPEG`` (500 per class) and ``val/images/*.JPEG``
with ``val/val_annotations.txt`` (``file<TAB>wnid<TAB>box...``). The validation set is the test set (the
official test split has no labels). Images are 64x64 JPEGs, some grayscale (converted to RGB).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

from seqjepa_core.data.errors import DatasetFileError
from seqjepa_core.data.image_arrays import ACTION_DIMS, ImageSequences, device_batch, pack  # noqa: F401

FOLDER = "tiny-imagenet-200"
SPLITS = ("train", "val")
IMAGE_SIZE = 64
# The paper states CIFAR's constants for Tiny ImageNet too (§5.1); the official code uses its own.
MEAN, STD = (0.4914, 0.4822, 0.4465), (0.247, 0.243, 0.261)
NORMALIZATION = {"paper": (MEAN, STD), "official": ((0.4802, 0.4481, 0.3975), (0.2302, 0.2265, 0.2262))}


def read_wnids(folder: Path) -> list[str]:
    path = folder / "wnids.txt"
    try:
        wnids = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    except FileNotFoundError:
        raise DatasetFileError(f"{path}: missing (expected the extracted {FOLDER}.zip)") from None
    if len(set(wnids)) != len(wnids):
        raise DatasetFileError(f"{path}: duplicate class ids")
    return wnids


def list_split(folder: Path, split: str, wnids: list[str]) -> list[tuple[Path, int]]:
    """(image path, label) of every image of ``split``, in a fixed order."""
    label_of = {w: i for i, w in enumerate(wnids)}
    if split == "train":
        items = []
        for w in wnids:
            images = folder / "train" / w / "images"
            if not images.is_dir():
                raise DatasetFileError(f"{images}: class folder missing")
            items += [(p, label_of[w]) for p in sorted(images.glob("*.JPEG"))]
        return items
    if split == "val":
        ann = folder / "val" / "val_annotations.txt"
        if not ann.exists():
            raise DatasetFileError(f"{ann}: missing")
        items = []
        for n, line in enumerate(ann.read_text().splitlines(), 1):
            parts = line.split("\t")
            if len(parts) < 2 or parts[1] not in label_of:
                raise DatasetFileError(f"{ann}:{n}: expected 'file<TAB>wnid...' with a wnid of wnids.txt, got {line!r}")
            items.append((folder / "val" / "images" / parts[0], label_of[parts[1]]))
        return items
    raise ValueError(f"unknown Tiny ImageNet split {split!r}; valid: {list(SPLITS)}")


def decode(path: Path) -> np.ndarray:
    try:
        with Image.open(path) as im:
            arr = np.asarray(im.convert("RGB"))
    except FileNotFoundError:
        raise DatasetFileError(f"{path}: missing image") from None
    except Exception as e:
        raise DatasetFileError(f"{path}: undecodable image ({e})") from e
    if arr.shape != (IMAGE_SIZE, IMAGE_SIZE, 3):
        raise DatasetFileError(f"{path}: {arr.shape[1]}x{arr.shape[0]} image, expected {IMAGE_SIZE}x{IMAGE_SIZE}")
    return arr


def read_split(root: str | os.PathLike, split: str, workers: int = 8) -> dict[str, np.ndarray]:
    """One split decoded into a packed index (images [N, 64, 64, 3] uint8, labels, the wnids)."""
    folder = Path(root) / FOLDER
    wnids = read_wnids(folder)
    items = list_split(folder, split, wnids)
    with ThreadPoolExecutor(max(1, workers)) as pool:  # JPEG decoding releases the GIL
        images = list(pool.map(decode, (p for p, _ in items)))
    stacked = np.stack(images) if images else np.zeros((0, IMAGE_SIZE, IMAGE_SIZE, 3), np.uint8)
    return pack(stacked, np.array([lab for _, lab in items]), wnids, str(folder / split))


Sequences = ImageSequences  # the names seqjepa_core.data.loading looks up
