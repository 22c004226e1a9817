import hashlib
import threading

import pytest

from ibhfn.hashing import HashingStopped, file_sha256


@pytest.mark.parametrize("size", [0, 1, 1023, 1024, 1025, 5000])
def test_file_sha256_is_hashlib_s_over_chunk_edges(tmp_path, size):
    data = bytes(range(256)) * (size // 256 + 1)
    path = tmp_path / "file.bin"
    path.write_bytes(data[:size])
    assert file_sha256(path, chunk=1024) == hashlib.sha256(data[:size]).hexdigest()


def test_a_stopped_hash_ends_with_hashing_stopped(tmp_path):
    path = tmp_path / "file.bin"
    path.write_bytes(b"x" * 5000)
    stop = threading.Event()
    stop.set()
    with pytest.raises(HashingStopped):
        file_sha256(path, chunk=1024, stop=stop)
