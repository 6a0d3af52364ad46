"""Under two gloo processes, the all-gathered losses equal the single-process loss of the global batch,
and (after DDP's mean over ranks) so do the gradients with respect to each rank's inputs."""

from __future__ import annotations

import functools

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from seqjepa_core import distributed, losses

WORLD, SHARD = 2, 5

CASES = {
    "nt_xent": (2, functools.partial(losses.nt_xent, temperature=0.5)),
    "vicreg": (2, lambda a, b: losses.vicreg_loss(a, b, 10.0, 10.0, 1.0)[0]),
    "sie": (5, lambda *t: losses.sie_loss(*t, lam_inv=10.0, lam_var=10.0, lam_equi=4.5, lam_cov=1.0)[0]),
}


def global_inputs(name: str) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(len(name))
    return [torch.randn(WORLD * SHARD, 6, generator=g, dtype=torch.float64) for _ in range(CASES[name][0])]


def loss_and_grads(name: str, inputs: list[torch.Tensor]):
    inputs = [x.clone().requires_grad_() for x in inputs]
    loss = CASES[name][1](*inputs)
    loss.backward()
    return loss.detach(), [x.grad for x in inputs]


def _worker(rank: int, init_file: str, out_dir: str) -> None:
    torch.set_num_threads(1)  # two processes on a small shared machine
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=WORLD)
    try:
        assert distributed.is_distributed() and distributed.world_size() == WORLD and distributed.rank() == rank
        shard = slice(rank * SHARD, (rank + 1) * SHARD)
        out = {name: loss_and_grads(name, [x[shard] for x in global_inputs(name)]) for name in CASES}
        torch.save(out, f"{out_dir}/rank{rank}.pt")
    finally:
        dist.destroy_process_group()


@pytest.mark.slow
def test_gathered_losses_match_single_process(tmp_path):
    assert not distributed.is_distributed() and distributed.world_size() == 1 and distributed.rank() == 0
    mp.spawn(_worker, args=(str(tmp_path / "init"), str(tmp_path)), nprocs=WORLD, join=True)
    per_rank = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in range(WORLD)]
    for name in CASES:
        ref_loss, ref_grads = loss_and_grads(name, global_inputs(name))
        for r, results in enumerate(per_rank):
            loss, grads = results[name]
            assert torch.allclose(loss, ref_loss, rtol=1e-10, atol=1e-12), (name, r)
            for g, ref in zip(grads, ref_grads):
                # DDP averages over ranks, so rank r's gradient is world_size x the global one.
                assert torch.allclose(g / WORLD, ref[r * SHARD:(r + 1) * SHARD], rtol=1e-8, atol=1e-12), (name, r)
