"""The ImageNet saliency reader and index on a generated ImageNet-layout folder (seqjepa_core.data.synthetic_imagenet)."""

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from seqjepa_core.data import imagenet_saliency as ins
from seqjepa_core.data.synthetic_imagenet import generate


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    base = tmp_path_factory.mktemp("tiny_imagenet")
    wnids = generate(base / "img", base / "sal", classes=3, train_per_class=3, val_per_class=2, seed=1)
    return {"img": base / "img", "sal": base / "sal", "wnids": wnids, "base": base}


def test_index_matches_torchvision_image_folder(tiny):
    """Images, their order and class ids are torchvision ImageFolder's; each map is the image's own."""
    from torchvision.datasets import ImageFolder

    index = ins.build_index(tiny["img"], tiny["sal"], "train", workers=1)
    folder = ImageFolder(str(tiny["img"] / "train"))
    pairs = [ins.pair_paths(index, i) for i in range(len(index["labels"]))]
    assert [str(Path(p).resolve()) for p, _ in folder.samples] == [img for img, _ in pairs]
    assert [t for _, t in folder.samples] == index["labels"].tolist()
    assert list(index["wnids"]) == folder.classes == tiny["wnids"]
    for img, sal in pairs:
        assert Path(sal) == (tiny["sal"] / "train" / Path(img).parent.name / f"{Path(img).stem}_sal.npy").resolve()
    assert int(index["image_size"]) == ins.IMAGE_SIZE


def test_validation_split_takes_the_training_classes(tiny, tmp_path):
    val = ins.build_index(tiny["img"], tiny["sal"], "val", wnids=tiny["wnids"][::-1], workers=1)
    assert val["labels"].tolist() == [0, 0, 1, 1, 2, 2]          # the given class order, not the folders'
    assert Path(val["images"][0]).parent.name == tiny["wnids"][-1]
    with pytest.raises(ins.DatasetFileError, match=r"class folders \['n00000003'\] are not among the 2"):
        ins.build_index(tiny["img"], tiny["sal"], "val", wnids=tiny["wnids"][:2], workers=1)


def test_per_class_keeps_the_first_images_of_each_class(tiny):
    index = ins.build_index(tiny["img"], tiny["sal"], "train", per_class=2, workers=1)
    assert index["labels"].tolist() == [0, 0, 1, 1, 2, 2]
    assert [Path(p).name for p in index["images"][:2]] == ["n00000001_train_0.JPEG", "n00000001_train_1.JPEG"]


def copy_tree(tiny, tmp_path):
    import shutil
    shutil.copytree(tiny["img"], tmp_path / "img")
    shutil.copytree(tiny["sal"], tmp_path / "sal")
    return tmp_path / "img", tmp_path / "sal"


def test_a_map_of_the_wrong_size_names_both_files(tiny, tmp_path):
    img, sal = copy_tree(tiny, tmp_path)
    image = img / "train" / "n00000002" / "n00000002_train_1.JPEG"
    bad = sal / "train" / "n00000002" / "n00000002_train_1_sal.npy"
    h, w = ins.image_shape(image)
    np.save(bad, np.full((1, w, h), 1.0 / (h * w), np.float32))        # transposed: (1, W, H)
    with pytest.raises(ins.DatasetFileError) as e:
        ins.build_index(img, sal, "train", workers=2)
    assert str(bad) in str(e.value) and str(image) in str(e.value) and f"{w}x{h}" in str(e.value)
    with pytest.raises(ins.DatasetFileError, match="n00000002_train_1.JPEG"):   # and when read
        ins.read_pair(str(image), str(bad), 32)


def test_stored_size_maps_and_a_missing_map(tiny, tmp_path):
    img, sal = copy_tree(tiny, tmp_path)
    with pytest.raises(ins.DatasetFileError, match="does not match"):
        ins.build_index(img, sal, "val", saliency_size=224, workers=1)      # they are native-size maps
    gone = sal / "val" / "n00000001" / "n00000001_val_0_sal.npy"
    gone.unlink()
    with pytest.raises(ins.DatasetFileError) as e:
        ins.build_index(img, sal, "val", workers=1)
    assert str(gone) in str(e.value) and "n00000001_val_0.JPEG" in str(e.value)
    kept = ins.build_index(img, sal, "val", missing="skip", workers=1)     # the official loader's behaviour
    assert len(kept["images"]) == 5 and not any("n00000001_val_0." in p for p in kept["images"])


def test_unreadable_or_misshapen_maps_are_named(tmp_path):
    (tmp_path / "page.npy").write_text("<html>rate limited</html>")
    with pytest.raises(ins.DatasetFileError, match="page.npy: cannot read saliency map"):
        ins.read_saliency(tmp_path / "page.npy")
    np.save(tmp_path / "rgb.npy", np.zeros((3, 4, 4), np.float32))
    with pytest.raises(ins.DatasetFileError, match=r"rgb.npy: expected a float \(H, W\)"):
        ins.read_saliency(tmp_path / "rgb.npy")
    with pytest.raises(ins.DatasetFileError, match="train: missing"):
        ins.build_index(tmp_path / "nothing", tmp_path, "train")


def test_read_pair_resizes_like_torchvision_and_keeps_the_map_a_distribution(tiny):
    """Image: torchvision's antialiased bilinear resize of the decoded JPEG (within one grey level). Map: sums to
    1, non-negative, and its peak moves with the image (the disc's centre, rescaled)."""
    from torchvision.transforms.v2 import functional as TF

    index = ins.build_index(tiny["img"], tiny["sal"], "train", workers=1)
    path, sal_path = ins.pair_paths(index, 1)
    image, sal = ins.read_pair(path, sal_path, 96)
    pil = torch.from_numpy(np.array(Image.open(path).convert("RGB"))).permute(2, 0, 1)
    ref = TF.resize(pil, [96, 96], interpolation=TF.InterpolationMode.BILINEAR, antialias=True)
    assert image.dtype == torch.uint8 and image.shape == (3, 96, 96)
    assert (image.int() - ref.int()).abs().max() <= 1
    assert sal.shape == (96, 96) and (sal >= 0).all() and abs(float(sal.sum()) - 1) < 1e-5
    native = np.load(sal_path)
    (r, c), (h, w) = np.unravel_index(native.argmax(), native.shape), native.shape
    rr, cc = np.unravel_index(int(sal.argmax()), (96, 96))
    assert abs(rr - (r + 0.5) * 96 / h) <= 2 and abs(cc - (c + 0.5) * 96 / w) <= 2


def test_a_saliency_map_is_shrunk_with_antialiasing_like_its_image():
    """Downsampled 8x, the map is torchvision's antialiased bilinear resize (as its image), renormalised: a
    plain bilinear resize would sample the map at a few points and miss most of its mass."""
    from torchvision.transforms.v2 import functional as TF

    native = np.random.default_rng(0).random((128, 96)).astype(np.float32) ** 4
    ref = TF.resize(torch.from_numpy(native)[None], [16, 16], interpolation=TF.InterpolationMode.BILINEAR,
                    antialias=True)[0]
    torch.testing.assert_close(ins.resize_saliency(native, 16, "x"), ref / ref.sum())


def test_dataset_reads_the_index_and_batches(tiny, tmp_path):
    ins.write_index(ins.build_index(tiny["img"], tiny["sal"], "val", image_size=48, workers=1), tmp_path / "v.npz")
    data = ins.SaliencyImageFolder(tmp_path / "v.npz")
    assert len(data) == 6 and data.image_size == 48
    images, maps, labels = next(iter(ins.loader(data, 4, 0, torch.device("cpu"))))
    assert images.shape == (4, 3, 48, 48) and images.dtype == torch.uint8
    assert maps.shape == (4, 48, 48) and torch.allclose(maps.sum((1, 2)), torch.ones(4))
    assert labels.tolist() == [0, 0, 1, 1]
