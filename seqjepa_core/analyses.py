"""Job-level evaluations of 3DIEBench beyond Table 1 (issue #10): load a checkpoint, evaluate, write JSON.

Results use the probe-record shape of ``evaluate.py`` ({"run": ..., "metrics": [{"metric", "representation",
"m_val", "value"}]}) so ``tables.build_table`` aggregates them over seeds next to the paper's numbers.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
from collections.abc import Sequence

import numpy as np
import torch

from seqjepa_core.data.loading import BatchStream, DataSpec, build_dataset
from seqjepa_core.data.threedie import load_index
from seqjepa_core.evaluate import PROBE_SEED_OFFSET, load_frozen, run_record
from seqjepa_core.geometry import compose_quaternions, euler_xyz_to_quaternion
from seqjepa_core.io import atomic_write_json
from seqjepa_core.path_integration import CONDITIONS, path_features, path_key, path_metric, supports_path_integration
from seqjepa_core.probe_samplers import Features, ProbeContext
from seqjepa_core.probe_samplers.threedie import BankSampler, test_features
from seqjepa_core.probes import ProbeSpec, fit_heads, get_probe_specs, load_heads, score_heads
from seqjepa_core.retrieval import mrr_and_hits, predictor_ranks
from seqjepa_core.train import resolve_device

RETRIEVAL_SEED_OFFSET = 20_000  # the order of each object's views (which are observed) is drawn from this seed


def evaluate_retrieval(checkpoint: str | os.PathLike, index: str, root: str, out_json: str | os.PathLike,
                       m_obs: Sequence[int] = (1,), device: str = "auto", batch_objects: int = 8,
                       num_workers: int = 0) -> dict:
    """Table 10: MRR, H@1, H@5 of the run's predictor over every (object, target view) of ``index``.

    Each object's views come in a seeded random order; the first ``m_obs`` of them are observed (seq-JEPA
    aggregates them; pair methods see one), the last observed is the source, and every view is a target.
    One record set per ``m_obs``; ``m_val`` is None for pair methods (they observe one view).
    """
    method, run, dev = load_frozen(checkpoint, device)
    if not method.predicts_embeddings:
        raise ValueError(f"{checkpoint}: method {run.method!r} has no action-conditioned predictor to retrieve with")
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
    result = {"run": run_record(run), "metrics": records}
    atomic_write_json(result, out_json)
    return result


# ------------------------------------------------------------------------------------ OOD (Table 9)


def evaluate_ood(checkpoint: str | os.PathLike, heads: str | os.PathLike, probe_json: str | os.PathLike,
                 ood_index: str, ood_root: str, out_json: str | os.PathLike, device: str = "auto",
                 batch_size: int = 256) -> dict:
    """Table 9: the run's probe heads, fitted on 3DIEBench train by the probe job (``heads``, its
    ``probe.json``), scored on 3DIEBench-OOD.

    Records: ``top1``, ``rel_rot_r2``, ``indiv_rot_r2`` (the paper's "abs rot") on OOD, ``top1_id`` (the probe
    job's in-distribution value) and ``top1_drop`` = OOD - in distribution. z_AGG heads only up to the views
    an OOD object holds (4 in the release).
    """
    method, run, dev = load_frozen(checkpoint, device)
    ood_views = load_index(ood_index)["latents"].shape[1]
    run = dataclasses.replace(run, probe=dataclasses.replace(
        run.probe, m_val=tuple(m for m in run.probe.m_val if m <= ood_views)))
    fitted = [h for h in load_heads(heads, get_probe_specs(run.dataset, run.actions), run.probe, dev)
              if h.m_val is None or h.m_val <= ood_views]
    ctx = ProbeContext(method, run, str(ood_index), str(ood_index), str(ood_root), dev,
                       seed=run.seed + PROBE_SEED_OFFSET, batch_size=batch_size)
    with open(probe_json) as f:
        in_dist = {(r["metric"], r["representation"], r["m_val"]): r["value"] for r in json.load(f)["metrics"]}
    records = []
    for h, (v_ood, n) in zip(fitted, score_heads(fitted, test_features(ctx, str(ood_index)), dev)):
        v_id = in_dist[(h.spec.metric, h.spec.features, h.m_val)]
        base = {"representation": h.spec.features, "m_val": h.m_val, "n_test": n}
        records.append({**base, "metric": h.spec.metric, "value": v_ood, "in_distribution": v_id})
        if h.spec.metric == "top1":
            records += [{**base, "metric": "top1_id", "value": v_id},
                        {**base, "metric": "top1_drop", "value": v_ood - v_id}]
    result = {"run": run_record(run), "metrics": records}
    atomic_write_json(result, out_json)
    return result


# ------------------------------------------------------------------------- path integration (Fig. 6b)

class PathIntegrationSampler(BankSampler):
    """3DIEBench's feature-bank sampler, its draws extended with the path-integration inputs."""

    def __init__(self, ctx: ProbeContext, m_vals: Sequence[int]):
        self.path_m = list(m_vals)
        super().__init__(ctx)

    def _gather(self, split, bank: torch.Tensor, rows: torch.Tensor, views: torch.Tensor) -> Features:
        feats = super()._gather(split, bank, rows, views)
        z = bank[rows.to(bank.device)[:, None], views.to(bank.device)].float().to(self.ctx.device)
        with torch.no_grad():
            feats.update(path_features(self.ctx.method, z, feats["actions"], self.path_m))
        return feats


def _composed(m: int, feats: Features) -> torch.Tensor:
    return compose_quaternions(feats["actions"][:, :m, :4].double()).float()  # x_1 -> x_{M+1}


def path_integration_specs(m_vals: Sequence[int]) -> list[ProbeSpec]:
    """One MLP head per (condition, M): the paper uses an MLP for angular path integration."""
    return [ProbeSpec(path_metric(c), path_key(c, m), functools.partial(_composed, m), head="mlp")
            for c in CONDITIONS for m in m_vals]


def evaluate_path_integration(checkpoint: str | os.PathLike, train_index: str, val_index: str, root: str,
                              out_json: str | os.PathLike, m_vals: Sequence[int] = tuple(range(1, 8)),
                              device: str = "auto", batch_size: int = 256, epochs: int | None = None) -> dict:
    """Fig. 6b: R² of a head on z_AGG ⊕ emb(a_M) predicting the rotation from x_1 to x_{M+1} (the composition of
    the M relative rotations), fitted on fresh train draws each epoch and scored on the validation draws, for
    each M_val and condition. Records: ``path_r2_<condition>`` with ``m_val`` = M. ``epochs`` replaces the
    run's ``probe.epochs`` for these heads."""
    method, run, dev = load_frozen(checkpoint, device)
    if not supports_path_integration(method):
        raise ValueError(f"{checkpoint}: path integration needs seq-JEPA's aggregator and predictor, not {run.method!r}")
    # draws of max(M)+1 views: M observed and the one a_M leads to
    run = dataclasses.replace(run, probe=dataclasses.replace(run.probe, m_val=(max(m_vals) + 1,),
                                                             epochs=epochs or run.probe.epochs))
    ctx = ProbeContext(method, run, str(train_index), str(val_index), str(root), dev,
                       seed=run.seed + PROBE_SEED_OFFSET, batch_size=batch_size)
    sampler = PathIntegrationSampler(ctx, m_vals)
    heads, _ = fit_heads(sampler, path_integration_specs(m_vals), run.probe, dev, run.seed)
    records = []
    for h, (value, n) in zip(heads, score_heads(heads, sampler.test(), dev)):
        records.append({"metric": h.spec.metric, "representation": "z_agg+a_M", "m_val": int(h.key.split("@")[1]),
                        "value": value, "train_value": h.train_value, "n_test": n})
    result = {"run": run_record(run), "metrics": records}
    atomic_write_json(result, out_json)
    return result


# ------------------------------------------------------------------------ qualitative figures (Figs. 4, 5)


def read_sequences(spec: DataSpec, num_views: int, seed: int, max_objects: int):
    """One seeded random sequence of ``num_views`` views for each of the first ``max_objects`` objects (spread
    over the split), decoded: the dataset and its raw items (uint8 images [N, V, 3, H, W], latents, labels)."""
    ds = build_dataset(spec, num_views=num_views, seed=seed)
    rows = np.linspace(0, len(ds) - 1, min(max_objects, len(ds))).round().astype(int)
    items = [ds[int(i)] for i in rows]
    return ds, {"images": torch.stack([it["images"] for it in items]),
                "latents": torch.stack([it["latents"] for it in items]),
                "labels": torch.tensor([it["label"] for it in items])}


def sample_sequences(index: str, root: str, run, num_views: int, seed: int, max_objects: int, device: torch.device,
                     decoded: dict | None = None):
    """``read_sequences`` for a run: raw uint8 images [N, V, 3, H, W] and the normalised batch with its
    labels/latents. ``decoded`` keeps what was read for the next run on the same images (its actions may differ)."""
    spec = DataSpec(run.dataset, index, root, run.img_size, run.actions)
    decoded = {} if decoded is None else decoded
    key = (run.dataset, index, root, run.img_size, num_views, seed, max_objects)   # what the images depend on
    if key not in decoded:
        decoded[key] = read_sequences(spec, num_views, seed, max_objects)
    ds, raw = decoded[key]
    return raw["images"], BatchStream(ds, spec, len(raw["labels"]), seed, device).to_batch(raw)


@torch.no_grad()
def nearest_neighbour_grid(checkpoints: dict[str, str], index: str, root: str, out_png: str | os.PathLike,
                           queries: int = 6, k: int = 3, max_objects: int = 400, device: str = "auto",
                           seed: int = 0) -> dict[str, np.ndarray]:
    """Fig. 4: for a few query views, the ``k`` nearest views of *other* objects by cosine similarity of
    encoder outputs, per method (label -> checkpoint); one seeded view per object, the same for every method.
    Returns the neighbours' object rows per method."""
    from seqjepa_core.figures_3diebench import retrieval_grid

    dev = resolve_device(device)
    neighbours, found, images, decoded = {}, {}, None, {}
    for label, ckpt in checkpoints.items():
        method, run, _ = load_frozen(ckpt, device)
        images, batch = sample_sequences(index, root, run, 1, seed + RETRIEVAL_SEED_OFFSET, max_objects, dev,
                                         decoded)   # each JPEG decoded once, whatever the number of methods
        z = torch.nn.functional.normalize(method.encode_views(batch.views)[:, 0].float(), dim=-1)
        q = torch.linspace(0, len(z) - 1, queries).round().long()
        sims = z[q] @ z.T
        sims[torch.arange(queries), q] = -2.0  # never the query itself
        nn_rows = sims.topk(k, dim=1).indices.cpu()
        found[label] = nn_rows.numpy()
        neighbours[label] = images[nn_rows][:, :, 0].permute(0, 1, 3, 4, 2).numpy()
    query_images = images[q.cpu(), 0].permute(0, 2, 3, 1).numpy()
    retrieval_grid(query_images, neighbours, out_png)
    return found


def _rotation_angle(latents: torch.Tensor) -> np.ndarray:
    """Angle (rad) of each view's rotation from the canonical pose: 2 acos|w| of its quaternion."""
    w = euler_xyz_to_quaternion(latents[..., :3].double())[..., 3].abs().clamp(max=1.0)
    return (2 * torch.acos(w)).cpu().numpy()


@torch.no_grad()
def embedding_umaps(checkpoint: str, index: str, root: str, out_png: str | os.PathLike, m_val: int = 5,
                    max_objects: int = 2000, device: str = "auto", seed: int = 0) -> int:
    """Fig. 5: UMAP of encoder outputs (one view per object) coloured by class and by rotation angle, and of
    z_AGG over ``m_val`` views coloured by class."""
    from seqjepa_core.figures_3diebench import embedding_figure, umap_2d

    method, run, dev = load_frozen(checkpoint, device)
    _, batch = sample_sequences(index, root, run, max(m_val, 1), seed + RETRIEVAL_SEED_OFFSET, max_objects, dev)
    z = method.encode_views(batch.views)
    enc = umap_2d(z[:, 0].float().cpu().numpy(), seed=seed)
    labels = batch.labels.cpu().numpy()
    panels = [("encoder, by class", enc, labels, "class"),
              ("encoder, by rotation angle", enc, _rotation_angle(batch.latents[:, 0]), "angle")]
    if method.aggregates_sequences:
        agg = method.aggregate_encoded(z[:, :m_val], batch.actions[:, : m_val - 1]).float().cpu().numpy()
        panels.append((f"z_AGG (M_val = {m_val}), by class", umap_2d(agg, seed=seed), labels, "class"))
    return embedding_figure(panels, out_png)
