# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import os
import re

import pytest

from ansible_collections.nodeguard.hardening.plugins.module_utils._controls import ControlInputError
from ansible_collections.nodeguard.hardening.plugins.module_utils._system import aide, engine
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.aide import Aide

from .conftest import FakeModule, control

DATABASE = control("cis.aide.database", "aide", {"exclude": ["/var/lib/containerd", "/var/log/pods"]})
TOOLS = control("cis.aide.audit_tools", "aide", {"audit_tools": ["/usr/sbin/auditctl"]})
CONF = "database_in=file:/var/lib/aide/aide.db\ndatabase_out=file:/var/lib/aide/aide.db.new\n"


def installed(tree):
    tree.write(aide.CONFIG, CONF)
    tree.file("/var/lib/aide").mkdir(parents=True, exist_ok=True)


def run(tree, controls, *, check_mode=False, init_rc=0):
    module = FakeModule(controls, check_mode=check_mode)

    def init(argv):
        if init_rc == 0:
            tree.write("/var/lib/aide/aide.db.new", "database\n")
        return init_rc, "", "aide: cannot read /etc/aide/aide.conf" if init_rc else ""

    module.commands["aide"] = init
    return module, engine.run(module, tree.node(module), [Aide()])


def statuses(result):
    return [(r["id"], r["status"]) for r in result["controls"]]


@pytest.mark.parametrize(
    ("path", "matches", "misses"),
    [
        ("/var/lib/containerd", ["/var/lib/containerd", "/var/lib/containerd/x"], ["/var/lib/containerdx"]),
        ("/var/lib/kubelet/pods", ["/var/lib/kubelet/pods/x"], ["/var/lib/kubelet/config.yaml"]),
        ("/run/k3s.d", ["/run/k3s.d/a"], ["/run/k3sxd"]),
    ],
)
def test_exclusions_leave_out_the_path_and_below_only(path, matches, misses):
    regex = re.compile(aide.aide_regex(path))
    assert all(regex.match(candidate) for candidate in matches)
    assert not any(regex.match(candidate) for candidate in misses)


def test_a_fresh_node_gets_the_rules_and_a_database(tree):
    installed(tree)
    module, result = run(tree, [DATABASE, TOOLS], check_mode=True)
    assert statuses(result) == [("cis.aide.database", "drift"), ("cis.aide.audit_tools", "drift")]
    assert {"item": "aide database", "where": "/var/lib/aide/aide.db", "expected": "initialised", "actual": None} in (
        result["controls"][0]["differences"]
    )
    assert module.calls == [] and not tree.file(aide.DROP_INS["exclude"]).exists()

    module, result = run(tree, [DATABASE, TOOLS])
    assert statuses(result) == [("cis.aide.database", "fixed"), ("cis.aide.audit_tools", "fixed")]
    # The rules are written before the one initialisation that uses them.
    assert module.calls == [["aide", "--config=/etc/aide/aide.conf", "--init"]]
    assert tree.read("/var/lib/aide/aide.db") == "database\n"
    assert tree.read(aide.DROP_INS["exclude"]).splitlines()[1:] == [
        "!/var/lib/containerd(/|$)",
        "!/var/log/pods(/|$)",
    ]
    assert tree.read(aide.DROP_INS["audit_tools"]).splitlines()[1:] == [
        "/usr/sbin/auditctl$ p+i+n+u+g+s+b+acl+xattrs+sha512"
    ]

    module, result = run(tree, [DATABASE, TOOLS])
    assert statuses(result) == [("cis.aide.database", "pass"), ("cis.aide.audit_tools", "pass")]
    assert module.calls == [] and result["changed"] is False


def test_a_database_older_than_the_rules_is_made_again(tree):
    installed(tree)
    run(tree, [DATABASE])
    past = os.stat(tree.file("/var/lib/aide/aide.db")).st_mtime - 100
    os.utime(tree.file("/var/lib/aide/aide.db"), (past, past))
    _module, result = run(tree, [DATABASE])
    assert result["controls"][0]["differences"] == [
        {
            "item": "aide database",
            "where": "/var/lib/aide/aide.db",
            "expected": "made with the rules in force",
            "actual": "older than the rules",
        }
    ]
    assert result["controls"][0]["status"] == "fixed"
    # The database it replaced is kept beside it.
    assert tree.read("/var/lib/aide/aide.db.nodeguard-previous") == "database\n"


def test_a_failed_initialisation_undoes_the_rules(tree):
    installed(tree)
    with pytest.raises(engine.ApplyError, match=r"aide --init\) failed: .*cannot read"):
        run(tree, [DATABASE], init_rc=17)
    assert not tree.file(aide.DROP_INS["exclude"]).exists()


def test_without_aide_the_control_is_an_error_pointing_at_the_package(tree):
    _module, result = run(tree, [DATABASE])
    assert result["controls"][0]["status"] == "error"
    assert "install the aide package" in result["controls"][0]["reason"]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({}, "spec must be"),
        ({"exclude": ["/var/lib/containerd"], "audit_tools": ["/usr/sbin/auditctl"]}, "spec must be"),
        ({"exclude": "/var/lib/containerd"}, "list of absolute paths"),
        ({"exclude": ["var/lib"]}, "absolute, normalised"),
        ({"exclude": ["/var/lib/../etc"]}, "absolute, normalised"),
        ({"exclude": ["/var/lib/with space"]}, "absolute, normalised"),
        ({"exclude": ["/etc"]}, "unwatched"),
        ({"audit_tools": []}, "list of absolute paths"),
        ({"audit_tools": ["/usr/sbin/auditctl"], "attributes": "p+i n"}, "attributes"),
        ({"exclude": [], "mode": "0600"}, "unknown spec keys"),
    ],
)
def test_bad_specs_are_refused(tree, spec, message):
    with pytest.raises(ControlInputError, match=message):
        run(tree, [control("cis.aide.x", "aide", spec)])


def test_two_controls_cannot_both_set_the_exclusions(tree):
    with pytest.raises(ControlInputError, match="already sets the AIDE exclude list"):
        run(tree, [DATABASE, control("cis.aide.other", "aide", {"exclude": []})])
