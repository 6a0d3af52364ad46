"""3DIEBench index, dataset and batching, checked against the raw files, PIL and scipy."""

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from scipy.spatial.transform import Rotation
from torchvision import transforms

from seqjepa_core.data import threedie as T
from seqjepa_core.data.loading import BatchStream, DataSpec, stack_items
from seqjepa_core.data import synthetic_3diebench as S
from seqjepa_core.data.synthetic_3diebench import generate


def latent_file(root, rel: str, view: int) -> np.ndarray:
    return np.load(Path(root) / rel.strip("/") / f"latent_{view}.npy")


# ------------------------------------------------------------------------------------------ index

def test_index_holds_labels_paths_and_every_latent(tiny_3diebench):
    root, splits = tiny_3diebench["root"], Path(tiny_3diebench["splits"])
    index = T.load_index(tiny_3diebench["train"])
    synsets = sorted(e.name for e in os.scandir(root) if e.is_dir())  # label = position in sorted synsets
    assert index["synsets"].tolist() == synsets
    np.testing.assert_array_equal(index["paths"], np.load(splits / "train_images.npy"))
    assert index["labels"].dtype == np.int64
    assert index["labels"].tolist() == [synsets.index(p.split("/")[1]) for p in index["paths"]]
    assert index["latents"].shape == (len(index["paths"]), 50, 7) and index["latents"].dtype == np.float32
    for i, rel in enumerate(index["paths"]):
        expected = np.stack([latent_file(root, rel, v) for v in range(50)]).astype(np.float32)
        np.testing.assert_array_equal(index["latents"][i], expected)
    assert index["image_size"].tolist() == [32, 32]


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("pristine")
    generate(base / "root", base / "splits", num_classes=2, objects_per_class_train=1, objects_per_class_val=0,
             image_size=16, seed=3, workers=1)
    return base


@pytest.fixture
def copy(pristine, tmp_path) -> Path:
    shutil.copytree(pristine, tmp_path / "d")
    return tmp_path / "d"


def first_object(base: Path) -> Path:
    return base / "root" / str(np.load(base / "splits" / "train_images.npy")[0]).strip("/")


def test_missing_latent_is_named(copy):
    bad = first_object(copy) / "latent_17.npy"
    bad.unlink()
    with pytest.raises(T.DatasetFileError, match=str(bad)):
        T.build_index(copy / "root", copy / "splits", "train", workers=2)


def test_truncated_latent_is_named(copy):
    bad = first_object(copy) / "latent_3.npy"
    bad.write_bytes(bad.read_bytes()[:-8])
    with pytest.raises(T.DatasetFileError, match=str(bad)):
        T.build_index(copy / "root", copy / "splits", "train")


def test_truncated_jpeg_is_named(copy):
    bad = first_object(copy) / "image_42.jpg"
    data = bad.read_bytes()
    bad.write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(T.DatasetFileError, match=f"{bad}.*truncated"):
        T.build_index(copy / "root", copy / "splits", "train")
    with pytest.raises(Exception):  # and PIL indeed cannot decode it
        Image.open(bad).load()


def test_damaged_jpeg_body_caught_by_full_decode(copy):
    bad = first_object(copy) / "image_5.jpg"
    data = bytearray(bad.read_bytes())
    sos = data.index(b"\xff\xda")  # corrupt the Huffman tables' target: the scan header
    data[sos + 4: sos + 12] = b"\xff\xff\xff\xff\xff\xff\xff\xff"
    bad.write_bytes(bytes(data))
    with pytest.raises(T.DatasetFileError, match=str(bad)):
        T.build_index(copy / "root", copy / "splits", "train", full_decode=True)


def test_missing_image_is_named(copy):
    bad = first_object(copy) / "image_49.jpg"
    bad.unlink()
    with pytest.raises(T.DatasetFileError, match=str(bad)):
        T.build_index(copy / "root", copy / "splits", "train")


def test_label_breaking_sorted_synset_rule_is_rejected(copy):
    labels = np.load(copy / "splits" / "train_labels.npy")
    np.save(copy / "splits" / "train_labels.npy", labels[::-1].copy())  # swap the two classes
    with pytest.raises(T.DatasetFileError, match="sorted synset order"):
        T.build_index(copy / "root", copy / "splits", "train")


def test_write_index_is_atomic_and_round_trips(pristine, tmp_path, monkeypatch):
    index = T.build_index(pristine / "root", pristine / "splits", "train")
    out = tmp_path / "idx" / "train.npz"
    T.write_index(index, out)
    assert sorted(os.listdir(out.parent)) == ["train.npz"]  # no temporary left behind
    back = T.load_index(out)
    assert back.keys() == index.keys()
    for k in index:
        np.testing.assert_array_equal(back[k], index[k])
    # A job killed while writing a new version (here: the writer dies half-way) leaves the old index whole.
    def dies_half_way(f, **arrays):
        f.write(b"PK\x03\x04 half an archive")
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez_compressed", dies_half_way)
    with pytest.raises(KeyboardInterrupt):
        T.write_index({"labels": np.zeros(3)}, out)
    monkeypatch.undo()
    again = T.load_index(out)
    for k in index:
        np.testing.assert_array_equal(again[k], index[k])


# ------------------------------------------------------------------------------------------ dataset

@pytest.fixture(scope="module")
def dataset(tiny_3diebench):
    return T.ThreeDIEBenchSequences(tiny_3diebench["train"], tiny_3diebench["root"], num_views=4, img_size=16, seed=5)


def test_item_contents_come_from_the_files(dataset, tiny_3diebench):
    item = dataset[3]
    views, rel = item["views"].numpy(), dataset.paths[3]
    assert item["images"].dtype == torch.uint8 and item["images"].shape == (4, 3, 16, 16)
    assert item["latents"].dtype == torch.float32 and item["latents"].shape == (4, 7)
    assert len(set(views.tolist())) == 4 and views.min() >= 0 and views.max() < 50
    assert item["label"] == dataset.labels[3]
    for j, v in enumerate(views):
        expected = latent_file(tiny_3diebench["root"], rel, v).astype(np.float32)
        np.testing.assert_array_equal(item["latents"][j].numpy(), expected)
        path = str(Path(tiny_3diebench["root"]) / rel.strip("/") / f"image_{v}.jpg")
        np.testing.assert_array_equal(item["images"][j].permute(1, 2, 0).numpy(), T.decode_view(path, 16))


def test_dct_scaled_decode_is_close_to_the_official_resize(tmp_path):
    parts = S._normalise(S.CLASSES[1][2](np.random.default_rng(0)))
    path = tmp_path / "image_0.jpg"
    view = S.render_view(parts, np.array([0.3, 0.2, -0.5]), 0.4, 0.3, 1.0, 0.7, size=128)
    Image.fromarray(view).save(path, quality=90)
    ref = np.asarray(Image.open(path).convert("RGB").resize((64, 64), Image.BILINEAR)).astype(float)
    assert np.abs(T.decode_view(str(path), 64) - ref).mean() < 1.5


def test_decode_at_full_size_is_exact(tiny_3diebench):
    rel = T.load_index(tiny_3diebench["val"])["paths"][0]
    path = str(Path(tiny_3diebench["root"]) / rel.strip("/") / "image_0.jpg")
    np.testing.assert_array_equal(T.decode_view(path, 32), np.asarray(Image.open(path).convert("RGB")))
    assert T.decode_view(path, 20).shape == (20, 20, 3)  # not a DCT ratio: finished by a resize


@pytest.mark.skipif(T.simplejpeg is None, reason="simplejpeg not installed")
def test_simplejpeg_and_pil_draft_give_identical_pixels(tiny_3diebench, monkeypatch):
    rel = T.load_index(tiny_3diebench["val"])["paths"][1]
    path = str(Path(tiny_3diebench["root"]) / rel.strip("/") / "image_3.jpg")
    fast = T.decode_view(path, 16)
    monkeypatch.setattr(T, "simplejpeg", None)
    np.testing.assert_array_equal(fast, T.decode_view(path, 16))


def test_views_are_deterministic_in_seed_epoch_index(tiny_3diebench, dataset):
    same = T.ThreeDIEBenchSequences(tiny_3diebench["train"], tiny_3diebench["root"], num_views=4, img_size=16, seed=5)
    order = list(range(len(dataset)))
    first = {i: dataset.view_indices(i).tolist() for i in order}
    assert {i: same.view_indices(i).tolist() for i in reversed(order)} == first  # order and instance don't matter
    torch.testing.assert_close(same[2]["images"], dataset[2]["images"])
    same.set_epoch(1)
    assert sum(same.view_indices(i).tolist() != first[i] for i in order) >= len(order) - 1
    same.set_epoch(0)
    assert same.view_indices(4).tolist() == first[4]
    other_seed = T.ThreeDIEBenchSequences(tiny_3diebench["train"], tiny_3diebench["root"], num_views=4, seed=6)
    assert sum(other_seed.view_indices(i).tolist() != first[i] for i in order) >= len(order) - 1
    # random order: over many draws every view appears in every slot
    seen = np.stack([dataset.view_indices(i) for i in order for dataset.epoch in range(12)])
    dataset.set_epoch(0)
    assert all(len(np.unique(seen[:, j])) > 30 for j in range(4))


def test_views_subset(tiny_3diebench):
    ds = T.ThreeDIEBenchSequences(tiny_3diebench["train"], tiny_3diebench["root"], num_views=3, img_size=16,
                                  views_subset=[1, 7, 9, 30])
    for i in range(len(ds)):
        assert set(ds.view_indices(i).tolist()) <= {1, 7, 9, 30}
    with pytest.raises(ValueError):
        T.ThreeDIEBenchSequences(tiny_3diebench["train"], tiny_3diebench["root"], num_views=5, views_subset=[1, 2])


# ------------------------------------------------------------------------------------------ batches

def official_actions(root, rel: str, views) -> tuple[np.ndarray, np.ndarray]:
    """hafezgh/seq-jepa Dataset_3DIEBench_MultipleViews: per-view latent files, scipy per pair."""
    lat = [latent_file(root, rel, v).astype(np.float32) for v in views]
    rot = [(Rotation.from_euler("xyz", lat[j][:3]).inv() * Rotation.from_euler("xyz", lat[j + 1][:3])).as_quat()
           .astype(np.float32) for j in range(len(views) - 1)]
    col = [lat[j + 1][[3, 6]] - lat[j][[3, 6]] for j in range(len(views) - 1)]
    return np.stack(rot), np.stack(col)


def stream(dataset, tiny_3diebench, actions="rotation", **kw) -> BatchStream:
    spec = DataSpec("3diebench", tiny_3diebench["train"], tiny_3diebench["root"], 16, actions)
    return BatchStream(dataset, spec, device=torch.device("cpu"), **kw)


def collate(items, actions, dataset, tiny_3diebench):
    return stream(dataset, tiny_3diebench, actions, batch_size=len(items), seed=0).to_batch(stack_items(items))


def test_collate_actions_and_normalisation_match_official_loader(dataset, tiny_3diebench):
    items = [dataset[i] for i in (0, 5, 11)]
    batch = collate(items, "rotcolor", dataset, tiny_3diebench)
    assert batch.views.shape == (3, 4, 3, 16, 16) and batch.views.dtype == torch.float32
    assert batch.actions.shape == (3, 3, 6) and batch.latents.shape == (3, 4, 7)
    assert batch.labels.tolist() == [it["label"] for it in items]
    norm = transforms.Compose([transforms.ToTensor(), transforms.Normalize(T.MEAN, T.STD)])
    for b, (i, it) in enumerate(zip((0, 5, 11), items)):
        rot, col = official_actions(tiny_3diebench["root"], dataset.paths[i], it["views"].numpy())
        np.testing.assert_allclose(batch.actions[b, :, :4].numpy(), rot, atol=1e-6)
        np.testing.assert_allclose(batch.actions[b, :, 4:].numpy(), col, atol=1e-7)
        for j in range(4):
            ref = norm(Image.fromarray(it["images"][j].permute(1, 2, 0).numpy()))
            torch.testing.assert_close(batch.views[b, j], ref, atol=1e-5, rtol=0)
    rotation_only = collate(items, "rotation", dataset, tiny_3diebench).actions
    torch.testing.assert_close(rotation_only, batch.actions[..., :4])
    torch.testing.assert_close(collate(items, "none", dataset, tiny_3diebench).actions, rotation_only)
    assert {k: T.relative_actions(batch.latents, k).shape[-1] for k in T.ACTION_DIMS} == T.ACTION_DIMS
    with pytest.raises(ValueError):
        T.relative_actions(batch.latents, "crop")


def test_loader_order_is_a_function_of_seed_and_epoch(dataset, tiny_3diebench):
    def labels_and_views(loader, epoch):  # the latents identify the drawn views
        return [(b.labels.tolist(), b.latents.tolist()) for b in loader.epoch(epoch)]

    a = stream(dataset, tiny_3diebench, batch_size=4, seed=1, drop_last=True)
    b = stream(dataset, tiny_3diebench, batch_size=4, seed=1, num_workers=2, drop_last=True)
    e0 = labels_and_views(a, 0)
    assert len(e0) == len(dataset) // 4
    assert labels_and_views(b, 0) == e0  # worker processes see the same data
    assert labels_and_views(a, 1) != e0 and labels_and_views(a, 0) == e0  # resumable: epoch 0 again is epoch 0
    plain = stream(dataset, tiny_3diebench, batch_size=5, seed=1, shuffle=False, drop_last=False)
    assert [x for batch in plain.epoch(0) for x in batch.labels.tolist()] == dataset.labels.tolist()
    batch = next(a.epoch(0))
    assert batch.actions.shape == (4, 3, 4)
