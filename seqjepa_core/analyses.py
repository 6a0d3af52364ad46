"""Job-level evaluations of 3DIEBench beyond Table 1 (issue #10): load a checkpoint, evaluate, write JSON.

Results use the probe-record shape of ``evaluate.py`` ({"run": ..., "metrics": [{"metric", "representation",
"m_val", "value"}]}) so ``tables.build_table`` aggregates them over seeds next to the paper's numbers.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import torch

from seqjepa_core.data.loading import BatchStream, DataSpec, build_dataset
from seqjepa_core.io import atomic_write_json
from seqjepa_core.retrieval import mrr_and_hits, predictor_ranks
from seqjepa_core.train import load_method, resolve_device

RETRIEVAL_SEED_OFFSET = 20_000  # the order of each object's views (which are observed) is drawn from this seed


def _run_record(run) -> dict:
    return {"experiment": run.experiment, "method": run.method, "variant": run.variant, "seed": run.seed,
            "m_tr": run.m_tr, "epochs": run.train.epochs}


def evaluate_retrieval(checkpoint: str | os.PathLike, index: str, root: str, out_json: str | os.PathLike,
                       m_obs: Sequence[int] = (1,), device: str = "auto", batch_objects: int = 8,
                       num_workers: int = 0) -> dict:
    """Table 10: MRR, H@1, H@5 of the run's predictor over every (object, target view) of ``index``.

    Each object's views come in a seeded random order; the first ``m_obs`` of them are observed (seq-JEPA
    aggregates them; pair methods see one), the last observed is the source, and every view is a target.
    One record set per ``m_obs``; ``m_val`` is None for pair methods (they observe one view).
    """
    dev = resolve_device(device)
    method, run = load_method(checkpoint, dev)
    if not method.predicts_embeddings:
        raise ValueError(f"{checkpoint}: method {run.method!r} has no action-conditioned predictor to retrieve with")
    method.eval()
    spec = DataSpec(run.dataset, index, root, run.img_size, run.actions)
    seed = run.seed + RETRIEVAL_SEED_OFFSET
    with np.load(index, allow_pickle=False) as z:  # every view the index holds (50; OOD: 4)
        num_views = z["latents"].shape[1]
    ds = build_dataset(spec, num_views=num_views, seed=seed)
    stream = BatchStream(ds, spec, batch_objects, seed, dev, num_workers=num_workers, shuffle=False, drop_last=False)
    m_list = sorted(set(m_obs)) if method.aggregates_sequences else [1]
    ranks: dict[int, list[torch.Tensor]] = {m: [] for m in m_list}
    for batch in stream.epoch(0):
        for m in m_list:
            ranks[m].append(predictor_ranks(method, batch.views, batch.latents, m, stream.module.relative_actions,
                                            run.actions).flatten().cpu())
    records = []
    for m, parts in ranks.items():
        r = torch.cat(parts)
        for name, value in mrr_and_hits(r, ks=(1, 5)).items():
            records.append({"metric": name, "representation": "predictor",
                            "m_val": m if method.aggregates_sequences else None, "value": value, "n_test": len(r)})
    result = {"run": _run_record(run), "metrics": records}
    atomic_write_json(result, out_json)
    return result
