"""What a run records about itself: hardware, package versions, and the git commit of the code."""

import json
import subprocess
from pathlib import Path

import torch

from seqjepa_core.config import ProbeConfig, RunConfig, TrainConfig
from seqjepa_core.data.loading import DataSpec
from seqjepa_core.provenance import git_state, hardware, package_versions
from seqjepa_core.train import pretrain

REPO = Path(__file__).resolve().parents[1]


def test_hardware_on_cpu_counts_no_gpus():
    hw = hardware(torch.device("cpu"), world_size=1)
    assert hw["device_type"] == "cpu" and hw["gpu_count"] == 0 and hw["world_size"] == 1
    assert hw["device_name"] and hw["cpu_count"] >= 1


def test_package_versions_are_the_imported_ones():
    import numpy
    v = package_versions()
    assert v["torch"].split("+")[0] == torch.__version__.split("+")[0]
    assert v["numpy"] == numpy.__version__
    assert package_versions(["no-such-distribution-xyz"])["no-such-distribution-xyz"] is None


def test_git_state_is_the_checkouts_head_and_none_outside_git(tmp_path):
    head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True)
    assert git_state(REPO)["commit"] == head.stdout.strip()
    assert git_state(tmp_path) == {"commit": None, "dirty": None}


def test_pretrain_writes_provenance_beside_its_outputs(tiny_3diebench, tmp_path):
    train = TrainConfig(epochs=0, batch_size=6, num_workers=0)
    run = RunConfig("3diebench", "seqjepa", "mtr2", 0, "3diebench", "rotation", 32, 8, False, 2, {},
                    train, ProbeConfig(m_val=(1, 2)))
    pretrain(run, DataSpec("3diebench", tiny_3diebench["train"], tiny_3diebench["root"], 32, "rotation"),
             tmp_path, device="cpu", show_progress=False)
    prov = json.loads((tmp_path / "provenance.json").read_text())
    assert prov["hardware"]["device_type"] == "cpu" and prov["hardware"]["world_size"] == 1
    assert prov["packages"]["torch"] and "commit" in prov["git"]
