"""STL-10 reader and index against torchvision's STL10 reader, on generated files in the real format."""

from pathlib import Path

import numpy as np
import pytest
import torch

from seqjepa_core.data import stl10
from seqjepa_core.data.synthetic_stl10 import generate


@pytest.fixture(scope="module")
def tiny_stl(tmp_path_factory) -> dict:
    base = tmp_path_factory.mktemp("stl")
    generate(base / "stl10", base / "salmap", train_per_class=2, test_per_class=1, unlabeled=5, seed=3)
    return {"root": base / "stl10", "sal": base / "salmap", "base": base}


@pytest.mark.parametrize("split", ["train", "test", "unlabeled"])
def test_reader_agrees_with_torchvision(tiny_stl, split, monkeypatch):
    from torchvision.datasets import STL10
    monkeypatch.setattr(STL10, "_check_integrity", lambda self: True)  # it checks the real files' md5
    ref = STL10(str(tiny_stl["root"]), split=split, download=False)
    images, labels = stl10.read_split(tiny_stl["root"], split)
    assert images.shape == ref.data.shape and np.array_equal(np.asarray(images), ref.data)
    assert np.array_equal(labels, ref.labels)  # torchvision: 0-based, -1 for unlabeled


def test_index_and_batches_keep_images_and_maps_aligned(tiny_stl, tmp_path):
    index = stl10.build_index(tiny_stl["root"], tiny_stl["sal"], "train")
    stl10.write_index(index, tmp_path / "train.npz")
    data = stl10.SaccadeImages(tmp_path / "train.npz")
    ref_images, ref_labels = stl10.read_split(tiny_stl["root"], "train")
    maps = np.load(tiny_stl["sal"] / "train" / "saliency_train.npy")[:, 0]
    idx = np.array([5, 0, 11, 3])
    images, sal, labels = data.batch(idx, torch.device("cpu"))
    assert torch.equal(images, torch.from_numpy(np.asarray(ref_images)[idx]))
    assert torch.equal(sal, torch.from_numpy(maps[idx])) and labels.tolist() == ref_labels[idx].tolist()


def test_saliency_length_mismatch_names_both_files(tiny_stl, tmp_path):
    sal = tmp_path / "sal"
    (sal / "test").mkdir(parents=True)
    maps = np.load(tiny_stl["sal"] / "test" / "saliency_test.npy")
    np.save(sal / "test" / "saliency_test.npy", maps[:-1])
    with pytest.raises(stl10.DatasetFileError) as e:
        stl10.build_index(tiny_stl["root"], sal, "test")
    assert "saliency_test.npy" in str(e.value) and "test_X.bin" in str(e.value)
    np.save(sal / "test" / "saliency_test.npy", maps[:, :, :48])
    with pytest.raises(stl10.DatasetFileError, match="test_X.bin"):
        stl10.build_index(tiny_stl["root"], sal, "test")


def test_bad_maps_and_files_are_named(tiny_stl, tmp_path):
    sal = tmp_path / "sal"
    (sal / "test").mkdir(parents=True)
    maps = np.load(tiny_stl["sal"] / "test" / "saliency_test.npy")
    maps[2] = 0
    np.save(sal / "test" / "saliency_test.npy", maps)
    with pytest.raises(stl10.DatasetFileError, match="saliency_test.npy: saliency map 2"):
        stl10.build_index(tiny_stl["root"], sal, "test")
    np.save(sal / "test" / "saliency_test.npy", maps.astype(np.float64))
    with pytest.raises(stl10.DatasetFileError, match="expected float32"):
        stl10.build_index(tiny_stl["root"], sal, "test")
    bad = tmp_path / "stl" / "stl10_binary"
    bad.mkdir(parents=True)
    (bad / "test_X.bin").write_bytes(b"\0" * 1000)
    with pytest.raises(stl10.DatasetFileError, match="test_X.bin: 1000 bytes"):
        stl10.read_split(tmp_path / "stl", "test")
    (bad / "test_X.bin").write_bytes(b"\0" * stl10.IMAGE_BYTES)
    (bad / "test_y.bin").write_bytes(bytes([11]))
    with pytest.raises(stl10.DatasetFileError, match="test_y.bin: labels must lie in 1..10"):
        stl10.read_split(tmp_path / "stl", "test")


def test_synthetic_saliency_sits_on_the_discs(tiny_stl):
    images, labels = stl10.read_split(tiny_stl["root"], "train")
    maps = np.load(tiny_stl["sal"] / "train" / "saliency_train.npy")[:, 0]
    np.testing.assert_allclose(maps.sum((1, 2)), 1, rtol=1e-5)
    pixels = np.asarray(images, dtype=np.float32)
    saturated = pixels.std(1) > 0.4 * pixels.mean(1)   # the discs: saturated colours, however dimmed by the light
    assert (maps * saturated).sum((1, 2)).min() > 0.5


def test_stream_shuffles_every_epoch_shards_each_batch_across_ranks_and_resumes(tiny_stl, tmp_path):
    """The training stream as ``build_stream`` builds it (its defaults, as the trainer calls it): which images
    each batch loads, seen through ``SaccadeImages.batch``."""
    stl10.write_index(stl10.build_index(tiny_stl["root"], tiny_stl["sal"], "train"), tmp_path / "train.npz")

    def epoch(epoch=0, skip=0, rank=0, world_size=1):
        stream = stl10.build_stream(str(tmp_path / "train.npz"), {"patch_size": 16, "ior_radius": 8}, 2, 4,
                                    seed=1, device=torch.device("cpu"), rank=rank, world_size=world_size)
        loaded, load = [], stream.data.batch
        stream.data.batch = lambda idx, device: loaded.append(idx.tolist()) or load(idx, device)
        return loaded, list(stream.epoch(epoch, skip))

    (first, batches), (second, _) = epoch(0), epoch(1)
    n = len(stl10.SaccadeImages(tmp_path / "train.npz"))
    assert [len(b) for b in first] == [4] * (n // 4)                # the last partial batch dropped
    order = sum(first, [])
    assert len(set(order)) == len(order) and order != sorted(order) and order != sum(second, [])  # shuffled afresh
    for whole, r0, r1 in zip(first, epoch(rank=0, world_size=2)[0], epoch(rank=1, world_size=2)[0]):
        assert sorted(r0 + r1) == sorted(whole) and not set(r0) & set(r1)   # each rank its own half
    rest, resumed = epoch(skip=1)
    assert rest == first[1:] and torch.equal(resumed[0].views, batches[1].views)
