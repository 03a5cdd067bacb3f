"""Static file servers on the host's loopback for the lab's nodes, started and stopped by name.

A node reaches the host's 127.0.0.1 as 10.0.2.2 (qemu user networking), so a server bound to
127.0.0.1 serves the lab's nodes and the host, and nothing else: lab traffic stays in the lab.

A server runs detached, in its own session, with /dev/null as stdin and its output in its state
folder, so it never holds the caller's terminal or pipes. Its state folder CACHE/servers/NAME/
holds server.pid, state.json (name, port, root, pid), requests.log (one line per request:
time, client, method, path, status) and server.log (the server's own errors). Its command line
carries the marker nodelab-NAME-server and its state folder, so it is found and stopped even
when the folder is gone.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import re
import shutil
import signal
import socketserver
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from . import host

BIND = "127.0.0.1"
# The host's loopback as a lab node sees it.
GUEST_HOST = "10.0.2.2"
MARKER = "nodelab"
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
START_SECONDS = 30
STOP_SECONDS = 5


def servers_root() -> Path:
    return host.CACHE / "servers"


def server_dir(name: str) -> Path:
    if not NAME.match(name):
        raise SystemExit(f"nodelab: a server name is letters, digits, '.', '_' and '-': not {name!r}")
    return servers_root() / name


def marker(name: str) -> str:
    return f"{MARKER}-{name}-server"


def state(name: str) -> dict | None:
    """What state.json says of a server, or None."""
    try:
        return json.loads((server_dir(name) / "state.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def start(name: str, root: Path, port: int | None = None) -> int:
    """Serve root on 127.0.0.1 (port, or a free one) as server name; return the port.

    A server of that name already serving root (on port, if given) is kept; any other is replaced.
    """
    folder = server_dir(name)
    root = root.resolve()
    if not root.is_dir():
        raise SystemExit(f"nodelab: no folder {root} to serve")
    known = state(name)
    if known and known["root"] == str(root) and port in (None, known["port"]) and running(name):
        return known["port"]
    stop(name)
    folder.mkdir(parents=True)
    lab_path = str(Path(__file__).resolve().parents[1])
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [lab_path, os.environ.get("PYTHONPATH")])))
    command = [
        sys.executable,
        "-m",
        "labvm.serve",
        marker(name),
        "--state",
        str(folder),
        "--root",
        str(root),
        "--port",
        str(port or 0),
    ]
    # The child binds, forks the server and exits: the server is nobody's child here, holds none of
    # the caller's streams, and is listening when start returns.
    with open(folder / "server.log", "ab") as out:
        child = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=out, stderr=out, cwd="/", env=env, start_new_session=True
        )
    try:
        code = child.wait(timeout=START_SECONDS)
    except subprocess.TimeoutExpired:
        child.kill()
        code = child.wait()
    known = state(name)
    if code != 0 or not known:
        reason = (folder / "server.log").read_text(encoding="utf-8", errors="replace").strip()
        stop(name)
        raise SystemExit(f"nodelab: server {name} did not start: {reason or f'exit code {code}'}")
    host.log(f"server {name} serves {root} on {BIND}:{known['port']} (nodes: http://{GUEST_HOST}:{known['port']}/)")
    return known["port"]


def stop(name: str) -> bool:
    """Stop server name (if it runs) and remove its state folder; True if a process was stopped."""
    folder = server_dir(name)
    pids = set(processes(lambda found: found == name))
    with contextlib.suppress(OSError, ValueError):
        pid = int((folder / "server.pid").read_text(encoding="utf-8"))
        if server_of(pid) == name:
            pids.add(pid)
    terminate(sorted(pids))
    shutil.rmtree(folder, ignore_errors=True)
    if pids:
        host.log(f"stopped server {name}")
    return bool(pids)


def stop_prefix(prefix: str = "") -> list[str]:
    """Stop every server whose name starts with prefix (all with ""); return their names."""
    folders = servers_root().glob("*") if servers_root().exists() else []
    names = {folder.name for folder in folders if folder.name.startswith(prefix)}
    names |= set(processes(lambda found: found.startswith(prefix)).values())
    for name in sorted(names):
        stop(name)
    return sorted(names)


def running(name: str) -> bool:
    return bool(processes(lambda found: found == name))


def requests(name: str) -> list[dict]:
    """The requests server name answered, oldest first: time, client, method, path, status."""
    log = server_dir(name) / "requests.log"
    if not log.exists():
        raise SystemExit(f"nodelab: no server {name}")
    keys = ("time", "client", "method", "path", "status")
    return [
        dict(zip(keys, line.split(" "), strict=True)) for line in log.read_text(encoding="utf-8").splitlines() if line
    ]


def _command_lines():
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            with contextlib.suppress(OSError):
                yield int(proc.name), (proc / "cmdline").read_bytes().decode(errors="replace").split("\0")


def _server_name(args: list[str]) -> str | None:
    """The server name of a command line start() wrote into this cache's servers folder, or None."""
    try:
        at = args.index("labvm.serve")
        folder = Path(args[args.index("--state", at) + 1])
    except (ValueError, IndexError):
        return None
    if at + 1 < len(args) and args[at + 1] == marker(folder.name) and folder.parent == servers_root():
        return folder.name
    return None


def server_of(pid: int) -> str | None:
    """The name of the server process pid is (a stopped or zombie process has no command line)."""
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return None
    return _server_name(args)


def processes(wanted) -> dict[int, str]:
    """Running servers of this cache whose name wanted(name) accepts: pid -> name."""
    found = {}
    for pid, args in _command_lines():
        name = _server_name(args)
        if name is not None and wanted(name):
            found[pid] = name
    return found


def terminate(pids: list[int]) -> None:
    """SIGTERM, a few seconds to exit, then SIGKILL."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_SECONDS
    while time.monotonic() < deadline and any(server_of(pid) for pid in pids):
        time.sleep(0.05)
    for pid in pids:
        if server_of(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


# The server process.


class RequestLog:
    """One line per answered request, written whole (requests are answered on several threads)."""

    def __init__(self, path: Path) -> None:
        self.lock = threading.Lock()
        self.out = open(path, "a", encoding="utf-8", buffering=1)  # noqa: SIM115 (open for the server's life)

    def write(self, client: str, method: str, path: str, status: int | str) -> None:
        stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        with self.lock:
            self.out.write(f"{stamp} {client} {method} {path} {status}\n")


class Handler(SimpleHTTPRequestHandler):
    timeout = 60

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        status = int(code) if isinstance(code, int) else code
        path = getattr(self, "path", None) or "-"
        self.server.request_log.write(self.client_address[0], self.command or "-", path, status)


class Server(ThreadingHTTPServer):
    def server_bind(self) -> None:
        # HTTPServer would look up the bind address's fully qualified name: no lookups here.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]


def write_json(path: Path, data: dict) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def serve(argv: list[str]) -> int:
    """The process start() runs: bind, fork the server, write its state, exit."""
    parser = argparse.ArgumentParser(prog="labvm.serve")
    parser.add_argument("marker")
    parser.add_argument("--state", type=Path, required=True)
    parser.add_argument("--root", required=True)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        server = Server((BIND, args.port), functools.partial(Handler, directory=args.root))
    except OSError as err:
        print(f"cannot listen on {BIND}:{args.port}: {err}", file=sys.stderr)
        return 1
    server.request_log = RequestLog(args.state / "requests.log")
    pid = os.fork()
    if pid:
        port = server.server_address[1]
        name = args.state.name
        write_json(args.state / "state.json", {"name": name, "port": port, "root": args.root, "pid": pid})
        (args.state / "server.pid").write_text(f"{pid}\n", encoding="utf-8")
        os._exit(0)
    os.chdir("/")
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(serve(sys.argv[1:]))
