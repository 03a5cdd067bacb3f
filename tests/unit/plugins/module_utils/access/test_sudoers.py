# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest

from ansible_collections.nodeguard.hardening.plugins.module_utils._access import sudoers
from ansible_collections.nodeguard.hardening.plugins.module_utils._controls import ControlInputError
from ansible_collections.nodeguard.hardening.plugins.module_utils._system import engine

from ..system.conftest import FakeModule, Tree, control

# Debian 12's /etc/sudoers, shortened.
SUDOERS = """\
#
# This file MUST be edited with the 'visudo' command as root.
#
Defaults\tenv_reset
Defaults\tmail_badpass
Defaults\tsecure_path="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
Defaults\tuse_pty

# User privilege specification
root\tALL=(ALL:ALL) ALL

# Allow members of group sudo to execute any command
%sudo\tALL=(ALL:ALL) ALL

# See sudoers(5) for more information on "@include" directives:

@includedir /etc/sudoers.d
"""
PASSWORD = control("cis.sudo.password_required", "sudoers", {"check": "password_required"})
REAUTH = control("cis.sudo.reauthentication", "sudoers", {"check": "reauthentication"})


@pytest.fixture
def tree(tmp_path):
    tree = Tree(tmp_path)
    tree.write("/etc/sudoers", SUDOERS, 0o440)
    tree.write("/etc/sudoers.d/README", "# files in this directory are read by sudo\n", 0o440)
    return tree


def run(tree, controls, *, check_mode=False):
    module = FakeModule(controls, check_mode=check_mode)
    return module, engine.run(module, tree.node(module), [sudoers.Sudoers()])


def statuses(result):
    return [(r["id"], r["status"]) for r in result["controls"]]


def test_debian_defaults_pass(tree):
    module, result = run(tree, [PASSWORD, REAUTH])
    assert statuses(result) == [("cis.sudo.password_required", "pass"), ("cis.sudo.reauthentication", "pass")]
    assert result["controls"][0]["details"]["files"] == ["/etc/sudoers", "/etc/sudoers.d/README"]
    assert module.calls == []


def test_nopasswd_is_an_error_naming_file_and_line_and_nothing_changes(tree):
    tree.write("/etc/sudoers.d/90-cloud-init-users", "# Created by cloud-init\nansible ALL=(ALL) NOPASSWD:ALL\n", 0o440)
    before = tree.snapshot()
    _module, result = run(tree, [PASSWORD, REAUTH])
    assert statuses(result) == [("cis.sudo.password_required", "error"), ("cis.sudo.reauthentication", "pass")]
    found = result["controls"][0]
    assert found["differences"] == [
        {
            "item": "NOPASSWD",
            "where": "/etc/sudoers.d/90-cloud-init-users line 2",
            "expected": "absent",
            "actual": "ansible ALL=(ALL) NOPASSWD:ALL",
        }
    ]
    assert "remove NOPASSWD by hand" in found["reason"]
    assert result["changed"] is False
    assert tree.snapshot() == before


def test_check_mode_reports_drift(tree):
    tree.write("/etc/sudoers.d/automation", "Defaults:deploy !authenticate\n", 0o440)
    _module, result = run(tree, [REAUTH], check_mode=True)
    assert statuses(result) == [("cis.sudo.reauthentication", "drift")]
    assert result["controls"][0]["differences"][0]["where"] == "/etc/sudoers.d/automation line 1"


@pytest.mark.parametrize(
    ("text", "check", "found"),
    [
        ("Defaults !authenticate\n", "reauthentication", [1]),
        ("Defaults env_reset, ! authenticate\n", "reauthentication", [1]),
        ("Defaults>root !authenticate\n", "reauthentication", [1]),
        ("Defaults authenticate\n", "reauthentication", []),
        ("# Defaults !authenticate\n", "reauthentication", []),
        ("deploy ALL=(ALL) !authenticate\n", "reauthentication", []),
        ("%adm ALL=(ALL) NOPASSWD: /usr/bin/systemctl\n", "password_required", [1]),
        ("deploy ALL=(ALL) PASSWD: ALL, \\\n  NOPASSWD: /bin/true\n", "password_required", [1]),
        ("#1000 ALL=(ALL) NOPASSWD: ALL\n", "password_required", [1]),
        ("deploy ALL=(ALL) ALL # NOPASSWD: would be nice\n", "password_required", []),
        ('Defaults lecture_file="/etc/NOPASSWD: x"\n', "password_required", []),
    ],
)
def test_rules_are_read_as_sudo_reads_them(tree, text, check, found):
    tree.write("/etc/sudoers.d/site", text, 0o440)
    read = sudoers.read_rules(tree.node(FakeModule([])))
    assert read.problems == []
    hits = [rule.number for rule in sudoers.hits(read.rules, check) if rule.path == "/etc/sudoers.d/site"]
    assert hits == found


def test_sudo_skips_files_with_a_dot_or_a_tilde_and_follows_includes(tree):
    tree.write("/etc/sudoers.d/old~", "a ALL=(ALL) NOPASSWD: ALL\n", 0o440)
    tree.write("/etc/sudoers.d/site.dpkg-dist", "b ALL=(ALL) NOPASSWD: ALL\n", 0o440)
    tree.write("/etc/sudoers.d/site", "@include extra\n#include /etc/sudoers.local\n", 0o440)
    tree.write("/etc/sudoers.d/extra", "c ALL=(ALL) NOPASSWD: ALL\n", 0o440)
    tree.write("/etc/sudoers.local", "d ALL=(ALL) NOPASSWD: ALL\n", 0o440)
    read = sudoers.read_rules(tree.node(FakeModule([])))
    hits = [rule.text.split()[0] for rule in sudoers.hits(read.rules, "password_required")]
    # extra is named twice (a file of the directory, and site's include) and reported once.
    assert hits == ["c", "d"]
    assert read.files == [
        "/etc/sudoers",
        "/etc/sudoers.d/README",
        "/etc/sudoers.d/extra",
        "/etc/sudoers.d/site",
        "/etc/sudoers.local",
    ]


def test_without_sudo_the_controls_are_skipped(tmp_path):
    tree = Tree(tmp_path)
    _module, result = run(tree, [PASSWORD, REAUTH])
    assert [r["status"] for r in result["controls"]] == ["skipped", "skipped"]
    assert "sudo is not installed" in result["controls"][0]["reason"]


@pytest.mark.parametrize("spec", [{"check": "nopasswd"}, {"check": "password_required", "fix": True}, "x", None])
def test_bad_specs_are_refused(tree, spec):
    with pytest.raises(ControlInputError, match=r"spec must be \{check: NAME\}"):
        run(tree, [control("site.sudo", "sudoers", spec)])
