# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Lockout checks: every refusal and every admission, as tables of cases."""

from __future__ import annotations

import pytest

from ansible_collections.nodeguard.hardening.plugins.module_utils._access.sshd import effective, guard
from ansible_collections.nodeguard.hardening.plugins.module_utils._access.sshd.guard import Account, Operator
from ansible_collections.nodeguard.hardening.plugins.module_utils._access.sshd.session import Session
from ansible_collections.nodeguard.hardening.plugins.module_utils._controls import ControlInputError

from .sshd_fakes import FakeModule, Tree

BASE = """\
port 22
listenaddress [::]:22
listenaddress 0.0.0.0:22
permitrootlogin without-password
pubkeyauthentication yes
passwordauthentication yes
kbdinteractiveauthentication no
gssapiauthentication no
hostbasedauthentication no
authenticationmethods any
pubkeyacceptedalgorithms ssh-ed25519,ecdsa-sha2-nistp256,rsa-sha2-512,rsa-sha2-256
forcecommand none
chrootdirectory none
maxsessions 10
usepam yes
"""
ANSIBLE = Operator("ansible", 22, "10.0.0.5", "10.0.0.1", "publickey", "ED25519")
ROOT = Operator("root", 22, "10.0.0.5", "10.0.0.1", "publickey", "ED25519")
GROUPS = Account(("ansible", "sudo"), False)


def config(*changes: str) -> dict[str, list[str]]:
    """BASE with lines replaced (a keyword given again replaces all of its lines) or added."""
    parsed = effective.parse(BASE)
    extra = effective.parse("\n".join(changes))
    parsed.update(extra)
    return parsed


@pytest.mark.parametrize(
    ("text", "pattern", "matches"),
    [
        ("ansible", "ansible", True),
        ("ansible", "ans*", True),
        ("ansible", "ansibl?", True),
        ("ansible", "?nsible*", True),
        ("ansible", "Ansible", False),
        ("ansible", "ans", False),
        ("a.b", "a?b", True),
        ("a[b]", "a[b]", True),
        ("ab", "a[b]", False),
    ],
)
def test_match_pattern(text, pattern, matches):
    assert guard.match_pattern(text, pattern) is matches


@pytest.mark.parametrize(
    ("address", "patterns", "result"),
    [
        ("10.0.0.1", "10.0.0.0/8", 1),
        ("10.0.0.1", "192.168.0.0/16", 0),
        ("10.0.0.1", "10.0.0.*", 1),
        ("10.0.0.1", "!10.0.0.0/8,*", -1),
        ("10.0.0.1", "192.168.0.0/16,10.0.0.1", 1),
        ("2001:db8::1", "2001:db8::/32", 1),
        ("2001:db8::1", "10.0.0.0/8", 0),
        ("10.0.0.1", "10.0.0.1/8", -2),
        ("10.0.0.1", "10.0.0.0/33", -2),
    ],
)
def test_match_addresses(address, patterns, result):
    assert guard.match_addresses(address, patterns) == result


@pytest.mark.parametrize(
    ("user", "client", "pattern", "result"),
    [
        ("ansible", "10.0.0.1", "ansible", True),
        ("ansible", None, "ansible", True),
        ("ansible", "10.0.0.1", "ans*", True),
        ("ansible", "10.0.0.1", "alice", False),
        ("ansible", "10.0.0.1", "ansible@10.0.0.0/8", True),
        ("ansible", "10.0.0.1", "ansible@192.168.0.0/16", False),
        ("ansible", "10.0.0.1", "ansible@10.0.0.*", True),
        ("ansible", "10.0.0.1", "ansible@!10.0.0.1,*", False),
        ("ansible", "10.0.0.1", "ansible@*", True),
        ("ansible", None, "ansible@*", True),
        ("ansible", None, "ansible@10.0.0.0/8", None),
        ("ansible", None, "alice@10.0.0.0/8", False),
        ("ansible", "10.0.0.1", "*@10.0.0.1", True),
    ],
)
def test_user_matches(user, client, pattern, result):
    assert guard.user_matches(user, client, pattern) is result


@pytest.mark.parametrize(
    ("changes", "user", "methods"),
    [
        ((), "ansible", {"publickey", "password"}),
        ((), "root", {"publickey"}),
        (("permitrootlogin yes",), "root", {"publickey", "password"}),
        (("permitrootlogin no",), "root", set()),
        (("permitrootlogin forced-commands-only",), "root", set()),
        (("pubkeyauthentication no",), "ansible", {"password"}),
        (("authenticationmethods publickey",), "ansible", {"publickey"}),
        (("authenticationmethods publickey,password",), "ansible", set()),
        (("authenticationmethods publickey,password password",), "ansible", {"password"}),
        (
            ("kbdinteractiveauthentication yes", "authenticationmethods keyboard-interactive:pam"),
            "ansible",
            {"keyboard-interactive"},
        ),
        (
            ("kbdinteractiveauthentication yes", "passwordauthentication no"),
            "ansible",
            {"publickey", "keyboard-interactive"},
        ),
    ],
)
def test_admitted(changes, user, methods):
    assert guard.admitted(config(*changes), user) == methods


# (candidate lines, operator, account, part of the refusal) - each a way to be locked out.
REFUSED = [
    (("permitrootlogin no",), ROOT, GROUPS, "PermitRootLogin no would refuse root"),
    (("permitrootlogin forced-commands-only",), ROOT, GROUPS, "PermitRootLogin forced-commands-only"),
    (
        ("permitrootlogin prohibit-password",),
        Operator("root", 22, "10.0.0.5", "10.0.0.1", "password"),
        GROUPS,
        "root logs in with password, which the candidate does not allow",
    ),
    (("allowusers alice", "allowusers bob"), ANSIBLE, GROUPS, "AllowUsers alice bob leaves out ansible"),
    (("allowusers ansible@192.168.0.0/16",), ANSIBLE, GROUPS, "leaves out ansible"),
    (
        ("allowusers ansible@10.0.0.0/8",),
        Operator("ansible", 22, "10.0.0.5", None, "publickey"),
        GROUPS,
        "the client address is unknown",
    ),
    (("denyusers ans*",), ANSIBLE, GROUPS, "DenyUsers ans* refuses ansible"),
    (("denyusers *@10.0.0.1",), ANSIBLE, GROUPS, "DenyUsers *@10.0.0.1 refuses ansible"),
    (("denygroups sudo",), ANSIBLE, GROUPS, "DenyGroups sudo refuses ansible (group sudo)"),
    (("allowgroups sshusers",), ANSIBLE, GROUPS, "AllowGroups sshusers leaves out ansible"),
    (("allowgroups sshusers",), ANSIBLE, Account(None, False), "the groups of ansible cannot be read"),
    (("port 2222", "listenaddress [::]:2222", "listenaddress 0.0.0.0:2222"), ANSIBLE, GROUPS, "port 22"),
    (("listenaddress 10.0.0.9:22",), ANSIBLE, GROUPS, "sshd would listen on 10.0.0.9:22"),
    (("listenaddress [::]:22",), ANSIBLE, GROUPS, "sshd would listen on [::]:22"),
    ((), Operator("ansible", None, None, None, "publickey"), GROUPS, "the port Ansible connects on is unknown"),
    (("pubkeyauthentication no",), ANSIBLE, GROUPS, "ansible logs in with publickey"),
    (("authenticationmethods publickey,password",), ANSIBLE, GROUPS, "AuthenticationMethods publickey,password"),
    (("authenticationmethods password",), ANSIBLE, GROUPS, "ansible logs in with publickey"),
    (
        ("passwordauthentication no",),
        Operator("ansible", 22, "10.0.0.5", "10.0.0.1", "password"),
        GROUPS,
        "passwordauthentication no",
    ),
    (("pubkeyacceptedalgorithms rsa-sha2-512",), ANSIBLE, GROUPS, "leaves out ssh-ed25519"),
    (("forcecommand /usr/bin/false",), ANSIBLE, GROUPS, "ForceCommand /usr/bin/false"),
    (("chrootdirectory /srv/jail",), ANSIBLE, GROUPS, "ChrootDirectory /srv/jail"),
    (("maxsessions 0",), ANSIBLE, GROUPS, "MaxSessions 0"),
    (("refuseconnection yes",), ANSIBLE, GROUPS, "RefuseConnection yes"),
    (("usepam no",), ANSIBLE, Account(("ansible",), True), "UsePAM no makes sshd refuse accounts"),
    (("usepam no",), ANSIBLE, Account(("ansible",), None), "/etc/shadow cannot be read"),
]


@pytest.mark.parametrize(("changes", "operator", "account", "refusal"), REFUSED)
def test_refused(changes, operator, account, refusal):
    found = guard.refusals(config(*changes), operator, account)
    assert any(refusal in reason for reason in found), found


# (candidate lines, operator, account) - changes that keep the operator in.
ADMITTED = [
    ((), ANSIBLE, GROUPS),
    (("permitrootlogin no",), ANSIBLE, GROUPS),
    (("permitrootlogin prohibit-password",), ROOT, GROUPS),
    (("permitrootlogin without-password",), ROOT, GROUPS),
    (("allowusers alice ansible",), ANSIBLE, GROUPS),
    (("allowusers ans*",), ANSIBLE, GROUPS),
    (("allowusers ansible@10.0.0.0/8",), ANSIBLE, GROUPS),
    (("allowusers ansible@*",), Operator("ansible", 22, "10.0.0.5", None, "publickey"), GROUPS),
    (("denyusers alice", "denyusers ansible@192.168.0.0/16"), ANSIBLE, GROUPS),
    (("denygroups nossh",), ANSIBLE, GROUPS),
    (("allowgroups sudo",), ANSIBLE, GROUPS),
    (("allowgroups su*",), ANSIBLE, GROUPS),
    (("port 22", "port 2222", "listenaddress 0.0.0.0:22", "listenaddress 0.0.0.0:2222"), ANSIBLE, GROUPS),
    (("listenaddress 10.0.0.5:22",), ANSIBLE, GROUPS),
    (
        ("listenaddress [::]:22",),
        Operator("ansible", 22, "2001:db8::5", "2001:db8::1", "publickey"),
        GROUPS,
    ),
    (("passwordauthentication no",), ANSIBLE, GROUPS),
    (("authenticationmethods publickey",), ANSIBLE, GROUPS),
    (("pubkeyacceptedalgorithms ssh-ed25519,rsa-sha2-512",), ANSIBLE, GROUPS),
    (("usepam no",), Operator("alice", 22, "10.0.0.5", "10.0.0.1", "publickey"), Account(("alice",), False)),
    (("maxsessions 1", "disableforwarding yes", "x11forwarding no"), ANSIBLE, GROUPS),
]


@pytest.mark.parametrize(("changes", "operator", "account"), ADMITTED)
def test_admitted_changes(changes, operator, account):
    assert guard.refusals(config(*changes), operator, account) == []


def test_unknown_method_refuses_only_what_the_candidate_takes_away():
    unknown = Operator("ansible", 22, "10.0.0.5", "10.0.0.1")
    current = config()
    assert guard.refusals(config("kbdinteractiveauthentication yes"), unknown, GROUPS, current=current) == []
    found = guard.refusals(config("passwordauthentication no"), unknown, GROUPS, current=current)
    assert found == [
        "it is unknown how ansible authenticates, and the candidate takes away password: give connection.method "
        "(publickey or password), or keep those methods"
    ]
    # Without the configuration in use, every method counts as possibly in use.
    assert guard.refusals(config(), unknown, GROUPS) != []


def test_socket_activation_judges_ports_by_change_not_by_sshd_listening():
    moved = config("port 2222", "listenaddress 0.0.0.0:2222")
    assert guard.refusals(config(), ANSIBLE, GROUPS, current=config(), socket_activated=True) == []
    found = guard.refusals(moved, ANSIBLE, GROUPS, current=config(), socket_activated=True)
    assert len(found) == 1 and "ssh.socket accepts the connections" in found[0]


@pytest.mark.parametrize(
    ("criteria", "operator", "count"),
    [
        (["User deploy"], Operator("ansible", 22), 0),
        (["Address 10.0.0.0/8"], Operator("ansible", 22), 1),
        (["User x Host *.example.org", "all"], Operator("ansible", 22), 1),
        (["Address 10.0.0.0/8"], ANSIBLE, 0),
    ],
)
def test_match_blocks_need_the_client_address(criteria, operator, count):
    assert len(guard.match_refusals(criteria, operator)) == count


SESSION = Session(900, "sshd", "ansible", "notty", 800, "10.0.0.5", 2222, "10.0.0.1", 50000, "socket")


@pytest.mark.parametrize(
    ("found", "connection", "learned", "expected", "note"),
    [
        (
            SESSION,
            {},
            ("publickey", "ED25519"),
            [Operator("ansible", 2222, "10.0.0.5", "10.0.0.1", "publickey", "ED25519", "sshd session process 900")],
            None,
        ),
        (
            SESSION,
            {"user": "deploy", "port": 22, "method": "password"},
            None,
            [
                Operator("ansible", 2222, "10.0.0.5", "10.0.0.1", "password", None, "sshd session process 900"),
                Operator("deploy", 2222, "10.0.0.5", "10.0.0.1", "password", None, "Ansible"),
            ],
            "a forwarded port",
        ),
        (
            None,
            {"user": "ansible", "port": 2222, "address": "node1.example.org", "client_address": "10.0.0.1"},
            None,
            [Operator("ansible", 2222, None, "10.0.0.1", None, None)],
            "no sshd session",
        ),
        (
            None,
            {"user": "ansible", "port": 22, "address": "10.0.0.5"},
            None,
            [Operator("ansible", 22, "10.0.0.5")],
            None,
        ),
        (None, {"local": True}, None, [], "does not run over SSH"),
    ],
)
def test_operators(found, connection, learned, expected, note):
    operators, notes = guard.operators(found, connection, learned)
    assert operators == expected
    if note:
        assert any(note in text for text in notes)


@pytest.mark.parametrize("connection", [{}, {"user": "ansible"}, {"port": 22}, {"address": "10.0.0.5"}])
def test_operators_fail_closed_when_nobody_knows(connection):
    with pytest.raises(ControlInputError, match="cannot tell which account and port Ansible connects with"):
        guard.operators(None, connection)


@pytest.mark.parametrize(
    ("connection", "message"),
    [
        ("ansible@22", "connection must be a mapping"),
        ({"user": "ansible", "host": "x"}, "unknown keys host"),
        ({"port": 70000}, "is not a TCP port"),
        ({"port": True}, "is not a TCP port"),
        ({"user": "a,b"}, "must be one word"),
        ({"method": "kerberos"}, "connection.method must be one of"),
        ({"local": "yes"}, "connection.local must be true or false"),
    ],
)
def test_check_connection_refuses(connection, message):
    with pytest.raises(ControlInputError, match=message):
        guard.check_connection(connection)


def test_check_connection_normalises():
    assert guard.check_connection(None) == {}
    assert guard.check_connection({"user": "ansible", "port": "2222", "address": None}) == {
        "user": "ansible",
        "port": 2222,
    }


@pytest.mark.parametrize(
    ("user", "groups", "locked"),
    [
        ("ansible", ("sudo", "ansible"), True),
        ("alice", ("alice", "sshusers"), False),
        ("root", ("root",), False),
    ],
)
def test_account_from_the_files(tmp_path, user, groups, locked):
    tree = Tree(tmp_path)
    assert guard.account(tree.node(FakeModule()), user) == Account(groups, locked)


def test_account_of_a_directory_user_from_id(tmp_path):
    tree = Tree(tmp_path)
    module = FakeModule()
    module.commands["id"] = lambda argv: (0, "ldapuser admins\n", "") if argv[-1] == "ldapuser" else (1, "", "no")
    node = tree.node(module)
    assert guard.account(node, "ldapuser") == Account(("ldapuser", "admins"), False)
    assert guard.account(node, "ghost") == Account(None, False)
    assert module.calls[0] == ["/usr/sbin/id", "-Gn", "--", "ldapuser"]


def test_expired_account_counts_as_locked(tmp_path):
    tree = Tree(tmp_path)
    tree.write("/etc/shadow", "alice:$y$x:19000:0:99999:7::1:\n")
    assert guard.account(tree.node(FakeModule()), "alice").locked is True
