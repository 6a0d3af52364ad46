"""The authors' released checkpoints (Hugging Face Hub ``Hafez/seq-JEPA``, paper §7.3) as checkpoints of ours.

A file from the internet is untrusted: it is read with ``weights_only=True`` (tensors and plain data; a
pickle that would build any other object is refused before it runs), its online-probe heads are dropped
(the official code trains them inside the model, §6.3), and every other key must match our model for the
run config in name and shape. The result is an ordinary ``checkpoint.pt`` carrying the paper's run config
for those weights, so the probes our own runs get apply unchanged.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch

from seqjepa_core.config import RunConfig
from seqjepa_core.train import build_method_for_run, load_checkpoint, save_checkpoint

ONLINE_PROBE_PREFIX = "online_"  # online_linprobe.*, online_equiprobe.* in the official state_dict


class CheckpointMismatch(ValueError):
    """The released weights do not fit the model the run config builds; the message names the keys."""


def official_state_dict(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """The model weights of an official checkpoint: ``ckpt['model']`` (their layout), or a bare state_dict."""
    ckpt = load_checkpoint(path)
    state = ckpt.get("model", ckpt) if isinstance(ckpt, dict) else None
    if not isinstance(state, dict) or not state or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointMismatch(f"{path}: no state_dict of tensors (top-level keys: "
                                 f"{sorted(ckpt) if isinstance(ckpt, dict) else type(ckpt).__name__})")
    return state


def _listed(keys: list[str], limit: int = 8) -> str:
    return ", ".join(keys[:limit]) + (f" and {len(keys) - limit} more" if len(keys) > limit else "")


def match_state_dict(official: dict[str, torch.Tensor], ours: dict[str, torch.Tensor],
                     where: str) -> dict[str, torch.Tensor]:
    """``official`` without its online probes, checked key by key and shape by shape against ``ours``."""
    kept = {k: v for k, v in official.items() if not k.startswith(ONLINE_PROBE_PREFIX)}
    missing = sorted(set(ours) - set(kept))
    unexpected = sorted(set(kept) - set(ours))
    shapes = [f"{k} {tuple(kept[k].shape)} (ours {tuple(ours[k].shape)})"
              for k in ours if k in kept and kept[k].shape != ours[k].shape]
    problems = [f"{what}: {_listed(keys)}" for what, keys in
                (("missing", missing), ("unexpected", unexpected), ("shape mismatch", shapes)) if keys]
    if problems:
        raise CheckpointMismatch(f"{where}: does not match the model of its run config: " + "; ".join(problems))
    return kept


def import_released(official: str | os.PathLike, run: RunConfig, out: str | os.PathLike,
                    source: dict | None = None) -> Path:
    """Write ``out`` (our checkpoint format, with ``run`` and the provenance ``source``) from ``official``."""
    method = build_method_for_run(run)
    state = match_state_dict(official_state_dict(official), method.state_dict(), str(official))
    method.load_state_dict(state)
    return save_checkpoint(run, method, out, source=dict(source or {}, file=str(official)))


def download_provenance(marker: str | os.PathLike) -> dict:
    """What the download step recorded (repo, requested revision, resolved commit) in its marker."""
    info = json.loads(Path(marker).read_text())
    return {k: info.get(k) for k in ("repo", "revision", "commit")}
