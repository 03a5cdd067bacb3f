# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The SSH connection the module itself runs under, read from /proc.

What Ansible believes (C(ansible_user), C(ansible_port)) can differ from what sshd sees: a jump
host, a forwarded port, a user mapped by the SSH client's configuration. The node knows for sure.
The module's process descends from the sshd process serving the connection: before OpenSSH 9.8
a process named C(sshd) titled C(sshd: USER@notty) (C(USER@pts/N) with a terminal), from 9.8 on
(Debian 13) one named C(sshd-session) titled C(sshd-session: USER@notty). Its parent is the
privileged monitor (C(... USER [priv])), which logs how the user authenticated.

That process holds the connection's TCP socket: the C(socket:[INODE]) links of /proc/PID/fd are
looked up in /proc/PID/net/tcp and tcp6 (the connection's network namespace), which give the
local address and port and the client's address. When the sockets cannot be read, the
C(SSH_CONNECTION) variable sshd gave the session's first process tells the same. Every path goes
through C(node.path), so tests give a fake /proc.
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass

from ansible_collections.nodeguard.hardening.plugins.module_utils import _netsockets as netsockets
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.node import Node

PROGRAMS = ("sshd", "sshd-session")
TITLE_RE = re.compile(r"^(?P<program>sshd(?:-session)?): (?P<user>[^\s@]+)@(?P<tty>notty|pts/\d+|tty\S*)$")
MONITOR_RE = re.compile(r"^(?:sshd(?:-session)?): (?P<user>\S+) \[priv\]$")
ESTABLISHED = netsockets.TCP_ESTABLISHED
LISTENING = netsockets.TCP_LISTEN
decode_address = netsockets.decode_address
normal_address = netsockets.normal_address
# Far more than any real chain (sudo, shells, the AnsiballZ wrapper); stops a loop in a broken /proc.
MAX_DEPTH = 64
ACCEPTED_RE = re.compile(
    r"Accepted (?P<method>\S+) for (?P<user>\S+) from (?P<addr>\S+) port (?P<port>\d+)(?: ssh2)?(?:: (?P<key>\S+))?"
)


@dataclass(frozen=True)
class Process:
    pid: int
    ppid: int
    name: str
    title: str
    uid: int | None


@dataclass(frozen=True)
class Session:
    """The connection: the sshd process serving it, the user, both ends (None where unknown),
    and where the ends were read from (C(socket) or C(environment))."""

    pid: int
    program: str
    user: str
    tty: str
    monitor_pid: int | None
    local_address: str | None
    local_port: int | None
    client_address: str | None
    client_port: int | None
    source: str

    def describe(self) -> str:
        ends = f"port {self.local_port}" if self.local_port else "unknown port"
        client = f" from {self.client_address}" if self.client_address else ""
        return f"{self.user} on {ends}{client} ({self.program} process {self.pid})"


def read_bytes(node: Node, path: str) -> bytes | None:
    try:
        with open(node.path(path), "rb") as handle:
            return handle.read()
    except OSError:
        return None


def process(node: Node, pid: int) -> Process | None:
    """One process from /proc/PID/stat, cmdline and status; None when it is gone or unreadable."""
    stat = read_bytes(node, f"/proc/{pid}/stat")
    if stat is None:
        return None
    text = stat.decode("utf-8", "replace")
    # The name is in parentheses and may itself hold blanks and parentheses.
    start, end = text.find("("), text.rfind(")")
    if start < 0 or end < start:
        return None
    fields = text[end + 2 :].split()
    if len(fields) < 2 or not fields[1].isdigit():
        return None
    cmdline = read_bytes(node, f"/proc/{pid}/cmdline") or b""
    title = " ".join(part for part in cmdline.decode("utf-8", "replace").split("\0") if part).strip()
    uid = None
    status = read_bytes(node, f"/proc/{pid}/status") or b""
    for line in status.decode("utf-8", "replace").splitlines():
        if line.startswith("Uid:") and len(line.split()) > 1 and line.split()[1].isdigit():
            uid = int(line.split()[1])
    return Process(pid, int(fields[1]), text[start + 1 : end], title, uid)


def ancestors(node: Node, pid: int) -> list[Process]:
    """The process and its parents up to (not including) PID 1, nearest first."""
    chain: list[Process] = []
    seen: set[int] = set()
    while pid > 1 and pid not in seen and len(chain) < MAX_DEPTH:
        seen.add(pid)
        found = process(node, pid)
        if found is None:
            break
        chain.append(found)
        pid = found.ppid
    return chain


def connection_ends(node: Node, pid: int, byteorder: str = sys.byteorder) -> tuple | None:
    """(local address, local port, client address, client port) of the established TCP connection
    a process holds; with several (forwarded ports), the one on a port something listens on."""
    inodes = netsockets.socket_inodes(node, pid)
    if not inodes:
        return None
    table = netsockets.sockets(node, pid, byteorder, protocols=("tcp",))
    by_inode = {found.inode: found for found in table}
    listening = {found.local_port for found in table if found.state == LISTENING}
    held = [(fd, by_inode[inode]) for fd, inode in inodes if inode in by_inode and by_inode[inode].state == ESTABLISHED]
    if not held:
        return None
    held.sort(key=lambda item: (item[1].local_port not in listening, item[0]))
    found = held[0][1]
    return found.local_address, found.local_port, found.remote_address, found.remote_port


def environment_ends(node: Node, pid: int) -> tuple | None:
    """The ends from C(SSH_CONNECTION) (C(CLIENT CPORT LOCAL LPORT)) of a process's environment."""
    data = read_bytes(node, f"/proc/{pid}/environ")
    if not data:
        return None
    for entry in data.decode("utf-8", "replace").split("\0"):
        name, sep, value = entry.partition("=")
        words = value.split()
        if name == "SSH_CONNECTION" and sep and len(words) == 4 and words[1].isdigit() and words[3].isdigit():
            return normal_address(words[2]), int(words[3]), normal_address(words[0]), int(words[1])
    return None


def find_session(node: Node, pid: int | None = None, byteorder: str = sys.byteorder) -> Session | None:
    """The SSH connection process C(pid) (default: this one) runs under; None when no sshd session
    process is among its parents (a local connection, or /proc hides them)."""
    chain = ancestors(node, os.getpid() if pid is None else pid)
    for index, proc in enumerate(chain):
        matched = TITLE_RE.match(proc.title)
        if proc.name not in PROGRAMS or not matched:
            continue
        parent = chain[index + 1] if index + 1 < len(chain) else process(node, proc.ppid)
        monitor = parent.pid if parent and MONITOR_RE.match(parent.title) else None
        ends = connection_ends(node, proc.pid, byteorder)
        source = "socket"
        if ends is None and monitor is not None:
            ends = connection_ends(node, monitor, byteorder)
        if ends is None:
            source = "environment"
            for below in reversed(chain[:index]):
                ends = environment_ends(node, below.pid)
                if ends:
                    break
        if ends is None:
            source = "none"
            ends = (None, None, None, None)
        return Session(
            pid=proc.pid,
            program=proc.name,
            user=matched.group("user"),
            tty=matched.group("tty"),
            monitor_pid=monitor,
            local_address=ends[0],
            local_port=ends[1],
            client_address=ends[2],
            client_port=ends[3],
            source=source,
        )
    return None


def authentication(node: Node, session: Session) -> tuple[str, str | None] | None:
    """(method, key type) the session's user authenticated with, from the line sshd's monitor
    logs (C(Accepted publickey for USER from ADDR port N ssh2: ED25519 SHA256:...)); None when
    the journal does not have it."""
    pid = session.monitor_pid or session.pid
    journalctl = node.binary("journalctl")
    if not journalctl:
        return None
    rc, out, _err = node.run([journalctl, f"_PID={pid}", "-b", "-o", "cat", "--no-pager", "-q"], check=False)
    if rc != 0:
        return None
    found = None
    for line in out.splitlines():
        matched = ACCEPTED_RE.search(line)
        if not matched or matched.group("user") != session.user:
            continue
        if session.client_port is not None and int(matched.group("port")) != session.client_port:
            continue
        found = (matched.group("method"), matched.group("key"))
    return found
