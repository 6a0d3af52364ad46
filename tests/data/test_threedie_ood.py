"""3DIEBench-OOD: the generator's out-of-range rotations and the evaluation index checked against its tree."""

import shutil
from pathlib import Path

import numpy as np
import pytest

from seqjepa_core.data import threedie as T
from seqjepa_core.data.synthetic_3diebench import CLASSES, generate_ood

# the training vocabulary has a class the OOD tree lacks: labels must still index the training classes
TRAIN_SYNSETS = sorted(s for s, _, _ in CLASSES[:3])


@pytest.fixture(scope="module")
def ood_tree(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("ood") / "root"
    generate_ood(root, num_classes=2, objects_per_class=2, image_size=16, seed=1, workers=1)
    return root


@pytest.fixture
def ood(ood_tree, tmp_path) -> tuple[Path, Path]:
    shutil.copytree(ood_tree, tmp_path / "root")
    return tmp_path / "root", tmp_path / "splits"


def test_generated_ood_rotations_lie_outside_the_training_range(ood_tree):
    objects = T.list_tree(ood_tree)
    assert len(objects) == 4
    angles = np.stack([np.load(ood_tree / rel.strip("/") / f"latent_{v}.npy")[:3]
                       for rel in objects for v in (2, 3, 4, 5)])
    assert (np.abs(angles) > np.pi / 2).all() and (np.abs(angles) < np.pi).all()
    assert (angles > 0).any() and (angles < 0).any()  # both signs, on every axis over the set
    assert sorted(p.name for p in (ood_tree / objects[0].strip("/")).iterdir()) == sorted(
        [f"image_{v}.jpg" for v in (2, 3, 4, 5)] + [f"latent_{v}.npy" for v in (2, 3, 4, 5)])


def test_eval_index_lists_the_tree_and_labels_with_training_classes(ood):
    root, splits = ood
    index = T.build_eval_index(root, splits, "ood", TRAIN_SYNSETS, workers=1)
    assert index["paths"].tolist() == T.list_tree(root)
    assert index["view_ids"].tolist() == [2, 3, 4, 5]
    assert index["synsets"].tolist() == TRAIN_SYNSETS
    assert index["labels"].tolist() == [TRAIN_SYNSETS.index(p.split("/")[1]) for p in index["paths"]]
    for i, rel in enumerate(index["paths"]):
        want = np.stack([np.load(root / rel.strip("/") / f"latent_{v}.npy") for v in (2, 3, 4, 5)])
        np.testing.assert_array_equal(index["latents"][i], want.astype(np.float32))
    # the listing is now on record and a second indexing validates against it
    assert np.load(splits / "ood_images.npy").tolist() == index["paths"].tolist()
    again = T.build_eval_index(root, splits, "ood", TRAIN_SYNSETS, workers=1)
    np.testing.assert_array_equal(again["latents"], index["latents"])


def test_sequences_read_the_indexed_view_files(ood, tmp_path):
    root, splits = ood
    T.write_index(T.build_eval_index(root, splits, "ood", TRAIN_SYNSETS, workers=1), tmp_path / "ood.npz")
    ds = T.ThreeDIEBenchSequences(tmp_path / "ood.npz", root, num_views=4, img_size=16, seed=0)
    item = ds[1]
    for j, v in enumerate(item["views"].tolist()):  # positions 0..3 -> files image_2..image_5
        path = root / ds.paths[1].strip("/") / f"image_{v + 2}.jpg"
        np.testing.assert_array_equal(item["images"][j].permute(1, 2, 0).numpy(), T.decode_view(str(path), 16))
        np.testing.assert_array_equal(item["latents"][j].numpy(),
                                      np.load(str(path).replace("image_", "latent_").replace(".jpg", ".npy")).astype(np.float32))


def _split(splits: Path, paths, labels) -> None:
    splits.mkdir(exist_ok=True)
    np.save(splits / "ood_images.npy", np.array(paths))
    np.save(splits / "ood_labels.npy", np.array(labels, dtype=np.int64))


@pytest.mark.parametrize("case", ["object_missing_from_tree", "object_not_listed", "wrong_label"])
def test_split_file_not_matching_its_tree_is_named(ood, case):
    root, splits = ood
    paths = T.list_tree(root)
    labels = [TRAIN_SYNSETS.index(p.split("/")[1]) for p in paths]
    bad_file = splits / "ood_images.npy"
    if case == "object_missing_from_tree":
        paths, labels = paths + [f"/{TRAIN_SYNSETS[0]}/{'f' * 32}/"], labels + [0]
    elif case == "object_not_listed":
        paths, labels = paths[1:], labels[1:]
    else:
        labels[2], bad_file = (labels[2] + 1) % 3, splits / "ood_labels.npy"
    _split(splits, paths, labels)
    with pytest.raises(T.DatasetFileError, match=str(bad_file)):
        T.build_eval_index(root, splits, "ood", TRAIN_SYNSETS, workers=1)


def test_objects_with_different_views_and_unknown_classes_are_named(ood):
    root, splits = ood
    second = root / T.list_tree(root)[1].strip("/")
    (second / "latent_5.npy").unlink()  # image_5.jpg alone is not a view
    with pytest.raises(T.DatasetFileError, match=f"{second}: views \\[2, 3, 4\\]"):
        T.build_eval_index(root, splits, "ood", TRAIN_SYNSETS, workers=1)
    with pytest.raises(T.DatasetFileError, match="not one of the 1 training classes"):
        T.write_split_files(splits, "ood", T.list_tree(root), ["00000000"])
