"""Figures of the 3DIEBench analyses beyond Table 1 (paper Figs. 4, 5, 6b, 7, 8).

Every function draws from plain tables or arrays (what the aggregation jobs write), saves a PNG atomically and
returns what it drew, so tests can compare the drawing with its input.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")  # headless: cluster jobs have no display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from seqjepa_core.figures import annotated_grid, save_png  # noqa: E402


def _save(fig, out_png: str | os.PathLike) -> None:
    fig.tight_layout()
    save_png(fig, out_png)


def _grid(long: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Long rows (m_tr, m_val, metric, value) -> a [M_val x M_tr] grid of ``metric``."""
    sub = long[long["metric"] == metric]
    return sub.pivot_table(index="m_val", columns="m_tr", values="value", aggfunc="mean").sort_index().sort_index(axis=1)


def seq_length_heatmap(long: pd.DataFrame, out_png: str | os.PathLike, paper: pd.DataFrame | None = None,
                       metric: str = "top1") -> list[str]:
    """Fig. 8: top-1 of the z_AGG probe, rows M_val, columns M_tr, each cell printed; the paper's beside it.

    Returns the printed cell texts of our grid, row by row (NaN cells print as "–").
    """
    grids = [("ours", _grid(long, metric))] + ([("paper", _grid(paper, metric))] if paper is not None else [])
    fig, axes = plt.subplots(1, len(grids), figsize=(4.2 * len(grids), 4.6), squeeze=False)
    texts: list[str] = []
    for ax, (name, grid) in zip(axes[0], grids):
        values = grid.to_numpy(dtype=float)
        cells = [["–" if math.isnan(v) else f"{v:.1f}" for v in row] for row in values]
        colors = [["white" if math.isnan(v) or v < np.nanmean(values) else "black" for v in row] for row in values]
        im = annotated_grid(ax, values, grid.index, grid.columns, cells, colors, xlabel="M_tr (training sequence length)",
                            ylabel="M_val (inference sequence length)", title=f"3DIEBench top-1 (%) on z_AGG: {name}")
        texts += [text for row in cells for text in row] if name == "ours" else []
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    _save(fig, out_png)
    return texts


def seq_length_curves(long: pd.DataFrame, out_png: str | os.PathLike, m_val_for_mtr: int = 5, m_tr_for_mval: int = 3,
                      paper: pd.DataFrame | None = None) -> dict[str, pd.Series]:
    """Fig. 7: equivariance R² vs M_tr, top-1 vs M_tr (at M_val = ``m_val_for_mtr``), top-1 vs M_val (at M_tr =
    ``m_tr_for_mval``); the paper's values dashed. Returns the three plotted series of ours."""
    def series(df: pd.DataFrame) -> dict[str, pd.Series]:
        r2 = df[df["metric"] == "rel_rot_r2"].groupby("m_tr")["value"].mean()
        top1 = _grid(df, "top1")
        return {"r2_vs_mtr": r2,
                "top1_vs_mtr": top1.loc[m_val_for_mtr] if m_val_for_mtr in top1.index else pd.Series(dtype=float),
                "top1_vs_mval": top1[m_tr_for_mval] if m_tr_for_mval in top1.columns else pd.Series(dtype=float)}

    ours = series(long)
    theirs = series(paper) if paper is not None else {}
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.6))
    titles = {"r2_vs_mtr": ("M_tr", "Relative rotation R²", "Equivariance vs M_tr"),
              "top1_vs_mtr": ("M_tr", "Top-1 (%)", f"Top-1 on z_AGG vs M_tr (M_val = {m_val_for_mtr})"),
              "top1_vs_mval": ("M_val", "Top-1 (%)", f"Top-1 on z_AGG vs M_val (M_tr = {m_tr_for_mval})")}
    for ax, (key, (xlabel, ylabel, title)) in zip(axes, titles.items()):
        s = ours[key].dropna()
        ax.plot(s.index, s.values, "o-", color="#d62728", label="ours")
        if key in theirs and len(theirs[key].dropna()):
            p = theirs[key].dropna()
            ax.plot(p.index, p.values, "s--", color="0.45", mfc="white", label="paper")
        ax.set(xlabel=xlabel, ylabel=ylabel)
        ax.set_title(title, fontsize=9)
        ax.grid(alpha=0.25, lw=0.5)
        ax.legend(fontsize=7, frameon=False)
    _save(fig, out_png)
    return ours


def retrieval_grid(queries: np.ndarray, neighbours: Mapping[str, np.ndarray], out_png: str | os.PathLike) -> tuple[int, int]:
    """Fig. 4: each row a query view, then for each method its nearest neighbours (uint8 images [.., H, W, 3]).

    ``queries`` [Q, H, W, 3]; ``neighbours[method]`` [Q, K, H, W, 3]. Returns the grid shape (rows, columns).
    """
    q = len(queries)
    k = {m: n.shape[1] for m, n in neighbours.items()}
    cols = 1 + sum(k.values())
    fig, axes = plt.subplots(q, cols, figsize=(0.9 * cols, 0.95 * q + 0.4), squeeze=False)
    for i in range(q):
        axes[i, 0].imshow(queries[i])
        c = 1
        for method, imgs in neighbours.items():
            for j in range(k[method]):
                axes[i, c].imshow(imgs[i, j])
                if i == 0:
                    axes[i, c].set_title(f"{method}\n{j + 1}-NN" if j == 0 else f"{j + 1}-NN", fontsize=6)
                c += 1
    axes[0, 0].set_title("query", fontsize=6)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    _save(fig, out_png)
    return q, cols


def umap_2d(x: np.ndarray, seed: int = 0, n_neighbors: int = 15) -> np.ndarray:
    """2-D UMAP (umap-learn, as the paper's Fig. 5) of features [N, D], seeded."""
    import umap  # lazily: numba compiles on first import

    reducer = umap.UMAP(n_components=2, n_neighbors=min(n_neighbors, len(x) - 1), random_state=seed, n_jobs=1)
    return reducer.fit_transform(np.asarray(x, dtype=np.float32))


def embedding_figure(panels: Sequence[tuple[str, np.ndarray, np.ndarray, str]], out_png: str | os.PathLike) -> int:
    """Fig. 5: scatter panels (title, 2-D points [N, 2], colour values [N], "class" | "angle"). Classes get a
    qualitative colour map, angles a cyclic one. Returns the number of panels."""
    fig, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 3.8), squeeze=False)
    for ax, (title, xy, colour, kind) in zip(axes[0], panels):
        cmap = "tab10" if kind == "class" else "twilight"
        sc = ax.scatter(xy[:, 0], xy[:, 1], c=colour, cmap=cmap, s=5, linewidths=0)
        fig.colorbar(sc, ax=ax, fraction=0.046, pad=0.04, label="class" if kind == "class" else "angle (rad)")
        ax.set_title(title, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    _save(fig, out_png)
    return len(panels)
