"""STL-10 SimCLR full-image views: batched (``full_image_views.simclr_views``) vs per-image torchvision loops.

Two per-image baselines, timed in the same run on the same uint8 96 x 96 images (CPU time, one thread):
- ``replaced``: the code this replaced, torchvision's SimCLR recipe (``v2.Compose`` of RandomResizedCrop
  (bilinear), flip, RandomApply(ColorJitter), RandomGrayscale) on uint8 tensors, one image and one view at
  a time, drawing its own parameters;
- ``same views``: torchvision's functional ops on float tensors, one view at a time, with the batched draw's
  parameters (bicubic crop), so it makes the batched views (max |diff| printed) without paying for the draw.
``--device cuda`` times the batched path on the GPU (wall time); the loops stay on the CPU.

    python bench/bench_full_image_views.py [--batch 256] [--views 2] [--repeats 3] [--device cpu]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
import torchvision.transforms.v2.functional as TF
from torchvision.transforms import InterpolationMode, v2

from seqjepa_core.data import augment as A
from seqjepa_core.data import full_image_views
from seqjepa_core.data.full_image_views import SIMCLR, simclr_views
from seqjepa_core.data.synthetic_images import render

SIZE = 96
JITTER = (TF.adjust_brightness, TF.adjust_contrast, TF.adjust_saturation, TF.adjust_hue)


def replaced_loop(images: torch.Tensor, views: int) -> torch.Tensor:
    """The previous implementation: torchvision's SimCLR transform per image, uint8 in and out."""
    t = SIMCLR
    transform = v2.Compose([v2.RandomResizedCrop(SIZE, scale=t.scale, ratio=t.ratio, antialias=True),
                            v2.RandomHorizontalFlip(t.flip_p),
                            v2.RandomApply([v2.ColorJitter(t.brightness, t.contrast, t.saturation, t.hue)], p=t.jitter_p),
                            v2.RandomGrayscale(t.gray_p)])
    return torch.stack([torch.stack([transform(img) for img in images]) for _ in range(views)], dim=1)


def same_views_loop(images: torch.Tensor, views: int, d: A.AugmentDraw) -> torch.Tensor:
    out = torch.empty(images.shape[0], views, 3, SIZE, SIZE)
    for k in range(images.shape[0] * views):
        x = TF.resized_crop(images[k // views].float() / 255, *d.crop[k].tolist(), [SIZE, SIZE],
                            interpolation=InterpolationMode.BICUBIC, antialias=True).clamp(0, 1)
        x = TF.horizontal_flip(x) if d.flip[k] else x
        if d.jitter_on[k]:
            for op_id in d.order[k].tolist():
                x = JITTER[op_id](x, d.factors[k, op_id].item())
        out[k // views, k % views] = TF.rgb_to_grayscale(x, num_output_channels=3) if d.gray[k] else x
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--views", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    dev = torch.device(args.device)
    rng = np.random.default_rng(0)
    images = torch.from_numpy(render(rng.integers(0, 10, args.batch), SIZE, rng)).permute(0, 3, 1, 2).contiguous()
    on_dev = images.to(dev)
    clock = time.perf_counter if dev.type == "cuda" else time.process_time

    def batched():
        out = simclr_views(on_dev, args.views, torch.Generator(device=dev).manual_seed(0))
        if dev.type == "cuda":
            torch.cuda.synchronize()
        return out

    batched()  # warm-up (allocations, kernels)
    t_batched = []
    for _ in range(args.repeats):
        t0 = clock()
        views, draw = batched()
        t_batched.append(clock() - t0)
    best = min(t_batched)
    if dev.type == "cpu":  # the same views as one block of the whole batch (what CPU_BLOCK saves)
        block, full_image_views.CPU_BLOCK = full_image_views.CPU_BLOCK, args.batch * args.views
        t0 = clock()
        batched()
        t_whole = clock() - t0
        full_image_views.CPU_BLOCK = block
    torch.manual_seed(0)
    t0 = time.process_time()
    replaced_loop(images, args.views)
    t_replaced = time.process_time() - t0
    cpu_draw = A.AugmentDraw(**{k: v.cpu() for k, v in vars(draw).items()})
    t0 = time.process_time()
    same = same_views_loop(images, args.views, cpu_draw)
    t_same = time.process_time() - t0
    n = args.batch * args.views
    print(f"{args.batch} images x {args.views} views at {SIZE} px, {args.threads} thread(s), batched on {dev}; "
          f"times are {'CPU' if dev.type == 'cpu' else 'loops: CPU, batched: wall'} time")
    for name, t in (("replaced per-image v2 recipe (uint8)", t_replaced),
                    ("per-image functional ops, same views", t_same),
                    (f"batched (best of {args.repeats})", best)):
        print(f"{name:40s} {t * 1e6 / n:9.1f} us/view ({n / t:8.0f} views/s)")
    print(f"speed-up: {t_replaced / best:.2f}x vs the replaced loop, {t_same / best:.2f}x vs the same-views loop")
    if dev.type == "cpu":
        print(f"{'batched, one block of the whole batch':40s} {t_whole * 1e6 / n:9.1f} us/view "
              f"(blocks of {full_image_views.CPU_BLOCK}: {t_whole / best:.2f}x faster)")
    print(f"same views: max |diff| {(same - views.cpu()).abs().max().item() * 255:.4f} grey levels")


if __name__ == "__main__":
    main()
