"""The STL-10 saccade figures: Fig. 9 (top-1 on z_AGG over M_tr x M_val), Fig. 6a (path integration) and
a Fig. 2b-style sheet of images, saliency maps, fixations in order and the patches the model sees."""

from __future__ import annotations

import json

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from seqjepa_core.analysis_tables import path_integration_table  # noqa: E402
from seqjepa_core.figures import annotated_grid, save_png, path_integration_figure as path_curves_figure  # noqa: E402
from seqjepa_core.tables import load_paper_numbers  # noqa: E402


def _load(paths) -> list[dict]:
    out = []
    for p in paths:
        with open(p) as f:
            out.append(json.load(f))
    return out


def heatmap_grid(results: list[dict]) -> tuple[list[int], list[int], np.ndarray]:
    """(M_tr values, M_val values, top-1 [M_val, M_tr]) from one probe result per M_tr."""
    cells = {}
    for r in results:
        for rec in r["metrics"]:
            if rec["metric"] == "top1" and rec.get("m_val") is not None:
                cells[(int(rec["m_val"]), int(r["run"]["m_tr"]))] = float(rec["value"])
    m_trs = sorted({t for _, t in cells})
    m_vals = sorted({v for v, _ in cells})
    grid = np.array([[cells.get((v, t), np.nan) for t in m_trs] for v in m_vals])
    return m_trs, m_vals, grid


def heatmap_figure(inputs, out_png, spec: dict) -> None:
    m_trs, m_vals, grid = heatmap_grid(_load(inputs))
    paper = load_paper_numbers()
    paper = {r.label: r.value for r in paper[paper.table == "fig9"].itertuples()}
    fig, axes = plt.subplots(1, 2, figsize=(9, 4.5), sharey=True)
    ref = np.array([[paper.get(f"M_tr = {t}, M_val = {v}", np.nan) for t in m_trs] for v in m_vals])
    for ax, data, title in ((axes[0], grid, "ours (one seed)"), (axes[1], ref, "paper (Fig. 9)")):
        cells = [["" if np.isnan(v) else f"{v:.1f}" for v in row] for row in data]
        fig.colorbar(annotated_grid(ax, data, m_vals, m_trs, cells, title=title), ax=ax, fraction=0.046)
    axes[0].set_ylabel("M_val")
    fig.suptitle("STL-10 saccades: linear top-1 (%) on z_AGG", fontsize=10)
    fig.tight_layout()
    save_png(fig, out_png)


def path_integration_figure(inputs, out_png, spec: dict) -> None:
    """Fig. 6a: the three path-integration curves over M_val, mean ± std over seeds, the paper's dashed."""
    path_curves_figure(path_integration_table(_load(inputs), "fig6a"), out_png,
                       "STL-10 saccade path integration (Fig. 6a)", xlabel="M_val (glimpses)",
                       ylabel="R² of the displacement x_1 → x_{M+1}")


def fixations_figure(inputs, out_png, spec: dict, images: int = 4, fixations: int = 5, seed: int = 0) -> None:
    """Images with their saliency maps, the sampled fixations in order, and the patches (Fig. 2b style)."""
    import torch

    from seqjepa_core.data.fixations import FixationSampler
    from seqjepa_core.data.saccade_options import parse_saccade_options
    from seqjepa_core.data.stl10 import MEAN, STD, SaccadeImages, batch_generator

    opts = parse_saccade_options({**spec.get("data", {}), "views": "patches"}, "data")
    data = SaccadeImages(inputs[0])
    idx = np.arange(min(images, len(data)))
    imgs, sal, labels = data.batch(idx, torch.device("cpu"))
    sampler = FixationSampler(opts, data.image_size, MEAN, STD)
    batch = sampler.batch(imgs, sal, labels, fixations, batch_generator(torch.device("cpu"), seed))
    std, mean = torch.tensor(STD).view(3, 1, 1), torch.tensor(MEAN).view(3, 1, 1)
    patches = (batch.views * std + mean).clamp(0, 1)
    pos = batch.latents.numpy() * data.image_size
    fig, axes = plt.subplots(len(idx), 2 + fixations, figsize=(1.6 * (2 + fixations), 1.7 * len(idx)))
    axes = np.atleast_2d(axes)
    for i in range(len(idx)):
        axes[i, 0].imshow(imgs[i].permute(1, 2, 0).numpy())
        axes[i, 0].plot(pos[i, :, 1], pos[i, :, 0], "-", color="w", lw=0.8)
        for k, (r, c) in enumerate(pos[i]):
            axes[i, 0].text(c, r, str(k + 1), color="yellow", fontsize=7, ha="center", va="center", weight="bold")
        axes[i, 1].imshow(sal[i].numpy(), cmap="magma")
        for k in range(fixations):
            axes[i, 2 + k].imshow(patches[i, k].permute(1, 2, 0).numpy())
            axes[i, 2 + k].set_title(f"{k + 1}", fontsize=7)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    axes[0, 0].set_title("image + fixations", fontsize=7)
    axes[0, 1].set_title("saliency", fontsize=7)
    fig.suptitle(f"fixations: {opts.fixations}, IoR {opts.ior} r={opts.ior_radius}, "
                 f"{opts.patch_size}px patches ({opts.patch_convention})", fontsize=8)
    fig.tight_layout()
    save_png(fig, out_png)


FIGURES = {"heatmap": heatmap_figure, "path_integration": path_integration_figure, "fixations": fixations_figure}
