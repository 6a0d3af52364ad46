"""Pretraining loop shared by every method: resumable, preemption-safe, deterministic on CPU.

Outputs of one run directory (declared to Snakemake): ``checkpoint.pt`` (final weights + run config),
``metrics.csv`` (one row per epoch), ``config.json`` (the resolved run config) and ``provenance.json``
(the hardware, package versions and git commit it ran with). Resume state lives in ``state/last.pt``,
which Snakemake does not know about and therefore never deletes before a re-run; it is removed only after
every output is written, so a forced re-run of a finished run starts from scratch while a job killed during
its final writes reruns in seconds. Everything loads with ``weights_only=True``.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import logging
import os
import pickle
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
from seqjepa_core.data.loading import DataSpec, action_dim, make_stream
from seqjepa_core.io import atomic_torch_save, atomic_write_json, atomic_write_text
from seqjepa_core.methods import MethodContext, build_method, get_method_class
from seqjepa_core.methods.base import Method
from seqjepa_core.provenance import write_run_provenance
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
    return opt_cls(groups, lr=lr, fused=_fuse(groups)), schedule, lr


def _fuse(groups: list[dict]) -> bool:
    """torch's fused Adam kernel on CUDA (one launch for all tensors; bench/bench_optimizer.py). Not on the
    CPU, where it would be faster too: its float rounding differs from torch's per-tensor loop, on which the
    CPU demo's single-seed tables were tuned (docs/demo-trials.md, #9 fourth pass; another CPU model moves
    them as much: README, "Two commands")."""
    return all(p.is_cuda for g in groups for p in g["params"])


def build_method_for_run(run: RunConfig) -> Method:
    ctx = MethodContext(action_dim=action_dim(run.dataset, run.actions), encoder_width=run.encoder_width,
                        cifar_stem=run.cifar_stem, m_tr=run.m_tr)
    return build_method(run.method, ctx, run.params, where=f"{run.experiment}.runs.{run.method}.{run.variant}")


def load_checkpoint(path: str | os.PathLike) -> dict:
    """A checkpoint or resume state of ours: tensors and plain data only, never pickled objects.

    ``weights_only=True`` refuses any pickle that would build an arbitrary object, so a file from
    elsewhere cannot run code here; the message names the file.
    """
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        raise pickle.UnpicklingError(f"{path}: refused: not plain tensors and data ({err})") from None


def save_checkpoint(run: RunConfig, method: Method, path: str | os.PathLike, **extra) -> Path:
    """Our checkpoint format: the run config as JSON text and the state_dict (plain data, weights_only)."""
    atomic_torch_save({"run": run.to_json(), "method": run.method, "epochs": run.train.epochs,
                       "model": method.state_dict(), **extra}, path)
    return Path(path)


def load_method(checkpoint: str | os.PathLike, device: str | torch.device = "cpu") -> tuple[Method, RunConfig]:
    """Rebuild a trained method from a final ``checkpoint.pt``."""
    ckpt = load_checkpoint(checkpoint)
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


class StopSignals:
    """SIGTERM (preemption, scancel) and SIGUSR1 (SLURM's warning before the time limit) ask for a
    checkpoint at the next step boundary; they never kill the process half-way through a write.

    One process-wide instance, ``STOP``. ``with STOP:`` installs the handlers (nested uses share them)
    and restores the previous ones when the outermost block ends; ``STOP.hold()`` installs them for the
    rest of the process, which the pretraining job does so that a signal during the final writes, or
    between them and the interpreter's exit, cannot fail a finished run.
    """

    SIGNALS = (signal.SIGTERM, signal.SIGUSR1)

    def __init__(self):
        self.signum = 0
        self._depth = 0
        self._old: dict = {}

    def _handle(self, signum, frame):
        self.signum = signum

    def __enter__(self) -> "StopSignals":
        if self._depth == 0:  # a fresh installation: signals of an earlier run are forgotten
            self.signum = 0
            self._old = {s: signal.signal(s, self._handle) for s in self.SIGNALS}
        self._depth += 1
        return self

    def __exit__(self, *exc) -> None:
        self._depth -= 1
        if self._depth == 0:
            for s, h in self._old.items():
                signal.signal(s, h)

    def hold(self) -> "StopSignals":
        """Handle the stop signals until the process exits."""
        return self.__enter__()


STOP = StopSignals()


def _rng_state() -> dict:
    # Plain tensors and tuples only, so the state loads with weights_only=True.
    name, keys, pos, has_gauss, cached = np.random.get_state()
    state = {"torch": torch.get_rng_state(), "numpy": (name, torch.from_numpy(keys.astype(np.int64)), pos,
                                                       has_gauss, cached), "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
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


# ---------------------------------------------------------------------------------------------------
# The loop, in named steps: set-up, resume, step, end of epoch, final save.


@dataclass
class Session:
    """What the steps of one pretraining job share."""

    run: RunConfig
    data: DataSpec
    out_dir: Path
    dev: torch.device
    rank: int
    world: int
    method: Method
    model: torch.nn.Module             # ``method``, or its DDP wrapper
    optimizer: torch.optim.Optimizer
    schedule: str
    peak_lr: float
    stream: BatchStream
    steps_per_epoch: int
    progress: Progress = dataclasses.field(default_factory=Progress)
    history: list = dataclasses.field(default_factory=list)

    @property
    def state_path(self) -> Path:
        return self.out_dir / "state" / "last.pt"

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def total_steps(self) -> int:
        return self.steps_per_epoch * self.run.train.epochs


def set_up(run: RunConfig, data: DataSpec, out_dir: str | os.PathLike, device: str) -> Session:
    """Device, process group, seeded model, optimiser and the (sharded) batch stream."""
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

    seed_everything(run.seed)
    method = build_method_for_run(run)
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
    stream = make_stream(data, method.num_views, run.train.batch_size, run.seed, dev, run.train.num_workers,
                         rank=rank, world_size=world)
    steps_per_epoch = stream.num_batches()
    if steps_per_epoch == 0 and run.train.epochs > 0:
        raise ValueError(f"{data.index_path}: fewer samples than one batch of "
                         f"{run.train.batch_size} (train.batch_size)")
    return Session(run, data, Path(out_dir), dev, rank, world, method, model, optimizer, schedule, peak_lr,
                   stream, steps_per_epoch)


def resume(s: Session) -> None:
    """Continue from ``state/last.pt`` when it was written for this run's configuration."""
    if not s.state_path.exists():
        return
    state = load_checkpoint(s.state_path)
    if state["fingerprint"] != s.run.fingerprint():
        log.warning("ignoring %s: written for a different configuration", s.state_path)
        return
    s.method.load_state_dict(state["model"])
    s.optimizer.load_state_dict(state["optimizer"])
    s.progress, s.history = Progress(**state["progress"]), state["history"]
    _set_rng_state(state["rng"])
    log.info("resumed from %s at epoch %d step %d", s.state_path, s.progress.epoch, s.progress.step_in_epoch)


def save_state(s: Session) -> None:
    if s.is_main:
        atomic_torch_save({"fingerprint": s.run.fingerprint(), "model": s.method.state_dict(),
                           "optimizer": s.optimizer.state_dict(), "progress": dataclasses.asdict(s.progress),
                           "history": s.history, "rng": _rng_state()}, s.state_path)


def step(s: Session, batch, autocast) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """One optimiser step at the scheduled learning rate; returns the loss and its logged terms, both
    detached and not synchronised."""
    run = s.run
    for group in s.optimizer.param_groups:
        group["lr"] = learning_rate(s.schedule, s.progress.global_step, s.total_steps,
                                    s.steps_per_epoch * run.train.warmup_epochs, s.peak_lr,
                                    run.train.warmup_start_lr, run.train.final_lr, run.train.after_warmup)
    with autocast:
        loss, terms = s.model(batch)
    s.optimizer.zero_grad(set_to_none=True)
    loss.backward()
    s.optimizer.step()
    s.progress.global_step += 1
    s.progress.step_in_epoch += 1
    s.method.after_optimizer_step(s.progress.global_step / max(1, s.total_steps))
    return loss.detach(), terms


def train_epoch(s: Session, autocast, signal_at_step: int | None, show_progress: bool) -> None:
    """The rest of the current epoch; saves the state and raises ``Preempted`` on a stop signal."""
    run, progress = s.run, s.progress
    epoch = progress.epoch
    started, first_step = time.time(), progress.step_in_epoch
    pending = []  # (step, loss tensor), checked for NaN at the sync points only
    sums = {k: torch.tensor(v, device=s.dev) for k, v in (progress.sums or {}).items()}
    bar = tqdm(total=s.steps_per_epoch, initial=progress.step_in_epoch, desc=f"epoch {epoch}",
               disable=not (show_progress and s.is_main), mininterval=5, leave=False)

    def check_pending() -> None:
        for at, value in pending:
            if not torch.isfinite(value).item():
                raise NonFiniteLoss(f"non-finite loss {value.item()} at epoch {epoch} step {at} "
                                    f"(global step {progress.global_step}); last good checkpoint: "
                                    f"{s.state_path if s.state_path.exists() else 'none'}")
        pending.clear()

    for batch in s.stream.epoch(epoch, skip=progress.step_in_epoch):
        loss, terms = step(s, batch, autocast)
        pending.append((progress.step_in_epoch - 1, loss))
        for k, v in terms.items():
            sums[k] = sums.get(k, 0.0) + v.float()
        progress.count += 1
        bar.update(1)
        if signal_at_step is not None and progress.global_step == signal_at_step:
            os.kill(os.getpid(), signal.SIGTERM)
        at_sync_point = progress.step_in_epoch % run.train.log_every == 0
        stop = STOP.signum
        if s.world > 1:
            # Ranks agree to stop at the same step; a host sync, so only at sync points (SLURM's
            # warning comes minutes ahead, log_every steps are seconds).
            stop = _agreed_stop(stop, s.dev) if at_sync_point else 0
        if at_sync_point or stop:
            check_pending()
            bar.set_postfix(loss=f"{(sums['loss'] / progress.count).item():.4f}")
        if stop:
            _average_across_ranks(sums, s.world)
            progress.sums = {k: v.item() for k, v in sums.items()}
            save_state(s)
            bar.close()
            raise Preempted(f"signal {stop} received: state saved at epoch {epoch} step "
                            f"{progress.step_in_epoch} in {s.state_path}; run again to resume")
    check_pending()
    bar.close()
    end_of_epoch(s, sums, started, first_step)


def end_of_epoch(s: Session, sums: dict[str, torch.Tensor], started: float, first_step: int) -> None:
    """Log the epoch's averages, write metrics.csv and, every ``checkpoint_every`` epochs, the state."""
    run, epoch = s.run, s.progress.epoch
    _average_across_ranks(sums, s.world)  # each rank logged the loss of its own shard
    elapsed = max(1e-9, time.time() - started)
    row = {"epoch": epoch + 1, "step": s.progress.global_step,
           **{k: (v / max(1, s.progress.count)).item() for k, v in sums.items()},
           "lr": s.optimizer.param_groups[0]["lr"], "seconds": round(time.time() - started, 3),
           "samples_per_s": round((s.steps_per_epoch - first_step) * run.train.batch_size / elapsed, 1)}
    s.history.append(row)
    log.info("epoch %d/%d %s", epoch + 1, run.train.epochs,
             " ".join(f"{k}={v:.4g}" for k, v in row.items() if isinstance(v, float)))
    s.progress = Progress(epoch=epoch + 1, global_step=s.progress.global_step)
    if s.is_main:
        _write_metrics(s.history, s.out_dir / "metrics.csv")
    if (epoch + 1) % run.train.checkpoint_every == 0 and epoch + 1 < run.train.epochs:
        save_state(s)


def final_save(s: Session) -> Path:
    """Write the declared outputs; the resume state goes only once every rank is past them.

    The finished state is saved first, so a job killed anywhere in here (Snakemake then deletes its
    outputs) reruns in seconds: it resumes at the last epoch and only writes the outputs again.
    """
    if s.run.train.epochs > 0:
        save_state(s)
    if s.is_main:
        atomic_write_json(dataclasses.asdict(s.run), s.out_dir / "config.json")
        write_run_provenance(s.out_dir, s.dev, s.world)  # the hardware and commit this run saw, for the report
        _write_metrics(s.history, s.out_dir / "metrics.csv")
        save_checkpoint(s.run, s.method, s.out_dir / "checkpoint.pt")
    if s.world > 1:
        dist.barrier()
    if s.is_main and s.state_path.exists():
        s.state_path.unlink()  # finished: a forced re-run starts from scratch
    return s.out_dir / "checkpoint.pt"


def pretrain(run: RunConfig, data: DataSpec, out_dir: str | os.PathLike, device: str = "auto",
             signal_at_step: int | None = None, show_progress: bool = True) -> Path:
    """Train ``run`` and write ``checkpoint.pt``, ``metrics.csv`` and ``config.json`` into ``out_dir``.

    Resumes from ``out_dir/state/last.pt`` when it exists and matches the run's fingerprint.
    ``signal_at_step`` sends this process SIGTERM after that global step (tests of preemption).
    Stop signals stay handled to the end: one that arrives after the last step lets the outputs be
    written, and the job succeeds.
    """
    with STOP:
        s = set_up(run, data, out_dir, device)
        resume(s)
        autocast = (torch.autocast("cuda", dtype=torch.bfloat16) if s.dev.type == "cuda"
                    else torch.autocast("cpu", enabled=False))
        s.method.train()
        while s.progress.epoch < run.train.epochs:
            train_epoch(s, autocast, signal_at_step, show_progress)
        path = final_save(s)
        if STOP.signum:
            log.warning("signal %d arrived after the last step: the run finished and its outputs are "
                        "written", STOP.signum)
        return path
