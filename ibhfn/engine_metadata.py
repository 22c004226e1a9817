"""What every exported engine carries about itself, so the runtime needs no second copy of it.

An ONNX model stores these as `metadata_props` (string keys prefixed `ibhfn.`); a TensorRT plan
stores the same dictionary under "metadata" in its JSON sidecar. Export writes it, the runtime,
calibration and verifier read it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from ibhfn.bands import S1_BANDS, S2_BANDS
from ibhfn.errors import ModelError
from ibhfn.preprocessing import Preprocessing

PREFIX = "ibhfn."
SCHEMA_VERSION = "1"
INPUT_NAMES: tuple[str, str] = ("sar", "optical")
OUTPUT_NAME = "restored"
GATE_OUTPUT_NAME = "gate"
PRECISIONS = ("fp32", "fp16", "int8")


@dataclass(frozen=True)
class EngineMetadata:
    """The facts about an engine that the runtime and the verifier depend on."""

    preprocessing: Preprocessing
    size_multiple: int
    precision: str = "fp32"
    preset: str = "edge"
    arch: str = "ibhfn"
    package_version: str = "unknown"
    checkpoint_sha256: str = ""
    inputs: tuple[str, ...] = INPUT_NAMES
    outputs: tuple[str, ...] = (OUTPUT_NAME,)
    s1_bands: tuple[str, ...] = S1_BANDS
    s2_bands: tuple[str, ...] = S2_BANDS
    float32_nodes: tuple[str, ...] = ()  # nodes kept in float32 by FP16 conversion or INT8 quantization
    extra: dict[str, str] = field(default_factory=dict)  # further facts (source ONNX hash, calibration)

    def to_props(self) -> dict[str, str]:
        """Flatten to string key/value pairs, as ONNX `metadata_props` require."""
        props = {
            "schema_version": SCHEMA_VERSION,
            "preprocessing": self.preprocessing.to_json(),
            "size_multiple": str(self.size_multiple),
            "precision": self.precision,
            "preset": self.preset,
            "arch": self.arch,
            "package_version": self.package_version,
            "checkpoint_sha256": self.checkpoint_sha256,
            "inputs": json.dumps(list(self.inputs)),
            "outputs": json.dumps(list(self.outputs)),
            "s1_bands": json.dumps(list(self.s1_bands)),
            "s2_bands": json.dumps(list(self.s2_bands)),
            "float32_nodes": json.dumps(list(self.float32_nodes)),
        }
        props.update({f"extra.{k}": v for k, v in self.extra.items()})
        return {PREFIX + k: v for k, v in props.items()}

    @classmethod
    def from_props(cls, props: dict[str, str], source: str = "engine") -> EngineMetadata:
        """Parse `to_props` output; `source` names the file in error messages."""
        p = {k[len(PREFIX) :]: v for k, v in props.items() if k.startswith(PREFIX)}
        if not p:
            raise ModelError(f"{source}: no ibhfn metadata; export it with `ibhfn-export onnx`")
        try:
            return cls(
                preprocessing=Preprocessing.from_dict(json.loads(p["preprocessing"])),
                size_multiple=int(p["size_multiple"]),
                precision=p.get("precision", "fp32"),
                preset=p.get("preset", ""),
                arch=p.get("arch", ""),
                package_version=p.get("package_version", ""),
                checkpoint_sha256=p.get("checkpoint_sha256", ""),
                inputs=tuple(json.loads(p["inputs"])),
                outputs=tuple(json.loads(p["outputs"])),
                s1_bands=tuple(json.loads(p["s1_bands"])),
                s2_bands=tuple(json.loads(p["s2_bands"])),
                float32_nodes=tuple(json.loads(p.get("float32_nodes", "[]"))),
                extra={k[len("extra.") :]: v for k, v in p.items() if k.startswith("extra.")},
            )
        except (KeyError, ValueError, TypeError) as exc:
            raise ModelError(f"{source}: ibhfn metadata is incomplete or malformed ({exc})") from None
