"""Batched augmentation pipeline vs the official per-image PIL/torchvision loop, in the same run.

Both produce the same V views (crop + flip, colour jitter in each image's order, grayscale, blur, solarize,
ToTensor + Normalize) and the same sequence-normalised actions from the SAME parameters: the loop is handed
the batched draw's parameters, so it does not even pay for drawing them (conservative). It differs from the
batched views only by PIL's uint8 rounding between ops (printed). Default: CIFAR size (32 px), 4 views,
batch 256, one thread, CPU. ``--device cuda`` times the batched path on the GPU (the loop stays on the CPU,
as the official DataLoader workers are).

    python bench/bench_augment.py [--size 32] [--views 4] [--batch 256] [--repeats 5] [--device cpu]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
import torchvision.transforms.functional as TF
from PIL import Image
from torchvision.transforms import InterpolationMode

from seqjepa_core.data import augment as A
from seqjepa_core.data.cifar100 import MEAN, STD
from seqjepa_core.data.synthetic_images import render

JITTER = (TF.adjust_brightness, TF.adjust_contrast, TF.adjust_saturation, TF.adjust_hue)


def per_image_loop(images: np.ndarray, params: torch.Tensor, flags: dict, size: int, kind: str) -> tuple:
    """The official data path, one PIL image and one view at a time (EquiMod-style parameterised ops)."""
    b, v = params.shape[:2]
    k = A.blur_kernel_size(size)
    views = torch.empty(b, v, 3, size, size)
    for n in range(b):
        img = Image.fromarray(images[n])
        for s in range(v):
            p = params[n, s].tolist()
            x = TF.resized_crop(img, int(p[0]), int(p[1]), int(p[2]), int(p[3]), [size, size],
                                interpolation=InterpolationMode.BICUBIC)
            if flags["flip"][n][s]:
                x = TF.hflip(x)
            if flags["jitter_on"][n][s]:
                for op in flags["order"][n][s]:
                    x = JITTER[op](x, p[4 + op])
            if flags["gray"][n][s]:
                x = TF.rgb_to_grayscale(x, num_output_channels=3)
            if p[8] > 0:
                x = TF.gaussian_blur(x, [k, k], [p[8], p[8]])
            if flags["solarize"][n][s]:
                x = TF.solarize(x, 128)
            views[n, s] = TF.normalize(TF.to_tensor(x), MEAN, STD)
    sel = A.select(params, kind).numpy()
    actions = np.stack([np.diff(sel[n] / np.maximum(np.linalg.norm(sel[n], axis=0, keepdims=True), 1e-12), axis=0) for n in range(b)])
    return views, torch.from_numpy(actions)


def batched(images: torch.Tensor, views: int, gen: torch.Generator, kind: str, mean, std) -> tuple:
    out, params = A.augment_views(images, views, gen)
    out = (out - mean) / std
    return out, A.sequence_actions(params, kind), params


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=32)
    ap.add_argument("--views", type=int, default=4)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--kind", default="crop+jitter+blur")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    dev = torch.device(args.device)
    rng = np.random.default_rng(0)
    images = render(rng.integers(0, 10, args.batch), args.size, rng)            # uint8 [B, S, S, 3]
    images_t = torch.from_numpy(images).permute(0, 3, 1, 2).contiguous().to(dev)
    mean, std = (torch.tensor(c, device=dev).view(1, 1, 3, 1, 1) for c in (MEAN, STD))

    def sync():
        if dev.type == "cuda":
            torch.cuda.synchronize()

    # one draw whose parameters both paths use; the flags the 9-d vector does not carry come from the same
    # generator state (re-drawn per path below, identically seeded)
    gen = torch.Generator(device=dev).manual_seed(0)
    ref_views, ref_actions, params = batched(images_t, args.views, gen, args.kind, mean, std)
    flags = draw_flags(images_t, args.views, dev, params)
    # CPU time on the CPU (robust to other processes on a shared machine), wall time on a GPU
    clock = time.perf_counter if dev.type == "cuda" else time.process_time
    t_batched = []
    for _ in range(args.repeats):
        gen = torch.Generator(device=dev).manual_seed(0)
        sync()
        t0 = clock()
        batched(images_t, args.views, gen, args.kind, mean, std)
        sync()
        t_batched.append(clock() - t0)
    t0 = time.process_time()
    loop_views, loop_actions = per_image_loop(images, params.cpu(), flags, args.size, args.kind)
    t_loop = time.process_time() - t0
    diff = (loop_views - ref_views.cpu()).abs() * torch.tensor(STD).view(1, 1, 3, 1, 1) * 255  # grey levels
    n_views = args.batch * args.views
    best = min(t_batched)
    print(f"{args.batch} images x {args.views} views at {args.size} px, {args.threads} thread(s), batched on {dev}; "
          f"times are {'CPU' if dev.type == 'cpu' else 'loop: CPU, batched: wall'} time")
    print(f"per-image PIL/torchvision loop: {t_loop * 1e6 / args.batch:9.1f} us/image ({n_views / t_loop:8.0f} views/s)")
    print(f"batched (best of {args.repeats}):       {best * 1e6 / args.batch:9.1f} us/image ({n_views / best:8.0f} views/s)")
    print(f"speed-up per image: {t_loop / best:.2f}x")
    print(f"same views: mean |diff| {diff.mean():.3f} grey levels, 99.9th pct {diff.flatten().quantile(0.999):.2f} "
          f"(PIL rounds to uint8 after every op); same actions: max |diff| "
          f"{(loop_actions.float() - ref_actions.cpu()).abs().max():.2e}")


def draw_flags(images_t: torch.Tensor, views: int, dev: torch.device, params: torch.Tensor) -> dict:
    """The per-view flags the 9-d vector does not carry (flip, jitter on, order, gray, solarize): the same
    two ``augment`` calls ``augment_views`` makes, with the same seed, so the same draws."""
    b = images_t.shape[0]
    gen = torch.Generator(device=dev).manual_seed(0)
    _, obs = A.augment(A.repeat_views(images_t, views - 1), A.OBSERVED, gen)
    _, last = A.augment(images_t, A.TARGET, gen)
    redrawn = torch.cat([obs.vector().view(b, views - 1, -1), last.vector()[:, None]], 1)
    assert torch.equal(redrawn, params), "the flags must come from the draw that made the parameters"
    out = {}
    for key in ("flip", "jitter_on", "gray", "solarize", "order"):
        o, t = getattr(obs, key), getattr(last, key)
        out[key] = torch.cat([o.view(b, views - 1, *o.shape[1:]), t[:, None]], 1).cpu().tolist()
    return out


if __name__ == "__main__":
    main()
