"""Skipping work that a batch does not need, without making the host wait for an accelerator."""

from __future__ import annotations

import torch


def known_all_false(mask: torch.Tensor) -> bool:
    """True when ``mask`` has no True entry and the host can tell for free: on the CPU. On an accelerator
    reading it would make the host wait for the device at every call, so there the answer is False and the
    caller does the (branch-free) work anyway."""
    return mask.device.type == "cpu" and not bool(mask.any())
