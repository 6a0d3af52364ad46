"""Fig. 15: a frozen STL-10 seq-JEPA probed on ImageNet-1k saccades (linear top-1 on z_AGG, M_val 1-8).

``probe_transfer`` is one probe job (one patch size): the run's encoder and aggregator are frozen, fixations
are drawn afresh over every ImageNet training image in every probe epoch (``probe_samplers.imagenet_transfer``)
and the heads are scored on the validation images. ``transfer_table`` puts the paper's Fig. 15 numbers and
the gap beside ours; ``transfer_figure`` plots both.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Sequence

import pandas as pd

from seqjepa_core.config import ProbeConfig
from seqjepa_core.evaluate import PROBE_SEED_OFFSET, load_frozen, run_record
from seqjepa_core.io import atomic_path, atomic_write_json
from seqjepa_core.probe_samplers import ProbeContext, build_sampler
from seqjepa_core.probes import get_probe_specs, run_probes
from seqjepa_core.tables import load_paper_numbers

SOURCE_DATASET = "stl10"   # the pretraining whose patches and actions the transfer's match


def probe_transfer(checkpoint: str | os.PathLike, train_index: str, test_index: str, out_json: str | os.PathLike,
                   data: dict, probe: ProbeConfig, dataset: str = "imagenet", num_workers: int = 8,
                   device: str = "auto", batch_size: int | None = None) -> dict:
    """Fit linear z_AGG probes (``probe.m_val``) of the frozen run on ``train_index``, score on ``test_index``.

    ``data``: the saccade sampler's options (patch size, inhibition of return). The result is a pure function
    of (checkpoint, indices, options, seed); it is written to ``out_json``.
    """
    method, run, dev = load_frozen(checkpoint, device)
    if run.dataset != SOURCE_DATASET:
        raise ValueError(f"{checkpoint}: a {run.dataset!r} run; the transfer probes a model trained on "
                         f"{SOURCE_DATASET!r} saccades")
    run = dataclasses.replace(run, dataset=dataset, data=dict(data), probe=probe,
                              train=dataclasses.replace(run.train, num_workers=num_workers))
    ctx = ProbeContext(method, run, str(train_index), str(test_index), "", dev,
                       seed=run.seed + PROBE_SEED_OFFSET, batch_size=batch_size or probe.batch_size)
    metrics = run_probes(build_sampler(dataset, ctx), get_probe_specs(dataset, run.actions), probe, dev,
                         seed=run.seed)
    result = {"run": run_record(run), "transfer": {"dataset": dataset, **data}, "config": dataclasses.asdict(run),
              "metrics": metrics}
    atomic_write_json(result, out_json)
    return result


def paper_label(patch_size: int) -> str:
    return f"Patch {patch_size}"


def transfer_table(results: Sequence[dict], paper_table: str = "fig15") -> pd.DataFrame:
    """One row per (patch size, M_val): our top-1, the paper's, and ours minus the paper's."""
    paper = load_paper_numbers()
    paper = paper[paper["table"] == paper_table].set_index(["label", "metric"])["value"]
    rows = []
    for res in results:
        patch = int(res["transfer"]["patch_size"])
        for rec in res["metrics"]:
            if rec["metric"] != "top1" or rec.get("m_val") is None:
                continue
            ref = paper.get((paper_label(patch), f"top1@{rec['m_val']}"), float("nan"))
            rows.append({"patch_size": patch, "m_val": int(rec["m_val"]), "top1": round(rec["value"], 2),
                         "paper_top1": ref, "gap": round(rec["value"] - ref, 2), "train_top1": round(rec["train_value"], 2),
                         "n_train": rec["n_train"], "n_test": rec["n_test"], "epochs": rec["epochs"],
                         "experiment": res["run"]["experiment"], "variant": res["run"]["variant"],
                         "seed": res["run"]["seed"]})
    if not rows:
        raise ValueError("no z_AGG top-1 records in the transfer results")
    return pd.DataFrame(rows).sort_values(["patch_size", "m_val"]).reset_index(drop=True)


def write_table(inputs: Sequence[str | os.PathLike], out_csv: str | os.PathLike, paper_table: str = "fig15") -> pd.DataFrame:
    results = []
    for p in inputs:
        with open(p) as f:
            results.append(json.load(f))
    df = transfer_table(results, paper_table)
    with atomic_path(out_csv) as tmp:
        df.to_csv(tmp, index=False)
    return df


def transfer_figure(table_csv: str | os.PathLike, out_png: str | os.PathLike, title: str = "") -> None:
    """Top-1 over M_val per patch size: ours (solid) and the paper's Fig. 15 (dashed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from seqjepa_core.figures import save_png

    df = pd.read_csv(table_csv)
    fig, ax = plt.subplots(figsize=(5.5, 4))
    for i, (patch, sub) in enumerate(df.groupby("patch_size")):
        colour = f"C{i}"
        ax.plot(sub["m_val"], sub["top1"], "o-", color=colour, label=f"ours, patch {patch}")
        if sub["paper_top1"].notna().any():
            ax.plot(sub["m_val"], sub["paper_top1"], "s--", color=colour, alpha=0.6, label=f"paper, patch {patch}")
    ax.set_xlabel("M_val (observed patches)")
    ax.set_ylabel("ImageNet-1k top-1 (%)")
    ax.set_title(title or "ImageNet-1k transfer (Fig. 15): z_AGG of the STL-10 model", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    save_png(fig, out_png)
