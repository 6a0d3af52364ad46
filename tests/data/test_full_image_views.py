"""SimCLR views of full images (Table 3's invariant reference): each view equals torchvision's functional ops
applied to its image alone with the view's returned parameters, and the parameters follow the distributions
of torchvision's standard SimCLR transforms (Chen et al. 2020), written out here."""

import pytest
import torch
import torchvision.transforms.v2.functional as TF
from torchvision.transforms import InterpolationMode, RandomResizedCrop, v2

from seqjepa_core.data import augment as A
from seqjepa_core.data.full_image_views import SIMCLR, simclr_views
from tests.data.test_augment import N, close, rate  # 20,000 draws; a rate within 4 standard errors

SIZE = 96           # STL-10
TOL = 1e-4          # float32 round-off of the same closed forms (0.03 grey levels; measured up to 2.5e-5 over
                    # a chain of crop and four colour ops at 96 px, where each op alone agrees to 1e-5)
JITTER = (TF.adjust_brightness, TF.adjust_contrast, TF.adjust_saturation, TF.adjust_hue)
# torchvision's SimCLR recipe, the reference for the parameter distributions
REFERENCE = v2.Compose([v2.RandomResizedCrop(SIZE, scale=(0.08, 1.0), antialias=True),
                        v2.RandomHorizontalFlip(p=0.5),
                        v2.RandomApply([v2.ColorJitter(0.4, 0.4, 0.4, 0.1)], p=0.8),
                        v2.RandomGrayscale(p=0.2)])


def images(n=3, seed=0):
    return torch.randint(0, 256, (n, 3, SIZE, SIZE), generator=torch.Generator().manual_seed(seed), dtype=torch.uint8)


def per_image_view(img: torch.Tensor, d: A.AugmentDraw, k: int) -> torch.Tensor:
    """View k of a draw made one image at a time by torchvision's functional ops (bicubic, antialiased crop)."""
    x = TF.resized_crop(img.float() / 255, *d.crop[k].tolist(), [SIZE, SIZE],
                        interpolation=InterpolationMode.BICUBIC, antialias=True).clamp(0, 1)
    x = TF.horizontal_flip(x) if d.flip[k] else x
    if d.jitter_on[k]:
        for op_id in d.order[k].tolist():
            x = JITTER[op_id](x, d.factors[k, op_id].item())
    return TF.rgb_to_grayscale(x, num_output_channels=3) if d.gray[k] else x


def test_views_equal_torchvisions_ops_per_image_with_the_returned_parameters():
    x = images()
    state = torch.random.get_rng_state()
    views, d = simclr_views(x, 4, torch.Generator().manual_seed(7))
    assert torch.equal(torch.random.get_rng_state(), state)          # the global RNG is left as it was
    assert views.shape == (3, 4, 3, SIZE, SIZE) and views.dtype == torch.float32
    for b in range(3):
        for v in range(4):
            torch.testing.assert_close(views[b, v], per_image_view(x[b], d, 4 * b + v), atol=TOL, rtol=0)
    assert not torch.equal(views[:, 0], views[:, 1])                 # every view drawn on its own
    assert torch.equal(views, simclr_views(x, 4, torch.Generator().manual_seed(7))[0])  # a function of the seed
    assert not torch.equal(views, simclr_views(x, 4, torch.Generator().manual_seed(8))[0])


def test_views_cover_every_op_of_the_recipe():
    """Enough views that the per-image check above meets flips, jitter in several orders, grayscale and
    views without jitter (48 views; each op's chance of never occurring is below 1e-4)."""
    _, d = simclr_views(images(12), 4, torch.Generator().manual_seed(7))
    assert d.flip.any() and (~d.flip).any() and d.gray.any() and (~d.jitter_on).any()
    assert len({tuple(o) for o in d.order[d.jitter_on].tolist()}) > 3
    assert (d.crop[:, 2:] < SIZE).any()                               # real crops, not only the whole image


# --------------------------------------------------------------------------------------------- distributions

def test_parameters_follow_torchvisions_simclr_distributions():
    crop_t, flip_t, jitter_t, gray_t = REFERENCE.transforms
    colour = jitter_t.transforms[0]
    # simclr_views draws its parameters as this call does (same generator, same order)
    x = images(2)
    _, small = simclr_views(x, 3, torch.Generator().manual_seed(3))
    again = A.sample_params(6, SIZE, SIZE, SIMCLR, torch.Generator().manual_seed(3), "cpu")
    assert all(torch.equal(getattr(small, f), getattr(again, f)) for f in ("crop", "flip", "jitter_on", "factors",
                                                                           "order", "gray", "sigma", "solarize"))
    d = A.sample_params(N, SIZE, SIZE, SIMCLR, torch.Generator().manual_seed(5), "cpu")
    i, j, h, w = d.crop.T
    area, ratio = (h * w).float() / SIZE ** 2, w.float() / h.float()
    lo_s, hi_s = crop_t.scale
    lo_r, hi_r = crop_t.ratio
    # rounding to whole pixels moves area and ratio a little past the continuous bounds
    assert area.min() >= lo_s * 0.9 and area.max() <= hi_s and ratio.min() >= lo_r * 0.9 and ratio.max() <= hi_r / 0.9
    assert area.min() < lo_s * 1.2 and area.max() > 0.95                # the whole range is used
    assert (i >= 0).all() and (j >= 0).all() and (i + h <= SIZE).all() and (j + w <= SIZE).all()
    torch.manual_seed(0)
    tv = torch.tensor([RandomResizedCrop.get_params(torch.zeros(3, SIZE, SIZE), list(crop_t.scale), list(crop_t.ratio))
                       for _ in range(4000)]).float()
    assert area.mean().item() == pytest.approx((tv[:, 2] * tv[:, 3] / SIZE ** 2).mean().item(), abs=0.015)
    assert ratio.mean().item() == pytest.approx((tv[:, 3] / tv[:, 2]).mean().item(), abs=0.015)
    assert (i.float().mean() / (SIZE - h.float()).mean()).item() == pytest.approx(0.5, abs=0.02)  # uniform placement
    assert close(rate(d.flip), flip_t.p) and close(rate(d.jitter_on), jitter_t.p) and close(rate(d.gray), gray_t.p)
    assert close(rate(d.gray & d.jitter_on), jitter_t.p * gray_t.p)  # drawn independently, as torchvision does
    on, off = d.factors[d.jitter_on], d.factors[~d.jitter_on]
    assert (off == torch.tensor(A.JITTER_IDENTITY)).all()
    for k, (lo, hi) in enumerate([colour.brightness, colour.contrast, colour.saturation, colour.hue]):
        assert on[:, k].min() >= lo and on[:, k].max() <= hi
        assert on[:, k].min() < lo + 0.01 * (hi - lo) and on[:, k].max() > hi - 0.01 * (hi - lo)
        assert on[:, k].mean().item() == pytest.approx((lo + hi) / 2, abs=0.01 * (hi - lo) + 1e-3)
    assert not (d.sigma > 0).any() and not d.solarize.any()        # the recipe has no blur, no solarize
    perms = torch.unique(d.order, dim=0, return_counts=True)[1]     # every order of the four ops, uniformly
    assert len(perms) == 24 and perms.min() > N / 24 * 0.8


def test_views_do_not_depend_on_the_cpu_block_size(monkeypatch):
    from seqjepa_core.data import full_image_views
    x = images(5)
    whole, d = simclr_views(x, 3, torch.Generator().manual_seed(2))
    monkeypatch.setattr(full_image_views, "CPU_BLOCK", 4)   # 15 views in blocks of 4, 4, 4, 3
    blocked, d4 = simclr_views(x, 3, torch.Generator().manual_seed(2))
    assert torch.equal(d.crop, d4.crop) and torch.equal(d.order, d4.order)
    torch.testing.assert_close(blocked, whole, atol=1e-6, rtol=0)
