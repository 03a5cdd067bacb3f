# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The SSH connection the module runs under, from a fake /proc: sshd before 9.8 and sshd-session."""

from __future__ import annotations

import pytest

from ansible_collections.nodeguard.hardening.plugins.module_utils._access.sshd import session

from .sshd_fakes import MODULE_PID, FakeModule, FakeProc, Tree, hex_address
from .sshd_fakes import ssh_chain as chain


@pytest.fixture
def tree(tmp_path):
    return Tree(tmp_path)


@pytest.mark.parametrize(
    ("text", "address"),
    [
        (hex_address("10.0.2.15"), "10.0.2.15"),
        ("0100007F", "127.0.0.1"),
        (hex_address("2001:db8::1"), "2001:db8::1"),
        (hex_address("::ffff:192.168.1.20"), "192.168.1.20"),
        ("00000000000000000000000000000000", "::"),
    ],
)
def test_decode_address(text, address):
    assert session.decode_address(text, "little") == address


def test_openssh_before_9_8_over_ipv4(tree):
    proc = FakeProc(tree)
    chain(proc, "sshd", "ansible", sockets={3: 5001, 4: 5002})
    proc.tcp(
        900,
        [
            ("0.0.0.0", 2222, "0.0.0.0", 0, "0A", 100),
            ("10.0.2.15", 2222, "10.0.2.2", 51514, "01", 5001),
            # A forwarded connection the session opened (ssh -L): not the SSH connection.
            ("10.0.2.15", 40000, "10.0.9.9", 8080, "01", 5002),
        ],
    )
    found = session.find_session(tree.node(FakeModule()), MODULE_PID, "little")
    assert found == session.Session(
        pid=900,
        program="sshd",
        user="ansible",
        tty="notty",
        monitor_pid=800,
        local_address="10.0.2.15",
        local_port=2222,
        client_address="10.0.2.2",
        client_port=51514,
        source="socket",
    )
    assert found.describe() == "ansible on port 2222 from 10.0.2.2 (sshd process 900)"


def test_sshd_session_of_openssh_10_over_ipv6_with_a_terminal(tree):
    proc = FakeProc(tree)
    chain(proc, "sshd-session", "root", tty="pts/0", sockets={4: 7001}, sudo=False)
    proc.tcp(900, [("::", 22, "::", 0, "0A", 1), ("2001:db8::10", 22, "2001:db8::99", 40022, "01", 7001)])
    found = session.find_session(tree.node(FakeModule()), MODULE_PID, "little")
    assert (found.program, found.user, found.tty, found.monitor_pid) == ("sshd-session", "root", "pts/0", 800)
    assert (found.local_address, found.local_port, found.client_address, found.client_port) == (
        "2001:db8::10",
        22,
        "2001:db8::99",
        40022,
    )


def test_ipv4_connection_to_a_dual_stack_socket(tree):
    proc = FakeProc(tree)
    chain(proc, "sshd", "ansible", sockets={3: 42})
    proc.tcp(900, [("::ffff:10.0.0.5", 22, "::ffff:10.0.0.1", 50000, "01", 42)])
    found = session.find_session(tree.node(FakeModule()), MODULE_PID, "little")
    assert (found.local_address, found.client_address) == ("10.0.0.5", "10.0.0.1")


def test_socket_of_the_monitor_when_the_session_holds_none(tree):
    proc = FakeProc(tree)
    chain(proc, "sshd", "ansible", monitor_sockets={5: 77})
    proc.tcp(800, [("10.0.0.5", 22, "10.0.0.1", 50000, "01", 77)])
    found = session.find_session(tree.node(FakeModule()), MODULE_PID, "little")
    assert (found.local_port, found.source) == (22, "socket")


def test_environment_when_sockets_cannot_be_read(tree):
    proc = FakeProc(tree)
    chain(proc, "sshd", "ansible", environ={"HOME": "/home/ansible", "SSH_CONNECTION": "10.0.0.1 50000 10.0.0.5 2222"})
    found = session.find_session(tree.node(FakeModule()), MODULE_PID, "little")
    assert (found.local_address, found.local_port, found.client_address, found.client_port, found.source) == (
        "10.0.0.5",
        2222,
        "10.0.0.1",
        50000,
        "environment",
    )


def test_session_without_known_ends(tree):
    proc = FakeProc(tree)
    chain(proc, "sshd", "ansible")
    found = session.find_session(tree.node(FakeModule()), MODULE_PID, "little")
    assert (found.user, found.local_port, found.source) == ("ansible", None, "none")


def test_local_connection_has_no_session(tree):
    proc = FakeProc(tree)
    proc.process(500, 1, "bash", "-bash")
    proc.process(MODULE_PID, 500, "python3", "/usr/bin/python3")
    assert session.find_session(tree.node(FakeModule()), MODULE_PID) is None


def test_listener_alone_is_no_session(tree):
    proc = FakeProc(tree)
    proc.process(700, 1, "sshd", "sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups")
    proc.process(MODULE_PID, 700, "python3", "/usr/bin/python3")
    assert session.find_session(tree.node(FakeModule()), MODULE_PID) is None


def test_a_process_named_otherwise_with_a_look_alike_title_is_no_session(tree):
    proc = FakeProc(tree)
    proc.process(900, 1, "perl", "sshd: ansible@notty")
    proc.process(MODULE_PID, 900, "python3", "/usr/bin/python3")
    assert session.find_session(tree.node(FakeModule()), MODULE_PID) is None


def test_missing_proc_means_no_session(tree):
    assert session.find_session(tree.node(FakeModule()), 12345) is None


JOURNAL = """\
Connection from 10.0.0.1 port 50000 on 10.0.0.5 port 22 rdomain ""
Accepted publickey for ansible from 10.0.0.1 port 50000 ssh2: ED25519 SHA256:AbCdEf
pam_unix(sshd:session): session opened for user ansible(uid=1000) by (uid=0)
"""


@pytest.mark.parametrize(
    ("journal", "rc", "expected"),
    [
        (JOURNAL, 0, ("publickey", "ED25519")),
        ("Accepted password for ansible from 10.0.0.1 port 50000 ssh2\n", 0, ("password", None)),
        ("Accepted publickey for ansible from 10.0.0.1 port 40000 ssh2: RSA SHA256:x\n", 0, None),
        ("Accepted publickey for alice from 10.0.0.1 port 50000 ssh2: RSA SHA256:x\n", 0, None),
        ("", 0, None),
        (JOURNAL, 1, None),
    ],
)
def test_authentication_from_the_monitors_log(tree, journal, rc, expected):
    module = FakeModule()
    module.commands["journalctl"] = lambda argv: (rc, journal, "")
    found = session.Session(900, "sshd", "ansible", "notty", 800, "10.0.0.5", 22, "10.0.0.1", 50000, "socket")
    assert session.authentication(tree.node(module), found) == expected
    assert module.calls[0][1:3] == ["_PID=800", "-b"]
