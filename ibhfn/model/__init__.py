"""The networks (IB-HFN and the DSen2-CR baseline), their checkpoints and their cost.

model = build_model("edge")                    # or build_model("small", arch="dsen2cr")
restored = model.eval()(sar, optical)          # (N, 2, H, W), (N, 13, H, W) in [0, 1]
save_checkpoint("run/best.pt", model)
model = load_checkpoint("run/best.pt", arch="ibhfn")
"""

from ibhfn.model.checkpoint import (
    CHECKPOINT_FORMAT,
    load_checkpoint,
    load_pretrained,
    read_checkpoint,
    save_checkpoint,
)
from ibhfn.model.dsen2cr import DSEN2CR_PRESETS, DSen2CR, DSen2CRConfig
from ibhfn.model.ibhfn import IBHFN, IBHFN_PRESETS, IBHFNConfig
from ibhfn.model.output import IBHFNOutput
from ibhfn.model.profiling import ModelProfile, profile
from ibhfn.model.registry import ARCHITECTURES, build, build_model
from ibhfn.model.vib import kl_divergence

__all__ = [
    "ARCHITECTURES",
    "CHECKPOINT_FORMAT",
    "DSEN2CR_PRESETS",
    "IBHFN",
    "IBHFN_PRESETS",
    "DSen2CR",
    "DSen2CRConfig",
    "IBHFNConfig",
    "IBHFNOutput",
    "ModelProfile",
    "build",
    "build_model",
    "kl_divergence",
    "load_checkpoint",
    "load_pretrained",
    "profile",
    "read_checkpoint",
    "save_checkpoint",
]
