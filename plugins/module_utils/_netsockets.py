# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The kernel's socket tables: /proc/net/tcp, tcp6, udp and udp6, and who holds each socket.

Each row of a table gives the local and remote ends (addresses as 32-bit words in hex, in the
kernel's byte order; ports as 4 hex digits), the state (a TCP state code in hex, which UDP
sockets borrow: C(07) for a bound socket, C(01) for a connected one) and the socket's inode.
/proc/PID/net holds the tables of that process's network namespace. The process holding a socket
is found through the C(socket:[INODE]) links of /proc/PID/fd, its name in /proc/PID/comm.

IPv4 addresses mapped into IPv6 (C(::ffff:a.b.c.d), what a dual-stack socket shows for an IPv4
peer) come back as IPv4. Every path goes through C(node.path), so tests give a fake /proc.
"""

from __future__ import annotations

import ipaddress
import os
import re
import sys
from dataclasses import dataclass

from ansible_collections.nodeguard.hardening.plugins.module_utils._system.node import Node

TCP_ESTABLISHED = "01"
TCP_LISTEN = "0A"
# TCP_CLOSE: what a UDP socket that is bound but not connected shows.
UDP_BOUND = "07"
# (protocol, IP version, table name) in the order they are read.
TABLES = (("tcp", 4, "tcp"), ("tcp", 6, "tcp6"), ("udp", 4, "udp"), ("udp", 6, "udp6"))
HEX_ADDRESS_RE = re.compile(r"[0-9A-Fa-f]{8}|[0-9A-Fa-f]{32}")
END_RE = re.compile(r"^(?P<address>[0-9A-Fa-f]{8}|[0-9A-Fa-f]{32}):(?P<port>[0-9A-Fa-f]{4})$")
STATE_RE = re.compile(r"^[0-9A-Fa-f]{2}$")
SOCKET_LINK_RE = re.compile(r"^socket:\[(\d+)\]$")


@dataclass(frozen=True)
class Socket:
    """One row of a socket table. C(version) is the table's: a tcp6 socket may show IPv4
    addresses (mapped ones). C(state) is the kernel's hex code in upper case (C(0A) LISTEN)."""

    protocol: str
    version: int
    local_address: str
    local_port: int
    remote_address: str
    remote_port: int
    state: str
    inode: int

    @property
    def listening(self) -> bool:
        """Whether the socket waits for clients: TCP in LISTEN, UDP bound and not connected."""
        if self.protocol == "tcp":
            return self.state == TCP_LISTEN
        return self.state == UDP_BOUND and self.remote_port == 0

    @property
    def endpoint(self) -> str:
        """The local end as C(ADDRESS:PORT), an IPv6 address in brackets."""
        if ":" in self.local_address:
            return f"[{self.local_address}]:{self.local_port}"
        return f"{self.local_address}:{self.local_port}"


def normal_address(text: str) -> str:
    """An address as ipaddress prints it, without a zone (C(%eth0)); a mapped IPv4 address as
    IPv4. Text that is no address comes back unchanged."""
    try:
        address = ipaddress.ip_address(text.split("%", maxsplit=1)[0])
    except ValueError:
        return text
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return str(address.ipv4_mapped)
    return str(address)


def is_loopback(address: str) -> bool:
    """Whether an address (bare or in brackets) is loopback: 127.0.0.0/8, ::1, ::ffff:127.x.y.z."""
    try:
        return ipaddress.ip_address(normal_address(address.strip("[]"))).is_loopback
    except ValueError:
        return False


def decode_address(hex_text: str, byteorder: str = sys.byteorder) -> str:
    """An address of /proc/net: 8 hex digits (IPv4) or 32 (IPv6), each 32-bit word in the
    kernel's byte order. ValueError for anything else."""
    if not HEX_ADDRESS_RE.fullmatch(hex_text):
        raise ValueError(f"not an address of /proc/net: {hex_text!r}")
    raw = b"".join(int(hex_text[i : i + 8], 16).to_bytes(4, byteorder) for i in range(0, len(hex_text), 8))
    return normal_address(str(ipaddress.ip_address(raw)))


def read_text(node: Node, path: str) -> str | None:
    """A file of /proc as text; None when it is absent or cannot be read."""
    try:
        with open(node.path(path), "rb") as handle:
            return handle.read().decode("utf-8", "replace")
    except OSError:
        return None


def parse_table(text: str, protocol: str, version: int, byteorder: str = sys.byteorder) -> list[Socket]:
    """The sockets of one table's text; the header and rows that do not parse are skipped."""
    if protocol not in ("tcp", "udp") or version not in (4, 6):
        raise ValueError(f"no socket table holds protocol {protocol!r} version {version!r}")
    found = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 10 or not fields[9].isascii() or not fields[9].isdigit():
            continue
        local, remote = END_RE.match(fields[1]), END_RE.match(fields[2])
        if not local or not remote or not STATE_RE.match(fields[3]):
            continue
        found.append(
            Socket(
                protocol=protocol,
                version=version,
                local_address=decode_address(local.group("address"), byteorder),
                local_port=int(local.group("port"), 16),
                remote_address=decode_address(remote.group("address"), byteorder),
                remote_port=int(remote.group("port"), 16),
                state=fields[3].upper(),
                inode=int(fields[9]),
            )
        )
    return found


def read_table(node: Node, path: str, protocol: str, version: int, byteorder: str = sys.byteorder) -> list[Socket]:
    """The sockets of one table (C(/proc/net/tcp6) ...); none when it cannot be read."""
    return parse_table(read_text(node, path) or "", protocol, version, byteorder)


def sockets(
    node: Node,
    pid: int | None = None,
    byteorder: str = sys.byteorder,
    *,
    protocols: tuple[str, ...] = ("tcp", "udp"),
) -> list[Socket]:
    """Every socket of /proc/net/tcp, tcp6, udp and udp6 (those of C(protocols)), in that order.

    With C(pid), the tables of that process's network namespace (/proc/PID/net); a table the
    process does not show (it is gone, or /proc hides it) is read from /proc/net instead."""
    found: list[Socket] = []
    for protocol, version, name in TABLES:
        if protocol not in protocols:
            continue
        text = read_text(node, f"/proc/{pid}/net/{name}") if pid is not None else None
        if text is None:
            text = read_text(node, f"/proc/net/{name}")
        found.extend(parse_table(text or "", protocol, version, byteorder))
    return found


def listening(node: Node, byteorder: str = sys.byteorder) -> list[Socket]:
    """The sockets that wait for clients: TCP ones in LISTEN (C(0A)), UDP ones bound and not
    connected (C(07), remote port 0)."""
    return [found for found in sockets(node, byteorder=byteorder) if found.listening]


def socket_inodes(node: Node, pid: int) -> list[tuple[int, int]]:
    """(fd, inode) of the sockets a process holds, by fd number; none when /proc hides them."""
    folder = node.path(f"/proc/{pid}/fd")
    try:
        names = os.listdir(folder)
    except OSError:
        return []
    found = []
    for name in names:
        if not name.isascii() or not name.isdigit():
            continue
        try:
            target = os.readlink(os.path.join(folder, name))
        except OSError:
            continue
        matched = SOCKET_LINK_RE.match(target)
        if matched:
            found.append((int(name), int(matched.group(1))))
    return sorted(found)


def owners(node: Node, inodes: set[int] | list[int]) -> dict[int, tuple[int, str]]:
    """Socket inode -> (pid, program from /proc/PID/comm, C(?) when unreadable) of the process
    holding it; with several holders (a daemon and its forked workers), the lowest pid. Inodes no
    process shows are left out."""
    wanted = set(inodes)
    found: dict[int, tuple[int, str]] = {}
    if not wanted:
        return found
    try:
        names = os.listdir(node.path("/proc"))
    except OSError:
        return found
    for pid in sorted(int(name) for name in names if name.isascii() and name.isdigit()):
        held = sorted({inode for _fd, inode in socket_inodes(node, pid)} & (wanted - found.keys()))
        if not held:
            continue
        comm = (read_text(node, f"/proc/{pid}/comm") or "").strip() or "?"
        for inode in held:
            found[inode] = (pid, comm)
        if len(found) == len(wanted):
            break
    return found
