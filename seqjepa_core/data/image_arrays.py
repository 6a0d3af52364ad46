"""Image-classification datasets packed into uint8 arrays, and their augmented-view batches.

CIFAR-100 and Tiny ImageNet are read once from their real formats (``cifar100.py``, ``tinyimagenet.py``)
and packed into one ``.npz`` per split: ``images`` uint8 [N, H, W, 3], ``labels`` int64 [N], ``classes``
str [C]. Training never touches the original files again.

A batch is made on the device (``device_batch``, called by ``loading.BatchStream``): the workers hand over
the un-augmented uint8 images; the V views and their 9 parameters are drawn there for the whole batch
(``augment.augment_views``), from a generator seeded by (run seed, epoch, first index of the batch), so a
resumed epoch draws exactly the views of an uninterrupted one and every DDP rank draws its own.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from seqjepa_core.data import augment
from seqjepa_core.data.batch import SequenceBatch
from seqjepa_core.data.errors import DatasetFileError
from seqjepa_core.data.threedie import item_seed, load_index, write_index  # noqa: F401

ACTION_DIMS = augment.ACTION_DIMS


def pack(images: np.ndarray, labels: np.ndarray, classes: list[str], where: str) -> dict[str, np.ndarray]:
    """Validate and bundle one split; ``where`` names the source in errors."""
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] != 3:
        raise DatasetFileError(f"{where}: expected uint8 images [N, H, W, 3], got {images.dtype} {images.shape}")
    labels = np.asarray(labels, dtype=np.int64)
    if labels.shape != (len(images),):
        raise DatasetFileError(f"{where}: {labels.shape} labels for {len(images)} images")
    if len(labels) and (labels.min() < 0 or labels.max() >= len(classes)):
        raise DatasetFileError(f"{where}: labels outside [0, {len(classes)}): {labels.min()}..{labels.max()}")
    return {"images": np.ascontiguousarray(images), "labels": labels, "classes": np.array(classes, dtype=str)}


def write_packed(index: dict[str, np.ndarray], path: str | os.PathLike) -> None:
    """Uncompressed (loading a split is one read) and atomic (temporary file, then rename)."""
    write_index(index, path, compress=False)


class ImageSequences(Dataset):
    """Items are un-augmented uint8 images [3, H, W] with their label and index; the views are drawn on the
    device by ``device_batch`` (``num_views`` per item, the last from the target distribution)."""

    def __init__(self, index_path: str | os.PathLike, root: str | os.PathLike | None = None, num_views: int = 2,
                 img_size: int | None = None, seed: int = 0):
        index = load_index(index_path)
        self.images = torch.from_numpy(index["images"]).permute(0, 3, 1, 2)  # a view: no copy
        self.labels = torch.from_numpy(index["labels"])
        self.classes = [str(c) for c in index["classes"]]
        size = self.images.shape[-1]
        if img_size is not None and img_size != size:
            raise ValueError(f"{index_path}: images are {size} px, the config asks for img_size {img_size}")
        if num_views < 2:
            raise ValueError(f"augmented sequences need at least 2 views, got {num_views}")
        self.num_views, self.img_size, self.seed, self.epoch = num_views, size, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, idx: int) -> dict[str, Any]:
        return {"images": self.images[idx], "latents": torch.zeros(0), "label": int(self.labels[idx]), "index": idx}


def batch_generator(seed: int, epoch: int, first_index: int, device: torch.device) -> torch.Generator:
    return torch.Generator(device=device).manual_seed(item_seed(seed, epoch, first_index))


def device_batch(raw: dict[str, torch.Tensor], stream) -> SequenceBatch:
    """uint8 images on the device -> V augmented, normalised views with their actions.

    ``latents`` keeps every view's 9 raw parameters (probe targets); ``actions`` are the config's kind,
    normalised over the sequence (official) unless ``augment_actions: raw``.
    """
    dev, spec, ds = stream.device, stream.spec, stream.dataset
    images = raw["images"].to(dev, non_blocking=True)
    gen = batch_generator(stream.seed, ds.epoch, int(raw["index"][0]), dev)
    views, params = augment.augment_views(images, ds.num_views, gen)
    views = views.mul_(stream.scale * 255.0).add_(stream.shift)  # stream's scale includes the /255
    actions = augment.sequence_actions(params, spec.actions, normalise=spec.action_norm == "sequence_l2")
    return SequenceBatch(views, actions, raw["labels"].to(dev, non_blocking=True), params)
