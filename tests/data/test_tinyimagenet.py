"""Tiny ImageNet reader on a generated tiny-imagenet-200.zip: labels by wnids.txt order, val = test split."""

import numpy as np
import pytest
from PIL import Image

from seqjepa_core.data import tinyimagenet
from seqjepa_core.data.image_arrays import DatasetFileError
from seqjepa_core.data.synthetic_images import generate


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    base = tmp_path_factory.mktemp("tin")
    return generate("tinyimagenet", base / "TIN", base / "dl", classes=4, train_per_class=5, test_per_class=3)


def test_val_split_follows_the_annotations_file(root):
    folder = root / "tiny-imagenet-200"
    wnids = (folder / "wnids.txt").read_text().split()
    got = tinyimagenet.read_split(root, "val", workers=2)
    lines = [l.split("\t") for l in (folder / "val" / "val_annotations.txt").read_text().splitlines()]
    assert got["labels"].tolist() == [wnids.index(l[1]) for l in lines]
    for k, (name, *_rest) in enumerate(lines):
        np.testing.assert_array_equal(got["images"][k], np.asarray(Image.open(folder / "val" / "images" / name).convert("RGB")))
    assert list(got["classes"]) == wnids


def test_train_split_is_every_class_folder_in_wnids_order(root):
    got = tinyimagenet.read_split(root, "train", workers=2)
    assert got["images"].shape == (20, 64, 64, 3) and got["images"].dtype == np.uint8
    assert got["labels"].tolist() == [c for c in range(4) for _ in range(5)]


def test_grayscale_jpegs_become_rgb_and_bad_files_are_named(root, tmp_path):
    gray = tmp_path / "g.JPEG"
    Image.fromarray(np.full((64, 64), 77, np.uint8)).save(gray)
    assert tinyimagenet.decode(gray).shape == (64, 64, 3)
    small = tmp_path / "s.JPEG"
    Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(small)
    with pytest.raises(DatasetFileError, match=r"s.JPEG: 32x32 image, expected 64x64"):
        tinyimagenet.decode(small)
    folder = tmp_path / "tiny-imagenet-200"
    (folder / "val").mkdir(parents=True)
    (folder / "wnids.txt").write_text("n1\nn2\n")
    (folder / "val" / "val_annotations.txt").write_text("val_0.JPEG\tn9\t0\t0\t1\t1\n")
    with pytest.raises(DatasetFileError, match=r"val_annotations.txt:1: expected"):
        tinyimagenet.read_split(tmp_path, "val")


def test_unknown_split_is_named(root):
    with pytest.raises(ValueError, match=r"unknown Tiny ImageNet split 'test'; valid: \['train', 'val'\]"):
        tinyimagenet.read_split(root, "test")
