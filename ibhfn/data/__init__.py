"""SEN12MS-CR data: the reader, the scene splits, cloud masks and coverage, synthetic stand-ins.

Modules, top-down: `splits` (packaged scene splits), `sen12mscr` (the reader: `SEN12MSCR`,
`Sample`, `Triplet`), `clear_patches` (real cloud-free patches as pass-through samples), `mixture`
(several readers as one training mix), `cloud_mask` and `coverage`, `torch_dataset` (the torch
`Dataset` wrapper; the only module that imports torch), and the generator: `fields` (seamless
noise), `landcover` (classes, spectra, backscatter), `clouds` (thick, thin, shadows), `synthetic`
(patches, the SEN12MS-CR tree, whole scenes), `distribution` (how far a tree is from real data) and
`cli` (`ibhfn-synth`).
"""

from ibhfn.data.coverage import COVERAGE_BUCKETS, coverage_bucket
from ibhfn.data.sen12mscr import SEN12MSCR, CorruptSampleError, Sample, Triplet
from ibhfn.data.splits import ROI_SEASONS, load_splits, scene_split

__all__ = [
    "COVERAGE_BUCKETS",
    "ROI_SEASONS",
    "SEN12MSCR",
    "CorruptSampleError",
    "Sample",
    "Triplet",
    "coverage_bucket",
    "load_splits",
    "scene_split",
]
