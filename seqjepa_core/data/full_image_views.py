"""SimCLR views of full images: the invariant reference of Table 3 (SimCLR on 96 x 96 STL-10 images).

The standard SimCLR augmentations (Chen et al. 2020) at the strength torchvision's SimCLR recipes use:
random resized crop (scale 0.08-1, ratio 3/4-4/3), horizontal flip p 0.5, colour jitter 0.4/0.4/0.4/0.1
with p 0.8 (the four ops in a random order per image), grayscale p 0.2; no blur, no solarize. The paper
gives no recipe for this baseline and the official code has no STL-10 SimCLR (its PLS entry point trains
seq-JEPA and Conv-JEPA only), so the crop is resized bicubically (antialiased), as every random resized
crop of the official augmentation pipelines is (torchvision's RandomResizedCrop defaults to bilinear).

The views are the project's batched augmentations (``seqjepa_core.data.augment``): every view of every
image has its own parameters, drawn from the batch's generator on the images' device, so a resumed epoch
sees the same views.
"""

from __future__ import annotations

import torch

from seqjepa_core.data import augment as A

CPU_BLOCK = 64  # views per block on the CPU: 1.5-2.3x faster than the whole batch (bench/bench_full_image_views.py)
SIMCLR = A.ViewAugment(scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3), flip_p=0.5, jitter_p=0.8, brightness=0.4,
                       contrast=0.4, saturation=0.4, hue=0.1, gray_p=0.2, blur_p=0.0, solarize_p=0.0)


def simclr_views(images: torch.Tensor, num_views: int,
                 generator: torch.Generator) -> tuple[torch.Tensor, A.AugmentDraw]:
    """uint8 images [B, 3, H, W] -> (views [B, V, 3, H, W] in [0, 1], the draw of the B * V views, row
    b * V + v for view v of image b); every view augmented independently."""
    b, v = images.shape[0], num_views
    flat = A.repeat_views(images, v)
    draw = A.sample_params(b * v, images.shape[-2], images.shape[-1], SIMCLR, generator, images.device)
    # drawn for the whole batch, applied in blocks on the CPU (cache-sized temporaries; see CPU_BLOCK)
    step = b * v if images.is_cuda else CPU_BLOCK
    views = torch.cat([A.apply(A.to_unit(flat[i:i + step]), draw.rows(slice(i, i + step)))
                       for i in range(0, b * v, step)])
    return views.view(b, v, *views.shape[1:]), draw
