# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""sshd -T: parsing its output, the command lines, the cache."""

from __future__ import annotations

import pytest

from ansible_collections.nodeguard.hardening.plugins.module_utils._access.sshd import effective
from ansible_collections.nodeguard.hardening.plugins.module_utils._access.sshd.effective import Connection
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.node import CommandError

from .sshd_fakes import FakeModule, FakeSshd, Tree

SSHD_T_9_2 = """\
port 22
port 2222
addressfamily any
listenaddress [::]:22
listenaddress 0.0.0.0:22
usepam yes
logingracetime 120
permitrootlogin without-password
loglevel INFO
ciphers chacha20-poly1305@openssh.com,aes128-ctr
allowusers alice
allowusers bob@10.0.0.0/8
denygroups nossh
hostkey /etc/ssh/ssh_host_rsa_key
hostkey /etc/ssh/ssh_host_ed25519_key
subsystem sftp /usr/lib/openssh/sftp-server
acceptenv LANG
acceptenv LC_*
authenticationmethods any
banner none
"""
# OpenSSH 10.5 prints keywords in mixed case.
SSHD_T_MIXED = "Port 22\nPermitRootLogin no\nAllowUsers alice\nAllowUsers bob\n"


@pytest.mark.parametrize(
    ("text", "keyword", "values"),
    [
        (SSHD_T_9_2, "port", ["22", "2222"]),
        (SSHD_T_9_2, "listenaddress", ["[::]:22", "0.0.0.0:22"]),
        (SSHD_T_9_2, "permitrootlogin", ["without-password"]),
        (SSHD_T_9_2, "allowusers", ["alice", "bob@10.0.0.0/8"]),
        (SSHD_T_9_2, "hostkey", ["/etc/ssh/ssh_host_rsa_key", "/etc/ssh/ssh_host_ed25519_key"]),
        (SSHD_T_9_2, "subsystem", ["sftp /usr/lib/openssh/sftp-server"]),
        (SSHD_T_9_2, "acceptenv", ["LANG", "LC_*"]),
        (SSHD_T_9_2, "ciphers", ["chacha20-poly1305@openssh.com,aes128-ctr"]),
        (SSHD_T_9_2, "denyusers", None),
        (SSHD_T_MIXED, "permitrootlogin", ["no"]),
        (SSHD_T_MIXED, "allowusers", ["alice", "bob"]),
    ],
)
def test_parse(text, keyword, values):
    assert effective.parse(text).get(keyword) == values


def test_value_takes_the_first_line():
    parsed = effective.parse(SSHD_T_9_2)
    assert effective.value(parsed, "Port") == "22"
    assert effective.value(parsed, "MaxSessions", "10") == "10"


@pytest.mark.parametrize(
    ("connection", "spec"),
    [
        (Connection("ansible"), "user=ansible"),
        (Connection("ansible", "10.0.0.5", "10.0.0.5"), "user=ansible,host=10.0.0.5,addr=10.0.0.5"),
        (
            Connection("root", "2001:db8::5", "2001:db8::5", "2001:db8::1", 2222),
            "user=root,host=2001:db8::5,addr=2001:db8::5,laddr=2001:db8::1,lport=2222",
        ),
        (Connection("ansible", laddr="10.0.0.1", lport=22), "user=ansible,laddr=10.0.0.1,lport=22"),
    ],
)
def test_connection_spec(connection, spec):
    assert connection.spec() == spec


def test_argv():
    assert effective.argv("/usr/sbin/sshd") == ["/usr/sbin/sshd", "-T"]
    assert effective.argv("/usr/sbin/sshd", test="-t", config="/tmp/c") == ["/usr/sbin/sshd", "-t", "-f", "/tmp/c"]
    assert effective.argv("sshd", config="/c", connection=Connection("a", lport=22)) == [
        "sshd",
        "-T",
        "-f",
        "/c",
        "-C",
        "user=a,lport=22",
    ]


def test_read_is_cached_for_the_installed_configuration_only(tmp_path):
    tree = Tree(tmp_path)
    module = FakeModule()
    sshd = FakeSshd(tree)
    module.commands["sshd"] = sshd
    node = tree.node(module)
    first = effective.read(node)
    assert effective.read(node) is first
    assert first["usepam"] == ["yes"]
    config = str(tree.file("/etc/ssh/sshd_config"))
    effective.read(node, config=config)
    effective.read(node, config=config)
    assert len(sshd.calls) == 3
    node.forget()
    effective.read(node)
    assert len(sshd.calls) == 4


def test_read_and_test_raise_with_sshds_words(tmp_path):
    tree = Tree(tmp_path)
    tree.write("/etc/ssh/sshd_config.d/10-bad.conf", "Ciphers bogus\n")
    module = FakeModule()
    module.commands["sshd"] = FakeSshd(tree, refuse={"ciphers bogus": "Bad SSH2 cipher spec 'bogus'."})
    node = tree.node(module)
    with pytest.raises(CommandError, match="Bad SSH2 cipher spec"):
        effective.read(node)
    with pytest.raises(CommandError, match=r"10-bad\.conf line 1"):
        effective.test(node, "/etc/ssh/sshd_config")
