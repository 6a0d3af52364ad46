"""The Snakemake DAG as users see it: dry runs of the paper config and config errors before any job."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = [sys.executable, "-m", "snakemake"]


def dry_run(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    return subprocess.run(SNAKEMAKE + [*args, "-n", "--quiet", "rules"], cwd=cwd, capture_output=True,
                          text=True, timeout=120, env={**os.environ, "PYTHONUNBUFFERED": "1"})


def job_counts(out: str) -> dict[str, int]:
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", out, re.M)}


def test_dry_run_all_is_the_whole_paper_dag():
    res = dry_run("all")
    assert res.returncode == 0, res.stderr
    counts = job_counts(res.stdout + res.stderr)
    # 3DIEBench: 9 seq-JEPA variants + 8 baselines, rot+colour: 5 runs; 3 seeds each;
    # STL-10: 7 Table 3 runs x 3 seeds + Fig. 9's M_tr 1, 2, 3, 5 (one seed)
    assert counts["download_3diebench"] == 1 and counts["index_3diebench"] == 2
    assert counts["download_stl10"] == counts["download_salmap_stl10"] == 1 and counts["index_stl10"] == 3
    assert counts["pretrain"] == counts["probe"] == 3 * (9 + 8 + 5) + 3 * 7 + 4
    assert counts["table"] == 4 and counts["figure"] == 4


def test_one_table_schedules_only_what_it_needs():
    res = dry_run("results/tables/3diebench.csv")
    assert res.returncode == 0, res.stderr
    counts = job_counts(res.stdout + res.stderr)
    # Table 1: 8 baselines + seq-JEPA mtr1, mtr3, mtr3-noact, mtr3-random; 3 seeds; no figure, no rot+colour
    assert counts["pretrain"] == counts["probe"] == 3 * 12 and counts["table"] == 1 and "figure" not in counts


def test_stl10_table_lists_downloads_index_table3_runs_and_probes():
    res = dry_run("results/tables/stl10_pls.csv")
    assert res.returncode == 0, res.stderr
    counts = job_counts(res.stdout + res.stderr)
    # images + saliency maps, 3 split indices, the 7 Table 3 runs x 3 seeds, their probes, the table
    assert counts == {"download_stl10": 1, "download_salmap_stl10": 1, "index_stl10": 3, "pretrain": 21,
                      "probe": 21, "table": 1, "total": 48}


def test_bad_sampler_option_fails_at_dag_build_naming_the_key(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("experiments:\n  stl10:\n    runs:\n      seqjepa:\n        mtr4-noior: {data: {ior: hexagon}}\n")
    res = dry_run("all", "--configfile", str(bad))
    assert res.returncode != 0
    assert "experiments.stl10.runs.seqjepa.mtr4-noior.data.ior: 'hexagon' is not one of" in res.stdout + res.stderr


def test_bad_config_fails_at_dag_build_naming_the_key(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("experiments:\n  3diebench:\n    runs:\n      seqjepa:\n        mtr1: {m_tr: 0}\n")
    res = dry_run("all", "--configfile", str(bad))
    assert res.returncode != 0
    assert "experiments.3diebench.runs.seqjepa.mtr1.m_tr: must be positive" in res.stdout + res.stderr


def test_missing_local_dataset_root_names_key_and_download_rule(tmp_path):
    cfg = tmp_path / "local.yaml"
    cfg.write_text(f"datasets:\n  3diebench:\n    root: {tmp_path}/nowhere\n    source: local\n")
    res = dry_run("all", "--configfile", str(cfg))
    out = res.stdout + res.stderr
    assert res.returncode != 0
    assert "datasets.3diebench.root" in out and "download_3diebench" in out
