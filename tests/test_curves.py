"""Training-curve figures: probe summaries against numpy, empty runs, and a visible mark for non-finite loss."""

import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from seqjepa_core.curves import RunCurves, load_run, probe_summary, training_figure


def records(rng):
    return ([{"metric": "top1", "representation": "z_agg", "m_val": m, "value": rng.uniform(40, 90)} for m in (1, 3, 5)]
            + [{"metric": "rel_rot_r2", "representation": "pair", "m_val": None, "value": rng.uniform(0, 1)}])


def test_probe_summary_is_the_mean_over_seeds():
    rng = np.random.default_rng(0)
    per_seed = [records(rng) for _ in range(3)]
    lines = probe_summary(per_seed)
    z = [np.mean([r[i]["value"] for r in per_seed]) for i in range(3)]
    rot = np.mean([r[3]["value"] for r in per_seed])
    assert lines == ["top1 [z_agg] M_val 1/3/5:", "   " + "/".join(f"{v:.2f}" for v in z),
                     f"rel_rot_r2 [pair]: {rot:.3f}"]


def write_run(d, epochs, seed=0, loss=None):
    d.mkdir(parents=True)
    (d / "config.json").write_text(json.dumps({"method": "seqjepa", "variant": "mtr3", "seed": seed}))
    e = np.arange(1, epochs + 1)
    loss = np.exp(-e / 5.0) if loss is None else loss
    text = pd.DataFrame({"epoch": e, "step": e * 3, "loss": loss, "lr": 1e-3}).to_csv(index=False) if epochs else ""
    (d / "metrics.csv").write_text(text)  # the trainer writes an empty file for a 0-epoch run


def test_load_run_reads_a_zero_epoch_run_without_probe(tmp_path):
    write_run(tmp_path / "r", epochs=0)
    run = load_run(tmp_path / "r")
    assert run.metrics.empty and run.probe == [] and (run.method, run.variant, run.seed) == ("seqjepa", "mtr3", 0)


def red_marks(path):
    px = np.asarray(Image.open(path).convert("RGB")).astype(int)
    return int((np.abs(px - (255, 0, 0)).sum(-1) < 60).sum())


@pytest.mark.parametrize("diverged", [False, True])
def test_a_nonfinite_loss_is_marked_in_red(tmp_path, diverged):
    loss = np.exp(-np.arange(1, 11) / 5.0)
    if diverged:
        loss[6:] = np.nan
    runs = [RunCurves("seqjepa", "mtr3", 0, pd.DataFrame({"epoch": np.arange(1, 11), "loss": loss, "lr": 1e-3}), []),
            RunCurves("simclr", "default", 0, pd.DataFrame(columns=["epoch", "loss", "lr"]), [])]
    training_figure(runs, tmp_path / "t.png", "t")
    assert (red_marks(tmp_path / "t.png") > 10) == diverged
