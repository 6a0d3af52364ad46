"""Shared fixtures: a miniature 3DIEBench in the real on-disk format, generated once per session."""

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def tiny_3diebench(tmp_path_factory) -> dict:
    from seqjepa_core.data.synthetic_3diebench import generate
    from seqjepa_core.data.threedie import build_index, write_index

    base = tmp_path_factory.mktemp("tiny3die")
    root, splits = base / "3DIEBench", base / "splits"
    generate(root, splits, num_classes=3, objects_per_class_train=6, objects_per_class_val=3,
             image_size=32, seed=0, workers=2)
    out = {"root": str(root), "splits": str(splits)}
    for split in ("train", "val"):
        out[split] = str(base / f"{split}.npz")
        write_index(build_index(root, splits, split), out[split])
    return out


@pytest.fixture
def repo_root() -> Path:
    return Path(__file__).resolve().parents[1]
