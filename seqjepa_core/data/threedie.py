"""3DIEBench (Garrido et al. 2023): a validated index, a sequence dataset and its batched actions.

On disk (facebookresearch/SIE): ``root/<synset>/<object>/image_{0..49}.jpg`` + ``latent_{0..49}.npy`` (7 floats:
``LATENT_NAMES``), and split files ``{train,val}_images.npy`` (object paths "/<synset>/<object>/") and
``{train,val}_labels.npy`` (index of the synset in sorted synset order).

Pipeline: ``build_index`` checks every file once and stores labels + all latents in one .npz per split, so
training never opens a latent file. ``ThreeDIEBenchSequences`` returns uint8 images (decoded at the target size)
and raw latents; ``seqjepa_core.data.loading.BatchStream`` moves them to the device, normalises there, and
computes the actions with ``relative_actions`` (relative rotation quaternions, hue differences) batched, where the
official loader calls scipy per sample.
"""

from __future__ import annotations

import hashlib
import io
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset
from tqdm import tqdm

from seqjepa_core.data.errors import DatasetFileError
from seqjepa_core.geometry import relative_rotation_quaternion
from seqjepa_core.io import atomic_path

NUM_VIEWS = 50
LATENT_NAMES = ("rot_x", "rot_y", "rot_z", "floor_hue", "spot_theta", "spot_phi", "spot_hue")
COLOR_LATENTS = (3, 6)  # floor_hue, spot_hue: the colour action is their difference
MEAN = (0.5016, 0.5037, 0.5060)
STD = (0.1030, 0.0999, 0.0969)
# "none" (no action conditioning) still carries rotation actions; the method decides whether to use them.
ACTION_DIMS = {"rotation": 4, "rotcolor": 6, "none": 4}


# --------------------------------------------------------------------------------------------- index

def list_synsets(root: str | os.PathLike) -> list[str]:
    """Sorted synset folders under ``root``: a class label is an index into this list."""
    return sorted(e.name for e in os.scandir(root) if e.is_dir() and e.name.isdigit())


def check_jpeg(path: Path, full_decode: bool = False) -> tuple[int, int]:
    """(width, height) of a JPEG; raises DatasetFileError naming ``path`` if it is missing or damaged.

    The cheap check reads the header and requires the end-of-image marker at the end of the file, which
    catches truncation (entropy-coded data cannot contain FFD9, so the marker is unambiguous); ``full_decode``
    additionally decodes every pixel.
    """
    try:
        data = path.read_bytes()
    except OSError as e:
        raise DatasetFileError(f"{path}: cannot read image ({e.strerror or e})") from e
    if not data.startswith(b"\xff\xd8"):
        raise DatasetFileError(f"{path}: not a JPEG (no start-of-image marker)")
    if not data.rstrip(b"\x00").endswith(b"\xff\xd9"):
        raise DatasetFileError(f"{path}: truncated JPEG (no end-of-image marker)")
    try:
        with Image.open(io.BytesIO(data)) as im:
            if im.format != "JPEG":
                raise DatasetFileError(f"{path}: {im.format} image, expected JPEG")
            if full_decode:
                im.load()
            return im.size
    except DatasetFileError:
        raise
    except Exception as e:  # PIL raises OSError/SyntaxError/ValueError on damaged data
        raise DatasetFileError(f"{path}: undecodable JPEG ({e})") from e


def load_latent(path: Path) -> np.ndarray:
    """The 7 factors of one view as float32; raises DatasetFileError naming ``path``."""
    try:
        lat = np.load(path, allow_pickle=False)
    except Exception as e:  # missing file, bad header, truncated data
        raise DatasetFileError(f"{path}: cannot read latent ({e})") from e
    if lat.size != len(LATENT_NAMES) or not np.issubdtype(lat.dtype, np.number):
        raise DatasetFileError(f"{path}: expected {len(LATENT_NAMES)} numbers, got {lat.dtype} {lat.shape}")
    lat = lat.reshape(-1).astype(np.float32)
    if not np.isfinite(lat).all():
        raise DatasetFileError(f"{path}: non-finite latent {lat}")
    return lat


def _check_object(root: Path, rel: str, view_ids: Sequence[int], full_decode: bool
                  ) -> tuple[np.ndarray, set[tuple[int, int]]]:
    folder = root / rel.strip("/")
    if not folder.is_dir():
        raise DatasetFileError(f"{folder}: object folder missing")
    sizes = {check_jpeg(folder / f"image_{i}.jpg", full_decode) for i in view_ids}
    return np.stack([load_latent(folder / f"latent_{i}.npy") for i in view_ids]), sizes


def build_index(root: str | os.PathLike, splits_dir: str | os.PathLike, split: str, num_views: int = NUM_VIEWS,
                full_decode: bool = False, workers: int = 8, synsets: Sequence[str] | None = None,
                view_ids: Sequence[int] | None = None) -> dict[str, np.ndarray]:
    """Validate every object of ``split`` and gather its labels and latents.

    Returns ``paths`` (str [N]), ``labels`` (int64 [N]), ``latents`` (float32 [N, V, 7]), ``synsets``
    (str [C], sorted), ``image_size`` (int64 [2], width and height shared by every image) and ``view_ids``
    (int64 [V]: the file numbers ``i`` of ``image_i.jpg`` behind latents[:, v]; default 0..num_views-1).
    ``synsets``: the class vocabulary labels index into (default: the synset folders under ``root``); an
    evaluation-only set such as 3DIEBench-OOD passes the training set's, so its labels mean the same classes.
    Raises DatasetFileError naming the first bad file, or the object whose label breaks the sorted-synset rule.
    """
    root, splits_dir = Path(root), Path(splits_dir)
    paths = np.load(splits_dir / f"{split}_images.npy", allow_pickle=False).astype(str)
    labels = np.load(splits_dir / f"{split}_labels.npy", allow_pickle=False)
    if paths.ndim != 1 or labels.shape != paths.shape:
        raise DatasetFileError(f"{splits_dir / f'{split}_labels.npy'}: {labels.shape} labels for {paths.shape} objects")
    synsets = list(synsets) if synsets is not None else list_synsets(root)
    view_ids = list(range(num_views)) if view_ids is None else [int(v) for v in view_ids]
    synset_index = {s: i for i, s in enumerate(synsets)}
    for rel, label in zip(paths, labels):
        synset = rel.strip("/").split("/")[0]
        if synset not in synset_index:
            raise DatasetFileError(f"{root / synset}: synset of {rel} is not one of the {len(synsets)} classes "
                                   f"(the synset folders under the root, or the training classes)")
        if synset_index[synset] != label:
            raise DatasetFileError(f"{root / rel.strip('/')}: label {label} but synset {synset} is class "
                                   f"{synset_index[synset]} in sorted synset order")
    latents = np.empty((len(paths), len(view_ids), len(LATENT_NAMES)), dtype=np.float32)
    sizes: set[tuple[int, int]] = set()
    with ThreadPoolExecutor(max(1, workers)) as pool:  # file reads and decoding release the GIL
        results = pool.map(lambda rel: _check_object(root, rel, view_ids, full_decode), paths)
        for i, (lat, obj_sizes) in enumerate(tqdm(results, total=len(paths), desc=f"index {split}", unit="obj")):
            latents[i] = lat
            sizes |= obj_sizes
            if len(sizes) > 1:
                raise DatasetFileError(f"{root / paths[i].strip('/')}: image sizes {sorted(sizes)} differ")
    return {"paths": paths, "labels": labels.astype(np.int64), "latents": latents,
            "synsets": np.array(synsets, dtype=str), "image_size": np.array(sizes.pop() if sizes else (0, 0)),
            "view_ids": np.array(view_ids, dtype=np.int64)}


# --------------------------------------------------------------------------------------------- trees

def list_tree(root: str | os.PathLike) -> list[str]:
    """Every object folder of a 3DIEBench-style tree as "/<synset>/<object>/", sorted (split-file spelling)."""
    return sorted(f"/{s.name}/{o.name}/" for s in os.scandir(root) if s.is_dir() and s.name.isdigit()
                  for o in os.scandir(s.path) if o.is_dir())


def tree_view_ids(root: str | os.PathLike, objects: Sequence[str]) -> list[int]:
    """The view numbers every object shares (``image_i.jpg`` + ``latent_i.npy`` both present).

    3DIEBench has views 0..49; the released 3DIEBench-OOD render script writes fewer (paper reference §3:
    4 views, numbered 2..5), so evaluation sets are indexed by the views they actually hold. An object whose
    views differ from the first object's is an error naming its folder.
    """
    def views(rel: str) -> list[int]:
        folder = Path(root) / rel.strip("/")
        names = {e.name for e in os.scandir(folder)} if folder.is_dir() else set()
        return sorted(int(n[6:-4]) for n in names if n.startswith("image_") and n.endswith(".jpg")
                      and n[6:-4].isdigit() and f"latent_{n[6:-4]}.npy" in names)

    if not objects:
        raise DatasetFileError(f"{root}: no <synset>/<object>/ folders")
    first = views(objects[0])
    if not first:
        raise DatasetFileError(f"{Path(root) / objects[0].strip('/')}: no image_<i>.jpg with its latent_<i>.npy")
    for rel in objects[1:]:
        if (got := views(rel)) != first:
            raise DatasetFileError(f"{Path(root) / rel.strip('/')}: views {got}, but {objects[0]} has {first}")
    return first


def check_split_matches_tree(root: str | os.PathLike, splits_dir: str | os.PathLike, split: str,
                             synsets: Sequence[str]) -> list[str]:
    """An evaluation set's split files must describe exactly its tree: every listed object present, every
    object of the tree listed, every label the index of its synset in ``synsets``. Returns the listed paths;
    a mismatch is a DatasetFileError naming the split file."""
    images, labels_file = Path(splits_dir) / f"{split}_images.npy", Path(splits_dir) / f"{split}_labels.npy"
    try:
        listed = [str(p) for p in np.load(images, allow_pickle=False)]
        labels = np.load(labels_file, allow_pickle=False)
    except Exception as e:
        raise DatasetFileError(f"{images}: cannot read the split files ({e})") from e
    norm = {f"/{p.strip('/')}/": p for p in listed}
    tree = set(list_tree(root))
    if missing := sorted(set(norm) - tree):
        raise DatasetFileError(f"{images}: lists {len(missing)} object(s) not under {root}, e.g. {missing[0]}")
    if extra := sorted(tree - set(norm)):
        raise DatasetFileError(f"{images}: {root} holds {len(extra)} object(s) it does not list, e.g. {extra[0]}")
    if labels.shape != (len(listed),):
        raise DatasetFileError(f"{labels_file}: {labels.shape} labels for {len(listed)} objects in {images}")
    index = {s: i for i, s in enumerate(synsets)}
    for rel, label in zip(listed, labels):
        synset = rel.strip("/").split("/")[0]
        if index.get(synset) != int(label):
            raise DatasetFileError(f"{labels_file}: {rel} has label {int(label)}, but synset {synset} is class "
                                   f"{index.get(synset, 'none')} of the training classes")
    return listed


def write_split_files(splits_dir: str | os.PathLike, split: str, paths: Sequence[str],
                      synsets: Sequence[str]) -> None:
    """``{split}_images.npy`` / ``{split}_labels.npy`` for ``paths``, labelled by position in ``synsets``."""
    index = {s: i for i, s in enumerate(synsets)}
    labels = []
    for rel in paths:
        synset = rel.strip("/").split("/")[0]
        if synset not in index:
            raise DatasetFileError(f"{rel}: synset {synset} is not one of the {len(synsets)} training classes")
        labels.append(index[synset])
    out = Path(splits_dir)
    for name, arr in ((f"{split}_images.npy", np.array(list(paths))), (f"{split}_labels.npy", np.array(labels, np.int64))):
        with atomic_path(out / name) as tmp, open(tmp, "wb") as f:
            np.save(f, arr)


def build_eval_index(root: str | os.PathLike, splits_dir: str | os.PathLike, split: str, synsets: Sequence[str],
                     full_decode: bool = False, workers: int = 8) -> dict[str, np.ndarray]:
    """Index an evaluation-only tree (3DIEBench-OOD) labelled with the training ``synsets``.

    Split files, when ``splits_dir`` has them, must match the tree (``check_split_matches_tree``); without them
    the tree itself is the listing (the Hub release publishes none), written to ``splits_dir`` so the objects
    probed are on record. Views: those every object holds (``tree_view_ids``).
    """
    if (Path(splits_dir) / f"{split}_images.npy").exists():
        paths = check_split_matches_tree(root, splits_dir, split, synsets)
    else:
        paths = list_tree(root)
        write_split_files(splits_dir, split, paths, synsets)
    view_ids = tree_view_ids(root, paths)
    return build_index(root, splits_dir, split, full_decode=full_decode, workers=workers, synsets=synsets,
                       view_ids=view_ids)


def write_index(index: dict[str, np.ndarray], path: str | os.PathLike, compress: bool = True) -> None:
    """Save atomically (temporary file, then rename): an interrupted run never leaves a half-written index.
    ``compress=False`` for arrays that do not compress (packed images): loading is then one read."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as f:
        (np.savez_compressed if compress else np.savez)(f, **index)
    os.replace(tmp, path)


def load_index(path: str | os.PathLike) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


# --------------------------------------------------------------------------------------------- dataset

try:  # libjpeg-turbo's scaled decode without PIL's Python-level header parsing: ~3x faster per view
    import simplejpeg
except ImportError:  # PIL's draft gives the same pixels, only slower
    simplejpeg = None


def decode_view(path: str, img_size: int) -> np.ndarray:
    """uint8 [img_size, img_size, 3] from a JPEG file.

    Measured on 256 px renders at 1 thread, per view: PIL full decode + bilinear resize (the official path)
    0.95 ms, torchvision decode_jpeg + antialiased resize 0.54 ms, PIL ``draft`` 0.35-0.41 ms, simplejpeg
    0.13 ms. Both of the last two make libjpeg decode straight at 1/2, 1/4 or 1/8 scale (DCT scaling), i.e. a
    256 px image at 128 px with no resize step, and give identical pixels; they differ from the official
    bilinear resize by ~0.5 grey levels on average. Sizes that are not such a ratio are finished with PIL's
    bilinear resize, the default of torchvision's ``Resize`` on PIL images.
    """
    if simplejpeg is not None:
        with open(path, "rb") as f:
            img = simplejpeg.decode_jpeg(f.read(), colorspace="RGB", min_height=img_size, min_width=img_size)
        if img.shape[:2] == (img_size, img_size):
            return img
        return np.asarray(Image.fromarray(img).resize((img_size, img_size), Image.BILINEAR))
    with Image.open(path) as im:
        im.draft("RGB", (img_size, img_size))  # no-op unless the image is >= 2x larger
        im = im.convert("RGB")
        if im.size != (img_size, img_size):
            im = im.resize((img_size, img_size), Image.BILINEAR)
        return np.asarray(im)


def item_seed(seed: int, epoch: int, idx: int) -> int:
    """A well-mixed 63-bit seed per (run seed, epoch, item): neighbouring items get unrelated streams."""
    digest = hashlib.blake2b(f"{seed}/{epoch}/{idx}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 1


class ThreeDIEBenchSequences(Dataset):
    """Each item: ``num_views`` distinct views of one object, in random order (official loader's sampling).

    The views depend only on (seed, epoch, item index), so a resumed run sees exactly the views of an
    uninterrupted one whatever the worker count; call ``set_epoch`` each epoch (``BatchStream.epoch`` does).
    ``views_subset`` restricts which of the object's views may be drawn.
    """

    def __init__(self, index_path: str | os.PathLike, root: str | os.PathLike, num_views: int, img_size: int = 128,
                 seed: int = 0, views_subset: Sequence[int] | None = None):
        index = load_index(index_path)
        self.paths, self.labels, self.latents = index["paths"], index["labels"], index["latents"]
        self.synsets = [str(s) for s in index["synsets"]]
        # file number of each indexed view (older indices: 0..V-1); 3DIEBench-OOD holds e.g. image_2..image_5
        self.view_files = index.get("view_ids", np.arange(self.latents.shape[1]))
        self.root, self.num_views, self.img_size, self.seed, self.epoch = str(root), num_views, img_size, seed, 0
        total = self.latents.shape[1]
        self.view_pool = np.arange(total) if views_subset is None else np.unique(np.asarray(views_subset))
        if not 1 <= num_views <= len(self.view_pool) or self.view_pool.min() < 0 or self.view_pool.max() >= total:
            raise ValueError(f"cannot draw {num_views} distinct views from {self.view_pool.tolist()} of {total}")

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.paths)

    def view_indices(self, idx: int) -> np.ndarray:
        g = torch.Generator().manual_seed(item_seed(self.seed, self.epoch, idx))
        return self.view_pool[torch.randperm(len(self.view_pool), generator=g)[:self.num_views].numpy()]

    def __getitem__(self, idx: int) -> dict[str, Any]:
        views = self.view_indices(idx)
        folder = os.path.join(self.root, self.paths[idx].strip("/"))
        images = np.stack([decode_view(os.path.join(folder, f"image_{self.view_files[v]}.jpg"), self.img_size)
                           for v in views])
        return {"images": torch.from_numpy(images).permute(0, 3, 1, 2),  # uint8 [V, 3, H, W]
                "latents": torch.from_numpy(self.latents[idx, views]),  # float32 [V, 7]
                "label": int(self.labels[idx]), "views": torch.from_numpy(views)}


# --------------------------------------------------------------------------------------------- batches

def relative_actions(latents: torch.Tensor, kind: str) -> torch.Tensor:
    """Actions between consecutive views, [B, V, 7] -> [B, V-1, ACTION_DIMS[kind]].

    Rotation: quaternion (x, y, z, w) of R_i^{-1} R_{i+1}, signed like the official scipy code; computed in
    float64 (as scipy does) from the float32 latents, then cast back. "rotcolor" appends the change of
    [floor_hue, spot_hue].
    """
    if kind not in ACTION_DIMS:
        raise ValueError(f"unknown action kind {kind!r}; expected one of {sorted(ACTION_DIMS)}")
    hi = torch.float32 if latents.device.type == "mps" else torch.float64
    rot = relative_rotation_quaternion(latents[:, :-1, :3].to(hi), latents[:, 1:, :3].to(hi)).to(latents.dtype)
    if kind != "rotcolor":
        return rot
    colour = latents[:, :, list(COLOR_LATENTS)]
    return torch.cat([rot, colour[:, 1:] - colour[:, :-1]], dim=-1)


Sequences = ThreeDIEBenchSequences  # the name seqjepa_core.data.loading looks up
