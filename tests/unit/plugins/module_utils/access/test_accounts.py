# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import os
import stat

import pytest

from ansible_collections.nodeguard.hardening.plugins.module_utils._access import accounts
from ansible_collections.nodeguard.hardening.plugins.module_utils._controls import ControlInputError
from ansible_collections.nodeguard.hardening.plugins.module_utils._system import engine

from ..system.conftest import FakeModule, Tree, control

# Owners are set and checked: only root can give files to other users.
pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the fake node's homes belong to several users")

TODAY = 19700  # 2023-12-09
PASSWD = [
    "root:x:0:0:root:/root:/bin/bash",
    "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin",
    "sync:x:4:65534:sync:/bin:/bin/sync",
    "_apt:x:42:65534::/nonexistent:/usr/sbin/nologin",
    "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin",
    "ops:x:1000:1000:Ops:/home/ops:/bin/bash",
    "alice:x:1001:1001:Alice:/home/alice:/bin/bash",
]
SHADOW = [
    "root:$y$j9T$rootsalt$roothash:19000:0:99999:7:::",
    "daemon:*:19000:0:99999:7:::",
    "sync:*:19000:0:99999:7:::",
    "_apt:!:19000::::::",
    "nobody:*:19000:0:99999:7:::",
    "ops:!:19000:0:99999:7:::",
    "alice:$y$j9T$alicesalt$alicehash:19500:0:365:7:::",
]
GROUP = ["root:x:0:", "daemon:x:1:", "shadow:x:42:", "nogroup:x:65534:", "ops:x:1000:", "alice:x:1001:"]
SHELLS = "# /etc/shells: valid login shells\n/bin/sh\n/usr/bin/sh\n/bin/bash\n/usr/bin/bash\n"
LOGIN_DEFS = "UID_MIN\t\t\t 1000\nENV_SUPATH\tPATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n"
ROOT_BASHRC = "# ~/.bashrc: executed by bash(1) for non-login shells.\n# umask 022\nexport LS_OPTIONS='--color=auto'\n"
# path -> (mode, uid, gid) of the homes and dot files
HOME_FILES = {
    "/home/ops": (0o750, 1000, 1000),
    "/home/ops/.bashrc": (0o644, 1000, 1000),
    "/home/alice": (0o700, 1001, 1001),
    "/home/alice/.bashrc": (0o644, 1001, 1001),
    "/home/alice/.profile": (0o644, 1001, 1001),
    "/home/alice/.bash_history": (0o600, 1001, 1001),
}
ALL_CHECKS = list(accounts.CHECKS)


def lines(items):
    return "".join(f"{line}\n" for line in items)


@pytest.fixture(autouse=True)
def fixed_session(monkeypatch):
    """Today is fixed, and no sudo caller: each test says who is protected."""
    monkeypatch.setattr(accounts, "today", lambda: TODAY)
    monkeypatch.delenv("SUDO_USER", raising=False)


@pytest.fixture
def tree(tmp_path):
    tree = Tree(tmp_path)
    tree.write("/etc/passwd", lines(PASSWD))
    tree.write("/etc/shadow", lines(SHADOW), mode=0o640)
    tree.write("/etc/group", lines(GROUP))
    tree.write("/etc/gshadow", "".join(f"{g.split(':', maxsplit=1)[0]}:*::\n" for g in GROUP), mode=0o640)
    tree.write("/etc/shells", SHELLS)
    tree.write("/etc/login.defs", LOGIN_DEFS)
    tree.write("/root/.bashrc", ROOT_BASHRC)
    tree.write("/root/.profile", 'if [ "$BASH" ]; then\n  . ~/.bashrc\nfi\n')
    os.chmod(tree.file("/root"), 0o700)
    for folder in ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin"):
        tree.file(folder).mkdir(parents=True, exist_ok=True)
        os.chmod(tree.file(folder), 0o755)
    tree.file("/sbin").symlink_to("usr/sbin")
    tree.file("/bin").symlink_to("usr/bin")
    for path, (mode, uid, gid) in HOME_FILES.items():
        target = tree.file(path)
        if path.count("/") == 2:
            target.mkdir(parents=True)
        else:
            target.write_text("# dot file\n")
        os.chown(target, uid, gid)
        os.chmod(target, mode)
    return tree


class FakeTools:
    """usermod, passwd, gpasswd, chage and pwconv editing the fake node's files as the real ones do.

    C(fail) makes every call whose argv contains it fail."""

    def __init__(self, tree: Tree, fail: str | None = None) -> None:
        self.tree = tree
        self.fail = fail

    def register(self, module: FakeModule) -> None:
        for name in ("usermod", "passwd", "gpasswd", "chage", "pwconv"):
            module.commands[name] = self.call

    def call(self, argv):
        if self.fail and self.fail in " ".join(argv):
            return 1, "", f"{os.path.basename(argv[0])}: cannot lock /etc/passwd; try again later."
        getattr(self, os.path.basename(argv[0]))(argv[1:])
        return 0, "", ""

    def edit(self, path, name, index, change):
        text = self.tree.read(path)
        out = []
        for line in text.splitlines():
            fields = line.split(":")
            if fields[0] == name:
                fields[index] = change(fields[index])
            out.append(":".join(fields))
        self.tree.write(path, lines(out), mode=stat.S_IMODE(os.stat(self.tree.file(path)).st_mode))

    def usermod(self, args):
        option, name = args[0], args[-1]
        if option == "-s":
            self.edit("/etc/passwd", name, 6, lambda value: args[1])
        elif option == "-L":
            self.edit("/etc/shadow", name, 1, lambda value: value if value.startswith("!") else "!" + value)
        elif option == "-U":
            self.edit("/etc/shadow", name, 1, lambda value: value[1:] if value.startswith("!") else value)

    def passwd(self, args):
        assert args[0] == "-d"
        self.edit("/etc/shadow", args[1], 1, lambda value: "")

    def gpasswd(self, args):
        option, member, group = args

        def change(value):
            members = [m for m in value.split(",") if m and m != member]
            return ",".join([*members, member] if option == "-a" else members)

        self.edit("/etc/group", group, 3, change)

    def chage(self, args):
        name = args[-1]
        pairs = dict(zip(args[:-1:2], args[1:-1:2]))
        for option, index in (("--maxdays", 4), ("--warndays", 5)):
            if option in pairs:
                value = "" if pairs[option] == "-1" else pairs[option]
                self.edit("/etc/shadow", name, index, lambda old, value=value: value)

    def pwconv(self, args):
        shadow = self.tree.read("/etc/shadow")
        users = []
        for line in self.tree.read("/etc/passwd").splitlines():
            fields = line.split(":")
            if fields[1] != "x":
                shadow = "".join(
                    f"{fields[0]}:{fields[1]}:{s.split(':', 2)[2]}\n" if s.split(":")[0] == fields[0] else f"{s}\n"
                    for s in shadow.splitlines()
                )
                fields[1] = "x"
            users.append(":".join(fields))
        self.tree.write("/etc/passwd", lines(users))
        self.tree.write("/etc/shadow", shadow, mode=0o640)


def check(name, cid=None, **options):
    return control(cid or f"cis.accounts.{name}", "accounts", {"check": name, **options})


def run(tree, controls, *, check_mode=False, fail=None, module_params=None):
    module = FakeModule(controls, check_mode=check_mode)
    module.params.update(module_params or {})
    FakeTools(tree, fail).register(module)
    return module, engine.run(module, tree.node(module), [accounts.Accounts()])


def statuses(result):
    return [(r["id"], r["status"]) for r in result["controls"]]


def found(result, index=0):
    return [(d["item"], d["where"], d["expected"], d["actual"]) for d in result["controls"][index]["differences"]]


def replace(tree, path, old, new):
    text = tree.read(path)
    assert old in text, (old, text)
    mode = stat.S_IMODE(os.stat(tree.file(path)).st_mode)
    tree.write(path, text.replace(old, new, 1), mode=mode)


def append(tree, path, line):
    mode = stat.S_IMODE(os.stat(tree.file(path)).st_mode)
    tree.write(path, tree.read(path) + line + "\n", mode=mode)


def attrs(tree, path):
    info = os.lstat(tree.file(path))
    return stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid


# -- the clean node -----------------------------------------------------------------------------


def test_a_clean_node_passes_every_check_and_nothing_runs(tree):
    before = tree.snapshot()
    controls = [
        check(name, **({"max_days": 365, "warn_days": 7} if name == "ageing_existing_users" else {}))
        for name in ALL_CHECKS
    ]
    module, result = run(tree, controls)
    assert statuses(result) == [(f"cis.accounts.{name}", "pass") for name in ALL_CHECKS]
    assert module.calls == [] and result["changed"] is False
    assert tree.snapshot() == before


# -- checks that only report: a person decides ------------------------------------------------

REPORTED = [
    (
        "uid0_only_root",
        lambda tree: append(tree, "/etc/passwd", "toor:x:0:0::/root:/bin/bash"),
        [("toor", "/etc/passwd line 8", "a UID other than 0", "UID 0")],
        "has every power of root",
    ),
    (
        "gid0_only_root",
        lambda tree: replace(tree, "/etc/passwd", "alice:x:1001:1001", "alice:x:1001:0"),
        [("alice", "/etc/passwd line 7", "a primary group other than GID 0", "GID 0")],
        "usermod -g",
    ),
    (
        "group0_only_root",
        lambda tree: append(tree, "/etc/group", "wheel:x:0:alice"),
        [("wheel", "/etc/group line 7", "a GID other than 0", "GID 0")],
        "groupmod -g",
    ),
    (
        "root_access_controlled",
        lambda tree: replace(tree, "/etc/shadow", "root:$y$j9T$rootsalt$roothash:", "root::"),
        [("root", "/etc/shadow line 1", "a password or a lock (passwd -S: P or L)", "no password (NP)")],
        "passwd root",
    ),
    (
        "no_empty_passwords",
        lambda tree: replace(tree, "/etc/shadow", "alice:$y$j9T$alicesalt$alicehash:", "alice::"),
        [("alice", "/etc/shadow line 7", "a password or a lock", "empty")],
        "a person decides",
    ),
    (
        "groups_exist",
        lambda tree: replace(tree, "/etc/passwd", "alice:x:1001:1001", "alice:x:1001:2000"),
        [("alice", "/etc/passwd line 7", "a GID of /etc/group", "GID 2000")],
        "groupadd",
    ),
    (
        "unique_uids",
        lambda tree: append(tree, "/etc/passwd", "bob:x:1001:1001::/home/bob:/bin/bash"),
        [
            ("alice", "/etc/passwd line 7", "a UID of its own", "UID 1001, as bob (/etc/passwd line 8)"),
            ("bob", "/etc/passwd line 8", "a UID of its own", "UID 1001, as alice (/etc/passwd line 7)"),
        ],
        "usermod -u",
    ),
    (
        "unique_gids",
        lambda tree: append(tree, "/etc/group", "staff:x:1001:"),
        [
            ("alice", "/etc/group line 6", "a GID of its own", "GID 1001, as staff (/etc/group line 7)"),
            ("staff", "/etc/group line 7", "a GID of its own", "GID 1001, as alice (/etc/group line 6)"),
        ],
        "groupmod -g",
    ),
    (
        "unique_user_names",
        lambda tree: append(tree, "/etc/passwd", "alice:x:1005:1001::/home/alice2:/bin/sh"),
        [
            ("alice", "/etc/passwd line 7", "a name of its own", "name alice, as alice (/etc/passwd line 8)"),
            ("alice", "/etc/passwd line 8", "a name of its own", "name alice, as alice (/etc/passwd line 7)"),
        ],
        "merges or renames",
    ),
    (
        "unique_group_names",
        lambda tree: append(tree, "/etc/group", "ops:x:1005:"),
        [
            ("ops", "/etc/group line 5", "a name of its own", "name ops, as ops (/etc/group line 7)"),
            ("ops", "/etc/group line 7", "a name of its own", "name ops, as ops (/etc/group line 5)"),
        ],
        "merges or renames",
    ),
    (
        "password_change_in_past",
        lambda tree: replace(tree, "/etc/shadow", "alicehash:19500:", "alicehash:20000:"),
        [("alice", "/etc/shadow line 7", "a day up to today (2023-12-09)", "2024-10-04")],
        "chage -d",
    ),
]


@pytest.mark.parametrize(("name", "tamper", "differences", "advice"), REPORTED, ids=[case[0] for case in REPORTED])
def test_findings_a_person_decides_are_drift_then_error_and_never_changed(tree, name, tamper, differences, advice):
    tamper(tree)
    before = tree.snapshot()
    module, drift = run(tree, [check(name)], check_mode=True)
    assert statuses(drift) == [(f"cis.accounts.{name}", "drift")]
    assert found(drift) == differences
    module, error = run(tree, [check(name)])
    assert statuses(error) == [(f"cis.accounts.{name}", "error")]
    assert advice in error["controls"][0]["reason"]
    assert module.calls == [] and tree.snapshot() == before


@pytest.mark.parametrize(
    ("name", "tamper"),
    [
        ("gid0_only_root", lambda tree: append(tree, "/etc/passwd", "operator:x:37:0::/:/usr/sbin/nologin")),
        (
            "root_access_controlled",
            lambda tree: replace(tree, "/etc/shadow", "root:$y$j9T$rootsalt$roothash:", "root:*:"),
        ),
        (
            "root_access_controlled",
            lambda tree: replace(tree, "/etc/shadow", "root:$y$j9T$rootsalt$roothash:", "root:!$y$:"),
        ),
        ("password_change_in_past", lambda tree: replace(tree, "/etc/shadow", "alicehash:19500:", "alicehash:19700:")),
        ("password_change_in_past", lambda tree: replace(tree, "/etc/shadow", "alicehash:19500:", "alicehash::")),
        ("shadow_group_empty", lambda tree: replace(tree, "/etc/group", "shadow:x:42:", "shadowed:x:42:")),
    ],
    ids=[
        "operator-may-have-gid-0",
        "root-locked-star",
        "root-locked-bang",
        "changed-today",
        "no-date",
        "no-shadow-group",
    ],
)
def test_allowed_states_pass(tree, name, tamper):
    tamper(tree)
    _unused, result = run(tree, [check(name)], check_mode=True)
    assert statuses(result) == [(f"cis.accounts.{name}", "pass")]


def test_malformed_lines_are_named_in_the_details(tree):
    append(tree, "/etc/passwd", "broken:x:1002")
    _unused, result = run(tree, [check("unique_uids")], check_mode=True)
    assert result["controls"][0]["details"]["malformed lines, not judged"] == [
        "/etc/passwd line 8: 3 fields instead of 7"
    ]


def test_a_node_without_passwd_is_skipped(tree):
    tree.file("/etc/passwd").unlink()
    _unused, result = run(tree, [check("uid0_only_root")], check_mode=True)
    assert statuses(result) == [("cis.accounts.uid0_only_root", "skipped")]


# -- checks that fix: one command per account, undone on failure -------------------------------

FIXED = [
    (
        "system_accounts_nologin",
        lambda tree: replace(tree, "/etc/passwd", "daemon:/usr/sbin:/usr/sbin/nologin", "daemon:/usr/sbin:/bin/bash"),
        [("daemon", "/etc/passwd line 2", "no login shell (/usr/sbin/nologin)", "/bin/bash")],
        [["/usr/sbin/usermod", "-s", "/usr/sbin/nologin", "daemon"]],
    ),
    (
        "system_accounts_nologin",
        lambda tree: replace(tree, "/etc/passwd", "nobody:/nonexistent:/usr/sbin/nologin", "nobody:/nonexistent:"),
        [("nobody", "/etc/passwd line 5", "no login shell (/usr/sbin/nologin)", "/bin/sh")],
        [["/usr/sbin/usermod", "-s", "/usr/sbin/nologin", "nobody"]],
    ),
    (
        "nologin_accounts_locked",
        lambda tree: replace(tree, "/etc/shadow", "_apt:!:", "_apt:$y$j9T$s$h:"),
        [("_apt", "/etc/shadow line 4", "locked (passwd -S: L)", "P, shell /usr/sbin/nologin")],
        [["/usr/sbin/usermod", "-L", "_apt"]],
    ),
    (
        "nologin_accounts_locked",
        lambda tree: replace(tree, "/etc/shadow", "sync:*:", "sync::"),
        [("sync", "/etc/shadow line 3", "locked (passwd -S: L)", "NP, shell /bin/sync")],
        [["/usr/sbin/usermod", "-L", "sync"]],
    ),
    (
        "shadowed_passwords",
        lambda tree: replace(tree, "/etc/passwd", "alice:x:", "alice:$y$j9T$alicesalt$alicehash:"),
        [("alice", "/etc/passwd line 7", "x (the password in /etc/shadow)", "a password hash")],
        [["/usr/sbin/pwconv"]],
    ),
    (
        "shadow_group_empty",
        lambda tree: replace(tree, "/etc/group", "shadow:x:42:", "shadow:x:42:alice"),
        [("alice", "/etc/group line 3", "not a member of shadow", "member")],
        [["/usr/sbin/gpasswd", "-d", "alice", "shadow"]],
    ),
]


@pytest.mark.parametrize(("name", "tamper", "differences", "argv"), FIXED, ids=[f"{c[0]}-{c[3][0][-1]}" for c in FIXED])
def test_fixable_findings_are_fixed_by_one_command_each_and_stay_fixed(tree, name, tamper, differences, argv):
    tamper(tree)
    before = tree.snapshot()
    module, drift = run(tree, [check(name)], check_mode=True)
    assert statuses(drift) == [(f"cis.accounts.{name}", "drift")]
    assert found(drift) == differences
    assert module.calls == [] and tree.snapshot() == before
    module, fixed = run(tree, [check(name)])
    assert statuses(fixed) == [(f"cis.accounts.{name}", "fixed")]
    assert found(fixed) == differences
    assert module.calls == argv
    module, again = run(tree, [check(name)])
    assert statuses(again) == [(f"cis.accounts.{name}", "pass")] and module.calls == []


def test_shadowed_passwords_never_show_a_hash(tree):
    replace(tree, "/etc/passwd", "alice:x:", "alice:$y$j9T$alicesalt$alicehash:")
    _unused, result = run(tree, [check("shadowed_passwords")])
    assert "alicehash" not in repr(result)
    assert "alice:x:" in tree.read("/etc/passwd") and "alice:$y$j9T$alicesalt$alicehash:19500" in tree.read(
        "/etc/shadow"
    )


def test_a_shell_taken_away_is_locked_in_the_same_run(tree):
    replace(
        tree, "/etc/passwd", "_apt:x:42:65534::/nonexistent:/usr/sbin/nologin", "_apt:x:42:65534::/nonexistent:/bin/sh"
    )
    replace(tree, "/etc/shadow", "_apt:!:", "_apt:$y$j9T$s$h:")
    controls = [check("nologin_accounts_locked"), check("system_accounts_nologin")]
    module, drift = run(tree, controls, check_mode=True)
    assert statuses(drift) == [
        ("cis.accounts.nologin_accounts_locked", "drift"),
        ("cis.accounts.system_accounts_nologin", "drift"),
    ]
    assert found(drift) == [("_apt", "/etc/shadow line 4", "locked (passwd -S: L)", "P, shell /usr/sbin/nologin")]
    module, fixed = run(tree, controls)
    assert statuses(fixed) == [
        ("cis.accounts.nologin_accounts_locked", "fixed"),
        ("cis.accounts.system_accounts_nologin", "fixed"),
    ]
    assert module.calls == [
        ["/usr/sbin/usermod", "-s", "/usr/sbin/nologin", "_apt"],
        ["/usr/sbin/usermod", "-L", "_apt"],
    ]


def test_a_failed_command_undoes_the_earlier_ones(tree):
    replace(tree, "/etc/shadow", "_apt:!:", "_apt:$y$j9T$s$h:")
    replace(tree, "/etc/shadow", "sync:*:", "sync::")
    replace(tree, "/etc/passwd", "daemon:/usr/sbin:/usr/sbin/nologin", "daemon:/usr/sbin:/bin/bash")
    before = tree.snapshot()
    controls = [check("system_accounts_nologin"), check("nologin_accounts_locked")]
    module = FakeModule(controls)
    FakeTools(tree, fail="-L _apt").register(module)
    with pytest.raises(engine.ApplyError, match=r"lock the password of _apt failed.*undid 2 earlier change"):
        engine.run(module, tree.node(module), [accounts.Accounts()])
    assert module.calls == [
        ["/usr/sbin/usermod", "-s", "/usr/sbin/nologin", "daemon"],
        ["/usr/sbin/usermod", "-L", "sync"],
        ["/usr/sbin/usermod", "-L", "_apt"],
        ["/usr/sbin/passwd", "-d", "sync"],
        ["/usr/sbin/usermod", "-s", "/bin/bash", "daemon"],
    ]
    assert tree.snapshot() == before


@pytest.mark.parametrize(
    ("name", "tamper", "undo"),
    [
        (
            "nologin_accounts_locked",
            lambda tree: replace(tree, "/etc/shadow", "sync:*:", "sync::"),
            ["/usr/sbin/passwd", "-d", "sync"],
        ),
        (
            "shadow_group_empty",
            lambda tree: replace(tree, "/etc/group", "shadow:x:42:", "shadow:x:42:alice"),
            ["/usr/sbin/gpasswd", "-a", "alice", "shadow"],
        ),
        (
            "system_accounts_nologin",
            lambda tree: replace(tree, "/etc/passwd", "nobody:/nonexistent:/usr/sbin/nologin", "nobody:/nonexistent:"),
            ["/usr/sbin/usermod", "-s", "", "nobody"],
        ),
    ],
    ids=["empty-password-back", "member-back", "empty-shell-back"],
)
def test_undo_gives_back_what_was_there(tree, name, tamper, undo):
    tamper(tree)
    before = tree.snapshot()
    controls = [check(name), check("uid0_only_root")]
    module = FakeModule(controls)
    FakeTools(tree).register(module)
    node = tree.node(module)
    finding = accounts.Accounts().inspect(
        node, [(c, accounts.Accounts().validate(node, c, c["spec"])) for c in controls]
    )
    action = finding[f"cis.accounts.{name}"].actions[0]
    action.run()
    assert tree.snapshot() != before
    action.undo()
    assert module.calls[-1] == undo
    assert tree.snapshot() == before


def test_mode_and_owner_changes_are_undone_when_a_later_change_fails(tree):
    os.chmod(tree.file("/home/alice"), 0o775)
    os.chown(tree.file("/home/alice"), 1000, 1000)
    os.chmod(tree.file("/home/alice/.bashrc"), 0o666)
    replace(tree, "/etc/shadow", "_apt:!:", "_apt:$y$j9T$s$h:")
    before = tree.snapshot()
    controls = [check("home_directories"), check("dot_files"), check("nologin_accounts_locked")]
    module = FakeModule(controls)
    FakeTools(tree, fail="-L _apt").register(module)
    with pytest.raises(engine.ApplyError, match="undid 2 earlier change"):
        engine.run(module, tree.node(module), [accounts.Accounts()])
    assert tree.snapshot() == before
    assert attrs(tree, "/home/alice") == (0o775, 1000, 1000)
    assert attrs(tree, "/home/alice/.bashrc") == (0o666, 1001, 1001)


def test_pwconv_is_undone_by_putting_the_files_back(tree):
    replace(tree, "/etc/passwd", "alice:x:", "alice:$y$j9T$alicesalt$alicehash:")
    os.chown(tree.file("/etc/shadow"), 0, 42)
    before, owner = tree.snapshot(), attrs(tree, "/etc/shadow")
    module = FakeModule([])
    FakeTools(tree).register(module)
    node = tree.node(module)
    spec = accounts.Accounts().validate(node, check("shadowed_passwords"), {"check": "shadowed_passwords"})
    action = (
        accounts.Accounts()
        .inspect(node, [(check("shadowed_passwords"), spec)])["cis.accounts.shadowed_passwords"]
        .actions[0]
    )
    action.run()
    assert tree.snapshot() != before
    action.undo()
    assert tree.snapshot() == before and attrs(tree, "/etc/shadow") == owner


def test_primary_group_shadow_is_reported_members_are_removed(tree):
    replace(tree, "/etc/group", "shadow:x:42:", "shadow:x:42:alice")
    append(tree, "/etc/passwd", "reader:x:1002:42::/home/reader:/usr/sbin/nologin")
    module, result = run(tree, [check("shadow_group_empty")])
    assert statuses(result) == [("cis.accounts.shadow_group_empty", "error")]
    assert module.calls == [["/usr/sbin/gpasswd", "-d", "alice", "shadow"]]
    assert found(result) == [("reader", "/etc/passwd line 8", "a primary group other than shadow", "shadow")]
    assert "shadow:x:42:\n" in tree.read("/etc/group")


# -- lockout safety: protected accounts are reported, never changed ---------------------------


@pytest.mark.parametrize(
    ("how", "params", "env"),
    [("spec", {"protect": ["ops"]}, None), ("module", None, None), ("sudo", None, "ops")],
    ids=["spec-protect", "module-protect", "sudo-caller"],
)
def test_protected_accounts_are_reported_and_never_changed(tree, monkeypatch, how, params, env):
    if env:
        monkeypatch.setenv("SUDO_USER", env)
    replace(tree, "/etc/group", "shadow:x:42:", "shadow:x:42:ops,alice")
    os.chown(tree.file("/home/ops"), 0, 0)
    os.chmod(tree.file("/home/alice"), 0o755)
    controls = [check("shadow_group_empty", **(params or {})), check("home_directories", **(params or {}))]
    module, result = run(tree, controls, module_params={"protect": "ops"} if how == "module" else None)
    # alice is fixed; ops stays as it was and the controls say why
    assert module.calls == [["/usr/sbin/gpasswd", "-d", "alice", "shadow"]]
    assert "shadow:x:42:ops\n" in tree.read("/etc/group")
    assert attrs(tree, "/home/ops")[1] == 0 and attrs(tree, "/home/alice")[0] == 0o750
    assert statuses(result) == [
        ("cis.accounts.shadow_group_empty", "error"),
        ("cis.accounts.home_directories", "error"),
    ]
    for entry in result["controls"]:
        assert entry["details"]["protected, reported and never changed"] == ["ops"]
        assert "still differs" in entry["reason"] and "ops" in entry["reason"]


PROTECTED_CASES = [
    (
        "system_accounts_nologin",
        ["daemon"],
        lambda tree: replace(tree, "/etc/passwd", "daemon:/usr/sbin:/usr/sbin/nologin", "daemon:/usr/sbin:/bin/bash"),
    ),
    ("dot_files", ["alice"], lambda tree: os.chown(tree.file("/home/alice/.bashrc"), 0, 0)),
    (
        "dot_files",
        ["alice"],
        lambda tree: (
            tree.file("/home/alice/.rhosts").write_text("+ +\n"),
            os.chown(tree.file("/home/alice/.rhosts"), 1001, 1001),
        ),
    ),
    (
        "ageing_existing_users",
        ["alice"],
        lambda tree: replace(tree, "/etc/shadow", "19500:0:365:7:", "19500:0:99999:7:"),
    ),
    ("home_directories", ["alice"], lambda tree: os.chown(tree.file("/home/alice"), 0, 0)),
]


@pytest.mark.parametrize(
    ("name", "protect", "tamper"), PROTECTED_CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(PROTECTED_CASES)]
)
def test_protected_accounts_are_never_changed_by_any_check(tree, name, protect, tamper):
    tamper(tree)
    before = tree.snapshot()
    options = {"remove_forward_rhosts": True} if name == "dot_files" else {}
    options.update(AGEING if name == "ageing_existing_users" else {})
    module, result = run(tree, [check(name, protect=protect, **options)])
    assert statuses(result) == [(f"cis.accounts.{name}", "error")]
    assert result["controls"][0]["details"]["protected, reported and never changed"] == protect
    assert module.calls == [] and result["changed"] is False
    assert tree.snapshot() == before
    assert attrs(tree, "/home/alice")[1:] == ((0, 0) if name == "home_directories" else (1001, 1001))


def test_only_protected_differences_make_an_error_that_says_why(tree):
    replace(tree, "/etc/shadow", "ops:!:", "ops:$y$j9T$s$h:")
    replace(
        tree,
        "/etc/passwd",
        "ops:x:1000:1000:Ops:/home/ops:/bin/bash",
        "ops:x:1000:1000:Ops:/home/ops:/usr/sbin/nologin",
    )
    module, result = run(tree, [check("nologin_accounts_locked", protect=["ops"])])
    assert statuses(result) == [("cis.accounts.nologin_accounts_locked", "error")]
    assert "protected (the account Ansible connects with" in result["controls"][0]["reason"]
    assert module.calls == []


def test_pwconv_is_not_run_when_a_protected_account_would_be_rewritten(tree):
    replace(tree, "/etc/passwd", "ops:x:", "ops:$y$j9T$opssalt$opshash:")
    module, result = run(tree, [check("shadowed_passwords", protect=["ops"])])
    assert statuses(result) == [("cis.accounts.shadowed_passwords", "error")]
    assert "run pwconv by hand" in result["controls"][0]["reason"]
    assert module.calls == []


def test_the_account_the_module_runs_as_is_protected(tree, monkeypatch):
    monkeypatch.setattr(os, "getuid", lambda: 1001)
    os.chown(tree.file("/home/alice"), 0, 0)
    module, result = run(tree, [check("home_directories")])
    assert result["controls"][0]["details"]["protected, reported and never changed"] == ["alice"]
    assert attrs(tree, "/home/alice")[1] == 0 and module.calls == []


@pytest.mark.parametrize("path", ["/home/alice", "/home/alice/.bashrc"])
def test_a_protected_accounts_modes_are_still_narrowed(tree, path):
    """Taking group and other bits off a home or a dot file locks nobody out."""
    os.chmod(tree.file(path), 0o777 if path.endswith("rc") else 0o755)
    name = "dot_files" if path.endswith("rc") else "home_directories"
    _module, result = run(tree, [check(name, protect=["alice"])])
    assert statuses(result) == [(f"cis.accounts.{name}", "fixed")]
    assert attrs(tree, path)[0] & (0o022 if name == "dot_files" else 0o027) == 0


# -- root's PATH and umask --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tamper", "differences"),
    [
        (
            lambda tree: replace(tree, "/etc/login.defs", "/sbin:/bin", "/sbin::/bin:"),
            [
                ("root's PATH", "/etc/login.defs line 2", "absolute directories only", "an empty entry ('::')"),
                ("root's PATH", "/etc/login.defs line 2", "absolute directories only", "an empty entry (trailing ':')"),
            ],
        ),
        (
            lambda tree: tree.write("/etc/environment", 'PATH=".:bin:/usr/bin"\n'),
            [
                ("root's PATH", "/etc/environment line 1", "absolute directories only", "'.' (the current directory)"),
                ("root's PATH", "/etc/environment line 1", "absolute directories only", "the relative entry 'bin'"),
            ],
        ),
        (
            lambda tree: append(tree, "/root/.bashrc", 'export PATH="$HOME/bin:$PATH"'),
            [("/root/bin", "/root/.bashrc line 4", "a directory", "absent")],
        ),
        (
            lambda tree: append(tree, "/root/.profile", "PATH=/etc/passwd:$PATH"),
            [("/etc/passwd", "/root/.profile line 4", "a directory", "not a directory")],
        ),
    ],
    ids=["empty-entries", "dot-and-relative", "missing-directory", "a-file"],
)
def test_root_path_entries_a_person_edits(tree, tamper, differences):
    tamper(tree)
    module, result = run(tree, [check("root_path")])
    assert statuses(result) == [("cis.accounts.root_path", "error")]
    assert found(result) == differences
    assert module.calls == []


def test_root_path_directories_lose_group_and_other_write_and_get_root_as_owner(tree):
    tree.file("/opt/tool/bin").mkdir(parents=True)
    os.chmod(tree.file("/opt/tool/bin"), 0o777)
    os.chown(tree.file("/opt/tool/bin"), 1001, 1001)
    tree.file("/opt/bin").symlink_to("tool/bin")
    append(tree, "/root/.bashrc", 'export PATH="/opt/bin:$PATH:$PYENV_ROOT/bin" # site tools')
    module, drift = run(tree, [check("root_path")], check_mode=True)
    assert module.calls == [] and drift["changed"] is True
    assert found(drift) == [
        ("/opt/bin (-> /opt/tool/bin)", "owner (/root/.bashrc line 4)", "root", "alice"),
        ("/opt/bin (-> /opt/tool/bin)", "mode (/root/.bashrc line 4)", "no write for group or others", "0777"),
    ]
    assert drift["controls"][0]["details"] == {
        "sources": ["/etc/login.defs line 2", "/root/.bashrc line 4"],
        "entries not evaluated (they depend on variables)": ["$PYENV_ROOT/bin (/root/.bashrc line 4)"],
    }
    _unused, fixed = run(tree, [check("root_path")])
    assert statuses(fixed) == [("cis.accounts.root_path", "fixed")]
    assert attrs(tree, "/opt/tool/bin") == (0o755, 0, 1001)
    assert os.path.islink(tree.file("/opt/bin"))


@pytest.mark.parametrize(
    ("line", "status"),
    [
        ("umask 027", "pass"),
        ("umask 0077", "pass"),
        ("  umask u=rwx,g=rx,o=", "pass"),
        ("umask -S", "pass"),
        ("umask 022", "fixed"),
        ("umask 0002 # for shared dirs", "fixed"),
        ("umask 007;", "fixed"),
        ("umask u=rwx,g=rwx,o=rx", "fixed"),
    ],
)
def test_root_umask(tree, line, status):
    append(tree, "/root/.bashrc", line)
    _unused, result = run(tree, [check("root_umask")])
    assert statuses(result) == [("cis.accounts.root_umask", status)]
    last = tree.read("/root/.bashrc").splitlines()[-1]
    if status == "fixed":
        assert last.lstrip().startswith("umask 0027")
        assert found(result)[0][1] == "/root/.bashrc line 4"
        assert tree.read("/root/.bashrc").startswith(ROOT_BASHRC)
    else:
        assert last == line


def test_root_umask_relative_forms_are_listed_not_judged(tree):
    append(tree, "/root/.profile", "umask g-w")
    _unused, result = run(tree, [check("root_umask")], check_mode=True)
    assert statuses(result) == [("cis.accounts.root_umask", "pass")]
    assert result["controls"][0]["details"] == {
        "umask not evaluated (relative or unknown)": ["/root/.profile line 4: umask g-w"]
    }


def test_root_umask_in_a_linked_file_is_reported_not_rewritten(tree):
    tree.write("/etc/skel/.bash_profile", "umask 022\n")
    tree.file("/root/.bash_profile").symlink_to("../etc/skel/.bash_profile")
    _unused, result = run(tree, [check("root_umask")])
    assert statuses(result) == [("cis.accounts.root_umask", "error")]
    assert "is a symbolic link" in result["controls"][0]["reason"]
    assert os.path.islink(tree.file("/root/.bash_profile")) and tree.read("/etc/skel/.bash_profile") == "umask 022\n"


def test_root_umask_takes_a_stricter_value(tree):
    tree.write("/root/.bash_profile", "umask 022\n", mode=0o600)
    run(tree, [check("root_umask", umask="0077")])
    assert tree.read("/root/.bash_profile") == "umask 0077\n"
    assert stat.S_IMODE(os.stat(tree.file("/root/.bash_profile")).st_mode) == 0o600


# -- homes and dot files ----------------------------------------------------------------------


def test_home_directories_get_their_owner_and_lose_group_write_and_other_access(tree):
    os.chmod(tree.file("/home/alice"), 0o775)
    os.chown(tree.file("/home/alice"), 1000, 1001)
    module, drift = run(tree, [check("home_directories")], check_mode=True)
    assert module.calls == [] and drift["changed"] is True
    assert found(drift) == [
        ("alice", "/etc/passwd line 7: owner of /home/alice", "alice", "ops"),
        ("alice", "/etc/passwd line 7: mode of /home/alice", "0750 or stricter", "0775"),
    ]
    _unused, fixed = run(tree, [check("home_directories")])
    assert statuses(fixed) == [("cis.accounts.home_directories", "fixed")]
    assert attrs(tree, "/home/alice") == (0o750, 1001, 1001)
    assert fixed["actions"] == ["set /home/alice to 0750 1001:1001"]


@pytest.mark.parametrize(
    ("tamper", "actual", "advice"),
    [
        (lambda tree: replace(tree, "/etc/passwd", "/home/alice:", "/home/nowhere:"), "absent", "never creates"),
        (
            lambda tree: (
                tree.file("/home/elsewhere").mkdir(),
                replace(tree, "/etc/passwd", "/home/alice:", "/home/link:"),
                tree.file("/home/link").symlink_to("elsewhere"),
            ),
            "a symbolic link",
            "never creates",
        ),
    ],
    ids=["missing", "symlink"],
)
def test_homes_are_never_created_or_followed(tree, tamper, actual, advice):
    tamper(tree)
    module, result = run(tree, [check("home_directories")])
    assert statuses(result) == [("cis.accounts.home_directories", "error")]
    assert found(result)[0][3] == actual and advice in result["controls"][0]["reason"]
    assert module.calls == [] and not tree.file("/home/nowhere").exists()


@pytest.mark.parametrize(
    ("home", "advice"),
    [("/tmp", "is a system directory"), ("/home/ops", "is shared with ops")],
)
def test_system_and_shared_homes_are_never_changed(tree, home, advice):
    tree.file("/tmp").mkdir(exist_ok=True)
    os.chmod(tree.file("/tmp"), 0o1777)
    replace(tree, "/etc/passwd", "/home/alice:", f"{home}:")
    _unused, result = run(tree, [check("home_directories"), check("dot_files")])
    assert statuses(result)[0] == ("cis.accounts.home_directories", "error")
    assert advice in result["controls"][0]["reason"]
    assert attrs(tree, "/tmp")[0] == 0o1777 and attrs(tree, "/home/ops") == (0o750, 1000, 1000)
    assert any(advice in reason for reason in result["controls"][1]["details"]["homes not walked"])


def test_system_accounts_and_nobody_are_not_interactive(tree):
    replace(tree, "/etc/passwd", "daemon:/usr/sbin:/usr/sbin/nologin", "daemon:/usr/sbin:/bin/bash")
    replace(tree, "/etc/passwd", "nobody:/nonexistent:/usr/sbin/nologin", "nobody:/nonexistent:/bin/bash")
    _unused, result = run(tree, [check("home_directories"), check("dot_files")], check_mode=True)
    assert statuses(result) == [("cis.accounts.home_directories", "pass"), ("cis.accounts.dot_files", "pass")]
    assert result["controls"][0]["actual"] == {"ops": "/home/ops: 0750 ops", "alice": "/home/alice: 0700 alice"}


def test_dot_files_modes_owners_and_groups_are_fixed_anywhere_in_the_home(tree):
    os.chmod(tree.file("/home/alice/.bashrc"), 0o666)
    os.chmod(tree.file("/home/alice/.bash_history"), 0o644)
    tree.file("/home/alice/.config").mkdir()
    tree.file("/home/alice/.config/.secret").write_text("x\n")
    os.chmod(tree.file("/home/alice/.config/.secret"), 0o675)
    os.chown(tree.file("/home/alice/.config/.secret"), 0, 1000)
    tree.file("/home/alice/notes.txt").write_text("not a dot file\n")
    os.chmod(tree.file("/home/alice/notes.txt"), 0o666)
    module, drift = run(tree, [check("dot_files")], check_mode=True)
    assert found(drift) == [
        ("alice", "/etc/passwd line 7: mode of /home/alice/.bash_history", "0600 or stricter", "0644"),
        ("alice", "/etc/passwd line 7: mode of /home/alice/.bashrc", "0644 or stricter", "0666"),
        ("alice", "/etc/passwd line 7: mode of /home/alice/.config/.secret", "0644 or stricter", "0675"),
        ("alice", "/etc/passwd line 7: owner of /home/alice/.config/.secret", "alice", "root"),
        ("alice", "/etc/passwd line 7: group of /home/alice/.config/.secret", "alice", "ops"),
    ]
    module, fixed = run(tree, [check("dot_files")])
    assert statuses(fixed) == [("cis.accounts.dot_files", "fixed")]
    assert attrs(tree, "/home/alice/.bash_history") == (0o600, 1001, 1001)
    assert attrs(tree, "/home/alice/.bashrc") == (0o644, 1001, 1001)
    assert attrs(tree, "/home/alice/.config/.secret") == (0o644, 1001, 1001)
    assert attrs(tree, "/home/alice/notes.txt")[0] == 0o666
    assert module.calls == []


def test_forward_and_rhosts_are_reported_unless_removal_is_asked_for(tree):
    tree.file("/home/alice/.forward").write_text("alice@example.org\n")
    os.chown(tree.file("/home/alice/.forward"), 1001, 1001)
    os.chmod(tree.file("/home/alice/.forward"), 0o644)
    _unused, reported = run(tree, [check("dot_files")])
    assert statuses(reported) == [("cis.accounts.dot_files", "error")]
    assert found(reported) == [("alice", "/etc/passwd line 7: /home/alice/.forward", "absent", "present")]
    assert "remove_forward_rhosts" in reported["controls"][0]["reason"]
    assert tree.file("/home/alice/.forward").exists()
    _unused, removed = run(tree, [check("dot_files", remove_forward_rhosts=True)])
    assert statuses(removed) == [("cis.accounts.dot_files", "fixed")]
    assert not tree.file("/home/alice/.forward").exists()
    assert removed["diff"][0]["before"] == "alice@example.org\n"


def test_removed_forward_file_comes_back_on_undo(tree):
    tree.file("/home/alice/.rhosts").write_text("+ +\n")
    os.chown(tree.file("/home/alice/.rhosts"), 1001, 1001)
    os.chmod(tree.file("/home/alice/.rhosts"), 0o600)
    before = tree.snapshot()
    module = FakeModule([])
    node = tree.node(module)
    item = check("dot_files", remove_forward_rhosts=True)
    spec = accounts.Accounts().validate(node, item, item["spec"])
    action = accounts.Accounts().inspect(node, [(item, spec)])["cis.accounts.dot_files"].actions[0]
    action.run()
    assert not tree.file("/home/alice/.rhosts").exists()
    action.undo()
    assert tree.snapshot() == before and attrs(tree, "/home/alice/.rhosts") == (0o600, 1001, 1001)


def test_hard_links_and_swapped_files_are_never_changed(tree):
    tree.write("/etc/secret", "root only\n", mode=0o600)
    os.link(tree.file("/etc/secret"), tree.file("/home/alice/.linked"))
    _unused, result = run(tree, [check("dot_files")])
    assert statuses(result) == [("cis.accounts.dot_files", "error")]
    assert "has 2 links" in result["controls"][0]["reason"]
    assert attrs(tree, "/etc/secret") == (0o600, 0, 0)
    # a file swapped for a link between inspection and change is left alone
    os.unlink(tree.file("/home/alice/.linked"))
    os.chmod(tree.file("/home/alice/.bashrc"), 0o666)
    module = FakeModule([])
    node = tree.node(module)
    item = check("dot_files")
    spec = accounts.Accounts().validate(node, item, item["spec"])
    action = accounts.Accounts().inspect(node, [(item, spec)])["cis.accounts.dot_files"].actions[0]
    os.unlink(tree.file("/home/alice/.bashrc"))
    tree.file("/home/alice/.bashrc").symlink_to("/etc/secret")
    with pytest.raises(OSError):
        action.run()
    assert attrs(tree, "/etc/secret") == (0o600, 0, 0)


def test_netrc_is_named_in_the_details(tree):
    tree.file("/home/alice/.netrc").write_text("machine example.org\n")
    os.chown(tree.file("/home/alice/.netrc"), 1001, 1001)
    os.chmod(tree.file("/home/alice/.netrc"), 0o600)
    _unused, result = run(tree, [check("dot_files")], check_mode=True)
    assert statuses(result) == [("cis.accounts.dot_files", "pass")]
    assert result["controls"][0]["details"][".netrc files (passwords in clear text: review them)"] == [
        "/home/alice/.netrc"
    ]


# -- ageing of existing accounts ----------------------------------------------------------------

AGEING = {"max_days": 365, "warn_days": 7}


@pytest.mark.parametrize(
    ("old", "new", "argv", "differences"),
    [
        (
            "19500:0:365:7:",
            "19500:0:99999:7:",
            ["--maxdays", "365"],
            [("alice", "/etc/shadow line 7: maximum days", "1 to 365", 99999)],
        ),
        (
            "19500:0:365:7:",
            "19500:0:90:3:",
            ["--warndays", "7"],
            [("alice", "/etc/shadow line 7: warning days", "7 or more", 3)],
        ),
        (
            "19500:0:365:7:",
            "19500:0:::",
            ["--maxdays", "365", "--warndays", "7"],
            [
                ("alice", "/etc/shadow line 7: maximum days", "1 to 365", None),
                ("alice", "/etc/shadow line 7: warning days", "7 or more", None),
            ],
        ),
    ],
    ids=["max", "warn-keeps-a-shorter-max", "both-empty"],
)
def test_ageing_existing_users(tree, old, new, argv, differences):
    replace(tree, "/etc/shadow", old, new)
    module, result = run(tree, [check("ageing_existing_users", **AGEING)])
    assert statuses(result) == [("cis.accounts.ageing_existing_users", "fixed")]
    assert found(result) == differences
    assert module.calls == [["/usr/sbin/chage", *argv, "alice"]]
    module, again = run(tree, [check("ageing_existing_users", **AGEING)])
    assert statuses(again) == [("cis.accounts.ageing_existing_users", "pass")] and module.calls == []


def test_ageing_never_expires_a_password_at_once(tree):
    replace(tree, "/etc/shadow", "alicehash:19500:0:365:7:", "alicehash:19000:0:99999:7:")
    module, result = run(tree, [check("ageing_existing_users", **AGEING)])
    assert statuses(result) == [("cis.accounts.ageing_existing_users", "error")]
    assert "would expire alice's password at once (last changed 2022-01-08)" in result["controls"][0]["reason"]
    assert module.calls == []


def test_ageing_undo_restores_the_old_values(tree):
    replace(tree, "/etc/shadow", "19500:0:365:7:", "19500:0::3:")
    before = tree.snapshot()
    module = FakeModule([])
    FakeTools(tree).register(module)
    node = tree.node(module)
    item = check("ageing_existing_users", **AGEING)
    spec = accounts.Accounts().validate(node, item, item["spec"])
    action = accounts.Accounts().inspect(node, [(item, spec)])["cis.accounts.ageing_existing_users"].actions[0]
    action.run()
    action.undo()
    assert module.calls[-1] == ["/usr/sbin/chage", "--maxdays", "-1", "--warndays", "3", "alice"]
    assert tree.snapshot() == before


def test_ageing_leaves_root_system_and_key_only_accounts_alone(tree):
    replace(tree, "/etc/shadow", "ops:!:19000:0:99999:7:", "ops:!:19000:0:99999:1:")
    _unused, result = run(tree, [check("ageing_existing_users", **AGEING)], check_mode=True)
    assert statuses(result) == [("cis.accounts.ageing_existing_users", "pass")]
    assert result["controls"][0]["actual"] == {"alice": "max 365, warn 7"}


# -- validation --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (None, "spec must be a mapping with check set to one of"),
        ({"check": "everything"}, "spec must be a mapping with check"),
        (
            {"check": "uid0_only_root", "shell": "/usr/sbin/nologin"},
            "uid0_only_root does not take shell; it takes check, protect",
        ),
        ({"check": "home_directories", "protect": "ops,alice"}, "protect must list account names"),
        ({"check": "home_directories", "protect": [""]}, "protect must list account names"),
        ({"check": "home_directories", "protect": [1000]}, "protect must list account names"),
        ({"check": "root_umask", "umask": "022"}, "umask 022 is weaker than 0027"),
        ({"check": "root_umask", "umask": 23}, "quoted octal string"),
        (
            {"check": "system_accounts_nologin", "shell": "/bin/bash"},
            "shell must be the absolute path of nologin or false",
        ),
        ({"check": "system_accounts_nologin", "shell": "nologin"}, "shell must be the absolute path"),
        ({"check": "dot_files", "remove_forward_rhosts": "yes"}, "remove_forward_rhosts must be true or false"),
        ({"check": "ageing_existing_users"}, "max_days must be a whole number of days"),
        ({"check": "ageing_existing_users", "max_days": 0, "warn_days": 7}, "max_days must be a whole number"),
        ({"check": "ageing_existing_users", "max_days": 365, "warn_days": True}, "warn_days must be a whole number"),
        ({"check": "ageing_existing_users", "max_days": 7, "warn_days": 7}, "warn_days must be less than max_days"),
    ],
)
def test_validate_refuses_bad_input(tree, spec, message):
    node = tree.node(FakeModule([]))
    with pytest.raises(ControlInputError, match=message):
        accounts.Accounts().validate(node, {"id": "cis.accounts.x"}, spec)


def test_validate_normalises(tree):
    node = tree.node(FakeModule([]))
    spec = accounts.Accounts().validate(node, {"id": "x.y"}, {"check": "root_umask", "protect": "ops", "umask": "077"})
    assert spec == accounts.Spec(check="root_umask", protect=("ops",), umask=0o077)


@pytest.mark.parametrize(
    ("token", "mask"),
    [
        ("022", 0o022),
        ("0027", 0o027),
        ("77", 0o077),
        ("u=rwx,g=rx,o=", 0o027),
        ("a=rx,u=rwx", 0o022),
        ("g-w", None),
        ("u=rwx", None),
        ("$UMASK", None),
    ],
)
def test_umask_value(token, mask):
    assert accounts.umask_value(token) == mask
