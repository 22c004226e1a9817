import threading

import numpy as np
import pytest

from ibhfn.runtime.block_reader import PreparedBlock
from ibhfn.runtime.tile_batches import TileBatcher
from ibhfn.runtime.tiling import TileGrid

TILE = 32
BANDS = (2, 13)


def prepared_blocks(empty_tile_rows: tuple[int, ...] = ()) -> list[PreparedBlock]:
    """The blocks of a 100 x 90 scene whose inputs hold each pixel's scene position; some tile rows all nodata."""
    blocks = TileGrid(100, 90, TILE, 8).blocks(64, 8)
    prepared = []
    for block in blocks:
        rows, cols = np.mgrid[block.row:block.row + block.height, block.col:block.col + block.width]
        position = (rows * 1000 + cols).astype(np.float32)
        empty = block.tile_row in empty_tile_rows
        valid = np.full(position.shape, not empty)
        sar = np.broadcast_to(position, (BANDS[0], *position.shape)).copy()
        optical = np.broadcast_to(-position, (BANDS[1], *position.shape)).copy()
        tiles = [] if empty else list(block.tiles)
        prepared.append(PreparedBlock(block, valid, tiles, 0.0, 0.0, sar, optical))
    return prepared


def batcher_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name == "ibhfn-batcher"]


def cut(blocks: list[PreparedBlock], batch: int, *, pad: bool = False, give_back: bool = True) -> list:
    with TileBatcher(iter(blocks), tile=TILE, batch=batch, bands=BANDS, pad=pad, depth=1) as batcher:
        batches = []
        for one in batcher:
            batches.append((one, [a.copy() for a in one.arrays] if one.arrays else None, id(one.inputs)))
            if give_back:
                batcher.give_back(one)
    assert batcher_threads() == []
    return batches


def test_batches_span_blocks_in_order_with_each_tile_s_inputs():
    blocks = prepared_blocks()
    expected = [(p.block, tile) for p in blocks for tile in p.tiles]
    tiles = {(p.block, tile): p.inputs(tile, TILE) for p in blocks for tile in p.tiles}
    batches = cut(blocks, batch=3)
    members = [(p.block, tile) for one, _, _ in batches for p, tile in one.members]
    assert members == expected and len({block for block, _ in expected}) > 3
    for one, (sar, optical), _ in batches:
        assert len(sar) == len(one.members) <= 3
        for index, (p, tile) in enumerate(one.members):
            np.testing.assert_array_equal(sar[index], tiles[(p.block, tile)][0])
            np.testing.assert_array_equal(optical[index], tiles[(p.block, tile)][1])
    assert all(p.sar is None and p.optical is None for p in blocks)  # inputs dropped once copied


def test_batches_are_cut_in_a_thread_of_their_own(monkeypatch):
    seen = set()
    inputs = PreparedBlock.inputs

    def watched(self, tile, size):
        seen.add(threading.current_thread().name)
        return inputs(self, tile, size)

    monkeypatch.setattr(PreparedBlock, "inputs", watched)
    cut(prepared_blocks(), batch=4)
    assert seen == {"ibhfn-batcher"}


def test_arrays_given_back_are_filled_again_and_others_are_not():
    assert len({ident for _, _, ident in cut(prepared_blocks(), batch=2)}) <= 3  # in use, queued, being filled
    kept = cut(prepared_blocks(), batch=2, give_back=False)
    assert len({ident for _, _, ident in kept}) == len(kept) > 3


def test_blocks_without_tiles_come_in_order_and_a_last_batch_of_them_is_not_run():
    blocks = prepared_blocks(empty_tile_rows=(1, 3))
    batches = cut(blocks, batch=4)
    members = [p.block for one, _, _ in batches for p, _ in one.members]
    assert members == [p.block for p in blocks for _ in (p.tiles or [None])]
    last, arrays, _ = batches[-1]
    assert last.inputs is None and arrays is None and all(tile is None for _, tile in last.members)
    assert all(one.inputs is not None for one, _, _ in batches[:-1])


def test_a_fixed_batch_pads_the_last_one_with_zeros():
    blocks = prepared_blocks()
    tiles = sum(len(p.tiles) for p in blocks)
    batch = 3
    assert tiles % batch  # so the last batch is partial
    one, (sar, optical), _ = cut(blocks, batch=batch, pad=True)[-1]
    filled = tiles % batch
    assert sar.shape[0] == optical.shape[0] == batch and len(one.members) == filled
    assert not sar[filled:].any() and not optical[filled:].any() and optical[:filled].any()


def test_an_error_among_the_blocks_reaches_the_caller_and_ends_the_thread():
    def failing():
        yield from prepared_blocks()[:2]
        raise ValueError("block 3 broke")

    with pytest.raises(ValueError, match="block 3 broke"):
        with TileBatcher(failing(), tile=TILE, batch=2, bands=BANDS, pad=False, depth=1) as batcher:
            list(batcher)
    assert batcher_threads() == []
