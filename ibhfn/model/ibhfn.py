"""IB-HFN: information-bottleneck hybrid fusion of Sentinel-1 SAR and cloudy Sentinel-2.

Data flow (s = 2 ** (len(widths) - 1), the total stride):

    sar ----> sar_encoder -> (coarsest) -> vib -> z --------+
                                                           fusion -> fused -+-> gate -> G
    optical -> optical_encoder -> (coarsest) -------------+                 |
                       | (finer levels, skips) ------------------> decoder <-+ -> D
    optical -> dirac_skip -> S                  R = S + D (residual) or D;  Y = G * S + (1 - G) * R

The streams never mix before the fusion, and SAR reaches the output only through the bottleneck.
`dirac_skip` starts as the identity, so wherever the gate says clear sky (G = 1) the output is
the input, bit for bit; under cloud the decoder draws every band anew from the fused latent.

Ablation switches (`docs/ablations.md`): `fusion="concat"` feeds the SAR features to the fusion
unchanged (no bottleneck, no KL); `gate=False` drops the gate and the skip (Y = R); `residual=True`
makes the decoder predict a correction of S instead of the image (R = S + D), which the ablations
found worse under thick real clouds; `sar_skips=True` sends every finer SAR level through a
bottleneck of its own into the decoder's skip of that resolution (SAR at full resolution).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, cast, overload

import torch
from torch import Tensor, nn

from ibhfn.bands import S1_BANDS, S2_BANDS
from ibhfn.errors import ModelError
from ibhfn.model.config import config_dict
from ibhfn.model.decoder import Decoder
from ibhfn.model.encoder import StreamEncoder
from ibhfn.model.fusion import LatentFusion
from ibhfn.model.gate import LocalGlobalGate
from ibhfn.model.inputs import check_inputs
from ibhfn.model.output import IBHFNOutput
from ibhfn.model.vib import SpatialBottleneck

ARCH = "ibhfn"
FUSIONS = ("bottleneck", "concat")


@dataclass(frozen=True)
class IBHFNConfig:
    """Everything that fixes an IB-HFN network's shape."""

    preset: str
    widths: tuple[int, ...]  # feature maps per resolution, full resolution first
    encoder_blocks: tuple[int, ...]  # residual blocks per stage of each encoder stream
    fusion_blocks: int  # residual blocks after the latent fusion (at the coarsest resolution)
    gate_hidden: int  # width of both gate branches
    logvar_limit: float = 10.0  # logvar is clamped to [-limit, limit]
    residual: bool = False  # R = S + decoder output, instead of the decoder output alone
    fusion: str = "bottleneck"  # or "concat": SAR features fused without the variational bottleneck
    gate: bool = True  # False: no gate and no Dirac skip, Y = R
    sar_skips: bool = False  # SAR's finer levels also pass a bottleneck and join the decoder's skips

    def __post_init__(self) -> None:
        if self.fusion not in FUSIONS:
            raise ModelError(f"ibhfn fusion {self.fusion!r} is not one of {', '.join(FUSIONS)}")
        if len(self.widths) < 3:
            raise ModelError(f"ibhfn needs at least three widths (two down-sampling stages), got {self.widths}")
        if len(self.encoder_blocks) != len(self.widths):
            raise ModelError(f"ibhfn encoder_blocks {self.encoder_blocks} must give one count per width {self.widths}")
        if min(self.widths) < 1 or min(self.encoder_blocks) < 0 or self.fusion_blocks < 0 or self.gate_hidden < 1:
            raise ModelError("ibhfn widths and gate_hidden must be positive, block counts non-negative")

    @property
    def size_multiple(self) -> int:
        """The total stride: height and width must be multiples of it."""
        return 2 ** (len(self.widths) - 1)


IBHFN_PRESETS: dict[str, IBHFNConfig] = {
    # 1.9 M parameters, 10.9 GMAC per 256 x 256 tile; full resolution only 16 maps wide.
    "edge": IBHFNConfig("edge", widths=(16, 32, 96), encoder_blocks=(1, 1, 2), fusion_blocks=6, gate_hidden=32),
    # 16.4 M parameters, 89 GMAC per 256 x 256 tile.
    "base": IBHFNConfig("base", widths=(32, 96, 256), encoder_blocks=(1, 2, 3), fusion_blocks=6, gate_hidden=64),
}


class IBHFN(nn.Module):
    """SAR-assisted cloud removal: forward(sar (N, 2, H, W), optical (N, 13, H, W)) -> (N, 13, H, W)."""

    def __init__(self, config: IBHFNConfig) -> None:
        super().__init__()
        self.arch_config = config
        widths = config.widths
        self.size_multiple = config.size_multiple
        self.sar_encoder = StreamEncoder(len(S1_BANDS), widths, config.encoder_blocks)
        self.optical_encoder = StreamEncoder(len(S2_BANDS), widths, config.encoder_blocks)
        self.vib = SpatialBottleneck(widths[-1], config.logvar_limit) if config.fusion == "bottleneck" else None
        self.fusion = LatentFusion(widths[-1], config.fusion_blocks)
        self.decoder = Decoder(widths, len(S2_BANDS), skip_factor=2 if config.sar_skips else 1)
        self.skip_vibs = (
            nn.ModuleList(SpatialBottleneck(width, config.logvar_limit) for width in widths[:-1])
            if config.sar_skips and config.fusion == "bottleneck"
            else None
        )
        self.gate = LocalGlobalGate(widths[-1], config.gate_hidden, self.size_multiple) if config.gate else None
        self.dirac_skip = _dirac_conv(len(S2_BANDS)) if config.gate or config.residual else None
        if config.residual:  # R starts close to S: training begins near the identity, not from noise
            nn.init.normal_(self.decoder.head.weight, std=1e-3)
            assert self.decoder.head.bias is not None
            nn.init.zeros_(self.decoder.head.bias)

    @property
    def config(self) -> dict:
        """JSON-ready keyword arguments that rebuild this network with `ibhfn.model.build`."""
        return config_dict(ARCH, self.arch_config)

    def forward(self, sar: Tensor, optical: Tensor) -> Tensor | IBHFNOutput:
        """Eval mode: the restored image (z = mu). Train mode: an IBHFNOutput with a sampled z."""
        if not self.training:
            return self.forward_deterministic(sar, optical)
        check_inputs(sar, optical, self.size_multiple)
        latents, mus, logvars = [], [], []
        for features, bottleneck in zip(self._sar_levels(sar), self._bottlenecks()):
            if bottleneck is None:
                latents.append(features)
            else:
                z, mu, logvar = bottleneck.sample(features)
                latents.append(z)
                mus.append(mu)
                logvars.append(logvar)
        image, gate_logit, reconstruction = self._restore(latents, optical)
        return IBHFNOutput(
            image=image,
            gate=None if gate_logit is None else torch.sigmoid(gate_logit),
            gate_logit=gate_logit,
            mu=_joined(mus),
            logvar=_joined(logvars),
            reconstruction=reconstruction,
        )

    @overload
    def forward_deterministic(self, sar: Tensor, optical: Tensor, return_gate: Literal[False] = False) -> Tensor: ...

    @overload
    def forward_deterministic(
        self, sar: Tensor, optical: Tensor, return_gate: Literal[True]
    ) -> tuple[Tensor, Tensor]: ...

    @overload
    def forward_deterministic(
        self, sar: Tensor, optical: Tensor, return_gate: bool = False
    ) -> Tensor | tuple[Tensor, Tensor]: ...

    def forward_deterministic(
        self, sar: Tensor, optical: Tensor, return_gate: bool = False
    ) -> Tensor | tuple[Tensor, Tensor]:
        """The inference path (z = mu, no random op): restored image, and the gate G if asked (0 without one)."""
        check_inputs(sar, optical, self.size_multiple)
        latents = [
            features if bottleneck is None else bottleneck.mean(features)
            for features, bottleneck in zip(self._sar_levels(sar), self._bottlenecks())
        ]
        image, gate_logit, _ = self._restore(latents, optical)
        if not return_gate:
            return image
        return image, torch.zeros_like(image[:, :1]) if gate_logit is None else torch.sigmoid(gate_logit)

    def _sar_levels(self, sar: Tensor) -> list[Tensor]:
        """The SAR features that reach the fusion: the coarsest level, and every level with `sar_skips`."""
        features = self.sar_encoder(sar)
        return features if self.arch_config.sar_skips else features[-1:]

    def _bottlenecks(self) -> list[SpatialBottleneck | None]:
        """The bottleneck of each level `_sar_levels` returns (None where SAR passes unchanged)."""
        coarsest: list[SpatialBottleneck | None] = [self.vib]
        if not self.arch_config.sar_skips:
            return coarsest
        if self.skip_vibs is None:
            return [None] * (len(self.arch_config.widths) - 1) + coarsest
        return cast(list[SpatialBottleneck | None], list(self.skip_vibs)) + coarsest  # a ModuleList of them

    def _restore(self, latents: list[Tensor], optical: Tensor) -> tuple[Tensor, Tensor | None, Tensor]:
        """Fuse the SAR latents (coarsest last) with the optical stream; return (Y, gate logit or None, R)."""
        optical_features = self.optical_encoder(optical)
        fused = self.fusion(latents[-1], optical_features[-1])
        skips = optical_features[:-1]
        if self.arch_config.sar_skips:
            skips = [torch.cat([o, z], dim=1) for o, z in zip(skips, latents[:-1])]
        reconstruction = self.decoder(fused, skips)
        skip = self.dirac_skip(optical) if self.dirac_skip is not None else None
        if self.arch_config.residual:
            reconstruction = reconstruction + skip
        if self.gate is None:
            return reconstruction, None, reconstruction
        gate_logit = self.gate(fused)
        gate = torch.sigmoid(gate_logit)
        assert skip is not None  # a gate comes with the Dirac skip
        return gate * skip + (1.0 - gate) * reconstruction, gate_logit, reconstruction


def _dirac_conv(channels: int) -> nn.Conv2d:
    """A 3x3 conv that starts as the identity."""
    conv = nn.Conv2d(channels, channels, kernel_size=3, padding=1)
    nn.init.dirac_(conv.weight)
    assert conv.bias is not None
    nn.init.zeros_(conv.bias)
    return conv


def _joined(tensors: list[Tensor]) -> Tensor | None:
    """One tensor for the KL term: the only level as it is, several levels flattened side by side."""
    if not tensors:
        return None
    return tensors[0] if len(tensors) == 1 else torch.cat([t.flatten(1) for t in tensors], dim=1)
