"""Figs. 4, 5, 7, 8 render to PNGs and draw exactly the values they are given."""

from pathlib import Path

import matplotlib.image as mpimg
import numpy as np
import pandas as pd

from seqjepa_core import figures_3diebench as F

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _check_png(path: Path) -> None:
    assert path.read_bytes()[:8] == PNG_MAGIC
    img = mpimg.imread(path)
    assert img[..., :3].std() > 0.05  # something was drawn
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]


def _long() -> pd.DataFrame:
    rows = [{"m_tr": t, "m_val": v, "metric": "top1", "value": 80 + t + v / 10} for t in (1, 2, 3) for v in (1, 3, 5)]
    rows += [{"m_tr": t, "m_val": None, "metric": "rel_rot_r2", "value": 0.1 * t} for t in (1, 2, 3)]
    return pd.DataFrame(rows)


def test_heatmap_prints_every_cell_row_by_row(tmp_path):
    long = _long().drop(index=4)  # (m_tr 2, m_val 3) missing: printed as a dash
    texts = F.seq_length_heatmap(long, tmp_path / "h.png", paper=_long())
    want = [f"{80 + t + v / 10:.1f}" if (t, v) != (2, 3) else "–" for v in (1, 3, 5) for t in (1, 2, 3)]
    assert texts == want
    _check_png(tmp_path / "h.png")


def test_curves_take_the_right_row_and_column(tmp_path):
    drawn = F.seq_length_curves(_long(), tmp_path / "c.png", m_val_for_mtr=5, m_tr_for_mval=2, paper=_long())
    assert drawn["r2_vs_mtr"].to_dict() == {1: 0.1, 2: 0.2, 3: 0.30000000000000004}
    assert drawn["top1_vs_mtr"].to_dict() == {t: 80 + t + 0.5 for t in (1, 2, 3)}
    assert drawn["top1_vs_mval"].to_dict() == {v: 82 + v / 10 for v in (1, 3, 5)}
    _check_png(tmp_path / "c.png")


def test_retrieval_grid_and_umap_panels(tmp_path):
    rng = np.random.default_rng(0)
    q = rng.integers(0, 255, (3, 16, 16, 3), dtype=np.uint8)
    nn = {m: rng.integers(0, 255, (3, 3, 16, 16, 3), dtype=np.uint8) for m in ("seq-JEPA", "SIE", "SimCLR")}
    assert F.retrieval_grid(q, nn, tmp_path / "g.png") == (3, 10)
    _check_png(tmp_path / "g.png")
    # two well-separated clusters stay separated in the UMAP plane
    x = np.concatenate([rng.normal(0, 0.1, (40, 8)), rng.normal(5, 0.1, (40, 8))])
    xy = F.umap_2d(x, seed=0)
    assert xy.shape == (80, 2)
    a, b = xy[:40].mean(0), xy[40:].mean(0)
    spread = max(xy[:40].std(0).max(), xy[40:].std(0).max())
    assert np.linalg.norm(a - b) > 3 * spread
    labels = np.repeat([0, 1], 40)
    assert F.embedding_figure([("encoder by class", xy, labels, "class"),
                               ("encoder by angle", xy, rng.uniform(-3, 3, 80), "angle")], tmp_path / "u.png") == 2
    _check_png(tmp_path / "u.png")
