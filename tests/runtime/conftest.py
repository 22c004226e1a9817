"""Fixtures for the runtime tests: a tiny stand-in ONNX engine with real ibhfn metadata."""

from __future__ import annotations

import struct
import zipfile
from pathlib import Path

import numpy as np
import onnx
import pytest
import rasterio
from affine import Affine
from onnx import TensorProto, helper, numpy_helper
from rasterio.warp import transform_bounds

from ibhfn.engine_metadata import EngineMetadata
from ibhfn.preprocessing import PREPROCESSING

STANDIN_METADATA = EngineMetadata(
    preprocessing=PREPROCESSING["default"], size_multiple=4, preset="stand-in", arch="stand-in"
)


def write_standin_onnx(
    path: Path, *, tile: int | None = None, metadata: EngineMetadata = STANDIN_METADATA, gate: bool = False
) -> Path:
    """Write a three-layer 3x3 conv net (receptive field 7 px) whose output is `optical` plus a residual.

    Zero padding at every layer makes tile borders differ from a whole-image pass, so tiling and
    blending matter; `tile` fixes H and W (a static engine), None leaves N, H and W dynamic. With
    `gate`, a second output `gate` (N, 1, H, W) in (0, 1), as `ibhfn-export onnx --with-gate` adds.
    Its input and output channels are the bands `metadata` names.
    """
    rng = np.random.default_rng(0)
    sar_bands, optical_bands = len(metadata.s1_bands), len(metadata.s2_bands)
    channels = [sar_bands + optical_bands, 8, 8, optical_bands]
    initializers, nodes = [], [helper.make_node("Concat", ["sar", "optical"], ["x0"], axis=1)]
    for layer, (cin, cout) in enumerate(zip(channels[:-1], channels[1:])):
        weight = (rng.standard_normal((cout, cin, 3, 3)) * 0.05).astype(np.float32)
        bias = (rng.standard_normal(cout) * 0.01).astype(np.float32)
        initializers += [numpy_helper.from_array(weight, f"w{layer}"), numpy_helper.from_array(bias, f"b{layer}")]
        out = f"c{layer}"
        nodes.append(helper.make_node("Conv", [f"x{layer}", f"w{layer}", f"b{layer}"], [out], pads=[1, 1, 1, 1]))
        if layer < len(channels) - 2:
            nodes.append(helper.make_node("Relu", [out], [f"x{layer + 1}"]))
    nodes.append(helper.make_node("Add", ["optical", out], ["restored"]))
    outputs = ["restored"]
    if gate:
        weight = (rng.standard_normal((1, 8, 3, 3)) * 0.5).astype(np.float32)
        initializers.append(numpy_helper.from_array(weight, "wg"))
        nodes += [
            helper.make_node("Conv", ["x1", "wg"], ["gate_logit"], pads=[1, 1, 1, 1]),
            helper.make_node("Sigmoid", ["gate_logit"], ["gate"]),
        ]
        outputs.append("gate")

    def dims(channels: int) -> list:
        return ["N", channels, tile or "H", tile or "W"]

    graph = helper.make_graph(
        nodes,
        "standin",
        [
            helper.make_tensor_value_info("sar", TensorProto.FLOAT, dims(sar_bands)),
            helper.make_tensor_value_info("optical", TensorProto.FLOAT, dims(optical_bands)),
        ],
        [
            helper.make_tensor_value_info(name, TensorProto.FLOAT, dims(optical_bands if name == "restored" else 1))
            for name in outputs
        ],
        initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    helper.set_model_props(model, metadata.to_props())
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return path


@pytest.fixture(scope="session")
def standin_metadata() -> EngineMetadata:
    """The metadata the stand-in engine carries."""
    return STANDIN_METADATA


@pytest.fixture(scope="session")
def write_onnx_engine():
    """`write_standin_onnx`, for tests that need a variant (a static tile, other metadata)."""
    return write_standin_onnx


@pytest.fixture(scope="session")
def onnx_engine_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The engine most runtime tests run: the fast stand-in (test_bundled_model runs the real network)."""
    return write_standin_onnx(tmp_path_factory.mktemp("engine") / "standin.onnx")


@pytest.fixture(scope="session")
def gate_engine_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The stand-in with a clear-sky gate output, as exported `--with-gate`."""
    return write_standin_onnx(tmp_path_factory.mktemp("engine") / "standin_gate.onnx", gate=True)


def write_geotiff(
    path: Path,
    array: np.ndarray,
    *,
    crs: str | None = "EPSG:32631",
    transform: Affine = Affine(10.0, 0.0, 500000.0, 0.0, -10.0, 4000000.0),
    nodata: float | None = None,
) -> Path:
    """Write a (bands, H, W) array as a GeoTIFF on the given grid (an untiled one, like SEN12MS-CR)."""
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=array.shape[2],
        height=array.shape[1],
        count=array.shape[0],
        dtype=array.dtype,
        crs=crs,
        transform=transform,
        nodata=nodata,
    ) as dataset:
        dataset.write(array)
    return path


def declare(
    path: Path,
    *,
    scale_offset: tuple[float, float] | None = None,
    tags: dict[str, str] | None = None,
    band_tags: dict[str, str] | None = None,
) -> Path:
    """Add to a GeoTIFF what products declare of their radiometry: GDAL band scale and offset, metadata tags."""
    with rasterio.open(path, "r+") as dataset:
        if scale_offset is not None:
            dataset.scales, dataset.offsets = ((value,) * dataset.count for value in scale_offset)
        dataset.update_tags(**(tags or {}))
        for band in dataset.indexes:
            dataset.update_tags(band, **(band_tags or {}))
    return path


@pytest.fixture(scope="session")
def declared():
    """`declare`, for tests of files that say which add-offset they carry."""
    return declare


SNAP_BAND = """<Spectral_Band_Info><BAND_INDEX>{index}</BAND_INDEX><BAND_NAME>{name}</BAND_NAME>
<DATA_TYPE>float32</DATA_TYPE><PHYSICAL_UNIT>{unit}</PHYSICAL_UNIT><SCALING_FACTOR>1.0</SCALING_FACTOR>
<NO_DATA_VALUE_USED>true</NO_DATA_VALUE_USED><NO_DATA_VALUE>{nodata}</NO_DATA_VALUE></Spectral_Band_Info>"""


def add_snap_header(path: Path, bands: list[tuple[str, str, float]]) -> Path:
    """Give a classic GeoTIFF the BEAM-DIMAP header SNAP writes in TIFF tag 65000: (name, unit, nodata) per band.

    The document goes at the end of the file, followed by a copy of the first directory with the
    tag added; the header then points at the copy, so every other tag keeps its value.
    """
    infos = "".join(SNAP_BAND.format(index=i, name=n, unit=u, nodata=v) for i, (n, u, v) in enumerate(bands))
    document = (
        f'<?xml version="1.0" encoding="ISO-8859-1"?><Dimap_Document name="snap.dim"><Image_Interpretation>'
        f"{infos}</Image_Interpretation></Dimap_Document>"
    ).encode() + b"\0"
    data = bytearray(path.read_bytes())
    assert data[:4] == b"II*\0", "a little-endian classic TIFF"
    (first,) = struct.unpack_from("<I", data, 4)
    (count,) = struct.unpack_from("<H", data, first)
    entries = [bytes(data[first + 2 + 12 * i : first + 14 + 12 * i]) for i in range(count)]
    (following,) = struct.unpack_from("<I", data, first + 2 + 12 * count)
    document_at = len(data) + len(data) % 2
    data += b"\0" * (document_at - len(data)) + document
    entries.append(struct.pack("<HHII", 65000, 2, len(document), document_at))
    directory_at = len(data) + len(data) % 2
    data += b"\0" * (directory_at - len(data))
    entries.sort(key=lambda entry: struct.unpack_from("<H", entry)[0])  # TIFF wants tags in ascending order
    data += struct.pack("<H", len(entries)) + b"".join(entries) + struct.pack("<I", following)
    struct.pack_into("<I", data, 4, directory_at)
    path.write_bytes(bytes(data))
    return path


@pytest.fixture(scope="session")
def snap_header():
    """`add_snap_header`, for S1 files as SNAP writes them."""
    return add_snap_header


@pytest.fixture(scope="session")
def geotiff():
    """`write_geotiff`, for tests that build their own odd or broken inputs."""
    return write_geotiff


def write_test_scene(
    folder: Path,
    name: str = "scene",
    *,
    height: int,
    width: int,
    seed: int = 0,
    s1_crs: str | None = None,
    nodata_border: int = 0,
) -> tuple[Path, Path]:
    """Write `<name>_s1.tif` (float32 dB) and `<name>_s2.tif` (uint16 DN) with smooth random content.

    S2 is on a 10 m UTM grid; S1 is on the same grid, or with `s1_crs` on a coarser grid in that CRS
    covering S2 with a margin. `nodata_border` zeroes that many pixels of S2 along every edge.
    """
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)

    def smooth(bands: int, low: float, high: float) -> np.ndarray:
        coarse = rng.uniform(low, high, (bands, height // 16 + 2, width // 16 + 2))
        fine = np.kron(coarse, np.ones((16, 16)))[:, :height, :width]
        return fine + rng.normal(0, (high - low) * 0.02, fine.shape)

    s2 = np.clip(smooth(13, 300, 4000), 1, 10000).astype(np.uint16)
    if nodata_border:
        s2[:, :nodata_border] = s2[:, -nodata_border:] = 0
        s2[:, :, :nodata_border] = s2[:, :, -nodata_border:] = 0
    s2_path = write_geotiff(folder / f"{name}_s2.tif", s2)
    if s1_crs is None:
        s1_path = write_geotiff(folder / f"{name}_s1.tif", smooth(2, -22, -5).astype(np.float32))
    else:
        with rasterio.open(s2_path) as ref:
            left, bottom, right, top = transform_bounds(ref.crs, s1_crs, *ref.bounds)
        margin = 0.05 * (right - left)
        size = ((right - left) + 2 * margin) / (width * 0.6)
        shape = (int((top - bottom + 2 * margin) / size) + 1, int((right - left + 2 * margin) / size) + 1)
        s1 = rng.uniform(-22, -5, (2, *shape)).astype(np.float32)
        s1_path = write_geotiff(
            folder / f"{name}_s1.tif", s1, crs=s1_crs, transform=Affine(size, 0, left - margin, 0, -size, top + margin)
        )
    return s1_path, s2_path


L1C_NAME = "S2B_MSIL1C_20230412T101559_N0509_R065_T32TQM_20230412T122019.SAFE"
L1C_RESOLUTION = {
    "B2": 10,
    "B3": 10,
    "B4": 10,
    "B8": 10,
    "B5": 20,
    "B6": 20,
    "B7": 20,
    "B8A": 20,
    "B11": 20,
    "B12": 20,
    "B1": 60,
    "B9": 60,
    "B10": 60,
}
L1C_METADATA = """<?xml version="1.0" encoding="UTF-8"?>
<n1:Level-1C_User_Product xmlns:n1="https://psd-14.sentinel2.eo.esa.int/PSD/User_Product_Level-1C.xsd">
  <n1:General_Info>
    <Product_Info>
      <PRODUCT_URI>{name}</PRODUCT_URI>
      <PROCESSING_LEVEL>Level-1C</PROCESSING_LEVEL>
      <PRODUCT_TYPE>S2MSI1C</PRODUCT_TYPE>
      <PROCESSING_BASELINE>{baseline}</PROCESSING_BASELINE>
    </Product_Info>
    <Product_Image_Characteristics>
      <QUANTIFICATION_VALUE unit="none">10000</QUANTIFICATION_VALUE>
      {offsets}
    </Product_Image_Characteristics>
  </n1:General_Info>
</n1:Level-1C_User_Product>
"""


def write_l1c_product(
    folder: Path, *, size: int = 120, baseline: str = "05.09", offset: int | None = -1000, seed: int = 0
) -> tuple[Path, dict[str, np.ndarray]]:
    """Write a Level-1C .SAFE folder in ESA's layout, `size` px at 10 m (a multiple of 6); returns it and its bands.

    Every band is a lossless JPEG 2000 at its own resolution, on one UTM grid; `offset` None leaves
    RADIO_ADD_OFFSET out of the metadata, as products before baseline 04.00 do.
    """
    rng = np.random.default_rng(seed)
    safe = folder / L1C_NAME
    images = safe / "GRANULE" / "L1C_T32TQM_A031917_20230412T101554" / "IMG_DATA"
    images.mkdir(parents=True)
    (images.parent / "QI_DATA").mkdir()
    (images.parent / "QI_DATA" / "MSK_DETFOO_B01.jp2").write_bytes(b"a mask, not an image band")
    bands = {}
    for band, metres in L1C_RESOLUTION.items():
        pixels = size * 10 // metres
        values = rng.integers(1, 6000, (1, pixels, pixels)).astype(np.uint16) + (0 if offset is None else -offset)
        with rasterio.open(
            images / f"T32TQM_20230412T101559_B{band[1:]:0>2}.jp2",
            "w",
            driver="JP2OpenJPEG",
            width=pixels,
            height=pixels,
            count=1,
            dtype="uint16",
            crs="EPSG:32632",
            transform=Affine(metres, 0.0, 699960.0, 0.0, -metres, 5000040.0),
            QUALITY=100,
            REVERSIBLE="YES",
        ) as dataset:
            dataset.write(values)
        bands[band] = values[0]
    radio = (
        ""
        if offset is None
        else (
            "<Radiometric_Offset_List>"
            + "".join(f'<RADIO_ADD_OFFSET band_id="{i}">{offset}</RADIO_ADD_OFFSET>' for i in range(13))
            + "</Radiometric_Offset_List>"
        )
    )
    (safe / "MTD_MSIL1C.xml").write_text(L1C_METADATA.format(name=L1C_NAME, baseline=baseline, offsets=radio))
    return safe, bands


def zip_product(safe: Path) -> Path:
    """The product as it is downloaded: a zip holding the .SAFE folder, beside it."""
    archive = safe.with_suffix(".zip")
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as output:
        for path in sorted(safe.rglob("*")):
            output.write(path, path.relative_to(safe.parent).as_posix())
    return archive


@pytest.fixture(scope="session")
def zipped():
    """`zip_product`, for tests of products given as their .zip."""
    return zip_product


@pytest.fixture(scope="session")
def make_l1c_product():
    """Writes a small Level-1C product (.SAFE folder) into a folder and returns it and its bands."""
    return write_l1c_product


@pytest.fixture(scope="session")
def make_scene():
    """Writes a generated scene pair into a folder and returns (s1, s2)."""
    return write_test_scene
