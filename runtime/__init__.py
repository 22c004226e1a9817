"""The lean runtime: tiled inference over GeoTIFF scenes on ONNX Runtime or TensorRT, without torch.

Read in this order:
- `engine`: the `Engine` interface and `open_engine`, which picks the backend by file suffix
  (`onnxruntime_backend`; `tensorrt_backend` on `cuda_memory`, checked by `engine_sidecar`).
- `pairing`: which S1 file goes with which S2 file, and `--shard`; `shard`: `--shard auto` from a Slurm
  job array or a Kubernetes Indexed Job; `collect`: `--collect`, every planned scene's output checked;
  `stac_input`: a STAC ItemCollection as the batch; `remote`: inputs read over HTTP or object storage.
- `raster_source`: both inputs read by windows on the S2 grid, checked on opening (band order by
  `ibhfn.bands`, S2's add-offset by `s2_offset`, units by `radiometry`); `nodata`: which pixels
  are empty; `preflight`: every scene of a batch opened and checked, nothing run (`--check`).
- `tiling`, `blend`, `accumulator`: where tiles lie and how a tile row is cut into blocks, how
  tiles are weighted, how they are summed block by block.
- `stage_thread`: a pipeline thread that is stopped and waited for, Ctrl-C included;
  `producer_thread` and `consumer_thread`: the stages built on it; `block_reader`: reading and
  preprocessing, each in a producer thread (blending and writing are consumer threads).
- `writer`: the output GeoTIFF (or COG), and the gate's (`--gate`); `output_check`: whether the
  restored values are reflectance at all (a broken engine fails its scene); `scene_record`: the
  JSON record and `--resume`; `stac_item`: the STAC Item beside each output (pystac, optional).
- `run_options`: what a run is asked (`RunOptions`) and answers (`SceneResult`, `Progress`);
  `scene_paths`: where a scene's files go in OUT; `pipeline`: `run_scene`, which puts the above
  together for one scene; `batch`: `run_batch`, many scenes into one OUT; `workers`: the batch
  spread over worker processes (`--jobs`); `cli`: `ibhfn-run` (`malloc`: how it keeps glibc
  from holding on to freed block arrays).
- `l1c_product` and `s2_stack`: a Sentinel-2 Level-1C product (.SAFE or .zip) read and stacked
  into the 13-band input; `s1_backscatter`: processed S1 brought onto a scene's S2 grid in dB
  (`snap_header`: the band names SNAP keeps in its GeoTIFFs); `prepare_cli`: `ibhfn-prepare`.
"""
