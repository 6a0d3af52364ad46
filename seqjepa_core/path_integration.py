"""Path integration (paper Fig. 6): from z_AGG of M views and the last action a_M, predict the total
transformation from x_1 to x_{M+1}. Generic over datasets: features here, targets in ``PROBE_SPECS``.

The three curves of the paper, each probed with its own head (trained and scored on features of the same
condition, on both probe splits):
* ``path``:        z_AGG(x_1..x_M, a_1..a_{M-1}) ⊕ a_M                     (vision + action conditioning)
* ``path_noact``:  z_AGG with every token's action embedding set to zero; a_M withheld from the head
                   (vision, no action conditioning)
* ``path_novis``:  z_AGG with every token's encoder output set to zero (the action embeddings and the
                   [AGG] token stay) ⊕ a_M                                  (no vision, action conditioning)
"""

from __future__ import annotations

import torch

from seqjepa_core.methods.base import Method


def path_features(method: Method, z: torch.Tensor, actions: torch.Tensor, m_vals) -> dict[str, torch.Tensor]:
    """``z`` [B, V, D] encoded views, ``actions`` [B, V-1, A] raw actions; every M needs M + 1 <= V."""
    if not hasattr(method, "aggregate_ablated"):
        return {}
    out = {}
    for m in m_vals:
        if m + 1 > z.shape[1]:
            raise ValueError(f"path integration at M={m} needs {m + 1} views, got {z.shape[1]}")
        zs, acts, a_m = z[:, :m], actions[:, : m - 1], actions[:, m - 1]
        out[f"path@{m}"] = torch.cat([method.aggregate_ablated(zs, acts), a_m], -1)
        out[f"path_noact@{m}"] = method.aggregate_ablated(zs, acts, zero_actions=True)
        out[f"path_novis@{m}"] = torch.cat([method.aggregate_ablated(zs, acts, zero_vision=True), a_m], -1)
    return out
