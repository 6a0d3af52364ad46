"""Batched saccades (paper §5.1): fixations from saliency maps with inhibition of return, foveal patches.

Everything runs on whole batches on the device (the official code loops over images on the CPU with a PIL
round trip per patch). Random numbers are drawn up front, one uniform per fixation, and each fixation is
the inverse-CDF pick of that uniform under the image's current map, so the result does not depend on how
the batch is split; ``tests/data/test_fixations.py`` replays the same numbers through a per-image loop.
"""

from __future__ import annotations

import torch

from seqjepa_core.data.batch import SequenceBatch
from seqjepa_core.data.saccade_options import SaccadeOptions
from seqjepa_core.data.sync import known_all_false


def inhibit(maps: tuple[torch.Tensor, ...], centres: torch.Tensor, radius: int, shape: str) -> None:
    """Zero, in place, the pixels inhibition of return blocks around ``centres`` [B, 2] (row, col) in each of
    ``maps`` [B, H, W]: one scatter of zeros over the blocked offsets, not a pass over the whole map.

    ``circle`` (paper): distance <= radius; ``square`` (official code): |Δrow| <= radius and |Δcol| <= radius.
    """
    if shape not in ("circle", "square"):
        raise ValueError(f"unknown inhibition-of-return shape {shape!r}; valid: ['circle', 'square']")
    b, height, width = maps[0].shape
    span = torch.arange(-radius, radius + 1, device=centres.device)
    dr, dc = (d.flatten() for d in torch.meshgrid(span, span, indexing="ij"))
    if shape == "circle":
        inside = dr * dr + dc * dc <= radius * radius
        dr, dc = dr[inside], dc[inside]
    # An offset past the image edge is clamped onto the edge: closer to the centre (which is inside the image)
    # on each axis, so that pixel is blocked too; zeroing it again changes nothing.
    rows = (centres[:, 0:1] + dr).clamp_(0, height - 1)                      # [B, blocked offsets]
    cols = (centres[:, 1:2] + dc).clamp_(0, width - 1)
    index = rows * width + cols
    for m in maps:
        m.view(b, -1).scatter_(1, index, 0.0)


def inverse_cdf(p: torch.Tensor, u: torch.Tensor, row_totals: torch.Tensor | None = None) -> torch.Tensor:
    """The pixel (row, col) [B, 2] whose cumulative weight first exceeds u * total, for maps p [B, H, W]
    (float64, each with positive mass) and uniforms u [B] in [0, 1); never a zero-weight pixel.

    Two levels (row totals, then the chosen row) instead of one cumsum over all H*W pixels: the same pixel
    in exact arithmetic, with cumsums over H + W entries instead of H * W. ``row_totals`` ([B, H], p.sum(2))
    may be passed when the caller has them.
    """
    b, h, w = p.shape
    row_cdf = (p.sum(2) if row_totals is None else row_totals).cumsum(1)    # [B, H]
    v = (u.to(p.dtype) * row_cdf[:, -1]).unsqueeze(1)
    row = torch.searchsorted(row_cdf, v, right=True).clamp_max(h - 1)       # a row with positive mass
    before = torch.where(row > 0, row_cdf.gather(1, (row - 1).clamp_min(0)), torch.zeros_like(v))
    col_cdf = p.gather(1, row.unsqueeze(2).expand(b, 1, w)).squeeze(1).cumsum(1)   # [B, W]
    rest = torch.minimum(v - before, col_cdf[:, -1:] * (1 - 2.0 ** -40))    # rounding must not leave the row
    col = torch.searchsorted(col_cdf, rest, right=True).clamp_max(w - 1)
    return torch.cat([row, col], dim=1)


def _revive_dead_maps(p: torch.Tensor, full: torch.Tensor | None, allowed: torch.Tensor, dead: torch.Tensor,
                      can_release: bool) -> None:
    """The rare cases, without a branch on the data: a map ``p`` with no mass left outside the inhibited
    area becomes uniform over the ``allowed`` pixels; a fully inhibited image is released (its ``full`` map
    again, None = uniform, uniform if it has no mass). A map without mass is all zeros, so adding the
    replacement replaces it."""
    b = p.shape[0]
    uniform = dead
    if can_release:
        released = dead & (allowed.flatten(1).amax(1) == 0)
        allowed.add_(released.to(p.dtype).view(b, 1, 1))
        if full is not None:
            full = full.to(p.dtype)
            refill = released & (full.sum((1, 2)) > 0)
            p.addcmul_(full, refill.to(p.dtype).view(b, 1, 1))
            uniform = dead & ~refill
    p.addcmul_(allowed, uniform.to(p.dtype).view(b, 1, 1))


def sample_fixations(saliency: torch.Tensor | None, uniforms: torch.Tensor, height: int, width: int,
                     ior: str = "circle", radius: int = 16) -> torch.Tensor:
    """Fixations (row, col) long [B, K, 2] drawn in sequence, one per column of ``uniforms`` [B, K] in [0, 1).

    ``saliency`` [B, H, W] (finite, non-negative, any scale) or None for uniform pixels. After each fixation,
    ``ior`` ("circle" | "square" | "none") removes the pixels around it from the map; a map left without mass
    falls back to uniform over the pixels still allowed, and a fully inhibited image is released again.
    """
    b, k = uniforms.shape
    device = uniforms.device
    full = None if saliency is None else saliency.reshape(b, height, width)
    p = (torch.ones(b, height, width, dtype=torch.float64, device=device) if full is None
         else full.to(torch.float64, copy=True))
    allowed = torch.ones_like(p)   # 1 where a fixation may land, 0 where inhibition of return blocks it
    # k - 1 inhibited areas of at most (2r + 1)^2 pixels each that cannot cover the image never release it
    can_release = ior != "none" and (k - 1) * (2 * radius + 1) ** 2 >= height * width
    picks = []
    for i in range(k):
        row_totals = p.sum(2)
        dead = row_totals.sum(1) <= 0   # maps are non-negative: no mass left outside the inhibited area
        # On the CPU the rare cases' passes over the maps run only when they occur; on an accelerator always
        if not known_all_false(dead):
            _revive_dead_maps(p, full, allowed, dead, can_release)
            row_totals = p.sum(2)
        centre = inverse_cdf(p, uniforms[:, i], row_totals)
        picks.append(centre)
        if ior != "none" and i < k - 1:
            inhibit((p, allowed), centre, radius, ior)
    return torch.stack(picks, dim=1)


def patch_grid(centres: torch.Tensor, size: int, convention: str = "paper") -> tuple[torch.Tensor, torch.Tensor]:
    """Sampling coordinates (in pixels; integer = pixel centre) of the patches around ``centres`` [..., 2].

    Returns row and column coordinates [..., size] each. ``paper``: pixel steps with the fixation at index
    size // 2, so a fixation on a pixel gives exactly the crop ``image[r - size//2 : r + size//2]``.
    ``official``: the released code's grid, P[a, b] = I(c - size/2 - 0.5 + a*size/(size-1),
    r - size/2 - 0.5 + b*size/(size-1)), i.e. centred on the transposed point (row c, col r).
    """
    steps = torch.arange(size, device=centres.device, dtype=torch.float32)
    r, c = centres[..., 0:1].float(), centres[..., 1:2].float()
    if convention == "paper":
        offsets = steps - size // 2
        return r + offsets, c + offsets
    if convention == "official":
        offsets = steps * (size / (size - 1)) - size / 2 - 0.5
        return c + offsets, r + offsets
    raise ValueError(f"unknown patch convention {convention!r}; valid: ['paper', 'official']")


def bilinear_patches(images: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
    """Bilinear samples of ``images`` [B, C, H, W] on the grids rows [B, K, S] x cols [B, K, S], zero
    outside the image (``grid_sample``'s zeros padding) -> float [B, K, C, S, S]. On integer coordinates
    bilinear sampling is the pixels themselves (weights 1 and 0): on the CPU that takes one gather, no
    interpolation; an accelerator runs the four taps (same values) rather than wait to check."""
    b, ch, h, w = images.shape
    _, k, s = rows.shape
    flat = images.flatten(2)                                                 # [B, C, H*W], no padded copy
    y0, x0 = rows.floor(), cols.floor()
    fy, fx = rows - y0, cols - x0
    y0, x0 = y0.long(), x0.long()

    def taps(start: torch.Tensor, size: int, frac: torch.Tensor, step: int):
        """Index (clamped) and weight of one of the two bilinear taps along an axis; 0 outside the image."""
        pos = start + step
        weight = (frac if step else 1 - frac) * ((pos >= 0) & (pos < size))
        return pos.clamp(0, size - 1), weight

    def gather(y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        idx = (y.unsqueeze(-1) * w + x.unsqueeze(-2)).reshape(b, 1, -1).expand(b, ch, -1)
        return flat.gather(2, idx).view(b, ch, k, s, s).float()

    if known_all_false(fy != 0) and known_all_false(fx != 0):  # integer grid: the pixels themselves, zero outside
        (y, wy), (x, wx) = taps(y0, h, fy, 0), taps(x0, w, fx, 0)
        out = gather(y, x).mul_((wy.unsqueeze(-1) * wx.unsqueeze(-2)).unsqueeze(1))
        return out.permute(0, 2, 1, 3, 4)
    out = None
    for dy in (0, 1):
        y, wy = taps(y0, h, fy, dy)
        for dx in (0, 1):
            x, wx = taps(x0, w, fx, dx)
            term = gather(y, x).mul_((wy.unsqueeze(-1) * wx.unsqueeze(-2)).unsqueeze(1))
            out = term if out is None else out.add_(term)
    return out.permute(0, 2, 1, 3, 4)


def extract_patches(images: torch.Tensor, centres: torch.Tensor, size: int, convention: str = "paper") -> torch.Tensor:
    """Foveal patches, float in the images' value range: images [B, C, H, W], centres [B, K, 2] -> [B, K, C, S, S].

    ``official`` also truncates to whole grey levels, as the released code's ToPILImage round trip does."""
    rows, cols = patch_grid(centres, size, convention)
    patches = bilinear_patches(images, rows, cols)
    return patches.floor_() if convention == "official" else patches


def relative_positions(positions: torch.Tensor) -> torch.Tensor:
    """Saccades between consecutive fixations: [B, V, 2] normalised positions -> [B, V-1, 2]."""
    return positions[:, 1:] - positions[:, :-1]


CPU_BLOCK = 64


class FixationSampler:
    """uint8 images + saliency maps -> ``SequenceBatch`` of normalised patches and saccade actions."""

    def __init__(self, options: SaccadeOptions, image_size: int, mean, std, cut_normalised: bool = False):
        self.options, self.image_size = options, image_size
        self.mean, self.std = tuple(mean), tuple(std)
        # cut_normalised: patches of the normalised image (0 = the mean colour outside it, no uint8 truncation),
        # as the official ImageNet transfer loader cuts them; else normalised patches of the uint8 image
        self.cut_normalised = cut_normalised

    def normalise(self, x: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
        """[..., 3, h, w] float grey levels 0..255 -> the dataset's normalisation (one multiply-add), in place
        or into ``out``."""
        std = torch.tensor(self.std, device=x.device).view(3, 1, 1)
        shift = -torch.tensor(self.mean, device=x.device).view(3, 1, 1) / std
        return torch.mul(x, 1.0 / (255.0 * std), out=x if out is None else out).add_(shift)

    def batch(self, images: torch.Tensor, saliency: torch.Tensor, labels: torch.Tensor, num_views: int,
              generator: torch.Generator) -> SequenceBatch:
        if self.options.views == "augmentations":
            from seqjepa_core.data.full_image_views import simclr_views
            views, _ = simclr_views(images, num_views, generator)
            positions = torch.zeros(images.shape[0], num_views, 2, device=images.device)
            return SequenceBatch(self.normalise(views.mul_(255.0)), relative_positions(positions), labels, positions)
        o = self.options
        u = torch.rand(images.shape[0], num_views, generator=generator, device=images.device, dtype=torch.float64)
        h, w = saliency.shape[-2:]
        # On the CPU, blocks of CPU_BLOCK images keep the working set in cache (1.5-3x faster per image than
        # one 256-image block: bench/bench_fixations.py); a GPU takes the whole batch at once.
        step = images.shape[0] if images.is_cuda else CPU_BLOCK
        views = torch.empty(images.shape[0], num_views, images.shape[1], o.patch_size, o.patch_size,
                            device=images.device)
        centres = []
        for i in range(0, images.shape[0], step):
            sal = saliency[i:i + step] if o.fixations == "saliency" else None
            c = sample_fixations(sal, u[i:i + step], h, w, o.ior, o.ior_radius)
            if self.cut_normalised:
                rows, cols = patch_grid(c, o.patch_size, o.patch_convention)
                views[i:i + step] = bilinear_patches(self.normalise(images[i:i + step].float()), rows, cols)
            else:   # the patches come channel-major; normalising straight into `views` reorders them in the same pass
                self.normalise(extract_patches(images[i:i + step], c, o.patch_size, o.patch_convention),
                               out=views[i:i + step])
            centres.append(c)
        positions = torch.cat(centres).float() / self.image_size   # actions describe the sampled fixations
        return SequenceBatch(views, relative_positions(positions), labels, positions)
