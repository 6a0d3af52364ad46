"""Table aggregation against direct pandas computations, and the transcribed paper numbers."""

import json
import math
import runpy
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from seqjepa_core.tables import (build_table, load_paper_numbers, load_probe_results, read_table, row_metrics,
                                 to_markdown, write_csv)

REPO = Path(__file__).resolve().parents[1]
TABLE1 = {  # label: (top1, rel rot R², indiv rot R²), paper Table 1
    "BYOL": (82.90, 0.12, 0.25), "SimCLR": (81.13, 0.35, 0.54), "VICReg": (80.48, 0.20, 0.36),
    "VICRegTraj": (81.26, 0.27, 0.43), "SEN": (83.43, 0.35, 0.57), "EquiMod": (84.29, 0.32, 0.55),
    "SIE": (77.49, 0.58, 0.62), "Conditional BYOL": (82.61, 0.31, 0.47),
    "ContextSSL (c = 126)": (80.40, 0.74, 0.78), "seq-JEPA (1, 1)": (84.08, 0.65, 0.69),
    "seq-JEPA (1, 3)": (85.31, 0.65, 0.69), "seq-JEPA (3, 3)": (86.14, 0.71, 0.74),
    "seq-JEPA (3, 5)": (87.41, 0.71, 0.74), "seq-JEPA (no act cond, M_tr = M_val = 3)": (86.05, 0.29, 0.37),
}
SPEC = {"experiment": "3diebench", "paper_tables": ["table1", "table12"], "rows": [
    {"label": "SimCLR", "method": "simclr", "family": "invariant"},
    {"label": "seq-JEPA (3, 3)", "method": "seqjepa", "variant": "mtr3", "m_val": 3},
    {"label": "seq-JEPA (3, 5)", "method": "seqjepa", "variant": "mtr3", "m_val": 5},
    {"label": "random init (3, 3)", "method": "seqjepa", "variant": "mtr3-random", "m_val": 3},
    {"label": "SIE", "method": "sie", "family": "equivariant"},   # no result files
]}


def _results(tmp_path, rng):
    """Probe files for simclr/default and seqjepa/mtr3 (+ random), 3 seeds, plus a run of another experiment."""
    files, long = [], []
    for exp, method, variant, m_tr in [("3diebench", "simclr", "default", 1), ("3diebench", "seqjepa", "mtr3", 3),
                                       ("3diebench", "seqjepa", "mtr3-random", 3), ("other", "simclr", "default", 1)]:
        for seed in range(3):
            recs = [{"metric": "top1", "representation": "encoder", "m_val": None, "value": rng.uniform(70, 90)},
                    {"metric": "rel_rot_r2", "representation": "pair", "m_val": None, "value": rng.uniform(0, 1)},
                    {"metric": "indiv_rot_r2", "representation": "encoder", "m_val": None, "value": rng.uniform(0, 1)}]
            if method == "seqjepa":
                recs += [{"metric": "top1", "representation": "z_agg", "m_val": m, "value": rng.uniform(70, 90)}
                         for m in (1, 3, 5)]
            run = {"experiment": exp, "method": method, "variant": variant, "seed": seed, "m_tr": m_tr}
            path = tmp_path / f"{exp}_{method}_{variant}_{seed}.json"
            path.write_text(json.dumps({"run": run, "metrics": recs}))
            files.append(path)
            long += [{**run, **r} for r in recs]
    return files, pd.DataFrame(long)


def test_paper_file_has_every_table1_row_and_the_other_tables():
    paper = load_paper_numbers()
    t1 = paper[paper.table == "table1"].set_index(["label", "metric"])["value"]
    assert set(t1.index.get_level_values(0)) == set(TABLE1)
    for label, vals in TABLE1.items():
        assert [t1[(label, m)] for m in ("top1", "rel_rot_r2", "indiv_rot_r2")] == pytest.approx(vals)
    t4 = paper[paper.table == "table4"]
    assert len(t4) == 14 and t4["std"].notna().all()
    assert t4.set_index(["label", "metric"]).loc[("a_dim = 128 (default)", "top1"), ["value", "std"]].tolist() \
        == pytest.approx([87.41, 0.5])
    t7 = paper[paper.table == "table7"]
    assert t7.label.nunique() == 5 and (t7.metric == "color_r2").sum() == 5
    t12 = paper[paper.table == "table12"].set_index(["label", "metric"])["value"]
    assert t12[("seq-JEPA (3, 5)", "top1")] == 87.41 and t12[("seq-JEPA (3, 5)", "top1_encoder")] == 82.49
    assert set(paper.family) == {"invariant", "equivariant", "invariant-equivariant"}


def test_row_metrics_maps_records_to_columns():
    seq = [{"metric": "top1", "representation": "z_agg", "m_val": 1, "value": 1.0},
           {"metric": "top1", "representation": "z_agg", "m_val": 3, "value": 3.0},
           {"metric": "top1", "representation": "encoder", "m_val": None, "value": 9.0},
           {"metric": "rel_rot_r2", "representation": "pair", "m_val": None, "value": 0.5}]
    assert row_metrics(seq, 3) == {"top1": 3.0, "top1_encoder": 9.0, "rel_rot_r2": 0.5}
    assert row_metrics(seq[2:], None) == {"top1": 9.0, "rel_rot_r2": 0.5}  # baseline: encoder top-1 is top-1


def test_aggregation_matches_direct_pandas(tmp_path):
    files, long = _results(tmp_path, np.random.default_rng(0))
    df = build_table(SPEC, load_probe_results(files)).set_index("label")
    long = long[long.experiment == "3diebench"]
    paper = load_paper_numbers().set_index(["table", "label", "metric"])["value"]

    def check(label, column, sel, paper_value):  # sel: the long-format records that column aggregates
        g = long[sel]
        assert len(g) == 3
        row = df.loc[label]
        assert row[f"{column}_mean"] == pytest.approx(g.value.mean())
        assert row[f"{column}_std"] == pytest.approx(g.value.std(ddof=1))
        if paper_value is None:
            assert math.isnan(row[f"{column}_paper"]) and math.isnan(row[f"{column}_gap"])
        else:
            assert row[f"{column}_paper"] == pytest.approx(paper_value)
            assert row[f"{column}_gap"] == pytest.approx(g.value.mean() - paper_value)

    simclr, mtr3 = long.method == "simclr", long.variant == "mtr3"
    top1, enc = long.metric == "top1", long.representation == "encoder"
    check("SimCLR", "top1", simclr & top1, paper[("table1", "SimCLR", "top1")])
    check("SimCLR", "rel_rot_r2", simclr & (long.metric == "rel_rot_r2"), paper[("table1", "SimCLR", "rel_rot_r2")])
    for m_val in (3, 5):
        label = f"seq-JEPA (3, {m_val})"
        check(label, "top1", mtr3 & top1 & (long.m_val == m_val), paper[("table1", label, "top1")])  # table1 wins
        check(label, "top1_encoder", mtr3 & top1 & enc, paper[("table12", label, "top1_encoder")])
        check(label, "indiv_rot_r2", mtr3 & (long.metric == "indiv_rot_r2"), paper[("table1", label, "indiv_rot_r2")])
    check("random init (3, 3)", "top1", (long.variant == "mtr3-random") & top1 & (long.m_val == 3), None)
    assert math.isnan(df.loc["SimCLR", "top1_encoder_mean"])
    assert df.loc["seq-JEPA (3, 3)", ["m_tr", "m_val", "n_seeds", "seeds"]].tolist() == [3, 3, 3, "0 1 2"]
    # a spec row without results, and the paper's rows the spec lacks
    assert df.loc["SIE", "n_seeds"] == 0 and "no probe results" in df.loc["SIE", "note"]
    assert df.loc["SIE", "top1_paper"] == pytest.approx(77.49) and math.isnan(df.loc["SIE", "top1_mean"])
    extra = set(df.index) - {r["label"] for r in SPEC["rows"]}
    assert extra == set(TABLE1) - {r["label"] for r in SPEC["rows"]}
    ctx = df.loc["ContextSSL (c = 126)"]
    assert math.isnan(ctx["top1_mean"]) and ctx["top1_paper"] == pytest.approx(80.40)
    assert "authors' released" in ctx["note"] and ctx["family"] == "equivariant"
    assert "Table 12" in df.loc["seq-JEPA (3, 3)", "note"]


def test_csv_roundtrip_markdown_and_cli(tmp_path, monkeypatch):
    files, _ = _results(tmp_path, np.random.default_rng(1))
    df = build_table(SPEC, load_probe_results(files))
    write_csv(df, tmp_path / "t.csv")
    back = read_table(tmp_path / "t.csv")
    assert list(back.columns) == list(df.columns) and back.label.tolist() == df.label.tolist()
    np.testing.assert_allclose(back.top1_mean, df.top1_mean, atol=1e-4)
    md = to_markdown(df)
    assert "| seq-JEPA (3, 5) | 3 | 5 | 3 |" in md and "(87.41)" in md
    metrics = [c[: -len("_mean")] for c in df.columns if c.endswith("_mean")]
    assert md.splitlines()[0] == "| " + " | ".join(["Row", "M_tr", "M_val", "seeds", *metrics, "note"]) + " |"
    row = df[df.label == "seq-JEPA (3, 5)"].iloc[0]
    line = next(l for l in md.splitlines() if l.startswith("| seq-JEPA (3, 5) |"))
    for m in metrics:  # top-1 in % with 2 decimals, R² with 3
        d = 2 if m.startswith("top1") else 3
        cell = f"{row[m + '_mean']:.{d}f} ± {row[m + '_std']:.{d}f}"
        if not math.isnan(row[m + "_paper"]):
            cell += f" ({row[m + '_paper']:.{d}f})"
        assert f"| {cell} |" in line, (m, cell, line)
    out = tmp_path / "cli.csv"
    monkeypatch.setattr(sys, "argv", ["table.py", "--spec-json", json.dumps(SPEC), "--probes", *map(str, files),
                                      "--out", str(out)])
    runpy.run_path(str(REPO / "workflow_scripts" / "table.py"), run_name="__main__")
    pd.testing.assert_frame_equal(read_table(out), back)
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_every_released_checkpoint_row_of_the_paper_config_has_the_papers_number():
    """The shipped paper numbers parse, and each released-checkpoint row finds its paper number by label."""
    import yaml

    from seqjepa_core.config import load_config
    from seqjepa_core.tables import load_paper_numbers

    paper = load_paper_numbers()
    cfg = load_config(yaml.safe_load((Path(__file__).resolve().parents[1] / "config.yaml").read_text()))
    released = [r.label for t in cfg.tables.values() for r in t.rows if r.variant.startswith("released")]
    assert len(released) >= 5  # 3DIEBench (3), rotation+colour (1), STL-10 (1)
    have = set(paper.loc[paper["table"] == "released", "label"])
    assert set(released) <= have, sorted(set(released) - have)
