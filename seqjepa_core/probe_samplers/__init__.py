"""Probe samplers: where each probe epoch's data comes from, one module per dataset.

The probes follow the official and SIE evaluations: every probe epoch sees a **fresh random draw** for
every object (views, augmentations, fixations), and the test split is scored on a **fixed, seeded** set
of draws. All heads of a run train jointly, epoch by epoch, on the same draw (one draw per epoch), as the
official eval loop does (``seqjepa_core.probes.run_probes``).

The contract (a dataset plugs in here, no new code path anywhere else):

- A sampler is built by a factory registered under the dataset's name::

      @register_sampler("mydataset")
      def build(ctx: ProbeContext) -> ProbeSampler: ...

  and imported at the bottom of this file. ``ctx`` carries the frozen method (eval mode, on the probe
  device), the run's config, the two split indices, the data root and the probe seed.
- ``sampler.draw(epoch)`` returns the ``Features`` of training epoch ``epoch``: a fresh draw, a pure
  function of (checkpoint, seed, epoch).
- ``sampler.test()`` returns the test split's ``Features``: the same every call.
- ``Features`` is a dict of tensors with one row per sample. It holds the representations the dataset's
  ``PROBE_SPECS`` name (``encoder``, ``pair``, ``z_agg@<M_val>`` from ``encoded_features``) and whatever
  their ``target`` functions read (``label``, ``latents``, ``actions``, ...).

Two ways to implement a sampler:

- ``FreshViewsSampler``: give it ``batches(epoch)``, a generator of ``SequenceBatch``es with freshly drawn
  views (e.g. new augmentations or fixations of every image, batched on the device), and the test batches;
  it encodes them every epoch. Use it when views are generated, not enumerable.
- a feature bank (``threedie.py``): when every view of an object exists on disk and the encoder is frozen,
  encode each view once and draw each epoch's samples from the bank; the same features as re-encoding, at
  one encoder pass per view instead of one per draw.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

import torch
from tqdm import tqdm

from seqjepa_core.config import RunConfig
from seqjepa_core.data.batch import SequenceBatch
from seqjepa_core.methods.base import Method

Features = dict[str, torch.Tensor]


def zagg_key(m: int) -> str:
    return f"z_agg@{m}"


@dataclass(frozen=True)
class ProbeContext:
    """What a sampler factory gets."""

    method: Method               # frozen, eval mode, on ``device``
    run: RunConfig               # img_size, actions, probe protocol (m_val, test_draws, ...)
    train_index: str             # the probe-fitting split's index
    test_index: str              # the scoring split's index
    root: str                    # dataset root
    device: torch.device
    seed: int                    # draws are a pure function of (seed, epoch)
    batch_size: int = 256        # encoder batch (views for banks, samples otherwise)

    @property
    def m_vals(self) -> list[int]:
        """The z_AGG sequence lengths to probe (none for methods without an aggregator)."""
        return sorted(set(self.run.probe.m_val)) if self.method.aggregates_sequences else []

    @property
    def num_views(self) -> int:
        """Views per drawn sample: two for pairs, up to the longest M_val for z_AGG."""
        return max([2, *self.m_vals])


class ProbeSampler(Protocol):
    def draw(self, epoch: int) -> Features: ...

    def test(self) -> Features: ...


SamplerFactory = Callable[[ProbeContext], ProbeSampler]
SAMPLERS: dict[str, SamplerFactory] = {}


def register_sampler(dataset: str):
    def deco(factory: SamplerFactory) -> SamplerFactory:
        if dataset in SAMPLERS:
            raise ValueError(f"probe sampler for {dataset!r} registered twice")
        SAMPLERS[dataset] = factory
        return factory
    return deco


def build_sampler(dataset: str, ctx: ProbeContext) -> ProbeSampler:
    try:
        factory = SAMPLERS[dataset]
    except KeyError:
        raise KeyError(f"no probe sampler for dataset {dataset!r}; valid: {sorted(SAMPLERS)}") from None
    return factory(ctx)


def draw_generator(seed: int, epoch: int, stream: int = 0) -> torch.Generator:
    """A CPU generator per (seed, epoch, stream): draws are the same on any device and any worker count."""
    return torch.Generator().manual_seed((seed * 1_000_003 + epoch) * 7 + stream)


def autocast_for(device: torch.device):
    # bf16 on CUDA only: CPU autocast is slow and the CPU path is for tests and the demo
    return torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.type == "cuda")


@torch.no_grad()
def encoded_features(method: Method, z: torch.Tensor, actions: torch.Tensor, m_vals: Sequence[int],
                     batch_size: int = 4096) -> Features:
    """The probed representations of encoded samples ``z`` [N, V, D] with ``actions`` [N, V-1, A]:

    ``encoder`` = z_res of view 0, ``pair`` = view 0 ⊕ view 1, ``z_agg@m`` = the frozen aggregator on views
    0..m-1 with the m-1 actions between them. fp32, on ``z``'s device.
    """
    out: Features = {"encoder": z[:, 0].float(), "pair": z[:, :2].flatten(1).float()}
    with autocast_for(z.device):
        for m in m_vals:
            out[zagg_key(m)] = torch.cat([
                method.aggregate_encoded(z[i:i + batch_size, :m].float(), actions[i:i + batch_size, : m - 1])
                .float() for i in range(0, len(z), batch_size)])
    return out


@torch.no_grad()
def encode_batches(method: Method, batches: Iterable[SequenceBatch], m_vals: Sequence[int],
                   device: torch.device, desc: str = "encode") -> Features:
    """Encode every view of every batch once and build its ``Features`` (plus label, latents, actions)."""
    need = max([2, *m_vals])
    parts: dict[str, list[torch.Tensor]] = defaultdict(list)
    for batch in tqdm(batches, desc=desc, unit="batch", leave=False):
        if batch.num_views < need:
            raise ValueError(f"probing needs {need} views per sample (pair and M_val={list(m_vals)}), "
                             f"the batches have {batch.num_views}")
        views, actions = batch.views.to(device)[:, :need], batch.actions.to(device)
        with autocast_for(device):
            z = method.encode_views(views)
        for k, v in encoded_features(method, z, actions, m_vals).items():
            parts[k].append(v)
        parts["label"].append(batch.labels.to(device))
        parts["latents"].append(batch.latents.float().to(device))
        parts["actions"].append(batch.actions.float().to(device))
    if not parts:
        raise ValueError("no batches to encode")
    return {k: torch.cat(v) for k, v in parts.items()}


class FreshViewsSampler:
    """The generic sampler: encodes ``batches(epoch)`` (freshly drawn views) every epoch.

    ``batches(epoch)`` must be a pure function of (seed, epoch); ``test_batches()`` the same every call.
    Costs one encoder pass per drawn view per epoch; the test features are encoded once and kept.
    """

    def __init__(self, method: Method, m_vals: Sequence[int], device: torch.device,
                 batches: Callable[[int], Iterable[SequenceBatch]],
                 test_batches: Callable[[], Iterable[SequenceBatch]]):
        self.method, self.m_vals, self.device = method, list(m_vals), device
        self.batches, self.test_batches = batches, test_batches
        self._test: Features | None = None

    def draw(self, epoch: int) -> Features:
        return encode_batches(self.method, self.batches(epoch), self.m_vals, self.device, f"encode epoch {epoch}")

    def test(self) -> Features:
        if self._test is None:
            self._test = encode_batches(self.method, self.test_batches(), self.m_vals, self.device, "encode test")
        return self._test


# Importing the modules fills the registry.
from seqjepa_core.probe_samplers import augmented, imagenet_transfer, stl10, threedie  # noqa: E402,F401
