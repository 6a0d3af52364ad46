"""Shared fixtures: a miniature 3DIEBench in the real on-disk format, generated once per session."""

from pathlib import Path

import pytest
import torch


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


@pytest.fixture(scope="session", autouse=True)
def _one_thread():
    """Tiny tensors: one intra-op thread is faster than two on this 2-core machine;
    session-wide, so module fixtures and tests compute with the same thread count (bitwise-equal results)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
