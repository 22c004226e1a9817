"""Remote inputs over HTTP: a real server on the loopback address, with Range requests, serving generated COGs.

The server counts the bytes it sends per file, so the tests prove that a scene restored from COGs
over HTTP reads them by block windows (not whole), that the output equals the local run's bit for
bit, that --resume identifies a remote input by its ETag, and that HTTP failures are one line each.
"""

import hashlib
import http.server
import json
import re
import subprocess
import sys
import threading
from email.utils import formatdate
from pathlib import Path

import pytest
import rasterio
import rasterio.shutil
from typer.testing import CliRunner

from ibhfn.runtime.cli import app

RANGE = re.compile(r"^bytes=(\d+)-(\d*)$")


class RangeServer(http.server.ThreadingHTTPServer):
    """Serves the files of a folder with HEAD, GET and single Range requests; counts the body bytes sent per file."""

    daemon_threads = True

    def __init__(self, folder: Path) -> None:
        super().__init__(("127.0.0.1", 0), RangeHandler)
        self.folder = folder
        self.sent: dict[str, int] = {}
        self.status: dict[str, int] = {}  # a file answered with this status instead (403, 404, ...)
        self.fail_beyond: dict[str, int] = {}  # a range of a file past this offset: from then on, 503
        self.lock = threading.Lock()

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/{name}"

    def reset(self) -> None:
        with self.lock:
            self.sent.clear()


class RangeHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as object stores serve

    def log_message(self, *args) -> None:
        """Quiet."""

    def _file(self) -> tuple[str, bytes] | None:
        name = self.path.lstrip("/").split("?")[0]
        status = self.server.status.get(name)
        path = self.server.folder / name
        if status is not None or not path.is_file():
            code = status or 404
            body = http.server.BaseHTTPRequestHandler.responses[code][0].encode()
            self.send_response(code)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command == "GET":
                self.wfile.write(body)
            return None
        return name, path.read_bytes()

    def _headers(self, code: int, data: bytes, length: int, extra: dict | None = None) -> None:
        self.send_response(code)
        self.send_header("Content-Length", str(length))
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("ETag", '"' + hashlib.md5(data).hexdigest() + '"')
        self.send_header("Last-Modified", formatdate(0, usegmt=True))
        self.send_header("Content-Type", "image/tiff")
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()

    def do_HEAD(self) -> None:
        found = self._file()
        if found is not None:
            self._headers(200, found[1], len(found[1]))

    def do_GET(self) -> None:
        found = self._file()
        if found is None:
            return
        name, data = found
        match = RANGE.match(self.headers.get("Range", ""))
        if match and int(match[1]) > self.server.fail_beyond.get(name, len(data)):
            self.server.status[name] = 503  # the server goes down half-way through the file, and stays down
            self._file()
            return
        if match:
            start = int(match[1])
            end = min(int(match[2]) if match[2] else len(data) - 1, len(data) - 1)
            body = data[start : end + 1]
            self._headers(206, data, len(body), {"Content-Range": f"bytes {start}-{end}/{len(data)}"})
        else:
            body = data
            self._headers(200, data, len(body))
        self.wfile.write(body)
        with self.server.lock:
            self.server.sent[name] = self.server.sent.get(name, 0) + len(body)


@pytest.fixture
def server(tmp_path):
    folder = tmp_path / "served"
    folder.mkdir()
    running = RangeServer(folder)
    thread = threading.Thread(target=running.serve_forever, daemon=True)
    thread.start()
    yield running
    running.shutdown()
    running.server_close()


def invoke(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def as_cog(source: Path, target: Path) -> Path:
    rasterio.shutil.copy(source, target, driver="COG", COMPRESS="DEFLATE", BLOCKSIZE=512)
    return target


def manifest(path: Path, rows: list[tuple[str, str, str]]) -> Path:
    path.write_text("s1,s2,name\n" + "".join(f"{s1},{s2},{name}\n" for s1, s2, name in rows))
    return path


@pytest.mark.slow
def test_a_remote_cog_restores_by_block_windows_as_the_local_file_does(tmp_path, server, onnx_engine_path, make_scene):
    s1, s2 = make_scene(tmp_path / "plain", "big", height=2048, width=2048)
    served = {name: as_cog(path, server.folder / name) for name, path in (("big_s1.tif", s1), ("big_s2.tif", s2))}
    local = manifest(tmp_path / "local.csv", [(served["big_s1.tif"], served["big_s2.tif"], "big")])
    remote = manifest(tmp_path / "remote.csv", [(server.url("big_s1.tif"), server.url("big_s2.tif"), "big")])
    assert invoke("--engine", onnx_engine_path, "-q", local, tmp_path / "local").exit_code == 0
    result = invoke("--engine", onnx_engine_path, remote, tmp_path / "remote")
    assert result.exit_code == 0, result.output
    for name, path in served.items():  # every block once, the overviews never: not the whole file
        assert 0 < server.sent[name] <= 1.1 * path.stat().st_size, (name, server.sent[name], path.stat().st_size)
    restored = (tmp_path / "remote" / "big.tif").read_bytes()
    assert restored == (tmp_path / "local" / "big.tif").read_bytes()
    record = json.loads((tmp_path / "remote" / "big.tif.json").read_text())
    assert record["inputs"]["s2"]["path"] == server.url("big_s2.tif")
    assert record["inputs"]["s2"]["size_bytes"] == served["big_s2.tif"].stat().st_size

    server.reset()  # the next runs are processes of their own, as a rerun is: no block is in GDAL's cache
    again = run_tool("--engine", onnx_engine_path, "--resume", remote, tmp_path / "remote")
    assert again.returncode == 0 and again.stdout.startswith("1 scenes: 0 done, 1 skipped"), again.stderr
    sizes = {name: path.stat().st_size for name, path in served.items()}
    # its ETag, not its bytes: what is read is the check of units on opening, S2's central 512 px (4 of 16 blocks)
    assert server.sent["big_s2.tif"] < 0.35 * sizes["big_s2.tif"]

    with rasterio.open(served["big_s2.tif"], "r+", IGNORE_COG_LAYOUT_BREAK="YES") as dataset:  # a new ETag
        dataset.update_tags(EDITED="yes")
    changed = run_tool("--engine", onnx_engine_path, "--resume", "-q", remote, tmp_path / "remote")
    assert changed.returncode == 0 and (tmp_path / "remote" / "big.tif").read_bytes() == restored, changed.stderr
    assert json.loads((tmp_path / "remote" / "big.tif.json").read_text())["fingerprint"] != record["fingerprint"]


def run_tool(*args) -> subprocess.CompletedProcess:
    code = "import sys; sys.argv[0] = 'ibhfn-run'; from ibhfn.runtime.cli import main; main()"
    return subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_http_failures_are_one_line_naming_the_url_and_status(tmp_path, server, onnx_engine_path, make_scene):
    for name, size in (("ok", 64), ("denied", 64), ("gone", 64), ("junk", 64), ("broken", 1024)):
        for path in make_scene(tmp_path / "plain", name, height=size, width=size):
            as_cog(path, server.folder / path.name)
    server.status["denied_s2.tif"] = 403
    (server.folder / "gone_s2.tif").unlink()
    (server.folder / "junk_s2.tif").write_bytes(b"<html>a login page, not a GeoTIFF</html>")
    server.fail_beyond["broken_s2.tif"] = (server.folder / "broken_s2.tif").stat().st_size // 2  # dies half-way
    closed = http.server.HTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    port = closed.server_address[1]
    closed.server_close()  # nothing listens there any more
    rows = [
        (server.url(f"{name}_s1.tif"), server.url(f"{name}_s2.tif"), name)
        for name in ("ok", "denied", "gone", "junk", "broken")
    ]
    rows.append((server.url("ok_s1.tif"), f"http://127.0.0.1:{port}/away_s2.tif", "away"))
    out = tmp_path / "out"
    result = invoke("--engine", onnx_engine_path, "-q", manifest(tmp_path / "scenes.csv", rows), out)
    assert result.exit_code == 2
    errors = {line.split(": ", 2)[1]: line for line in result.stderr.splitlines()}
    away = errors[f"http://127.0.0.1:{port}/away_s2.tif"]
    assert away.endswith("away_s2.tif: cannot be reached (Connection refused)")
    broken = errors[server.url("broken_s2.tif")]
    assert broken.startswith(f"error: {server.url('broken_s2.tif')}: cannot read rows ")
    assert "(HTTP 503 Service Unavailable; " in broken
    assert errors[server.url("denied_s2.tif")] == f"error: {server.url('denied_s2.tif')}: HTTP 403 Forbidden"
    assert errors[server.url("gone_s2.tif")] == f"error: {server.url('gone_s2.tif')}: HTTP 404 Not Found"
    assert errors[server.url("junk_s2.tif")].startswith(
        f"error: {server.url('junk_s2.tif')}: HTTP 200, yet GDAL cannot read it as a raster"
    )
    assert len(errors) == 5
    assert sorted(path.name for path in out.iterdir() if not path.name.endswith(".stac.json")) == [
        "ok.tif",
        "ok.tif.json",
    ]


def test_single_pair_and_stac_items_take_urls(tmp_path, server, onnx_engine_path, make_scene):
    for path in make_scene(tmp_path / "plain", "u", height=64, width=64):
        as_cog(path, server.folder / path.name)
    single = invoke(
        "--engine",
        onnx_engine_path,
        "--s1",
        server.url("u_s1.tif"),
        "--s2",
        server.url("u_s2.tif"),
        tmp_path / "single",
    )
    assert single.exit_code == 0, single.output
    items = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "id": f"u_{sensor}",
                "properties": {"datetime": "2024-01-01T00:00:00Z"},
                "links": [],
                "assets": {
                    "data": {
                        "href": server.url(f"u_{sensor}.tif"),
                        "type": "image/tiff; application=geotiff",
                        "roles": ["data"],
                    }
                },
            }
            for sensor in ("s1", "s2")
        ],
    }
    (tmp_path / "items.json").write_text(json.dumps(items))
    from_stac = invoke("--engine", onnx_engine_path, tmp_path / "items.json", tmp_path / "stac")
    assert from_stac.exit_code == 0, from_stac.output
    assert (tmp_path / "stac" / "u.tif").read_bytes() == (tmp_path / "single" / "u.tif").read_bytes()
    collected = invoke("--collect", tmp_path / "items.json", tmp_path / "stac")
    assert collected.exit_code == 0, collected.output


def test_an_item_collection_fetched_over_http_reads_its_relative_hrefs_there(
    tmp_path, server, onnx_engine_path, make_scene
):
    for path in make_scene(tmp_path / "plain", "v", height=64, width=64):
        (server.folder / "cogs").mkdir(exist_ok=True)
        as_cog(path, server.folder / "cogs" / path.name)
    items = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "id": f"v_{sensor}",
                "properties": {"datetime": "2024-01-01T00:00:00Z"},
                "links": [],
                "assets": {
                    "data": {
                        "href": f"cogs/v_{sensor}.tif",
                        "type": "image/tiff; application=geotiff",
                        "roles": ["data"],
                    }
                },
            }
            for sensor in ("s1", "s2")
        ],
    }
    (server.folder / "items.json").write_text(json.dumps(items))
    out = tmp_path / "out"
    result = invoke("--engine", onnx_engine_path, server.url("items.json"), out)
    assert result.exit_code == 0, result.output
    record = json.loads((out / "v.tif.json").read_text())
    assert record["inputs"]["s2"]["path"] == server.url("cogs/v_s2.tif")
    links = json.loads((out / "v.stac.json").read_text())["links"]
    assert {link["href"] for link in links} == {f"{server.url('items.json')}#v_{sensor}" for sensor in ("s1", "s2")}
    assert invoke("--collect", server.url("items.json"), out).exit_code == 0
    missing = invoke("--engine", onnx_engine_path, server.url("nothing.json"), tmp_path / "out2")
    assert missing.exit_code == 2 and missing.stderr == f"error: {server.url('nothing.json')}: HTTP 404 Not Found\n"
    assert not (tmp_path / "out2").exists()
