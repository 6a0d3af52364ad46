"""Options of the saccade sampler (paper §5.1, App. B.4), validated at DAG build: no torch here.

An experiment sets them under ``experiments.<name>.data`` and a variant overrides them under
``runs.<method>.<variant>.data`` (the Table 3 ablations are such overrides).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

CHOICES = {
    "fixations": ("saliency", "uniform"),
    "ior": ("circle", "square", "none"),
    "patch_convention": ("paper", "official"),
    "views": ("patches", "augmentations"),
}


@dataclass(frozen=True)
class SaccadeOptions:
    fixations: str = "saliency"        # saliency (paper) | uniform: i.i.d. uniform pixels (Table 3 "w/o saliency")
    ior: str = "circle"                # inhibition of return: circle (paper) | square (official code) | none
    ior_radius: int = 16               # paper: radius 16 (= fovea / 2)
    patch_size: int = 32               # the fovea (paper: 32 x 32)
    patch_convention: str = "paper"    # paper: bilinear patch centred on the fixation | official: the released
                                       # code's patch (centred on the transposed point, 32/31 px spacing,
                                       # truncated to uint8); the actions describe the fixations either way
    views: str = "patches"             # patches (seq-JEPA, Conv-JEPA) | augmentations: SimCLR views of the
                                       # full image (the invariant reference of Table 3)


def parse_saccade_options(raw: dict | None, where: str) -> SaccadeOptions:
    """Build ``SaccadeOptions`` from a mapping; unknown keys and bad values raise ValueError naming ``where``."""
    raw = dict(raw or {})
    names = {f.name for f in dataclasses.fields(SaccadeOptions)}
    unknown = sorted(set(raw) - names)
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {unknown}; valid: {sorted(names)}")
    for key, valid in CHOICES.items():
        if key in raw and raw[key] not in valid:
            raise ValueError(f"{where}.{key}: {raw[key]!r} is not one of {list(valid)}")
    for key in ("ior_radius", "patch_size"):
        if key in raw and (isinstance(raw[key], bool) or not isinstance(raw[key], int) or raw[key] < 1):
            raise ValueError(f"{where}.{key}: must be a positive integer, got {raw[key]!r}")
    return SaccadeOptions(**raw)
