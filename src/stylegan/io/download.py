"""Downloads for checkpoints given as URLs: cached, atomic, checksummed.

``resolve(path_or_url)`` turns what the user typed into a local file. A URL is downloaded once into
the cache folder (see :func:`cache_dir`) under a name derived from the URL, so later runs need no
network. A download streams into a hidden ``.partial`` file and is renamed to its final name only
after the size (``Content-Length``) and, when given, the expected SHA-256 check out: a dropped
connection, a bad checksum or Ctrl-C never leaves a half file that a later run would pick up. The
SHA-256 of every download is recorded next to it (``<name>.json``), and a cached file that no
longer matches it is downloaded again.

Only ``http://`` and ``https://`` are downloaded; ``file://`` URLs are accepted by :func:`resolve`
and mean the local file they name (they are never copied into the cache).
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import json
import os
import re
import secrets
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tqdm import tqdm

from stylegan import __version__
from stylegan.errors import StyleGANError

CHUNK_SIZE = 1 << 20
_HINT = "download it yourself and pass the local path"


def cache_dir() -> Path:
    """The download cache: ``$STYLEGAN_CACHE``, else ``$XDG_CACHE_HOME/stylegan``, else
    ``~/.cache/stylegan``."""
    if os.environ.get("STYLEGAN_CACHE"):
        return Path(os.environ["STYLEGAN_CACHE"]).expanduser()
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]).expanduser() / "stylegan"
    return Path.home() / ".cache" / "stylegan"


def is_url(s: str | os.PathLike[str]) -> bool:
    """True for ``http://`` and ``https://`` URLs, the ones :func:`download` fetches."""
    return isinstance(s, str) and s.lower().startswith(("http://", "https://"))


def cached_name(url: str) -> str:
    """The file name a URL is cached under: ``<16 hex of sha256(url)>-<safe basename>``."""
    key = hashlib.sha256(url.encode("utf-8")).hexdigest()[:16]
    base = urllib.parse.unquote(urllib.parse.urlsplit(url).path).rsplit("/", 1)[-1]
    base = re.sub(r"[^A-Za-z0-9._-]+", "_", base).lstrip(".")[-100:] or "download"
    return f"{key}-{base}"


def download(
    url: str,
    *,
    sha256: str | None = None,
    cache: str | os.PathLike[str] | None = None,
    progress: bool = True,
    timeout: float = 60,
) -> Path:
    """Download ``url`` into the cache (once) and return the local path.

    A cached copy is used without any network access when it still matches the SHA-256 recorded at
    download time and, if given, ``sha256``; otherwise the file is downloaded again. ``cache``
    overrides :func:`cache_dir`; ``timeout`` (seconds) applies to connecting and to each read.
    """
    if not is_url(url):
        raise StyleGANError(f"not an http(s) URL: {url!r}")
    expected = _normalise_sha256(sha256)
    folder = Path(cache).expanduser() if cache is not None else cache_dir()
    target = folder / cached_name(url)
    if target.is_file() and _cached_copy_ok(target, url, expected):
        return target
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise StyleGANError(
            f"cannot create the download cache {folder} ({e.strerror or e}); "
            "set STYLEGAN_CACHE to a writable folder"
        ) from None
    _fetch(url, target, expected, progress=progress, timeout=timeout)
    return target


def resolve(path_or_url: str | os.PathLike[str], **kw: Any) -> Path:
    """A local path for ``path_or_url``, downloading it (see :func:`download`) if it is a URL.

    ``file://`` URLs name local files. With ``sha256=`` a local file is checked too; the other
    keyword arguments only matter for downloads.
    """
    if is_url(path_or_url):
        return download(str(path_or_url), **kw)
    s = os.fspath(path_or_url)
    scheme = s.split("://", 1)[0] if "://" in s else ""
    if scheme.lower() == "file":
        parts = urllib.parse.urlsplit(s)
        if parts.netloc not in ("", "localhost"):
            raise StyleGANError(f"file:// URL names another host: {s}; pass a local path")
        path = Path(urllib.request.url2pathname(parts.path))
    elif re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]+", scheme):
        raise StyleGANError(f"unsupported URL scheme {scheme!r} in {s}; use http(s) or {_HINT}")
    else:
        path = Path(s).expanduser()
    if not path.exists():
        raise StyleGANError(f"checkpoint not found: {path}")
    expected = _normalise_sha256(kw.get("sha256"))
    if expected is not None and path.is_file():
        digest = _file_sha256(path)
        if digest != expected:
            raise StyleGANError(
                f"checksum mismatch for {path}: expected {expected}, got {digest}; "
                "the file is damaged or not the one you meant"
            )
    return path


# ---- internals ----------------------------------------------------------------------------------


def _normalise_sha256(sha256: str | None) -> str | None:
    if sha256 is None:
        return None
    value = sha256.strip().lower()
    if not re.fullmatch(r"[0-9a-f]{64}", value):
        raise StyleGANError(f"not a SHA-256 checksum (64 hex digits): {sha256!r}")
    return value


def _sidecar(target: Path) -> Path:
    return target.with_name(target.name + ".json")


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK_SIZE):
            h.update(chunk)
    return h.hexdigest()


def _cached_copy_ok(target: Path, url: str, expected: str | None) -> bool:
    """Whether the cached ``target`` can be used as is; False means download it again."""
    try:
        record = json.loads(_sidecar(target).read_text(encoding="utf-8"))
        recorded = record["sha256"] if record.get("url") == url else ""
        size = record.get("size")
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        recorded, size = None, None  # no usable record: adopt the file if it checks out
    if recorded == "":
        return False  # the record belongs to another URL (hash collision): download again
    if recorded is not None and (
        (isinstance(size, int) and target.stat().st_size != size)
        or _file_sha256(target) != recorded
    ):
        print(f"cached {target} is damaged; downloading it again", file=sys.stderr)
        return False
    digest = recorded if recorded is not None else _file_sha256(target)
    if expected is not None and digest != expected:
        return False
    if recorded is None:
        with contextlib.suppress(OSError):  # a read-only cache is still usable
            _write_sidecar(target, url, digest, target.stat().st_size)
    return True


def _write_sidecar(target: Path, url: str, digest: str, size: int) -> None:
    record = {"url": url, "sha256": digest, "size": size, "time": time.time()}
    sidecar = _sidecar(target)
    tmp = sidecar.with_name(f".{sidecar.name}.{os.getpid()}-{secrets.token_hex(4)}.partial")
    try:
        tmp.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, sidecar)
    finally:
        tmp.unlink(missing_ok=True)


def _read_chunks(response: http.client.HTTPResponse) -> Iterator[bytes]:
    """The response body in chunks (a separate function so tests can interrupt it)."""
    while chunk := response.read(CHUNK_SIZE):
        yield chunk


def _fetch(url: str, target: Path, expected: str | None, *, progress: bool, timeout: float) -> None:
    """Stream ``url`` into a temporary file, check it, and rename it to ``target``."""
    host = urllib.parse.urlsplit(url).netloc
    request = urllib.request.Request(url, headers={"User-Agent": f"stylegan/{__version__}"})
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as e:
        e.close()
        raise StyleGANError(
            f"download of {url} failed (HTTP {e.code} {e.reason}); check the URL or {_HINT}"
        ) from None
    except urllib.error.URLError as e:
        raise StyleGANError(
            f"could not reach {host} ({_reason(e.reason)}); "
            f"check your network connection and the URL, or {_HINT}"
        ) from None
    except (OSError, http.client.HTTPException) as e:
        raise StyleGANError(
            f"download of {url} failed ({_reason(e)}); try again, or {_HINT}"
        ) from None

    _remove_stale_partials(target)
    tmp = target.with_name(f".{target.name}.{os.getpid()}-{secrets.token_hex(4)}.partial")
    kept = False
    size = 0
    try:
        with response:
            total = _content_length(response)
            h = hashlib.sha256()
            with (
                open(tmp, "xb") as f,
                tqdm(
                    total=total,
                    desc=target.name.split("-", 1)[1],
                    unit="B",
                    unit_scale=True,
                    unit_divisor=1024,
                    file=sys.stderr,
                    disable=not progress,
                ) as bar,
            ):
                chunks = _read_chunks(response)
                while True:
                    try:
                        chunk = next(chunks, b"")
                    except (OSError, http.client.HTTPException) as e:
                        raise StyleGANError(
                            f"download of {url} broke off after {size} bytes ({_reason(e)}); "
                            "nothing was kept, try again"
                        ) from None
                    if not chunk:
                        break
                    h.update(chunk)
                    f.write(chunk)
                    size += len(chunk)
                    bar.update(len(chunk))
        if total is not None and size != total:
            raise StyleGANError(
                f"download of {url} was cut off after {size} of {total} bytes; "
                "nothing was kept, try again"
            )
        digest = h.hexdigest()
        if expected is not None and digest != expected:
            raise StyleGANError(
                f"checksum mismatch for {url}: expected {expected}, got {digest}; "
                "the file was not kept"
            )
        _write_sidecar(target, url, digest, size)  # first: a record without its file is harmless
        os.replace(tmp, target)
        kept = True
    except OSError as e:  # network errors were turned into StyleGANError above: this is the disk
        raise StyleGANError(
            f"could not write the download to {target.parent} ({e.strerror or e}); "
            "free some space or set STYLEGAN_CACHE to another folder"
        ) from None
    finally:
        if not kept:
            tmp.unlink(missing_ok=True)


def _remove_stale_partials(target: Path, max_age: float = 24 * 3600) -> None:
    """Delete this file's ``.partial`` leftovers of killed processes (untouched for a day)."""
    for p in target.parent.glob(f".{target.name}.*.partial"):
        with contextlib.suppress(OSError):
            if time.time() - p.stat().st_mtime > max_age:
                p.unlink()


def _content_length(response: http.client.HTTPResponse) -> int | None:
    if response.getheader("Content-Encoding", "identity").lower() != "identity":
        return None  # the length is that of the encoded body, not of what we write
    value = response.getheader("Content-Length")
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _reason(e: object) -> str:
    """A short human reason for a network error."""
    if isinstance(e, TimeoutError):
        return "timed out"
    if isinstance(e, http.client.IncompleteRead):
        return "connection closed early"
    if isinstance(e, OSError) and e.strerror:
        return e.strerror
    return str(e) or type(e).__name__
