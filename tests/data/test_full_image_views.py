"""SimCLR views of full images (Table 3's invariant reference) against torchvision's SimCLR pipeline written
out here with the standard parameters (Chen et al. 2020), replayed one image at a time from the same seed."""

import torch
from torchvision.transforms import v2

from seqjepa_core.data.full_image_views import simclr_views


def reference_views(images, num_views, seed):
    size = images.shape[-1]
    transform = v2.Compose([v2.RandomResizedCrop(size, scale=(0.08, 1.0), antialias=True),
                            v2.RandomHorizontalFlip(p=0.5),
                            v2.RandomApply([v2.ColorJitter(0.4, 0.4, 0.4, 0.1)], p=0.8),
                            v2.RandomGrayscale(p=0.2)])
    torch.manual_seed(seed)
    return torch.stack([torch.stack([transform(img) for img in images]) for _ in range(num_views)], dim=1)


def test_views_are_torchvisions_simclr_augmentations_drawn_from_the_batch_generator():
    images = torch.randint(0, 256, (3, 3, 24, 24), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)
    state = torch.random.get_rng_state()
    views = simclr_views(images, 4, torch.Generator().manual_seed(7))
    assert torch.equal(torch.random.get_rng_state(), state)          # the global RNG is left as it was
    assert views.shape == (3, 4, 3, 24, 24) and views.dtype == torch.uint8
    seed = int(torch.randint(0, 2**62, (1,), generator=torch.Generator().manual_seed(7)).item())
    assert torch.equal(views, reference_views(images, 4, seed))
    assert not torch.equal(views[:, 0], views[:, 1])                 # every view drawn on its own
    assert not torch.equal(views, simclr_views(images, 4, torch.Generator().manual_seed(8)))
