"""A miniature STL-10 with saliency maps, generated in the real on-disk formats (the demo and the tests).

``<root>/stl10_binary/{train,test,unlabeled}_X.bin`` + ``{train,test}_y.bin`` as in ``stl10_binary.tar.gz``
(96 x 96, column-major uint8, labels 1..K) and ``<saliency_root>/<split>/saliency_<split>.npy`` (float32
(N, 1, 96, 96) probability maps) as in ``Hafez/salmap-stl10``.

Each image shows an object made of coloured discs under a light that dims from the top row to the
bottom one and warms from the left column to the right one, discs included, so any glimpse tells where it
is. The class is the unordered pair of disc colours: one glimpse sees one disc and leaves the class
ambiguous; glimpses on both colours decide it, which is what makes aggregating more glimpses pay off. The
saliency mass sits on the discs. The discs are large (radius 12 of 96 px) so that a 16 px glimpse on a disc
mostly shows its colour: with radius 7 a random encoder's aggregate beat the trained one's (70 vs 55 %
top-1 at M_val 4 in the demo), with radius 12 the trained one wins (78 vs 71 %).

``discs_per_colour`` (default 1) scatters more discs of the same two colours over the image, so the
fixations, which follow the saliency on the discs, spread over the whole image: where the next glimpse
lands, and so how it is lit, is then barely predictable from where the earlier ones were unless the saccade
is known, which lets a no-action model drop the position that an action-conditioned one keeps. ``light``
and ``tint`` (defaults 0.5 and 0.1, the original images byte for byte) set the two position cues. The demo
uses 2 discs per colour and tint 0.25 with 24 epochs of seq-JEPA (README, STL-10 demo trials: with one disc
or the weak tint the two models kept nearly the same position).
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import numpy as np

from seqjepa_core.download import write_marker

PALETTE = np.array([[0.9, 0.1, 0.1], [0.1, 0.8, 0.1], [0.15, 0.25, 0.95], [0.95, 0.85, 0.1]], dtype=np.float32)
CLASS_PAIRS = list(itertools.combinations(range(len(PALETTE)), 2))   # 6 classes
LIGHT, TINT = 0.5, 0.1   # how strongly the light changes over the image: weak enough that the position is
                         # a cue to learn, not what every random feature already shows
SEPARATION = 2.4         # minimum distance between disc centres, in radii
MAX_LAYOUT_TRIES = 10_000


def disc_centres(rng: np.random.Generator, n: int, size: int, radius: float) -> np.ndarray:
    """[n, 2] (row, col) centres of n discs inside the image, pairwise at least SEPARATION radii apart
    (rejection sampling; for n = 2 the draws of the original two-disc generator)."""
    margin = radius + 2
    for _ in range(MAX_LAYOUT_TRIES):
        centres = rng.uniform(margin, size - 1 - margin, size=(n, 2))
        gaps = np.linalg.norm(centres[:, None] - centres[None], axis=-1)
        if gaps[np.triu_indices(n, 1)].min(initial=np.inf) > SEPARATION * radius:
            return centres
    raise ValueError(f"cannot place {n} discs of radius {radius} at least {SEPARATION} radii apart in a "
                     f"{size} x {size} image; use fewer discs per colour")


def render(rng: np.random.Generator, label: int, size: int, radius: float, discs_per_colour: int = 1,
           light: float = LIGHT, tint: float = TINT) -> tuple[np.ndarray, np.ndarray]:
    """One upright image [3, size, size] in [0, 1] and its saliency map [size, size] (sums to 1)."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    rows, cols = yy / (size - 1), xx / (size - 1)
    image = np.full((3, size, size), 0.5, np.float32)
    colours = list(CLASS_PAIRS[label])
    rng.shuffle(colours)
    colours = [c for c in colours for _ in range(discs_per_colour)]
    centres = disc_centres(rng, len(colours), size, radius)
    saliency = np.full((size, size), 1e-3, np.float32)
    for (cy, cx), colour in zip(centres, colours):
        d2 = (yy - cy) ** 2 + (xx - cx) ** 2
        disc = d2 <= radius ** 2
        image[:, disc] = PALETTE[colour][:, None]
        saliency += np.exp(-d2 / (2 * (0.8 * radius) ** 2))
    image *= 1.0 - light * rows                         # light: dimmer towards the bottom
    image[0] += tint * cols                             # warmer towards the right
    image[2] += tint * (1 - cols)
    image += rng.normal(0, 0.03, image.shape).astype(np.float32)
    return np.clip(image, 0, 1), saliency / saliency.sum()


def write_split(root: Path, saliency_root: Path, split: str, labels: np.ndarray, seed: int, size: int,
                radius: float, discs_per_colour: int = 1, light: float = LIGHT, tint: float = TINT) -> None:
    rng = np.random.default_rng(seed)
    images = np.empty((len(labels), 3, size, size), np.uint8)
    maps = np.empty((len(labels), 1, size, size), np.float32)
    for i, label in enumerate(labels):
        image, saliency = render(rng, int(label), size, radius, discs_per_colour, light, tint)
        images[i] = np.round(image * 255).astype(np.uint8)
        maps[i, 0] = saliency
    (root / "stl10_binary").mkdir(parents=True, exist_ok=True)
    # the binary stores each channel column-major: swap the spatial axes back
    images.swapaxes(-1, -2).tofile(root / "stl10_binary" / f"{split}_X.bin")
    if split != "unlabeled":
        (labels.astype(np.uint8) + 1).tofile(root / "stl10_binary" / f"{split}_y.bin")
    (saliency_root / split).mkdir(parents=True, exist_ok=True)
    np.save(saliency_root / split / f"saliency_{split}.npy", maps)


def generate(root: str | os.PathLike, saliency_root: str | os.PathLike, *, train_per_class: int,
             test_per_class: int, unlabeled: int, seed: int = 0, size: int = 96, radius: float = 12.0,
             discs_per_colour: int = 1, light: float = LIGHT, tint: float = TINT) -> None:
    """Write all three splits and a ``.complete`` marker in both roots (the download rules' outputs)."""
    if discs_per_colour < 1:
        raise ValueError(f"discs_per_colour must be >= 1, got {discs_per_colour}")
    root, saliency_root = Path(root), Path(saliency_root)
    classes = len(CLASS_PAIRS)
    rng = np.random.default_rng(seed)
    splits = {"train": np.repeat(np.arange(classes), train_per_class),
              "test": np.repeat(np.arange(classes), test_per_class),
              "unlabeled": rng.integers(0, classes, unlabeled)}
    for i, (split, labels) in enumerate(splits.items()):
        write_split(root, saliency_root, split, rng.permutation(labels), seed * 100 + i + 1, size, radius,
                    discs_per_colour, light, tint)
    (root / "stl10_binary" / "class_names.txt").write_text(
        "\n".join("-".join(map(str, pair)) for pair in CLASS_PAIRS) + "\n")
    write_marker(root, {"source": "synthetic", "seed": seed})
    write_marker(saliency_root, {"source": "synthetic", "seed": seed})
