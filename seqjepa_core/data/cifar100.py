"""CIFAR-100, the "python version" archive (Krizhevsky): reader, packed index, augmented sequences.

On disk (what ``cifar-100-python.tar.gz`` extracts to, and what torchvision's ``CIFAR100(root)`` reads):
``root/cifar-100-python/{train,test,meta}``, each a pickle. ``train``/``test`` hold ``data`` (uint8
[N, 3072], each row the R, G and B planes of a 32x32 image, row-major) and ``fine_labels``; ``meta`` holds
``fine_label_names``. Files are read with ``encoding="latin1"`` as the archive was pickled by Python 2.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np

from seqjepa_core.data.errors import DatasetFileError
from seqjepa_core.data.image_arrays import ACTION_DIMS, ImageSequences, device_batch, pack  # noqa: F401

FOLDER = "cifar-100-python"
SPLITS = ("train", "test")
IMAGE_SIZE = 32
# The paper states these constants (§5.1); the official code normalises with CIFAR-100's own statistics.
MEAN, STD = (0.4914, 0.4822, 0.4465), (0.247, 0.243, 0.261)
NORMALIZATION = {"paper": (MEAN, STD), "official": ((0.5071, 0.4867, 0.4408), (0.2675, 0.2565, 0.2761))}


def _unpickle(path: Path) -> dict:
    try:
        with open(path, "rb") as f:
            obj = pickle.load(f, encoding="latin1")
    except FileNotFoundError:
        raise DatasetFileError(f"{path}: missing (expected the extracted {FOLDER} archive)") from None
    except Exception as e:  # truncated or not a pickle
        raise DatasetFileError(f"{path}: unreadable pickle ({e})") from e
    if not isinstance(obj, dict):
        raise DatasetFileError(f"{path}: expected a dict, got {type(obj).__name__}")
    return obj


def read_split(root: str | os.PathLike, split: str) -> dict[str, np.ndarray]:
    """One split as a packed index (images [N, 32, 32, 3] uint8, fine labels, the 100 class names)."""
    if split not in SPLITS:
        raise ValueError(f"unknown CIFAR-100 split {split!r}; valid: {list(SPLITS)}")
    folder = Path(root) / FOLDER
    meta = _unpickle(folder / "meta")
    batch = _unpickle(folder / split)
    for key, where in (("fine_label_names", folder / "meta"), ("data", folder / split), ("fine_labels", folder / split)):
        if key not in (meta if where.name == "meta" else batch):
            raise DatasetFileError(f"{where}: no {key!r} entry")
    data = np.asarray(batch["data"])
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * IMAGE_SIZE ** 2:
        raise DatasetFileError(f"{folder / split}: 'data' is {data.dtype} {data.shape}, expected uint8 [N, 3072]")
    images = data.reshape(-1, 3, IMAGE_SIZE, IMAGE_SIZE).transpose(0, 2, 3, 1)  # planes -> HWC
    return pack(images, np.asarray(batch["fine_labels"]), list(meta["fine_label_names"]), str(folder / split))


Sequences = ImageSequences  # the names seqjepa_core.data.loading looks up
