"""The batched saccade sampler against a straightforward per-image loop fed the same random numbers."""

import numpy as np
import pytest
import torch

from seqjepa_core.data import fixations
from seqjepa_core.data.fixations import (FixationSampler, bilinear_patches, extract_patches, inverse_cdf,
                                        patch_grid, sample_fixations)
from seqjepa_core.data.full_image_views import simclr_views
from seqjepa_core.data.saccade_options import SaccadeOptions


def loop_fixations(saliency, u, ior, radius):
    """One image at a time, one fixation at a time: the inverse-CDF pick of each uniform."""
    out = []
    h, w = saliency.shape[1:]
    rr, cc = np.mgrid[0:h, 0:w]
    for sal, us in zip(saliency, u):
        allowed = np.ones((h, w), bool)
        picks = []
        for x in us:
            if not allowed.any():
                allowed[:] = True
            p = sal * allowed
            if p.sum() <= 0:
                p = allowed.astype(np.float64)
            # inverse CDF by rows, then within the row (the sampler's two-level search)
            row_cdf = np.cumsum(p.sum(1))
            v = x * row_cdf[-1]
            r = int(np.searchsorted(row_cdf, v, side="right"))
            col_cdf = np.cumsum(p[r])
            rest = min(v - (row_cdf[r - 1] if r else 0.0), col_cdf[-1] * (1 - 2.0 ** -40))
            c = int(np.searchsorted(col_cdf, rest, side="right"))
            assert p[r, c] > 0
            picks.append((r, c))
            if ior == "circle":
                allowed &= (rr - r) ** 2 + (cc - c) ** 2 > radius ** 2
            elif ior == "square":
                allowed &= (np.abs(rr - r) > radius) | (np.abs(cc - c) > radius)
        out.append(picks)
    return np.array(out)


def loop_patch(image, r, c, size, convention):
    """Pixel by pixel bilinear sampling, zero outside the image."""
    ch, h, w = image.shape
    out = np.zeros((ch, size, size))
    for a in range(size):
        for b in range(size):
            if convention == "paper":
                y, x = r - size // 2 + a, c - size // 2 + b
            else:  # the released code: transposed centre, 32/31 px spacing
                y, x = c - size / 2 - 0.5 + a * size / (size - 1), r - size / 2 - 0.5 + b * size / (size - 1)
            y0, x0 = int(np.floor(y)), int(np.floor(x))
            for yy, wy in ((y0, 1 - (y - y0)), (y0 + 1, y - y0)):
                for xx, wx in ((x0, 1 - (x - x0)), (x0 + 1, x - x0)):
                    if 0 <= yy < h and 0 <= xx < w:
                        out[:, a, b] += wy * wx * image[:, yy, xx]
    return out


def random_maps(b, size, seed):
    g = np.random.default_rng(seed)
    maps = g.random((b, size, size)) ** 8          # peaky, with many near-zero pixels
    maps[0, :, : size // 2] = 0                    # a map with zero-mass regions
    return maps


@pytest.fixture(params=["cpu-path", "accelerator-path"])
def sampler_path(request, monkeypatch):
    """Run each sampler test twice: as on the CPU (rare cases only when they occur) and as on an accelerator
    (the branch-free rare-case code at every fixation)."""
    if request.param == "accelerator-path":
        monkeypatch.setattr(fixations, "known_all_false", lambda mask: False)
    return request.param


@pytest.mark.parametrize("ior", ["circle", "square", "none"])
def test_batched_fixations_equal_the_per_image_loop(ior, sampler_path):
    maps = random_maps(6, 40, seed=1)
    u = torch.rand(6, 7, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    got = sample_fixations(torch.from_numpy(maps).float(), u, 40, 40, ior, radius=6)
    ref = loop_fixations(maps.astype(np.float32).astype(np.float64), u.numpy(), ior, 6)
    assert np.array_equal(got.numpy(), ref)
    uni = sample_fixations(None, u, 40, 40, ior, radius=6)
    assert np.array_equal(uni.numpy(), loop_fixations(np.ones((6, 40, 40)), u.numpy(), ior, 6))


@pytest.mark.parametrize("ior", ["circle", "square"])
@pytest.mark.parametrize("size,radius,k", [(8, 3, 12), (16, 2, 4)])   # images inhibited all over, or never
def test_maps_out_of_mass_and_fully_inhibited_images_equal_the_per_image_loop(ior, size, radius, k, sampler_path):
    """The rare cases the sampler handles without a branch: a map whose mass is all inhibited (uniform over the
    allowed pixels), an image inhibited all over (released: its map again), a map without any mass."""
    g = np.random.default_rng(3)
    maps = np.zeros((5, size, size))
    maps[1, 0, 0] = 1.0                                        # one pixel of mass
    maps[2, :2, :2] = g.random((2, 2))                         # mass in one corner
    maps[3] = g.random((size, size)) ** 8
    maps[4, -1] = 1.0                                          # mass along the last row
    u = torch.rand(5, k, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    sal = torch.from_numpy(maps.copy())                        # float64: the sampler must not write into it
    got = sample_fixations(sal, u, size, size, ior, radius=radius)
    assert np.array_equal(got.numpy(), loop_fixations(maps, u.numpy(), ior, radius))
    assert np.array_equal(sal.numpy(), maps)


@pytest.mark.parametrize("convention", ["paper", "official"])
def test_batched_patches_equal_the_per_image_loop(convention):
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (2, 3, 24, 24), generator=g, dtype=torch.uint8)
    centres = torch.tensor([[[0, 0], [23, 5], [12, 12]], [[3, 20], [23, 23], [7, 1]]])
    got = bilinear_patches(images.float(), *patch_grid(centres, 8, convention))
    for i in range(2):
        for k in range(3):
            r, c = centres[i, k].tolist()
            ref = loop_patch(images[i].double().numpy(), r, c, 8, convention)
            np.testing.assert_allclose(got[i, k].numpy(), ref, atol=2e-3, rtol=0)
    # the official patches are then truncated to whole grey levels (its ToPILImage round trip)
    patches = extract_patches(images, centres, 8, convention)
    assert torch.equal(patches, got.floor() if convention == "official" else got)


def test_integer_position_patch_is_the_plain_crop_with_zero_padding(sampler_path):
    images = torch.randint(0, 256, (1, 3, 96, 96), generator=torch.Generator().manual_seed(3), dtype=torch.uint8)
    for r, c in [(50, 40), (0, 0), (95, 10), (17, 88)]:
        patch = extract_patches(images, torch.tensor([[[r, c]]]), 32)[0, 0]
        padded = torch.nn.functional.pad(images[0].float(), (16, 16, 16, 16))
        crop = padded[:, r:r + 32, c:c + 32]   # rows r-16 .. r+15 of the image
        assert torch.equal(patch, crop)


@pytest.mark.parametrize("shape", ["circle", "square"])
def test_inhibition_of_return_never_refixates_the_inhibited_area(shape):
    # all saliency in one corner blob: without IoR the fixations would pile up there
    maps = torch.zeros(32, 96, 96)
    maps[:, 10:30, 10:30] = 1
    u = torch.rand(32, 9, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    fx = sample_fixations(maps, u, 96, 96, shape, radius=16).float()
    d = fx[:, :, None, :] - fx[:, None, :, :]                      # [B, K, K, 2]
    dist = d.norm(dim=-1) if shape == "circle" else d.abs().amax(-1)
    earlier = torch.tril(torch.ones(9, 9, dtype=torch.bool), diagonal=-1)
    assert (dist[:, earlier] > 16).all()
    first = fx[:, 0]
    assert ((first >= 10) & (first < 30)).all()                     # the first one follows the saliency


def test_sampler_batch_actions_describe_the_fixations():
    opts = SaccadeOptions(patch_size=16, ior_radius=8)
    sampler = FixationSampler(opts, image_size=96, mean=(0.5,) * 3, std=(0.25,) * 3)
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (4, 3, 96, 96), generator=g, dtype=torch.uint8)
    maps = torch.rand(4, 96, 96, generator=g)
    b = sampler.batch(images, maps, torch.arange(4), 5, torch.Generator().manual_seed(7))
    assert b.views.shape == (4, 5, 3, 16, 16) and b.actions.shape == (4, 4, 2)
    torch.testing.assert_close(b.actions, b.latents[:, 1:] - b.latents[:, :-1])
    u = torch.rand(4, 5, generator=torch.Generator().manual_seed(7), dtype=torch.float64)
    centres = sample_fixations(maps, u, 96, 96, "circle", 8)
    torch.testing.assert_close(b.latents, centres.float() / 96)
    expected = (extract_patches(images, centres, 16) / 255 - 0.5) / 0.25
    torch.testing.assert_close(b.views, expected)


@pytest.mark.parametrize("u", [0.0, 1 - 2.0 ** -53])
def test_inverse_cdf_never_picks_a_zero_weight_pixel_at_either_end_of_the_unit_interval(u):
    """u = 0 must skip the zero rows before the first mass; u just below 1 must not be rounded past the last
    pixel with mass (summing a row's pixels in another order than its cumulative sum rounds differently)."""
    g = torch.Generator().manual_seed(0)
    p = torch.rand(2048, 8, 16, generator=g, dtype=torch.float64)
    p *= (torch.rand(2048, 8, 1, generator=g) < 0.6) * (torch.rand(2048, 1, 16, generator=g) < 0.6)
    p[:, [0, -1]] = 0
    p[:, :, [0, -1]] = 0
    p[:, 3, 5] += 1e-3                                       # every map has mass
    pick = inverse_cdf(p, torch.full((2048,), u, dtype=torch.float64))
    assert (p[torch.arange(2048), pick[:, 0], pick[:, 1]] > 0).all()


def test_sampler_with_augmentation_views_gives_normalised_simclr_views_and_no_saccades():
    """``views: augmentations`` (Table 3's invariant reference): SimCLR views of the full image, normalised
    like the patches; no fixations, so every position and action is zero."""
    sampler = FixationSampler(SaccadeOptions(views="augmentations"), image_size=32, mean=(0.5,) * 3,
                              std=(0.25,) * 3)
    images = torch.randint(0, 256, (3, 3, 32, 32), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)
    b = sampler.batch(images, torch.rand(3, 32, 32), torch.arange(3), 4, torch.Generator().manual_seed(7))
    expected = (simclr_views(images, 4, torch.Generator().manual_seed(7))[0] - 0.5) / 0.25
    torch.testing.assert_close(b.views, expected)
    assert b.actions.shape == (3, 3, 2) and not b.actions.any()
    assert b.latents.shape == (3, 4, 2) and not b.latents.any() and torch.equal(b.labels, torch.arange(3))
