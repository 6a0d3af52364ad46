"""ImageNet-1k with DeepGaze IIE saliency maps (paper App. B.10, Fig. 15): reader, validated index, loader.

Only the transfer probe reads it: a frozen STL-10 model is probed on ImageNet fixations, nothing is
pretrained here. Where the data come from:

- **Images**: ILSVRC2012 from image-net.org (an account is needed, so nothing downloads them). The pipeline
  reads a local copy laid out as torchvision's ``ImageFolder`` / ``ImageNet`` and the official loader expect:
  ``<image_root>/{train,val}/<wnid>/*.JPEG`` (the validation images sorted into class folders, e.g. by
  ``torchvision.datasets.ImageNet(root, split="val")`` from the devkit, or the usual ``valprep.sh``).
- **Saliency maps**: the HF dataset ``Hafez/ImageNet1k-Saliency-Maps``: one float32 probability map per
  image at the image's native resolution. Its file layout cannot be seen offline, so the name of a map
  relative to ``<saliency_root>/<split>/`` is a template (config ``transfer.<name>.saliency_name``); the
  default ``<wnid>/<stem>_sal.npy`` is what the official ``Imagenet1k_Sal`` loader reads (its extraction
  script writes ``<stem>-sal.npy`` instead).

``build_index`` pairs every image with its map and checks each pair once (a missing map or a map whose size
is not its image's names both files). ``SaliencyImageFolder`` decodes an image and its map, resizes both to
``image_size`` x ``image_size`` (paper: 224) and renormalises the map; the fixation sampler then runs
batched on the device (``seqjepa_core.probe_samplers.imagenet_transfer``).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
from torchvision.transforms.v2 import functional as TF

from seqjepa_core.data.errors import DatasetFileError
from seqjepa_core.data.threedie import load_index, write_index  # noqa: F401 (npz indices)

SPLITS = ("train", "val")
IMAGE_SIZE = 224
MEAN = (0.485, 0.456, 0.406)     # the official transfer's torchvision ImageNet normalisation
STD = (0.229, 0.224, 0.225)
ACTION_DIMS = {"position": 2}
EXTENSIONS = (".jpeg", ".jpg", ".png")
SALIENCY_NAME = "<wnid>/<stem>_sal.npy"


# --------------------------------------------------------------------------------------------- files

def class_folders(image_root: str | os.PathLike, split: str) -> list[str]:
    """The WordNet ids (class folders) of a split, sorted: class id = position (torchvision's ImageFolder)."""
    folder = Path(image_root) / split
    if not folder.is_dir():
        raise DatasetFileError(f"{folder}: missing; expected ILSVRC2012 {split} images in <wnid>/*.JPEG folders")
    wnids = sorted(d.name for d in folder.iterdir() if d.is_dir())
    if not wnids:
        raise DatasetFileError(f"{folder}: no class folders (<wnid>/*.JPEG)")
    return wnids


def saliency_path(saliency_root: str | os.PathLike, split: str, image: str | os.PathLike,
                  name: str = SALIENCY_NAME) -> Path:
    """Where the map of ``image`` (``.../<wnid>/<stem>.JPEG``) lies under the ``name`` template."""
    image = Path(image)
    return Path(saliency_root) / split / name.replace("<wnid>", image.parent.name).replace("<stem>", image.stem)


def read_saliency(path: str | os.PathLike) -> np.ndarray:
    """A float map [H, W] from a ``(H, W)`` or ``(1, H, W)`` .npy (memory-mapped: only the header is read)."""
    try:
        sal = np.load(path, mmap_mode="r", allow_pickle=False)
    except FileNotFoundError:
        raise DatasetFileError(f"{path}: saliency file missing") from None
    except Exception as e:  # a bad header, an HTML error page, a truncated file
        raise DatasetFileError(f"{path}: cannot read saliency map ({e})") from e
    if sal.ndim == 3 and sal.shape[0] == 1:
        sal = sal[0]
    if sal.ndim != 2 or not np.issubdtype(sal.dtype, np.floating):
        raise DatasetFileError(f"{path}: expected a float (H, W) saliency map, got {sal.dtype} {sal.shape}")
    return sal


def image_shape(path: str | os.PathLike) -> tuple[int, int]:
    """(H, W) of an image from its header alone."""
    from PIL import Image
    try:
        with Image.open(path) as im:
            return im.height, im.width
    except Exception as e:
        raise DatasetFileError(f"{path}: cannot read image ({e})") from e


def check_pair(image: Path, saliency: Path, saliency_size: int | None) -> None:
    """The map exists and has its image's size (``saliency_size`` None: native maps) or the stored size."""
    shape = read_saliency(saliency).shape
    want = image_shape(image) if saliency_size is None else (saliency_size, saliency_size)
    if shape != want:
        raise DatasetFileError(f"{saliency}: saliency map of {shape[0]}x{shape[1]} does not match {image}: "
                               f"expected {want[0]}x{want[1]}"
                               + (" (the image's native size)" if saliency_size is None else ""))


# --------------------------------------------------------------------------------------------- index

def build_index(image_root: str | os.PathLike, saliency_root: str | os.PathLike, split: str,
                saliency_name: str = SALIENCY_NAME, saliency_size: int | None = None,
                wnids: list[str] | None = None, per_class: int | None = None, missing: str = "error",
                image_size: int = IMAGE_SIZE, workers: int = 8) -> dict[str, np.ndarray]:
    """Pair the images of one split with their saliency maps and check every pair.

    ``wnids``: the class list (the training split's, so that class ids agree across splits; a class folder
    outside it is an error). ``per_class``: keep the first N images of each class (sorted names).
    ``missing``: ``error`` (a missing map names the image and the expected map) or ``skip`` (the official
    loader drops such images). Returns ``images``, ``saliency`` (paths relative to ``image_root`` and
    ``saliency_root``, which it holds too; ``pair_paths`` joins them), ``labels``, ``wnids`` and
    ``image_size`` (the side images and maps are resized to when read).
    """
    if split not in SPLITS:
        raise ValueError(f"unknown ImageNet split {split!r}; valid: {list(SPLITS)}")
    if missing not in ("error", "skip"):
        raise ValueError(f"missing: {missing!r} is not one of ['error', 'skip']")
    found = class_folders(image_root, split)
    wnids = list(found if wnids is None else wnids)
    extra = sorted(set(found) - set(wnids))
    if extra:
        raise DatasetFileError(f"{Path(image_root) / split}: class folders {extra[:5]} are not among the "
                               f"{len(wnids)} training classes")
    images, maps, labels = [], [], []
    for label, wnid in enumerate(wnids):
        folder = Path(image_root) / split / wnid
        files = sorted(p for p in folder.iterdir() if p.suffix.lower() in EXTENSIONS) if folder.is_dir() else []
        kept = 0
        for img in files:
            sal = saliency_path(saliency_root, split, img, saliency_name)
            if not sal.is_file():
                if missing == "skip":
                    continue
                raise DatasetFileError(f"{sal}: saliency map missing for {img}")
            images.append(img)
            maps.append(sal)
            labels.append(label)
            kept += 1
            if per_class is not None and kept == per_class:
                break
    if not images:
        raise DatasetFileError(f"{Path(image_root) / split}: no image with a saliency map under "
                               f"{Path(saliency_root) / split}")
    with ThreadPoolExecutor(max(1, workers)) as pool:  # headers only: I/O bound
        list(pool.map(lambda pair: check_pair(*pair, saliency_size), zip(images, maps)))
    # paths relative to the roots (1.28M absolute paths would weigh ~1 GB as numpy strings in every worker);
    # not resolved: a map may be a symlink into a Hub cache outside the root
    image_root, saliency_root = Path(image_root).absolute(), Path(saliency_root).absolute()
    return {"images": np.array([str(p.absolute().relative_to(image_root)) for p in images]),
            "saliency": np.array([str(p.absolute().relative_to(saliency_root)) for p in maps]),
            "image_root": np.array(str(image_root)), "saliency_root": np.array(str(saliency_root)),
            "labels": np.array(labels, dtype=np.int64),
            "wnids": np.array(wnids), "split": np.array(split), "image_size": np.array(image_size)}


# --------------------------------------------------------------------------------------------- loading

def decode_rgb(path: str) -> torch.Tensor:
    """uint8 [3, H, W] at the native size (PIL: grey and CMYK JPEGs, of which ImageNet has a few, become RGB)."""
    from PIL import Image
    try:
        with Image.open(path) as im:
            return torch.from_numpy(np.array(im.convert("RGB"))).permute(2, 0, 1).contiguous()
    except Exception as e:
        raise DatasetFileError(f"{path}: cannot read image ({e})") from e


def resize_image(image: torch.Tensor, size: int) -> torch.Tensor:
    """uint8 [3, H, W] -> uint8 [3, size, size]: bilinear with antialiasing (PIL's resize), aspect not kept
    (the paper resizes images and maps to 224 x 224)."""
    return TF.resize(image, [size, size], interpolation=TF.InterpolationMode.BILINEAR, antialias=True)


def resize_saliency(sal: np.ndarray, size: int, where: str) -> torch.Tensor:
    """A probability map resized like its image and renormalised to sum 1 (the filter's weights are >= 0,
    so the map stays non-negative)."""
    m = torch.from_numpy(np.array(sal, dtype=np.float32))  # a writable copy of the memory map
    if not torch.isfinite(m).all() or (m < 0).any():
        raise DatasetFileError(f"{where}: saliency map has negative or non-finite values")
    m = TF.resize(m[None], [size, size], interpolation=TF.InterpolationMode.BILINEAR, antialias=True)[0]
    total = m.sum()
    if total <= 0:
        raise DatasetFileError(f"{where}: saliency map has no mass")
    return m / total


def read_pair(image: str, saliency: str, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """An image and its map, both ``size`` x ``size``: uint8 [3, S, S] and float32 [S, S] summing to 1."""
    img, sal = decode_rgb(image), read_saliency(saliency)
    if sal.shape != tuple(img.shape[1:]) and sal.shape != (size, size):
        raise DatasetFileError(f"{saliency}: saliency map of {sal.shape[0]}x{sal.shape[1]} does not match "
                               f"{image}: {img.shape[1]}x{img.shape[2]}")
    return resize_image(img, size), resize_saliency(sal, size, saliency)


def pair_paths(index: dict, i: int) -> tuple[str, str]:
    """The absolute image and saliency-map paths of item ``i`` of an index."""
    return (os.path.join(str(index["image_root"]), str(index["images"][i])),
            os.path.join(str(index["saliency_root"]), str(index["saliency"][i])))


class SaliencyImageFolder(torch.utils.data.Dataset):
    """One indexed split: (uint8 image [3, S, S], float32 saliency [S, S], label) per item."""

    def __init__(self, index_path: str | os.PathLike):
        self.index = load_index(index_path)
        self.labels, self.wnids, self.image_size = self.index["labels"], self.index["wnids"], int(self.index["image_size"])
        if not (len(self.index["images"]) == len(self.index["saliency"]) == len(self.labels)):
            raise DatasetFileError(f"{index_path}: index arrays differ in length; rebuild it")

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor, int]:
        img, sal = read_pair(*pair_paths(self.index, i), self.image_size)
        return img, sal, int(self.labels[i])


def loader(data: SaliencyImageFolder, batch_size: int, num_workers: int, device: torch.device):
    """Batches in index order (the probe shuffles features itself); decoding runs in worker processes."""
    return torch.utils.data.DataLoader(data, batch_size=batch_size, shuffle=False, num_workers=num_workers,
                                       pin_memory=device.type == "cuda", persistent_workers=False)
