"""Pretraining loop shared by every method: resumable, preemption-safe, deterministic on CPU.

Outputs of one run directory (declared to Snakemake): ``checkpoint.pt`` (final weights + run config),
``metrics.csv`` (one row per epoch), ``config.json`` (the resolved run config) and ``provenance.json`` (the
hardware, package versions and git commit it ran with). Resume state lives in
``state/last.pt``, which Snakemake does not know about and therefore never deletes before a re-run; it is
removed once the run has finished, so a forced re-run starts from scratch.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import logging
import os
import random
import signal
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from tqdm import tqdm

from seqjepa_core.config import RunConfig
from seqjepa_core.data.loading import BatchStream, DataSpec, action_dim, build_dataset
from seqjepa_core.io import atomic_torch_save, atomic_write_json, atomic_write_text
from seqjepa_core.provenance import write_run_provenance
from seqjepa_core.methods import MethodContext, build_method, get_method_class
from seqjepa_core.methods.base import Method
from seqjepa_core.schedules import learning_rate

log = logging.getLogger("seqjepa.train")

PREEMPTED_EXIT_CODE = 75  # EX_TEMPFAIL: state saved, run again to resume


class NonFiniteLoss(RuntimeError):
    pass


class Preempted(RuntimeError):
    pass


def resolve_device(name: str = "auto") -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device 'cuda' requested (config key: device) but CUDA is not available")
    return torch.device(name)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def build_optimizer(method: Method, run: RunConfig) -> tuple[torch.optim.Optimizer, str, float]:
    """The method's paper optimiser (§5.4) unless the config overrides a field; returns (opt, schedule, lr)."""
    d = get_method_class(run.method).optim_defaults
    name = run.train.optimizer or d.name
    lr = run.train.lr if run.train.lr is not None else d.lr
    wd = run.train.weight_decay if run.train.weight_decay is not None else d.weight_decay
    schedule = run.train.schedule or d.schedule
    groups = method.param_groups(wd)
    opt_cls = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW}[name]
    # Adam's coupled L2 ("weight_decay") is only meaningful if asked for; AdamW decouples it.
    return opt_cls(groups, lr=lr), schedule, lr


def build_method_for_run(run: RunConfig) -> Method:
    ctx = MethodContext(action_dim=action_dim(run.dataset, run.actions), encoder_width=run.encoder_width,
                        cifar_stem=run.cifar_stem, m_tr=run.m_tr)
    return build_method(run.method, ctx, run.params, where=f"{run.experiment}.runs.{run.method}.{run.variant}")


def load_method(checkpoint: str | os.PathLike, device: str | torch.device = "cpu") -> tuple[Method, RunConfig]:
    """Rebuild a trained method from a final ``checkpoint.pt``."""
    ckpt = torch.load(checkpoint, map_location="cpu", weights_only=False)
    run = RunConfig.from_json(ckpt["run"])
    method = build_method_for_run(run)
    method.load_state_dict(ckpt["model"])
    return method.to(device), run


# ---------------------------------------------------------------------------------------------------


@dataclass
class Progress:
    epoch: int = 0            # current epoch (0-based)
    step_in_epoch: int = 0    # optimiser steps already done in this epoch
    global_step: int = 0
    sums: dict | None = None  # running sums of the logged terms in this epoch
    count: int = 0


class _SignalFlag:
    """SIGTERM (preemption, scancel) and SIGUSR1 (SLURM's warning before the time limit) ask for a
    checkpoint at the next step boundary."""

    def __init__(self):
        self.signum = 0
        self._old = {}

    def __enter__(self):
        for s in (signal.SIGTERM, signal.SIGUSR1):
            self._old[s] = signal.signal(s, self._handle)
        return self

    def _handle(self, signum, frame):
        self.signum = signum

    def __exit__(self, *exc):
        for s, h in self._old.items():
            signal.signal(s, h)


def _rng_state() -> dict:
    state = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _write_metrics(rows: list[dict], path: Path) -> None:
    buf = io.StringIO()
    if rows:
        keys = list(dict.fromkeys(k for r in rows for k in r))
        w = csv.DictWriter(buf, fieldnames=keys)
        w.writeheader()
        w.writerows(rows)
    atomic_write_text(buf.getvalue(), path)


def _average_across_ranks(sums: dict[str, torch.Tensor], world: int) -> None:
    if world > 1:
        for v in sums.values():
            dist.all_reduce(v)
            v.div_(world)


def _agreed_stop(signum: int, dev: torch.device) -> int:
    t = torch.tensor([signum], device=dev)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return int(t.item())


def _distributed_env() -> tuple[int, int, int]:
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)), int(os.environ.get("LOCAL_RANK", 0))


def pretrain(run: RunConfig, data: DataSpec, out_dir: str | os.PathLike, device: str = "auto",
             signal_at_step: int | None = None, show_progress: bool = True) -> Path:
    """Train ``run`` and write ``checkpoint.pt``, ``metrics.csv`` and ``config.json`` into ``out_dir``.

    Resumes from ``out_dir/state/last.pt`` when it exists and matches the run's fingerprint.
    ``signal_at_step`` sends this process SIGTERM after that global step (tests of preemption).
    """
    out_dir = Path(out_dir)
    state_path = out_dir / "state" / "last.pt"
    rank, world, local_rank = _distributed_env()
    dev = resolve_device(device)
    if world > 1:
        if dev.type == "cuda":
            dev = torch.device("cuda", local_rank)
            torch.cuda.set_device(dev)
        if not dist.is_initialized():
            dist.init_process_group("nccl" if dev.type == "cuda" else "gloo")
        if run.train.batch_size % world:
            raise ValueError(f"train.batch_size={run.train.batch_size} is not divisible by {world} processes")
    is_main = rank == 0

    seed_everything(run.seed)
    method = build_method_for_run(run)
    dataset = build_dataset(data, method.num_views, seed=run.seed)
    method.to(dev)
    if dev.type == "cuda":
        method.to(memory_format=torch.channels_last)
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    model: torch.nn.Module = method
    if world > 1:
        if dev.type == "cuda":
            model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(method)
        model = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[dev.index] if dev.type == "cuda" else None)
    if run.train.compile and dev.type == "cuda":
        method.encoder.compile()

    optimizer, schedule, peak_lr = build_optimizer(method, run)
    # Global batches of train.batch_size, each rank taking its 1/world shard (losses gather them back).
    stream = BatchStream(dataset, data, run.train.batch_size, run.seed, dev, run.train.num_workers,
                         rank=rank, world_size=world)
    steps_per_epoch = stream.num_batches()
    if steps_per_epoch == 0 and run.train.epochs > 0:
        raise ValueError(f"{data.index_path}: {len(dataset)} samples is fewer than one batch of "
                         f"{run.train.batch_size} (train.batch_size)")
    total_steps = steps_per_epoch * run.train.epochs
    warmup_steps = steps_per_epoch * run.train.warmup_epochs

    progress, history = Progress(), []
    if state_path.exists():
        state = torch.load(state_path, map_location="cpu", weights_only=False)
        if state["fingerprint"] == run.fingerprint():
            method.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
            progress, history = Progress(**state["progress"]), state["history"]
            _set_rng_state(state["rng"])
            log.info("resumed from %s at epoch %d step %d", state_path, progress.epoch, progress.step_in_epoch)
        else:
            log.warning("ignoring %s: written for a different configuration", state_path)

    def save_state() -> None:
        if is_main:
            atomic_torch_save({"fingerprint": run.fingerprint(), "model": method.state_dict(),
                               "optimizer": optimizer.state_dict(), "progress": dataclasses.asdict(progress),
                               "history": history, "rng": _rng_state()}, state_path)

    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if dev.type == "cuda" else torch.autocast("cpu", enabled=False)
    method.train()
    with _SignalFlag() as flag:
        while progress.epoch < run.train.epochs:
            epoch = progress.epoch
            started, first_step = time.time(), progress.step_in_epoch
            pending = []  # (step, loss tensor), checked for NaN at the sync points only
            sums = {k: torch.tensor(v, device=dev) for k, v in (progress.sums or {}).items()}
            bar = tqdm(total=steps_per_epoch, initial=progress.step_in_epoch, desc=f"epoch {epoch}",
                       disable=not (show_progress and is_main), mininterval=5, leave=False)

            def check_pending() -> None:
                for step, value in pending:
                    if not torch.isfinite(value).item():
                        raise NonFiniteLoss(f"non-finite loss {value.item()} at epoch {epoch} step {step} "
                                            f"(global step {progress.global_step}); last good checkpoint: "
                                            f"{state_path if state_path.exists() else 'none'}")
                pending.clear()

            for batch in stream.epoch(epoch, skip=progress.step_in_epoch):
                for group in optimizer.param_groups:
                    group["lr"] = learning_rate(schedule, progress.global_step, total_steps, warmup_steps,
                                                peak_lr, run.train.warmup_start_lr, run.train.final_lr,
                                                run.train.after_warmup)
                with autocast:
                    loss, terms = model(batch)
                pending.append((progress.step_in_epoch, loss.detach()))
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                progress.global_step += 1
                progress.step_in_epoch += 1
                method.after_optimizer_step(progress.global_step / max(1, total_steps))
                for k, v in terms.items():
                    sums[k] = sums.get(k, 0.0) + v.float()
                progress.count += 1
                bar.update(1)
                if signal_at_step is not None and progress.global_step == signal_at_step:
                    os.kill(os.getpid(), signal.SIGTERM)
                at_sync_point = progress.step_in_epoch % run.train.log_every == 0
                stop = flag.signum
                if world > 1:
                    # Ranks agree to stop at the same step; a host sync, so only at sync points (SLURM's
                    # warning comes minutes ahead, log_every steps are seconds).
                    stop = _agreed_stop(stop, dev) if at_sync_point else 0
                if at_sync_point or stop:
                    check_pending()
                    bar.set_postfix(loss=f"{(sums['loss'] / progress.count).item():.4f}")
                if stop:
                    _average_across_ranks(sums, world)
                    progress.sums = {k: v.item() for k, v in sums.items()}
                    save_state()
                    bar.close()
                    raise Preempted(f"signal {stop} received: state saved at epoch {epoch} step "
                                    f"{progress.step_in_epoch} in {state_path}; run again to resume")
            check_pending()
            bar.close()
            _average_across_ranks(sums, world)  # each rank logged the loss of its own shard
            row = {"epoch": epoch + 1, "step": progress.global_step,
                   **{k: (v / max(1, progress.count)).item() for k, v in sums.items()},
                   "lr": optimizer.param_groups[0]["lr"], "seconds": round(time.time() - started, 3),
                   "samples_per_s": round((steps_per_epoch - first_step) * run.train.batch_size
                                          / max(1e-9, time.time() - started), 1)}
            history.append(row)
            log.info("epoch %d/%d %s", epoch + 1, run.train.epochs,
                     " ".join(f"{k}={v:.4g}" for k, v in row.items() if isinstance(v, float)))
            progress = Progress(epoch=epoch + 1, global_step=progress.global_step)
            if is_main:
                _write_metrics(history, out_dir / "metrics.csv")
            if (epoch + 1) % run.train.checkpoint_every == 0 and epoch + 1 < run.train.epochs:
                save_state()

    if is_main:
        atomic_write_json(dataclasses.asdict(run), out_dir / "config.json")
        write_run_provenance(out_dir, dev, world)  # the hardware and commit this run saw, for the report
        _write_metrics(history, out_dir / "metrics.csv")
        atomic_torch_save({"run": run.to_json(), "method": run.method, "epochs": run.train.epochs, "model": method.state_dict()}, out_dir / "checkpoint.pt")
        if state_path.exists():
            state_path.unlink()
    if world > 1:
        dist.barrier()
    return out_dir / "checkpoint.pt"
