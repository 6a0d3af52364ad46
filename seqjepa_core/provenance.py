"""What a run saw: hardware, software versions and the code's git commit, recorded beside its outputs.

``train.pretrain`` writes ``provenance.json`` into each run directory; the report's provenance page
(``seqjepa_core.report``) tabulates them, so a number can be traced to the GPU and commit that made it.
"""

from __future__ import annotations

import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path

import torch

from seqjepa_core.io import atomic_write_json

REPO = Path(__file__).resolve().parents[1]
# Distributions whose versions change numbers or the pipeline's behaviour.
PACKAGES = ("torch", "torchvision", "numpy", "scipy", "scikit-learn", "pandas", "matplotlib", "pillow",
            "simplejpeg", "huggingface_hub", "snakemake", "snakemake-executor-plugin-slurm")


def _cpu_name() -> str:
    try:  # Linux: platform.processor() is often empty there
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def hardware(device: torch.device, world_size: int = 1) -> dict:
    """The device a run computed on and how many of them took part."""
    cuda = device.type == "cuda"
    return {"device_type": device.type,
            "device_name": torch.cuda.get_device_name(device) if cuda else _cpu_name(),
            "gpus_visible": torch.cuda.device_count() if torch.cuda.is_available() else 0,
            "world_size": world_size,
            "gpu_count": world_size if cuda else 0,
            "cpu_count": os.cpu_count(),
            "hostname": platform.node()}


def package_versions(names=PACKAGES) -> dict[str, str | None]:
    out = {"python": platform.python_version()}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    out["cuda"] = torch.version.cuda  # the CUDA torch was built with (also on CPU-only machines)
    out["cudnn"] = str(torch.backends.cudnn.version()) if torch.backends.cudnn.is_available() else None
    return out


def git_state(repo: str | os.PathLike = REPO) -> dict:
    """``{"commit", "dirty"}`` of the checkout the code runs from; ``commit`` is None outside a git tree."""
    def git(*args: str) -> str | None:
        try:
            res = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return res.stdout.strip() if res.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    dirty = git("status", "--porcelain", "--untracked-files=no") if commit else None
    return {"commit": commit, "dirty": bool(dirty) if dirty is not None else None}


def run_provenance(device: torch.device, world_size: int = 1) -> dict:
    return {"hardware": hardware(device, world_size), "packages": package_versions(), "git": git_state()}


def write_run_provenance(out_dir: str | os.PathLike, device: torch.device, world_size: int = 1) -> None:
    atomic_write_json(run_provenance(device, world_size), Path(out_dir) / "provenance.json")
