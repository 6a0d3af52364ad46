"""The ImageNet transfer (Fig. 15) end to end on generated stand-ins: a tiny ImageNet-layout folder with saliency
maps, a small STL-10 seq-JEPA checkpoint, the probe sampler, the probe job, its script, the table and figure."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from seqjepa_core.config import ProbeConfig, RunConfig, TrainConfig
from seqjepa_core.data.fixations import FixationSampler, sample_fixations
from seqjepa_core.data.imagenet_saliency import MEAN, STD, build_index, write_index
from seqjepa_core.data.saccade_options import SaccadeOptions
from seqjepa_core.data.synthetic_imagenet import generate
from seqjepa_core.probe_samplers import ProbeContext
from seqjepa_core.probe_samplers.imagenet_transfer import TransferSampler
from seqjepa_core.train import build_method_for_run, save_checkpoint
from seqjepa_core.transfer import probe_transfer, transfer_figure, transfer_table, write_table

REPO = Path(__file__).resolve().parents[1]
PROBE = ProbeConfig(m_val=(1, 2, 3), epochs=3, batch_size=4, test_draws=1)


def stl_run(dataset="stl10"):
    return RunConfig("stl10", "seqjepa", "mtr4", 0, dataset, "position", 32, 8, True, 4, {},
                     TrainConfig(epochs=0, num_workers=0), ProbeConfig(m_val=(1, 4)), {})


@pytest.fixture(scope="module")
def stage(tmp_path_factory):
    """Indices of a 3-class ImageNet stand-in (12 training, 6 validation images at 32 x 32) and a random-init
    STL-10 seq-JEPA checkpoint (the transfer's frozen model)."""
    base = tmp_path_factory.mktemp("transfer")
    generate(base / "img", base / "sal", classes=3, train_per_class=4, val_per_class=2, seed=2)
    train = build_index(base / "img", base / "sal", "train", image_size=32, workers=1)
    write_index(train, base / "train.npz")
    write_index(build_index(base / "img", base / "sal", "val", wnids=list(train["wnids"]), image_size=32, workers=1),
                base / "val.npz")
    torch.manual_seed(0)
    run = stl_run()
    save_checkpoint(run, build_method_for_run(run), base / "ckpt.pt")
    return {"base": base, "train": str(base / "train.npz"), "val": str(base / "val.npz"),
            "ckpt": str(base / "ckpt.pt")}


def transfer(stage, name, patch=8, **kw):
    return probe_transfer(stage["ckpt"], stage["train"], stage["val"], stage["base"] / f"{name}.json",
                          {"patch_size": patch, "ior_radius": patch // 2}, PROBE, num_workers=0, device="cpu", **kw)


@pytest.fixture(scope="module")
def result(stage):
    return transfer(stage, "p8")


def test_transfer_probes_z_agg_at_every_m_val_on_the_imagenet_splits(result):
    top1 = [r for r in result["metrics"]]
    assert [(r["metric"], r["representation"], r["m_val"]) for r in top1] == [("top1", "z_agg", m) for m in (1, 2, 3)]
    assert all(r["n_train"] == 12 and r["n_test"] == 6 and r["epochs"] == 3 for r in top1)
    assert all(0 <= r["value"] <= 100 for r in top1)
    assert result["transfer"] == {"dataset": "imagenet", "patch_size": 8, "ior_radius": 4}
    assert result["run"]["experiment"] == "stl10" and result["config"]["dataset"] == "imagenet"


def test_transfer_is_a_function_of_checkpoint_and_seed_and_the_script_agrees(stage, result):
    """The rule's script reproduces the in-process job exactly."""
    out = stage["base"] / "script.json"
    subprocess.run([sys.executable, str(REPO / "workflow_scripts" / "probe_imagenet_transfer.py"),
                    "--checkpoint", stage["ckpt"], "--train-index", stage["train"], "--test-index", stage["val"],
                    "--data-json", json.dumps({"patch_size": 8, "ior_radius": 4}),
                    "--probe-json", json.dumps({"m_val": [1, 2, 3], "epochs": 3, "batch_size": 4, "test_draws": 1}),
                    "--workers", "0", "--device", "cpu", "--threads", "1", "--out", str(out)],
                   check=True, capture_output=True)
    assert json.loads(out.read_text())["metrics"] == result["metrics"]


def test_only_a_model_trained_on_stl10_saccades_transfers(stage, tmp_path):
    run = stl_run()
    other = RunConfig(**{**run.__dict__, "dataset": "cifar100", "actions": "crop", "data": {}})
    save_checkpoint(other, build_method_for_run(other), tmp_path / "c.pt")
    with pytest.raises(ValueError, match="a 'cifar100' run; the transfer probes a model trained on 'stl10'"):
        probe_transfer(tmp_path / "c.pt", stage["train"], stage["val"], tmp_path / "o.json", {"patch_size": 8},
                       PROBE, num_workers=0, device="cpu")


def sampler(stage, patch=8):
    from seqjepa_core.evaluate import load_frozen
    method, run, dev = load_frozen(stage["ckpt"], "cpu")
    run = RunConfig(**{**run.__dict__, "dataset": "imagenet", "data": {"patch_size": patch, "ior_radius": 4},
                       "probe": PROBE})
    return TransferSampler(ProbeContext(method, run, stage["train"], stage["val"], "", dev, seed=5, batch_size=5))


def test_every_probe_epoch_draws_fresh_fixations_and_the_test_draw_is_fixed(stage):
    s = sampler(stage)
    a, again, b = s.draw(0), s.draw(0), s.draw(1)
    assert sorted(a) == ["label", "z_agg@1", "z_agg@2", "z_agg@3"] and a["z_agg@3"].shape[0] == 12
    assert torch.equal(a["z_agg@3"], again["z_agg@3"])              # a pure function of (seed, epoch)
    assert not torch.allclose(a["z_agg@1"], b["z_agg@1"])           # epoch 1 sees other fixations
    assert torch.equal(a["label"], b["label"]) and a["label"].tolist() == [0] * 4 + [1] * 4 + [2] * 4
    assert torch.equal(s.test()["z_agg@2"], s.test()["z_agg@2"]) and len(s.test()["label"]) == 6


def test_patches_are_cut_from_the_normalised_image_at_the_sampled_fixations():
    """Same random numbers, same fixations as the training sampler; a patch inside the image is the plain crop of
    the normalised image, and outside the image it is 0 (the mean colour), as the official transfer loader does."""
    g = torch.Generator().manual_seed(3)
    images = torch.randint(0, 256, (3, 3, 40, 40), dtype=torch.uint8, generator=g)
    maps = torch.rand(3, 40, 40, generator=g)
    opts = SaccadeOptions(patch_size=8, ior_radius=4)
    fs = FixationSampler(opts, 40, MEAN, STD)
    batch = FixationSampler(opts, 40, MEAN, STD, cut_normalised=True).batch(images, maps, torch.arange(3), 4,
                                                                            torch.Generator().manual_seed(9))
    u = torch.rand(3, 4, generator=torch.Generator().manual_seed(9), dtype=torch.float64)
    centres = sample_fixations(maps, u, 40, 40, "circle", 4)
    assert torch.allclose(batch.latents, centres.float() / 40)
    assert torch.allclose(batch.actions, batch.latents[:, 1:] - batch.latents[:, :-1])
    assert torch.allclose(fs.batch(images, maps, torch.arange(3), 4, torch.Generator().manual_seed(9)).latents,
                          batch.latents)
    mean, std = torch.tensor(MEAN).view(3, 1, 1), torch.tensor(STD).view(3, 1, 1)
    norm = (images.double() / 255 - mean.double()) / std.double()
    padded = torch.nn.functional.pad(norm, (4, 4, 4, 4))               # zeros outside = the mean colour
    for i in range(3):
        for k in range(4):
            r, c = centres[i, k].tolist()
            ref = padded[i, :, r:r + 8, c:c + 8]                     # rows r-4 .. r+3 of the image
            assert torch.allclose(batch.views[i, k].double(), ref, atol=1e-5)


def test_table_puts_the_paper_number_and_the_gap_beside_ours(tmp_path):
    rec = lambda m, v: {"metric": "top1", "representation": "z_agg", "m_val": m, "value": v, "train_value": 50.0,
                        "n_train": 10, "n_test": 5, "epochs": 300}
    run = {"experiment": "stl10", "variant": "mtr4", "seed": 0}
    results = [{"transfer": {"patch_size": 84}, "run": run, "metrics": [rec(2, 15.0), rec(1, 11.0)]},
               {"transfer": {"patch_size": 32}, "run": run, "metrics": [rec(8, 20.0)]}]
    df = transfer_table(results)
    assert df[["patch_size", "m_val", "top1", "paper_top1", "gap"]].values.tolist() == [
        [32, 8, 20.0, 18.35, 1.65], [84, 1, 11.0, 10.70, 0.3], [84, 2, 15.0, 16.64, -1.64]]
    for i, r in enumerate(results):
        (tmp_path / f"{i}.json").write_text(json.dumps(r))
    write_table([tmp_path / "0.json", tmp_path / "1.json"], tmp_path / "t.csv")
    assert pd.read_csv(tmp_path / "t.csv")["gap"].tolist() == [1.65, 0.3, -1.64]
    transfer_figure(tmp_path / "t.csv", tmp_path / "f.png")
    assert (tmp_path / "f.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="no z_AGG top-1"):
        transfer_table([{"transfer": {"patch_size": 32}, "run": run, "metrics": []}])


def test_table_columns_and_the_paper_table_the_config_names(tmp_path):
    rec = {"metric": "top1", "representation": "z_agg", "m_val": 8, "value": 20.0, "train_value": 50.0,
           "n_train": 10, "n_test": 5, "epochs": 300}
    (tmp_path / "0.json").write_text(json.dumps({"transfer": {"patch_size": 32}, "run": {"experiment": "stl10",
                                                 "variant": "mtr4", "seed": 0}, "metrics": [rec]}))
    write_table([tmp_path / "0.json"], tmp_path / "t.csv")
    assert list(pd.read_csv(tmp_path / "t.csv").columns) == [
        "patch_size", "m_val", "top1", "paper_top1", "gap", "train_top1", "n_train", "n_test", "epochs",
        "experiment", "variant", "seed"]
    assert write_table([tmp_path / "0.json"], tmp_path / "u.csv", paper_table="no-such-table")["paper_top1"].isna().all()


def test_a_bad_fixation_option_is_named(stage):
    from seqjepa_core.evaluate import load_frozen
    method, run, dev = load_frozen(stage["ckpt"], "cpu")
    run = RunConfig(**{**run.__dict__, "dataset": "imagenet", "data": {"ior": "hex"}, "probe": PROBE})
    with pytest.raises(ValueError, match=r"^data\.ior: 'hex' is not one of"):
        TransferSampler(ProbeContext(method, run, stage["train"], stage["val"], "", dev, seed=5))
