# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest

from ansible_collections.nodeguard.hardening.plugins.module_utils._access import passwd_db as db

from ..system.conftest import FakeModule, Tree

PASSWD = (
    "root:x:0:0:root:/root:/bin/bash\n"
    "\n"
    "# a comment the tools would choke on, passed over\n"
    "sync:x:4:65534:sync:/bin:/bin/sync\n"
    "broken:x:12:12\n"
    "nan:x:abc:1::/:/bin/sh\n"
    "+nisuser::::::\n"
    "alice:x:1000:1000:Alice,,,:/home/alice:\n"
)
SHADOW = (
    "root:$y$j9T$salt$hash:19500:0:99999:7:::\nsync:*:19500:0:99999:7:::\nalice::19500::::::\nbad:$y$x:oops:0:1:2:::\n"
)
GROUP = "root:x:0:\nshadow:x:42:alice,bob\nnogroup:x:65534:\nalice:x:1000:\nshort:x:7\n"
GSHADOW = "root:*::\nshadow:*:admin:alice,bob\nalice:!::\n"
SHELLS = "# /etc/shells: valid login shells\n/bin/sh\n/bin/bash\n  /usr/bin/bash  # trailing words\nnot-a-path\n"


@pytest.fixture
def tree(tmp_path):
    return Tree(tmp_path)


@pytest.fixture
def node(tree):
    for path, text in ((db.PASSWD, PASSWD), (db.SHADOW, SHADOW), (db.GROUP, GROUP), (db.GSHADOW, GSHADOW)):
        tree.write(path, text)
    tree.write(db.SHELLS, SHELLS)
    return tree.node(FakeModule([]))


def test_records_keep_their_fields_and_line_numbers(node):
    files = db.load(node)
    assert [(u.name, u.uid, u.gid, u.line) for u in files.users] == [
        ("root", 0, 0, 1),
        ("sync", 4, 65534, 4),
        ("alice", 1000, 1000, 8),
    ]
    alice = files.user("alice")
    assert (alice.gecos, alice.home, alice.shell, alice.login_shell) == ("Alice,,,", "/home/alice", "", "/bin/sh")
    assert alice.where == "/etc/passwd line 8"
    root = files.shadow("root")
    assert (root.last_change, root.min_days, root.max_days, root.warn_days, root.inactive_days, root.expire) == (
        19500,
        0,
        99999,
        7,
        None,
        None,
    )
    assert files.shadow("alice").where == "/etc/shadow line 3"
    assert [(g.name, g.gid, g.members, g.line) for g in files.groups] == [
        ("root", 0, (), 1),
        ("shadow", 42, ("alice", "bob"), 2),
        ("nogroup", 65534, (), 3),
        ("alice", 1000, (), 4),
    ]
    assert [(g.name, g.admins, g.members) for g in files.gshadows][1] == ("shadow", ("admin",), ("alice", "bob"))
    assert files.group_by_gid(65534).name == "nogroup"
    assert files.user_by_uid(4).name == "sync"
    assert files.missing == []


def test_malformed_lines_are_kept_apart_and_never_show_a_password(node):
    files = db.load(node)
    assert [(m.where, m.why) for m in files.malformed] == [
        ("/etc/passwd line 5", "4 fields instead of 7"),
        ("/etc/passwd line 6", "UID or GID is not a number"),
        ("/etc/passwd line 7", "a NIS compat entry, which these controls do not judge"),
        ("/etc/shadow line 4", "an ageing field is not a number"),
        ("/etc/group line 5", "3 fields instead of 4"),
    ]
    assert all("$y$" not in m.text for m in files.malformed)
    assert files.malformed[3].text == "bad:(password field):oops:0:1:2:::"


def test_shells_as_getusershell_reads_them(node):
    files = db.load(node)
    assert files.shells == ("/bin/sh", "/bin/bash", "/usr/bin/bash")
    assert files.valid_shells() == ("/bin/sh", "/bin/bash", "/usr/bin/bash")
    assert files.has_valid_shell(files.user("alice"))  # the empty shell field is /bin/sh
    assert not files.has_valid_shell(files.user("sync"))


@pytest.mark.parametrize(
    ("shells", "valid"),
    [
        (None, ("/bin/sh", "/bin/csh")),
        ("/bin/sh\n/usr/sbin/nologin\n/bin/false\n", ("/bin/sh",)),
        ("", ()),
    ],
    ids=["absent-file", "nologin-and-false-never-valid", "empty-file"],
)
def test_valid_shells(tree, shells, valid):
    tree.write(db.PASSWD, "root:x:0:0::/root:/bin/bash\n")
    if shells is not None:
        tree.write(db.SHELLS, shells)
    assert db.load(tree.node(FakeModule([]))).valid_shells() == valid


@pytest.mark.parametrize(
    ("field", "status"),
    [("!", "L"), ("!$y$abc", "L"), ("*", "L"), ("", "NP"), ("$y$j9T$a$b", "P"), ("x", "P")],
)
def test_password_status_as_passwd_dash_s(field, status):
    assert db.password_status(field) == status


def test_password_field_comes_from_shadow_when_there_is_an_entry(tree):
    tree.write(db.PASSWD, "root:x:0:0::/root:/bin/bash\nold:$1$abc:5:5::/:/bin/sh\n")
    tree.write(db.SHADOW, "root:!:19500:0:99999:7:::\n")
    files = db.load(tree.node(FakeModule([])))
    assert files.password(files.user("root")) == ("!", "/etc/shadow line 1")
    assert files.password(files.user("old")) == ("$1$abc", "/etc/passwd line 2")
    assert files.status(files.user("old")) == "P"


def test_missing_files_are_listed(tree):
    tree.write(db.PASSWD, "root:x:0:0::/root:/bin/bash\n")
    files = db.load(tree.node(FakeModule([])))
    assert files.missing == [db.SHADOW, db.GROUP, db.GSHADOW]
    assert files.shells is None


def test_read_once_until_the_node_forgets(node, tree):
    first = db.account_files(node)
    tree.write(db.PASSWD, "root:x:0:0::/root:/bin/bash\n")
    assert db.account_files(node) is first
    node.forget()
    assert [u.name for u in db.account_files(node).users] == ["root"]


def test_duplicates_are_kept_and_the_first_one_answers(tree):
    tree.write(db.PASSWD, "root:x:0:0::/root:/bin/bash\nroot:x:5:5::/x:/bin/sh\n")
    files = db.load(tree.node(FakeModule([])))
    assert len(files.users) == 2
    assert files.user("root").uid == 0
