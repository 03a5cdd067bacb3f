# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import os

import pytest

from ansible_collections.nodeguard.hardening.plugins.module_utils._access.pam import family as fam
from ansible_collections.nodeguard.hardening.plugins.module_utils._access.pam import profiles as pr
from ansible_collections.nodeguard.hardening.plugins.module_utils._access.pam import settings as st
from ansible_collections.nodeguard.hardening.plugins.module_utils._access.pam import stack as sk
from ansible_collections.nodeguard.hardening.plugins.module_utils._controls import ControlInputError
from ansible_collections.nodeguard.hardening.plugins.module_utils._system import engine
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.node import CommandError

from ..system.conftest import FakeModule, Tree, control
from .sshd_fakes import FakeModule as BinsModule

# -- a Debian 12 node as installed (libpam-runtime, libpam-modules, libpam-pwquality, libpam-systemd) --

DEBIAN_UNIX = """\
Name: Unix authentication
Default: yes
Priority: 256
Auth-Type: Primary
Auth:
\t[success=end default=ignore]\tpam_unix.so nullok try_first_pass
Auth-Initial:
\t[success=end default=ignore]\tpam_unix.so nullok
Account-Type: Primary
Account:
\t[success=end new_authtok_reqd=done default=ignore]\tpam_unix.so
Account-Initial:
\t[success=end new_authtok_reqd=done default=ignore]\tpam_unix.so
Session-Type: Additional
Session:
\trequired\tpam_unix.so
Session-Initial:
\trequired\tpam_unix.so
Password-Type: Primary
Password:
\t[success=end default=ignore]\tpam_unix.so obscure use_authtok try_first_pass yescrypt
Password-Initial:
\t[success=end default=ignore]\tpam_unix.so obscure yescrypt
"""
# What nodeguard-unix is for CIS: no nullok, the hash chosen, use_authtok on Password only.
NODEGUARD_UNIX = """\
Name: Unix authentication, as CIS 5.3.3.4 wants it (nodeguard.hardening)
Default: yes
Priority: 256
Auth-Type: Primary
Auth:
\t[success=end default=ignore]\tpam_unix.so try_first_pass
Auth-Initial:
\t[success=end default=ignore]\tpam_unix.so
Account-Type: Primary
Account:
\t[success=end new_authtok_reqd=done default=ignore]\tpam_unix.so
Account-Initial:
\t[success=end new_authtok_reqd=done default=ignore]\tpam_unix.so
Session-Type: Additional
Session:
\trequired\tpam_unix.so
Session-Initial:
\trequired\tpam_unix.so
Password-Type: Primary
Password:
\t[success=end default=ignore]\tpam_unix.so obscure use_authtok try_first_pass yescrypt
Password-Initial:
\t[success=end default=ignore]\tpam_unix.so obscure yescrypt
"""
PWQUALITY_PROFILE = """\
Name: Pwquality password strength checking
Default: yes
Priority: 1024
Conflicts: cracklib
Password-Type: Primary
Password:
\trequisite\t\t\tpam_pwquality.so retry=3
Password-Initial:
\trequisite\t\t\tpam_pwquality.so retry=3
"""
SYSTEMD_PROFILE = """\
Name: Register user sessions in the systemd control group hierarchy
Default: yes
Priority: 0
Session-Interactive-Only: yes
Session-Type: Additional
Session:
\toptional\tpam_systemd.so
"""
MODULE_DIR = "/usr/lib/x86_64-linux-gnu/security"
MODULES = (
    "pam_unix.so",
    "pam_deny.so",
    "pam_permit.so",
    "pam_faillock.so",
    "pam_pwhistory.so",
    "pam_pwquality.so",
    "pam_systemd.so",
)


def template(kind: str, primary: str) -> str:
    """/usr/share/pam/common-KIND, shortened: the blocks pam-auth-update fills around its own lines."""
    first = f"{primary}\t[default=1]\t\t\tpam_permit.so\n" if primary == "session" else f"${kind}_primary\n"
    return (
        f"#\n# /etc/pam.d/common-{kind}\n#\n"
        '# here are the per-package modules (the "Primary" block)\n'
        f"{first}"
        "# here's the fallback if no module succeeds\n"
        f"{primary}\trequisite\t\t\tpam_deny.so\n"
        f"{primary}\trequired\t\t\tpam_permit.so\n"
        '# and here are more per-package modules (the "Additional" block)\n'
        f"${kind}_additional\n"
        "# end of pam-auth-update config\n"
    )


def common(kind: str, *lines: str) -> str:
    """/etc/pam.d/common-KIND as pam-auth-update writes it: four lines of comments, then C(lines)
    (so the first of them is line 5), then the closing comment."""
    return (
        f"#\n# /etc/pam.d/common-{kind} - settings common to all services\n#\n"
        '# here are the per-package modules (the "Primary" block)\n'
        + "".join(f"{line}\n" for line in lines)
        + "# end of pam-auth-update config\n"
    )


FALLBACK = ("# here's the fallback if no module succeeds",)
DENY_PERMIT = ("requisite\t\t\tpam_deny.so", "required\t\t\tpam_permit.so")


def tail(kind: str) -> tuple[str, ...]:
    return (*FALLBACK, *(f"{kind}\t{line}" for line in DENY_PERMIT))


SESSION = common(
    "session",
    "session\t[default=1]\t\t\tpam_permit.so",
    *tail("session"),
    "session\trequired\tpam_unix.so ",
    "session\toptional\tpam_systemd.so ",
)
SESSION_NONINTERACTIVE = common(
    "session-noninteractive",
    "session\t[default=1]\t\t\tpam_permit.so",
    *tail("session"),
    "session\trequired\tpam_unix.so ",
)
FRESH = {
    "auth": common("auth", "auth\t[success=1 default=ignore]\tpam_unix.so nullok", *tail("auth")),
    "account": common(
        "account", "account\t[success=1 new_authtok_reqd=done default=ignore]\tpam_unix.so ", *tail("account")
    ),
    "password": common(
        "password",
        "password\trequisite\t\t\tpam_pwquality.so retry=3",
        "password\t[success=1 default=ignore]\tpam_unix.so obscure use_authtok try_first_pass yescrypt",
        *tail("password"),
    ),
    "session": SESSION,
    "session-noninteractive": SESSION_NONINTERACTIVE,
}
HARDENED = {
    "auth": common(
        "auth",
        "auth\trequisite\t\t\tpam_faillock.so preauth",
        "auth\t[success=2 default=ignore]\tpam_unix.so try_first_pass",
        "auth\t[default=die]\t\t\tpam_faillock.so authfail",
        *tail("auth"),
    ),
    "account": common(
        "account",
        "account\trequired\t\t\tpam_faillock.so",
        "account\t[success=1 new_authtok_reqd=done default=ignore]\tpam_unix.so ",
        *tail("account"),
    ),
    "password": common(
        "password",
        "password\trequisite\t\t\tpam_pwquality.so retry=3",
        "password\trequisite\t\t\tpam_pwhistory.so remember=24 enforce_for_root try_first_pass use_authtok",
        "password\t[success=1 default=ignore]\tpam_unix.so obscure use_authtok try_first_pass yescrypt",
        *tail("password"),
    ),
    "session": SESSION,
    "session-noninteractive": SESSION_NONINTERACTIVE,
}
FAILLOCK_CONF = """\
# Configuration for locking the user after multiple failed
# authentication attempts.
#
# The directory where the user files with the failure records are kept.
# The default is /var/run/faillock.
# dir = /var/run/faillock
#
# Deny access if the number of consecutive authentication failures
# for this user during the recent interval exceeds n tries.
# The default is 3.
# deny = 3
#
# The access will be re-enabled after n seconds after the lock out.
# The default is 600 (10 minutes).
# unlock_time = 600
"""
PWQUALITY_CONF = """\
# Configuration for systemwide password quality limits
# Defaults:
#
# Minimum acceptable size for the new password (plus one if
# credits are not disabled which is the default). (See pam_cracklib manual.)
# Cannot be set to lower value than 6.
# minlen = 8
"""
SEEN = "unix\npwquality\nsystemd\n"
# pam-auth-update's saved copy of the stacks it wrote last (it merges hand edits of common-* from it).
SAVED_STACKS = {
    "auth": "Module: unix\n[success=end default=ignore]\tpam_unix.so nullok\n",
    "account": "Module: unix\n[success=end new_authtok_reqd=done default=ignore]\tpam_unix.so\n",
    "password": "Module: pwquality\nrequisite\t\t\tpam_pwquality.so retry=3\nModule: unix\n"
    "[success=end default=ignore]\tpam_unix.so obscure use_authtok try_first_pass yescrypt\n",
    "session": "Module: unix\nrequired\tpam_unix.so\nModule: systemd\noptional\tpam_systemd.so\n",
    "session-noninteractive": "Module: unix\nrequired\tpam_unix.so\n",
}


def pam(cid: str, spec: dict) -> dict:
    return control(cid, "pam", spec)


UNIX = pam("cis.pam.unix", {"feature": "unix"})
FAILLOCK = pam("cis.pam.faillock", {"feature": "faillock"})
PWQUALITY = pam("cis.pam.pwquality", {"feature": "pwquality"})
PWHISTORY = pam("cis.pam.pwhistory", {"feature": "pwhistory"})
DENY = pam("cis.pam.faillock_deny", {"faillock": {"deny": 5}})
UNLOCK = pam("cis.pam.faillock_unlock_time", {"faillock": {"unlock_time": 900}})
MINLEN = pam("cis.pam.pwquality_minlen", {"pwquality": {"minlen": 14}})
REMEMBER = pam("cis.pam.pwhistory_remember", {"pwhistory": {"remember": 24}})
HISTORY_ROOT = pam("cis.pam.pwhistory_root", {"pwhistory": {"enforce_for_root": True}})
HISTORY_AUTHTOK = pam("cis.pam.pwhistory_use_authtok", {"pwhistory": {"use_authtok": True}})
NULLOK = pam("cis.pam.unix_no_nullok", {"unix": {"nullok": False}})
NO_REMEMBER = pam("cis.pam.unix_no_remember", {"unix": {"remember": False}})
HASH = pam("cis.pam.unix_hash", {"unix": {"hash": "yescrypt"}})
UNIX_AUTHTOK = pam("cis.pam.unix_use_authtok", {"unix": {"use_authtok": True}})
CIS = [
    UNIX,
    FAILLOCK,
    PWQUALITY,
    PWHISTORY,
    DENY,
    UNLOCK,
    MINLEN,
    REMEMBER,
    HISTORY_ROOT,
    HISTORY_AUTHTOK,
    NULLOK,
    NO_REMEMBER,
    HASH,
    UNIX_AUTHTOK,
]
# The controls whose differences only pam-auth-update removes, on a fresh node.
FRESH_STACK_CONTROLS = [
    "cis.pam.unix",
    "cis.pam.faillock",
    "cis.pam.pwhistory",
    "cis.pam.pwhistory_remember",
    "cis.pam.pwhistory_root",
    "cis.pam.pwhistory_use_authtok",
    "cis.pam.unix_no_nullok",
]
PROFILES = ["nodeguard-unix", "nodeguard-faillock", "nodeguard-faillock-authfail", "pwquality", "nodeguard-pwhistory"]
PAM_AUTH_UPDATE = [
    "/usr/sbin/pam-auth-update",
    "--enable",
    *PROFILES,
    "--disable",
    "unix",
    "--force",
]
REBUILD = "rebuild /etc/pam.d/common-* from the profiles: pam-auth-update " + " ".join(PAM_AUTH_UPDATE[1:])


@pytest.fixture(autouse=True)
def no_sudo_caller(monkeypatch):
    """The stacks action checks sudo as SUDO_USER; a test run under sudo must not change that."""
    monkeypatch.delenv("SUDO_USER", raising=False)


def write_stacks(tree: Tree, stacks: dict[str, str]) -> None:
    for kind, text in stacks.items():
        tree.write(sk.COMMON[kind], text)


@pytest.fixture
def fresh(tmp_path):
    tree = Tree(tmp_path)
    write_stacks(tree, FRESH)
    tree.write(pr.path("unix"), DEBIAN_UNIX)
    tree.write(pr.path("pwquality"), PWQUALITY_PROFILE)
    tree.write(pr.path("systemd"), SYSTEMD_PROFILE)
    for kind, primary in (
        ("auth", "auth"),
        ("account", "account"),
        ("password", "password"),
        ("session", "session"),
        ("session-noninteractive", "session"),
    ):
        tree.write(f"/usr/share/pam/common-{kind}", template(kind, primary))
        tree.write(f"/usr/share/pam/common-{kind}.md5sums", "0123456789abcdef0123456789abcdef  common-x\n")
    for name in MODULES:
        tree.write(f"{MODULE_DIR}/{name}", "")
    tree.write(st.FAILLOCK_CONF, FAILLOCK_CONF)
    tree.write(st.PWQUALITY_CONF, PWQUALITY_CONF)
    tree.write("/var/lib/pam/seen", SEEN)
    for kind, text in SAVED_STACKS.items():
        tree.write(f"/var/lib/pam/{kind}", text)
    return tree


def harden(tree: Tree) -> None:
    """What a converged run leaves: the stacks, our profiles, the settings files."""
    write_stacks(tree, HARDENED)
    tree.write(pr.path(pr.UNIX), NODEGUARD_UNIX)
    tree.write(pr.path(pr.FAILLOCK), pr.faillock())
    tree.write(pr.path(pr.FAILLOCK_AUTHFAIL), pr.faillock_authfail())
    tree.write(
        pr.path(pr.PWHISTORY), pr.pwhistory(["remember=24", "enforce_for_root", "try_first_pass", "use_authtok"])
    )
    tree.write(st.FAILLOCK_CONF, FAILLOCK_CONF + "deny = 5\nunlock_time = 900\n")
    tree.write(st.PWQUALITY_CONF, PWQUALITY_CONF + "minlen = 14\n")


@pytest.fixture
def hardened(fresh):
    harden(fresh)
    return fresh


def inspect(tree: Tree, controls: list[dict], module=None) -> dict[str, engine.Finding]:
    module = module if module is not None else FakeModule(controls)
    node = tree.node(module)
    family = fam.Pam()
    items = [(ctl, family.validate(node, ctl, ctl["spec"])) for ctl in controls]
    return family.inspect(node, items)


def triples(finding: engine.Finding) -> list[tuple]:
    return [(d["item"], d["where"], d["expected"], d["actual"]) for d in finding.differences]


def stacks_action(findings: dict[str, engine.Finding]) -> engine.Action:
    found = {id(a): a for f in findings.values() for a in f.actions if a.key == "pam:stacks"}
    assert len(found) == 1
    return next(iter(found.values()))


def run(tree, module):
    return engine.run(module, tree.node(module), [fam.Pam()])


def statuses(result) -> dict[str, str]:
    return {r["id"]: r["status"] for r in result["controls"]}


class FakePamAuthUpdate:
    """pam-auth-update --enable ... --force: writes the given common-* files and its state files.
    C(saved_at_call) records which of its saved stacks (/var/lib/pam/KIND) were there when called."""

    def __init__(self, tree: Tree, stacks: dict[str, str]) -> None:
        self.tree = tree
        self.stacks = stacks
        self.calls: list[list[str]] = []
        self.saved_at_call: list[list[str]] = []

    def __call__(self, argv: list[str]) -> tuple[int, str, str]:
        self.calls.append(argv)
        self.saved_at_call.append([kind for kind in SAVED_STACKS if self.tree.file(f"/var/lib/pam/{kind}").exists()])
        if "--enable" not in argv or argv[-1] != "--force":
            return 1, "", "pam-auth-update: not called as this test expects"
        write_stacks(self.tree, self.stacks)
        enabled = argv[argv.index("--enable") + 1 : argv.index("--disable") if "--disable" in argv else -1]
        self.tree.write("/var/lib/pam/seen", "".join(f"{name}\n" for name in ["systemd", *enabled]))
        for kind in SAVED_STACKS:
            self.tree.write(f"/var/lib/pam/{kind}", f"Module: rebuilt {kind}\n")
        return 0, "", ""


def scripted(tree: Tree, controls: list[dict], stacks: dict[str, str], *, check_mode: bool = False):
    module = FakeModule(controls, check_mode=check_mode)
    fake = FakePamAuthUpdate(tree, stacks)
    module.commands["pam-auth-update"] = fake
    return module, fake


# -- stack ---------------------------------------------------------------------------------------


def test_stack_parse_reads_lines_as_pam_does():
    text = (
        "# a comment line\n"
        "auth\t[success=1 default=ignore]\tpam_unix.so nullok # trailing comment\n"
        "-session   optional   pam_systemd.so\n"
        "@include common-auth\n"
        "\n"
        "account required /lib/x86_64-linux-gnu/security/pam_faillock.so dir=/run/x deny=3 deny=4 [a=b c] "
        "even_deny_root\n"
        "auth required\n"
        "#auth required pam_wheel.so\n"
    )
    lines = sk.parse("/etc/pam.d/x", text)
    assert [(ln.number, ln.type, ln.control, ln.module, ln.args) for ln in lines] == [
        (2, "auth", "[success=1 default=ignore]", "pam_unix.so", ("nullok",)),
        (3, "session", "optional", "pam_systemd.so", ()),
        (4, "@include", "", "common-auth", ()),
        (
            6,
            "account",
            "required",
            "/lib/x86_64-linux-gnu/security/pam_faillock.so",
            ("dir=/run/x", "deny=3", "deny=4", "[a=b c]", "even_deny_root"),
        ),
    ]
    faillock = lines[3]
    assert faillock.name == "pam_faillock.so"
    assert faillock.where == "/etc/pam.d/x line 6"
    assert faillock.has("deny") and faillock.has("even_deny_root") and faillock.has("dir")
    assert not faillock.has("den") and not faillock.has("unlock_time")
    assert faillock.value("deny") == "4"  # the last one, as pam_faillock reads its arguments
    assert faillock.value("even_deny_root") is None and faillock.value("audit") is None
    assert lines[0].text == "auth [success=1 default=ignore] pam_unix.so nullok"
    assert [ln.number for ln in sk.modules(lines, "pam_faillock.so")] == [6]
    assert sk.modules(lines, "pam_wheel.so") == []


# -- profiles ------------------------------------------------------------------------------------


def test_profile_fields():
    found = pr.fields(DEBIAN_UNIX)
    assert found["Name"] == ["Unix authentication"]
    assert found["Priority"] == ["256"]
    assert found["Auth-Type"] == ["Primary"]
    assert found["Auth"] == ["[success=end default=ignore]\tpam_unix.so nullok try_first_pass"]
    assert found["Password-Initial"] == ["[success=end default=ignore]\tpam_unix.so obscure yescrypt"]
    assert list(found) == [
        "Name",
        "Default",
        "Priority",
        *(
            f"{kind}{suffix}"
            for kind in ("Auth", "Account", "Session", "Password")
            for suffix in ("-Type", "", "-Initial")
        ),
    ]
    assert pr.fields("# comment\nName: x\n\nSession:\n\toptional\tpam_a.so\n\trequired\tpam_b.so\n") == {
        "Name": ["x"],
        "Session": ["optional\tpam_a.so", "required\tpam_b.so"],
    }
    assert fam.profile_modules(SYSTEMD_PROFILE) == {"pam_systemd.so"}
    assert fam.profile_modules(DEBIAN_UNIX) == {"pam_unix.so"}
    assert fam.profile_modules(pr.faillock()) == {"pam_faillock.so"}


def test_derive_unix_makes_debian_profile_cis():
    assert pr.derive_unix(DEBIAN_UNIX, False, False, "yescrypt", True) == NODEGUARD_UNIX


def test_derive_unix_changes_each_argument_only_where_it_belongs():
    debian = (
        "Name: Unix authentication\n"
        "Auth:\n"
        "\t[success=end default=ignore]\tpam_unix.so nullok try_first_pass remember=5\n"
        "# pam_unix.so nullok stays in a comment\n"
        "Password:\n"
        "\t[success=end default=ignore]\tpam_unix.so obscure nullok try_first_pass sha512 remember=5\n"
        "Password-Initial:\n"
        "\t[success=end default=ignore]\tpam_unix.so obscure sha512\n"
    )
    assert pr.derive_unix(debian, False, False, "yescrypt", True) == (
        "Name: Unix authentication, as CIS 5.3.3.4 wants it (nodeguard.hardening)\n"
        "Auth:\n"
        "\t[success=end default=ignore]\tpam_unix.so try_first_pass\n"
        "# pam_unix.so nullok stays in a comment\n"
        "Password:\n"
        "\t[success=end default=ignore]\tpam_unix.so obscure try_first_pass yescrypt use_authtok\n"
        "Password-Initial:\n"
        "\t[success=end default=ignore]\tpam_unix.so obscure yescrypt\n"
    )
    # None leaves an argument as Debian has it; only the Name says whose profile it is.
    kept = pr.derive_unix(debian, None, None, None, False)
    assert kept.splitlines()[1:] == debian.splitlines()[1:]
    assert kept.splitlines()[0] == "Name: Unix authentication, as CIS 5.3.3.4 wants it (nodeguard.hardening)"


def test_pwhistory_profile_prompts_itself_when_first():
    text = pr.pwhistory(["remember=24", "enforce_for_root", "try_first_pass", "use_authtok"])
    found = pr.fields(text)
    assert found["Priority"] == ["1000"]  # between pam_pwquality (1024) and pam_unix (256)
    assert found["Password"] == [
        "requisite\t\t\tpam_pwhistory.so remember=24 enforce_for_root try_first_pass use_authtok"
    ]
    assert found["Password-Initial"] == ["requisite\t\t\tpam_pwhistory.so remember=24 enforce_for_root try_first_pass"]


# -- settings ------------------------------------------------------------------------------------


def test_settings_parse():
    text = "# deny = 3\ndeny = 4\n  unlock_time=600   # ten minutes\neven_deny_root\n\nDeny = 1\n"
    assert st.parse("/etc/security/faillock.conf", text) == [
        st.Setting("/etc/security/faillock.conf", 2, "deny", "4"),
        st.Setting("/etc/security/faillock.conf", 3, "unlock_time", "600"),
        st.Setting("/etc/security/faillock.conf", 4, "even_deny_root", None),
    ]


def test_settings_rewrite_sets_in_place_comments_duplicates_appends_and_keeps_the_rest():
    text = (
        "# Configuration for locking\n"
        "# deny = 3\n"
        "deny = 4\n"
        "audit\n"
        "\t# dir = /var/run/faillock  \t\n"
        "unlock_time=600 # ten minutes\n"
        "  deny=2\n"
        "silent\n"
        "admin_group = wheel\n"
        "# end"
    )
    wanted = {
        "deny": 5,
        "even_deny_root": True,
        "audit": False,
        "unlock_time": 900,
        "silent": True,
        "root_unlock_time": 60,
    }
    assert st.rewrite(st.FAILLOCK_CONF, text, wanted) == (
        "# Configuration for locking\n"
        "# deny = 3\n"
        "deny = 5\n"
        "# audit\n"
        "\t# dir = /var/run/faillock  \t\n"
        "unlock_time = 900\n"
        "# deny=2\n"
        "silent\n"
        "admin_group = wheel\n"
        "# end\n"
        "even_deny_root\n"
        "root_unlock_time = 60\n"
    )
    assert st.rewrite(st.FAILLOCK_CONF, None, {"deny": 5, "audit": False}) == "deny = 5\n"


@pytest.mark.parametrize(
    ("setting", "value", "same"),
    [
        (None, False, True),
        (None, True, False),
        (None, 5, False),
        (("deny", None), True, True),
        (("deny", None), False, False),
        (("deny", None), 5, False),
        (("deny", "5"), 5, True),
        (("deny", "05"), 5, False),
        (("dir", "/run/x"), "/run/x", True),
    ],
)
def test_settings_same(setting, value, same):
    found = None if setting is None else st.Setting("f", 1, *setting)
    assert st.same(found, value) is same


# -- validate ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (None, r"spec must have exactly one of feature, unix, pwhistory, faillock, pwquality"),
        ({"sss": {"x": 1}}, r"spec must have exactly one of"),
        ({"faillock": {"deny": 5}, "pwquality": {"minlen": 14}}, r"spec must have exactly one of"),
        ({"feature": "sss"}, r"feature 'sss' is not one of faillock, pwhistory, pwquality, unix"),
        ({"faillock": {}}, r"faillock must map settings to values"),
        ({"faillock": [5]}, r"faillock must map settings to values"),
        ({"faillock": {"attempts": 3}}, r"faillock does not know attempts; it knows admin_group, audit, deny"),
        ({"unix": {"sha512": True}}, r"unix does not know sha512; it knows hash, nullok, remember, use_authtok"),
        ({"faillock": {"deny": True}}, r"faillock\.deny must be a whole number, not True"),
        ({"faillock": {"deny": "5"}}, r"faillock\.deny must be a whole number, not '5'"),
        ({"faillock": {"even_deny_root": 1}}, r"faillock\.even_deny_root is a flag: give true or false"),
        ({"unix": {"nullok": "no"}}, r"unix\.nullok is a flag"),
        ({"faillock": {"deny": 6}}, r"faillock\.deny 6 is outside what CIS 5\.3\.3 accepts \(1\.\.5\)"),
        ({"faillock": {"deny": 0}}, r"faillock\.deny 0 is outside .* \(1\.\.5\)"),
        ({"faillock": {"root_unlock_time": 59}}, r"faillock\.root_unlock_time 59 is outside .* \(60\.\.\)"),
        ({"faillock": {"unlock_time": 300}}, r"faillock\.unlock_time 300 must be 0 .* or 900 seconds or more"),
        ({"faillock": {"unlock_time": 899}}, r"faillock\.unlock_time 899 must be 0"),
        ({"faillock": {"dir": "/var/run/fail lock"}}, r"faillock\.dir must be one word"),
        ({"faillock": {"admin_group": ""}}, r"faillock\.admin_group must be one word"),
        ({"pwquality": {"minlen": 8}}, r"pwquality\.minlen 8 is outside what CIS 5\.3\.3 accepts \(14\.\.\)"),
        ({"pwquality": {"dictcheck": 0}}, r"pwquality\.dictcheck 0 is outside .* \(1\)"),
        ({"pwquality": {"maxrepeat": 4}}, r"pwquality\.maxrepeat 4 is outside .* \(1\.\.3\)"),
        ({"pwquality": {"enforce_for_root": "yes"}}, r"pwquality\.enforce_for_root is a flag"),
        ({"pwhistory": {"remember": 23}}, r"pwhistory\.remember 23 is outside .* \(24\.\.400\)"),
        ({"pwhistory": {"remember": 401}}, r"pwhistory\.remember 401 is outside"),
        ({"unix": {"hash": "md5"}}, r"unix\.hash 'md5' is not a strong hash; use yescrypt or sha512"),
        ({"unix": {"hash": "YESCRYPT"}}, r"unix\.hash 'YESCRYPT' is not a strong hash"),
        ({"unix": {"nullok": True}}, r"unix\.nullok and unix\.remember can only be false"),
        ({"unix": {"remember": True}}, r"unix\.nullok and unix\.remember can only be false"),
    ],
)
def test_validate_refuses(tmp_path, spec, message):
    node = Tree(tmp_path).node(FakeModule([]))
    with pytest.raises(ControlInputError, match=rf"control 'cis\.pam\.x': {message}"):
        fam.Pam().validate(node, {"id": "cis.pam.x"}, spec)


@pytest.mark.parametrize(
    ("spec", "kind", "values", "feature"),
    [
        ({"feature": "faillock"}, "feature", {}, "faillock"),
        ({"faillock": {"unlock_time": 0}}, "faillock", {"unlock_time": 0}, ""),
        ({"faillock": {"unlock_time": 900, "deny": 1}}, "faillock", {"unlock_time": 900, "deny": 1}, ""),
        ({"faillock": {"even_deny_root": True, "root_unlock_time": 60}}, "faillock", None, ""),
        ({"pwquality": {"minlen": 14, "dictcheck": 1, "enforce_for_root": True}}, "pwquality", None, ""),
        ({"unix": {"hash": "sha512", "nullok": False, "remember": False}}, "unix", None, ""),
        ({"pwhistory": {"remember": 400, "use_authtok": True}}, "pwhistory", None, ""),
    ],
)
def test_validate_accepts(tmp_path, spec, kind, values, feature):
    node = Tree(tmp_path).node(FakeModule([]))
    found = fam.Pam().validate(node, {"id": "cis.pam.x"}, spec)
    expected = values if values is not None else next(iter(spec.values()))
    assert (found.kind, found.values, found.feature) == (kind, expected, feature)


def test_two_controls_giving_one_key_different_values_are_refused_naming_both(tmp_path):
    node = Tree(tmp_path).node(FakeModule([]))
    family = fam.Pam()
    family.validate(node, {"id": "cis.pam.faillock_deny"}, {"faillock": {"deny": 5}})
    family.validate(node, {"id": "site.pam.same"}, {"faillock": {"deny": 5}})
    family.validate(node, {"id": "site.pam.other_kind"}, {"pwhistory": {"remember": 30}})
    with pytest.raises(
        ControlInputError,
        match=r"controls 'cis\.pam\.faillock_deny' and 'site\.pam\.deny' set faillock\.deny to 5 and 3",
    ):
        family.validate(node, {"id": "site.pam.deny"}, {"faillock": {"deny": 3}})


def test_conflicting_controls_stop_the_run_before_anything_changes(fresh):
    controls = [DENY, pam("site.pam.deny", {"faillock": {"deny": 3}})]
    before = fresh.snapshot()
    module = FakeModule(controls)
    with pytest.raises(ControlInputError, match=r"'cis\.pam\.faillock_deny' and 'site\.pam\.deny'"):
        run(fresh, module)
    assert fresh.snapshot() == before and module.calls == []


# -- inspect -------------------------------------------------------------------------------------


def test_fresh_node_differences_per_control(fresh):
    found = inspect(fresh, CIS)
    auth, account, password = sk.COMMON["auth"], sk.COMMON["account"], sk.COMMON["password"]
    assert triples(found["cis.pam.unix"]) == [
        ("nodeguard-unix", "/usr/share/pam-configs/nodeguard-unix", "present", None)
    ]
    assert triples(found["cis.pam.faillock"]) == [
        ("pam_faillock.so preauth", auth, "ahead of pam_unix.so", None),
        ("pam_faillock.so authfail", auth, "after pam_unix.so", None),
        ("pam_faillock.so", account, "present", None),
        ("nodeguard-faillock", "/usr/share/pam-configs/nodeguard-faillock", "present", None),
        ("nodeguard-faillock-authfail", "/usr/share/pam-configs/nodeguard-faillock-authfail", "present", None),
    ]
    assert triples(found["cis.pam.pwquality"]) == []
    assert triples(found["cis.pam.pwhistory"]) == [
        ("pam_pwhistory.so", password, "ahead of pam_unix.so", None),
        ("nodeguard-pwhistory", "/usr/share/pam-configs/nodeguard-pwhistory", "present", None),
    ]
    assert triples(found["cis.pam.faillock_deny"]) == [("deny", st.FAILLOCK_CONF, 5, None)]
    assert triples(found["cis.pam.faillock_unlock_time"]) == [("unlock_time", st.FAILLOCK_CONF, 900, None)]
    assert triples(found["cis.pam.pwquality_minlen"]) == [("minlen", st.PWQUALITY_CONF, 14, None)]
    for cid in ("cis.pam.pwhistory_remember", "cis.pam.pwhistory_root", "cis.pam.pwhistory_use_authtok"):
        assert triples(found[cid]) == [("pam_pwhistory.so", password, "present", None)]
        assert found[cid].unfixable is None  # the pwhistory feature is on: the stacks bring it
    assert triples(found["cis.pam.unix_no_nullok"]) == [
        (
            "pam_unix.so nullok",
            "/etc/pam.d/common-auth line 5",
            "absent",
            "auth [success=1 default=ignore] pam_unix.so nullok",
        )
    ]
    assert found["cis.pam.unix_no_nullok"].actual == {"nullok": ["/etc/pam.d/common-auth line 5"]}
    for cid in ("cis.pam.unix_no_remember", "cis.pam.unix_hash", "cis.pam.unix_use_authtok"):
        assert triples(found[cid]) == [], cid
    assert found["cis.pam.unix_hash"].actual == {"hash": ["yescrypt"]}
    assert all(finding.unfixable is None for finding in found.values())


def test_fresh_node_actions_share_one_stacks_rebuild(fresh):
    found = inspect(fresh, CIS)
    action = stacks_action(found)
    with_stacks = [cid for cid, finding in found.items() if action in finding.actions]
    assert with_stacks == FRESH_STACK_CONTROLS
    assert action.what == REBUILD  # nothing on the fresh stacks would be dropped
    # the diff shows the profiles to be written, nothing else
    assert [entry["after_header"] for entry in action.diff] == [
        pr.path(name) for name in PROFILES if name != "pwquality"
    ]
    assert [a.key for a in found["cis.pam.faillock_deny"].actions] == ["write:/etc/security/faillock.conf"]
    assert found["cis.pam.faillock_deny"].actions[0] is found["cis.pam.faillock_unlock_time"].actions[0]
    assert [a.key for a in found["cis.pam.pwquality_minlen"].actions] == ["write:/etc/security/pwquality.conf"]
    assert found["cis.pam.pwquality"].actions == []


def test_hardened_node_has_no_differences(hardened):
    found = inspect(hardened, CIS)
    assert {cid: triples(finding) for cid, finding in found.items() if finding.differences} == {}
    assert all(not finding.actions and finding.unfixable is None for finding in found.values())
    assert found["cis.pam.faillock"].actual == {
        "/etc/pam.d/common-auth pam_faillock.so preauth": [5],
        "/etc/pam.d/common-auth pam_faillock.so authfail": [7],
        "/etc/pam.d/common-account pam_faillock.so": [5],
    }


def test_settings_lines_with_other_values_name_their_lines(hardened):
    hardened.write(st.FAILLOCK_CONF, "deny = 3\n# deny = 5\ndeny=5\nunlock_time = 600\n")
    found = inspect(hardened, [DENY, UNLOCK, pam("cis.pam.faillock_root", {"faillock": {"even_deny_root": True}})])
    assert triples(found["cis.pam.faillock_deny"]) == [("deny", "/etc/security/faillock.conf line 1", 5, "3")]
    assert found["cis.pam.faillock_deny"].actual == {"/etc/security/faillock.conf deny": "5"}
    assert triples(found["cis.pam.faillock_unlock_time"]) == [
        ("unlock_time", "/etc/security/faillock.conf line 4", 900, "600")
    ]
    assert triples(found["cis.pam.faillock_root"]) == [("even_deny_root", st.FAILLOCK_CONF, True, False)]
    write = found["cis.pam.faillock_deny"].actions[0]
    write.run()
    assert hardened.read(st.FAILLOCK_CONF) == ("deny = 5\n# deny = 5\n# deny=5\nunlock_time = 900\neven_deny_root\n")


def test_an_argument_on_the_module_line_is_a_difference_of_its_setting(hardened):
    stacks = dict(HARDENED)
    stacks["auth"] = HARDENED["auth"].replace("pam_faillock.so preauth", "pam_faillock.so preauth deny=10")
    write_stacks(hardened, stacks)
    found = inspect(hardened, [FAILLOCK, DENY, UNLOCK])
    assert triples(found["cis.pam.faillock_deny"]) == [
        ("pam_faillock.so deny", "/etc/pam.d/common-auth line 5", 5, "10")
    ]
    assert triples(found["cis.pam.faillock_unlock_time"]) == []
    assert triples(found["cis.pam.faillock"]) == []
    # the file already says deny = 5: only the stacks (whose profiles carry no arguments) fix it
    assert [a.key for a in found["cis.pam.faillock_deny"].actions] == ["pam:stacks"]
    assert found["cis.pam.faillock_deny"].actions[0].what == (
        "rebuild /etc/pam.d/common-* from the profiles: pam-auth-update --enable nodeguard-faillock "
        "nodeguard-faillock-authfail --force (options no profile gives are dropped: /etc/pam.d/common-auth line 5 "
        "pam_faillock.so deny=10)"
    )


def test_a_hand_added_line_no_profile_provides_blocks_the_stacks_only(fresh):
    stacks = dict(FRESH)
    stacks["auth"] = common(
        "auth", "auth\t[success=1 default=ignore]\tpam_unix.so nullok", *tail("auth"), "auth\trequired\tpam_sss.so"
    )
    write_stacks(fresh, stacks)
    found = inspect(fresh, CIS)
    for cid in FRESH_STACK_CONTROLS:
        assert found[cid].unfixable is not None, cid
        assert "/etc/pam.d/common-auth line 9 'auth required pam_sss.so'" in found[cid].unfixable
        assert "pam-auth-update --force would drop lines" in found[cid].unfixable
        assert all(a.key != "pam:stacks" for a in found[cid].actions)
    assert found["cis.pam.faillock_deny"].unfixable is None
    assert [a.key for a in found["cis.pam.faillock_deny"].actions] == ["write:/etc/security/faillock.conf"]
    assert found["cis.pam.pwquality_minlen"].unfixable is None


def test_a_hand_added_line_fails_the_stack_controls_and_the_files_are_still_fixed(fresh):
    stacks = dict(FRESH, auth=FRESH["auth"].replace("# end of", "auth\trequired\tpam_sss.so\n# end of"))
    write_stacks(fresh, stacks)
    module, fake = scripted(fresh, CIS, HARDENED)
    result = run(fresh, module)
    found = statuses(result)
    assert {cid for cid, status in found.items() if status == "error"} == set(FRESH_STACK_CONTROLS)
    assert found["cis.pam.faillock_deny"] == "fixed" and found["cis.pam.pwquality_minlen"] == "fixed"
    assert fake.calls == []
    assert fresh.read(sk.COMMON["auth"]) == stacks["auth"]
    assert fresh.read(pr.path(pr.UNIX)) is None
    assert fresh.read(st.FAILLOCK_CONF) == FAILLOCK_CONF + "deny = 5\nunlock_time = 900\n"


def test_lines_of_modules_a_profile_provides_do_not_block(fresh):
    """pam_cap (profile capability) and pam_umask (Debian 13's session template) are known lines."""
    fresh.write(
        pr.path("capability"),
        "Name: caps\nDefault: yes\nPriority: 0\nAuth-Type: Additional\nAuth-Final:\n\toptional\t\t\tpam_cap.so\n",
    )
    fresh.write("/usr/share/pam/common-session", template("session", "session") + "session\toptional\tpam_umask.so\n")
    write_stacks(
        fresh,
        dict(
            FRESH,
            auth=FRESH["auth"].replace("# end of", "auth\toptional\t\t\tpam_cap.so \n# end of"),
            session=SESSION.replace("# end of", "session\toptional\tpam_umask.so\n# end of"),
        ),
    )
    found = inspect(fresh, CIS)
    assert all(finding.unfixable is None for finding in found.values())
    stacks_action(found)


def test_a_missing_pwquality_module_makes_the_stack_fixes_unfixable(fresh):
    os.unlink(fresh.file(f"{MODULE_DIR}/pam_pwquality.so"))
    found = inspect(fresh, CIS)
    for cid in FRESH_STACK_CONTROLS:
        assert found[cid].unfixable == (
            "PAM module pam_pwquality.so is not installed (libpam-modules, libpam-pwquality): a stack naming it "
            "would refuse every login"
        ), cid
    assert found["cis.pam.faillock_deny"].unfixable is None


def test_a_missing_pwquality_profile_names_the_package(fresh):
    os.unlink(fresh.file(pr.path("pwquality")))
    found = inspect(fresh, [FAILLOCK, PWQUALITY])
    assert found["cis.pam.faillock"].unfixable == (
        "/usr/share/pam-configs/pwquality is missing: install libpam-pwquality (cis.pam.pwquality_installed)"
    )


def test_a_missing_debian_unix_profile_makes_ours_underivable(fresh):
    os.unlink(fresh.file(pr.path("unix")))
    found = inspect(fresh, [UNIX, NULLOK])
    for cid in ("cis.pam.unix", "cis.pam.unix_no_nullok"):
        assert "/usr/share/pam-configs/unix (Debian's unix profile, from libpam-runtime) is missing" in (
            found[cid].unfixable or ""
        )


def test_without_pam_auth_update_the_stacks_are_not_touched(fresh):
    module = BinsModule(CIS)
    module.bins["pam-auth-update"] = None
    found = inspect(fresh, CIS, module)
    assert found["cis.pam.faillock"].unfixable == "pam-auth-update is not installed (libpam-runtime)"


def test_pwhistory_settings_without_the_feature_are_unfixable(fresh):
    found = inspect(fresh, [REMEMBER])
    assert triples(found["cis.pam.pwhistory_remember"]) == [
        ("pam_pwhistory.so", sk.COMMON["password"], "present", None)
    ]
    assert found["cis.pam.pwhistory_remember"].unfixable == (
        "pam_pwhistory is not in the password stack: switch on cis.pam.pwhistory"
    )


def test_stack_lines_in_the_wrong_place_or_with_wrong_arguments(hardened):
    stacks = dict(HARDENED)
    stacks["auth"] = common(
        "auth",
        "auth\t[default=die]\t\t\tpam_faillock.so authfail",
        "auth\t[success=2 default=ignore]\tpam_unix.so try_first_pass nullok",
        "auth\trequisite\t\t\tpam_faillock.so preauth",
        *tail("auth"),
    )
    stacks["password"] = common(
        "password",
        "password\t[success=2 default=ignore]\tpam_unix.so obscure try_first_pass sha512 remember=5",
        "password\trequisite\t\t\tpam_pwquality.so retry=3",
        "password\trequisite\t\t\tpam_pwhistory.so remember=5 try_first_pass",
        *tail("password"),
    )
    write_stacks(hardened, stacks)
    found = inspect(hardened, CIS)
    auth5, auth6, auth7 = (f"/etc/pam.d/common-auth line {n}" for n in (5, 6, 7))
    pw5, pw7 = "/etc/pam.d/common-password line 5", "/etc/pam.d/common-password line 7"
    assert triples(found["cis.pam.faillock"]) == [
        ("pam_faillock.so preauth", auth7, "ahead of pam_unix.so", "after pam_unix.so"),
        ("pam_faillock.so authfail", auth5, "after pam_unix.so", "ahead of pam_unix.so"),
    ]
    assert triples(found["cis.pam.pwquality"]) == [
        ("pam_pwquality.so", "/etc/pam.d/common-password line 6", "ahead of pam_unix.so", "after pam_unix.so")
    ]
    assert triples(found["cis.pam.unix_no_nullok"]) == [
        ("pam_unix.so nullok", auth6, "absent", "auth [success=2 default=ignore] pam_unix.so try_first_pass nullok")
    ]
    assert [d["where"] for d in found["cis.pam.unix_no_remember"].differences] == [pw5]
    assert triples(found["cis.pam.unix_hash"]) == [("pam_unix.so hash", pw5, "yescrypt", "sha512")]
    assert triples(found["cis.pam.unix_use_authtok"]) == [("pam_unix.so use_authtok", pw5, "present", None)]
    # pam_unix is the first password module: use_authtok would have nothing to take
    assert found["cis.pam.unix_use_authtok"].unfixable is None  # pwquality and pwhistory are on
    assert triples(found["cis.pam.pwhistory_remember"]) == [("pam_pwhistory.so remember", pw7, 24, "5")]
    assert triples(found["cis.pam.pwhistory_root"]) == [("pam_pwhistory.so enforce_for_root", pw7, True, False)]
    assert triples(found["cis.pam.pwhistory_use_authtok"]) == [("pam_pwhistory.so use_authtok", pw7, True, False)]
    only = inspect(hardened, [UNIX_AUTHTOK])
    assert "pam_unix is the first password module" in only["cis.pam.unix_use_authtok"].unfixable


def test_pam_unix_twice_in_a_stack(hardened):
    stacks = dict(HARDENED, session=SESSION.replace("# end of", "session\trequired\tpam_unix.so\n# end of"))
    write_stacks(hardened, stacks)
    found = inspect(hardened, CIS)
    assert triples(found["cis.pam.unix"]) == [
        ("pam_unix.so", "/etc/pam.d/common-session", "once", "2 times (lines 9, 11)")
    ]
    assert found["cis.pam.unix"].actual["/etc/pam.d/common-auth"] == [6]


def test_our_unix_profile_follows_the_unix_controls(hardened):
    """With only the feature control on, nodeguard-unix is Debian's profile renamed: the CIS one differs."""
    found = inspect(hardened, [UNIX])
    assert triples(found["cis.pam.unix"]) == [
        (
            "nodeguard-unix",
            "/usr/share/pam-configs/nodeguard-unix line 6",
            "\t[success=end default=ignore]\tpam_unix.so nullok try_first_pass",
            None,
        ),
        (
            "nodeguard-unix",
            "/usr/share/pam-configs/nodeguard-unix line 8",
            "\t[success=end default=ignore]\tpam_unix.so nullok",
            None,
        ),
        (
            "nodeguard-unix",
            "/usr/share/pam-configs/nodeguard-unix line 6",
            None,
            "\t[success=end default=ignore]\tpam_unix.so try_first_pass",
        ),
        (
            "nodeguard-unix",
            "/usr/share/pam-configs/nodeguard-unix line 8",
            None,
            "\t[success=end default=ignore]\tpam_unix.so",
        ),
    ]
    assert [a.key for a in found["cis.pam.unix"].actions] == ["pam:stacks"]


# -- fixing --------------------------------------------------------------------------------------


def test_check_mode_reports_drift_and_changes_nothing(fresh):
    before = fresh.snapshot()
    module, fake = scripted(fresh, CIS, HARDENED, check_mode=True)
    result = run(fresh, module)
    found = statuses(result)
    assert {cid for cid, status in found.items() if status == "drift"} == {
        *FRESH_STACK_CONTROLS,
        "cis.pam.faillock_deny",
        "cis.pam.faillock_unlock_time",
        "cis.pam.pwquality_minlen",
    }
    assert {cid for cid, status in found.items() if status == "pass"} == {
        "cis.pam.pwquality",
        "cis.pam.unix_no_remember",
        "cis.pam.unix_hash",
        "cis.pam.unix_use_authtok",
    }
    assert result["actions"] == [
        REBUILD,
        "write /etc/security/faillock.conf",
        "write /etc/security/pwquality.conf",
    ]
    assert fresh.snapshot() == before and module.calls == [] and fake.calls == []


def test_the_stacks_action_writes_profiles_and_runs_pam_auth_update(fresh):
    module, fake = scripted(fresh, CIS, HARDENED)
    action = stacks_action(inspect(fresh, CIS, module))
    action.run()
    assert fake.calls == [PAM_AUTH_UPDATE]
    # its saved copy of the last stacks was gone when it ran, so it merged no hand edits back in
    assert fake.saved_at_call == [[]]
    assert fresh.read("/var/lib/pam/seen") == "systemd\n" + "".join(f"{name}\n" for name in PROFILES)
    assert fresh.read(pr.path(pr.UNIX)) == NODEGUARD_UNIX
    assert fresh.read(pr.path(pr.FAILLOCK)) == pr.faillock()
    assert fresh.read(pr.path(pr.FAILLOCK_AUTHFAIL)) == pr.faillock_authfail()
    assert "\trequisite\t\t\tpam_pwhistory.so remember=24 enforce_for_root try_first_pass use_authtok\n" in fresh.read(
        pr.path(pr.PWHISTORY)
    )
    assert fresh.read(pr.path("unix")) == DEBIAN_UNIX  # Debian's own profile is disabled, not changed
    # a second look at the node finds the stacks as the controls want them
    again = inspect(fresh, CIS)
    assert all(not finding.differences for cid, finding in again.items() if cid in FRESH_STACK_CONTROLS)


def test_without_unix_controls_debian_unix_profile_stays_enabled(fresh):
    module, fake = scripted(fresh, [FAILLOCK], HARDENED)
    action = stacks_action(inspect(fresh, [FAILLOCK], module))
    action.run()
    assert fake.calls == [
        ["/usr/sbin/pam-auth-update", "--enable", "nodeguard-faillock", "nodeguard-faillock-authfail", "--force"]
    ]
    assert fresh.read(pr.path(pr.UNIX)) is None


def test_a_full_run_fixes_every_control(fresh):
    module, fake = scripted(fresh, CIS, HARDENED)
    result = run(fresh, module)
    found = statuses(result)
    assert {cid for cid, status in found.items() if status == "fixed"} == {
        *FRESH_STACK_CONTROLS,
        "cis.pam.faillock_deny",
        "cis.pam.faillock_unlock_time",
        "cis.pam.pwquality_minlen",
    }
    assert set(found.values()) == {"fixed", "pass"}
    assert fake.calls == [PAM_AUTH_UPDATE]
    assert fresh.read(st.FAILLOCK_CONF) == FAILLOCK_CONF + "deny = 5\nunlock_time = 900\n"
    assert fresh.read(st.PWQUALITY_CONF) == PWQUALITY_CONF + "minlen = 14\n"
    module, fake = scripted(fresh, CIS, HARDENED)
    again = run(fresh, module)
    assert set(statuses(again).values()) == {"pass"} and again["changed"] is False and fake.calls == []


def test_stacks_naming_a_missing_module_fail_and_put_everything_back(fresh):
    broken = dict(HARDENED, auth=HARDENED["auth"].replace("pam_faillock.so preauth", "pam_faillock_v2.so preauth"))
    before = fresh.snapshot()
    module, fake = scripted(fresh, CIS, broken)
    action = stacks_action(inspect(fresh, CIS, module))
    with pytest.raises(
        CommandError, match=r"the new PAM stacks name modules that are not installed: pam_faillock_v2\.so"
    ):
        action.run()
    assert fake.calls == [PAM_AUTH_UPDATE]
    # run() undid its own part before raising: the engine undoes only the actions that completed.
    assert fresh.snapshot() == before
    for name in ("nodeguard-unix", "nodeguard-faillock", "nodeguard-faillock-authfail", "nodeguard-pwhistory"):
        assert not fresh.file(pr.path(name)).exists()
    assert fresh.read("/var/lib/pam/seen") == SEEN
    assert {kind: fresh.read(f"/var/lib/pam/{kind}") for kind in SAVED_STACKS} == SAVED_STACKS


def test_a_failed_rebuild_leaves_the_node_as_it_was(fresh):
    broken = dict(HARDENED, auth=HARDENED["auth"].replace("pam_faillock.so preauth", "pam_faillock_v2.so preauth"))
    before = fresh.snapshot()
    module, _fake = scripted(fresh, CIS, broken)
    with pytest.raises(engine.ApplyError, match=r"pam_faillock_v2\.so"):
        run(fresh, module)
    assert fresh.read(sk.COMMON["auth"]) == FRESH["auth"]
    assert fresh.snapshot() == before


def test_sudo_that_worked_before_and_fails_after_fails_the_stacks(fresh, monkeypatch):
    monkeypatch.setenv("SUDO_USER", "ansible")
    module, fake = scripted(fresh, [FAILLOCK], HARDENED)
    answers = iter([0, 1])
    sudo_calls = []

    def runuser(argv):
        sudo_calls.append(argv)
        return next(answers), "", ""

    module.commands["runuser"] = runuser
    action = stacks_action(inspect(fresh, [FAILLOCK], module))
    with pytest.raises(CommandError, match=r"sudo -n true as ansible worked before the new PAM stacks and fails"):
        action.run()
    assert sudo_calls == [["/usr/sbin/runuser", "-u", "ansible", "--", "/usr/sbin/sudo", "-n", "true"]] * 2
    assert len(fake.calls) == 1


# -- dictcheck -----------------------------------------------------------------------------------

DICTCHECK = pam("cis.pam.pwquality_dictcheck", {"pwquality": {"dictcheck": 1}})


def test_dictcheck_without_a_cracklib_dictionary_builds_it(hardened):
    hardened.write(st.PWQUALITY_CONF, PWQUALITY_CONF + "dictcheck = 1\n")
    module = FakeModule([DICTCHECK])
    found = inspect(hardened, [DICTCHECK], module)["cis.pam.pwquality_dictcheck"]
    assert triples(found) == [("cracklib dictionary", "/var/cache/cracklib/cracklib_dict.pwd", "present", None)]
    assert found.actual["dictionary"] is None and found.unfixable is None
    assert [(a.key, a.what) for a in found.actions] == [
        ("pam:cracklib", "build the cracklib dictionary (/usr/sbin/update-cracklib)")
    ]

    def update_cracklib(argv):
        for suffix in (".pwd", ".pwi", ".hwm"):
            hardened.write(f"/var/cache/cracklib/cracklib_dict{suffix}", "")
        return 0, "", ""

    module.commands["update-cracklib"] = update_cracklib
    found.actions[0].run()
    assert module.calls == [["/usr/sbin/update-cracklib"]]
    again = inspect(hardened, [DICTCHECK])["cis.pam.pwquality_dictcheck"]
    assert again.differences == [] and again.actual["dictionary"] == "/var/cache/cracklib/cracklib_dict.pwd"
    found.actions[0].undo()
    assert not hardened.file("/var/cache/cracklib/cracklib_dict.pwi").exists()


def test_dictcheck_with_a_dictpath_of_its_own_is_not_built(hardened):
    hardened.write(st.PWQUALITY_CONF, "dictcheck = 1\ndictpath = /srv/words/dict\n")
    found = inspect(hardened, [DICTCHECK])["cis.pam.pwquality_dictcheck"]
    assert triples(found) == [("cracklib dictionary", "/srv/words/dict.pwd", "present", None)]
    assert found.unfixable.startswith("no cracklib dictionary at /srv/words/dict.pwd, so every new password")
    hardened.write("/srv/words/dict.pwd", "")
    assert inspect(hardened, [DICTCHECK])["cis.pam.pwquality_dictcheck"].differences == []


def test_dictcheck_without_update_cracklib_is_unfixable(hardened):
    hardened.write(st.PWQUALITY_CONF, "dictcheck = 1\n")
    module = BinsModule([DICTCHECK])
    module.bins["update-cracklib"] = None
    found = inspect(hardened, [DICTCHECK], module)["cis.pam.pwquality_dictcheck"]
    assert "install cracklib-runtime (cis.pam.pwquality_installed)" in found.unfixable
    assert found.actions == []


def test_settings_parse_reads_a_blank_separated_value():
    assert st.parse("f", "deny 3\n") == [st.Setting("f", 1, "deny", "3")]
    assert st.parse("f", "deny=3\n") == [st.Setting("f", 1, "deny", "3")]
    pwquality = "/etc/security/pwquality.conf"
    assert st.parse(pwquality, "minlen 14\n") == [st.Setting(pwquality, 1, "minlen", "14")]


def test_a_glued_pwquality_line_is_unreadable_and_rewritten():
    """libpwquality ends a key at a blank: minlen=14 is an unknown setting where reading stops."""
    path = "/etc/security/pwquality.conf"
    (glued,) = st.parse(path, "minlen=14\n")
    assert glued.key == "minlen" and not glued.readable and not st.same(glued, 14)
    assert st.rewrite(path, "minlen=14\n", {"minlen": 14}) == "minlen = 14\n"
