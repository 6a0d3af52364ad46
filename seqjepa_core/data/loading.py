"""From a dataset index to device-side ``SequenceBatch``es, deterministically and resumably.

The order of samples is a pure function of (seed, epoch), each sample's random views a pure function of
(seed, epoch, index), so a job resumed mid-epoch (skipping the batches it already did) sees exactly the
data an uninterrupted job would. Workers only decode JPEGs into uint8; normalisation and actions are
computed batched on the device.
"""

from __future__ import annotations

import importlib
import signal
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import ModuleType

import torch
from torch.utils.data import DataLoader, Dataset

from seqjepa_core.data.batch import SequenceBatch
from seqjepa_core.data.registry import get_dataset_info


@dataclass(frozen=True)
class DataSpec:
    """What a run needs to know to read its dataset."""

    dataset: str
    index_path: str
    root: str
    img_size: int
    actions: str
    options: dict = field(default_factory=dict)   # the run's data options (STL-10: the saccade sampler)
    normalization: str = "paper"       # paper | official: the dataset's NORMALIZATION constants
    action_norm: str = "sequence_l2"   # augmentation actions: sequence_l2 (official) | raw differences

    @classmethod
    def for_run(cls, run, index_path: str, root: str) -> "DataSpec":
        """The data a ``RunConfig`` trains or is probed on."""
        return cls(run.dataset, index_path, root, run.img_size, run.actions, run.data, run.normalization,
                   run.action_norm)


def dataset_module(dataset: str) -> ModuleType:
    """The module of a dataset (``seqjepa_core.data.registry``): ``MEAN``/``STD``, ``ACTION_DIMS``,
    ``relative_actions`` and either ``Sequences`` (a per-item Dataset for ``BatchStream``) or
    ``build_stream`` (its own batched stream). Imported lazily: the DAG build never loads image code."""
    return importlib.import_module(get_dataset_info(dataset).module)


def build_dataset(spec: DataSpec, num_views: int, seed: int) -> Dataset:
    return dataset_module(spec.dataset).Sequences(spec.index_path, spec.root, num_views=num_views,
                                                  img_size=spec.img_size, seed=seed)


def make_stream(spec: DataSpec, num_views: int, batch_size: int, seed: int, device: torch.device,
                num_workers: int = 0, shuffle: bool = True, drop_last: bool = True, rank: int = 0,
                world_size: int = 1):
    """The epoch stream of a dataset: ``num_batches()`` and ``epoch(epoch, skip)`` of ``SequenceBatch``es."""
    module = dataset_module(spec.dataset)
    if hasattr(module, "build_stream"):
        return module.build_stream(spec.index_path, spec.options, num_views, batch_size, seed, device,
                                   shuffle=shuffle, drop_last=drop_last, rank=rank, world_size=world_size)
    return BatchStream(build_dataset(spec, num_views, seed), spec, batch_size, seed, device, num_workers,
                       shuffle=shuffle, drop_last=drop_last, rank=rank, world_size=world_size)


def action_dim(dataset: str, kind: str) -> int:
    return dataset_module(dataset).ACTION_DIMS[kind]


def _ignore_stop_signals(worker_id: int) -> None:
    """SLURM signals every process of the job: workers must leave SIGTERM/SIGUSR1 to the trainer, which
    checkpoints and stops them; a worker dying of the signal would crash the trainer before it saves."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGUSR1, signal.SIG_IGN)


def stack_items(items: list[dict]) -> dict[str, torch.Tensor]:
    """The DataLoader collate: stacks on the CPU and keeps images uint8 (4x less to pin and copy)."""
    out = {"images": torch.stack([torch.as_tensor(it["images"]) for it in items]),
           "latents": torch.stack([torch.as_tensor(it["latents"], dtype=torch.float32) for it in items]),
           "labels": torch.tensor([int(it["label"]) for it in items], dtype=torch.long)}
    if "index" in items[0]:  # datasets that draw their views on the device seed them by index
        out["index"] = torch.tensor([int(it["index"]) for it in items], dtype=torch.long)
    return out


def epoch_batches(num_samples: int, batch_size: int, seed: int, epoch: int, shuffle: bool = True,
                  drop_last: bool = True, rank: int = 0, world_size: int = 1) -> list[list[int]]:
    """Global batches of the epoch (a permutation seeded by seed and epoch), this rank's shard of each."""
    if shuffle:
        g = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
        order = torch.randperm(num_samples, generator=g).tolist()
    else:
        order = list(range(num_samples))
    stop = num_samples - num_samples % batch_size if drop_last else num_samples
    batches = [order[i:i + batch_size] for i in range(0, stop, batch_size)]
    return [b[rank::world_size] for b in batches]


class BatchStream:
    """Iterates one epoch of device-side ``SequenceBatch``es, optionally skipping the first batches."""

    def __init__(self, dataset: Dataset, spec: DataSpec, batch_size: int, seed: int, device: torch.device,
                 num_workers: int = 0, shuffle: bool = True, drop_last: bool = True,
                 rank: int = 0, world_size: int = 1):
        self.dataset, self.spec, self.batch_size, self.seed = dataset, spec, batch_size, seed
        self.device, self.num_workers, self.shuffle, self.drop_last = device, num_workers, shuffle, drop_last
        self.rank, self.world_size = rank, world_size
        self.module = dataset_module(spec.dataset)
        constants = getattr(self.module, "NORMALIZATION", {"paper": (self.module.MEAN, self.module.STD)})
        mean, std = (torch.tensor(v, device=device).view(1, 1, 3, 1, 1) for v in constants[spec.normalization])
        # Normalize(mean, std)(x / 255) as one in-place multiply-add: a third of the memory traffic
        self.scale, self.shift = 1.0 / (255.0 * std), -mean / std

    def num_batches(self) -> int:
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def epoch(self, epoch: int, skip: int = 0) -> Iterator[SequenceBatch]:
        self.dataset.set_epoch(epoch)  # every sequence dataset draws its views from (seed, epoch, index)
        batches = epoch_batches(len(self.dataset), self.batch_size, self.seed, epoch, self.shuffle,
                                self.drop_last, self.rank, self.world_size)[skip:]
        if not batches:
            return
        loader = DataLoader(self.dataset, batch_sampler=batches, collate_fn=stack_items,
                            num_workers=self.num_workers, pin_memory=self.device.type == "cuda",
                            # its own generator: a DataLoader otherwise draws its base seed from the global
                            # RNG, and a resumed epoch would shift the dropout stream by one draw
                            generator=torch.Generator().manual_seed(self.seed * 7919 + epoch),
                            worker_init_fn=_ignore_stop_signals if self.num_workers else None)
        for raw in loader:
            yield self.to_batch(raw)

    def to_batch(self, raw: dict[str, torch.Tensor]) -> SequenceBatch:
        if hasattr(self.module, "device_batch"):  # views made on the device (augmentations)
            return self.module.device_batch(raw, self)
        images = raw["images"].to(self.device, non_blocking=True)
        latents = raw["latents"].to(self.device, non_blocking=True)
        views = images.float().mul_(self.scale).add_(self.shift)
        actions = self.module.relative_actions(latents, self.spec.actions)
        return SequenceBatch(views, actions, raw["labels"].to(self.device, non_blocking=True), latents)
