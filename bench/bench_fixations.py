"""Saccade sampling throughput: the batched sampler vs the official per-image loop, same fixations.

Both take uint8 96 x 96 images and saliency maps already in memory and return normalised 32 x 32 patches at
5 fixations drawn from the saliency map with inhibition of return (radius 16) plus the saccade positions.
The per-image loop is the official ``STL10_SalMap.__getitem__`` path (hafezgh/seq-jepa, src/datasets.py):
per image, one fixation at a time with the square IoR mask and renormalisation, one ``grid_sample`` of the
image's patches on the official (transposed) grid, ``rotate(-90)`` + ``hflip``, then per patch
``ToPILImage`` -> ``Resize(32)`` -> ``ToTensor`` -> ``Normalize``. It is fed the batched sampler's uniforms
(inverse-CDF picks instead of ``torch.multinomial``), so both draw the same fixations; ours runs with the
official switches (``ior: square``, ``patch_convention: official``) and the patches are checked equal
(to one grey level: float32 vs float64 truncation ties). The paper defaults (circle, centred patches) are
timed too, and on the CPU also as one block of the whole batch instead of ``CPU_BLOCK`` images.
Usage: python bench/bench_fixations.py [--device cuda] [--batch 256]
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F
from torchvision import transforms
from torchvision.transforms import functional as TF

from seqjepa_core.data import fixations
from seqjepa_core.data.fixations import FixationSampler
from seqjepa_core.data.saccade_options import SaccadeOptions
from seqjepa_core.data.stl10 import MEAN, STD

SIZE, PATCH, FIXATIONS, RADIUS = 96, 32, 5, 16


def official_per_image(images: torch.Tensor, maps: torch.Tensor, u: torch.Tensor):
    to_pil = transforms.ToPILImage()
    per_patch = transforms.Compose([transforms.Resize((PATCH, PATCH)), transforms.ToTensor(),
                                    transforms.Normalize(MEAN, STD)])
    rows = torch.arange(SIZE).view(-1, 1)
    cols = torch.arange(SIZE).view(1, -1)
    steps = torch.arange(PATCH, dtype=torch.float64) * PATCH / (PATCH - 1) - PATCH / 2 - 0.5
    to_grid = lambda v: (2 * v + 1) / SIZE - 1  # noqa: E731  pixel coordinate -> grid_sample's [-1, 1]
    all_patches, all_pos = [], []
    for img, sal, us in zip(images, maps, u):
        probs = sal.double().clone()
        centres = []
        for x in us:
            cdf = probs.flatten().cumsum(0)
            i = int(torch.searchsorted(cdf, x * cdf[-1], right=True))
            r, c = divmod(i, SIZE)
            centres.append((r, c))
            probs = probs * ~(((rows - r).abs() <= RADIUS) & ((cols - c).abs() <= RADIUS))
            probs = probs / probs.sum()
        grids = []
        for r, c in centres:  # the row goes into the grid's x coordinate
            gx, gy = to_grid(r + steps).view(-1, 1).expand(-1, PATCH), to_grid(c + steps).view(1, -1).expand(PATCH, -1)
            grids.append(torch.stack([gx, gy], -1).float())
        full = img.float().div(255).unsqueeze(0).expand(len(centres), -1, -1, -1)
        fov = F.grid_sample(full, torch.stack(grids), mode="bilinear", padding_mode="zeros", align_corners=False)
        fov = TF.hflip(TF.rotate(fov, -90))
        all_patches.append(torch.stack([per_patch(to_pil(p)) for p in fov]))
        all_pos.append(torch.tensor(centres, dtype=torch.float32) / SIZE)
    return torch.stack(all_patches), torch.stack(all_pos)


def timed(fn, min_seconds: float) -> tuple[float, int, object]:
    out, n, start = fn(), 1, time.perf_counter()
    while time.perf_counter() - start < min_seconds:
        out, n = fn(), n + 1
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / (n - 1 if n > 1 else 1), n, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    dev = torch.device(args.device)
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (args.batch, 3, SIZE, SIZE), generator=g, dtype=torch.uint8)
    maps = torch.rand(args.batch, SIZE, SIZE, generator=g) ** 4
    maps /= maps.sum((1, 2), keepdim=True)
    sampler = FixationSampler(SaccadeOptions(), SIZE, MEAN, STD)
    gen = torch.Generator(device=dev)

    def batched(sampler):
        b = sampler.batch(images.to(dev), maps.to(dev), torch.zeros(args.batch, device=dev), FIXATIONS,
                          gen.manual_seed(1))
        if dev.type == "cuda":
            torch.cuda.synchronize()
        return b

    u = torch.rand(args.batch, FIXATIONS, generator=torch.Generator(device=dev).manual_seed(1), device=dev,
                   dtype=torch.float64).cpu()
    official = FixationSampler(SaccadeOptions(ior="square", patch_convention="official"), SIZE, MEAN, STD)
    t_loop, n_loop, (lp, lpos) = timed(lambda: official_per_image(images, maps, u), args.seconds)
    t_ours, n_ours, ours = timed(lambda: batched(official), args.seconds)
    t_paper, n_paper, _ = timed(lambda: batched(sampler), args.seconds)
    if dev.type == "cpu":
        block, fixations.CPU_BLOCK = fixations.CPU_BLOCK, args.batch
        t_whole, n_whole, _ = timed(lambda: batched(sampler), args.seconds)
        fixations.CPU_BLOCK = block
    assert torch.equal(ours.latents.cpu(), lpos), "batched and per-image fixations differ"
    grey = 1.0 / (255 * min(STD))  # one grey level after normalisation
    assert (ours.views.cpu() - lp).abs().max() <= grey + 1e-5, "batched and per-image patches differ"
    rate = lambda t: args.batch / t  # noqa: E731
    print(f"device {dev}, {args.threads} thread(s), batch {args.batch}, {FIXATIONS} fixations, IoR r={RADIUS}, "
          f"{PATCH}px patches (same fixations and patches: checked)")
    print(f"official per-image loop (square IoR, official grid): {rate(t_loop):9.1f} images/s ({n_loop} batches)")
    print(f"batched, same switches                            : {rate(t_ours):9.1f} images/s ({n_ours} batches)")
    print(f"batched, paper defaults (circle IoR, centred)     : {rate(t_paper):9.1f} images/s ({n_paper} batches)")
    if dev.type == "cpu":
        print(f"{'batched, paper defaults, one block of ' + str(args.batch):<50}: {rate(t_whole):9.1f} images/s "
              f"({n_whole} batches; blocks of {fixations.CPU_BLOCK}: {t_whole / t_paper:.1f}x faster)")
    print(f"speed-up (same switches): {t_loop / t_ours:.1f}x; paper defaults vs the official loop: "
          f"{t_loop / t_paper:.1f}x")


if __name__ == "__main__":
    main()
