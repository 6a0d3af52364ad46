"""Parameterised image augmentations that return their own parameters, batched on the device.

The paper's second setting (§5.1, after EquiMod) uses the augmentation parameters as actions:
random resized crop (scale 0.2-1, ratio 3/4-4/3, bicubic) then horizontal flip p 0.5; colour jitter p 0.8
(brightness 0.4, contrast 0.4, saturation 0.2, hue 0.1, the four in a random order per image) then
grayscale p 0.2 (drawn independently of the jitter); Gaussian blur sigma ~ U(0.1, 2) with p 1 on observed
views and 0.1 on the target view; solarize p 0 on observed and 0.2 on the target view. The action vector of
a view has 9 components: crop (i, j, h, w) in pixels, jitter factors (brightness, contrast, saturation, hue;
identity (1, 1, 1, 0) when the jitter is off) and the blur sigma (0 when off). Flip, grayscale and solarize
are not actions.

Every op works on a whole batch ``[N, 3, H, W]`` (floats in [0, 1]) with per-image parameters and draws
from an explicit ``torch.Generator`` on the images' device, so a batch's views are a function of its seed.
Each op equals torchvision's functional op applied to one image with the same parameters (tests), for any
image size (CIFAR 32 px, Tiny ImageNet 64 px, STL-10 96 px).

Why not kornia.augmentation: its ColorJitter draws ONE order of the four colour ops per batch (its
generator returns ``order`` of shape (4,)), where torchvision and the official code draw one per image;
its samplers draw from the global RNG rather than a passed generator (our views are a function of
(seed, epoch, index)); and its resized crop resamples by warping, which is not PIL's/torchvision's
antialiased bicubic. The ops here are short closed-form tensor code instead.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace

import torch
import torch.nn.functional as F

from seqjepa_core.data.sync import known_all_false

PARAM_NAMES = ("crop_i", "crop_j", "crop_h", "crop_w", "brightness", "contrast", "saturation", "hue", "blur_sigma")
GROUPS = {"crop": slice(0, 4), "jitter": slice(4, 8), "blur": slice(8, 9)}
# Which parameter groups each action kind conditions on; "none" still carries all 9 (the method
# decides not to use them, as 3DIEBench's "none" does).
ACTION_GROUPS = {"crop": ("crop",), "jitter": ("jitter",), "blur": ("blur",),
                 "crop+jitter+blur": ("crop", "jitter", "blur"), "none": ("crop", "jitter", "blur")}
ACTION_DIMS = {kind: sum(GROUPS[g].stop - GROUPS[g].start for g in groups) for kind, groups in ACTION_GROUPS.items()}
JITTER_IDENTITY = (1.0, 1.0, 1.0, 0.0)
GRAY_WEIGHTS = (0.2989, 0.587, 0.114)  # ITU-R 601-2 luma, as PIL and torchvision
SOLARIZE_THRESHOLD = 128 / 255         # PIL's threshold 128 on uint8 images


@dataclass(frozen=True)
class ViewAugment:
    """Distribution of one view's augmentation (defaults: the paper's observed views)."""

    scale: tuple[float, float] = (0.2, 1.0)
    ratio: tuple[float, float] = (3 / 4, 4 / 3)
    flip_p: float = 0.5
    jitter_p: float = 0.8
    brightness: float = 0.4
    contrast: float = 0.4
    saturation: float = 0.2
    hue: float = 0.1
    gray_p: float = 0.2
    blur_p: float = 1.0
    sigma: tuple[float, float] = (0.1, 2.0)
    solarize_p: float = 0.0


OBSERVED = ViewAugment()
TARGET = replace(OBSERVED, blur_p=0.1, solarize_p=0.2)  # the predicted view (official pred_trans)


def blur_kernel_size(img_size: int) -> int:
    """The official kernel size rule: 3 at 32 px, 7 at 64 px (odd, about a tenth of the image)."""
    return 2 * round((img_size - 10) / 20) + 1


@dataclass
class AugmentDraw:
    """Per-image parameters of one augmentation draw (all tensors of length N on the device)."""

    crop: torch.Tensor      # [N, 4] int64 (i, j, h, w)
    flip: torch.Tensor      # [N] bool
    jitter_on: torch.Tensor  # [N] bool
    factors: torch.Tensor   # [N, 4] float (brightness, contrast, saturation, hue); identity when off
    order: torch.Tensor     # [N, 4] int64, a permutation of the four colour ops per image
    gray: torch.Tensor      # [N] bool
    sigma: torch.Tensor     # [N] float; 0 = no blur
    solarize: torch.Tensor  # [N] bool

    def rows(self, index) -> "AugmentDraw":
        """The draw of the images ``index`` selects (a slice or index tensor)."""
        return AugmentDraw(*(getattr(self, f.name)[index] for f in fields(self)))

    def vector(self) -> torch.Tensor:
        """The 9 action components [N, 9] (``PARAM_NAMES``)."""
        return torch.cat([self.crop.to(self.factors.dtype), self.factors, self.sigma[:, None]], dim=1)


# --------------------------------------------------------------------------------------------- sampling

def _uniform(n: int, lo: float, hi: float, gen: torch.Generator, device) -> torch.Tensor:
    return lo + (hi - lo) * torch.rand(n, generator=gen, device=device)


def sample_crops(n: int, height: int, width: int, scale, ratio, gen: torch.Generator, device,
                 tries: int = 10) -> torch.Tensor:
    """torchvision's RandomResizedCrop.get_params for N images at once: up to 10 tries of (area, log-ratio),
    the first that fits wins, else the central crop at the nearest allowed ratio. Returns [N, 4] (i, j, h, w)."""
    area = height * width
    target = area * (scale[0] + (scale[1] - scale[0]) * torch.rand(n, tries, generator=gen, device=device, dtype=torch.float64))
    log_r = (math.log(ratio[0]) + (math.log(ratio[1]) - math.log(ratio[0]))
             * torch.rand(n, tries, generator=gen, device=device, dtype=torch.float64))
    aspect = torch.exp(log_r)
    w = torch.round(torch.sqrt(target * aspect)).long()  # round half to even, as Python's round
    h = torch.round(torch.sqrt(target / aspect)).long()
    fits = (w > 0) & (w <= width) & (h > 0) & (h <= height)
    first = torch.argmax(fits.int(), dim=1)  # first fitting try (0 when none fits: replaced below)
    any_fit = fits.any(dim=1)
    h = h.gather(1, first[:, None])[:, 0]
    w = w.gather(1, first[:, None])[:, 0]
    # fallback: the whole image cut to the nearest allowed aspect ratio, centred
    in_ratio = width / height
    if in_ratio < min(ratio):
        fw, fh = width, int(round(width / min(ratio)))
    elif in_ratio > max(ratio):
        fw, fh = int(round(height * max(ratio))), height
    else:
        fw, fh = width, height
    h, w = torch.where(any_fit, h, fh), torch.where(any_fit, w, fw)
    u = torch.rand(n, 2, generator=gen, device=device, dtype=torch.float64)
    i = torch.where(any_fit, (u[:, 0] * (height - h + 1)).long(), (height - fh) // 2)
    j = torch.where(any_fit, (u[:, 1] * (width - w + 1)).long(), (width - fw) // 2)
    return torch.stack([i, j, h, w], dim=1)


def sample_params(n: int, height: int, width: int, aug: ViewAugment, gen: torch.Generator,
                  device: torch.device | str) -> AugmentDraw:
    """Draw every parameter of N views from ``aug`` with ``gen`` (on ``device``)."""
    crop = sample_crops(n, height, width, aug.scale, aug.ratio, gen, device)
    coin = torch.rand(n, 5, generator=gen, device=device)
    flip, jitter_on, gray, blur_on, solarize = (coin[:, k] < p for k, p in enumerate(
        (aug.flip_p, aug.jitter_p, aug.gray_p, aug.blur_p, aug.solarize_p)))
    drawn = torch.stack([_uniform(n, max(0.0, 1 - aug.brightness), 1 + aug.brightness, gen, device),
                         _uniform(n, max(0.0, 1 - aug.contrast), 1 + aug.contrast, gen, device),
                         _uniform(n, max(0.0, 1 - aug.saturation), 1 + aug.saturation, gen, device),
                         _uniform(n, -aug.hue, aug.hue, gen, device)], dim=1)
    identity = torch.tensor(JITTER_IDENTITY, device=device).expand(n, 4)
    factors = torch.where(jitter_on[:, None], drawn, identity)
    order = torch.argsort(torch.rand(n, 4, generator=gen, device=device), dim=1)  # a uniform permutation each
    sigma = torch.where(blur_on, _uniform(n, *aug.sigma, gen, device), torch.zeros(n, device=device))
    return AugmentDraw(crop, flip, jitter_on, factors, order, gray, sigma, solarize)


# --------------------------------------------------------------------------------------------- geometry

def _bicubic(x: torch.Tensor, a: float = -0.5) -> torch.Tensor:
    """Keys' cubic convolution kernel with PIL's a = -0.5 (torchvision's antialiased bicubic uses the same)."""
    x = x.abs()
    near = ((a + 2) * x - (a + 3)) * x * x + 1
    far = (((x - 5) * x + 8) * x - 4) * a
    return torch.where(x < 1, near, torch.where(x < 2, far, torch.zeros_like(x)))


def resample_matrix(start: torch.Tensor, length: torch.Tensor, out_size: int, in_size: int) -> torch.Tensor:
    """[N, out, in] weights resampling the window [start, start+length) of each row to ``out_size`` pixels.

    PIL's resampling (``ImagingResample``), which torchvision's antialiased bicubic reproduces: output pixel k
    centred at (k + 0.5) * scale in the window, the kernel stretched by max(scale, 1) (antialiasing when
    shrinking), taps clipped to the window (a crop sees no pixel outside itself) and renormalised.
    """
    dtype = torch.float64
    scale = length.to(dtype) / out_size                      # [N]
    stretch = scale.clamp(min=1.0)
    support = 2.0 * stretch
    centre = (torch.arange(out_size, device=start.device, dtype=dtype)[None] + 0.5) * scale[:, None]  # [N, out]
    lo = torch.floor(centre - support[:, None] + 0.5).clamp(min=0).long()
    hi = torch.minimum(torch.floor(centre + support[:, None] + 0.5).long(), length[:, None])
    taps = int(math.ceil(2.0 * float(support.max()))) + 1
    x = lo[..., None] + torch.arange(taps, device=start.device)  # [N, out, taps], window coordinates
    valid = x < hi[..., None]
    w = _bicubic((x.to(dtype) - centre[..., None] + 0.5) / stretch[:, None, None]) * valid
    w = w / w.sum(-1, keepdim=True)
    index = (start[:, None, None] + x).clamp(max=in_size - 1)
    out = torch.zeros(start.shape[0], out_size, in_size, device=start.device, dtype=dtype)
    return out.scatter_add_(2, index, w)


def resized_crop(images: torch.Tensor, crop: torch.Tensor, size: int, flip: torch.Tensor | None = None) -> torch.Tensor:
    """Crop (i, j, h, w) of each image, resized to ``size`` x ``size`` (bicubic, antialiased), optionally
    mirrored; [N, C, H, W] -> [N, C, size, size], clamped to [0, 1] as the official uint8 pipeline is."""
    _, _, height, width = images.shape
    rows = resample_matrix(crop[:, 0], crop[:, 2], size, height).to(images.dtype)   # [N, size, H]
    cols = resample_matrix(crop[:, 1], crop[:, 3], size, width).to(images.dtype)    # [N, size, W]
    if flip is not None:
        cols = torch.where(flip[:, None, None], cols.flip(1), cols)
    out = rows[:, None] @ images @ cols.transpose(1, 2)[:, None]
    return out.clamp_(0.0, 1.0)


# --------------------------------------------------------------------------------------------- colour

def _per_image(f: torch.Tensor) -> torch.Tensor:
    return f.view(-1, 1, 1, 1)


def _blend(a: torch.Tensor, b: torch.Tensor, ratio: torch.Tensor) -> torch.Tensor:
    r = _per_image(ratio)
    return (r * a + (1 - r) * b).clamp_(0.0, 1.0)


def luma(images: torch.Tensor) -> torch.Tensor:
    """[N, 3, H, W] -> [N, 1, H, W] grey levels."""
    r, g, b = images.unbind(1)
    return (GRAY_WEIGHTS[0] * r + GRAY_WEIGHTS[1] * g + GRAY_WEIGHTS[2] * b).unsqueeze(1)


def adjust_brightness(images: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    return _blend(images, torch.zeros_like(images), f)


def adjust_contrast(images: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    """Blend with the image's mean grey level."""
    return _blend(images, luma(images).mean(dim=(1, 2, 3), keepdim=True), f)


def adjust_saturation(images: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    return _blend(images, luma(images), f)


def adjust_hue(images: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """Rotate the hue by ``shift`` turns (HSV hexcone, as torchvision's tensor op).

    Channel n of the result is v - chroma * clamp(min(k, 4 - k), 0, 1) with k = (n-th offset + 6 h') mod 6:
    torchvision's HSV round trip in closed form, with few full-size temporaries (the costliest colour op).
    """
    r, g, b = images.unbind(1)
    v = images.amax(1)
    chroma = v - images.amin(1)
    # 6 x hue: the sector of the maximum (red wins ties, then green) plus the position within it; a grey
    # pixel (chroma 0) is red's sector with numerator 0, so hue 0 as in torchvision
    is_r = v == r
    is_g = (v == g) & ~is_r
    h6 = torch.where(is_r, g - b, torch.where(is_g, b - r, r - g))
    h6.div_(torch.where(chroma == 0, torch.ones_like(chroma), chroma))
    h6.add_(torch.where(is_r, 0.0, torch.where(is_g, 2.0, 4.0)))
    h6.add_(6.0 * _per_image(shift)[:, 0])
    k = torch.tensor([5.0, 3.0, 1.0], device=images.device, dtype=images.dtype).view(1, 3, 1, 1) + h6[:, None]
    k = torch.remainder(k, 6.0)
    ramp = torch.minimum(k, k.neg().add_(4.0)).clamp_(0.0, 1.0)
    return ramp.mul_(chroma[:, None]).neg_().add_(v[:, None]).clamp_(0.0, 1.0)


COLOUR_OPS = (adjust_brightness, adjust_contrast, adjust_saturation, adjust_hue)  # torchvision's fn_idx order


def color_jitter(images: torch.Tensor, factors: torch.Tensor, order: torch.Tensor, on: torch.Tensor) -> torch.Tensor:
    """Each image's four colour ops in its own ``order``; images with ``on`` False are left as they are.

    One pass per (step, op) over the images that apply that op at that step: 4 ops' worth of work in all.
    """
    out = images.clone()
    for step in range(4):
        for op_id, op in enumerate(COLOUR_OPS):
            idx = torch.nonzero(on & (order[:, step] == op_id)).flatten()
            if idx.numel():
                out[idx] = op(out[idx], factors[idx, op_id])
    return out


def grayscale(images: torch.Tensor, on: torch.Tensor) -> torch.Tensor:
    if known_all_false(on):  # skip the full-size pass when no image turns grey (and so for solarize)
        return images
    return torch.where(on.view(-1, 1, 1, 1), luma(images).expand_as(images), images)


def solarize(images: torch.Tensor, on: torch.Tensor) -> torch.Tensor:
    if known_all_false(on):
        return images
    inverted = torch.where(images >= SOLARIZE_THRESHOLD, 1.0 - images, images)
    return torch.where(on.view(-1, 1, 1, 1), inverted, images)


def gaussian_blur(images: torch.Tensor, sigma: torch.Tensor, kernel_size: int) -> torch.Tensor:
    """Separable Gaussian blur with a per-image sigma (reflect padding, torchvision's kernel); sigma 0 = none."""
    n, c, h, w = images.shape
    half = (kernel_size - 1) / 2
    x = torch.linspace(-half, half, kernel_size, device=images.device, dtype=images.dtype)
    safe = torch.where(sigma > 0, sigma, torch.ones_like(sigma)).to(images.dtype)
    k = torch.exp(-0.5 * (x[None] / safe[:, None]) ** 2)
    k = k / k.sum(1, keepdim=True)                                        # [N, k]
    k = k.repeat_interleave(c, dim=0)                                      # one kernel per (image, channel)
    pad = kernel_size // 2
    flat = F.pad(images.reshape(1, n * c, h, w), (pad, pad, pad, pad), mode="reflect")
    flat = F.conv2d(flat, k.view(n * c, 1, 1, kernel_size), groups=n * c)
    flat = F.conv2d(flat, k.view(n * c, 1, kernel_size, 1), groups=n * c)
    return torch.where((sigma > 0).view(-1, 1, 1, 1), flat.view(n, c, h, w), images)


# --------------------------------------------------------------------------------------------- pipeline

def to_unit(images: torch.Tensor) -> torch.Tensor:
    """uint8 [N, 3, H, W] (or floats already in [0, 1]) -> float32 in [0, 1]."""
    return images.float().div_(255.0) if images.dtype == torch.uint8 else images.float()


def apply(images: torch.Tensor, draw: AugmentDraw, size: int | None = None) -> torch.Tensor:
    """The official order: crop + flip, colour jitter, grayscale, blur, solarize. Floats in [0, 1]."""
    size = size or images.shape[-1]
    x = resized_crop(images, draw.crop, size, draw.flip)
    x = color_jitter(x, draw.factors, draw.order, draw.jitter_on)
    x = grayscale(x, draw.gray)
    if not known_all_false(draw.sigma > 0):  # recipes without blur (SimCLR's full-image views) skip it
        x = gaussian_blur(x, draw.sigma, blur_kernel_size(size))
    return solarize(x, draw.solarize)


def augment(images: torch.Tensor, aug: ViewAugment, gen: torch.Generator,
            size: int | None = None) -> tuple[torch.Tensor, AugmentDraw]:
    """One augmented view of each image: (views [N, 3, size, size] in [0, 1], the draw)."""
    images = to_unit(images)
    draw = sample_params(images.shape[0], images.shape[-2], images.shape[-1], aug, gen, images.device)
    return apply(images, draw, size), draw


def repeat_views(images: torch.Tensor, num_views: int) -> torch.Tensor:
    """[B, ...] -> [B * V, ...]: image b at rows b * V .. b * V + V - 1."""
    return images.unsqueeze(1).expand(images.shape[0], num_views, *images.shape[1:]).flatten(0, 1)


def augment_views(images: torch.Tensor, num_views: int, gen: torch.Generator, observed: ViewAugment = OBSERVED,
                  target: ViewAugment = TARGET, size: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """``num_views`` views of each image, the last one drawn from ``target`` (the predicted view).

    Returns (views [B, V, 3, S, S] in [0, 1], parameters [B, V, 9]).
    """
    b = images.shape[0]
    obs, obs_draw = augment(repeat_views(images, num_views - 1), observed, gen, size)
    last, last_draw = augment(images, target, gen, size)
    views = torch.cat([obs.view(b, num_views - 1, *obs.shape[1:]), last[:, None]], dim=1)
    params = torch.cat([obs_draw.vector().view(b, num_views - 1, -1), last_draw.vector()[:, None]], dim=1)
    return views, params


# --------------------------------------------------------------------------------------------- actions

def select(params: torch.Tensor, kind: str) -> torch.Tensor:
    """The components an action kind uses, [..., 9] -> [..., ACTION_DIMS[kind]]."""
    if kind not in ACTION_GROUPS:
        raise ValueError(f"unknown action kind {kind!r}; expected one of {sorted(ACTION_GROUPS)}")
    return torch.cat([params[..., GROUPS[g]] for g in ACTION_GROUPS[kind]], dim=-1)


def sequence_actions(params: torch.Tensor, kind: str, normalise: bool = True) -> torch.Tensor:
    """Actions between consecutive views, [B, V, 9] -> [B, V-1, A].

    Official behaviour (default; the paper is silent): each component is L2-normalised over the V views of
    its sequence before differencing, so the action's scale depends on V. ``normalise=False`` gives the
    raw parameter differences. Observed tokens take actions[:, :M-1] (the last token's slot is 0) and the
    predictor actions[:, M-1] = a_M - a_{M-1}, as ``SequenceBatch`` defines.
    """
    p = select(params, kind)
    if normalise:
        p = F.normalize(p, p=2, dim=1)
    return p[:, 1:] - p[:, :-1]
