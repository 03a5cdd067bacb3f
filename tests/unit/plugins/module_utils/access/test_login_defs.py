# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import os
import stat

import pytest

from ansible_collections.nodeguard.hardening.plugins.module_utils._access import login_defs as ld
from ansible_collections.nodeguard.hardening.plugins.module_utils._controls import ControlInputError
from ansible_collections.nodeguard.hardening.plugins.module_utils._system import engine

from ..system.conftest import FakeModule, Tree, control

# Shaped like Debian 12's file: tabs, comments, commented defaults, an indented line.
LOGIN_DEFS = (
    "#\n"
    "# /etc/login.defs\n"
    "#\n"
    "MAIL_DIR        /var/mail\n"
    "#MAIL_FILE      .mail\n"
    "ENV_SUPATH\tPATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n"
    "UMASK\t\t022\n"
    "PASS_MAX_DAYS\t99999\n"
    "PASS_MIN_DAYS\t0\n"
    "PASS_WARN_AGE\t7\n"
    "UID_MIN\t\t\t 1000\n"
    "  ENCRYPT_METHOD SHA512\n"
)
USERADD = "# Default values for useradd(8)\nSHELL=/bin/sh\n# INACTIVE=-1\n"
CIS = {"PASS_MAX_DAYS": 365, "PASS_WARN_AGE": 7, "ENCRYPT_METHOD": "YESCRYPT", "UMASK": "027"}


@pytest.fixture
def tree(tmp_path):
    tree = Tree(tmp_path)
    tree.write(ld.LOGIN_DEFS, LOGIN_DEFS)
    tree.write(ld.USERADD, USERADD)
    return tree


def defs(cid, spec, **extra):
    return control(cid, "login_defs", spec, **extra)


def run(tree, controls, *, check_mode=False):
    module = FakeModule(controls, check_mode=check_mode)
    return module, engine.run(module, tree.node(module), [ld.LoginDefs()])


def statuses(result):
    return [(r["id"], r["status"]) for r in result["controls"]]


@pytest.mark.parametrize(
    ("settings", "status", "differences"),
    [
        ({"PASS_WARN_AGE": 7}, "pass", []),
        ({"UID_MIN": 1000}, "pass", []),
        ({"UMASK": "0022"}, "pass", []),
        ({"ENCRYPT_METHOD": "SHA512"}, "pass", []),
        ({"PASS_MAX_DAYS": 365}, "drift", [("PASS_MAX_DAYS", "/etc/login.defs line 8", "365", "99999")]),
        ({"UMASK": "027"}, "drift", [("UMASK", "/etc/login.defs line 7", "027", "022")]),
        (
            {"ENCRYPT_METHOD": "YESCRYPT"},
            "drift",
            [("ENCRYPT_METHOD", "/etc/login.defs line 12", "YESCRYPT", "SHA512")],
        ),
        ({"SHA_CRYPT_MIN_ROUNDS": 5000}, "drift", [("SHA_CRYPT_MIN_ROUNDS", "/etc/login.defs", "5000", None)]),
        ({"CREATE_HOME": True}, "drift", [("CREATE_HOME", "/etc/login.defs", "yes", None)]),
    ],
    ids=["same", "number-with-blanks", "octal-same-value", "string", "number", "octal", "indented", "absent", "bool"],
)
def test_check_mode_compares_values_as_the_tools_read_them(tree, settings, status, differences):
    before = tree.snapshot()
    module, result = run(tree, [defs("cis.login_defs.x", {"settings": settings})], check_mode=True)
    assert statuses(result) == [("cis.login_defs.x", status)]
    found = result["controls"][0]["differences"]
    assert [(d["item"], d["where"], d["expected"], d["actual"]) for d in found] == differences
    assert tree.snapshot() == before and module.calls == []


def test_fix_replaces_in_place_appends_missing_and_keeps_every_other_byte(tree):
    os.chmod(tree.file(ld.LOGIN_DEFS), 0o640)
    spec = {"settings": {**CIS, "SHA_CRYPT_MIN_ROUNDS": 5000}}
    _unused, result = run(tree, [defs("cis.login_defs.cis", spec)])
    assert statuses(result) == [("cis.login_defs.cis", "fixed")]
    assert tree.read(ld.LOGIN_DEFS) == (
        "#\n"
        "# /etc/login.defs\n"
        "#\n"
        "MAIL_DIR        /var/mail\n"
        "#MAIL_FILE      .mail\n"
        "ENV_SUPATH\tPATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n"
        "UMASK\t\t027\n"
        "PASS_MAX_DAYS\t365\n"
        "PASS_MIN_DAYS\t0\n"
        "PASS_WARN_AGE\t7\n"
        "UID_MIN\t\t\t 1000\n"
        "  ENCRYPT_METHOD YESCRYPT\n"
        "SHA_CRYPT_MIN_ROUNDS\t5000\n"
    )
    assert stat.S_IMODE(os.stat(tree.file(ld.LOGIN_DEFS)).st_mode) == 0o640  # the file's mode is kept
    assert result["diff"][0]["before_header"] == "/etc/login.defs"
    assert result["actions"] == ["write /etc/login.defs"]
    _unused, again = run(tree, [defs("cis.login_defs.cis", spec)])
    assert statuses(again) == [("cis.login_defs.cis", "pass")] and again["changed"] is False


def test_the_last_duplicate_wins_so_every_line_counts(tree):
    tree.write(ld.LOGIN_DEFS, "PASS_MAX_DAYS 365\n# keep me\nPASS_MAX_DAYS\t99999\nPASS_MAX_DAYS 365")
    _unused, drift = run(tree, [defs("cis.login_defs.max", {"settings": {"PASS_MAX_DAYS": 365}})], check_mode=True)
    assert [(d["where"], d["actual"]) for d in drift["controls"][0]["differences"]] == [
        ("/etc/login.defs line 3", "99999")
    ]
    assert drift["controls"][0]["actual"] == {"/etc/login.defs PASS_MAX_DAYS": "365"}
    run(tree, [defs("cis.login_defs.max", {"settings": {"PASS_MAX_DAYS": 365}})])
    assert tree.read(ld.LOGIN_DEFS) == "PASS_MAX_DAYS 365\n# keep me\n#PASS_MAX_DAYS\t99999\n#PASS_MAX_DAYS 365"


def test_equal_duplicates_are_left_alone(tree):
    tree.write(ld.LOGIN_DEFS, "UMASK 027\nUMASK 0027\n")
    _unused, result = run(tree, [defs("cis.login_defs.umask", {"settings": {"UMASK": "027"}})])
    assert statuses(result) == [("cis.login_defs.umask", "pass")]


def test_quoted_values_and_lines_without_value_are_read_as_getdef_does():
    found = ld.parse("settings", 'ENV_HZ "HZ=100" # ignored\nPASS_MIN_LEN\n\tUMASK 077\n')
    assert {key: [(line.value, line.number) for line in lines] for key, lines in found.items()} == {
        "ENV_HZ": [("HZ=100", 1)],
        "UMASK": [("077", 3)],
    }
    assert ld.rewrite("settings", 'ENV_HZ "HZ=100"\n', {"ENV_HZ": "HZ=50"}) == "ENV_HZ HZ=50\n"


@pytest.mark.parametrize(
    ("text", "value"),
    [("UID_MIN 500\n", 500), ("UID_MIN\t01750\n", 1000), ("", 1000), ("UID_MIN lots\n", 1000), (None, 1000)],
    ids=["decimal", "octal-as-getdef", "unset", "unreadable", "absent-file"],
)
def test_uid_min(tmp_path, text, value):
    tree = Tree(tmp_path)
    if text is not None:
        tree.write(ld.LOGIN_DEFS, text)
    assert ld.uid_min(tree.node(FakeModule([]))) == value


def test_useradd_defaults_as_useradd_dash_d_writes_them(tree):
    spec = {"useradd": {"INACTIVE": 45}}
    _unused, drift = run(tree, [defs("cis.login_defs.inactive", spec)], check_mode=True)
    assert drift["controls"][0]["differences"] == [
        {"item": "INACTIVE", "where": "/etc/default/useradd", "expected": "45", "actual": None}
    ]
    _unused, fixed = run(tree, [defs("cis.login_defs.inactive", spec)])
    assert statuses(fixed) == [("cis.login_defs.inactive", "fixed")]
    assert tree.read(ld.USERADD) == USERADD + "INACTIVE=45\n"
    tree.write(ld.USERADD, "INACTIVE=-1\n INACTIVE=7\nINACTIVE=30\n")
    _unused, dup = run(tree, [defs("cis.login_defs.inactive", spec)])
    assert [d["where"] for d in dup["controls"][0]["differences"]] == [
        "/etc/default/useradd line 1",
        "/etc/default/useradd line 3",
    ]
    # useradd reads only lines starting with the key: the indented one is text
    assert tree.read(ld.USERADD) == "INACTIVE=45\n INACTIVE=7\n#INACTIVE=30\n"


def test_absent_files_are_created(tmp_path):
    tree = Tree(tmp_path)
    _unused, result = run(
        tree, [defs("cis.login_defs.both", {"settings": {"UMASK": "027"}, "useradd": {"INACTIVE": 30}})]
    )
    assert statuses(result) == [("cis.login_defs.both", "fixed")]
    assert tree.read(ld.LOGIN_DEFS) == "UMASK\t027\n"
    assert tree.read(ld.USERADD) == "INACTIVE=30\n"
    assert stat.S_IMODE(os.stat(tree.file(ld.LOGIN_DEFS)).st_mode) == 0o644


def test_controls_share_one_write_per_file(tree):
    controls = [
        defs("cis.login_defs.max", {"settings": {"PASS_MAX_DAYS": 365}}),
        defs("cis.login_defs.warn", {"settings": {"PASS_WARN_AGE": 7}}),
        defs("cis.login_defs.umask", {"settings": {"UMASK": "027"}}),
        defs("cis.login_defs.inactive", {"useradd": {"INACTIVE": 45}}),
    ]
    module, result = run(tree, controls)
    assert statuses(result) == [
        ("cis.login_defs.max", "fixed"),
        ("cis.login_defs.warn", "pass"),
        ("cis.login_defs.umask", "fixed"),
        ("cis.login_defs.inactive", "fixed"),
    ]
    assert result["actions"] == ["write /etc/login.defs", "write /etc/default/useradd"]
    assert module.moves.count(str(tree.file(ld.LOGIN_DEFS))) == 1
    assert "PASS_MAX_DAYS\t365\n" in tree.read(ld.LOGIN_DEFS) and "UMASK\t\t027\n" in tree.read(ld.LOGIN_DEFS)


class FailingMove(FakeModule):
    """atomic_move fails for one path, as a full disk or a read-only file would."""

    def __init__(self, controls, fail_path):
        super().__init__(controls)
        self.fail_path = fail_path

    def atomic_move(self, src, dest):
        if dest == self.fail_path:
            raise OSError(f"cannot write {dest}")
        super().atomic_move(src, dest)


def test_a_failed_later_write_undoes_the_first(tree):
    controls = [
        defs("cis.login_defs.max", {"settings": {"PASS_MAX_DAYS": 365}}),
        defs("cis.login_defs.inactive", {"useradd": {"INACTIVE": 45}}),
    ]
    module = FailingMove(controls, str(tree.file(ld.USERADD)))
    with pytest.raises(engine.ApplyError, match=r"write /etc/default/useradd failed.*undid 1 earlier change"):
        engine.run(module, tree.node(module), [ld.LoginDefs()])
    assert tree.read(ld.LOGIN_DEFS) == LOGIN_DEFS
    assert tree.read(ld.USERADD) == USERADD


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (None, "spec must be a mapping with settings"),
        ({"settings": {"PASS_MAX_DAYS": 365}, "other": {}}, "spec must be a mapping with settings"),
        ({"settings": {}}, "settings must map setting names to values"),
        ({"settings": {"PASS_MAX_DAY": 365}}, "'PASS_MAX_DAY' is not a setting of /etc/login.defs"),
        ({"settings": {"PASS_MAX_DAYS": "lots"}}, "PASS_MAX_DAYS in /etc/login.defs must be a whole number"),
        ({"settings": {"PASS_MAX_DAYS": -2}}, "must be a whole number"),
        ({"settings": {"PASS_MAX_DAYS": True}}, "takes a value, not true or false"),
        ({"settings": {"UMASK": 27}}, "quoted octal string with a leading 0"),
        ({"settings": {"UMASK": "27"}}, "quoted octal string with a leading 0"),
        ({"settings": {"UMASK": "0928"}}, "quoted octal string"),
        ({"settings": {"ENCRYPT_METHOD": "MD5"}}, "ENCRYPT_METHOD 'MD5' is not a strong hash; use SHA512 or YESCRYPT"),
        ({"settings": {"ENCRYPT_METHOD": "yescrypt"}}, "is not a strong hash"),
        ({"settings": {"MAIL_DIR": "/var/mail extra"}}, "must be one word without blanks"),
        ({"settings": {"MAIL_DIR": "/var/mail\nUMASK 000"}}, "must be one word"),
        ({"settings": {"MAIL_DIR": '"/var/mail"'}}, "must be one word"),
        ({"settings": {"MAIL_DIR": ""}}, "must be one word"),
        ({"settings": {"MAIL_DIR": None}}, "must be one word"),
        ({"settings": {"DEFAULT_HOME": "maybe"}}, "DEFAULT_HOME in /etc/login.defs is yes or no"),
        ({"useradd": {"INACTIVE": "soon"}}, "INACTIVE in /etc/default/useradd must be a whole number"),
        ({"useradd": {"PASS_MAX_DAYS": 365}}, "is not a setting of /etc/default/useradd"),
    ],
)
def test_validate_refuses_bad_input_before_reading_the_node(tree, spec, message):
    with pytest.raises(ControlInputError, match=message):
        ld.LoginDefs().validate(tree.node(FakeModule([])), {"id": "cis.login_defs.x"}, spec)


def test_validate_normalises(tree):
    spec = {"settings": {"PASS_MAX_DAYS": "365", "DEFAULT_HOME": True, "UMASK": "027"}, "useradd": {"INACTIVE": 45}}
    assert ld.LoginDefs().validate(tree.node(FakeModule([])), {"id": "cis.login_defs.x"}, spec) == {
        "settings": {"PASS_MAX_DAYS": "365", "DEFAULT_HOME": "yes", "UMASK": "027"},
        "useradd": {"INACTIVE": "45"},
    }


def test_two_controls_setting_one_key_differently_are_refused_naming_both(tree):
    before = tree.snapshot()
    controls = [
        defs("cis.login_defs.max", {"settings": {"PASS_MAX_DAYS": 365}}),
        defs("site.login_defs.max", {"settings": {"PASS_MAX_DAYS": 90}}),
    ]
    with pytest.raises(
        ControlInputError, match=r"'cis\.login_defs\.max' and 'site\.login_defs\.max' set PASS_MAX_DAYS"
    ):
        run(tree, controls)
    assert tree.snapshot() == before


def test_two_controls_agreeing_on_a_key_are_fine(tree):
    controls = [
        defs("cis.login_defs.umask", {"settings": {"UMASK": "027"}}),
        defs("site.login_defs.umask", {"settings": {"UMASK": "0027"}}),
    ]
    _unused, result = run(tree, controls, check_mode=True)
    assert statuses(result) == [("cis.login_defs.umask", "drift"), ("site.login_defs.umask", "drift")]
