# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The kernel's socket tables and their holders, from a fake /proc."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from ansible_collections.nodeguard.hardening.plugins.module_utils import _netsockets as ns
from ansible_collections.nodeguard.hardening.plugins.module_utils._node import NodePaths
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.node import Node

TCP_HEADER = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode"
UDP_HEADER = " " + TCP_HEADER + " ref pointer drops"
TCP_TAIL = "00000000:00000000 00:00000000 00000000     0        0 {inode} 1 0000000000000000 100 0 0 10 0"
UDP_TAIL = "00000000:00000000 00:00000000 00000000     0        0 {inode} 2 0000000000000000 0"
ANY4 = "00000000"
ANY6 = "0" * 32
# As a little-endian kernel prints them: each 32-bit word in host order.
LOOPBACK4 = "0100007F"  # 127.0.0.1
HOST4 = "0F02000A"  # 10.0.2.15
DNS4 = "08080808"  # 8.8.8.8
LOOPBACK6 = "00000000000000000000000001000000"  # ::1
HOST6 = "B80D0120000000000000000001000000"  # 2001:db8::1
MAPPED6 = "0000000000000000FFFF00000F02000A"  # ::ffff:10.0.2.15
PEER6 = "B80D0120000000000000000099000000"  # 2001:db8::99


def row(index: int, local: str, lport: int, remote: str, rport: int, state: str, inode: int, udp=False) -> str:
    tail = (UDP_TAIL if udp else TCP_TAIL).format(inode=inode)
    return f"{index:4d}: {local}:{lport:04X} {remote}:{rport:04X} {state} {tail}"


def table(*rows: str, udp: bool = False) -> str:
    return "\n".join([UDP_HEADER if udp else TCP_HEADER, *rows]) + "\n"


class FakeModule:
    check_mode = False


class FakeProc:
    """A node whose root is a temporary directory holding a fake /proc."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.node = Node(FakeModule(), NodePaths(conf_root=str(root)))

    def write(self, path: str, text: str) -> Path:
        target = self.root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        return target

    def process(self, pid: int, comm: str | None, links: dict[str, str]) -> None:
        folder = self.root / "proc" / str(pid) / "fd"
        folder.mkdir(parents=True)
        if comm is not None:
            self.write(f"/proc/{pid}/comm", comm + "\n")
        for fd, target in links.items():
            os.symlink(target, folder / fd)


@pytest.fixture
def proc(tmp_path) -> FakeProc:
    return FakeProc(tmp_path)


@pytest.fixture
def host(proc) -> FakeProc:
    """sshd on every address, exim on loopback, chronyd on UDP, one SSH connection, a resolver query."""
    proc.write(
        "/proc/net/tcp",
        table(
            row(0, ANY4, 22, ANY4, 0, "0A", 1001),
            row(1, LOOPBACK4, 25, ANY4, 0, "0A", 1002),
            row(2, HOST4, 22, "0202000A", 51514, "01", 1003),
            row(3, HOST4, 40000, DNS4, 443, "06", 0),
        ),
    )
    proc.write(
        "/proc/net/tcp6",
        table(
            row(0, ANY6, 22, ANY6, 0, "0A", 2001),
            row(1, LOOPBACK6, 25, ANY6, 0, "0a", 2002),
            row(2, MAPPED6, 8080, ANY6, 0, "0A", 2003),
            row(3, HOST6, 22, PEER6, 40022, "01", 2004),
        ),
    )
    proc.write(
        "/proc/net/udp",
        table(
            row(0, LOOPBACK4, 323, ANY4, 0, "07", 3001, udp=True),
            row(1, HOST4, 41394, DNS4, 53, "01", 3002, udp=True),
            row(2, ANY4, 68, ANY4, 0, "07", 3003, udp=True),
        ),
    )
    proc.write(
        "/proc/net/udp6",
        table(
            row(0, ANY6, 514, ANY6, 0, "07", 4001, udp=True),
            row(1, HOST6, 5353, PEER6, 5353, "01", 4002, udp=True),
        ),
    )
    return proc


@pytest.mark.parametrize(
    ("text", "byteorder", "address"),
    [
        (LOOPBACK4, "little", "127.0.0.1"),
        (HOST4, "little", "10.0.2.15"),
        ("7F000001", "big", "127.0.0.1"),
        (ANY4, "little", "0.0.0.0"),
        (LOOPBACK6, "little", "::1"),
        ("00000000000000000000000000000001", "big", "::1"),
        (HOST6, "little", "2001:db8::1"),
        ("20010DB8000000000000000000000001", "big", "2001:db8::1"),
        (ANY6, "little", "::"),
        (MAPPED6, "little", "10.0.2.15"),
        ("00000000000000000000FFFF0A00020F", "big", "10.0.2.15"),
        ("b80d0120000000000000000001000000", "little", "2001:db8::1"),
    ],
)
def test_decode_address(text, byteorder, address):
    assert ns.decode_address(text, byteorder) == address


@pytest.mark.parametrize(
    "text", ["", "0100007", "0100007F00", "0x00007F", " 100007F", "+100007F", "G100007F", "0" * 16]
)
def test_decode_address_refuses_what_the_kernel_does_not_print(text):
    with pytest.raises(ValueError, match="not an address"):
        ns.decode_address(text, "little")


def test_decode_address_defaults_to_the_hosts_byte_order():
    text = f"{int.from_bytes(bytes([127, 0, 0, 1]), sys.byteorder):08X}"
    assert ns.decode_address(text) == "127.0.0.1"


def test_read_table_tcp(host):
    found = ns.read_table(host.node, "/proc/net/tcp", "tcp", 4, "little")
    assert found == [
        ns.Socket("tcp", 4, "0.0.0.0", 22, "0.0.0.0", 0, "0A", 1001),
        ns.Socket("tcp", 4, "127.0.0.1", 25, "0.0.0.0", 0, "0A", 1002),
        ns.Socket("tcp", 4, "10.0.2.15", 22, "10.0.2.2", 51514, "01", 1003),
        ns.Socket("tcp", 4, "10.0.2.15", 40000, "8.8.8.8", 443, "06", 0),
    ]


def test_read_table_tcp6_with_mapped_addresses_and_lower_case_state(host):
    found = ns.read_table(host.node, "/proc/net/tcp6", "tcp", 6, "little")
    assert found == [
        ns.Socket("tcp", 6, "::", 22, "::", 0, "0A", 2001),
        ns.Socket("tcp", 6, "::1", 25, "::", 0, "0A", 2002),
        ns.Socket("tcp", 6, "10.0.2.15", 8080, "::", 0, "0A", 2003),
        ns.Socket("tcp", 6, "2001:db8::1", 22, "2001:db8::99", 40022, "01", 2004),
    ]


def test_read_table_udp(host):
    found = ns.read_table(host.node, "/proc/net/udp", "udp", 4, "little")
    assert [(s.local_address, s.local_port, s.remote_address, s.remote_port, s.state) for s in found] == [
        ("127.0.0.1", 323, "0.0.0.0", 0, "07"),
        ("10.0.2.15", 41394, "8.8.8.8", 53, "01"),
        ("0.0.0.0", 68, "0.0.0.0", 0, "07"),
    ]
    assert {(s.protocol, s.version) for s in found} == {("udp", 4)}


def test_read_table_in_big_endian_order(proc):
    proc.write("/proc/net/tcp", table(row(0, "7F000001", 25, ANY4, 0, "0A", 7)))
    assert ns.read_table(proc.node, "/proc/net/tcp", "tcp", 4, "big")[0].local_address == "127.0.0.1"
    assert ns.read_table(proc.node, "/proc/net/tcp", "tcp", 4, "little")[0].local_address == "1.0.0.127"


def test_missing_table_is_empty(proc):
    assert ns.read_table(proc.node, "/proc/net/tcp", "tcp", 4, "little") == []
    assert ns.sockets(proc.node, byteorder="little") == []
    assert ns.listening(proc.node, byteorder="little") == []


def test_rows_that_do_not_parse_are_skipped(proc):
    good = row(5, LOOPBACK4, 25, ANY4, 0, "0A", 9)
    text = table(
        "garbage",
        row(0, "0100007", 25, ANY4, 0, "0A", 1),  # 7 hex digits
        row(1, LOOPBACK4, 25, ANY4, 0, "0A", 1).replace(":0019 ", ":19 "),  # short port
        row(2, LOOPBACK4, 25, ANY4, 0, "XY", 1),  # no state
        row(3, LOOPBACK4, 25, ANY4, 0, "0A", 1).replace(" 1 1 ", " x1 1 "),  # no inode
        " ".join(good.split()[:9]),  # cut short before the inode
        "",
        good,
    )
    proc.write("/proc/net/tcp", text)
    assert ns.read_table(proc.node, "/proc/net/tcp", "tcp", 4, "little") == [
        ns.Socket("tcp", 4, "127.0.0.1", 25, "0.0.0.0", 0, "0A", 9)
    ]


@pytest.mark.parametrize(("protocol", "version"), [("sctp", 4), ("tcp", 5), ("udp", 0)])
def test_parse_table_refuses_unknown_tables(protocol, version):
    with pytest.raises(ValueError, match="no socket table"):
        ns.parse_table(TCP_HEADER, protocol, version, "little")


def test_sockets_reads_the_four_tables_in_order(host):
    found = ns.sockets(host.node, byteorder="little")
    assert [s.inode for s in found] == [1001, 1002, 1003, 0, 2001, 2002, 2003, 2004, 3001, 3002, 3003, 4001, 4002]
    assert [(s.protocol, s.version) for s in found[:1] + found[4:5] + found[8:9] + found[11:12]] == [
        ("tcp", 4),
        ("tcp", 6),
        ("udp", 4),
        ("udp", 6),
    ]


def test_sockets_of_one_protocol(host):
    assert {s.protocol for s in ns.sockets(host.node, byteorder="little", protocols=("udp",))} == {"udp"}
    assert len(ns.sockets(host.node, byteorder="little", protocols=("tcp",))) == 8


def test_listening_tcp_in_listen_and_udp_bound(host):
    found = ns.listening(host.node, byteorder="little")
    assert [(s.protocol, s.version, s.endpoint) for s in found] == [
        ("tcp", 4, "0.0.0.0:22"),
        ("tcp", 4, "127.0.0.1:25"),
        ("tcp", 6, "[::]:22"),
        ("tcp", 6, "[::1]:25"),
        ("tcp", 6, "10.0.2.15:8080"),
        ("udp", 4, "127.0.0.1:323"),
        ("udp", 4, "0.0.0.0:68"),
        ("udp", 6, "[::]:514"),
    ]


@pytest.mark.parametrize(
    ("protocol", "state", "remote_port", "listening"),
    [
        ("tcp", "0A", 0, True),
        ("tcp", "01", 51514, False),
        ("tcp", "06", 443, False),  # TIME_WAIT
        ("tcp", "07", 0, False),  # a closed TCP socket is not bound for clients
        ("udp", "07", 0, True),
        ("udp", "07", 53, False),
        ("udp", "01", 53, False),
        ("udp", "0A", 0, False),
    ],
)
def test_socket_listening(protocol, state, remote_port, listening):
    found = ns.Socket(protocol, 4, "0.0.0.0", 5000, "0.0.0.0", remote_port, state, 1)
    assert found.listening is listening


def test_sockets_of_a_process_namespace(host):
    host.write("/proc/900/net/tcp", table(row(0, HOST4, 2222, ANY4, 0, "0A", 5001)))
    host.write("/proc/900/net/tcp6", table())
    found = ns.sockets(host.node, 900, "little", protocols=("tcp",))
    assert [(s.endpoint, s.inode) for s in found] == [("10.0.2.15:2222", 5001)]
    # The node's own tables stay as they are.
    assert len(ns.sockets(host.node, byteorder="little", protocols=("tcp",))) == 8


def test_a_table_the_process_does_not_show_is_read_from_proc_net(host):
    host.write("/proc/900/net/tcp", table(row(0, HOST4, 2222, ANY4, 0, "0A", 5001)))
    found = ns.sockets(host.node, 900, "little")
    assert [s.inode for s in found] == [5001, 2001, 2002, 2003, 2004, 3001, 3002, 3003, 4001, 4002]


@pytest.mark.parametrize(
    ("address", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("[::1]", True),
        ("::ffff:127.0.0.1", True),
        ("0.0.0.0", False),
        ("::", False),
        ("10.0.2.15", False),
        ("::ffff:10.0.2.15", False),
        ("fe80::1%eth0", False),
        ("localhost", False),
        ("", False),
    ],
)
def test_is_loopback(address, loopback):
    assert ns.is_loopback(address) is loopback


@pytest.mark.parametrize(
    ("text", "normal"),
    [
        ("::ffff:10.0.0.1", "10.0.0.1"),
        ("fe80::1%eth0", "fe80::1"),
        ("2001:0db8:0000::0001", "2001:db8::1"),
        ("10.0.0.1", "10.0.0.1"),
        ("not an address", "not an address"),
    ],
)
def test_normal_address(text, normal):
    assert ns.normal_address(text) == normal


def test_endpoint():
    assert ns.Socket("udp", 6, "2001:db8::1", 53, "::", 0, "07", 1).endpoint == "[2001:db8::1]:53"
    assert ns.Socket("tcp", 6, "10.0.2.15", 80, "::", 0, "0A", 1).endpoint == "10.0.2.15:80"


def test_socket_inodes_by_fd(proc):
    proc.process(
        700,
        "sshd",
        {"0": "/dev/null", "10": "socket:[1001]", "3": "socket:[2001]", "4": "pipe:[77]", "5": "anon_inode:[eventfd]"},
    )
    assert ns.socket_inodes(proc.node, 700) == [(3, 2001), (10, 1001)]
    assert ns.socket_inodes(proc.node, 701) == []


def test_owners_from_fd_links_and_comm(host):
    host.process(700, "sshd", {"3": "socket:[1001]", "4": "socket:[2001]"})
    host.process(1200, "exim4", {"0": "/dev/null", "5": "socket:[1002]", "6": "socket:[2002]"})
    host.process(650, "chronyd", {"7": "socket:[3001]"})
    # A forked worker holds the daemon's listening socket too: the parent, lower pid, is named.
    host.process(1300, "exim4-worker", {"5": "socket:[1002]"})
    host.write("/proc/net/unix", "not a process\n")
    found = ns.owners(host.node, {1001, 2001, 1002, 3001, 4001})
    assert found == {
        1001: (700, "sshd"),
        2001: (700, "sshd"),
        1002: (1200, "exim4"),
        3001: (650, "chronyd"),
    }


def test_owners_with_an_unreadable_comm(proc):
    proc.process(42, None, {"3": "socket:[9]"})
    assert ns.owners(proc.node, [9]) == {9: (42, "?")}


def test_owners_of_nothing_reads_nothing(tmp_path):
    node = Node(FakeModule(), NodePaths(conf_root=str(tmp_path / "absent")))
    assert ns.owners(node, set()) == {}
    assert ns.owners(node, {1}) == {}


def test_owners_stops_once_every_socket_is_found(proc, monkeypatch):
    proc.process(10, "first", {"3": "socket:[1]"})
    proc.process(20, "second", {"3": "socket:[2]"})
    read = []
    original = ns.socket_inodes

    def counting(node, pid):
        read.append(pid)
        return original(node, pid)

    monkeypatch.setattr(ns, "socket_inodes", counting)
    assert ns.owners(proc.node, {1}) == {1: (10, "first")}
    assert read == [10]
