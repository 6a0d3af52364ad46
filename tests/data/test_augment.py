"""Batched augmentations == torchvision's functional ops per image with the returned parameters; the drawn
parameters follow the configured distributions; actions follow the official normalisation."""

import math

import pytest
import torch
import torchvision.transforms.v2.functional as TF
from torchvision.transforms import InterpolationMode, RandomResizedCrop

from seqjepa_core.data import augment as A

TOL = 1e-5  # float32 round-off; the ops are the same closed forms


def images(n=24, size=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    # smooth colourful images plus noise: hue, contrast and blur all have something to act on
    yy, xx = torch.meshgrid(torch.linspace(0, 1, size), torch.linspace(0, 1, size), indexing="ij")
    phase = torch.rand(n, 3, 1, 1, generator=g) * 6.28
    base = 0.5 + 0.4 * torch.sin(6 * xx + 4 * yy + phase)
    return (base + 0.1 * torch.rand(n, 3, size, size, generator=g)).clamp(0, 1)


def draw(n, size=32, aug=A.OBSERVED, seed=1):
    return A.sample_params(n, size, size, aug, torch.Generator().manual_seed(seed), "cpu")


@pytest.mark.parametrize("size", [32, 64])
def test_resized_crop_and_flip_equal_torchvision_bicubic_antialiased(size):
    x, d = images(16, size), draw(16, size)
    out = A.resized_crop(x, d.crop, size, d.flip)
    for n in range(16):
        i, j, h, w = d.crop[n].tolist()
        ref = TF.resized_crop(x[n], i, j, h, w, [size, size], interpolation=InterpolationMode.BICUBIC,
                              antialias=True).clamp(0, 1)
        if d.flip[n]:
            ref = TF.horizontal_flip(ref)
        torch.testing.assert_close(out[n], ref, atol=TOL, rtol=0)


def test_resized_crop_shrinking_antialiases_like_torchvision():
    """A 96 px image to 32 px patches (STL-10 use): the kernel stretches with the scale."""
    x = images(6, 96)
    crop = torch.tensor([[0, 0, 96, 96], [10, 5, 60, 80], [3, 3, 33, 33]] * 2)
    out = A.resized_crop(x, crop, 32)
    for n in range(6):
        ref = TF.resized_crop(x[n], *crop[n].tolist(), [32, 32], interpolation=InterpolationMode.BICUBIC,
                              antialias=True).clamp(0, 1)
        torch.testing.assert_close(out[n], ref, atol=TOL, rtol=0)


@pytest.mark.parametrize("k,op,ref", [(0, A.adjust_brightness, TF.adjust_brightness),
                                      (1, A.adjust_contrast, TF.adjust_contrast),
                                      (2, A.adjust_saturation, TF.adjust_saturation),
                                      (3, A.adjust_hue, TF.adjust_hue)])
def test_colour_ops_equal_torchvision(k, op, ref):
    x, d = images(), draw(24)
    out = op(x, d.factors[:, k])
    for n in range(24):
        torch.testing.assert_close(out[n], ref(x[n], d.factors[n, k].item()), atol=TOL, rtol=0)


def test_colour_jitter_applies_each_images_own_order_then_grayscale():
    x, d = images(), draw(24)
    out = A.grayscale(A.color_jitter(x, d.factors, d.order, d.jitter_on), d.gray)
    fns = (TF.adjust_brightness, TF.adjust_contrast, TF.adjust_saturation, TF.adjust_hue)
    assert len({tuple(o) for o in d.order.tolist()}) > 3  # orders really differ across the batch
    for n in range(24):
        ref = x[n]
        if d.jitter_on[n]:
            for op_id in d.order[n].tolist():
                ref = fns[op_id](ref, d.factors[n, op_id].item())
        if d.gray[n]:
            ref = TF.rgb_to_grayscale(ref, num_output_channels=3)
        torch.testing.assert_close(out[n], ref, atol=TOL, rtol=0)


@pytest.mark.parametrize("size", [32, 64])
def test_blur_and_solarize_equal_torchvision(size):
    x, d = images(12, size), draw(12, size, A.TARGET)
    k = A.blur_kernel_size(size)
    assert k == {32: 3, 64: 7}[size]
    sigma = torch.where(torch.arange(12) % 3 == 0, torch.zeros(12), 0.1 + 1.9 * torch.rand(12))
    out = A.gaussian_blur(x, sigma, k)
    sol = A.solarize(x, torch.arange(12) % 2 == 0)
    for n in range(12):
        ref = x[n] if sigma[n] == 0 else TF.gaussian_blur(x[n], [k, k], [sigma[n].item()] * 2)
        torch.testing.assert_close(out[n], ref, atol=TOL, rtol=0)
        torch.testing.assert_close(sol[n], TF.solarize(x[n], 128 / 255) if n % 2 == 0 else x[n])


def test_whole_pipeline_equals_torchvision_chain_with_returned_parameters():
    x8 = (images(10) * 255).round().to(torch.uint8)
    views, d = A.augment(x8, A.TARGET, torch.Generator().manual_seed(3))
    fns = (TF.adjust_brightness, TF.adjust_contrast, TF.adjust_saturation, TF.adjust_hue)
    for n in range(10):
        ref = TF.resized_crop(x8[n].float() / 255, *d.crop[n].tolist(), [32, 32],
                              interpolation=InterpolationMode.BICUBIC, antialias=True).clamp(0, 1)
        ref = TF.horizontal_flip(ref) if d.flip[n] else ref
        if d.jitter_on[n]:
            for op_id in d.order[n].tolist():
                ref = fns[op_id](ref, d.factors[n, op_id].item())
        ref = TF.rgb_to_grayscale(ref, num_output_channels=3) if d.gray[n] else ref
        ref = TF.gaussian_blur(ref, [3, 3], [d.sigma[n].item()] * 2) if d.sigma[n] > 0 else ref
        ref = TF.solarize(ref, 128 / 255) if d.solarize[n] else ref
        torch.testing.assert_close(views[n], ref, atol=TOL, rtol=0)


# --------------------------------------------------------------------------------------------- distributions

N = 20000


def rate(mask: torch.Tensor) -> float:
    return mask.float().mean().item()


def close(p_hat: float, p: float) -> bool:
    return abs(p_hat - p) <= 4 * math.sqrt(max(p * (1 - p), 1e-12) / N) + 1e-12


def test_drawn_parameters_follow_the_configured_distributions():
    d = draw(N, 32, A.OBSERVED, seed=5)
    i, j, h, w = d.crop.T
    area, ratio = (h * w).float() / 32 ** 2, w.float() / h.float()
    # rounding to whole pixels moves area and ratio a little past the continuous bounds
    assert area.min() >= 0.2 * 0.8 and area.max() <= 1.0 and ratio.min() >= 0.75 * 0.8 and ratio.max() <= 4 / 3 / 0.8
    assert (i >= 0).all() and (j >= 0).all() and (i + h <= 32).all() and (j + w <= 32).all()
    # same distribution as torchvision's own sampler (rejection of boxes that do not fit biases it below 0.6)
    torch.manual_seed(0)
    tv = torch.tensor([RandomResizedCrop.get_params(torch.zeros(3, 32, 32), [0.2, 1.0], [3 / 4, 4 / 3])
                       for _ in range(4000)]).float()
    assert area.mean().item() == pytest.approx((tv[:, 2] * tv[:, 3] / 32 ** 2).mean().item(), abs=0.015)
    assert ratio.mean().item() == pytest.approx((tv[:, 3] / tv[:, 2]).mean().item(), abs=0.015)
    assert close(rate(d.flip), 0.5) and close(rate(d.jitter_on), 0.8) and close(rate(d.gray), 0.2)
    # grayscale drawn independently of the jitter
    assert close(rate(d.gray & d.jitter_on), 0.16)
    on, off = d.factors[d.jitter_on], d.factors[~d.jitter_on]
    assert (off == torch.tensor(A.JITTER_IDENTITY)).all()
    for k, (lo, hi) in enumerate([(0.6, 1.4), (0.6, 1.4), (0.8, 1.2), (-0.1, 0.1)]):
        assert on[:, k].min() >= lo and on[:, k].max() <= hi
        assert on[:, k].mean().item() == pytest.approx((lo + hi) / 2, abs=0.01)
    assert ((d.sigma >= 0.1) & (d.sigma <= 2.0)).all()  # blur p 1 on observed views
    assert not d.solarize.any()
    # every permutation of the four colour ops, uniformly
    perms = torch.unique(d.order, dim=0, return_counts=True)[1]
    assert len(perms) == 24 and perms.min() > N / 24 * 0.8


def test_target_view_uses_the_target_probabilities():
    x8 = torch.zeros(N // 4, 3, 32, 32, dtype=torch.uint8)
    _, params = A.augment_views(x8, 4, torch.Generator().manual_seed(7))
    sigma = params[..., 8]
    assert (sigma[:, :-1] > 0).all()                  # observed: blur p 1
    assert close(rate(sigma[:, -1] > 0) * 1.0, 0.1)  # target: blur p 0.1 (N/4 draws: wider tolerance)
    d = draw(N, 32, A.TARGET, seed=9)
    assert close(rate(d.solarize), 0.2) and close(rate(d.sigma > 0), 0.1)


def test_crop_falls_back_to_the_central_crop_when_no_try_fits():
    d = A.sample_params(50, 32, 32, A.ViewAugment(scale=(2.0, 3.0)), torch.Generator().manual_seed(0), "cpu")
    assert (d.crop == torch.tensor([0, 0, 32, 32])).all()


# --------------------------------------------------------------------------------------------- actions

def test_sequence_actions_normalise_each_component_over_the_views_then_difference():
    params = torch.rand(5, 4, 9, dtype=torch.float64) * 10
    got = A.sequence_actions(params, "crop+jitter+blur")
    for b in range(5):
        for c in range(9):
            col = params[b, :, c]
            unit = col / math.sqrt(sum(v * v for v in col.tolist()))
            for v in range(3):
                assert got[b, v, c].item() == pytest.approx((unit[v + 1] - unit[v]).item())
    torch.testing.assert_close(A.sequence_actions(params, "blur", normalise=False), params[:, 1:, 8:] - params[:, :-1, 8:])
    assert A.sequence_actions(params, "jitter").shape == (5, 3, 4)
    with pytest.raises(ValueError, match="unknown action kind 'rot'"):
        A.select(params, "rot")
