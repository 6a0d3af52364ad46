"""The probe stage end to end (``evaluate_checkpoint`` and ``workflow_scripts/probe.py``) on generated data:
no train/test leakage, and the result is an exact function of (checkpoint, seed)."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from seqjepa_core.config import ProbeConfig, RunConfig, TrainConfig
from seqjepa_core.data.loading import DataSpec
from seqjepa_core.data.threedie import build_index, write_index
from seqjepa_core.evaluate import evaluate_checkpoint
from seqjepa_core.train import pretrain


@pytest.fixture(scope="module")
def stage(tiny_3diebench, tmp_path_factory):
    """A 1-epoch seq-JEPA checkpoint, a probe-fitting split of classes 0 and 1 only, and two test splits:
    ``novel`` (objects of class 2, a class no fitting sample carries) and ``val`` (all classes)."""
    base = tmp_path_factory.mktemp("stage")
    root, splits = Path(tiny_3diebench["root"]), Path(tiny_3diebench["splits"])
    paths = np.concatenate([np.load(splits / f"{s}_images.npy") for s in ("train", "val")])
    labels = np.concatenate([np.load(splits / f"{s}_labels.npy") for s in ("train", "val")])
    out = {"root": str(root), "val": tiny_3diebench["val"]}
    for name, keep in (("fit", labels < 2), ("novel", labels == 2)):
        np.save(base / f"{name}_images.npy", paths[keep])
        np.save(base / f"{name}_labels.npy", labels[keep])
        out[name] = str(base / f"{name}.npz")
        write_index(build_index(root, base, name), out[name])
    run = RunConfig("3diebench", "seqjepa", "mtr2", 0, "3diebench", "rotation", 32, 8, False, 2, {},
                    TrainConfig(epochs=1, batch_size=6, warmup_epochs=0, num_workers=0),
                    ProbeConfig(m_val=(1, 3), epochs=40, linear_epochs=10, batch_size=8, hidden=32, test_draws=2))
    pretrain(run, DataSpec("3diebench", tiny_3diebench["train"], str(root), 32, "rotation"), base / "run",
             device="cpu", show_progress=False)
    out["checkpoint"] = str(base / "run" / "checkpoint.pt")
    out["base"] = base
    return out


def probe(stage, test, name):
    return evaluate_checkpoint(stage["checkpoint"], stage["fit"], stage[test], stage["root"],
                               stage["base"] / f"{name}.json", device="cpu")["metrics"]


@pytest.fixture(scope="module")
def on_val(stage):
    return probe(stage, "val", "val")


def test_a_class_no_fitting_sample_carries_is_never_predicted(stage, on_val):
    """Every test object is of class 2 and every fitting object of class 0 or 1: a probe fitted only on the
    fitting split cannot name class 2 (0 % top-1), a probe that saw any test sample could."""
    metrics = probe(stage, "novel", "novel")
    top1 = [m for m in metrics if m["metric"] == "top1"]
    assert len(top1) == 3  # z_AGG at M_val 1, 3 and z_res
    assert all(m["value"] == 0.0 for m in top1)
    assert all(m["train_value"] > 0.0 for m in top1)


def test_the_test_split_does_not_change_the_fitted_probes(stage, on_val):
    """Scored on two unrelated test splits, every probe's fit (its score on the last training draw) is the
    same to the bit: nothing of the test split (statistics, size, labels) reaches the fit."""
    novel = probe(stage, "novel", "novel2")
    assert [(m["metric"], m["m_val"], m["train_value"], m["n_train"]) for m in novel] == \
        [(m["metric"], m["m_val"], m["train_value"], m["n_train"]) for m in on_val]
    assert [m["value"] for m in novel] != [m["value"] for m in on_val]


def test_probe_script_gives_the_same_result_as_the_core(stage, on_val):
    """``workflow_scripts/probe.py`` (the rule's command) reproduces the in-process probes exactly:
    the probes are a function of (checkpoint, seed) alone."""
    out = stage["base"] / "script.json"
    script = Path(__file__).resolve().parents[1] / "workflow_scripts" / "probe.py"
    subprocess.run([sys.executable, str(script), "--checkpoint", stage["checkpoint"], "--train-index",
                    stage["fit"], "--test-index", stage["val"], "--root", stage["root"], "--out", str(out),
                    "--device", "cpu", "--threads", "1"], check=True, capture_output=True)
    assert json.loads(out.read_text())["metrics"] == on_val
    rel_rot = {m["metric"]: m for m in on_val}["rel_rot_r2"]
    assert rel_rot["n_train"] == 18 and rel_rot["n_test"] == 2 * 9  # one draw per object; 2 test draws each


def test_m_val_override_reaches_the_probes_and_the_recorded_run(stage, on_val):
    """The sequence-length sweep's ``m_val`` replaces the run's z_AGG lengths (1, 3) in the probes and in the
    recorded config; the record names the run as the checkpoint trained it."""
    result = evaluate_checkpoint(stage["checkpoint"], stage["fit"], stage["val"], stage["root"],
                                 stage["base"] / "m2.json", device="cpu", m_val=[2])
    assert {m["m_val"] for m in result["metrics"] if m["representation"] == "z_agg"} == {2}
    assert {m["m_val"] for m in on_val if m["representation"] == "z_agg"} == {1, 3}
    assert tuple(result["config"]["probe"]["m_val"]) == (2,)
    assert result["config"]["probe"]["epochs"] == 40  # the rest of the probe protocol kept
    assert result["run"] == {"experiment": "3diebench", "method": "seqjepa", "variant": "mtr2", "seed": 0,
                             "m_tr": 2, "epochs": 1}
    assert json.loads((stage["base"] / "m2.json").read_text())["run"] == result["run"]
