import csv
import dataclasses
import math
import signal

import pytest
import torch

from seqjepa_core.config import ProbeConfig, RunConfig, TrainConfig
from seqjepa_core.data.loading import DataSpec, epoch_batches
from seqjepa_core.methods.seqjepa import SeqJEPA
from seqjepa_core.train import (NonFiniteLoss, Preempted, build_method_for_run, build_optimizer, load_method,
                                pretrain, seed_everything)


def make_run(**train) -> RunConfig:
    t = TrainConfig(epochs=3, batch_size=6, warmup_epochs=1, checkpoint_every=1, num_workers=0, log_every=2)
    return RunConfig("3diebench", "seqjepa", "mtr2", 0, "3diebench", "rotation", 32, 8, False, 2, {},
                     dataclasses.replace(t, **train), ProbeConfig(m_val=(1, 2)))


def spec(data) -> DataSpec:
    return DataSpec("3diebench", data["train"], data["root"], 32, "rotation")


def read_losses(path):
    with open(path) as f:
        return [(r["epoch"], r["step"], r["loss"], r["lr"]) for r in csv.DictReader(f)]


def assert_same_weights(a, b):
    sa, sb = torch.load(a, weights_only=True)["model"], torch.load(b, weights_only=True)["model"]
    assert sa.keys() == sb.keys()
    for k in sa:
        assert torch.equal(sa[k], sb[k]), k


@pytest.fixture(scope="module")
def recorded_run(tiny_3diebench, tmp_path_factory):
    """The uninterrupted run, and what the optimiser and the method saw at every step."""
    out = tmp_path_factory.mktemp("uninterrupted")
    seen = {"lr": [], "progress": []}
    step, after = torch.optim.AdamW.step, SeqJEPA.after_optimizer_step

    def recording_step(self, *args, **kwargs):
        seen["lr"].append([g["lr"] for g in self.param_groups])
        return step(self, *args, **kwargs)

    def recording_after(self, progress):
        seen["progress"].append(progress)
        return after(self, progress)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(torch.optim.AdamW, "step", recording_step)
        mp.setattr(SeqJEPA, "after_optimizer_step", recording_after)
        pretrain(make_run(), spec(tiny_3diebench), out, device="cpu", show_progress=False)
    return out, seen


@pytest.fixture(scope="module")
def reference_run(recorded_run):
    return recorded_run[0]


STEPS_PER_EPOCH = 18 // 6  # 18 training objects, batch 6


def test_outputs_and_checkpoint_round_trip(reference_run):
    with open(reference_run / "metrics.csv") as f:
        assert next(csv.reader(f)) == ["epoch", "step", "loss", "lr", "seconds", "samples_per_s"]
    rows = read_losses(reference_run / "metrics.csv")
    assert [int(r[0]) for r in rows] == [1, 2, 3]
    assert [int(r[1]) for r in rows] == [3, 6, 9]
    assert (reference_run / "config.json").exists() and not (reference_run / "state" / "last.pt").exists()
    method, run = load_method(reference_run / "checkpoint.pt")
    assert isinstance(method, SeqJEPA) and run == make_run()


def test_loss_falls_over_epochs_on_a_learnable_task(reference_run):
    # Untrained (optimiser steps removed), the epoch losses of this run stay within 2 % of each other.
    losses = [float(r[2]) for r in read_losses(reference_run / "metrics.csv")]
    assert losses[2] < 0.8 * losses[0] and losses[1] < losses[0], losses


def test_trained_weights_moved_from_the_initialisation(reference_run):
    run = make_run()
    seed_everything(run.seed)
    init = build_method_for_run(run).state_dict()
    trained = torch.load(reference_run / "checkpoint.pt", weights_only=True)["model"]
    trainable = [n for n, p in build_method_for_run(run).named_parameters() if p.requires_grad]
    assert trainable and all(not torch.equal(init[n], trained[n]) for n in trainable), \
        [n for n in trainable if torch.equal(init[n], trained[n])]
    # the EMA target moved too, towards the online encoder
    assert not torch.equal(init["target_encoder.conv1.weight"], trained["target_encoder.conv1.weight"])


def expected_lr(step, total, warmup, peak=4e-4, start=1e-5, final=1e-5):
    """Paper §5.4: linear warm-up from ``start`` over ``warmup`` steps, then cosine from ``peak`` to ``final``."""
    if step < warmup:
        return start + (peak - start) * step / warmup
    return final + (peak - final) * (1 + math.cos(math.pi * (step - warmup) / (total - warmup))) / 2


def test_every_step_and_the_lr_column_follow_the_schedule(recorded_run):
    reference_run, seen = recorded_run
    total, warmup = 3 * STEPS_PER_EPOCH, 1 * STEPS_PER_EPOCH   # make_run: 3 epochs, 1 of warm-up
    lrs = seen["lr"]
    assert len(lrs) == total
    for step, groups in enumerate(lrs):
        assert groups == pytest.approx([expected_lr(step, total, warmup)] * len(groups), rel=1e-12), step
    logged = [float(r[3]) for r in read_losses(reference_run / "metrics.csv")]  # the epoch's last step
    assert logged == pytest.approx([expected_lr(e * STEPS_PER_EPOCH - 1, total, warmup) for e in (1, 2, 3)],
                                   rel=1e-9)


def test_ema_progress_is_the_fraction_of_finished_steps(recorded_run):
    total = 3 * STEPS_PER_EPOCH
    assert recorded_run[1]["progress"] == pytest.approx([k / total for k in range(1, total + 1)])


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGUSR1])
def test_killed_job_resumes_to_identical_result(tiny_3diebench, reference_run, tmp_path, signum, monkeypatch,
                                                caplog):
    steps = 3 * (18 // 6)
    kill_at = int(torch.randint(1, steps - 1, (1,), generator=torch.Generator().manual_seed(signum)))
    # deliver the requested signal at that step (the trainer's hook sends SIGTERM; swap it for signum)
    import os
    real_kill = os.kill
    monkeypatch.setattr(os, "kill", lambda pid, sig: real_kill(pid, signum))
    with pytest.raises(Preempted, match=f"signal {int(signum)}"):
        pretrain(make_run(), spec(tiny_3diebench), tmp_path, device="cpu", signal_at_step=kill_at,
                 show_progress=False)
    monkeypatch.undo()
    assert (tmp_path / "state" / "last.pt").exists() and not (tmp_path / "checkpoint.pt").exists()
    with caplog.at_level("INFO", logger="seqjepa.train"):
        pretrain(make_run(), spec(tiny_3diebench), tmp_path, device="cpu", show_progress=False)
    epoch, step = divmod(kill_at - 1, STEPS_PER_EPOCH)  # stopped after its step-th step of that epoch
    step += 1
    assert f"resumed from {tmp_path / 'state' / 'last.pt'} at epoch {epoch} step {step}" in caplog.messages
    assert read_losses(tmp_path / "metrics.csv") == read_losses(reference_run / "metrics.csv")
    assert_same_weights(tmp_path / "checkpoint.pt", reference_run / "checkpoint.pt")


def test_rng_state_round_trips_every_generator_including_cuda(monkeypatch):
    import random

    import numpy as np

    from seqjepa_core import train
    cuda_state, restored = [torch.arange(4, dtype=torch.uint8)], []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)   # the CUDA branch, without a GPU
    monkeypatch.setattr(torch.cuda, "get_rng_state_all", lambda: cuda_state)
    monkeypatch.setattr(torch.cuda, "set_rng_state_all", restored.append)
    state = train._rng_state()
    first = (torch.rand(3), np.random.rand(3), random.random())
    train._set_rng_state(state)
    again = (torch.rand(3), np.random.rand(3), random.random())
    assert torch.equal(first[0], again[0]) and np.array_equal(first[1], again[1]) and first[2] == again[2]
    assert restored == [cuda_state]


def test_nan_loss_fails_with_epoch_and_step_and_keeps_last_checkpoint(tiny_3diebench, tmp_path, monkeypatch):
    original = SeqJEPA.training_loss
    calls = {"n": 0}

    def poisoned(self, batch):
        loss, logs = original(self, batch)
        calls["n"] += 1
        if calls["n"] == 5:  # epoch 1 (0-based), step 1
            loss = loss * float("nan")
        return loss, logs

    monkeypatch.setattr(SeqJEPA, "training_loss", poisoned)
    with pytest.raises(NonFiniteLoss, match=r"epoch 1 step 1"):
        pretrain(make_run(), spec(tiny_3diebench), tmp_path, device="cpu", show_progress=False)
    state = torch.load(tmp_path / "state" / "last.pt", weights_only=True)
    assert state["progress"]["epoch"] == 1  # the last good checkpoint: end of epoch 1
    assert all(torch.isfinite(v).all() for v in state["model"].values() if v.is_floating_point())
    assert not (tmp_path / "checkpoint.pt").exists()


def test_stale_state_from_other_config_is_ignored(tiny_3diebench, reference_run, tmp_path):
    with pytest.raises(Preempted):
        pretrain(make_run(epochs=2), spec(tiny_3diebench), tmp_path, device="cpu", signal_at_step=2,
                 show_progress=False)
    pretrain(make_run(), spec(tiny_3diebench), tmp_path, device="cpu", show_progress=False)
    assert read_losses(tmp_path / "metrics.csv") == read_losses(reference_run / "metrics.csv")


def test_epoch_batches_are_a_seeded_permutation_sharded_by_rank():
    full = epoch_batches(20, 8, seed=3, epoch=2)
    assert full == epoch_batches(20, 8, seed=3, epoch=2) and full != epoch_batches(20, 8, seed=3, epoch=3)
    assert len(full) == 2 and len(set(sum(full, []))) == 16
    shards = [epoch_batches(20, 8, 3, 2, rank=r, world_size=2) for r in (0, 1)]
    for g, a, b in zip(full, *shards):
        assert sorted(a + b) == sorted(g) and len(a) == len(b) == 4


def _steps_of_build_optimizer_and_of_the_loop(device: str):
    """A real method stepped 5 times by ``build_optimizer``'s AdamW and by torch's per-tensor AdamW loop from
    the same weights and gradients: (build_optimizer's optimiser, [(its param, the loop's param), ...])."""
    run = make_run()
    ours_method, loop_method = build_method_for_run(run).to(device), build_method_for_run(run).to(device)
    loop_method.load_state_dict(ours_method.state_dict())
    start = [p.detach().clone() for p in ours_method.parameters()]
    ours, _, lr = build_optimizer(ours_method, run)
    decay = ours.param_groups[0]["weight_decay"]
    assert decay > 0 and ours.param_groups[1]["weight_decay"] == 0
    loop = torch.optim.AdamW(loop_method.param_groups(decay), lr=lr, foreach=False)
    gen = torch.Generator().manual_seed(0)
    for _ in range(5):
        for a, b in zip(ours_method.parameters(), loop_method.parameters()):
            a.grad = torch.randn(a.shape, generator=gen).to(device)
            b.grad = a.grad.clone()
        ours.step()
        loop.step()
    assert all(not torch.equal(p, p0) for p, p0 in zip(ours_method.parameters(), start) if p.requires_grad)
    return ours, list(zip(ours_method.parameters(), loop_method.parameters()))


def test_pretraining_optimiser_on_cpu_is_torchs_per_tensor_loop_bit_for_bit():
    """CPU runs (the demo's tables) keep torch's per-tensor AdamW trajectory exactly: not the fused kernel,
    whose rounding differs."""
    ours, pairs = _steps_of_build_optimizer_and_of_the_loop("cpu")
    assert not ours.defaults["fused"]
    assert all(torch.equal(a, b) for a, b in pairs)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_pretraining_optimiser_on_cuda_is_fused_and_steps_as_the_loop():
    ours, pairs = _steps_of_build_optimizer_and_of_the_loop("cuda")
    assert ours.defaults["fused"] is True
    for a, b in pairs:
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
