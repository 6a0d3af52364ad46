"""Paper figures drawn from aggregated tables (``seqjepa_core.tables``)."""

from __future__ import annotations

import math
import os
import textwrap

import matplotlib

matplotlib.use("Agg")  # headless: cluster jobs have no display
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402
from matplotlib.transforms import Bbox  # noqa: E402

from seqjepa_core.io import atomic_path  # noqa: E402


def save_png(fig, out_png: str | os.PathLike, dpi: int = 150) -> None:
    """Write ``fig`` to ``out_png`` atomically and free it."""
    with atomic_path(out_png) as tmp:
        fig.savefig(tmp, dpi=dpi, format="png")
    plt.close(fig)


def annotated_grid(ax, values, m_vals, m_trs, texts, colors="white", fontsize: float = 7, xlabel: str = "M_tr",
                   ylabel: str = "", title: str = ""):
    """The M_val (rows) x M_tr (columns) heatmap of Figs. 8-11: ``values`` [M_val, M_tr] in viridis, ``texts``
    printed in the cells ("" prints nothing), in ``colors`` (one colour, or one per cell). Returns the image
    (for a colour bar)."""
    im = ax.imshow(values, cmap="viridis", aspect="auto", origin="upper")
    for i, row in enumerate(texts):
        for j, text in enumerate(row):
            if text:
                color = colors if isinstance(colors, str) else colors[i][j]
                ax.text(j, i, text, ha="center", va="center", fontsize=fontsize, color=color)
    ax.set_xticks(range(len(m_trs)), [str(m) for m in m_trs])
    ax.set_yticks(range(len(m_vals)), [str(m) for m in m_vals])
    ax.set_xlabel(xlabel)
    if ylabel:
        ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)
    return im


FAMILY_COLORS = {"invariant": "#1f77b4", "equivariant": "#ff7f0e", "invariant-equivariant": "#d62728"}
AXIS_LABELS = {"top1": "Top-1 accuracy (%)", "rel_rot_r2": "Relative rotation R²",
               "indiv_rot_r2": "Individual rotation R²", "color_r2": "Colour R²"}


def _num(v) -> float:
    return math.nan if v is None or pd.isna(v) else float(v)


# Label offsets (points) tried in order; the first that overlaps no placed label or marker wins.
_OFFSETS = [(5, 3), (5, -9), (-5, 3), (-5, -9)] + [(dx, dy) for dy in (12, -18, 21, -27, 30, -36)
                                                   for dx in (5, -5)]


def _place_labels(ax, labels: list[tuple[str, tuple[float, float], str]],
                  points: list[tuple[float, float]]) -> None:
    """Greedy label placement: markers close together (seq-JEPA variants) would otherwise overprint."""
    fig = ax.figure
    renderer = fig.canvas.get_renderer()
    r = 4 * fig.dpi / 72  # marker half-size in pixels
    frame = ax.get_window_extent(renderer)
    taken = [Bbox.from_extents(x - r, y - r, x + r, y + r) for x, y in ax.transData.transform(points)]
    for text, xy, color in sorted(labels, key=lambda t: -t[1][1]):  # top to bottom
        best = None
        for dx, dy in _OFFSETS:
            ann = ax.annotate(text, xy, xytext=(dx, dy), textcoords="offset points", fontsize=6.5,
                              color=color, ha="left" if dx > 0 else "right", va="bottom")
            box = ann.get_window_extent(renderer)
            inside = frame.containsx(box.x0) and frame.containsx(box.x1) and frame.containsy(box.y1)
            hits = sum(box.overlaps(b) for b in taken) + (0 if inside else 100)
            ann.remove()
            if best is None or hits < best[0]:
                best = (hits, dx, dy, box)
            if hits == 0:
                break
        _, dx, dy, box = best
        far = abs(dy) > 9  # a leader line once the label has moved away from its marker
        ax.annotate(text, xy, xytext=(dx, dy), textcoords="offset points", fontsize=6.5, color=color,
                    ha="left" if dx > 0 else "right", va="bottom",
                    arrowprops=dict(arrowstyle="-", color=color, lw=0.4, alpha=0.7, shrinkA=0, shrinkB=2)
                    if far else None)
        taken.append(box)


def tradeoff_figure(table_df: pd.DataFrame, out_png: str | os.PathLike, x: str = "top1",
                    y: str = "rel_rot_r2", title: str = "3DIEBench: invariance vs equivariance") -> None:
    """Paper Fig. 3: one point per table row, ours filled (± std over seeds), the paper's hollow.

    A thin line joins ours to the paper's value of the same row; colour = method family.
    """
    fig, ax = plt.subplots(figsize=(7.5, 5.5))
    labels: list[tuple[str, tuple[float, float], str]] = []
    points: list[tuple[float, float]] = []
    for _, r in table_df.iterrows():
        color = FAMILY_COLORS.get(str(r.get("family")), "0.4")
        ox, oy = _num(r[f"{x}_mean"]), _num(r[f"{y}_mean"])
        px, py = _num(r.get(f"{x}_paper")), _num(r.get(f"{y}_paper"))
        ours, paper = not (math.isnan(ox) or math.isnan(oy)), not (math.isnan(px) or math.isnan(py))
        if ours and paper:
            ax.plot([px, ox], [py, oy], color=color, lw=0.7, alpha=0.5, zorder=1)
        if paper:
            ax.scatter(px, py, s=45, facecolors="white", edgecolors=color, linewidths=1.4, zorder=2)
        if ours:
            xerr, yerr = _num(r.get(f"{x}_std")), _num(r.get(f"{y}_std"))
            if int(r.get("n_seeds", 0) or 0) > 1:
                ax.errorbar(ox, oy, xerr=0 if math.isnan(xerr) else xerr, yerr=0 if math.isnan(yerr) else yerr,
                            fmt="none", ecolor=color, elinewidth=0.9, capsize=2, zorder=2)
            ax.scatter(ox, oy, s=45, color=color, edgecolors="black", linewidths=0.4, zorder=3)
        if ours or paper:  # label where our point is; the paper's when we have none
            labels.append((str(r["label"]), (ox, oy) if ours else (px, py), color))
        points += [p for p, ok in (((ox, oy), ours), ((px, py), paper)) if ok]
    handles = [Line2D([], [], marker="o", ls="", color=c, label=f) for f, c in FAMILY_COLORS.items()
               if (table_df["family"] == f).any()]
    handles += [Line2D([], [], marker="o", ls="", color="0.3", label="ours (mean ± std over seeds)"),
                Line2D([], [], marker="o", ls="", markerfacecolor="white", markeredgecolor="0.3",
                       label="paper")]
    ax.legend(handles=handles, fontsize=8, loc="best", frameon=False)
    ax.set_xlabel(AXIS_LABELS.get(x, x))
    ax.set_ylabel(AXIS_LABELS.get(y, y))
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.25, lw=0.5)
    ax.margins(x=0.12, y=0.08)  # room for the labels right of the points
    fig.tight_layout()
    _place_labels(ax, labels, points)
    save_png(fig, out_png, dpi=160)


def _grid(table_df: pd.DataFrame, column: str) -> pd.DataFrame:
    """M_val (rows) x M_tr (columns) of one metric column; rows without both indices are skipped."""
    df = table_df.dropna(subset=["m_tr", "m_val"])
    return df.pivot_table(index="m_val", columns="m_tr", values=column, aggfunc="first", dropna=False)


def heatmap_figure(panels: list[pd.DataFrame], out_png: str | os.PathLike, metric: str = "top1",
                   title: str = "") -> None:
    """Paper Figs. 8-11: one heatmap per table of ``metric`` on z_AGG, M_val down, M_tr across.

    Each cell prints ours and, below it in brackets, the paper's value where the table has one. A panel's
    title is the part of its row labels before " (M_tr" (e.g. "crop+jitter+blur").
    """
    width = 2.2 + 1.1 * sum(_grid(p, f"{metric}_mean").shape[1] for p in panels) + 0.6 * len(panels)
    fig, axes = plt.subplots(1, len(panels), figsize=(max(6.0, width), 4.8), squeeze=False)
    for ax, table_df in zip(axes[0], panels):
        ours, paper = _grid(table_df, f"{metric}_mean"), _grid(table_df, f"{metric}_paper")
        paper = paper.reindex(index=ours.index, columns=ours.columns)
        texts = [[("–" if math.isnan(v) else f"{v:.1f}") + ("" if math.isnan(p) else f"\n({p:.1f})")
                  for v, p in zip(map(_num, ours.loc[m_val]), map(_num, paper.loc[m_val]))] for m_val in ours.index]
        annotated_grid(ax, ours.to_numpy(dtype=float), [int(m) for m in ours.index], [int(m) for m in ours.columns],
                       texts, fontsize=6.5, xlabel="M_tr (training)", ylabel="M_val (inference)",
                       title=str(table_df["label"].iloc[0]).split(" (M_tr")[0] if len(table_df) else "")
    title = title or f"{AXIS_LABELS.get(metric, metric)} of the linear probe on z_AGG (paper in brackets)"
    fig.suptitle(textwrap.fill(title, 70), fontsize=10)
    fig.tight_layout()
    save_png(fig, out_png, dpi=160)


def path_integration_figure(df: pd.DataFrame, out_png: str | os.PathLike, title: str,
                            xlabel: str = "M_val (observed views)", ylabel: str = "Path-integration R²") -> dict:
    """Fig. 6 (a: STL-10 saccades, b: 3DIEBench rotations): R² of the path-integration head vs M_val, one curve
    per condition (``path_integration.CONDITIONS``), mean ± std over seeds as error bars, the paper's values
    (column ``r2_paper``) hollow and dashed. ``df``: ``condition, m_val, r2_mean, r2_std`` (+ ``r2_paper``), as
    ``analysis_tables.path_integration_table`` writes it. Returns the rows drawn per condition."""
    from seqjepa_core.path_integration import CONDITIONS  # torch-free callers of this module skip the import

    fig, ax = plt.subplots(figsize=(5.2, 3.8))
    drawn = {}
    for cond, (label, color) in CONDITIONS.items():
        rows = df[df["condition"] == cond].sort_values("m_val")
        if rows.empty:
            continue
        drawn[cond] = rows
        std = rows["r2_std"].fillna(0.0) if "r2_std" in rows else None
        ax.errorbar(rows["m_val"], rows["r2_mean"], yerr=std, fmt="o-", color=color, capsize=2, label=label)
        if "r2_paper" in rows and rows["r2_paper"].notna().any():
            ax.plot(rows["m_val"], rows["r2_paper"], "o--", color=color, mfc="white", alpha=0.6, lw=0.8)
    ax.plot([], [], "o--", color="0.4", mfc="white", label="paper")
    ax.set(xlabel=xlabel, ylabel=ylabel)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.25, lw=0.5)
    ax.legend(fontsize=7, frameon=False)
    fig.tight_layout()
    save_png(fig, out_png)
    return drawn
