"""SimCLR views of full images: the invariant reference of Table 3 (SimCLR on 96 x 96 STL-10 images).

torchvision's standard SimCLR augmentations (Chen et al. 2020; random resized crop, flip, colour jitter
0.4/0.4/0.4/0.1 with p 0.8, grayscale p 0.2) on uint8 tensors on the device. torchvision draws one set of
parameters per call, so the images go through it one at a time; the draws come from a generator seeded
by the batch's, so a resumed epoch sees the same views.
"""

from __future__ import annotations

import torch


def simclr_transform(size: int):
    from torchvision.transforms import v2
    return v2.Compose([
        v2.RandomResizedCrop(size, scale=(0.08, 1.0), antialias=True),
        v2.RandomHorizontalFlip(),
        v2.RandomApply([v2.ColorJitter(0.4, 0.4, 0.4, 0.1)], p=0.8),
        v2.RandomGrayscale(p=0.2),
    ])


def simclr_views(images: torch.Tensor, num_views: int, generator: torch.Generator) -> torch.Tensor:
    """uint8 images [B, 3, H, W] -> uint8 views [B, V, 3, H, W], every view augmented independently."""
    transform = simclr_transform(images.shape[-1])
    seed = int(torch.randint(0, 2**62, (1,), generator=generator, device=generator.device).item())
    with torch.random.fork_rng(devices=[]):  # torchvision draws from the global RNG
        torch.manual_seed(seed)
        views = [torch.stack([transform(img) for img in images]) for _ in range(num_views)]
    return torch.stack(views, dim=1)
