"""Aggregate probe results over seeds into the paper's tables, next to the paper's own numbers.

Inputs
  * probe result files (JSON), one per (experiment, method, variant, seed)::

        {"run": {"experiment": "3diebench", "method": "seqjepa", "variant": "mtr3", "seed": 0, "m_tr": 3},
         "metrics": [{"metric": "top1", "representation": "z_agg", "m_val": 3, "value": 85.1}, ...]}

  * a table spec (JSON)::

        {"experiment": "3diebench",              # optional: only runs of this experiment
         "paper_tables": ["table1", "table12"],  # where the paper numbers come from, first match wins
         "rows": [{"label": "seq-JEPA (3, 3)", "method": "seqjepa", "variant": "mtr3", "m_val": 3,
                   "family": "invariant-equivariant"}, ...]}   # variant/m_val/family/experiment optional

    A bare list of rows is accepted too (no experiment filter, no paper numbers).
  * ``paper_numbers/paper_numbers.csv``: long format ``table,label,family,metric,value,std,note``.

Output: one row per spec row (then the first paper table's rows that the spec lacks, with a note) with
``label, family, method, variant, m_tr, m_val, n_seeds, seeds`` and, per metric, ``<metric>_mean``,
``_std`` (sample std over seeds, ddof=1; empty for a single seed), ``_paper``, ``_paper_std``, ``_gap``
(= ours - paper), then ``note``.

Which record fills which column of a row: a record with an ``m_val`` (a z_AGG probe) fills ``<metric>``
when it equals the row's ``m_val``; a record without one fills ``<metric>`` when the run has no z_AGG
probe of that metric (baselines: the encoder top-1 *is* their top-1, paper §5.5), else
``<metric>_<representation>`` (seq-JEPA's encoder probe -> ``top1_encoder``, Table 12's z_res).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from seqjepa_core.io import atomic_path, atomic_write_text

PAPER_NUMBERS = Path(__file__).parent / "paper_numbers" / "paper_numbers.csv"
METRIC_ORDER = ("top1", "rel_rot_r2", "indiv_rot_r2", "color_r2", "crop_r2", "jitter_r2", "blur_r2", "top1_encoder")
STATS = ("mean", "std", "paper", "paper_std", "gap")
ID_COLUMNS = ("label", "family", "method", "variant", "m_tr", "m_val", "n_seeds", "seeds")


def load_paper_numbers(path: str | os.PathLike = PAPER_NUMBERS) -> pd.DataFrame:
    df = pd.read_csv(path, dtype={"table": str, "label": str, "family": str, "metric": str, "note": str})
    dup = df[df.duplicated(["table", "label", "metric"], keep=False)]
    if len(dup):
        raise ValueError(f"{path}: duplicate (table, label, metric) entries:\n{dup}")
    return df


def load_probe_results(paths: Iterable[str | os.PathLike]) -> list[dict]:
    results = []
    for p in paths:
        with open(p) as f:
            r = json.load(f)
        if "run" not in r or "metrics" not in r:
            raise ValueError(f"{p}: a probe result needs 'run' and 'metrics' keys")
        results.append(r)
    return results


def load_spec(spec: dict | list) -> dict:
    """Normalise a table spec to {"experiment", "paper_tables", "rows"} with every row key present."""
    spec = {"rows": spec} if isinstance(spec, list) else dict(spec)
    rows = []
    for i, r in enumerate(spec["rows"]):
        if "label" not in r or "method" not in r:
            raise ValueError(f"table spec row {i}: needs 'label' and 'method', got {r}")
        rows.append({"variant": "default", "m_val": None, "family": None, **r})
    labels = [r["label"] for r in rows]
    if len(set(labels)) != len(labels):
        raise ValueError(f"table spec: duplicate row labels {sorted({l for l in labels if labels.count(l) > 1})}")
    return {"experiment": spec.get("experiment"), "paper_tables": list(spec.get("paper_tables") or []),
            "rows": rows}


def row_metrics(records: Sequence[dict], m_val: int | None) -> dict[str, float]:
    """One run's records -> {column metric: value} for a table row probed at ``m_val`` (see module doc)."""
    aggregated = {r["metric"] for r in records if r.get("m_val") is not None}
    cols: dict[str, float] = {}
    for r in records:
        m = r.get("m_val")
        if m is not None:
            if m_val is None or int(m) != int(m_val):
                continue
            key = r["metric"]
        else:
            key = f"{r['metric']}_{r['representation']}" if r["metric"] in aggregated else r["metric"]
        if key in cols:
            raise ValueError(f"two records fill column {key!r} (m_val={m_val}): {records}")
        cols[key] = float(r["value"])
    return cols


def _family(row: dict, paper_family: str | None) -> str:
    """The spec's family, else the paper's group for the label, else the registered method's declaration."""
    if row.get("family") or paper_family:
        return row.get("family") or paper_family
    try:  # imports torch: only for rows the spec and the paper leave open
        from seqjepa_core.methods import get_method_class
        return get_method_class(row["method"]).family
    except (KeyError, ImportError, AttributeError):
        return ""


def _metric_columns(found: Iterable[str]) -> list[str]:
    found = set(found)
    return [m for m in METRIC_ORDER if m in found] + sorted(found - set(METRIC_ORDER))


def _join_notes(notes: Iterable[str]) -> str:
    out: list[str] = []
    for n in notes:
        if isinstance(n, str) and n and n not in out:
            out.append(n)
    return "; ".join(out)


def build_table(spec: dict | list, results: Sequence[dict], paper: pd.DataFrame | None = None) -> pd.DataFrame:
    """The aggregated table (see module doc). ``results`` are loaded probe result dicts."""
    spec = load_spec(spec)
    paper = load_paper_numbers() if paper is None else paper
    paper = paper[paper["table"].isin(spec["paper_tables"])]
    order = {t: i for i, t in enumerate(spec["paper_tables"])}
    paper = paper.assign(_rank=paper["table"].map(order)).sort_values("_rank", kind="stable")
    # (label, metric) -> the entry of the first listed paper table that has it
    paper_lookup = {k: g.iloc[0] for k, g in paper.groupby(["label", "metric"], sort=False)}
    paper_family = dict(zip(paper["label"], paper["family"]))

    rows, notes_by_label = [], {}
    for row in spec["rows"]:
        exp = row.get("experiment") or spec["experiment"]  # a row may point at another experiment's run
        mine = [r for r in results if (exp is None or r["run"].get("experiment") == exp)
                and r["run"]["method"] == row["method"]
                and r["run"].get("variant", "default") == row["variant"]]
        seeds = [r["run"]["seed"] for r in mine]
        if len(set(seeds)) != len(seeds):
            raise ValueError(f"row {row['label']!r}: several result files for the same seed {sorted(seeds)}")
        m_trs = {r["run"].get("m_tr") for r in mine}
        if len(m_trs) > 1:
            raise ValueError(f"row {row['label']!r}: runs disagree on m_tr {m_trs}")
        per_seed = [row_metrics(r["metrics"], row["m_val"]) for r in mine]
        values: dict[str, list[float]] = {}
        for cols in per_seed:
            for k, v in cols.items():
                values.setdefault(k, []).append(v)
        rows.append({"label": row["label"], "family": _family(row, paper_family.get(row["label"])),
                     "method": row["method"], "variant": row["variant"],
                     "m_tr": m_trs.pop() if m_trs else None, "m_val": row["m_val"],
                     "n_seeds": len(mine), "seeds": " ".join(str(s) for s in sorted(seeds)),
                     "_values": values})
        notes_by_label[row["label"]] = [] if mine else ["no probe results found"]
    # Paper rows the spec does not run (e.g. ContextSSL, evaluated from the authors' weights).
    if spec["paper_tables"]:
        primary = paper[paper["table"] == spec["paper_tables"][0]]
        spec_labels = {r["label"] for r in spec["rows"]}
        for label, g in primary.groupby("label", sort=False):
            if label in spec_labels:
                continue
            rows.append({"label": label, "family": g["family"].iloc[0], "method": None, "variant": None,
                         "m_tr": None, "m_val": None, "n_seeds": 0, "seeds": "", "_values": {}})
            notes_by_label[label] = [] if _join_notes(g["note"]) else ["in the paper, not in this table spec"]

    labels = [r["label"] for r in rows]
    found = {m for r in rows for m in r["_values"]} | {m for (l, m) in paper_lookup if l in labels}
    metrics = _metric_columns(found)
    out = []
    for r in rows:
        values = r.pop("_values")
        notes = notes_by_label[r["label"]]
        for m in metrics:
            v = np.asarray(values.get(m, []), dtype=float)
            mean = float(v.mean()) if v.size else math.nan
            std = float(v.std(ddof=1)) if v.size > 1 else math.nan  # sample std; undefined for one seed
            p = paper_lookup.get((r["label"], m))
            pv = float(p["value"]) if p is not None else math.nan
            r.update({f"{m}_mean": mean, f"{m}_std": std, f"{m}_paper": pv,
                      f"{m}_paper_std": float(p["std"]) if p is not None else math.nan,
                      f"{m}_gap": mean - pv})
            if p is not None:
                notes.append(p["note"])
        r["note"] = _join_notes(notes)
        out.append(r)
    df = pd.DataFrame(out, columns=[*ID_COLUMNS, *(f"{m}_{s}" for m in metrics for s in STATS), "note"])
    return df.astype({"m_tr": "Int64", "m_val": "Int64", "n_seeds": int})


def metric_names(df: pd.DataFrame) -> list[str]:
    """The metrics a built table has columns for, in column order."""
    return [c[: -len("_mean")] for c in df.columns if c.endswith("_mean")]


def write_csv(df: pd.DataFrame, path: str | os.PathLike) -> None:
    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False, float_format="%.4f")


def read_table(path: str | os.PathLike) -> pd.DataFrame:
    return pd.read_csv(path, dtype={"note": str, "seeds": str}, keep_default_na=True)


def metric_digits(metric: str) -> int:
    """Decimals shown for a metric: accuracies in %, R² and similar scores in [0, 1]."""
    return 2 if metric.startswith("top1") else 3


def _cell(mean: float, std: float, paper: float, digits: int) -> str:
    if math.isnan(mean) and math.isnan(paper):
        return ""
    ours = "–" if math.isnan(mean) else f"{mean:.{digits}f}" + ("" if math.isnan(std) else f" ± {std:.{digits}f}")
    return ours + ("" if math.isnan(paper) else f" ({paper:.{digits}f})")


def to_markdown(df: pd.DataFrame) -> str:
    """A README-ready table: 'ours ± std (paper)' per metric."""
    metrics = metric_names(df)
    head = ["Row", "M_tr", "M_val", "seeds", *metrics, "note"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for _, r in df.iterrows():
        cells = [str(r["label"]), "" if pd.isna(r["m_tr"]) else str(int(r["m_tr"])),
                 "" if pd.isna(r["m_val"]) else str(int(r["m_val"])), str(int(r["n_seeds"]))]
        for m in metrics:
            cells.append(_cell(*(float(r[f"{m}_{s}"]) for s in ("mean", "std", "paper")), metric_digits(m)))
        cells.append("" if pd.isna(r["note"]) else str(r["note"]))
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n\nCells: ours (mean ± sample std over seeds) (paper).\n"


def write_markdown(df: pd.DataFrame, path: str | os.PathLike) -> None:
    atomic_write_text(to_markdown(df), path)
