"""Downloads: cached once, checked, atomic (nothing half-written is ever kept), clear errors."""

import hashlib
import json
import os
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from stylegan.errors import StyleGANError
from stylegan.io import download as dl

PAYLOAD = os.urandom(300 * 1024)
SHA = hashlib.sha256(PAYLOAD).hexdigest()


class _Handler(BaseHTTPRequestHandler):
    """Serves ``server.routes[path] = (status, body, content_length[, headers])``; logs requests."""

    def do_GET(self):
        server = self.server
        with server.lock:
            server.requests.append(self.path)
        status, body, length, *headers = server.routes.get(self.path, (404, b"not here", None))
        self.send_response(status)
        for key, value in (headers[0] if headers else {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def _httpd():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    httpd.lock = threading.Lock()
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def server(_httpd, tmp_path, monkeypatch):
    """A fresh route table and request log; cache and env pointed at ``tmp_path``."""
    _httpd.routes = {"/ckpt/model.pkl": (200, PAYLOAD, None)}
    _httpd.requests = []
    _httpd.base = f"http://127.0.0.1:{_httpd.server_address[1]}"
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("STYLEGAN_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # never touch the real ~/.cache
    monkeypatch.setenv("no_proxy", "*")
    monkeypatch.setenv("NO_PROXY", "*")
    return _httpd


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*")) if folder.exists() else []


def test_download_caches_and_records_checksum(server, tmp_path, capsys):
    url = server.base + "/ckpt/model.pkl"
    path = dl.download(url)
    assert path.parent == tmp_path / "cache"
    assert path.name == dl.cached_name(url) and path.name.endswith("-model.pkl")
    assert path.read_bytes() == PAYLOAD
    record = json.loads(path.with_name(path.name + ".json").read_text())
    assert record["sha256"] == SHA and record["size"] == len(PAYLOAD) and record["url"] == url
    assert "model.pkl" in capsys.readouterr().err  # the progress bar
    assert _leftovers(tmp_path / "cache") == sorted([path.name, path.name + ".json"])

    assert dl.download(url, sha256=SHA.upper(), progress=False) == path
    assert dl.resolve(url, progress=False) == path
    assert server.requests == ["/ckpt/model.pkl"]  # the later calls made no request


def test_cache_folder_choice(server, tmp_path, monkeypatch):
    url = server.base + "/ckpt/model.pkl"
    explicit = dl.download(url, cache=tmp_path / "mine", progress=False)
    assert explicit.parent == tmp_path / "mine" and explicit.read_bytes() == PAYLOAD

    monkeypatch.setenv("STYLEGAN_CACHE", str(tmp_path / "env"))
    assert dl.cache_dir() == tmp_path / "env"
    assert dl.download(url, progress=False).parent == tmp_path / "env"
    monkeypatch.delenv("STYLEGAN_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert dl.cache_dir() == tmp_path / "xdg" / "stylegan"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert dl.cache_dir() == Path.home() / ".cache" / "stylegan"


def test_checksum_mismatch_keeps_nothing(server, tmp_path):
    url = server.base + "/ckpt/model.pkl"
    wrong = "0" * 64
    with pytest.raises(StyleGANError, match="checksum mismatch") as info:
        dl.download(url, sha256=wrong, progress=False)
    message = str(info.value)
    assert "\n" not in message and wrong in message and SHA in message and "not kept" in message
    assert _leftovers(tmp_path / "cache") == []
    with pytest.raises(StyleGANError, match="64 hex"):
        dl.download(url, sha256="abc", progress=False)


def test_truncated_download_keeps_nothing(server, tmp_path):
    server.routes["/short.pkl"] = (200, PAYLOAD[:1000], len(PAYLOAD))
    with pytest.raises(StyleGANError, match=r"cut off after 1000 of \d+ bytes"):
        dl.download(server.base + "/short.pkl", progress=False)
    assert _leftovers(tmp_path / "cache") == []


def test_http_error_is_one_line(server):
    with pytest.raises(StyleGANError, match="HTTP 404") as info:
        dl.download(server.base + "/missing.pkl", progress=False)
    assert "\n" not in str(info.value) and "local path" in str(info.value)


def test_unreachable_host(server, tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(StyleGANError, match="could not reach") as info:
        dl.download(f"http://127.0.0.1:{port}/x.pkl", progress=False, timeout=5)
    assert "\n" not in str(info.value)
    assert _leftovers(tmp_path / "cache") == []


def test_corrupted_cache_is_downloaded_again(server, capsys):
    url = server.base + "/ckpt/model.pkl"
    path = dl.download(url, progress=False)
    data = bytearray(path.read_bytes())
    data[1234] ^= 0xFF
    path.write_bytes(bytes(data))
    assert dl.download(url, progress=False) == path
    assert path.read_bytes() == PAYLOAD
    assert "damaged" in capsys.readouterr().err
    path.write_bytes(PAYLOAD[:10])  # a short file too
    assert dl.download(url, progress=False).read_bytes() == PAYLOAD
    assert len(server.requests) == 3


def test_cached_file_without_record_is_adopted_if_it_checks_out(server):
    url = server.base + "/ckpt/model.pkl"
    path = dl.download(url, progress=False)
    path.with_name(path.name + ".json").unlink()
    assert dl.download(url, sha256=SHA, progress=False) == path
    assert json.loads(path.with_name(path.name + ".json").read_text())["sha256"] == SHA
    assert len(server.requests) == 1


@pytest.mark.parametrize(
    "error, expected",
    [(KeyboardInterrupt, KeyboardInterrupt), (ConnectionResetError, StyleGANError)],
    ids=["ctrl-c", "connection-reset"],
)
def test_interrupted_stream_keeps_nothing(server, tmp_path, monkeypatch, error, expected):
    monkeypatch.setattr(dl, "CHUNK_SIZE", 64 * 1024)
    real = dl._read_chunks

    def interrupted(response):
        chunks = real(response)
        yield next(chunks)
        raise error

    monkeypatch.setattr(dl, "_read_chunks", interrupted)
    with pytest.raises(expected) as info:
        dl.download(server.base + "/ckpt/model.pkl", progress=False)
    if expected is StyleGANError:
        assert "broke off after 65536 bytes" in str(info.value)
    assert _leftovers(tmp_path / "cache") == []
    monkeypatch.setattr(dl, "_read_chunks", real)
    assert dl.download(server.base + "/ckpt/model.pkl", progress=False).read_bytes() == PAYLOAD


def test_redirect_is_followed(server):
    server.routes["/latest.pkl"] = (302, b"", None, {"Location": "/ckpt/model.pkl"})
    path = dl.download(server.base + "/latest.pkl", progress=False)
    assert path.name.endswith("-latest.pkl") and path.read_bytes() == PAYLOAD
    assert server.requests == ["/latest.pkl", "/ckpt/model.pkl"]


def test_resolve_local_paths(server, tmp_path):
    local = tmp_path / "G.safetensors"
    local.write_bytes(b"x")
    assert dl.resolve(local) == local
    assert dl.resolve(str(local)) == local
    assert dl.resolve(local.as_uri()) == local
    assert dl.resolve(local, sha256=hashlib.sha256(b"x").hexdigest()) == local
    with pytest.raises(StyleGANError, match="checksum mismatch"):
        dl.resolve(local, sha256="1" * 64)
    with pytest.raises(StyleGANError, match="checkpoint not found: .*nope.pkl"):
        dl.resolve(tmp_path / "nope.pkl")
    with pytest.raises(StyleGANError, match="unsupported URL scheme 'ftp'"):
        dl.resolve("ftp://example.com/G.pkl")
    assert server.requests == []


def test_url_helpers():
    assert dl.is_url("https://example.com/a.pkl") and dl.is_url("HTTP://example.com/a.pkl")
    assert not dl.is_url("file:///tmp/a.pkl") and not dl.is_url("/tmp/a.pkl")
    assert not dl.is_url(Path("http:/x"))
    a = dl.cached_name("https://example.com/x/stylegan2-ffhq%201024.pkl?download=1")
    assert a.endswith("-stylegan2-ffhq_1024.pkl") and len(a.split("-", 1)[0]) == 16
    assert a != dl.cached_name("https://example.org/x/stylegan2-ffhq%201024.pkl")
    assert dl.cached_name("https://example.com/").endswith("-download")
    assert dl.cached_name("https://example.com/..").endswith("-download")
