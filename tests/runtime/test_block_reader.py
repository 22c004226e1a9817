import threading
import time

import numpy as np
import pytest

from ibhfn.errors import InputError
from ibhfn.preprocessing import PREPROCESSING
from ibhfn.runtime import block_reader as block_reader_module
from ibhfn.runtime.block_reader import BlockReader, ReadBlock, prepare_block
from ibhfn.runtime.nodata import fill_invalid, valid_pixels
from ibhfn.runtime.raster_source import SceneSource
from ibhfn.runtime.tiling import TileGrid

PREPROCESS = PREPROCESSING["default"]


@pytest.fixture
def scene(tmp_path, make_scene, standin_metadata):
    s1, s2 = make_scene(tmp_path, height=200, width=150, nodata_border=8)
    with SceneSource(s1, s2, standin_metadata) as source:
        yield source, TileGrid(source.height, source.width, 64, 8).blocks(96, 32)


def reader_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name in ("ibhfn-block-reader", "ibhfn-preprocessor")]


def test_blocks_come_in_order_read_and_prepared_in_two_threads(scene, monkeypatch):
    source, blocks = scene
    seen = []
    read_window, valid_pixels = source.read_window, block_reader_module.valid_pixels

    def watched_read(*args):
        seen.append(("read", threading.current_thread().name))
        return read_window(*args)

    def watched_valid_pixels(*args, **keywords):
        seen.append(("prepare", threading.current_thread().name))
        return valid_pixels(*args, **keywords)

    monkeypatch.setattr(source, "read_window", watched_read)
    monkeypatch.setattr(block_reader_module, "valid_pixels", watched_valid_pixels)
    with BlockReader(source, blocks, 64, PREPROCESS, depth=1) as reader:
        prepared = list(reader)
    assert [p.block for p in prepared] == blocks and len(blocks) > 3
    assert set(seen) == {("read", "ibhfn-block-reader"), ("prepare", "ibhfn-preprocessor")}
    first = prepared[0]
    s1_db, s2_dn = read_window(first.block.row, first.block.col, first.block.height, first.block.width)
    np.testing.assert_array_equal(
        first.optical[:, : first.block.height, : first.block.width], PREPROCESS.optical(s2_dn)
    )
    np.testing.assert_array_equal(first.valid, (s2_dn != 0).any(axis=0))
    assert not first.valid[0, 0] and first.valid[20, 20]
    assert all(p.read_seconds > 0 and p.prepare_seconds > 0 for p in prepared)
    assert reader_threads() == []


def test_a_read_error_reaches_the_caller_at_its_block(scene, monkeypatch):
    source, blocks = scene
    read_window = source.read_window

    def failing_read(row, col, height, width):
        if row > 0:
            raise InputError(f"{source.s2_path}: cannot read rows {row}..{row + height}")
        return read_window(row, col, height, width)

    monkeypatch.setattr(source, "read_window", failing_read)
    taken = []
    with pytest.raises(InputError, match="cannot read rows"):
        with BlockReader(source, blocks, 64, PREPROCESS, depth=1) as reader:
            taken.extend(reader)
    assert taken and all(p.block.row == 0 for p in taken)
    assert reader_threads() == []


@pytest.mark.parametrize("read_delay", [0.0, 0.3])  # 0.3: the preprocessing thread waits on the reading one
def test_a_caller_that_stops_early_ends_both_threads(scene, monkeypatch, read_delay):
    source, blocks = scene
    read_window = source.read_window
    monkeypatch.setattr(
        source, "read_window", lambda row, *args: time.sleep(read_delay * (row > 0)) or read_window(row, *args)
    )

    def take_one_block():
        with BlockReader(source, blocks, 64, PREPROCESS, depth=1) as reader:
            next(iter(reader))

    caller = threading.Thread(target=take_one_block)  # a hang fails the test instead of stopping the run
    start = time.perf_counter()
    caller.start()
    caller.join(timeout=10)
    assert not caller.is_alive() and time.perf_counter() - start < 5 and reader_threads() == []


@pytest.mark.parametrize("offset", [0, -1000])
@pytest.mark.parametrize("s2_integer", [True, False], ids=["uint16 file", "float file"])
def test_prepared_tile_inputs_equal_the_two_pass_clip_and_nan_to_zero_bit_for_bit(s2_integer, offset):
    block = TileGrid(64, 160, 64, 16).blocks(160, 32)[0]
    rng = np.random.default_rng(1)
    dn = rng.integers(0, 12000, (13, 64, 160)).astype(np.float32)  # beyond the clip at both ends, offset or not
    dn[:, :5, :7] = 0  # nodata
    if not s2_integer:  # what only a float file holds: NaN and infinities, in some bands of some pixels
        dn[3, 10, 20] = np.nan
        dn[:, 11, 30] = np.nan
        dn[0, 40, 100], dn[12, 41, 100] = np.inf, -np.inf
    s1_db = rng.uniform(-30, 5, (2, 64, 160)).astype(np.float32)
    prepared = prepare_block(ReadBlock(block, s1_db.copy(), dn.copy(), 0.0), 64, PREPROCESS, None, offset, s2_integer)
    reference = PREPROCESS.optical(dn, offset=offset)  # NaN to reflectance 0, two passes
    valid = valid_pixels(dn, None)
    assert np.array_equal(prepared.valid, valid) and len(prepared.tiles) == len(block.tiles)
    for tile in prepared.tiles:
        window = (slice(None), slice(0, 64), slice(tile.col - block.col, tile.col - block.col + 64))
        sar, optical = prepared.inputs(tile, 64)
        expected = fill_invalid(reference[window], valid[window[1:]])
        assert np.array_equal(optical, expected) and np.isfinite(optical).all()
        assert np.array_equal(sar, PREPROCESS.sar(s1_db)[window])
