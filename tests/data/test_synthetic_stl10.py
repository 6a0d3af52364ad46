"""The demo's generated STL-10: the ``discs_per_colour`` option (demo only) in the real on-disk formats."""

import numpy as np
import pytest
from scipy import ndimage

from seqjepa_core.data import stl10
from seqjepa_core.data.synthetic_stl10 import CLASS_PAIRS, PALETTE, generate


@pytest.fixture(scope="module")
def two_per_colour(tmp_path_factory):
    base = tmp_path_factory.mktemp("stl2")
    generate(base / "stl10", base / "salmap", train_per_class=2, test_per_class=1, unlabeled=4, seed=5,
             discs_per_colour=2)
    return base


def disc_colours(image: np.ndarray) -> list[int]:
    """The palette index of each disc of an upright uint8 image [3, H, W]: connected saturated blobs, each
    named by the palette colour nearest to its mean chromaticity (brightness divided out)."""
    pixels = image.astype(np.float32) / 255
    blobs, n = ndimage.label(pixels.std(0) > 0.4 * pixels.mean(0))   # the grey background is unsaturated
    palette = PALETTE / PALETTE.sum(1, keepdims=True)
    out = []
    for k in range(1, n + 1):
        mask = blobs == k
        if mask.sum() < 50:   # noise specks, not a disc (a disc of radius 12 has ~450 pixels)
            continue
        mean = pixels[:, mask].mean(1)
        out.append(int(np.argmin(np.abs(palette - mean / mean.sum()).sum(1))))
    return out


def test_two_discs_of_each_class_colour_in_the_real_formats(two_per_colour):
    images, labels = stl10.read_split(two_per_colour / "stl10", "train")   # the existing reader
    assert images.shape == (12, 3, 96, 96) and sorted(set(labels)) == list(range(len(CLASS_PAIRS)))
    for image, label in zip(np.asarray(images), labels):
        a, b = CLASS_PAIRS[label]
        assert sorted(disc_colours(image)) == sorted([a, a, b, b])


def test_the_default_draws_one_disc_of_each_colour(tmp_path):
    generate(tmp_path / "stl10", tmp_path / "salmap", train_per_class=1, test_per_class=1, unlabeled=0, seed=5)
    images, labels = stl10.read_split(tmp_path / "stl10", "train")
    for image, label in zip(np.asarray(images), labels):
        assert sorted(disc_colours(image)) == sorted(CLASS_PAIRS[label])


@pytest.mark.parametrize("split", ["train", "test", "unlabeled"])
def test_the_index_accepts_it_and_the_saliency_sits_on_the_discs(two_per_colour, split):
    index = stl10.build_index(two_per_colour / "stl10", two_per_colour / "salmap", split)   # validates the maps
    images, _ = stl10.read_split(two_per_colour / "stl10", split)
    maps = np.load(two_per_colour / "salmap" / split / f"saliency_{split}.npy")[:, 0]
    assert len(index["labels"]) == len(images) == len(maps)
    pixels = np.asarray(images, dtype=np.float32)
    saturated = pixels.std(1) > 0.4 * pixels.mean(1)
    assert (maps * saturated).sum((1, 2)).min() > 0.5


def test_spread_discs_move_the_fixations_apart(tmp_path):
    """What the option is for: two discs per colour spread the saliency, so fixations of one image lie
    further apart (mean distance between two independent draws from the map) than with one disc each."""
    def mean_pair_distance(n: int) -> float:
        generate(tmp_path / f"s{n}", tmp_path / f"m{n}", train_per_class=10, test_per_class=1, unlabeled=0,
                 seed=2, discs_per_colour=n)
        maps = np.load(tmp_path / f"m{n}" / "train" / "saliency_train.npy")[:, 0].astype(np.float64)
        rows, cols = np.mgrid[0:96:2, 0:96:2]                          # every other row and column: enough
        pos = np.stack([rows.ravel(), cols.ravel()], 1)
        dist = np.linalg.norm(pos[:, None] - pos[None], axis=-1)
        q = maps[:, ::2, ::2].reshape(len(maps), -1)
        q /= q.sum(1, keepdims=True)
        return float(np.einsum("ni,ij,nj->n", q, dist, q).mean())
    assert mean_pair_distance(2) > 1.2 * mean_pair_distance(1)


@pytest.mark.parametrize("n, message", [(0, "discs_per_colour must be >= 1"), (9, "cannot place 18 discs")])
def test_bad_disc_counts_are_errors(tmp_path, n, message):
    with pytest.raises(ValueError, match=message):
        generate(tmp_path / "stl10", tmp_path / "salmap", train_per_class=1, test_per_class=1, unlabeled=0,
                 discs_per_colour=n)


def test_light_and_tint_change_the_pixels_by_the_stated_gradients(tmp_path):
    """The same draws with a stronger tint and light: where nothing clips, the grey levels move by the
    gradients written out here (red up and blue down by Δtint x column / 95; the lit image by the ratio of the
    two lights, up to the pixel noise added after the light, which averages out over the pixels)."""
    def images(name: str, **light) -> np.ndarray:
        generate(tmp_path / name, tmp_path / f"{name}-sal", train_per_class=1, test_per_class=1, unlabeled=0,
                 seed=3, **light)
        return np.asarray(stl10.read_split(tmp_path / name, "train")[0], dtype=np.float64) / 255
    base, tinted, dimmed = images("base"), images("tinted", tint=0.25), images("dimmed", light=0.7)
    cols = np.arange(96) / 95
    rows = cols[:, None]
    inside = (base > 0.02) & (base < 0.98) & (tinted > 0.02) & (tinted < 0.98)
    shift = np.stack([0.15 * cols, 0 * cols, -0.15 * cols])[:, None, :] + np.array([0, 0, 0.15])[:, None, None]
    assert np.abs(tinted - base - shift)[inside].max() <= 1.01 / 255
    # undo the default tint, then the light ratio (1 - 0.7 r) / (1 - 0.5 r) scales the lit image
    tint = np.stack([0.1 * cols, 0 * cols, 0.1 * (1 - cols)])[:, None, :]
    inside = (base > 0.1) & (base < 0.9) & (dimmed > 0.1) & (dimmed < 0.9)
    error = dimmed - ((base - tint) * (1 - 0.7 * rows) / (1 - 0.5 * rows) + tint)
    assert np.abs(error[inside]).max() < 0.06                  # the noise (sd 0.03) times at most 0.4
    assert abs(error[inside].mean()) < 1 / 255
    assert np.abs(dimmed - base)[inside].mean() > 10 / 255
