"""Fig. 3 (top-1 vs relative-rotation R²) renders to a valid PNG from a built table, also via the CLI."""

import runpy
import sys
from pathlib import Path

import matplotlib.image as mpimg
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from seqjepa_core.figures import annotated_grid, heatmap_figure, path_integration_figure, tradeoff_figure
from seqjepa_core.tables import build_table, write_csv

REPO = Path(__file__).resolve().parents[1]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _table():
    """Three seeds for SimCLR, one for seq-JEPA (no std), none for SIE; ContextSSL comes from the paper only."""
    rng = np.random.default_rng(0)
    results = []
    for method, variant, seeds in [("simclr", "default", 3), ("seqjepa", "mtr3", 1)]:
        for seed in range(seeds):
            recs = [{"metric": "top1", "representation": "encoder", "m_val": None, "value": rng.uniform(75, 85)},
                    {"metric": "rel_rot_r2", "representation": "pair", "m_val": None, "value": rng.uniform(0.2, 0.7)}]
            if method == "seqjepa":
                recs.append({"metric": "top1", "representation": "z_agg", "m_val": 3, "value": 85.0})
            results.append({"run": {"experiment": "3diebench", "method": method, "variant": variant,
                                    "seed": seed, "m_tr": 3}, "metrics": recs})
    spec = {"experiment": "3diebench", "paper_tables": ["table1"], "rows": [
        {"label": "SimCLR", "method": "simclr"}, {"label": "SIE", "method": "sie"},
        {"label": "seq-JEPA (3, 3)", "method": "seqjepa", "variant": "mtr3", "m_val": 3}]}
    return build_table(spec, results)


def _check_png(path: Path):
    assert path.read_bytes()[:8] == PNG_MAGIC
    img = mpimg.imread(path)
    assert img.ndim == 3 and img.shape[0] > 400 and img.shape[1] > 600
    assert img[..., :3].std() > 0.05  # something was drawn
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]


def test_tradeoff_figure_is_a_png(tmp_path):
    df = _table()
    assert {"ContextSSL (c = 126)", "SIE"} <= set(df.label)  # paper-only points are drawn too
    tradeoff_figure(df, tmp_path / "sub" / "fig3.png")
    _check_png(tmp_path / "sub" / "fig3.png")


def test_figure_cli(tmp_path, monkeypatch):
    write_csv(_table(), tmp_path / "t.csv")
    monkeypatch.setattr(sys, "argv", ["figure.py", "--table", str(tmp_path / "t.csv"), "--out", str(tmp_path / "f.png")])
    runpy.run_path(str(REPO / "workflow_scripts" / "figure.py"), run_name="__main__")
    _check_png(tmp_path / "f.png")


def test_heatmap_figure_grids_mval_by_mtr_with_the_paper_beside(tmp_path):
    results = [{"run": {"experiment": "c", "method": "seqjepa", "variant": f"mtr{t}", "seed": 0, "m_tr": t},
                "metrics": [{"metric": "top1", "representation": "z_agg", "m_val": m, "value": 50 + t + m}
                            for m in (1, 2)]} for t in (1, 2)]
    rows = [{"label": f"crop+jitter+blur (M_tr = {t}, M_val = {m})", "method": "seqjepa", "variant": f"mtr{t}",
             "m_val": m} for t in (1, 2) for m in (1, 2)]
    df = build_table({"experiment": "c", "paper_tables": ["fig10_cropjitterblur"], "rows": rows}, results)
    row = df.set_index("label").loc["crop+jitter+blur (M_tr = 2, M_val = 1)"]
    assert row["top1_mean"] == 53 and row["top1_paper"] == 53.1 and row["m_tr"] == 2  # Fig. 10's cell
    heatmap_figure([df, df], tmp_path / "h.png")
    assert (tmp_path / "h.png").read_bytes()[:8] == PNG_MAGIC
    assert mpimg.imread(tmp_path / "h.png")[..., :3].std() > 0.05


def test_annotated_grid_prints_the_given_cells_in_place_and_skips_empty_ones():
    fig, ax = plt.subplots()
    annotated_grid(ax, np.array([[1.0, np.nan], [2.0, 3.0]]), [1, 3], [2, 4], [["a", ""], ["b", "c"]],
                   [["w", "w"], ["k", "w"]], ylabel="M_val")
    assert [(t.get_text(), t.get_position(), t.get_color()) for t in ax.texts] == [
        ("a", (0, 0), "w"), ("b", (0, 1), "k"), ("c", (1, 1), "w")]      # (column, row) = (M_tr, M_val)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["2", "4"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["1", "3"] and ax.get_ylabel() == "M_val"
    plt.close(fig)


def test_path_integration_draws_each_condition(tmp_path):
    df = pd.DataFrame([{"condition": c, "m_val": m, "r2_mean": 1 / m, "r2_std": 0.01, "r2_paper": 0.9 / m}
                       for c in ("full", "no_vision") for m in (3, 1, 2)])
    drawn = path_integration_figure(df, tmp_path / "p.png", "title")
    assert set(drawn) == {"full", "no_vision"} and drawn["full"]["m_val"].tolist() == [1, 2, 3]
    assert (tmp_path / "p.png").read_bytes()[:8] == PNG_MAGIC
