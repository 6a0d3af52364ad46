"""CIFAR-100 reader on a generated archive in the published format: the same arrays as torchvision's reader."""

import hashlib
import pickle
import shutil
import struct

import numpy as np
import pytest
from torchvision.datasets import CIFAR100

from seqjepa_core.data import cifar100
from seqjepa_core.data.image_arrays import DatasetFileError
from seqjepa_core.data.synthetic_images import generate


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    base = tmp_path_factory.mktemp("c100")
    return generate("cifar100", base / "CIFAR100", base / "dl", classes=10, train_per_class=6, test_per_class=3)


def md5(path):
    return hashlib.md5(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("split", ["train", "test"])
def test_reader_agrees_with_torchvision_cifar100(root, split):
    folder = root / "cifar-100-python"

    class Generated(CIFAR100):  # torchvision's reader, with the checksums of the generated files
        train_list = [["train", md5(folder / "train")]]
        test_list = [["test", md5(folder / "test")]]
        meta = {"filename": "meta", "key": "fine_label_names", "md5": md5(folder / "meta")}

    tv = Generated(str(root), train=split == "train", download=False)
    ours = cifar100.read_split(root, split)
    np.testing.assert_array_equal(ours["images"], tv.data)
    np.testing.assert_array_equal(ours["labels"], np.asarray(tv.targets))
    assert list(ours["classes"]) == tv.classes
    assert ours["images"].shape == ({"train": 60, "test": 30}[split], 32, 32, 3)
    assert (root / ".complete").is_file()


def test_damaged_files_are_named(root, tmp_path):
    bad = tmp_path / "cifar-100-python"
    bad.mkdir()
    (bad / "meta").write_bytes((root / "cifar-100-python" / "meta").read_bytes())
    (bad / "train").write_bytes((root / "cifar-100-python" / "train").read_bytes()[:100])
    with pytest.raises(DatasetFileError, match=r"cifar-100-python/train: unreadable pickle"):
        cifar100.read_split(tmp_path, "train")
    (bad / "train").write_bytes(pickle.dumps({"data": np.zeros((2, 100), np.uint8), "fine_labels": [0, 1]}))
    with pytest.raises(DatasetFileError, match=r"train: 'data' is uint8 \(2, 100\)"):
        cifar100.read_split(tmp_path, "train")
    with pytest.raises(DatasetFileError, match=r"cifar-100-python/test: missing"):
        cifar100.read_split(tmp_path, "test")


def py2_pickle(obj) -> bytes:
    """``obj`` (dicts, lists, ints, str) pickled as Python 2 pickles its ``str``: raw bytes (SHORT_BINSTRING)
    that a Python 3 reader decodes with the encoding it is given. The published archive was written so."""
    def put(o):
        if isinstance(o, str):
            raw = o.encode("latin1")
            return b"U" + bytes([len(raw)]) + raw
        if isinstance(o, int):
            return b"J" + struct.pack("<i", o)
        if isinstance(o, list):
            return b"](" + b"".join(map(put, o)) + b"e"
        return b"}(" + b"".join(put(k) + put(v) for k, v in o.items()) + b"u"
    return b"\x80\x02" + put(obj) + b"."


def test_python2_pickles_of_the_published_archive_decode_as_latin1(root, tmp_path):
    folder = tmp_path / "cifar-100-python"
    shutil.copytree(root / "cifar-100-python", folder)
    names = [f"cl\xe4ss_{i}" for i in range(10)]           # a byte above 127: not ASCII, latin1 decodes it
    (folder / "meta").write_bytes(py2_pickle({"fine_label_names": names, "coarse_label_names": ["x"]}))
    assert pickle.loads((folder / "meta").read_bytes(), encoding="latin1")["fine_label_names"] == names
    assert list(cifar100.read_split(tmp_path, "train")["classes"]) == names


def test_unknown_split_is_named():
    with pytest.raises(ValueError, match=r"unknown CIFAR-100 split 'val'; valid: \['train', 'test'\]"):
        cifar100.read_split("/nonexistent", "val")
