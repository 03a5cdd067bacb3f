# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the verified_download tests share: an artifact server on 127.0.0.1, tar archives, a fake module."""

from __future__ import annotations

import contextlib
import hashlib
import http.server
import io
import os
import shutil
import subprocess
import tarfile
import threading
import typing as t
from pathlib import Path

import pytest


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def sha512(data: bytes) -> str:
    return "sha512:" + hashlib.sha512(data).hexdigest()


class ArtifactServer:
    """Serves C(files) (path -> bytes) over HTTP on 127.0.0.1 and an ephemeral port, records every
    request path. A path in C(broken) sends its full Content-Length but only half the bytes and
    closes; in C(unsized) it sends half the bytes with no Content-Length at all."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.broken: set[str] = set()
        self.unsized: set[str] = set()
        self.requests: list[str] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests.append(self.path)
                data = server.files.get(self.path)
                if data is None:
                    self.send_error(404, "Not Found")
                    return
                self.send_response(200)
                if self.path in server.unsized:
                    self.end_headers()
                    self.wfile.write(data[: len(data) // 2])
                    self.close_connection = True
                    return
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.path in server.broken:
                    self.wfile.write(data[: len(data) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(data)

            def log_message(self, format: str, *args: t.Any) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    def __enter__(self) -> ArtifactServer:
        self.thread.start()
        return self

    def __exit__(self, *exc_info: t.Any) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"

    def add(self, path: str, data: bytes) -> str:
        self.files[path] = data
        return self.url(path)

    def asked(self, path: str) -> int:
        return self.requests.count(path)


@contextlib.contextmanager
def serving(monkeypatch: pytest.MonkeyPatch) -> t.Iterator[ArtifactServer]:
    """A running ArtifactServer, for a test module's C(server) fixture."""
    # The tests talk to 127.0.0.1 only; a proxy from the environment must not take the requests.
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    with ArtifactServer() as running:
        yield running


def make_tar(members: list[dict], compression: str = "gz") -> bytes:
    """A tar archive from member dicts: name, and one of data (a file), dir, symlink, hardlink, chr;
    mode optional."""
    buffer = io.BytesIO()
    mode = "w" if compression in ("", "zst") else f"w:{compression}"
    with tarfile.open(fileobj=buffer, mode=mode, format=tarfile.GNU_FORMAT) as tar:
        for member in members:
            info = tarfile.TarInfo(member["name"])
            info.mtime = 1_700_000_000
            data = None
            if "data" in member:
                data = member["data"]
                info.size = len(data)
                info.mode = member.get("mode", 0o644)
            elif member.get("dir"):
                info.type = tarfile.DIRTYPE
                info.mode = member.get("mode", 0o755)
            elif "symlink" in member:
                info.type = tarfile.SYMTYPE
                info.linkname = member["symlink"]
            elif "hardlink" in member:
                info.type = tarfile.LNKTYPE
                info.linkname = member["hardlink"]
            elif member.get("chr"):
                info.type = tarfile.CHRTYPE
                info.devmajor, info.devminor = 1, 3
            elif member.get("fifo"):
                info.type = tarfile.FIFOTYPE
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    raw = buffer.getvalue()
    if compression == "zst":
        return subprocess.run(["zstd", "-q", "-c"], input=raw, stdout=subprocess.PIPE, check=True).stdout
    return raw


class FakeModule:
    """What the library uses of AnsibleModule."""

    def __init__(self, *, check_mode: bool = False, binaries: bool = True) -> None:
        self.check_mode = check_mode
        self.binaries = binaries

    def get_bin_path(self, name: str, required: bool = False, opt_dirs: t.Any = None) -> str | None:
        return shutil.which(name) if self.binaries else None


def listing(directory: Path) -> list[str]:
    """Every name below C(directory), hidden ones included, relative and sorted."""
    if not directory.exists():
        return []
    return sorted(
        str(Path(base, name).relative_to(directory))
        for base, dirs, files in os.walk(directory)
        for name in dirs + files
    )
