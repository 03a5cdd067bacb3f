"""What every part of the lab uses on the host: the cache folder, running tools, writing files."""

from __future__ import annotations

import contextlib
import fcntl
import os
import subprocess
import sys
from pathlib import Path

CACHE = Path(os.environ.get("NODELAB_CACHE", Path.home() / ".cache" / "nodeguard-lab"))


def log(msg: str) -> None:
    print(f"nodelab: {msg}", file=sys.stderr, flush=True)


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    """Run a tool; its output goes to stderr so stdout carries only this tool's answer.

    No child ever shares the caller's standard input: qemu switches a terminal or pipe it is
    given to non-blocking mode, which every other process sharing that open file inherits
    (ansible-playbook then refuses to start), and ssh would read what the caller meant for others.
    """
    kw.setdefault("stdout", sys.stderr)
    check = kw.pop("check", True)
    return subprocess.run(cmd, stdin=subprocess.DEVNULL, check=check, **kw)


def write(path: Path, text: str, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)


@contextlib.contextmanager
def locked(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        yield


def lab_dir(name: str) -> Path:
    return CACHE / "labs" / name


def labs_root() -> Path:
    return CACHE / "labs"
