"""Path integration (paper Fig. 6): from M observed views and the action a_M leading on, predict the total
transformation from x_1 to x_{M+1}. One definition for every setting (3DIEBench rotations, Fig. 6b; STL-10
saccades, Fig. 6a): the features here, the targets and heads where each setting probes them.

The head's input is the paper's concat(z_AGG, a_M) as the model itself conditions on a_M: z_AGG ⊕ emb(a_M),
the predictor's input (``SeqJEPA.predictor_input``), a_M through the same action projector as the tokens'
actions. Under the paper's three curves, each probed with its own head:

* ``full``:      the frozen model as trained (red);
* ``no_action``: every action embedding zeroed, the M - 1 tokens' and a_M's (blue: "action embeddings zeroed
                 for all views"); the encoder outputs are intact;
* ``no_vision``: every encoder output z_1..z_M zeroed before the aggregator; the action embeddings and the
                 [AGG] token are intact (green).

Why emb(a_M) and not the raw a_M: at M = 1 the target is a_M itself, and the paper's blue curve there is
R² 0.18 (3DIEBench) and 0.04 (STL-10). So zeroing the action embeddings removes a_M from the head, which
holds only if a_M reaches the head as an embedding. The released code has no path integration.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

# Fig. 6's curves: condition -> (legend, colour)
CONDITIONS = {"full": ("Vision + act. cond.", "#d62728"), "no_action": ("Vision, no act. cond.", "#1f77b4"),
              "no_vision": ("No vision + act. cond.", "#2ca02c")}


def feature_name(condition: str) -> str:
    """A condition's ``ProbeSpec.features``; its keys carry the M: ``path_key``."""
    return f"path_{condition}"


def path_key(condition: str, m: int) -> str:
    """The feature key of one condition at M observed views (one probe per M: ``ProbeSpec.inputs``)."""
    return f"{feature_name(condition)}@{m}"


def path_metric(condition: str) -> str:
    """The record name of a condition's R²."""
    return f"path_r2_{condition}"


def supports_path_integration(method) -> bool:
    return hasattr(method, "predictor_input")


def path_features(method, z: torch.Tensor, actions: torch.Tensor, m_vals: Sequence[int]) -> dict[str, torch.Tensor]:
    """The head inputs of every condition at each M of ``m_vals``: {``path_key(c, M)``: [S, F]}.

    ``z`` [S, V, D]: encoded views; ``actions`` [S, V - 1, A]: a_i takes view i to view i + 1, as in training.
    Each M needs a_M, so M <= V - 1. Empty for a method without seq-JEPA's aggregator and predictor.
    """
    if not supports_path_integration(method):
        return {}
    out = {}
    for m in m_vals:
        if not 1 <= m <= actions.shape[1]:
            raise ValueError(f"path integration at M={m} needs M views and the action a_M after them; "
                             f"got {z.shape[1]} views and {actions.shape[1]} actions")
        zm, am = z[:, :m], actions[:, :m]
        out[path_key("full", m)] = method.predictor_input(zm, am)
        out[path_key("no_action", m)] = method.predictor_input(zm, am, zero_actions=True)
        out[path_key("no_vision", m)] = method.predictor_input(torch.zeros_like(zm), am)
    return out
