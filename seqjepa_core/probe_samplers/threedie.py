"""3DIEBench's probe sampler: a feature bank of every view of every object, drawn from afresh each epoch.

Each probe epoch draws, for every object, ``ctx.num_views`` distinct views in random order (the official
loader's sampling): views 0, 1 make the pair of the rotation probes, view 0 the z_res sample, views
0..M_val-1 with their relative rotations the z_AGG sequence. The frozen encoder (eval mode) is a fixed
function, so each of the 50 views per object is encoded once into a bank ([objects, 50, D]; fp16 on the GPU
when it fits, else host memory) and a draw is a gather; z_AGG runs the frozen aggregator on the drawn
sequences. The test split is scored on ``probe.test_draws`` seeded draws per object.

``GivenViews`` + ``reencoding_sampler`` re-encode the same draws from the JPEGs instead: the benchmark's
baseline (``bench/bench_probes.py``) and the tests' check that the bank changes nothing.
"""

from __future__ import annotations

import numpy as np
import torch
from tqdm import tqdm

from seqjepa_core.data import threedie
from seqjepa_core.data.loading import BatchStream, DataSpec
from seqjepa_core.methods.base import Method
from seqjepa_core.probe_samplers import (Features, FreshViewsSampler, ProbeContext, autocast_for,
                                         draw_generator, encoded_features, register_sampler)

TEST_STREAM = 1  # the test draws' generator stream, apart from every training epoch's


class GivenViews(threedie.ThreeDIEBenchSequences):
    """Samples ``objects[i]`` (an index row) with exactly the views ``view_ids[i]``, in that order."""

    def __init__(self, index_path: str, root: str, objects: np.ndarray, view_ids: np.ndarray, img_size: int):
        super().__init__(index_path, root, num_views=view_ids.shape[1], img_size=img_size)
        self.paths, self.labels, self.latents = (a[objects] for a in (self.paths, self.labels, self.latents))
        self.view_ids = np.asarray(view_ids)

    def view_indices(self, idx: int) -> np.ndarray:
        return self.view_ids[idx]


def draw_views(num_objects: int, total_views: int, num_views: int, gen: torch.Generator) -> torch.Tensor:
    """[num_objects, num_views] distinct view ids per object, in random order (batched, no per-object loop)."""
    return torch.rand(num_objects, total_views, generator=gen).argsort(dim=1)[:, :num_views]


def epoch_draw(num_objects: int, total_views: int, ctx: ProbeContext, epoch: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(object rows, view ids) of training epoch ``epoch``: one fresh sequence per object."""
    views = draw_views(num_objects, total_views, ctx.num_views, draw_generator(ctx.seed, epoch))
    return torch.arange(num_objects), views


def test_draw(num_objects: int, total_views: int, ctx: ProbeContext) -> tuple[torch.Tensor, torch.Tensor]:
    """(object rows, view ids) of the test split: ``probe.test_draws`` seeded sequences per object."""
    draws = ctx.run.probe.test_draws
    gen = draw_generator(ctx.seed, 0, TEST_STREAM)
    views = torch.cat([draw_views(num_objects, total_views, ctx.num_views, gen) for _ in range(draws)])
    return torch.arange(num_objects).repeat(draws), views


def _stream(ctx: ProbeContext, index_path: str, objects: np.ndarray, view_ids: np.ndarray,
            batch_size: int) -> BatchStream:
    data = GivenViews(index_path, ctx.root, objects, view_ids, ctx.run.img_size)
    spec = DataSpec(ctx.run.dataset, index_path, ctx.root, ctx.run.img_size, ctx.run.actions)
    return BatchStream(data, spec, batch_size, ctx.seed, ctx.device, num_workers=ctx.run.train.num_workers,
                       shuffle=False, drop_last=False)


def bank_placement(num_bytes: int, device: torch.device) -> tuple[torch.device, torch.dtype]:
    """fp16 on the GPU when the bank takes at most half its free memory; else fp32 in host memory."""
    if device.type == "cuda" and num_bytes <= torch.cuda.mem_get_info(device)[0] // 2:
        return device, torch.float16
    return torch.device("cpu"), (torch.float16 if device.type == "cuda" else torch.float32)


@torch.no_grad()
def encode_bank(method: Method, ctx: ProbeContext, index_path: str, num_objects: int, total_views: int,
                split: str) -> torch.Tensor:
    """Every view of every object through the frozen encoder once: [objects, total_views, D]."""
    objects = np.arange(num_objects)
    all_views = np.tile(np.arange(total_views), (num_objects, 1))
    per_batch = max(1, ctx.batch_size // total_views)  # whole objects per encoder batch of ~batch_size views
    bank_dev, dtype = bank_placement(num_objects * total_views * method.embed_dim * 2, ctx.device)
    bank = torch.empty(num_objects, total_views, method.embed_dim, dtype=dtype, device=bank_dev)
    start = 0
    for batch in tqdm(_stream(ctx, index_path, objects, all_views, per_batch).epoch(0),
                      desc=f"feature bank {split}", unit="batch", leave=False):
        with autocast_for(ctx.device):
            z = method.encode_views(batch.views)
        bank[start:start + len(z)] = z.to(bank_dev, dtype)
        start += len(z)
    return bank


class _Split:
    """One split's index data on the probe device: labels [N], latents [N, 50, 7]."""

    def __init__(self, index_path: str, device: torch.device):
        index = threedie.load_index(index_path)
        self.path = index_path
        self.labels = torch.as_tensor(index["labels"], device=device)
        self.latents = torch.as_tensor(index["latents"], device=device)
        self.num_objects, self.total_views = self.latents.shape[:2]

    def features(self, ctx: ProbeContext, z: torch.Tensor, rows: torch.Tensor, views: torch.Tensor) -> Features:
        """Features of the drawn samples (object ``rows``, ``views`` [S, V]) from their encodings ``z``."""
        rows, views = rows.to(ctx.device), views.to(ctx.device)
        latents = self.latents[rows[:, None], views]
        actions = threedie.relative_actions(latents, ctx.run.actions)
        feats = encoded_features(ctx.method, z.to(ctx.device), actions, ctx.m_vals)
        feats.update(label=self.labels[rows], latents=latents, actions=actions, object=rows, views=views)
        return feats


class BankSampler:
    """The registered 3DIEBench sampler: draws from feature banks of both splits."""

    def __init__(self, ctx: ProbeContext):
        self.ctx = ctx
        self.train, self.test_split = _Split(ctx.train_index, ctx.device), _Split(ctx.test_index, ctx.device)
        self.banks = {name: encode_bank(ctx.method, ctx, s.path, s.num_objects, s.total_views, name)
                      for name, s in (("train", self.train), ("test", self.test_split))}
        self._test: Features | None = None

    def _gather(self, split: _Split, bank: torch.Tensor, rows: torch.Tensor, views: torch.Tensor) -> Features:
        z = bank[rows.to(bank.device)[:, None], views.to(bank.device)].float()
        return split.features(self.ctx, z, rows, views)

    def draw(self, epoch: int) -> Features:
        rows, views = epoch_draw(self.train.num_objects, self.train.total_views, self.ctx, epoch)
        return self._gather(self.train, self.banks["train"], rows, views)

    def test(self) -> Features:
        if self._test is None:
            rows, views = test_draw(self.test_split.num_objects, self.test_split.total_views, self.ctx)
            self._test = self._gather(self.test_split, self.banks["test"], rows, views)
        return self._test


def test_features(ctx: ProbeContext, index_path: str) -> Features:
    """The test draws of another split (``ctx.root`` its root) from its own bank: scoring fitted heads on
    3DIEBench-OOD, whose objects hold fewer views (the draws take ``ctx.num_views`` of them)."""
    split = _Split(index_path, ctx.device)
    bank = encode_bank(ctx.method, ctx, index_path, split.num_objects, split.total_views, "eval")
    rows, views = test_draw(split.num_objects, split.total_views, ctx)
    z = bank[rows.to(bank.device)[:, None], views.to(bank.device)].float()
    return split.features(ctx, z, rows, views)


@register_sampler("3diebench")
def build(ctx: ProbeContext) -> BankSampler:
    return BankSampler(ctx)


def reencoding_sampler(ctx: ProbeContext) -> FreshViewsSampler:
    """The same draws as ``BankSampler``, each re-encoded from its JPEGs every epoch (no bank)."""
    train, test = (threedie.load_index(p)["latents"].shape[:2] for p in (ctx.train_index, ctx.test_index))

    def batches(index_path: str, rows: torch.Tensor, views: torch.Tensor):
        return _stream(ctx, index_path, rows.numpy(), views.numpy(), ctx.batch_size).epoch(0)

    return FreshViewsSampler(ctx.method, ctx.m_vals, ctx.device,
                             lambda epoch: batches(ctx.train_index, *epoch_draw(*train, ctx, epoch)),
                             lambda: batches(ctx.test_index, *test_draw(*test, ctx)))
