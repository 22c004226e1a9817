"""Remote inputs: scenes read through GDAL's virtual file systems (https://, /vsicurl/, /vsis3/, ...).

A remote input travels through the runtime as a path GDAL reads, `/vsicurl/https://host/x.tif`
(a path joins it unchanged, as it is absolute; pathlib folds its `//`, which GDAL reads alike).
It is read with GDAL's options for cloud-optimised GeoTIFFs (`COG_READ_OPTIONS`: no directory
listing, a bounded cache, retries), by the same block windows as a local file; `--resume` hashes
its ETag, size and Last-Modified, not its bytes; a failure names the URL and the HTTP status.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path

import rasterio
from rasterio.errors import RasterioError

from ibhfn.errors import InputError

_URL = re.compile(r"^(https?):/+", re.IGNORECASE)  # a Path folds "https://" into "https:/": both are URLs
CURL = "/vsicurl/"
VIRTUAL_PREFIXES = (CURL, "/vsis3/", "/vsigs/", "/vsiaz/", "/vsiadls/", "/vsioss/", "/vsiswift/", "/vsiwebhdfs/")
HEAD_TIMEOUT_S = 30
MAX_DOCUMENT_BYTES = 64 * 2**20  # a remote ItemCollection larger than this is refused, not read into memory
# GDAL configuration for reading COGs over HTTP: no listing of the folder on open, a bounded chunk cache,
# retries on 429/5xx, and no sidecar probing beyond what is asked.
COG_READ_OPTIONS: Mapping[str, object] = {
    "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",
    "CPL_VSIL_CURL_ALLOWED_EXTENSIONS": ".tif,.tiff,.TIF,.TIFF",
    "CPL_VSIL_CURL_CACHE_SIZE": 64 * 2**20,
    "CPL_VSIL_CURL_CHUNK_SIZE": 256 * 2**10,
    "VSI_CACHE": "TRUE",
    "VSI_CACHE_SIZE": 32 * 2**20,
    "GDAL_HTTP_MAX_RETRY": 4,
    "GDAL_HTTP_RETRY_DELAY": 0.5,
    "GDAL_HTTP_TIMEOUT": 60,
    "GDAL_HTTP_MERGE_CONSECUTIVE_RANGES": "YES",
}
_STATUS = re.compile(r"HTTP (?:response )?(?:code|status)[: =]*(\d{3})", re.IGNORECASE)


def is_remote(path: str | Path) -> bool:
    """Whether `path` names a remote input (a URL or a GDAL virtual file system path), not a local file."""
    text = str(path)
    return bool(_URL.match(text)) or text.startswith(VIRTUAL_PREFIXES)


def gdal_path(text: str) -> str:
    """The path GDAL reads for an input as a user writes it: a URL goes through /vsicurl/, anything else as it is."""
    return CURL + text if _URL.match(text) else text


def input_path(text: str, base: Path | None = None) -> Path:
    """An input as a Path: remote ones in GDAL's form, local ones relative to `base` where given."""
    if is_remote(text):
        return Path(gdal_path(text))
    return base / text if base is not None else Path(text)


def url_of(path: str | Path) -> str | None:
    """The http(s) URL a /vsicurl/ path reads (its `//` restored), or None for other paths."""
    text = str(path)
    if text.startswith(CURL):
        text = text[len(CURL) :]
    return _URL.sub(r"\1://", text) if _URL.match(text) else None


def shown(path: str | Path) -> str:
    """How a message names an input: a remote one by its URL, a local one by its path."""
    return url_of(path) or str(path)


def http_status(message: str) -> int | None:
    """The HTTP status a GDAL error message reports, if it reports one."""
    match = _STATUS.search(message)
    return int(match[1]) if match else None


def read_failure(path: str | Path, exc: BaseException) -> str:
    """Why a block read of a remote input failed, on one line: the HTTP status its server now answers, else GDAL's."""
    messages: list[str] = []
    seen: BaseException | None = exc
    while seen is not None and len(messages) < 8:  # rasterio's "see previous exception" chain
        messages.append(" ".join(str(seen).split()))
        seen = seen.__cause__ or seen.__context__
    detail = messages[-1] or type(exc).__name__
    url = url_of(path)
    problem = http_problem(url) if url else ""
    return detail if not problem or problem.startswith("HTTP 2") else f"{problem}; {detail}"


def remote_facts(path: str | Path) -> tuple[int, str]:
    """(size in bytes, a sha256 of its ETag, size and Last-Modified) of a remote input, from one HEAD request.

    What `--resume` compares: a changed object gets a new ETag or Last-Modified, and nothing is downloaded.
    """
    url = url_of(path)
    if url is None:  # /vsis3/ and the like: no unsigned HEAD; a new identity every run, so --resume recomputes it
        return -1, "unidentified-" + secrets.token_hex(16)
    request = urllib.request.Request(url, method="HEAD")
    try:
        with urllib.request.urlopen(request, timeout=HEAD_TIMEOUT_S) as response:
            headers = response.headers
    except urllib.error.HTTPError as exc:
        raise InputError(f"{url}: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise InputError(f"{url}: cannot be reached ({_reason(exc)})") from None
    size = int(headers.get("Content-Length") or -1)
    identity = "\n".join([url, headers.get("ETag") or "", str(size), headers.get("Last-Modified") or ""])
    return size, hashlib.sha256(identity.encode()).hexdigest()


def http_problem(url: str) -> str:
    """What a HEAD request says of `url`: "HTTP <status> <reason>", or why it cannot be reached."""
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=HEAD_TIMEOUT_S) as response:
            return f"HTTP {response.status}, yet GDAL cannot read it as a raster"
    except urllib.error.HTTPError as exc:
        return f"HTTP {exc.code} {exc.reason}"
    except (urllib.error.URLError, OSError) as exc:
        return f"cannot be reached ({_reason(exc)})"


def fetch_text(path: str | Path) -> str:
    """The text of a small remote document (a STAC ItemCollection), or InputError naming its URL and HTTP status."""
    url = url_of(path)
    if url is None:
        raise InputError(f"{path}: only an http(s) document can be fetched; download it and give the file")
    try:
        with urllib.request.urlopen(url, timeout=HEAD_TIMEOUT_S) as response:
            data = response.read(MAX_DOCUMENT_BYTES + 1)
    except urllib.error.HTTPError as exc:
        raise InputError(f"{url}: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise InputError(f"{url}: cannot be reached ({_reason(exc)})") from None
    if len(data) > MAX_DOCUMENT_BYTES:
        raise InputError(f"{url}: more than {MAX_DOCUMENT_BYTES // 2**20} MiB; split the ItemCollection")
    try:
        return str(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise InputError(f"{url}: not UTF-8 text; give a STAC ItemCollection (JSON)") from None


def _reason(exc: BaseException) -> str:
    """Why a server could not be reached, in words ("Connection refused"), without the errno."""
    reason = getattr(exc, "reason", exc)
    return getattr(reason, "strerror", None) or str(reason)


def open_remote(path: Path) -> rasterio.DatasetReader:
    """Open a remote raster with the COG read options, or raise InputError naming its URL and the HTTP status."""
    try:
        with rasterio.Env(**COG_READ_OPTIONS):
            url = url_of(path)
            return rasterio.open(CURL + url if url else str(path))  # GDAL's own form, "//" and all
    except RasterioError as exc:
        url = url_of(path)
        message = " ".join(str(exc).split())
        if url is None:
            raise InputError(f"{path}: cannot be opened ({message})") from None
        problem = http_problem(url)  # GDAL's message may not carry the status: ask the server once more
        status = http_status(message)
        if problem.startswith("HTTP 2"):
            problem = f"HTTP {status}" if status else f"{problem} ({message})"
        raise InputError(f"{url}: {problem}") from None
