"""Build any ibhfn network by architecture name and configuration (presets, overrides, checkpoints)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ibhfn.errors import ModelError
from ibhfn.model.config import resolve_config
from ibhfn.model.dsen2cr import DSEN2CR_PRESETS, DSen2CR
from ibhfn.model.ibhfn import IBHFN, IBHFN_PRESETS

Network = IBHFN | DSen2CR  # what `build` returns: each has `config`, `arch_config` and `size_multiple`

# arch -> (presets, the first being the default; constructor taking the resolved config)
ARCHITECTURES: dict[str, tuple[Mapping[str, Any], Callable[[Any], Network]]] = {
    "ibhfn": (IBHFN_PRESETS, IBHFN),
    "dsen2cr": (DSEN2CR_PRESETS, DSen2CR),
}


def build(arch: str, config: Mapping[str, Any]) -> Network:
    """Rebuild a network from its architecture name and `model.config` (or any preset + overrides)."""
    if arch not in ARCHITECTURES:
        raise ModelError(f"unknown architecture {arch!r}; choose one of {', '.join(ARCHITECTURES)}")
    config = dict(config)
    stored_arch = config.pop("arch", arch)
    if stored_arch != arch:
        raise ModelError(f"config is for architecture {stored_arch!r}, not {arch!r}")
    presets, network = ARCHITECTURES[arch]
    return network(resolve_config(arch, presets, config))


def build_model(preset: str | None = None, *, arch: str = "ibhfn", **overrides: Any) -> Network:
    """A fresh network: `preset` of `arch` ('edge' for ibhfn, 'small' for dsen2cr when None), with overrides."""
    return build(arch, {"preset": preset, **overrides})
