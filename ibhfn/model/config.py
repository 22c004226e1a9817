"""Network configurations: named presets, overrides, and the JSON form a checkpoint stores.

A configuration is a frozen dataclass whose first field is `preset`. `resolve_config` starts from
the named preset and applies the other keys, so both `{"preset": "base"}` and a checkpoint's full
config rebuild the same network.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from ibhfn.errors import ModelError

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

C = TypeVar("C", bound="DataclassInstance")  # a preset: a dataclass of one architecture's options


def resolve_config(arch: str, presets: Mapping[str, C], data: Mapping[str, Any]) -> C:
    """Build a configuration from `data`: the preset it names, with its other keys overriding."""
    data = dict(data)
    preset = data.pop("preset", None) or next(iter(presets))
    if preset not in presets:
        raise ModelError(f"unknown {arch} preset {preset!r}; choose one of {', '.join(presets)}")
    base = presets[preset]
    fields = {f.name: f for f in dataclasses.fields(base)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ModelError(
            f"unknown {arch} option(s) {', '.join(unknown)}; valid: {', '.join(n for n in fields if n != 'preset')}"
        )
    values = {name: tuple(v) if isinstance(v, list) else v for name, v in data.items()}
    return dataclasses.replace(base, **values)


def config_dict(arch: str, config: Any) -> dict[str, Any]:
    """The JSON-ready dictionary `build(arch, ...)` rebuilds the network from (tuples as lists)."""
    values = {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(config).items()}
    return {"arch": arch, **values}
