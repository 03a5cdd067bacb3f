# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import os
import stat

import pytest

from ansible_collections.nodeguard.hardening.plugins.module_utils._controls import ControlInputError
from ansible_collections.nodeguard.hardening.plugins.module_utils._system import engine, managed_file
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.managed_file import (
    SETTINGS_HEADER,
    ManagedFile,
)

from .conftest import FakeModule, control

JOURNALD = "/etc/systemd/journald.conf.d/60-nodeguard-hardening.conf"
COREDUMP = "/etc/systemd/coredump.conf.d/60-nodeguard-hardening.conf"
BANNER = "Authorized users only. All activity may be monitored and reported.\n"


def journald(cid, settings, **extra):
    spec = {"path": JOURNALD, "section": "Journal", "settings": settings, "restart": "systemd-journald", **extra}
    return control(cid, "managed_file", spec)


STORAGE = journald("cis.journald.storage", {"Storage": "persistent"})
COMPRESS = journald("cis.journald.compress", {"Compress": True})
MOTD = control("cis.banner.motd", "managed_file", {"path": "/etc/motd", "content": BANNER.rstrip("\n")})
JOURNALD_TEXT = (
    SETTINGS_HEADER
    + "[Journal]\n"
    + "# cis.journald.storage: title of cis.journald.storage\nStorage=persistent\n"
    + "# cis.journald.compress: title of cis.journald.compress\nCompress=yes\n"
)


def run(tree, controls, *, check_mode=False, restart_rc=0):
    module = FakeModule(controls, check_mode=check_mode)
    module.commands["systemctl"] = lambda argv: (restart_rc, "", "" if restart_rc == 0 else "Job failed.")
    return module, engine.run(module, tree.node(module), [ManagedFile()])


def statuses(result):
    return [(r["id"], r["status"]) for r in result["controls"]]


def mode_of(tree, path):
    return stat.S_IMODE(tree.file(path).stat().st_mode)


def test_check_mode_reports_drift_and_touches_nothing(tree):
    tree.write("/etc/motd", "Debian GNU/Linux comes with ABSOLUTELY NO WARRANTY\n")
    before = tree.snapshot()
    module, result = run(tree, [STORAGE, COMPRESS, MOTD], check_mode=True)
    assert statuses(result) == [
        ("cis.journald.storage", "drift"),
        ("cis.journald.compress", "drift"),
        ("cis.banner.motd", "drift"),
    ]
    assert tree.snapshot() == before
    assert module.calls == []
    assert result["controls"][0]["differences"] == [
        {"item": "Storage", "where": JOURNALD, "expected": "persistent", "actual": None}
    ]
    assert result["controls"][2]["differences"] == [
        {"item": "/etc/motd", "where": "/etc/motd line 1", "expected": BANNER.rstrip("\n"), "actual": None},
        {
            "item": "/etc/motd",
            "where": "/etc/motd line 1",
            "expected": None,
            "actual": "Debian GNU/Linux comes with ABSOLUTELY NO WARRANTY",
        },
    ]
    assert result["actions"] == [f"write {JOURNALD}", "restart systemd-journald", "write /etc/motd"]


def test_apply_writes_restarts_once_and_is_idempotent(tree):
    module, result = run(tree, [STORAGE, COMPRESS, MOTD])
    assert statuses(result) == [
        ("cis.journald.storage", "fixed"),
        ("cis.journald.compress", "fixed"),
        ("cis.banner.motd", "fixed"),
    ]
    assert tree.read(JOURNALD) == JOURNALD_TEXT
    assert tree.read("/etc/motd") == BANNER
    assert mode_of(tree, JOURNALD) == 0o644
    assert module.calls == [["/usr/sbin/systemctl", "restart", "systemd-journald"]]
    module, again = run(tree, [STORAGE, COMPRESS, MOTD])
    assert statuses(again) == [
        ("cis.journald.storage", "pass"),
        ("cis.journald.compress", "pass"),
        ("cis.banner.motd", "pass"),
    ]
    assert again["changed"] is False
    assert module.calls == []


def test_one_restart_after_every_file_of_the_unit(tree):
    other = control(
        "site.journald.other",
        "managed_file",
        {
            "path": "/etc/systemd/journald.conf.d/61-site.conf",
            "section": "Journal",
            "settings": {"MaxFileSec": "1month"},
            "restart": "systemd-journald",
        },
    )
    _unused, result = run(tree, [STORAGE, other, COMPRESS], check_mode=True)
    assert result["actions"] == [
        f"write {JOURNALD}",
        "write /etc/systemd/journald.conf.d/61-site.conf",
        "restart systemd-journald",
    ]


@pytest.mark.parametrize(
    ("edit", "differences"),
    [
        (
            lambda text: text.replace("Storage=persistent", "Storage=volatile"),
            {"cis.journald.storage": [("Storage", f"{JOURNALD} line 5", "persistent", "volatile")]},
        ),
        (
            lambda text: text.replace("Compress=yes\n", ""),
            {"cis.journald.compress": [("Compress", JOURNALD, "yes", None)]},
        ),
        (
            lambda text: text + "RateLimitBurst=0\n",
            {"cis.journald.storage": [(JOURNALD, f"{JOURNALD} line 8", None, "RateLimitBurst=0")]},
        ),
    ],
    ids=["value-changed", "line-removed", "line-added"],
)
def test_hand_edit_is_named(tree, edit, differences):
    run(tree, [STORAGE, COMPRESS])
    tree.write(JOURNALD, edit(tree.read(JOURNALD)))
    _unused, result = run(tree, [STORAGE, COMPRESS], check_mode=True)
    found = {
        r["id"]: [(d["item"], d["where"], d["expected"], d["actual"]) for d in r["differences"]]
        for r in result["controls"]
        if r["differences"]
    }
    assert found == differences


def test_mode_changed_by_hand_is_named_and_fixed(tree):
    run(tree, [MOTD])
    tree.file("/etc/motd").chmod(0o666)
    _unused, result = run(tree, [MOTD], check_mode=True)
    assert result["controls"][0]["differences"] == [
        {"item": "/etc/motd", "where": "mode", "expected": "0644", "actual": "0666"}
    ]
    _unused, result = run(tree, [MOTD])
    assert statuses(result) == [("cis.banner.motd", "fixed")]
    assert mode_of(tree, "/etc/motd") == 0o644


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can give a file another owner")
def test_owner_changed_by_hand_is_named_and_fixed(tree):
    run(tree, [MOTD])
    os.chown(tree.file("/etc/motd"), 1234, 1234)
    _unused, result = run(tree, [MOTD], check_mode=True)
    assert result["controls"][0]["differences"] == [
        {"item": "/etc/motd", "where": "owner", "expected": "0:0", "actual": "1234:1234"}
    ]
    run(tree, [MOTD])
    assert (tree.file("/etc/motd").stat().st_uid, tree.file("/etc/motd").stat().st_gid) == (0, 0)


def test_owner_is_not_checked_without_root(tree, monkeypatch):
    monkeypatch.setattr(managed_file, "as_root", lambda: False)
    run(tree, [MOTD])
    _unused, result = run(tree, [MOTD], check_mode=True)
    assert statuses(result) == [("cis.banner.motd", "pass")]


def test_restart_failure_undoes_the_writes(tree):
    tree.write("/etc/motd", "old\n")
    with pytest.raises(engine.ApplyError, match=r"restart systemd-journald failed: .*Job failed.*undid 1 earlier"):
        run(tree, [STORAGE, COMPRESS], restart_rc=1)
    assert tree.read(JOURNALD) is None
    assert tree.read("/etc/motd") == "old\n"


def test_disabled_control_lines_are_removed(tree):
    run(tree, [STORAGE, COMPRESS])
    off = dict(COMPRESS, enabled=False, reason="the site compresses elsewhere")
    _unused, result = run(tree, [STORAGE, off], check_mode=True)
    assert result["controls"][0]["differences"] == [
        {"item": JOURNALD, "where": f"{JOURNALD} line 7", "expected": None, "actual": "Compress=yes"}
    ]
    _unused, result = run(tree, [STORAGE, off])
    assert statuses(result) == [("cis.journald.storage", "fixed"), ("cis.journald.compress", "skipped")]
    assert "Compress" not in tree.read(JOURNALD)


def test_later_drop_in_that_wins_is_an_error(tree):
    tree.write("/usr/lib/systemd/journald.conf.d/90-vendor.conf", "[Journal]\nStorage=volatile\n")
    tree.write("/etc/systemd/journald.conf.d/10-early.conf", "[Journal]\nStorage=none\n")
    _unused, result = run(tree, [STORAGE])
    storage = result["controls"][0]
    assert storage["status"] == "error"
    assert {
        "item": "Storage",
        "where": "/usr/lib/systemd/journald.conf.d/90-vendor.conf line 2",
        "expected": "persistent",
        "actual": "volatile",
    } in storage["differences"]
    assert "10-early.conf" not in storage["reason"]
    assert tree.read(JOURNALD) is None  # an unfixable control changes nothing


def test_absent_ok_leaves_an_absent_file_absent(tree):
    optional = control("site.banner.motd", "managed_file", {"path": "/etc/motd", "content": BANNER, "absent_ok": True})
    _module, result = run(tree, [optional])
    assert statuses(result) == [("site.banner.motd", "pass")]
    assert tree.read("/etc/motd") is None
    tree.write("/etc/motd", "other\n")
    _unused, result = run(tree, [optional])
    assert statuses(result) == [("site.banner.motd", "fixed")]
    assert tree.read("/etc/motd") == BANNER


def test_only_if_exists_skips_where_the_program_is_absent(tree):
    rsyslog = control(
        "cis.rsyslog.file_create_mode",
        "managed_file",
        {
            "path": "/etc/rsyslog.d/60-nodeguard-hardening.conf",
            "content": "$FileCreateMode 0640\n",
            "restart": "rsyslog",
            "only_if_exists": "/usr/sbin/rsyslogd",
        },
    )
    module, result = run(tree, [rsyslog])
    assert statuses(result) == [("cis.rsyslog.file_create_mode", "skipped")]
    assert "/usr/sbin/rsyslogd is absent" in result["controls"][0]["reason"]
    assert module.calls == []
    tree.write("/usr/sbin/rsyslogd", "", mode=0o755)
    module, result = run(tree, [rsyslog])
    assert statuses(result) == [("cis.rsyslog.file_create_mode", "fixed")]
    assert module.calls == [["/usr/sbin/systemctl", "restart", "rsyslog"]]


def test_a_symlink_is_replaced_by_the_file(tree):
    tree.write("/etc/issue.real", "Debian GNU/Linux 12 \\n \\l\n")
    tree.file("/etc/issue").symlink_to("issue.real")
    issue = control("cis.banner.issue", "managed_file", {"path": "/etc/issue", "content": BANNER})
    _unused, result = run(tree, [issue], check_mode=True)
    assert {"item": "/etc/issue", "where": "type", "expected": "regular file", "actual": "symbolic link"} in result[
        "controls"
    ][0]["differences"]
    run(tree, [issue])
    assert not tree.file("/etc/issue").is_symlink()
    assert tree.read("/etc/issue.real") == "Debian GNU/Linux 12 \\n \\l\n"


def test_a_directory_in_the_way_is_an_error(tree):
    tree.file("/etc/motd").mkdir(parents=True)
    _unused, result = run(tree, [MOTD])
    assert statuses(result) == [("cis.banner.motd", "error")]
    assert "is a directory" in result["controls"][0]["reason"]


def banner(path, text):
    return control("site.banner", "managed_file", {"path": path, "content": text})


@pytest.mark.parametrize(
    ("controls", "message"),
    [
        ([control("site.f", "managed_file", {"path": "etc/motd", "content": "x"})], "absolute, normalised"),
        ([control("site.f", "managed_file", {"path": "/etc/../etc/motd", "content": "x"})], "absolute, normalised"),
        ([control("site.f", "managed_file", {"path": "/proc/sys/x", "content": "x"})], "under /proc"),
        ([control("site.f", "managed_file", {"path": "/run/motd", "content": "x"})], "under /proc, /sys, /dev, /run"),
        ([control("site.f", "managed_file", {"path": "/etc/x", "content": "x", "mode": 644})], "octal string"),
        ([control("site.f", "managed_file", {"path": "/etc/x", "content": "x", "mode": "0666"})], "everyone write"),
        ([control("site.f", "managed_file", {"path": "/etc/x", "content": "x", "mode": "4755"})], "octal string"),
        ([control("site.f", "managed_file", {"path": "/etc/x", "content": 3})], "content must be text"),
        ([control("site.f", "managed_file", {"path": "/etc/x", "content": "x", "restart": "-x"})], "not a systemd"),
        ([control("site.f", "managed_file", {"path": "/etc/x", "content": "x", "owner": "bin"})], "unknown spec keys"),
        (
            [control("site.f", "managed_file", {"path": "/etc/x", "content": "x", "settings": {"A": 1}})],
            "one of content",
        ),
        ([control("site.f", "managed_file", {"path": "/etc/x", "settings": {"bad key": 1}})], "not a setting name"),
        ([control("site.f", "managed_file", {"path": "/etc/x", "settings": {"A": "two\nlines"}})], "one line"),
        ([control("site.f", "managed_file", {"path": "/etc/x", "settings": {"A": None}})], "needs a value"),
        (
            [control("site.f", "managed_file", {"path": "/etc/systemd/journald.conf.d/x", "settings": {"A": 1}})],
            "visible '.conf' file",
        ),
        ([banner("/etc/issue", "Welcome to \\s \\r\n")], r"contains \\r \\s"),
        ([banner("/etc/issue.net", "This is a DEBIAN host\n")], r"names the operating system \(debian\)"),
        ([banner("/etc/motd", "Powered by Linux\n")], r"names the operating system \(Linux\)"),
        ([banner("/etc/motd", "  \n")], "banner for /etc/motd is empty"),
        (
            [STORAGE, journald("site.journald.storage", {"Storage": "volatile"})],
            "'cis.journald.storage' and 'site.journald.storage' both manage .* persistent and volatile",
        ),
        (
            [STORAGE, journald("site.journald.other", {"Seal": True}, restart=None)],
            "mode, restart, section, absent_ok, only_if_exists or validate differ",
        ),
        ([MOTD, banner("/etc/motd", "Other text\n")], "their contents differ"),
    ],
)
def test_bad_input_fails_before_any_change(tree, controls, message):
    tree.write("/etc/os-release", 'NAME="Debian GNU/Linux"\nID=debian\nVERSION_ID="12"\n')
    tree.write("/etc/motd", "old\n")
    before = tree.snapshot()
    with pytest.raises(ControlInputError, match=message):
        run(tree, [COMPRESS, *controls])
    assert tree.snapshot() == before


def test_same_content_twice_is_shared(tree):
    again = control("site.banner.motd", "managed_file", {"path": "/etc/motd", "content": BANNER})
    _module, result = run(tree, [MOTD, again])
    assert statuses(result) == [("cis.banner.motd", "fixed"), ("site.banner.motd", "fixed")]
    assert result["actions"] == ["write /etc/motd"]


# -- validate: a command judges a copy of the new file before it is installed -------------------

SUDOERS = "/etc/sudoers.d/nodeguard-hardening"
VISUDO = ["visudo", "-cf", "%s"]


def sudoers(cid, lines, **extra):
    spec = {"path": SUDOERS, "mode": "0440", "lines": lines, "validate": VISUDO, **extra}
    return control(cid, "managed_file", spec)


USE_PTY = sudoers("cis.sudo.use_pty", ["Defaults use_pty"])
TIMEOUT = sudoers("cis.sudo.timestamp_timeout", ["Defaults timestamp_timeout=15"])
SUDOERS_TEXT = (
    SETTINGS_HEADER
    + "# cis.sudo.use_pty: title of cis.sudo.use_pty\nDefaults use_pty\n"
    + "# cis.sudo.timestamp_timeout: title of cis.sudo.timestamp_timeout\nDefaults timestamp_timeout=15\n"
)


class Visudo:
    """visudo -cf COPY: records what it was shown (path, content, mode) and refuses C(refuse)."""

    def __init__(self, refuse=None):
        self.refuse = refuse
        self.seen = []

    def __call__(self, argv):
        copy = argv[-1]
        with open(copy, encoding="utf-8") as handle:
            text = handle.read()
        self.seen.append((copy, text, stat.S_IMODE(os.stat(copy).st_mode)))
        if self.refuse and self.refuse in text:
            return 1, "", f"{copy}:4:29: syntax error\nDefaults {self.refuse}\n                            ^\n"
        return 0, f"{copy}: parsed OK\n", ""


def run_validated(tree, controls, visudo, *, check_mode=False, bins=None):
    module = FakeModule(controls, check_mode=check_mode)
    module.commands["visudo"] = visudo
    module.commands["systemctl"] = lambda argv: (0, "", "")
    if bins is not None:
        module.get_bin_path = lambda name, required=False, opt_dirs=None: bins.get(name)
    return module, engine.run(module, tree.node(module), [ManagedFile()])


def test_validate_checks_a_private_copy_then_installs(tree):
    visudo = Visudo()
    module, result = run_validated(tree, [USE_PTY, TIMEOUT], visudo)
    assert statuses(result) == [("cis.sudo.use_pty", "fixed"), ("cis.sudo.timestamp_timeout", "fixed")]
    assert tree.read(SUDOERS) == SUDOERS_TEXT
    assert mode_of(tree, SUDOERS) == 0o440
    [(copy, text, mode)] = visudo.seen
    # The copy is what gets installed, with its mode, outside the directory sudo reads, and gone after.
    assert (text, mode) == (SUDOERS_TEXT, 0o440)
    assert os.path.basename(copy) == "nodeguard-hardening"
    assert not copy.startswith(str(tree.root))
    assert not os.path.exists(os.path.dirname(copy))
    assert module.calls == [["/usr/sbin/visudo", "-cf", copy]]
    assert sorted(p.name for p in tree.file("/etc/sudoers.d").iterdir()) == ["nodeguard-hardening"]


def test_validate_runs_only_when_the_file_changes(tree):
    run_validated(tree, [USE_PTY, TIMEOUT], Visudo())
    visudo = Visudo()
    module, result = run_validated(tree, [USE_PTY, TIMEOUT], visudo)
    assert result["changed"] is False
    assert statuses(result) == [("cis.sudo.use_pty", "pass"), ("cis.sudo.timestamp_timeout", "pass")]
    assert visudo.seen == [] and module.calls == []


def test_a_refused_file_is_never_installed_and_the_run_is_undone(tree):
    tree.write(SUDOERS, "Defaults use_pty\n", 0o440)
    before = tree.snapshot()
    bad = sudoers("site.sudo.bad", ["Defaults timestamp_timeout=fifteen"])
    with pytest.raises(engine.ApplyError) as failure:
        run_validated(tree, [MOTD, USE_PTY, bad], Visudo(refuse="timestamp_timeout=fifteen"))
    message = str(failure.value)
    assert f"write {SUDOERS} failed: visudo -cf %s refuses the new {SUDOERS} (status 1)" in message
    # visudo's own words, naming the file to be installed rather than the temporary copy.
    assert f"{SUDOERS}:4:29: syntax error" in message
    assert "undid 1 earlier change(s) of this run" in message
    assert tree.snapshot() == before
    assert sorted(p.name for p in tree.file("/etc/sudoers.d").iterdir()) == ["nodeguard-hardening"]


def test_a_missing_validator_installs_nothing(tree):
    with pytest.raises(engine.ApplyError, match=f"visudo is not installed, so {SUDOERS} cannot be checked"):
        run_validated(tree, [USE_PTY], Visudo(), bins={})
    assert tree.read(SUDOERS) is None


def test_check_mode_predicts_without_running_the_validator(tree):
    visudo = Visudo()
    module, result = run_validated(tree, [USE_PTY, TIMEOUT], visudo, check_mode=True)
    assert statuses(result) == [("cis.sudo.use_pty", "drift"), ("cis.sudo.timestamp_timeout", "drift")]
    assert result["controls"][0]["differences"] == [
        {"item": "Defaults use_pty", "where": SUDOERS, "expected": "present", "actual": None}
    ]
    assert visudo.seen == [] and module.calls == []
    assert tree.read(SUDOERS) is None


@pytest.mark.parametrize(
    ("validate", "message"),
    [
        ("visudo -cf %s", "validate must list a command's words"),
        ([], "validate must list a command's words"),
        (["visudo", ""], "validate must list a command's words"),
        (["visudo", "-cf"], "then '%s' where the copy to check goes"),
        (["%s", "-c"], "must name a program"),
        (["visudo", "-cf", "%s\n"], "validate must list a command's words"),
    ],
)
def test_bad_validate_commands_are_refused(tree, validate, message):
    with pytest.raises(ControlInputError, match=message):
        run_validated(tree, [sudoers("site.sudo", ["Defaults use_pty"], validate=validate)], Visudo())
    assert tree.read(SUDOERS) is None


def test_controls_of_one_file_agree_on_its_validate_command(tree):
    other = sudoers("site.sudo", ["Defaults !lecture"], validate=["visudo", "-csf", "%s"])
    with pytest.raises(ControlInputError, match="only_if_exists or validate differ"):
        run_validated(tree, [USE_PTY, other], Visudo())


def test_validate_works_for_content_files_too(tree):
    spec = {"path": "/etc/sudoers.d/site", "content": "Defaults lecture=never", "mode": "0440", "validate": VISUDO}
    visudo = Visudo()
    _module, result = run_validated(tree, [control("site.sudo", "managed_file", spec)], visudo)
    assert statuses(result) == [("site.sudo", "fixed")]
    assert [text for _copy, text, _mode in visudo.seen] == ["Defaults lecture=never\n"]


# -- lines: verbatim lines, a block per control ------------------------------------------------

PROFILE = "/etc/profile.d/60-nodeguard-hardening.sh"
TMOUT = control(
    "cis.shell.timeout", "managed_file", {"path": PROFILE, "lines": ["TMOUT=900", "readonly TMOUT", "export TMOUT"]}
)
UMASK = control("cis.shell.umask", "managed_file", {"path": PROFILE, "lines": ["umask 027"]})


def test_lines_of_several_controls_share_one_file(tree):
    _module, result = run(tree, [TMOUT, UMASK])
    assert statuses(result) == [("cis.shell.timeout", "fixed"), ("cis.shell.umask", "fixed")]
    assert tree.read(PROFILE) == (
        SETTINGS_HEADER
        + "# cis.shell.timeout: title of cis.shell.timeout\nTMOUT=900\nreadonly TMOUT\nexport TMOUT\n"
        + "# cis.shell.umask: title of cis.shell.umask\numask 027\n"
    )
    assert result["actions"] == [f"write {PROFILE}"]
    _module, again = run(tree, [TMOUT, UMASK])
    assert statuses(again) == [("cis.shell.timeout", "pass"), ("cis.shell.umask", "pass")]


def test_a_missing_line_is_the_difference_of_its_control(tree):
    run(tree, [TMOUT, UMASK])
    tree.write(PROFILE, tree.read(PROFILE).replace("readonly TMOUT\n", ""))
    _module, result = run(tree, [TMOUT, UMASK], check_mode=True)
    assert statuses(result) == [("cis.shell.timeout", "drift"), ("cis.shell.umask", "pass")]
    assert result["controls"][0]["differences"] == [
        {"item": "readonly TMOUT", "where": PROFILE, "expected": "present", "actual": None}
    ]


def test_a_control_switched_off_takes_its_lines_out(tree):
    run(tree, [TMOUT, UMASK])
    off = {**UMASK, "enabled": False, "reason": "the site sets its own umask"}
    _module, result = run(tree, [TMOUT, off])
    assert statuses(result) == [("cis.shell.timeout", "fixed"), ("cis.shell.umask", "skipped")]
    assert result["controls"][0]["differences"] == [
        {"item": PROFILE, "where": f"{PROFILE} line 8", "expected": None, "actual": "umask 027"}
    ]
    assert "umask" not in tree.read(PROFILE)


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ([], "lines must list the file's lines"),
        ({"a": 1}, "lines must list the file's lines"),
        (["umask 027", ""], "every entry of lines must be non-empty text"),
        (["umask 027", 27], "every entry of lines must be non-empty text"),
        (["umask 027\nTMOUT=1"], "must be one line"),
    ],
)
def test_bad_lines_are_refused(tree, lines, message):
    with pytest.raises(ControlInputError, match=message):
        run(tree, [control("site.profile", "managed_file", {"path": PROFILE, "lines": lines})])
    assert tree.read(PROFILE) is None


def test_one_file_is_not_given_lines_and_content(tree):
    content = control("site.profile", "managed_file", {"path": PROFILE, "content": "umask 077\n"})
    with pytest.raises(ControlInputError, match="one gives its lines, the other its content"):
        run(tree, [UMASK, content])
