"""Aggregation of the analyses that are curves or grids rather than table rows (Figs. 6a, 6b, 7, 8).

Inputs are result JSONs in the probe-record shape ({"run": {...}, "metrics": [{"metric", "m_val", "value"}]});
the paper's numbers come from ``paper_numbers.csv`` (tables ``fig6a``, ``fig6b``, ``fig7``, ``fig8``) in long
form: ``fig6b``: label = condition, metric = ``r2@<M_val>``; ``fig6a``: label = ``M_val = <M>``, metric =
``path_r2_<condition>``; ``fig7``/``fig8``: label = ``M_tr = <t>``, metric =
``top1@<M_val>`` or ``rel_rot_r2``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import pandas as pd

from seqjepa_core.tables import load_paper_numbers

PATH_PREFIX = "path_r2_"


def path_integration_table(results: Sequence[dict], paper_table: str | None = "fig6b") -> pd.DataFrame:
    """One row per (condition, M_val): ``r2_mean``, ``r2_std`` (sample std over seeds; empty for one),
    ``n_seeds``, ``seeds``, ``r2_paper``, ``r2_gap``."""
    rows = [{"condition": r["metric"][len(PATH_PREFIX):], "m_val": int(r["m_val"]), "seed": res["run"]["seed"],
             "value": float(r["value"])}
            for res in results for r in res["metrics"] if r["metric"].startswith(PATH_PREFIX)]
    if not rows:
        raise ValueError("no path-integration records (metric path_r2_<condition>) in the results")
    df = pd.DataFrame(rows)
    out = df.groupby(["condition", "m_val"]).agg(
        r2_mean=("value", "mean"), r2_std=("value", lambda v: v.std(ddof=1) if len(v) > 1 else np.nan),
        n_seeds=("seed", "nunique"), seeds=("seed", lambda s: " ".join(str(x) for x in sorted(s)))).reset_index()
    paper = _paper_lookup(paper_table)
    out["r2_paper"] = [paper.get((c, f"r2@{m}"), np.nan) for c, m in zip(out["condition"], out["m_val"])]
    out["r2_gap"] = out["r2_mean"] - out["r2_paper"]
    return out


def seq_length_long(results: Sequence[dict]) -> pd.DataFrame:
    """Long rows (m_tr, m_val, metric, value, n_seeds) from the sequence-length sweep's probe results: z_AGG
    top-1 per (M_tr, M_val) and the encoder-pair rotation R² per M_tr (m_val empty); mean over seeds."""
    rows = []
    for res in results:
        m_tr = int(res["run"]["m_tr"])
        for r in res["metrics"]:
            if r["metric"] == "top1" and r.get("m_val") is not None:
                rows.append({"m_tr": m_tr, "m_val": int(r["m_val"]), "metric": "top1", "value": float(r["value"])})
            elif r["metric"] == "rel_rot_r2":
                rows.append({"m_tr": m_tr, "m_val": np.nan, "metric": "rel_rot_r2", "value": float(r["value"])})
    if not rows:
        raise ValueError("no z_AGG top-1 or rotation R² records in the sequence-length results")
    df = pd.DataFrame(rows)
    return (df.groupby(["m_tr", "m_val", "metric"], dropna=False)["value"].agg(["mean", "count"]).reset_index()
            .rename(columns={"mean": "value", "count": "n_seeds"}))


def paper_seq_length(table: str) -> pd.DataFrame:
    """The paper's ``fig7``/``fig8`` numbers as long rows (m_tr, m_val, metric, value)."""
    paper = load_paper_numbers()
    rows = []
    for _, r in paper[paper["table"] == table].iterrows():
        m_tr = int(re.fullmatch(r"M_tr = (\d+)", r["label"])[1])
        if m := re.fullmatch(r"top1@(\d+)", r["metric"]):
            rows.append({"m_tr": m_tr, "m_val": int(m[1]), "metric": "top1", "value": float(r["value"])})
        else:
            rows.append({"m_tr": m_tr, "m_val": np.nan, "metric": r["metric"], "value": float(r["value"])})
    return pd.DataFrame(rows, columns=["m_tr", "m_val", "metric", "value"])


def _paper_lookup(table: str | None) -> dict[tuple[str, str], float]:
    if not table:
        return {}
    paper = load_paper_numbers()
    sub = paper[paper["table"] == table]
    return dict(_path_key(lab, met, float(v)) for lab, met, v in zip(sub["label"], sub["metric"], sub["value"]))


def _path_key(label: str, metric: str, value: float) -> tuple[tuple[str, str], float]:
    """((condition, ``r2@<M_val>``), value) from either encoding: ``fig6b`` (label = condition, metric =
    ``r2@<M_val>``) or ``fig6a`` (label = ``M_val = <M>``, metric = ``path_r2_<condition>``)."""
    if metric.startswith(PATH_PREFIX) and (m := re.fullmatch(r"M_val = (\d+)", label)):
        return (metric[len(PATH_PREFIX):], f"r2@{m[1]}"), value
    return (label, metric), value
