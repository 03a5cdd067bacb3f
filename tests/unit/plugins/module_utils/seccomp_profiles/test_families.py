# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The seccomp families on a temporary tree: profiles written below the seccomp root, edits and
strays reported and corrected, and nothing written when any profile is refused."""

from __future__ import annotations

import json

import pytest

from ansible_collections.nodeguard.hardening.plugins.module_utils._controls import ControlInputError
from ansible_collections.nodeguard.hardening.plugins.module_utils._seccomp import families, native
from ansible_collections.nodeguard.hardening.plugins.module_utils._system import engine

from ..system.conftest import FakeModule, Tree, control

ROOT = "/var/lib/kubelet/seccomp"
DIR = f"{ROOT}/nodeguard"
TABLE = native.Table("SCMP_ARCH_X86_64", {"SCMP_ARCH_X86_64": {"read", "write", "unshare"}})
STRICT = json.dumps(
    {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["unshare"], "action": "SCMP_ACT_ERRNO"}]}
)
AUDIT = '{"defaultAction": "SCMP_ACT_LOG"}'


@pytest.fixture
def tree(tmp_path, monkeypatch) -> Tree:
    monkeypatch.setattr(native, "load", lambda: TABLE)
    return Tree(tmp_path)


def catalog() -> list[dict]:
    items = [
        control("k8s.seccomp.profile", "seccomp_profile", None, title="profile {file}"),
        control("k8s.seccomp.retired", "seccomp_retired", None),
    ]
    for item in items:
        item.pop("by_platform")
    items[0]["title"] = "profile {file}"
    return items


def run(tree: Tree, profiles: list[dict], *, check_mode: bool = False) -> dict:
    module = FakeModule(catalog(), check_mode=check_mode)
    checked = families.check_profiles(profiles)
    module.params["controls"] = families.expand(module.params["controls"], checked)
    options = families.Options(profiles=checked, root=ROOT, subfolder="nodeguard")
    return engine.run(module, tree.node(module), families.build(options))


def wanted() -> list[dict]:
    return [{"file": "strict.json", "content": STRICT, "source": "s"}, {"file": "audit.json", "content": AUDIT}]


def statuses(result: dict) -> dict[str, str]:
    return {r["id"]: r["status"] for r in result["controls"]}


def test_profiles_are_written_once_and_a_second_run_changes_nothing(tree):
    result = run(tree, wanted())
    assert statuses(result) == {
        "k8s.seccomp.profile.strict": "fixed",
        "k8s.seccomp.profile.audit": "fixed",
        "k8s.seccomp.retired": "pass",
    }
    assert tree.read(f"{DIR}/strict.json") == STRICT + "\n"
    assert oct(tree.file(f"{DIR}/audit.json").stat().st_mode & 0o777) == "0o644"
    details = result["controls"][0]["details"]
    assert (
        details["pod"]["securityContext"]
        == "seccompProfile: {type: Localhost, localhostProfile: nodeguard/strict.json}"
    )
    assert details["default_action"] == "SCMP_ACT_ALLOW"
    again = run(tree, wanted())
    assert set(statuses(again).values()) == {"pass"} and again["changed"] is False


def test_check_mode_predicts_and_writes_nothing(tree):
    before = tree.snapshot()
    result = run(tree, wanted(), check_mode=True)
    assert statuses(result)["k8s.seccomp.profile.strict"] == "drift"
    assert tree.snapshot() == before


def test_an_edited_a_deleted_and_a_stray_profile_drift_then_are_fixed(tree):
    run(tree, wanted())
    tree.write(f"{DIR}/strict.json", '{"defaultAction": "SCMP_ACT_ALLOW"}\n')
    tree.file(f"{DIR}/audit.json").unlink()
    tree.write(f"{DIR}/old.json", AUDIT)
    tree.write(f"{DIR}/.nodeguard-tmp", "half")
    audit = run(tree, wanted(), check_mode=True)
    assert statuses(audit) == {
        "k8s.seccomp.profile.strict": "drift",
        "k8s.seccomp.profile.audit": "drift",
        "k8s.seccomp.retired": "drift",
    }
    reasons = {r["id"]: r["reason"] for r in audit["controls"]}
    assert "SCMP_ACT_ALLOW" in reasons["k8s.seccomp.profile.strict"]
    assert "absent" in reasons["k8s.seccomp.profile.audit"]
    assert (
        f"{DIR}/old.json" in reasons["k8s.seccomp.retired"] and ".nodeguard-tmp" not in reasons["k8s.seccomp.retired"]
    )
    fixed = run(tree, wanted())
    assert set(statuses(fixed).values()) == {"fixed"}
    assert tree.read(f"{DIR}/old.json") is None and tree.read(f"{DIR}/strict.json") == STRICT + "\n"


def test_one_refused_profile_means_nothing_is_written(tree):
    run(tree, wanted())
    before = tree.snapshot()
    bad = {
        "file": "bad.json",
        "content": json.dumps(
            {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["unshar"], "action": "SCMP_ACT_ERRNO"}]}
        ),
    }
    changed = wanted()
    changed[1]["content"] = '{"defaultAction": "SCMP_ACT_KILL"}'
    with pytest.raises(ControlInputError, match=r"seccomp profile 'bad.json': syscalls\[0\].names\[0\]: 'unshar'"):
        run(tree, [*changed, bad])
    assert tree.snapshot() == before


def test_no_wanted_profile_removes_the_managed_ones_and_skips_the_template(tree):
    run(tree, wanted())
    result = run(tree, [])
    assert statuses(result) == {"k8s.seccomp.profile": "skipped", "k8s.seccomp.retired": "fixed"}
    assert tree.read(f"{DIR}/strict.json") is None


@pytest.mark.parametrize(
    ("profiles", "says"),
    [
        ([{"file": "../x.json", "content": "{}"}], "plain file name"),
        ([{"file": ".x.json", "content": "{}"}], "plain file name"),
        ([{"file": "a.json", "content": "{}"}, {"file": "a.json", "content": "{}"}], "given twice"),
    ],
)
def test_file_names_are_checked(profiles, says):
    with pytest.raises(ControlInputError, match=says):
        families.check_profiles(profiles)
