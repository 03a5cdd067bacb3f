# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Where each sshd keyword is set: Includes in sshd's order, Match blocks, planned files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ansible_collections.nodeguard.hardening.plugins.module_utils._access.sshd import candidate, origin

from .sshd_fakes import FakeModule, Tree

DROP_IN = "/etc/ssh/sshd_config.d/00-nodeguard-hardening.conf"


@pytest.fixture
def tree(tmp_path):
    return Tree(tmp_path)


def walk(tree, overrides=None):
    return origin.read_config(tree.node(FakeModule()), overrides=overrides)


@pytest.mark.parametrize(
    ("line", "parsed"),
    [
        ("PermitRootLogin no", ("PermitRootLogin", ["no"])),
        ("  permitrootlogin   no  ", ("permitrootlogin", ["no"])),
        ("PermitRootLogin=no", ("PermitRootLogin", ["no"])),
        ("PermitRootLogin = no", ("PermitRootLogin", ["no"])),
        ("AllowUsers alice bob # and no one else", ("AllowUsers", ["alice", "bob"])),
        ('Banner "/etc/issue net"', ("Banner", ["/etc/issue net"])),
        ("Subsystem\tsftp\t/usr/lib/openssh/sftp-server", ("Subsystem", ["sftp", "/usr/lib/openssh/sftp-server"])),
        ("AcceptEnv a#b", ("AcceptEnv", ["a#b"])),
        ("# PermitRootLogin yes", None),
        ("   ", None),
        ("", None),
    ],
)
def test_parse_line(line, parsed):
    assert origin.parse_line(line) == parsed


@pytest.mark.parametrize(
    ("pattern", "path", "matches"),
    [
        ("/etc/ssh/sshd_config.d/*.conf", DROP_IN, True),
        ("/etc/ssh/sshd_config.d/*.conf", "/etc/ssh/sshd_config.d/.hidden.conf", False),
        ("/etc/ssh/sshd_config.d/*.conf", "/etc/ssh/sshd_config.d/sub/x.conf", False),
        ("/etc/ssh/sshd_config.d/*.conf", "/etc/ssh/sshd_config.d/x.conf.dpkg-old", False),
        ("/etc/ssh/*/00-*.conf", DROP_IN, True),
        ("/etc/ssh/sshd_config.d/0?-*", DROP_IN, True),
    ],
)
def test_glob_match(pattern, path, matches):
    assert origin.glob_match(pattern, path) is matches


def test_debian_drop_ins_are_read_first_in_name_order(tree):
    tree.write("/etc/ssh/sshd_config.d/50-cloud-init.conf", "PasswordAuthentication yes\n")
    tree.write("/etc/ssh/sshd_config.d/10-site.conf", "PasswordAuthentication no\nPermitRootLogin no\n")
    tree.write("/etc/ssh/sshd_config.d/README", "PermitRootLogin yes\n")
    config = walk(tree)
    assert list(config.texts) == [
        "/etc/ssh/sshd_config",
        "/etc/ssh/sshd_config.d/10-site.conf",
        "/etc/ssh/sshd_config.d/50-cloud-init.conf",
    ]
    assert config.first("PasswordAuthentication").where == "/etc/ssh/sshd_config.d/10-site.conf line 1"
    assert [line.where for line in config.settings("passwordauthentication")] == [
        "/etc/ssh/sshd_config.d/10-site.conf line 1",
        "/etc/ssh/sshd_config.d/50-cloud-init.conf line 1",
    ]
    # Lines of sshd_config after the Include come after every drop-in.
    assert config.first("usepam").where == "/etc/ssh/sshd_config line 8"
    assert origin.where(config, "Banner") == "sshd default"


def test_nested_relative_includes_and_recursion_order(tree):
    tree.write(
        "/etc/ssh/sshd_config",
        "Include local/first.conf\nPermitRootLogin yes\nInclude /etc/ssh/sshd_config.d/*.conf\n",
    )
    tree.write("/etc/ssh/local/first.conf", "Include nested/*.conf\nMaxAuthTries 3\n")
    tree.write("/etc/ssh/nested/b.conf", "LogLevel INFO\n")
    tree.write("/etc/ssh/nested/a.conf", "LogLevel VERBOSE\nMaxAuthTries 2\n")
    tree.write("/etc/ssh/sshd_config.d/01.conf", "PermitRootLogin no\n")
    config = walk(tree)
    assert list(config.texts) == [
        "/etc/ssh/sshd_config",
        "/etc/ssh/local/first.conf",
        "/etc/ssh/nested/a.conf",
        "/etc/ssh/nested/b.conf",
        "/etc/ssh/sshd_config.d/01.conf",
    ]
    assert config.first("loglevel").where == "/etc/ssh/nested/a.conf line 1"
    assert config.first("maxauthtries").where == "/etc/ssh/nested/a.conf line 2"
    assert config.first("permitrootlogin").where == "/etc/ssh/sshd_config line 2"
    assert [include.files for include in config.includes] == [
        ("/etc/ssh/local/first.conf",),
        ("/etc/ssh/nested/a.conf", "/etc/ssh/nested/b.conf"),
        ("/etc/ssh/sshd_config.d/01.conf",),
    ]


def test_match_blocks_are_noted_but_not_global(tree):
    tree.write(
        "/etc/ssh/sshd_config.d/20-match.conf",
        "X11Forwarding no\nMatch User deploy\n  PermitRootLogin yes\n  X11Forwarding yes\nMatch all\nMaxSessions 4\n",
    )
    tree.write("/etc/ssh/sshd_config.d/30-after.conf", "PermitRootLogin no\n")
    config = walk(tree)
    # The Match block ends with its file; the next file is global again.
    assert config.first("permitrootlogin").where == "/etc/ssh/sshd_config.d/30-after.conf line 1"
    assert [line.where for line in config.conditional("permitrootlogin")] == [
        "/etc/ssh/sshd_config.d/20-match.conf line 3"
    ]
    assert [line.match for line in config.conditional("x11forwarding")] == ["User deploy"]
    assert config.first("x11forwarding").where == "/etc/ssh/sshd_config.d/20-match.conf line 1"
    assert config.first("maxsessions").where == "/etc/ssh/sshd_config.d/20-match.conf line 6"
    assert [line.value for line in config.matches()] == ["User deploy", "all"]


def test_include_inside_a_match_block_is_conditional(tree):
    tree.write("/etc/ssh/sshd_config", "Match Address 10.0.0.0/8\nInclude /etc/ssh/extra.conf\n")
    tree.write("/etc/ssh/extra.conf", "PermitRootLogin yes\n")
    config = walk(tree)
    assert config.first("permitrootlogin") is None
    assert config.conditional("permitrootlogin")[0].match == "Address 10.0.0.0/8"


def test_old_names_count_for_the_new_keyword(tree):
    tree.write("/etc/ssh/sshd_config.d/10-old.conf", "ChallengeResponseAuthentication yes\n")
    config = walk(tree)
    assert config.first("kbdinteractiveauthentication").where == "/etc/ssh/sshd_config.d/10-old.conf line 1"


def test_planned_files_take_their_place_in_the_order(tree):
    tree.write("/etc/ssh/sshd_config.d/00-local.conf", "PermitRootLogin yes\n")
    tree.write("/etc/ssh/sshd_config.d/50-cloud.conf", "PermitRootLogin yes\n")
    tree.write("/etc/ssh/sshd_config.d/60-gone.conf", "PermitRootLogin yes\n")
    now = walk(tree)
    assert not now.reads(DROP_IN)
    planned = walk(tree, {DROP_IN: "PermitRootLogin no\n", "/etc/ssh/sshd_config.d/60-gone.conf": None})
    assert list(planned.texts) == [
        "/etc/ssh/sshd_config",
        "/etc/ssh/sshd_config.d/00-local.conf",
        DROP_IN,
        "/etc/ssh/sshd_config.d/50-cloud.conf",
    ]
    local, mine, cloud = planned.settings("permitrootlogin")
    assert planned.before(local, DROP_IN)
    assert not planned.before(mine, DROP_IN) and not planned.before(cloud, DROP_IN)


def test_unreadable_files_and_deep_nesting_are_problems(tree):
    tree.write("/etc/ssh/sshd_config", "Include /etc/ssh/loop.conf\n")
    tree.write("/etc/ssh/loop.conf", "Include /etc/ssh/loop.conf\n")
    config = walk(tree)
    assert any("nested more than 16 deep" in problem for problem in config.problems)
    os.unlink(tree.file("/etc/ssh/sshd_config"))
    assert walk(tree).problems == ["/etc/ssh/sshd_config cannot be read"]


def test_candidate_copy_reads_the_planned_files_in_place(tree):
    tree.write("/etc/ssh/sshd_config.d/50-cloud.conf", "PermitRootLogin yes\nAllowUsers old\n")
    tree.write(DROP_IN, "AllowUsers old\n")
    tree.write("/etc/ssh/sshd_config", "Match User x\nInclude sshd_config.d/*.conf\nMatch all\n" + "UsePAM yes\n")
    node = tree.node(FakeModule())
    planned = origin.read_config(node, overrides={DROP_IN: "AllowUsers new\n"})
    shadow = candidate.build(node, planned)
    try:
        files = sorted(os.listdir(shadow.directory))
        assert files == ["000.conf", "001.conf", "002.conf"]
        assert os.stat(shadow.directory).st_mode & 0o777 == 0o700
        main = Path(shadow.main).read_text().splitlines()
        copies = {path: copy for copy, path in shadow.real.items()}
        assert main == [
            "Match User x",
            f'Include "{copies[DROP_IN]}" "{copies["/etc/ssh/sshd_config.d/50-cloud.conf"]}"',
            "Match all",
            "UsePAM yes",
        ]
        assert Path(copies[DROP_IN]).read_text() == "AllowUsers new\n"
        message = f"{copies[DROP_IN]} line 1: Bad configuration option"
        assert shadow.explain(message) == f"{DROP_IN} (candidate) line 1: Bad configuration option"
    finally:
        shadow.remove()
    assert not os.path.exists(shadow.directory)
    assert sorted(os.listdir(tree.file("/etc/ssh"))) == ["sshd_config", "sshd_config.d"]


def test_candidate_keeps_an_include_that_matches_nothing_as_a_comment(tree):
    tree.write("/etc/ssh/sshd_config", "Include /etc/ssh/none/*.conf\nUsePAM yes\n")
    node = tree.node(FakeModule())
    shadow = candidate.build(node, origin.read_config(node))
    try:
        assert Path(shadow.main).read_text() == "# no file matches: Include /etc/ssh/none/*.conf\nUsePAM yes\n"
    finally:
        shadow.remove()
