# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import os
import stat

import pytest

from ansible_collections.nodeguard.hardening.plugins.module_utils._controls import ControlInputError
from ansible_collections.nodeguard.hardening.plugins.module_utils._system import engine, writes
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.file_attributes import FileAttributes

from .conftest import FakeModule, control

ROOT = os.geteuid() == 0
as_root = pytest.mark.skipif(not ROOT, reason="only root can give files other owners")
# "root" is whoever runs the tests, so that files they create are root's.
UID, GID = os.getuid(), os.getgid()
PASSWD = (
    f"root:x:{UID}:{GID}:root:/root:/bin/bash\n"
    "syslog:x:104:110::/nonexistent:/usr/sbin/nologin\n"
    "_chrony:x:105:111::/var/lib/chrony:/usr/sbin/nologin\n"
    "alice:x:1000:1000:Alice:/home/alice:/bin/bash\n"
)
GROUP = f"root:x:{GID}:\nadm:x:4:syslog\nshadow:x:42:\nutmp:x:43:\nsystemd-journal:x:999:\nalice:x:1000:\n"
SHELLS = "# /etc/shells: valid login shells\n/bin/sh\n/bin/bash\n"

SHADOW = control(
    "cis.perms.shadow",
    "file_attributes",
    {"paths": ["/etc/shadow"], "mode": "0640", "owner": "root", "group": "shadow", "allowed_groups": ["root"]},
)
SHADOW_BACKUP = control(
    "cis.perms.shadow_backup",
    "file_attributes",
    {"paths": ["/etc/shadow-"], "mode": "0640", "owner": "root", "group": "shadow", "allowed_groups": ["root"]},
)
PASSWD_PERMS = control(
    "cis.perms.passwd", "file_attributes", {"paths": ["/etc/passwd"], "mode": "0644", "owner": "root", "group": "root"}
)
LOGS = control(
    "cis.perms.logfiles",
    "file_attributes",
    {
        "tree": "/var/log",
        "exclude": ["/var/log/skipped"],
        "rules": [
            {"names": ["wtmp", "btmp*"], "mode": "0664", "owners": ["root"], "groups": ["root", "utmp"]},
            {"names": ["*.journal"], "mode": "0640", "owners": ["root"], "groups": ["root", "systemd-journal"]},
            {
                "names": ["*"],
                "mode": "0640",
                "owners": ["root", "syslog"],
                "groups": ["root", "adm"],
                "service_accounts": True,
            },
        ],
    },
)


@pytest.fixture
def node_tree(tree):
    tree.write("/etc/passwd", PASSWD, mode=0o644)
    tree.write("/etc/group", GROUP, mode=0o644)
    tree.write("/etc/shells", SHELLS)
    tree.write("/etc/shadow", "root:*:19000::::::\n", mode=0o644)
    return tree


def run(tree, controls, *, check_mode=False):
    module = FakeModule(controls, check_mode=check_mode)
    return module, engine.run(module, tree.node(module), [FileAttributes()])


def statuses(result):
    return [(r["id"], r["status"]) for r in result["controls"]]


def attrs(tree, path):
    info = os.lstat(tree.file(path))
    return stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid


def owners(tree):
    return {str(p): (p.lstat().st_uid, p.lstat().st_gid) for p in tree.base.rglob("*")}


def test_check_mode_reports_drift_and_touches_nothing(node_tree):
    before, owned = node_tree.snapshot(), owners(node_tree)
    module, result = run(node_tree, [SHADOW, SHADOW_BACKUP, PASSWD_PERMS], check_mode=True)
    assert statuses(result) == [
        ("cis.perms.shadow", "drift"),
        ("cis.perms.shadow_backup", "pass"),
        ("cis.perms.passwd", "pass"),
    ]
    assert node_tree.snapshot() == before and owners(node_tree) == owned
    assert module.calls == []
    shadow = result["controls"][0]
    assert shadow["differences"] == [
        {"item": "/etc/shadow", "where": "mode", "expected": "0640 or stricter", "actual": "0644"}
    ]
    assert shadow["expected"] == {"mode": "0640 or stricter", "owner": "root", "group": "shadow or root"}
    assert shadow["actual"] == {"/etc/shadow": "0644 root:root"}
    assert result["controls"][1]["details"] == {"absent": ["/etc/shadow-"]}
    assert result["actions"] == [f"set /etc/shadow to 0640 {UID}:{GID}"]


def test_apply_fixes_and_is_idempotent(node_tree):
    node_tree.write("/etc/passwd-", PASSWD, mode=0o755)
    backup = control(
        "cis.perms.passwd_backup",
        "file_attributes",
        {"paths": ["/etc/passwd-"], "mode": "0644", "owner": "root", "group": "root"},
    )
    _unused, result = run(node_tree, [SHADOW, backup])
    assert statuses(result) == [("cis.perms.shadow", "fixed"), ("cis.perms.passwd_backup", "fixed")]
    assert attrs(node_tree, "/etc/shadow")[0] == 0o640
    assert attrs(node_tree, "/etc/passwd-")[0] == 0o644
    module, again = run(node_tree, [SHADOW, backup])
    assert statuses(again) == [("cis.perms.shadow", "pass"), ("cis.perms.passwd_backup", "pass")]
    assert again["changed"] is False
    assert module.calls == []


def test_mode_only_loses_bits(node_tree):
    node_tree.file("/etc/shadow").chmod(0o4604)
    run(node_tree, [SHADOW])
    assert attrs(node_tree, "/etc/shadow")[0] == 0o600  # never widened to 0640


@as_root
@pytest.mark.parametrize(
    ("owner", "differences", "after"),
    [
        ((1000, 42), [("owner", "root", "alice")], (0, 42)),
        ((0, 1000), [("group", "shadow or root", "alice")], (0, 42)),
        ((0, 0), [], (0, 0)),
        ((0, 42), [], (0, 42)),
        ((1000, 4), [("owner", "root", "alice"), ("group", "shadow or root", "adm")], (0, 42)),
    ],
    ids=["owner", "group", "root-group-allowed", "shadow-group", "both"],
)
def test_owner_and_group_changed_by_hand_are_named_and_fixed(node_tree, owner, differences, after):
    node_tree.file("/etc/shadow").chmod(0o640)
    os.chown(node_tree.file("/etc/shadow"), *owner)
    _unused, result = run(node_tree, [SHADOW], check_mode=True)
    assert [(d["where"], d["expected"], d["actual"]) for d in result["controls"][0]["differences"]] == differences
    run(node_tree, [SHADOW])
    assert attrs(node_tree, "/etc/shadow")[1:] == after


@as_root
def test_missing_group_falls_back_to_an_allowed_one(node_tree):
    node_tree.write("/etc/group", GROUP.replace("shadow:x:42:\n", ""))
    os.chown(node_tree.file("/etc/shadow"), 0, 1000)
    run(node_tree, [SHADOW])
    assert attrs(node_tree, "/etc/shadow")[1:] == (0, 0)


def test_globs_are_expanded_and_links_passed_over(node_tree):
    node_tree.write("/etc/audit/auditd.conf", "x\n", mode=0o644)
    node_tree.write("/etc/audit/other.conf", "x\n", mode=0o600)
    node_tree.file("/etc/audit/link.conf").symlink_to("auditd.conf")
    conf = control(
        "cis.perms.audit_conf",
        "file_attributes",
        {"paths": ["/etc/audit/*.conf", "/etc/audit/rules.d/*.rules"]} | {"mode": "0640"},
    )
    _unused, result = run(node_tree, [conf])
    audit = result["controls"][0]
    assert audit["status"] == "fixed"
    assert [d["item"] for d in audit["differences"]] == ["/etc/audit/auditd.conf"]
    assert audit["details"] == {
        "absent": ["/etc/audit/rules.d/*.rules"],
        "symbolic links, not followed": ["/etc/audit/link.conf"],
    }
    assert attrs(node_tree, "/etc/audit/auditd.conf")[0] == 0o640
    assert attrs(node_tree, "/etc/audit/other.conf")[0] == 0o600


def test_required_file_missing_is_an_error_and_nothing_is_created(node_tree):
    required = control(
        "site.perms.opasswd", "file_attributes", {"paths": ["/etc/security/opasswd"], "mode": "0600", "required": True}
    )
    _unused, result = run(node_tree, [required])
    assert statuses(result) == [("site.perms.opasswd", "error")]
    assert result["controls"][0]["differences"] == [
        {"item": "/etc/security/opasswd", "where": "file", "expected": "present", "actual": None}
    ]
    assert not node_tree.file("/etc/security/opasswd").exists()


def test_named_symlink_is_reported_not_followed(node_tree):
    node_tree.file("/etc/gshadow").symlink_to("shadow")
    gshadow = control("cis.perms.gshadow", "file_attributes", {"paths": ["/etc/gshadow"], "mode": "0640"})
    _unused, result = run(node_tree, [gshadow])
    assert statuses(result) == [("cis.perms.gshadow", "error")]
    assert result["controls"][0]["differences"] == [
        {"item": "/etc/gshadow", "where": "type", "expected": "file or directory", "actual": "symbolic link to shadow"}
    ]
    assert attrs(node_tree, "/etc/shadow")[0] == 0o644


def test_controls_meeting_on_a_file_combine_their_limits(node_tree):
    stricter = control("site.perms.shadow", "file_attributes", {"paths": ["/etc/shadow"], "mode": "0600"})
    _unused, result = run(node_tree, [SHADOW, stricter])
    assert statuses(result) == [("cis.perms.shadow", "fixed"), ("site.perms.shadow", "fixed")]
    assert result["actions"] == [f"set /etc/shadow to 0600 {UID}:{GID}"]
    assert attrs(node_tree, "/etc/shadow")[0] == 0o600


@as_root
def test_controls_wanting_different_owners_are_an_error(node_tree):
    os.chown(node_tree.file("/etc/shadow"), 1000, 0)
    other = control("site.perms.shadow", "file_attributes", {"paths": ["/etc/shadow"], "owner": "syslog"})
    _unused, result = run(node_tree, [SHADOW, other])
    assert statuses(result) == [("cis.perms.shadow", "error"), ("site.perms.shadow", "error")]
    assert "no owner that exists on this node satisfies every control" in result["controls"][0]["reason"]
    assert attrs(node_tree, "/etc/shadow")[1] == 1000


def test_failed_change_undoes_the_earlier_ones(node_tree, monkeypatch):
    node_tree.write("/etc/gshadow", "x\n", mode=0o666)
    gshadow = control("cis.perms.gshadow", "file_attributes", {"paths": ["/etc/gshadow"], "mode": "0640"})
    real = os.lchown

    def lchown(path, uid, gid):
        if str(path).endswith("/etc/gshadow"):
            raise PermissionError(1, "Operation not permitted", str(path))
        return real(path, uid, gid)

    monkeypatch.setattr(writes.os, "lchown", lchown)
    with pytest.raises(engine.ApplyError, match=r"set /etc/gshadow .* failed: .*not permitted.*undid 1 earlier"):
        run(node_tree, [SHADOW, gshadow])
    assert attrs(node_tree, "/etc/shadow")[0] == 0o644
    assert attrs(node_tree, "/etc/gshadow")[0] == 0o666


@as_root
def test_log_tree_rules(node_tree):
    files = {
        "/var/log/syslog": (0o644, 104, 4),  # mode only
        "/var/log/wtmp": (0o664, 0, 43),  # allowed as is
        "/var/log/btmp.1": (0o666, 0, 43),  # o+w goes
        "/var/log/chrony/measurements.log": (0o640, 105, 111),  # a service account keeps its file
        "/var/log/app/app.log": (0o600, 1000, 1000),  # a login user's file goes to root:root
        "/var/log/journal/abc/system.journal": (0o640, 0, 999),
        "/var/log/journal/abc/user-1000.journal": (0o640, 0, 4),  # adm is not a journal group
        "/var/log/skipped/x.log": (0o666, 1000, 1000),
    }
    for path, (mode, uid, gid) in files.items():
        node_tree.write(path, "x\n", mode=mode)
        os.chown(node_tree.file(path), uid, gid)
    node_tree.file("/var/log/containers").mkdir()
    node_tree.file("/var/log/containers/pod.log").symlink_to("/var/log/app/app.log")
    before = node_tree.snapshot()
    _unused, result = run(node_tree, [LOGS], check_mode=True)
    assert node_tree.snapshot() == before
    logs = result["controls"][0]
    assert [(d["item"], d["where"], d["expected"], d["actual"]) for d in logs["differences"]] == [
        ("/var/log/app/app.log", "owner", "root or syslog", "alice"),
        ("/var/log/app/app.log", "group", "root or adm", "alice"),
        ("/var/log/btmp.1", "mode", "0664 or stricter", "0666"),
        ("/var/log/journal/abc/user-1000.journal", "group", "root or systemd-journal", "adm"),
        ("/var/log/syslog", "mode", "0640 or stricter", "0644"),
    ]
    assert logs["actual"] == {"files checked": 7, "files not as their rule allows": 4}
    _unused, result = run(node_tree, [LOGS])
    assert statuses(result) == [("cis.perms.logfiles", "fixed")]
    assert attrs(node_tree, "/var/log/app/app.log") == (0o600, 0, 0)
    assert attrs(node_tree, "/var/log/btmp.1") == (0o664, 0, 43)
    assert attrs(node_tree, "/var/log/journal/abc/user-1000.journal") == (0o640, 0, 0)
    assert attrs(node_tree, "/var/log/syslog") == (0o640, 104, 4)
    assert attrs(node_tree, "/var/log/chrony/measurements.log") == (0o640, 105, 111)
    assert attrs(node_tree, "/var/log/skipped/x.log") == (0o666, 1000, 1000)
    module, again = run(node_tree, [LOGS])
    assert statuses(again) == [("cis.perms.logfiles", "pass")] and module.calls == []


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"paths": ["etc/shadow"], "mode": "0640"}, "absolute, normalised"),
        ({"paths": ["/etc/./shadow"], "mode": "0640"}, "absolute, normalised"),
        ({"paths": ["/proc/1/environ"], "mode": "0640"}, "is under /proc"),
        ({"paths": ["/etc/shadow"], "mode": 640}, "octal string"),
        ({"paths": ["/etc/shadow"], "mode": "rw-r-----"}, "octal string"),
        ({"paths": []}, "paths must list files"),
        ({"paths": ["/etc/shadow"]}, "at least one of mode, owner and group"),
        ({"paths": ["/etc/shadow"], "owner": "root; rm -rf /"}, "must be user or group names"),
        ({"paths": ["/etc/shadow"], "owner": ["root", "bin"]}, "one name each"),
        ({"paths": ["/etc/shadow"], "allowed_groups": ["root"]}, "allowed_groups needs group"),
        ({"paths": ["/etc/shadow"], "mode": "0640", "required": "yes"}, "required must be true or false"),
        ({"paths": ["/etc/shadow"], "mode": "0640", "follow": True}, "unknown spec keys follow"),
        ({"paths": ["/etc/shadow"], "tree": "/var/log"}, "either paths or tree"),
        ({"tree": "/var/log", "rules": []}, "rules must list"),
        ({"tree": "/var/log", "rules": [{"mode": "0640"}]}, "each rule takes names"),
        ({"tree": "/var/log", "rules": [{"names": ["a/b"], "mode": "0640"}]}, "file names or globs"),
        ({"tree": "/var/log", "rules": [{"names": ["*"], "service_accounts": 1}]}, "service_accounts must be"),
        ({"tree": "/var/log", "rules": [{"names": ["*"]}], "exclude": ["pods"]}, "exclude 'pods' must be"),
    ],
)
def test_bad_input_fails_before_any_change(node_tree, spec, message):
    before = node_tree.snapshot()
    with pytest.raises(ControlInputError, match=message):
        run(node_tree, [SHADOW, control("site.perms.bad", "file_attributes", spec)])
    assert node_tree.snapshot() == before
