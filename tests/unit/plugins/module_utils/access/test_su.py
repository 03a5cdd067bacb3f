# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest

from ansible_collections.nodeguard.hardening.plugins.module_utils._access import su
from ansible_collections.nodeguard.hardening.plugins.module_utils._access.sshd.session import Process
from ansible_collections.nodeguard.hardening.plugins.module_utils._controls import ControlInputError
from ansible_collections.nodeguard.hardening.plugins.module_utils._system import engine

from ..system.conftest import FakeModule, Tree, control

# Debian 12's /etc/pam.d/su (login 1:4.13), shortened in its comments: pam_rootok is line 6.
STOCK = """\
#
# The PAM configuration file for the Shadow `su' service
#

# This allows root to su without passwords (normal operation)
auth       sufficient pam_rootok.so

# Uncomment this to force users to be a member of group wheel
# before they can use `su'. You can also add "group=foo"
# to the end of this line if you want to use a group other
# than the default "wheel" (but this may have side effect of
# denying "root" user, unless she's a member of "foo" or explicitly
# permitted earlier by e.g. "sufficient pam_rootok.so").
# (Replaces the `SU_WHEEL_ONLY' option from login.defs)
# auth       required   pam_wheel.so

# Uncomment this if you want wheel members to be able to
# su without a password.
# auth       sufficient pam_wheel.so trust

# Uncomment this if you want members of a specific group to not
# be allowed to use su at all.
# auth       required   pam_wheel.so deny group=nosu

# parsing /etc/environment needs "readenv=1"
session       required   pam_env.so readenv=1
# reading this file *in addition to /etc/environment* does not hurt
session       required   pam_env.so readenv=1 envfile=/etc/default/locale

# "nopen" stands to avoid reporting new mail when su'ing to another user
session    optional   pam_mail.so nopen

# Sets up user limits according to /etc/security/limits.conf
session    required   pam_limits.so

# The standard Unix authentication modules, used with
# NIS (man nsswitch) as well as normal /etc/passwd and
# /etc/shadow entries.
@include common-auth
@include common-account
@include common-session
"""
WHEEL = "auth       required   pam_wheel.so use_uid group=sugroup"
STOCK_LINES = STOCK.splitlines()
# What the control writes: the pam_wheel line right after pam_rootok's (line 6), all else as it was.
HARDENED = "\n".join([*STOCK_LINES[:6], WHEEL, *STOCK_LINES[6:]]) + "\n"
PASSWD = """\
root:x:0:0:root:/root:/bin/bash
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
ansible:x:1000:1000:Ansible:/home/ansible:/bin/bash
alice:x:1001:1001::/home/alice:/bin/bash
"""
GROUP = """\
root:x:0:
daemon:x:1:
adm:x:4:
sudo:x:27:ansible
ansible:x:1000:
alice:x:1001:
"""
SU = control("cis.su.restricted", "su_wheel", {"group": "sugroup"})


@pytest.fixture
def tree(tmp_path):
    tree = Tree(tmp_path)
    tree.write(su.SU_PAM, STOCK)
    tree.write("/etc/passwd", PASSWD)
    tree.write("/etc/group", GROUP)
    return tree


@pytest.fixture
def hardened(tree):
    tree.write(su.SU_PAM, HARDENED)
    tree.write("/etc/group", GROUP + "sugroup:x:996:\n")
    return tree


@pytest.fixture(autouse=True)
def not_under_su(monkeypatch):
    """The module's ancestors as the tests see them: a python3 under sudo, unless a test says otherwise."""
    chain = [Process(4000, 3000, "python3", "/usr/bin/python3", 0), Process(3000, 2000, "sudo", "sudo -H -S", 0)]
    monkeypatch.setattr(su, "ancestors", lambda node, pid: chain)


def inspect(tree, group="sugroup", module=None):
    node = tree.node(module if module is not None else FakeModule([]))
    family = su.SuWheel()
    spec = family.validate(node, {"id": "cis.su.restricted"}, {"group": group})
    return family.inspect(node, [({"id": "cis.su.restricted"}, spec)])["cis.su.restricted"]


def triples(finding):
    return [(d["item"], d["where"], d["expected"], d["actual"]) for d in finding.differences]


def groupadd_module(tree, controls, *, check_mode=False):
    """groupadd --system adds the group to /etc/group as the real one does."""
    module = FakeModule(controls, check_mode=check_mode)

    def groupadd(argv):
        tree.write("/etc/group", tree.read("/etc/group") + f"{argv[-1]}:x:996:\n")
        return 0, "", ""

    module.commands["groupadd"] = groupadd
    return module


def run(tree, module):
    return engine.run(module, tree.node(module), [su.SuWheel()])


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (None, r"spec must be \{group: NAME\}"),
        ({}, r"spec must be \{group: NAME\}"),
        ({"group": "sugroup", "members": []}, r"spec must be \{group: NAME\}"),
        ({"group": "SuGroup"}, r"group 'SuGroup' is not a valid group name"),
        ({"group": "1sugroup"}, r"group '1sugroup' is not a valid group name"),
        ({"group": "su group"}, r"group 'su group' is not a valid group name"),
        ({"group": "sugroup\nroot"}, r"group .sugroup\\nroot. is not a valid group name"),
        ({"group": "g" * 33}, r"group .g{33}. is not a valid group name"),
        ({"group": ""}, r"group '' is not a valid group name"),
        ({"group": 27}, r"group 27 is not a valid group name"),
        ({"group": "sudo"}, r"group 'sudo' has members on most nodes; name a group of its own"),
        ({"group": "wheel"}, r"group 'wheel' has members on most nodes"),
        ({"group": "root"}, r"group 'root' has members on most nodes"),
        ({"group": "adm"}, r"group 'adm' has members on most nodes"),
    ],
)
def test_validate_refuses(tree, spec, message):
    with pytest.raises(ControlInputError, match=rf"control 'cis\.su\.restricted': {message}"):
        su.SuWheel().validate(tree.node(FakeModule([])), {"id": "cis.su.restricted"}, spec)


@pytest.mark.parametrize("group", ["sugroup", "_su", "su-only_2", "g" * 32])
def test_validate_accepts(tree, group):
    assert su.SuWheel().validate(tree.node(FakeModule([])), {"id": "cis.su.restricted"}, {"group": group}) == group


def test_stock_su_wants_the_line_and_the_group(tree):
    finding = inspect(tree)
    assert triples(finding) == [
        ("pam_wheel", "/etc/pam.d/su", WHEEL, None),
        ("group", "/etc/group", "sugroup", None),
    ]
    assert finding.actual == {"line": None, "group": None, "members": []}
    assert finding.unfixable is None and finding.skipped is None
    assert [(a.key, a.what) for a in finding.actions] == [
        ("group:sugroup", "create the system group sugroup"),
        ("write:/etc/pam.d/su", "write /etc/pam.d/su"),
    ]
    write = finding.actions[1]
    assert write.diff[0]["after"] == HARDENED
    assert write.diff[0]["after"].splitlines()[5:7] == ["auth       sufficient pam_rootok.so", WHEEL]


def test_the_actions_run_groupadd_and_write_the_line_after_pam_rootok(tree):
    module = groupadd_module(tree, [])
    finding = inspect(tree, module=module)
    for action in finding.actions:
        action.run()
    assert module.calls == [["/usr/sbin/groupadd", "--system", "sugroup"]]
    assert tree.read(su.SU_PAM) == HARDENED
    assert tree.read("/etc/group").endswith("sugroup:x:996:\n")
    module.commands["groupdel"] = lambda argv: (0, "", "")
    for action in reversed(finding.actions):
        action.undo()
    assert module.calls[-1] == ["/usr/sbin/groupdel", "sugroup"]
    assert tree.read(su.SU_PAM) == STOCK


def test_a_run_fixes_and_a_second_run_passes(tree):
    module = groupadd_module(tree, [SU])
    result = run(tree, module)
    assert [(r["id"], r["status"]) for r in result["controls"]] == [("cis.su.restricted", "fixed")]
    assert result["actions"] == ["create the system group sugroup", "write /etc/pam.d/su"]
    assert tree.read(su.SU_PAM) == HARDENED
    module = groupadd_module(tree, [SU])
    again = run(tree, module)
    assert [(r["id"], r["status"]) for r in again["controls"]] == [("cis.su.restricted", "pass")]
    assert again["changed"] is False and module.calls == []


def test_check_mode_reports_drift_and_changes_nothing(tree):
    before = tree.snapshot()
    module = groupadd_module(tree, [SU], check_mode=True)
    result = run(tree, module)
    assert [(r["id"], r["status"]) for r in result["controls"]] == [("cis.su.restricted", "drift")]
    assert tree.snapshot() == before and module.calls == []


def test_hardened_file_and_empty_group_pass(hardened):
    finding = inspect(hardened)
    assert finding.differences == [] and finding.actions == [] and finding.unfixable is None
    assert finding.actual == {
        "line": "auth required pam_wheel.so use_uid group=sugroup",
        "group": "sugroup",
        "members": [],
    }


@pytest.mark.parametrize(
    "line",
    [
        "auth requisite pam_wheel.so use_uid group=sugroup",
        "auth\trequired\t/lib/x86_64-linux-gnu/security/pam_wheel.so group=sugroup use_uid",
    ],
)
def test_other_spellings_of_the_line_pass(hardened, line):
    hardened.write(su.SU_PAM, HARDENED.replace(WHEEL, line))
    assert inspect(hardened).differences == []


def test_a_line_before_pam_rootok_is_a_placement_difference(hardened):
    lines = HARDENED.splitlines()
    lines.remove(WHEEL)
    lines.insert(4, WHEEL)
    hardened.write(su.SU_PAM, "\n".join(lines) + "\n")
    finding = inspect(hardened)
    assert triples(finding) == [
        (
            "pam_wheel",
            "/etc/pam.d/su line 5",
            "after pam_rootok.so",
            "ahead of pam_rootok.so (root would need the group too)",
        )
    ]
    assert [a.key for a in finding.actions] == ["write:/etc/pam.d/su"]


def test_a_line_after_include_common_auth_is_a_placement_difference(hardened):
    text = HARDENED.replace(WHEEL + "\n", "").replace("@include common-auth\n", f"@include common-auth\n{WHEEL}\n")
    hardened.write(su.SU_PAM, text)
    finding = inspect(hardened)
    number = text.splitlines().index(WHEEL) + 1
    assert triples(finding) == [
        (
            "pam_wheel",
            f"/etc/pam.d/su line {number}",
            "after pam_rootok.so",
            "after @include common-auth (a password would be asked first)",
        )
    ]


def test_the_fix_moves_a_line_from_before_pam_rootok(hardened):
    lines = HARDENED.splitlines()
    lines.remove(WHEEL)
    lines.insert(4, WHEEL)
    hardened.write(su.SU_PAM, "\n".join(lines) + "\n")
    result = run(hardened, FakeModule([SU]))
    assert [(r["id"], r["status"]) for r in result["controls"]] == [("cis.su.restricted", "fixed")]


def test_other_pam_wheel_lines_give_way_to_one_after_pam_rootok(tree):
    text = STOCK.replace(
        "# auth       sufficient pam_wheel.so trust", "auth       sufficient pam_wheel.so trust"
    ).replace(
        "# auth       required   pam_wheel.so deny group=nosu", "auth       required   pam_wheel.so deny group=nosu"
    )
    tree.write(su.SU_PAM, text)
    tree.write("/etc/group", GROUP + "sugroup:x:996:\n")
    finding = inspect(tree)
    assert triples(finding) == [
        ("pam_wheel", "/etc/pam.d/su line 19", WHEEL, "auth sufficient pam_wheel.so trust"),
    ]
    assert finding.actual["line"] == "auth sufficient pam_wheel.so trust"
    after = finding.actions[0].diff[0]["after"].splitlines()
    rootok = after.index("auth       sufficient pam_rootok.so")
    assert after[rootok + 1] == WHEEL and after.count(WHEEL) == 1
    assert "auth       sufficient pam_wheel.so trust" not in after
    assert "# auth       required   pam_wheel.so deny group=nosu" in after
    assert len(after) == len(STOCK_LINES)


@pytest.mark.parametrize(
    "line",
    [
        "auth       required   pam_wheel.so group=sugroup",  # without use_uid, the login name's groups
        "auth       sufficient pam_wheel.so trust use_uid group=sugroup",
        "auth       required   pam_wheel.so use_uid group=other",
        "auth       optional   pam_wheel.so use_uid group=sugroup",
    ],
)
def test_a_pam_wheel_line_that_does_not_restrict_su_is_a_difference(hardened, line):
    hardened.write(su.SU_PAM, HARDENED.replace(WHEEL, line))
    finding = inspect(hardened)
    assert [(d["where"], d["expected"]) for d in finding.differences] == [("/etc/pam.d/su line 7", WHEEL)]
    assert finding.actions[0].diff[0]["after"] == HARDENED


def test_without_pam_rootok_the_line_goes_ahead_of_the_first_auth_line(tree):
    text = "# su\nsession required pam_env.so\n@include common-auth\n@include common-session\n"
    tree.write(su.SU_PAM, text)
    assert inspect(tree).actions[1].diff[0]["after"] == (
        f"# su\nsession required pam_env.so\n{WHEEL}\n@include common-auth\n@include common-session\n"
    )


def test_members_of_the_group_make_it_unfixable_naming_them(tree):
    tree.write("/etc/group", GROUP + "sugroup:x:996:alice,ansible\n")
    before = tree.snapshot()
    finding = inspect(tree)
    assert ("members", "/etc/group sugroup", [], ["alice", "ansible"]) in triples(finding)
    assert finding.actual["members"] == ["alice", "ansible"]
    assert finding.unfixable.startswith("group sugroup has members (alice, ansible): each may su to root")
    assert "gpasswd -d USER sugroup" in finding.unfixable
    module = FakeModule([SU])
    result = run(tree, module)
    assert result["controls"][0]["status"] == "error"
    assert "group sugroup has members (alice, ansible)" in result["controls"][0]["reason"]
    assert tree.snapshot() == before and module.calls == []


def test_a_user_whose_primary_group_it_is_counts_as_a_member(hardened):
    hardened.write("/etc/passwd", PASSWD + "carol:x:1002:996::/home/carol:/bin/bash\n")
    finding = inspect(hardened)
    assert triples(finding) == [("members", "/etc/group sugroup", [], ["carol (primary group)"])]
    assert "carol (primary group)" in finding.unfixable


def test_under_su_the_control_is_unfixable(tree, monkeypatch):
    chain = [
        Process(4000, 3000, "python3", "/usr/bin/python3", 0),
        Process(3000, 2000, "sh", "/bin/sh -c ...", 0),
        Process(2000, 1900, "su", "su root -c /bin/sh -c ...", 0),
    ]
    seen = []

    def ancestors(node, pid):
        seen.append(pid)
        return chain

    monkeypatch.setattr(su, "ancestors", ancestors)
    finding = inspect(tree)
    assert len(finding.differences) == 2
    assert finding.unfixable.startswith("Ansible becomes root with su here")
    assert "become_method: sudo" in finding.unfixable
    assert seen and all(pid > 1 for pid in seen)


def test_only_the_modules_parents_count_as_su(tree, monkeypatch):
    """The first process ancestors returns is the module itself; only its parents are looked at."""
    monkeypatch.setattr(su, "ancestors", lambda node, pid: [Process(4000, 3000, "su", "su", 0)])
    assert inspect(tree).unfixable is None


def test_under_su_a_hardened_node_still_passes(hardened, monkeypatch):
    monkeypatch.setattr(
        su,
        "ancestors",
        lambda node, pid: [Process(4000, 3000, "python3", "python3", 0), Process(3000, 1, "su", "su", 0)],
    )
    finding = inspect(hardened)
    assert finding.differences == [] and finding.unfixable is None


def test_missing_pam_su_is_skipped(tree):
    (tree.root / "etc/pam.d/su").unlink()
    finding = inspect(tree)
    assert finding.skipped == "/etc/pam.d/su does not exist (su is not installed)"
    assert finding.differences == [] and finding.actions == []
    result = run(tree, FakeModule([SU]))
    assert result["controls"][0]["status"] == "skipped"
