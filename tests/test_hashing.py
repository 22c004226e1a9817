import hashlib

import pytest

from ibhfn.hashing import file_sha256


@pytest.mark.parametrize("size", [0, 1, 1023, 1024, 1025, 5000])
def test_file_sha256_is_hashlib_s_over_chunk_edges(tmp_path, size):
    data = bytes(range(256)) * (size // 256 + 1)
    path = tmp_path / "file.bin"
    path.write_bytes(data[:size])
    assert file_sha256(path, chunk=1024) == hashlib.sha256(data[:size]).hexdigest()
