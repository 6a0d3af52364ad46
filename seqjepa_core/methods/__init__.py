"""Method registry keyed by the names users type in the config (``seqjepa``, ``simclr``, ...).

Adding a method: write one module here with a ``Method`` subclass decorated ``@register("name")``
and import it below.
"""

from __future__ import annotations

from seqjepa_core.methods.base import Method, MethodContext, parse_params

METHODS: dict[str, type[Method]] = {}


def register(name: str):
    def deco(cls: type[Method]) -> type[Method]:
        if name in METHODS:
            raise ValueError(f"method {name!r} registered twice")
        cls.name = name
        METHODS[name] = cls
        return cls
    return deco


def get_method_class(name: str) -> type[Method]:
    try:
        return METHODS[name]
    except KeyError:
        raise KeyError(f"unknown method {name!r}; valid: {sorted(METHODS)}") from None


def build_method(name: str, ctx: MethodContext, params: dict | None = None, where: str = "method") -> Method:
    cls = get_method_class(name)
    return cls(ctx, parse_params(cls, params, where))


# Importing the modules fills the registry.
from seqjepa_core.methods import (  # noqa: E402,F401
    byol, byol_cond, conv_ijepa, equimod, sen, seqjepa, sie, simclr, vicreg, vicreg_traj)
