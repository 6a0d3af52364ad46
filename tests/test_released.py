"""The authors' released checkpoints: a stand-in Hub repo in the official key layout (from the reference
TSVs, random weights) -> download -> import -> probe -> table through the DAG; untrusted pickles refused."""

import copy
import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml

from seqjepa_core.config import ProbeConfig, RunConfig, TrainConfig, load_config
from seqjepa_core.released import (CheckpointMismatch, download_provenance, import_released, match_state_dict,
                                   official_state_dict)
from seqjepa_core.train import load_method
from tests.test_download import COMMIT, hf_env, server  # noqa: F401  (fixtures: a Hub stand-in on 127.0.0.1)

REPO = Path(__file__).resolve().parents[1]
REF = Path(__file__).resolve().parent / "reference"
DTYPES = {"float32": torch.float32, "int64": torch.int64}


def official_checkpoint(tsv: str = "official_ckpt_keys_3diebench_seqjepa.tsv", action_dim: int | None = None,
                        seed: int = 0) -> dict:
    """A checkpoint shaped like the released ones: ``{'model': state_dict, 'optimizer', 'epoch', ...}``.

    ``action_dim`` swaps the action projector's input width (the rotation+colour checkpoint, 6-d actions,
    has no reference TSV; its layout is otherwise the rotation one).
    """
    g = torch.Generator().manual_seed(seed)
    state = {}
    for line in (REF / tsv).read_text().splitlines():
        if line.startswith("#") or not line.strip():
            continue
        key, shape, dtype = line.split("\t")
        shape = tuple(int(d) for d in shape.strip("()").split(",") if d.strip())
        if key == "action_proj.0.weight" and action_dim is not None:
            shape = (shape[0], action_dim)
        dt = DTYPES[dtype]
        if not dt.is_floating_point:  # num_batches_tracked
            state[key] = torch.full(shape, 1000, dtype=dt)
        elif key.endswith("running_var"):  # a variance: positive, else the probes' features are NaN
            state[key] = 0.5 + torch.rand(shape, generator=g)
        else:
            state[key] = 0.05 * torch.randn(shape, generator=g)
    return {"model": state, "optimizer": {"state": {}, "param_groups": []}, "min_loss": 0.01, "epoch": 999,
            "run_id": "stand-in"}


def paper_run(actions: str = "rotation", m_tr: int = 3, img_size: int = 32) -> RunConfig:
    return RunConfig("3diebench", "seqjepa", f"released-mtr{m_tr}", 0, "3diebench", actions, img_size, 64, False,
                     m_tr, {}, TrainConfig(), ProbeConfig())


@pytest.mark.parametrize("actions,action_dim,m_tr", [("rotation", None, 3), ("rotcolor", 6, 4)])
def test_import_keeps_every_weight_and_drops_only_the_online_probes(tmp_path, actions, action_dim, m_tr):
    ckpt = official_checkpoint(action_dim=action_dim)
    torch.save(ckpt, tmp_path / "official.pth")
    out = import_released(tmp_path / "official.pth", paper_run(actions, m_tr), tmp_path / "checkpoint.pt",
                          source={"repo": "models/Hafez/seq-JEPA", "commit": COMMIT})
    method, run = load_method(out)  # our loader, weights_only=True
    assert run == paper_run(actions, m_tr)
    ours = method.state_dict()
    official = {k: v for k, v in ckpt["model"].items() if not k.startswith("online_")}
    assert set(ours) == set(official) and len(official) < len(ckpt["model"])
    for k, v in official.items():
        assert torch.equal(ours[k], v), k
    saved = torch.load(out, weights_only=True)
    assert saved["source"]["commit"] == COMMIT and saved["epochs"] == 1000


def test_mismatching_checkpoint_names_the_keys(tmp_path):
    ckpt = official_checkpoint()
    # a rotation checkpoint for a rotation+colour run: the action projector's input width differs
    torch.save(ckpt, tmp_path / "rot.pth")
    with pytest.raises(CheckpointMismatch, match=r"rot.pth.*shape mismatch: action_proj.0.weight \(128, 4\) "
                                                 r"\(ours \(128, 6\)\)"):
        import_released(tmp_path / "rot.pth", paper_run("rotcolor", 4), tmp_path / "out.pt")
    broken = copy.deepcopy(ckpt)
    del broken["model"]["predictor.3.bias"]
    broken["model"]["projector.0.weight"] = torch.zeros(2, 2)
    torch.save(broken, tmp_path / "broken.pth")
    with pytest.raises(CheckpointMismatch, match=r"missing: predictor.3.bias; unexpected: projector.0.weight"):
        import_released(tmp_path / "broken.pth", paper_run(), tmp_path / "out.pt")
    assert not (tmp_path / "out.pt").exists()


def test_a_long_mismatch_lists_eight_keys_then_counts_the_rest():
    ours = {f"k{i}": torch.zeros(1) for i in range(9)}
    with pytest.raises(CheckpointMismatch, match=r"^x\.pth: does not match the model of its run config: "
                                                 r"missing: k1, k2, k3, k4, k5, k6, k7, k8$"):
        match_state_dict({"k0": torch.zeros(1)}, ours, "x.pth")   # eight: all named
    with pytest.raises(CheckpointMismatch, match=r"missing: k0, k1, k2, k3, k4, k5, k6, k7 and 1 more$"):
        match_state_dict({}, ours, "x.pth")
    kept = match_state_dict({**ours, "online_linprobe.weight": torch.zeros(2)}, ours, "x.pth")
    assert list(kept) == list(ours)                                             # the online probe dropped


def test_download_provenance_is_what_the_marker_recorded(tmp_path):
    marker = tmp_path / ".complete"
    marker.write_text(json.dumps({"repo": "Hafez/seq-JEPA", "revision": "main", "commit": COMMIT, "files": ["a"]}))
    assert download_provenance(marker) == {"repo": "Hafez/seq-JEPA", "revision": "main", "commit": COMMIT}


class Payload:
    """Unpickling this runs ``os.mkdir(marker)``: a stand-in for any code a malicious checkpoint carries."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return os.mkdir, (self.marker,)


def test_malicious_pickle_is_refused_and_its_code_never_runs(tmp_path):
    marker = tmp_path / "payload_ran"
    ckpt = official_checkpoint()
    ckpt["optimizer"] = Payload(marker)
    torch.save(ckpt, tmp_path / "evil.pth")
    with pytest.raises(pickle.UnpicklingError, match=r"evil.pth: refused"):
        official_state_dict(tmp_path / "evil.pth")
    with pytest.raises(pickle.UnpicklingError, match=r"evil.pth: refused"):
        import_released(tmp_path / "evil.pth", paper_run(), tmp_path / "out.pt")
    with pytest.raises(pickle.UnpicklingError, match=r"evil.pth: refused"):
        load_method(tmp_path / "evil.pth")
    assert not marker.exists() and not (tmp_path / "out.pt").exists()
    pickle.loads(pickle.dumps(Payload(marker)))  # control: plain unpickling does run the payload
    assert marker.is_dir()


def test_every_torch_load_in_the_project_is_weights_only():
    calls = []
    for path in REPO.glob("**/*.py"):
        if {".venv", "results"} & set(path.relative_to(REPO).parts):  # the checkout itself may sit in results/
            continue
        text = path.read_text()
        for at in (i for i in range(len(text)) if text.startswith("torch.load(", i)):
            call = text[at:text.find(")", text.find("(", at) + 1) + 1]
            calls.append((path.relative_to(REPO), call))
    assert calls, "no torch.load found: the scan is broken"
    unsafe = [(str(p), c) for p, c in calls if "weights_only=True" not in c and p.name != "test_released.py"]
    assert unsafe == []


def dag_config(tmp_path: Path) -> dict:
    """The paper config's released 3DIEBench variant and its Table 1 rows, on a tiny generated dataset."""
    paper = yaml.safe_load((REPO / "config.yaml").read_text())
    exp = paper["experiments"]["3diebench"]
    table = paper["tables"]["3diebench"]
    rows = [r for r in table["rows"] if r.get("variant") == "released-mtr3"]
    assert [r["m_val"] for r in rows] == [1, 3, 5]
    small = {"gpus": 0, "cpus_per_gpu": 1, "mem_mb": 2000, "runtime": 10}
    return {
        "results_dir": "results", "device": "cpu",
        "datasets": {"3diebench": {"root": "data/3DIEBench", "splits_dir": "data/splits", "source": "synthetic",
                                   "synthetic": {"classes": 2, "train_objects": 6, "val_objects": 4,
                                                 "image_size": 32, "seed": 0}}},
        "resources": {"pretrain": small, "probe": small},
        "experiments": {"3diebench": {
            "dataset": "3diebench", "actions": exp["actions"], "img_size": 32,
            "encoder_width": exp["encoder_width"], "seeds": [0], "train": {"num_workers": 0},
            "probe": {"m_val": [1, 3, 5], "epochs": 2, "linear_epochs": 2, "batch_size": 8},
            "runs": {"seqjepa": {"released-mtr3": exp["runs"]["seqjepa"]["released-mtr3"]}}}},
        "tables": {"3diebench": {"experiment": "3diebench", "paper_tables": table["paper_tables"], "rows": rows}},
    }


def test_download_import_probe_table_through_the_dag(server, hf_env, tmp_path):  # noqa: F811
    base, state = server
    cfg = dag_config(tmp_path)
    filename = cfg["experiments"]["3diebench"]["runs"]["seqjepa"]["released-mtr3"]["released"]["filename"]
    buf = tmp_path / "standin.pth"
    ckpt = official_checkpoint()
    torch.save(ckpt, buf)
    state.hf_repos[("model", "Hafez/seq-JEPA")] = {filename: buf.read_bytes(), "README.md": b"stand-in"}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(cfg))
    env = {**os.environ, "HF_ENDPOINT": base, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    res = subprocess.run([sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--directory",
                          str(tmp_path), "--cores", "1", "results/tables/3diebench.csv"],
                         capture_output=True, text=True, timeout=300, env=env)
    logs = "\n".join(p.read_text() for p in (tmp_path / "results" / "logs").rglob("*.log"))
    assert res.returncode == 0, res.stderr[-3000:] + logs[-3000:]

    # downloaded at the commit the revision resolved to, and recorded as such
    assert ("GET", "/api/models/Hafez/seq-JEPA/revision/main") in {(m, p) for m, p, _ in state.requests}
    assert ("HEAD", f"/Hafez/seq-JEPA/resolve/{COMMIT}/{filename}") in {(m, p) for m, p, _ in state.requests}
    rel = tmp_path / "results" / "released" / "3diebench" / "seqjepa" / "released-mtr3"
    assert json.loads((rel / "download" / ".complete").read_text())["commit"] == COMMIT
    method, run = load_method(rel / "seed0" / "checkpoint.pt")
    assert run.m_tr == 3 and run.train.epochs == 1000  # the paper's run config for these weights
    for k, v in method.state_dict().items():
        assert torch.equal(v, ckpt["model"][k]), k

    probe = json.loads((tmp_path / "results" / "runs" / "3diebench" / "seqjepa" / "released-mtr3" / "seed0"
                        / "probe.json").read_text())
    assert {r["m_val"] for r in probe["metrics"] if r.get("m_val")} == {1, 3, 5}
    table = pd.read_csv(tmp_path / "results" / "tables" / "3diebench.csv").set_index("label")
    table = table.loc[[f"released checkpoint (3, {m})" for m in (1, 3, 5)]]  # then the paper's other rows
    assert list(table["top1_paper"]) == [81.72, 86.14, 87.41] and list(table["n_seeds"]) == [1, 1, 1]
    assert table["top1_mean"].notna().all() and table["note"].str.contains("no separate number").all()


def test_the_paper_configs_released_stl10_checkpoint_imports_key_for_key(tmp_path):
    """The STL-10 PLS checkpoint (official key layout) into the paper config's ``released-mtr4`` run."""
    cfg = load_config(yaml.safe_load((REPO / "config.yaml").read_text()))
    run = cfg.run_config("stl10", "seqjepa", "released-mtr4", 0)
    ckpt = official_checkpoint("official_ckpt_keys_stl10_pls_seqjepa.tsv")
    torch.save(ckpt, tmp_path / "official.pth")
    out = import_released(tmp_path / "official.pth", run, tmp_path / "checkpoint.pt",
                          source={"repo": "models/Hafez/seq-JEPA", "commit": COMMIT})
    method, loaded = load_method(out)
    assert loaded == run and loaded.dataset == "stl10" and loaded.m_tr == 4
    official = {k: v for k, v in ckpt["model"].items() if not k.startswith("online_")}
    assert set(method.state_dict()) == set(official)
    assert all(torch.equal(method.state_dict()[k], v) for k, v in official.items())
