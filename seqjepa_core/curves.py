"""Training curves of one experiment: every run's loss and learning rate per epoch, beside its probe summary.

One panel pair per (method, variant): the loss of each seed (solid, left axis) and the learning rate
(grey dashed, right axis) over epochs, then the run's probe results (mean over seeds; a sequence method's z_AGG
results for each M_val). A diverged run ends early or in a spike, a collapsed one sits flat at its
trivial loss; both show at a glance among their neighbours.
"""

from __future__ import annotations

import json
import math
import os
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: cluster jobs have no display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from seqjepa_core.io import atomic_path  # noqa: E402
from seqjepa_core.tables import metric_digits  # noqa: E402

SEED_COLORS = plt.get_cmap("tab10").colors
PAIRS_PER_ROW = 2


@dataclass(frozen=True)
class RunCurves:
    method: str
    variant: str
    seed: int
    metrics: pd.DataFrame   # metrics.csv: epoch, loss, lr, ... (empty for a 0-epoch run)
    probe: list[dict]       # probe.json "metrics" records ([] when not probed)


def load_run(run_dir: str | os.PathLike) -> RunCurves:
    """A run directory with ``config.json``, ``metrics.csv`` and, optionally, ``probe.json``."""
    d = Path(run_dir)
    cfg = json.loads((d / "config.json").read_text())
    text = (d / "metrics.csv").read_text()
    metrics = pd.read_csv(d / "metrics.csv") if text.strip() else pd.DataFrame(columns=["epoch", "loss", "lr"])
    probe = json.loads((d / "probe.json").read_text())["metrics"] if (d / "probe.json").exists() else []
    return RunCurves(cfg["method"], cfg["variant"], int(cfg["seed"]), metrics, probe)


def probe_summary(records_per_seed: list[list[dict]]) -> list[str]:
    """Lines 'metric [representation]: value' (mean over seeds); z_AGG series as 'M_val 1/3/5: a/b/c'."""
    values: dict[tuple[str, str], dict] = defaultdict(lambda: defaultdict(list))
    for records in records_per_seed:
        for r in records:
            values[(r["metric"], r.get("representation") or "")][r.get("m_val")].append(float(r["value"]))
    lines = []
    for (metric, rep), by_m in values.items():
        d = metric_digits(metric)
        name = metric + (f" [{rep}]" if rep else "")
        ms = sorted(m for m in by_m if m is not None)
        if ms:
            lines.append(f"{name} M_val {'/'.join(map(str, ms))}:")
            lines.append("   " + "/".join(f"{np.mean(by_m[m]):.{d}f}" for m in ms))
        if None in by_m:
            lines.append(f"{name}: {np.mean(by_m[None]):.{d}f}")
    return lines


def _plot_curves(ax, runs: list[RunCurves]) -> None:
    ax_lr = ax.twinx()
    for run in sorted(runs, key=lambda r: r.seed):
        m = run.metrics
        if m.empty:
            continue
        color = SEED_COLORS[run.seed % len(SEED_COLORS)]
        loss = m["loss"].to_numpy(dtype=float)
        ax.plot(m["epoch"], loss, color=color, lw=1.2, label=f"seed {run.seed}")
        bad = ~np.isfinite(loss)
        if bad.any():  # non-finite losses are invisible on a line: mark where they happen
            ax.plot(m["epoch"][bad], np.zeros(bad.sum()), "x", color="red", label="non-finite loss")
        ax_lr.plot(m["epoch"], m["lr"], color="0.45", lw=0.8, ls="--")  # seeds share one schedule
    if all(r.metrics.empty for r in runs):
        ax.text(0.5, 0.5, "no training epochs (reference run)", ha="center", va="center",
                transform=ax.transAxes, fontsize=8, color="0.4")
        ax_lr.set_yticks([])
    ax.set_xlabel("epoch", fontsize=7)
    ax.set_ylabel("loss (—)", fontsize=7)
    ax_lr.set_ylabel("lr (- -)", fontsize=7, color="0.4")
    ax_lr.ticklabel_format(axis="y", style="sci", scilimits=(-2, 2))
    for a in (ax, ax_lr):
        a.tick_params(labelsize=6)
        a.yaxis.get_offset_text().set_fontsize(6)
    if len(runs) > 1:
        ax.legend(fontsize=6, frameon=False, loc="upper right")


def _plot_probe(ax, runs: list[RunCurves]) -> None:
    ax.axis("off")
    lines = probe_summary([r.probe for r in runs if r.probe]) or ["not probed"]
    ax.text(0.0, 1.0, "probes (mean over seeds)\n" + "\n".join(lines), va="top", ha="left",
            family="monospace", fontsize=6, transform=ax.transAxes)


def training_figure(runs: list[RunCurves], out_png: str | os.PathLike, title: str) -> None:
    """Small multiples: for each (method, variant), loss + lr per epoch of every seed, then its probes."""
    groups: dict[tuple[str, str], list[RunCurves]] = defaultdict(list)
    for r in runs:
        groups[(r.method, r.variant)].append(r)
    keys = sorted(groups)
    nrows = max(1, math.ceil(len(keys) / PAIRS_PER_ROW))
    fig = plt.figure(figsize=(6.5 * PAIRS_PER_ROW, 2.3 * nrows + 0.6))
    grid = fig.add_gridspec(nrows, 2 * PAIRS_PER_ROW, width_ratios=[3, 1.6] * PAIRS_PER_ROW,
                            wspace=0.45, hspace=0.6)
    for i, key in enumerate(keys):
        row, col = divmod(i, PAIRS_PER_ROW)
        ax = fig.add_subplot(grid[row, 2 * col])
        ax.set_title(f"{key[0]} / {key[1]}", fontsize=8, loc="left")
        _plot_curves(ax, groups[key])
        _plot_probe(fig.add_subplot(grid[row, 2 * col + 1]), groups[key])
    fig.suptitle(title, fontsize=10)
    with atomic_path(out_png) as tmp:
        fig.savefig(tmp, dpi=110, format="png", bbox_inches="tight")
    plt.close(fig)
