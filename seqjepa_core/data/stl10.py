"""STL-10 (Coates et al. 2011) with DeepGaze IIE saliency maps: reader, validated index, saccade batches.

On disk: ``<root>/stl10_binary/{train,test,unlabeled}_X.bin`` (uint8, N x 3 x 96 x 96, each channel stored
column-major) and ``{train,test}_y.bin`` (uint8 labels 1-10), exactly what ``stl10_binary.tar.gz`` and
torchvision's ``STL10`` use; saliency maps ``<saliency_root>/<split>/saliency_<split>.npy`` (float32
``(N, 1, 96, 96)`` probability maps, HF dataset ``Hafez/salmap-stl10``).

``build_index`` checks sizes, labels and every saliency map once (a length or shape mismatch names both
files). Training reads images through a memory map, never the 2.7 GB unlabeled split into RAM; the
fixation sampler (``seqjepa_core.data.fixations``) runs batched on the device (``SaccadeStream``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from seqjepa_core.data.batch import SequenceBatch
from seqjepa_core.data.errors import DatasetFileError
from seqjepa_core.data.fixations import FixationSampler, relative_positions
from seqjepa_core.data.saccade_options import SaccadeOptions, parse_saccade_options
from seqjepa_core.data.threedie import load_index, write_index  # noqa: F401  (index files as 3DIEBench's)

IMAGE_SIZE = 96
CHANNELS = 3
IMAGE_BYTES = CHANNELS * IMAGE_SIZE * IMAGE_SIZE
SPLITS = ("train", "test", "unlabeled")
CLASSES = ("airplane", "bird", "car", "cat", "deer", "dog", "horse", "monkey", "ship", "truck")
MEAN = (0.4467, 0.4398, 0.4066)   # the official STL10_SalMap normalisation
STD = (0.2241, 0.2215, 0.2239)
ACTION_DIMS = {"position": 2}     # relative normalised (row, col) of consecutive fixations


# --------------------------------------------------------------------------------------------- reader

def images_path(root: str | os.PathLike, split: str) -> Path:
    return Path(root) / "stl10_binary" / f"{split}_X.bin"


def labels_path(root: str | os.PathLike, split: str) -> Path:
    return Path(root) / "stl10_binary" / f"{split}_y.bin"


def saliency_path(saliency_root: str | os.PathLike, split: str) -> Path:
    return Path(saliency_root) / split / f"saliency_{split}.npy"


def open_images(path: str | os.PathLike, image_size: int = IMAGE_SIZE) -> np.ndarray:
    """Memory-mapped uint8 images as stored: [N, 3, W, H] (column-major); ``to_rows`` makes them upright."""
    path = Path(path)
    if not path.is_file():
        raise DatasetFileError(f"{path}: image file missing")
    per_image = CHANNELS * image_size * image_size
    size = path.stat().st_size
    if size == 0 or size % per_image:
        raise DatasetFileError(f"{path}: {size} bytes is not a whole number of {image_size}x{image_size} "
                               f"RGB images ({per_image} bytes each)")
    return np.memmap(path, dtype=np.uint8, mode="r").reshape(-1, CHANNELS, image_size, image_size)


def to_rows(stored: np.ndarray | torch.Tensor):
    """Column-major storage -> upright [..., 3, H, W] (torchvision's ``np.transpose(x, (0, 1, 3, 2))``)."""
    return stored.swapaxes(-1, -2)


def read_labels(path: str | os.PathLike) -> np.ndarray:
    """Class ids 0-9 (the file stores 1-10) as int64."""
    path = Path(path)
    if not path.is_file():
        raise DatasetFileError(f"{path}: label file missing")
    raw = np.fromfile(path, dtype=np.uint8)
    if raw.size and (raw.min() < 1 or raw.max() > len(CLASSES)):
        raise DatasetFileError(f"{path}: labels must lie in 1..{len(CLASSES)}, got {raw.min()}..{raw.max()}")
    return raw.astype(np.int64) - 1


def read_split(root: str | os.PathLike, split: str, image_size: int = IMAGE_SIZE) -> tuple[np.ndarray, np.ndarray]:
    """Upright uint8 images [N, 3, H, W] (a view of the memory map) and labels (-1 for ``unlabeled``)."""
    images = open_images(images_path(root, split), image_size)
    if split == "unlabeled":
        return to_rows(images), np.full(len(images), -1, dtype=np.int64)
    labels = read_labels(labels_path(root, split))
    if len(labels) != len(images):
        raise DatasetFileError(f"{labels_path(root, split)}: {len(labels)} labels for {len(images)} images "
                               f"in {images_path(root, split)}")
    return to_rows(images), labels


def open_saliency(path: str | os.PathLike) -> np.ndarray:
    """Memory-mapped float32 maps [N, H, W] from a ``(N, 1, H, W)`` (or ``(N, H, W)``) .npy."""
    path = Path(path)
    if not path.is_file():
        raise DatasetFileError(f"{path}: saliency file missing")
    try:
        maps = np.load(path, mmap_mode="r", allow_pickle=False)
    except Exception as e:  # bad header, truncated data
        raise DatasetFileError(f"{path}: cannot read saliency maps ({e})") from e
    if maps.ndim == 4 and maps.shape[1] == 1:
        maps = maps[:, 0]
    if maps.ndim != 3 or maps.dtype != np.float32:
        raise DatasetFileError(f"{path}: expected float32 (N, 1, H, W) saliency maps, got {maps.dtype} {maps.shape}")
    return maps


# --------------------------------------------------------------------------------------------- index

def check_saliency(maps: np.ndarray, path: Path, chunk: int = 4096) -> None:
    """Every map finite, non-negative and with positive mass (fixations are drawn from it)."""
    for start in range(0, len(maps), chunk):
        block = np.asarray(maps[start:start + chunk], dtype=np.float64)
        bad = ~np.isfinite(block).all(axis=(1, 2)) | (block < 0).any(axis=(1, 2)) | (block.sum(axis=(1, 2)) <= 0)
        if bad.any():
            i = start + int(np.flatnonzero(bad)[0])
            raise DatasetFileError(f"{path}: saliency map {i} is not a usable probability map "
                                   f"(non-finite, negative or all zero)")


def build_index(root: str | os.PathLike, saliency_root: str | os.PathLike, split: str,
                image_size: int = IMAGE_SIZE) -> dict[str, np.ndarray]:
    """Validate one split: images, labels and saliency maps agree in number and size.

    Returns ``labels`` (int64 [N], -1 for unlabeled), ``images_file`` / ``saliency_file`` (absolute paths)
    and ``image_size``. Raises DatasetFileError naming the files that disagree.
    """
    if split not in SPLITS:
        raise ValueError(f"unknown STL-10 split {split!r}; valid: {list(SPLITS)}")
    img_file, sal_file = images_path(root, split), saliency_path(saliency_root, split)
    images, labels = read_split(root, split, image_size)
    maps = open_saliency(sal_file)
    if maps.shape[0] != images.shape[0] or maps.shape[1:] != images.shape[2:]:
        raise DatasetFileError(f"{sal_file}: {maps.shape[0]} saliency maps of {maps.shape[1:]} do not match "
                               f"{img_file}: {images.shape[0]} images of {images.shape[2:]}")
    check_saliency(maps, sal_file)
    return {"labels": labels, "images_file": np.array(str(img_file.resolve())),
            "saliency_file": np.array(str(sal_file.resolve())), "image_size": np.array(image_size),
            "split": np.array(split)}


# --------------------------------------------------------------------------------------------- data

class SaccadeImages:
    """One indexed split: upright uint8 images and saliency maps, read lazily through memory maps."""

    def __init__(self, index_path: str | os.PathLike):
        index = load_index(index_path)
        self.index_path = str(index_path)
        self.labels = index["labels"]
        self.image_size = int(index["image_size"])
        self.images = to_rows(open_images(str(index["images_file"]), self.image_size))
        self.saliency = open_saliency(str(index["saliency_file"]))
        if len(self.images) != len(self.labels) or len(self.saliency) != len(self.labels):
            raise DatasetFileError(f"{index_path}: index is stale ({len(self.labels)} labels, {len(self.images)} "
                                   f"images, {len(self.saliency)} saliency maps); rebuild it")

    def __len__(self) -> int:
        return len(self.labels)

    def batch(self, indices: np.ndarray, device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """uint8 images [B, 3, H, W], float32 saliency [B, H, W], labels [B] on ``device``."""
        order = np.argsort(indices)  # memory maps read fastest in file order
        rows = np.empty_like(order)
        rows[order] = np.arange(len(order))
        images = np.ascontiguousarray(self.images[indices[order]])[rows]
        maps = np.asarray(self.saliency[indices[order]], dtype=np.float32)[rows]
        return (torch.from_numpy(images).to(device), torch.from_numpy(maps).to(device),
                torch.from_numpy(self.labels[indices]).to(device))


def batch_generator(device: torch.device, *keys: int) -> torch.Generator:
    """A generator on ``device`` seeded by the integers in ``keys`` (run seed, epoch, step, ...)."""
    seed = 0
    for k in keys:
        seed = (seed * 1_000_003 + int(k)) % (2**62)
    return torch.Generator(device=device).manual_seed(seed)


@dataclass
class SaccadeStream:
    """Epochs of device-side ``SequenceBatch``es of fixation sequences (``BatchStream``'s interface).

    The order of images is a pure function of (seed, epoch) and each batch's fixations a pure function of
    (seed, epoch, step), so a job resumed mid-epoch sees exactly the data of an uninterrupted one.
    """

    data: SaccadeImages
    sampler: FixationSampler
    num_views: int
    batch_size: int
    seed: int
    device: torch.device
    shuffle: bool = True
    drop_last: bool = True
    rank: int = 0
    world_size: int = 1

    def num_batches(self) -> int:
        n = len(self.data)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def epoch(self, epoch: int, skip: int = 0) -> Iterator[SequenceBatch]:
        from seqjepa_core.data.loading import epoch_batches
        batches = epoch_batches(len(self.data), self.batch_size, self.seed, epoch, self.shuffle, self.drop_last,
                                self.rank, self.world_size)
        for step in range(skip, len(batches)):
            g = batch_generator(self.device, self.seed, epoch, step, self.rank)
            yield self.sampler.batch(*self.data.batch(np.asarray(batches[step]), self.device), self.num_views, g)


def build_stream(index_path: str, options: dict, num_views: int, batch_size: int, seed: int,
                 device: torch.device, shuffle: bool = True, drop_last: bool = True, rank: int = 0,
                 world_size: int = 1) -> SaccadeStream:
    opts = options if isinstance(options, SaccadeOptions) else parse_saccade_options(options, "data")
    data = SaccadeImages(index_path)
    sampler = FixationSampler(opts, image_size=data.image_size, mean=MEAN, std=STD)
    return SaccadeStream(data, sampler, num_views, batch_size, seed, device, shuffle, drop_last, rank, world_size)


def relative_actions(latents: torch.Tensor, kind: str = "position") -> torch.Tensor:
    """Actions between consecutive fixations from their normalised positions [B, V, 2] -> [B, V-1, 2]."""
    if kind not in ACTION_DIMS:
        raise ValueError(f"unknown action kind {kind!r}; expected one of {sorted(ACTION_DIMS)}")
    return relative_positions(latents)
