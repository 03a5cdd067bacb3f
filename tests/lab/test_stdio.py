"""The lab never touches its caller's terminal or pipes.

qemu given the caller's standard input switches that open file to non-blocking mode (and a
terminal to raw mode) for every process sharing it; ansible-playbook then refuses to start.
These tests run the lab's commands with a pseudo-terminal and with pipes as their standard
streams and compare the streams' flags and terminal mode before and after.
"""

from __future__ import annotations

import fcntl
import os
import pty
import subprocess
import sys
import termios
from pathlib import Path

import pytest
from labvm import host, machines

ROOT = Path(__file__).resolve().parents[2]
LAB = [sys.executable, str(ROOT / "lab" / "nodelab.py")]


def stream_state(fds: list[int]) -> list[tuple]:
    """What a process sharing these open files would inherit: status flags and terminal mode."""
    state = []
    for fd in fds:
        flags = fcntl.fcntl(fd, fcntl.F_GETFL)
        mode = termios.tcgetattr(fd) if os.isatty(fd) else None
        state.append((fd, bool(flags & os.O_NONBLOCK), mode))
    return state


@pytest.fixture(params=["terminal", "pipe"])
def streams(request):
    """Standard input, output and error for a child: a pty, or pipes (as under make or ssh)."""
    if request.param == "terminal":
        leader, follower = pty.openpty()
        fds = [follower, follower, follower]
        opened = [leader, follower]
    else:
        in_r, in_w = os.pipe()
        out_r, out_w = os.pipe()
        fds = [in_r, out_w, out_w]
        opened = [in_r, in_w, out_r, out_w]
        # Keep the output pipe drained so a chatty child never blocks.
        fcntl.fcntl(out_r, fcntl.F_SETFL, fcntl.fcntl(out_r, fcntl.F_GETFL) | os.O_NONBLOCK)
    yield fds
    for fd in opened:
        os.close(fd)


def run_with(streams: list[int], cmd: list[str], timeout: int) -> int:
    done = subprocess.run(cmd, stdin=streams[0], stdout=streams[1], stderr=streams[2], timeout=timeout, check=False)
    return done.returncode


@pytest.mark.skipif(
    not os.access("/dev/kvm", os.R_OK | os.W_OK), reason="the probe only starts qemu where /dev/kvm opens"
)
def test_accelerator_probe_leaves_caller_streams_alone(streams):
    before = stream_state(streams)
    code = (
        f"import sys; sys.path.insert(0, {str(ROOT / 'lab')!r}); "
        "from labvm import machines; print(machines.kvm_works())"
    )
    assert run_with(streams, [sys.executable, "-c", code], timeout=120) == 0
    assert stream_state(streams) == before


def test_up_and_down_leave_caller_streams_alone(streams):
    name = "stdio-test"
    before = stream_state(streams)
    try:
        assert run_with(streams, [*LAB, "up", "--name", name, "--nodes", "1"], timeout=600) == 0
        assert machines.lab_processes(name), "the lab's qemu is not running"
    finally:
        assert run_with(streams, [*LAB, "down", "--name", name], timeout=120) == 0
    assert stream_state(streams) == before
    assert not machines.lab_processes(name)


def test_children_get_their_own_stdin(monkeypatch):
    """Every command the lab starts goes through run(), which gives it /dev/null as stdin."""
    seen = {}

    def fake_run(cmd, **kw):
        seen.update(kw)
        return subprocess.CompletedProcess(cmd, 0)

    monkeypatch.setattr(host.subprocess, "run", fake_run)
    host.run(["true"])
    assert seen["stdin"] is subprocess.DEVNULL
