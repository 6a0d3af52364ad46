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
    # 3DIEBench: 9 seq-JEPA variants + 8 baselines + 6 transformer-projector baselines (Table 8),
    # rot+colour: 5 runs; 3 seeds each; plus one released checkpoint per experiment, probed, not trained.
    # The high-compute regime (Table 11) is outside `all`. STL-10: 7 Table 3 runs x 3 seeds + Fig. 9's
    # M_tr 1, 2, 3, 5 (one seed). CIFAR-100 and Tiny ImageNet, each: 86 runs (the 82 of Table 2 + 4
    # heatmap-only single models).
    assert counts["download_3diebench"] == 1 and counts["index_3diebench"] == 2
    # The sequence-length sweep (Figs. 7, 8) adds M_tr 2, 4, 5 with one seed; they get its M_val 1-8 probe only.
    assert counts["download_stl10"] == counts["download_salmap_stl10"] == 1 and counts["index_stl10"] == 3
    assert counts["download_cifar100"] == counts["download_tinyimagenet"] == 1
    assert counts["index_cifar100"] == counts["index_tinyimagenet"] == 2
    assert counts["pretrain"] == 3 * (9 + 8 + 6 + 5) + 3 * 7 + 4 + 2 * 86 + 3
    assert counts["probe"] == counts["pretrain"] - 3 + 3
    assert counts["download_released"] == counts["import_released"] == 3  # 3DIEBench rot, rot+colour, STL-10
    assert counts["table"] == 5 + 2 * 5 and counts["figure"] == 4 + 2
    # Beyond Table 1 (rules/threedie_extras.smk): OOD data, Table 9 per run of its 10 rows (3 seeds), Table 10's
    # 4 predictors, Fig. 6b's 3 seeds, the sweep's 5 models, Figs. 4 and 5
    assert counts["download_3diebench_ood"] == counts["index_3diebench_ood"] == 1
    assert counts["ood"] == 30 and counts["retrieval"] == 12 and counts["path_integration"] == 3
    assert counts["probe_seq_length"] == 5 and counts["analysis_embedding"] == 2
    assert counts["analysis_table"] == 2 and counts["analysis_path_integration"] == counts["analysis_seq_length"] == 1
    assert not {"download_salmap_imagenet", "index_imagenet", "probe_imagenet_transfer"} & set(counts)  # Fig. 15


def test_ood_table_schedules_only_what_it_needs():
    res = dry_run("results/tables/3diebench_ood.csv")
    assert res.returncode == 0, res.stderr
    counts = job_counts(res.stdout + res.stderr)
    # Table 9: 8 baselines + seq-JEPA mtr1, mtr3, 3 seeds each: pretrain, probe (its heads), OOD scoring
    assert counts["pretrain"] == counts["probe"] == counts["ood"] == 30
    assert counts["download_3diebench_ood"] == counts["index_3diebench_ood"] == counts["analysis_table"] == 1
    assert not {"retrieval", "path_integration", "probe_seq_length", "table", "figure"} & set(counts)


def test_one_table_schedules_only_what_it_needs():
    res = dry_run("results/tables/3diebench.csv")
    assert res.returncode == 0, res.stderr
    counts = job_counts(res.stdout + res.stderr)
    # Table 1: 8 baselines + seq-JEPA mtr1, mtr3, mtr3-noact, mtr3-random; 3 seeds; no figure, no rot+colour;
    # and the released checkpoint: downloaded, imported and probed (one model), never trained
    assert counts["pretrain"] == 3 * 12 and counts["probe"] == 3 * 12 + 1
    assert counts["download_released"] == counts["import_released"] == 1
    assert counts["table"] == 1 and "figure" not in counts


def job_resources(out: str, rule: str) -> list[str]:
    """The `resources:` line of every job of ``rule`` in a (non-quiet) dry run's output."""
    return re.findall(rf"^rule {rule}:\n(?:    .*\n)*?    resources: (.*)$", out, re.M)


def test_table8_and_table11_targets_dry_run_with_their_resources():
    res = dry_run("results/tables/3diebench_transformer_projector.csv")
    assert res.returncode == 0, res.stderr
    counts = job_counts(res.stdout + res.stderr)
    assert counts["pretrain"] == counts["probe"] == 3 * 6 and counts["table"] == 1
    res = subprocess.run(SNAKEMAKE + ["outside_all", "-n", "-p"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    pretrain = job_resources(res.stdout, "pretrain")
    # SIE, SimCLR, EquiMod, seq-JEPA (1,1) and (3,3): one run each, 4 GPUs per run; probes on one GPU
    assert len(pretrain) == 5 and all("gpu=4," in r for r in pretrain), pretrain
    assert all("gpu=1," in r for r in job_resources(res.stdout, "probe"))
    assert "--nproc_per_node 4" in res.stdout and "3diebench_high_compute.csv" in res.stdout


def test_table2_lists_every_run_of_the_paper_table():
    res = dry_run("results/tables/cifar100.csv", "results/tables/tinyimagenet.csv")
    assert res.returncode == 0, res.stderr
    counts = job_counts(res.stdout + res.stderr)
    # per dataset, 3 seeds of: 4 invariant baselines, 4 equivariant baselines x 4 action sets, seq-JEPA
    # C+J+B M_tr 1-3, crop M_tr 2, jitter M_tr 3, blur M_tr 3, no action M_tr 2; plus the random encoder
    per_dataset = 3 * (4 + 4 * 4 + 6 + 1) + 1
    assert counts["pretrain"] == counts["probe"] == 2 * per_dataset
    assert counts["table"] == 2 and "figure" not in counts


def test_stl10_table_lists_downloads_index_table3_runs_and_probes():
    res = dry_run("results/tables/stl10_pls.csv")
    assert res.returncode == 0, res.stderr
    counts = job_counts(res.stdout + res.stderr)
    # images + saliency maps, 3 split indices, the 7 Table 3 runs x 3 seeds, their probes, the released
    # STL-10 PLS checkpoint (downloaded, imported and probed, never trained), the table
    assert counts == {"download_stl10": 1, "download_salmap_stl10": 1, "index_stl10": 3, "pretrain": 21,
                      "download_released": 1, "import_released": 1, "probe": 22, "table": 1, "total": 51}


def test_imagenet_transfer_lists_its_downloads_index_stl10_model_and_probes():
    """Fig. 15 (outside `all`): the saliency maps, both ImageNet indices, the STL-10 model it probes (with what
    that needs), one probe job per patch size, the table and the figure. The user's ImageNet copy is missing
    here: a dry run warns naming the key."""
    res = dry_run("imagenet_transfer")
    assert res.returncode == 0, res.stderr
    counts = job_counts(res.stdout + res.stderr)
    assert counts == {"download_salmap_imagenet": 1, "index_imagenet": 2, "download_stl10": 1,
                      "download_salmap_stl10": 1, "index_stl10": 1, "pretrain": 1, "probe_imagenet_transfer": 2,
                      "imagenet_transfer_table": 1, "imagenet_transfer_figure": 1, "imagenet_transfer": 1,
                      "total": 12}
    assert "transfer.imagenet_transfer.image_root" in res.stdout + res.stderr


def test_one_saliency_download_per_root_whatever_the_transfer_entries(tmp_path):
    """A second entry on the same maps shares their download; one on other maps (another root) gets its own rule."""
    cfg = tmp_path / "two.yaml"
    cfg.write_text("transfer:\n  patch16: {experiment: stl10, image_root: data/imagenet, saliency_root: "
                   "data/imagenet-saliency, patch_sizes: [16]}\n  rev2: {experiment: stl10, image_root: data/imagenet, "
                   f"saliency_root: {tmp_path}/sal-v2, saliency_revision: v2, patch_sizes: [16]}}\n")
    res = dry_run("imagenet_transfer", "--configfile", str(cfg))
    assert res.returncode == 0, res.stderr
    counts = job_counts(res.stdout + res.stderr)
    assert counts["download_salmap_imagenet"] == counts["download_salmap_imagenet_rev2"] == 1
    assert counts["index_imagenet"] == 2 * 3 and counts["probe_imagenet_transfer"] == 2 + 1 + 1


def test_missing_imagenet_copy_fails_at_dag_build_naming_the_key(tmp_path):
    (tmp_path / "sal" / "train").mkdir(parents=True)
    cfg = tmp_path / "local.yaml"
    cfg.write_text(f"results_dir: {tmp_path}/results\ntransfer:\n  imagenet_transfer:\n"
                   f"    image_root: {tmp_path}/nowhere\n    saliency_root: {tmp_path}/sal\n    saliency_source: local\n")
    res = subprocess.run(SNAKEMAKE + [f"{tmp_path}/results/transfer/imagenet_transfer/index/train.npz",
                                      "--configfile", str(cfg), "--cores", "1"],
                         cwd=REPO, capture_output=True, text=True, timeout=120)
    out = res.stdout + res.stderr
    assert res.returncode != 0
    assert "transfer.imagenet_transfer.image_root" in out and "image-net.org" in out
    assert not (tmp_path / "results" / "logs").exists()              # no job ran


@pytest.mark.parametrize("yaml,message", [
    ("experiments:\n  3diebench:\n    runs:\n      seqjepa:\n        mtr1: {m_tr: 0}\n",
     "experiments.3diebench.runs.seqjepa.mtr1.m_tr: must be positive"),
    ("experiments:\n  stl10:\n    runs:\n      seqjepa:\n        mtr4-noior: {data: {ior: hexagon}}\n",
     "experiments.stl10.runs.seqjepa.mtr4-noior.data.ior: 'hexagon' is not one of"),
])
def test_bad_config_fails_at_dag_build_naming_the_key(tmp_path, yaml, message):
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml)
    res = dry_run("all", "--configfile", str(bad))
    assert res.returncode != 0
    assert message in res.stdout + res.stderr


def test_missing_local_dataset_root_names_key_and_download_rule(tmp_path):
    cfg = tmp_path / "local.yaml"
    cfg.write_text(f"datasets:\n  3diebench:\n    root: {tmp_path}/nowhere\n    source: local\n")
    res = dry_run("all", "--configfile", str(cfg))
    out = res.stdout + res.stderr
    assert res.returncode != 0
    assert "datasets.3diebench.root" in out and "download_3diebench" in out


@pytest.mark.parametrize("configfile", [[], ["--configfile", "config/demo.yaml"]])
def test_lint_reports_only_the_warnings_readme_explains(configfile):
    """README's `snakemake --lint` section explains two kinds of warning; anything else is a regression."""
    res = subprocess.run(SNAKEMAKE + ["--lint", *configfile], cwd=REPO, capture_output=True, text=True,
                         timeout=120)
    out = res.stdout + res.stderr
    titles = {re.sub(r"variable \w+", "variable X", m) for m in re.findall(r"^\s+\* (.+?):?$", out, re.M)}
    explained = {"Shell command directly uses variable X from outside of the rule",
                 "Mixed rules and functions in same snakefile."}
    assert titles <= explained, titles - explained
    used = re.findall(r"uses variable (\w+)", out)
    assert used and set(used) <= {"PYTHON", "SCRIPTS"}
