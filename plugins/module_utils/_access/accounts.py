# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Local accounts and their files (CIS 5.4.1.1, 5.4.1.3, 5.4.1.6, 5.4.2.1 to 5.4.2.8, 7.2.1 to 7.2.10).

One spec kind per control: C({check: NAME, protect: [ops]}) plus the check's own options:

- C(uid0_only_root), C(gid0_only_root), C(group0_only_root): only root has UID 0, GID 0 as primary
  group (sync, shutdown, halt and operator aside, as the benchmark allows) and group ID 0.
- C(root_access_controlled): root has a password or is locked (C(passwd -S) says P or L).
- C(root_path): every directory of root's PATH (ENV_SUPATH of /etc/login.defs, PATH of
  /etc/environment and of root's .profile, .bash_profile, .bash_login and .bashrc) is an absolute
  directory owned by root and not writable by group or others; no empty entry, no C(.).
- C(root_umask, umask: "0027"): umask lines of root's .bash_profile, .bashrc and .profile are 0027
  or stricter; weaker ones get C(umask).
- C(system_accounts_nologin, shell: /usr/sbin/nologin): accounts below UID_MIN (and nobody),
  root, sync, shutdown, halt and nfsnobody aside, have no valid login shell.
- C(nologin_accounts_locked): accounts other than root without a valid login shell are locked.
- C(shadowed_passwords): every passwd line has C(x) in its password field (fixed with pwconv).
- C(no_empty_passwords), C(groups_exist), C(unique_uids), C(unique_gids), C(unique_user_names),
  C(unique_group_names), C(password_change_in_past): reported only.
- C(shadow_group_empty): the shadow group has no members and is no one's primary group. Members
  are removed one by one (C(gpasswd -d NAME shadow), undone with C(gpasswd -a)), not all at once
  with C(gpasswd -M ''): so a protected member stays and each removal has its own undo. A service
  that reads /etc/shadow through the membership loses that at its next start. A primary group
  shadow is reported only: changing it changes the group of the account's new files.
- C(home_directories): interactive users' homes exist, belong to them and are 0750 or stricter.
- C(dot_files, remove_forward_rhosts: false): no .forward or .rhosts directly in interactive users'
  homes (where mail and rsh read them; removed only when asked, reported otherwise); files named
  .* anywhere in the home, on its filesystem (as the benchmark's find looks), are their user's
  (owner and primary group), .netrc and .bash_history 0600 or stricter, the others 0644 or stricter.
- C(ageing_existing_users, max_days: 365, warn_days: 7): interactive users with a password get
  the maximum age and warning days login.defs gives new accounts (CIS 5.4.1.1 and 5.4.1.3 ask it of
  existing accounts too); off by default in the catalog. An account whose password would expire at
  once (changed longer ago than max_days) is reported, not changed: an expired password stops key
  logins too.

A valid login shell is one /etc/shells lists, nologin and false aside; an empty shell field is
/bin/sh, as login and sshd read it. Interactive users have a valid login shell and a UID of at
least UID_MIN (/etc/login.defs) other than nobody's (65534). So home_directories and dot_files
leave root (whose /root Debian keeps 0700) and system accounts (whose homes are their services'
directories) alone, where the benchmark's audit lists every account with a valid shell.

Lockout safety: no fix ever touches an account that is protected: those the spec's C(protect) or
the module's C(protect) option name (the role passes the account Ansible connects with), the
account the module runs as, and C(SUDO_USER) (who called sudo to run it). Their differences are
reported, with the reason in the details, and never changed. Exempt are the changes that only
narrow: root_umask and root_path (root's umask and PATH directories), and modes taken off homes
and dot files (sshd itself wants no more), none of which can take anyone's access away.

What needs a person's decision (a second UID 0 account, an empty password, a duplicate UID, a
missing home) is an error naming the account and its line, never "fixed" by deleting anything.
Every fix is one action per account and change, with its undo (the old shell, C(usermod -U), the
old mode and owner, the removed file's content). Modes and owners in users' homes are changed
through a file descriptor opened without following links, and only on the very file inspected
(same device and inode, one link), so a user cannot turn a fix onto another file.
"""

from __future__ import annotations

import datetime
import os
import re
import stat
import tempfile
import time
import typing as t
from dataclasses import dataclass, field

from ansible_collections.nodeguard.hardening.plugins.module_utils import _controls as c
from ansible_collections.nodeguard.hardening.plugins.module_utils._access import passwd_db as db
from ansible_collections.nodeguard.hardening.plugins.module_utils._access.login_defs import (
    LOGIN_DEFS,
    setting,
    uid_min,
)
from ansible_collections.nodeguard.hardening.plugins.module_utils._files import state_diff
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.engine import Action, Family, Finding
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.node import Node
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.writes import write_action

NOBODY_UID = 65534
# Accounts 5.4.2.7 lets keep a shell (their shells are programs such as /bin/sync).
SHELL_EXEMPT = ("root", "sync", "shutdown", "halt", "nfsnobody")
# Accounts 5.4.2.2 lets have GID 0 as their primary group.
GID0_EXEMPT = ("root", "sync", "shutdown", "halt", "operator")
ROOT_PATH_FILES = (".profile", ".bash_profile", ".bash_login", ".bashrc")
ROOT_UMASK_FILES = (".bash_profile", ".bashrc", ".profile")
ENVIRONMENT = "/etc/environment"
# 7.2.10: the most a dot file may allow, by name; the rest 0644.
STRICT_DOT_FILES = (".netrc", ".bash_history")
FORWARDING_FILES = (".forward", ".rhosts")
DOT_MASK, STRICT_MASK, HOME_MASK = 0o133, 0o177, 0o027
# Differences listed per control; counts stay complete.
LIMIT = 500
# A .forward or .rhosts larger than this is not removed (its content is kept in memory for undo).
MAX_KEPT = 1 << 20
NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*\$?$")
UMASK_LINE_RE = re.compile(r"^(\s*umask\s+)([^\s;#]+)")
PATH_LINE_RE = re.compile(r"^\s*(?:export\s+)?PATH=(.*)$")
INHERITED = ("$PATH", "${PATH}")
PROTECTED = "protected (the account Ansible connects with, the one the module runs as, or named in protect)"

# check -> options it takes besides check and protect
CHECKS: dict[str, frozenset[str]] = {
    "uid0_only_root": frozenset(),
    "gid0_only_root": frozenset(),
    "group0_only_root": frozenset(),
    "root_access_controlled": frozenset(),
    "root_path": frozenset(),
    "root_umask": frozenset({"umask"}),
    "system_accounts_nologin": frozenset({"shell"}),
    "nologin_accounts_locked": frozenset(),
    "shadowed_passwords": frozenset(),
    "no_empty_passwords": frozenset(),
    "groups_exist": frozenset(),
    "shadow_group_empty": frozenset(),
    "unique_uids": frozenset(),
    "unique_gids": frozenset(),
    "unique_user_names": frozenset(),
    "unique_group_names": frozenset(),
    "home_directories": frozenset(),
    "dot_files": frozenset({"remove_forward_rhosts"}),
    "password_change_in_past": frozenset(),
    "ageing_existing_users": frozenset({"max_days", "warn_days"}),
}


def today() -> int:
    """Days since 1970-01-01 (UTC), the unit of /etc/shadow."""
    return int(time.time() // 86400)


def day(days: int | None) -> str:
    """A shadow day number as a date a person reads."""
    if days is None:
        return "never"
    return (datetime.date(1970, 1, 1) + datetime.timedelta(days=days)).isoformat()


def session_accounts(files: db.AccountFiles) -> set[str]:
    """The account this module runs as and, under sudo, the one that called sudo."""
    names = set()
    user = files.user_by_uid(os.getuid())
    if user is not None:
        names.add(user.name)
    caller = os.environ.get("SUDO_USER")
    if caller:
        names.add(caller)
    return names


def describe_password(field_value: str) -> str:
    """A password field in words: reports never show a hash."""
    if field_value == "":
        return "empty"
    if field_value == "x":
        return "x"
    return "locked" if field_value[:1] in ("!", "*") else "a password hash"


@dataclass(frozen=True)
class Spec:
    check: str
    protect: tuple[str, ...] = ()
    umask: int = 0o027
    shell: str = "/usr/sbin/nologin"
    remove_forward_rhosts: bool = False
    max_days: int = 365
    warn_days: int = 7


@dataclass
class Context:
    """What one inspection reads once and every check shares."""

    node: Node
    files: db.AccountFiles
    uid_min: int
    today: int
    session: set[str]
    # Shells system_accounts_nologin is about to set: nologin_accounts_locked judges by them.
    planned_shells: dict[str, str] = field(default_factory=dict)

    def protected(self, spec: Spec) -> set[str]:
        module_protect = (getattr(self.node.module, "params", None) or {}).get("protect") or []
        if isinstance(module_protect, str):
            module_protect = [module_protect]
        return set(spec.protect) | set(module_protect) | self.session

    def interactive(self, user: db.User) -> bool:
        return self.files.has_valid_shell(user) and user.uid >= self.uid_min and user.uid != NOBODY_UID

    def interactive_users(self) -> list[db.User]:
        return [u for u in self.files.users if self.interactive(u)]

    def owner(self, uid: int) -> str:
        user = self.files.user_by_uid(uid)
        return user.name if user else str(uid)

    def group_name(self, gid: int) -> str:
        group = self.files.group_by_gid(gid)
        return group.name if group else str(gid)


class Report:
    """One control's differences, the fixes for them, and why the others stay for a person."""

    def __init__(self, protected: set[str]) -> None:
        self.protected = protected
        self.differences: list[dict] = []
        self.actions: list[Action] = []
        self.left: list[str] = []
        self.protected_hit: list[str] = []
        self.count = 0

    def add(self, difference: dict, *, account: str | None = None, action: Action | None = None, why: str = "") -> None:
        """A difference; its fix (C(action)) or why it has none (C(why))."""
        self.count += 1
        if len(self.differences) < LIMIT:
            self.differences.append(difference)
        if account is not None and account in self.protected:
            if account not in self.protected_hit:
                self.protected_hit.append(account)
            return
        if action is not None:
            if all(a.key != action.key for a in self.actions):
                self.actions.append(action)
        elif why and why not in self.left:
            self.left.append(why)

    def finding(self, expected: t.Any, actual: t.Any, details: dict | None = None) -> Finding:
        details = dict(details or {})
        if self.count > len(self.differences):
            more = self.count - len(self.differences)
            self.differences.append(c.difference(f"{more} more", "accounts and files", "as expected", "not"))
        if self.protected_hit:
            details["protected, reported and never changed"] = list(self.protected_hit)
            self.left.append(f"{', '.join(self.protected_hit)}: {PROTECTED}; change by hand if intended")
        unfixable = None
        if self.differences and not self.actions:
            unfixable = "; ".join(self.left) or "no change is known for this"
        elif self.left:
            details["not changed by this run"] = list(self.left)
        return Finding(
            expected=expected,
            actual=actual,
            differences=self.differences,
            actions=self.actions,
            unfixable=unfixable,
            details=details,
        )


def _tool(node: Node, name: str) -> str:
    return node.binary(name) or name


def command_action(node: Node, key: str, what: str, argv: list[str], undo: list[str] | None, diff: dict) -> Action:
    """Run one account command; undo runs its opposite."""
    tool = _tool(node, argv[0])
    return Action(
        key,
        what,
        lambda: node.run([tool, *argv[1:]]),
        (lambda: node.run([_tool(node, undo[0]), *undo[1:]])) if undo else None,
        [diff],
    )


def _open_same(node: Node, path: str, identity: tuple[int, int]) -> int:
    """A descriptor of C(path), never through a link, and only if it is still the file inspected."""
    fd = os.open(node.path(path), os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    info = os.fstat(fd)
    if (info.st_dev, info.st_ino) != identity or (not stat.S_ISDIR(info.st_mode) and info.st_nlink > 1):
        os.close(fd)
        raise OSError(f"{path} was replaced or linked since it was inspected; it was left alone")
    return fd


def read_same(node: Node, path: str, identity: tuple[int, int]) -> bytes:
    """The content of the very file inspected (never one a link points to), up to MAX_KEPT bytes."""
    fd = _open_same(node, path, identity)
    try:
        return os.read(fd, MAX_KEPT)
    finally:
        os.close(fd)


def attributes_action(
    node: Node, key: str, path: str, info: os.stat_result, mode: int | None, uid: int | None, gid: int | None
) -> Action:
    """chmod and chown one file or directory through a descriptor; undo gives back what it had."""
    old = (stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid)
    new = (old[0] if mode is None else mode, old[1] if uid is None else uid, old[2] if gid is None else gid)
    identity = (info.st_dev, info.st_ino)

    def put(values: tuple[int, int, int]) -> None:
        fd = _open_same(node, path, identity)
        try:
            now = os.fstat(fd)
            if (now.st_uid, now.st_gid) != values[1:]:
                os.fchown(fd, values[1], values[2])
            os.fchmod(fd, values[0])  # after chown, which clears set-id bits
        finally:
            os.close(fd)

    return Action(
        key,
        f"set {path} to {new[0]:04o} {new[1]}:{new[2]}",
        lambda: put(new),
        lambda: put(old),
        [state_diff(f"mode and owner of {path}", "{:04o} {}:{}\n".format(*old), "{:04o} {}:{}\n".format(*new))],
    )


def remove_action(node: Node, key: str, home: str, name: str, info: os.stat_result, content: bytes) -> Action:
    """Remove one file directly in a home directory; undo writes it back with its mode and owner."""
    path = os.path.join(home, name)
    identity = (info.st_dev, info.st_ino)

    def open_home() -> int:
        return os.open(node.path(home), os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)

    def remove() -> None:
        folder = open_home()
        try:
            now = os.stat(name, dir_fd=folder, follow_symlinks=False)
            if (now.st_dev, now.st_ino) != identity:
                raise OSError(f"{path} was replaced since it was inspected; it was left alone")
            os.unlink(name, dir_fd=folder)
        finally:
            os.close(folder)

    def restore() -> None:
        folder = open_home()
        try:
            fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600, dir_fd=folder)
            try:
                os.write(fd, content)
                os.fchown(fd, info.st_uid, info.st_gid)
                os.fchmod(fd, stat.S_IMODE(info.st_mode))
            finally:
                os.close(fd)
        finally:
            os.close(folder)

    text = content.decode("utf-8", "replace")
    return Action(key, f"remove {path}", remove, restore, [state_diff(path, text, "")])


def restore_files_action(node: Node, key: str, what: str, argv: list[str], paths: tuple[str, ...]) -> Action:
    """Run a command that rewrites account files; undo puts their old content, mode and owner back."""
    saved: dict[str, tuple[bytes, int, int, int] | None] = {}
    for path in paths:
        try:
            with open(node.path(path), "rb") as handle:
                info = os.fstat(handle.fileno())
                saved[path] = (handle.read(), stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid)
        except FileNotFoundError:
            saved[path] = None

    def undo() -> None:
        for path, kept in saved.items():
            target = node.path(path)
            if kept is None:
                if os.path.lexists(target):
                    os.unlink(target)
                continue
            content, mode, uid, gid = kept
            fd, tmp = tempfile.mkstemp(prefix=".nodeguard-", dir=os.path.dirname(target))
            try:
                os.write(fd, content)
                os.fchown(fd, uid, gid)
                os.fchmod(fd, mode)
                os.fsync(fd)
                os.close(fd)
                node.module.atomic_move(tmp, target)
                os.chown(target, uid, gid)
                os.chmod(target, mode)
            finally:
                if os.path.exists(tmp):
                    os.unlink(tmp)

    tool = _tool(node, argv[0])
    return Action(
        key,
        what,
        lambda: node.run([tool, *argv[1:]]),
        undo,
        [
            state_diff(
                f"{' '.join(argv)} ({', '.join(paths)})", "passwords in /etc/passwd\n", "passwords in /etc/shadow\n"
            )
        ],
    )


def resolve(node: Node, path: str, limit: int = 40) -> str | None:
    """C(path) with every symbolic link followed inside the node's tree; None when a part is missing."""
    parts = [p for p in path.split("/") if p]
    resolved = "/"
    hops = 0
    while parts:
        part = parts.pop(0)
        if part == ".":
            continue
        if part == "..":
            resolved = os.path.dirname(resolved)
            continue
        candidate = os.path.join(resolved, part)
        real = node.path(candidate)
        if os.path.islink(real):
            hops += 1
            if hops > limit:
                return None
            target = os.readlink(real)
            if target.startswith("/"):
                resolved = "/"
            parts = [p for p in target.split("/") if p] + parts
            continue
        if not os.path.lexists(real):
            return None
        resolved = candidate
    return resolved


def umask_value(token: str) -> int | None:
    """The mask a C(umask) argument sets: octal, or symbolic with every class assigned (C(u=rwx,g=rx,o=))."""
    if re.match(r"^[0-7]{1,4}$", token):
        return int(token, 8) & 0o777
    allowed: dict[str, int] = {}
    for clause in token.split(","):
        match = re.match(r"^([ugoa]+)=([rwx]*)$", clause)
        if not match:
            return None  # relative (+ or -) or not a umask at all: depends on what came before
        bits = sum({"r": 4, "w": 2, "x": 1}[p] for p in set(match.group(2)))
        for who in match.group(1).replace("a", "ugo"):
            allowed[who] = bits
    if set(allowed) != {"u", "g", "o"}:
        return None
    return 0o777 & ~(allowed["u"] << 6 | allowed["g"] << 3 | allowed["o"])


def expand_home(entry: str, home: str) -> str:
    """A PATH entry with C(~), C($HOME) and C(${HOME}) replaced by root's home, as the shell does."""
    if entry.startswith("~"):
        entry = home + entry[1:]
    return entry.replace("${HOME}", home).replace("$HOME", home)


def empty_entry(index: int, count: int) -> str:
    """An empty PATH entry in words: each one makes the shell look in the current directory."""
    if count == 1:
        return "an empty PATH"
    if index == 0:
        return "an empty entry (leading ':')"
    if index == count - 1:
        return "an empty entry (trailing ':')"
    return "an empty entry ('::')"


def _unquote(value: str) -> str:
    value = value.strip()
    if value[:1] in ("'", '"'):
        end = value.find(value[0], 1)
        return value[1:end] if end > 0 else value[1:]
    return re.split(r"[\s;]", value, maxsplit=1)[0]


def _home_guard(user: db.User, homes: dict[str, list[str]]) -> str | None:
    """Why a home must not be changed or walked (a system directory, one shared by accounts), or None."""
    home = os.path.normpath(user.home) if user.home.startswith("/") else ""
    if not home or home == "/" or os.path.dirname(home) == "/":
        return (
            f"{user.name}'s home {user.home or '(empty)'} is a system directory, not a home; give the account its own"
        )
    sharing = [name for name in homes.get(home, []) if name != user.name]
    if sharing:
        return f"{user.name}'s home {home} is shared with {', '.join(sharing)}; give each account its own"
    return None


class Accounts(Family):
    name = "accounts"

    # -- validate ------------------------------------------------------------------------------

    def validate(self, node: Node, control: dict, spec: t.Any) -> Spec:
        cid = control["id"]
        if not isinstance(spec, dict) or spec.get("check") not in CHECKS:
            raise c.ControlInputError(
                f"control {cid!r}: spec must be a mapping with check set to one of {', '.join(CHECKS)}"
            )
        check = spec["check"]
        unknown = sorted(set(spec) - {"check", "protect"} - CHECKS[check])
        if unknown:
            takes = ", ".join(sorted({"check", "protect"} | CHECKS[check]))
            raise c.ControlInputError(f"control {cid!r}: {check} does not take {', '.join(unknown)}; it takes {takes}")
        options: dict[str, t.Any] = {"check": check, "protect": self._names(cid, spec.get("protect"))}
        if "umask" in spec:
            options["umask"] = self._umask(cid, spec["umask"])
        if "shell" in spec:
            shell = spec["shell"]
            if (
                not isinstance(shell, str)
                or not shell.startswith("/")
                or os.path.basename(shell) not in db.REFUSING_SHELLS
            ):
                raise c.ControlInputError(
                    f"control {cid!r}: shell must be the absolute path of nologin or false, got {shell!r}"
                )
            options["shell"] = shell
        if "remove_forward_rhosts" in spec:
            if not isinstance(spec["remove_forward_rhosts"], bool):
                raise c.ControlInputError(f"control {cid!r}: remove_forward_rhosts must be true or false")
            options["remove_forward_rhosts"] = spec["remove_forward_rhosts"]
        if check == "ageing_existing_users":
            for key, low in (("max_days", 1), ("warn_days", 0)):
                value = spec.get(key)
                if isinstance(value, str) and value.isdigit():
                    value = int(value)  # a templated number that arrived as text
                if isinstance(value, bool) or not isinstance(value, int) or value < low or value > 99999:
                    raise c.ControlInputError(
                        f"control {cid!r}: {key} must be a whole number of days from {low} to 99999, got {value!r}"
                    )
                options[key] = value
            if options["warn_days"] >= options["max_days"]:
                raise c.ControlInputError(f"control {cid!r}: warn_days must be less than max_days")
        return Spec(**options)

    @staticmethod
    def _names(cid: str, value: t.Any) -> tuple[str, ...]:
        if value is None:
            return ()
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) and NAME_RE.match(v) for v in value):
            raise c.ControlInputError(
                f"control {cid!r}: protect must list account names (such as the user Ansible connects as), "
                f"got {value!r}"
            )
        return tuple(value)

    @staticmethod
    def _umask(cid: str, value: t.Any) -> int:
        if not isinstance(value, str) or not re.match(r"^0?[0-7]{3}$", value):
            raise c.ControlInputError(f"control {cid!r}: umask must be a quoted octal string such as '0027'")
        mask = int(value, 8)
        if mask & HOME_MASK != HOME_MASK:
            raise c.ControlInputError(f"control {cid!r}: umask {value} is weaker than 0027 (CIS 5.4.2.6)")
        return mask

    # -- inspect -------------------------------------------------------------------------------

    def inspect(self, node: Node, items: list[tuple[dict, t.Any]]) -> dict[str, Finding]:
        files = db.account_files(node)
        ctx = Context(node, files, uid_min(node), today(), session_accounts(files))
        found: dict[str, Finding] = {}
        # Shells first: the lock check judges accounts by the shell they are about to get.
        ordered = sorted(items, key=lambda item: item[1].check != "system_accounts_nologin")
        for control, spec in ordered:
            if db.PASSWD in files.missing:
                found[control["id"]] = Finding(skipped=f"{db.PASSWD} does not exist: no local accounts to judge")
                continue
            finding = getattr(self, f"_{spec.check}")(ctx, spec, Report(ctx.protected(spec)))
            if files.malformed:
                finding.details["malformed lines, not judged"] = [f"{m.where}: {m.why}" for m in files.malformed]
            found[control["id"]] = finding
        return found

    # -- 5.4.2.1 to 5.4.2.4: root's uniqueness and access --------------------------------------

    @staticmethod
    def _uid0_only_root(ctx: Context, spec: Spec, report: Report) -> Finding:
        why = (
            "an account other than root with UID 0 has every power of root: give it its own UID (usermod -u) "
            "or remove it (userdel); this run never changes or deletes it"
        )
        for user in ctx.files.users:
            if user.uid == 0 and user.name != "root":
                report.add(c.difference(user.name, user.where, "a UID other than 0", "UID 0"), why=why)
        root = ctx.files.user("root")
        if root is not None and root.uid != 0:
            report.add(c.difference("root", root.where, "UID 0", f"UID {root.uid}"), why="root must have UID 0")
        names = [u.name for u in ctx.files.users if u.uid == 0]
        return report.finding("only root has UID 0", {"UID 0 accounts": names})

    @staticmethod
    def _gid0_only_root(ctx: Context, spec: Spec, report: Report) -> Finding:
        why = (
            "a primary group of GID 0 gives an account root's group: give it another (usermod -g); this run "
            "never changes an account's primary group"
        )
        for user in ctx.files.users:
            if user.gid == 0 and user.name not in GID0_EXEMPT:
                report.add(c.difference(user.name, user.where, "a primary group other than GID 0", "GID 0"), why=why)
        root = ctx.files.user("root")
        if root is not None and root.gid != 0:
            report.add(c.difference("root", root.where, "GID 0", f"GID {root.gid}"), why="root's group must be GID 0")
        names = [u.name for u in ctx.files.users if u.gid == 0]
        return report.finding("only root (and sync, shutdown, halt, operator) has GID 0", {"GID 0 accounts": names})

    @staticmethod
    def _group0_only_root(ctx: Context, spec: Spec, report: Report) -> Finding:
        why = "a second group with GID 0 shares root's group: give it another GID (groupmod -g) or remove it"
        for group in ctx.files.groups:
            if group.gid == 0 and group.name != "root":
                report.add(c.difference(group.name, group.where, "a GID other than 0", "GID 0"), why=why)
        names = [g.name for g in ctx.files.groups if g.gid == 0]
        return report.finding("only the group root has GID 0", {"GID 0 groups": names})

    @staticmethod
    def _root_access_controlled(ctx: Context, spec: Spec, report: Report) -> Finding:
        root = ctx.files.user("root")
        if root is None:
            return Finding(skipped="there is no root account in /etc/passwd")
        password, where = ctx.files.password(root)
        status = db.password_status(password)
        if status == "NP":
            report.add(
                c.difference("root", where, "a password or a lock (passwd -S: P or L)", "no password (NP)"),
                why="a person decides: set root's password (passwd root) or lock it (usermod -L root)",
            )
        return report.finding("P or L", {"root": status})

    # -- 5.4.2.5 root's PATH -------------------------------------------------------------------

    def _root_path(self, ctx: Context, spec: Spec, report: Report) -> Finding:
        sources = self._path_sources(ctx)
        checked: dict[str, str] = {}
        skipped: list[str] = []
        entry_why = "edit the line: root's PATH must hold absolute directories only, no empty entry and no '.'"
        home = ctx_home(ctx)
        for where, value in sources:
            entries = value.split(":")
            for index, raw_entry in enumerate(entries):
                if raw_entry in INHERITED:
                    continue
                entry = expand_home(raw_entry, home)
                if "$" in entry or "`" in entry:
                    skipped.append(f"{entry} ({where})")
                    continue
                problem = None
                if entry == "":
                    problem = empty_entry(index, len(entries))
                elif entry == ".":
                    problem = "'.' (the current directory)"
                elif not entry.startswith("/"):
                    problem = f"the relative entry {entry!r}"
                if problem:
                    report.add(c.difference("root's PATH", where, "absolute directories only", problem), why=entry_why)
                    continue
                if entry not in checked:
                    checked[entry] = where
                    self._path_directory(ctx, entry, where, report)
        details: dict[str, t.Any] = {"sources": [where for where, _unused in sources] or ["none sets root's PATH"]}
        if skipped:
            details["entries not evaluated (they depend on variables)"] = skipped
        return report.finding(
            "absolute directories owned by root, not writable by group or others",
            {"directories": list(checked)},
            details,
        )

    @staticmethod
    def _path_sources(ctx: Context) -> list[tuple[str, str]]:
        """(where, value) of every PATH given to root: login.defs ENV_SUPATH, /etc/environment, root's dot files."""
        node = ctx.node
        found = []
        line = setting(node, "ENV_SUPATH")
        if line is not None:
            value = line.value[len("PATH=") :] if line.value.startswith("PATH=") else line.value
            found.append((db.where(LOGIN_DEFS, line.number), value))
        paths = [ENVIRONMENT] + [os.path.join(ctx_home(ctx), name) for name in ROOT_PATH_FILES]
        for path in paths:
            for number, raw in enumerate((node.read(path) or "").split("\n"), 1):
                match = PATH_LINE_RE.match(raw)
                if match and not raw.lstrip().startswith("#"):
                    found.append((db.where(path, number), _unquote(match.group(1))))
        return found

    @staticmethod
    def _path_directory(ctx: Context, entry: str, where: str, report: Report) -> None:
        node = ctx.node
        resolved = resolve(node, entry)
        item = entry if resolved in (None, entry) else f"{entry} (-> {resolved})"
        info = os.lstat(node.path(resolved)) if resolved else None
        if info is None or not stat.S_ISDIR(info.st_mode):
            actual = "absent" if info is None else "not a directory"
            report.add(
                c.difference(item, where, "a directory", actual),
                why="remove the entry from the line or create the directory by hand",
            )
            return
        mode = stat.S_IMODE(info.st_mode)
        bad_mode, bad_owner = bool(mode & 0o022), info.st_uid != 0
        if not (bad_mode or bad_owner):
            return
        action = attributes_action(
            node,
            f"accounts:path-directory:{resolved}",
            resolved,
            info,
            mode & ~0o022 if bad_mode else None,
            0 if bad_owner else None,
            None,
        )
        if bad_owner:
            report.add(c.difference(item, f"owner ({where})", "root", ctx.owner(info.st_uid)), action=action)
        if bad_mode:
            report.add(
                c.difference(item, f"mode ({where})", "no write for group or others", f"{mode:04o}"), action=action
            )

    # -- 5.4.2.6 root's umask ------------------------------------------------------------------

    @staticmethod
    def _root_umask(ctx: Context, spec: Spec, report: Report) -> Finding:
        node = ctx.node
        wanted = f"{spec.umask:04o}"
        seen: dict[str, str] = {}
        unknown: list[str] = []
        for name in ROOT_UMASK_FILES:
            path = os.path.join(ctx_home(ctx), name)
            text = node.read(path)
            if text is None:
                continue
            lines = text.split("\n")
            weak = []
            for index, raw in enumerate(lines):
                match = UMASK_LINE_RE.match(raw)
                if not match or match.group(2).startswith("-"):
                    continue
                where = db.where(path, index + 1)
                mask = umask_value(match.group(2))
                seen[where] = match.group(2)
                if mask is None:
                    unknown.append(f"{where}: umask {match.group(2)}")
                elif mask & HOME_MASK != HOME_MASK:
                    lines[index] = match.group(1) + wanted + raw[match.end(2) :]
                    weak.append(c.difference("root's umask", where, f"{wanted} or stricter", match.group(2)))
            if weak and os.path.islink(node.path(path)):
                for difference in weak:
                    report.add(difference, why=f"{path} is a symbolic link: set the umask in the file it points to")
            elif weak:
                # root's own files, and only stricter: done even when root is protected (see the module's doc).
                action = write_action(node, path, "\n".join(lines), stat.S_IMODE(os.stat(node.path(path)).st_mode))
                action.key = f"accounts:root-umask:{path}"
                for difference in weak:
                    report.add(difference, action=action)
        details = {"umask not evaluated (relative or unknown)": unknown} if unknown else {}
        return report.finding(f"{wanted} or stricter", {"umask lines": seen}, details)

    # -- 5.4.2.7 and 5.4.2.8 system accounts ---------------------------------------------------

    @staticmethod
    def _system_accounts_nologin(ctx: Context, spec: Spec, report: Report) -> Finding:
        listed = []
        for user in ctx.files.users:
            system = user.uid < ctx.uid_min or user.uid == NOBODY_UID
            if not system or user.name in SHELL_EXEMPT or not ctx.files.has_valid_shell(user):
                continue
            listed.append(user.name)
            action = command_action(
                ctx.node,
                f"accounts:shell:{user.name}",
                f"set the shell of {user.name} to {spec.shell}",
                ["usermod", "-s", spec.shell, user.name],
                ["usermod", "-s", user.shell, user.name],
                state_diff(f"shell of {user.name}", f"{user.shell}\n", f"{spec.shell}\n"),
            )
            report.add(
                c.difference(user.name, user.where, f"no login shell ({spec.shell})", user.login_shell),
                account=user.name,
                action=action,
            )
            if user.name not in report.protected:
                ctx.planned_shells[user.name] = spec.shell
        return report.finding(
            f"system accounts (UID below {ctx.uid_min}) without a login shell", {"with a login shell": listed}
        )

    @staticmethod
    def _nologin_accounts_locked(ctx: Context, spec: Spec, report: Report) -> Finding:
        valid = ctx.files.valid_shells()
        listed = []
        for user in ctx.files.users:
            shell = ctx.planned_shells.get(user.name, user.login_shell)
            if user.name == "root" or shell in valid:
                continue
            password, where = ctx.files.password(user)
            status = db.password_status(password)
            if status == "L":
                continue
            listed.append(user.name)
            undo = ["passwd", "-d", user.name] if password == "" else ["usermod", "-U", user.name]
            action = command_action(
                ctx.node,
                f"accounts:lock:{user.name}",
                f"lock the password of {user.name}",
                ["usermod", "-L", user.name],
                undo,
                state_diff(f"password of {user.name}", f"{describe_password(password)}\n", "locked\n"),
            )
            report.add(
                c.difference(user.name, where, "locked (passwd -S: L)", f"{status}, shell {shell}"),
                account=user.name,
                action=action,
            )
        return report.finding("accounts without a login shell are locked", {"not locked": listed})

    # -- 7.2.1 to 7.2.4 ------------------------------------------------------------------------

    @staticmethod
    def _shadowed_passwords(ctx: Context, spec: Spec, report: Report) -> Finding:
        bad = [u for u in ctx.files.users if u.password != "x"]
        protected = [u.name for u in bad if u.name in report.protected]
        action = None
        if bad and not protected:
            action = restore_files_action(
                ctx.node,
                "accounts:pwconv",
                "move passwords to /etc/shadow (pwconv)",
                ["pwconv"],
                (db.PASSWD, db.SHADOW),
            )
        why = ""
        if protected:
            why = (
                f"pwconv rewrites every account at once, and {', '.join(protected)} is {PROTECTED}: run pwconv by hand"
            )
        for user in bad:
            report.add(
                c.difference(
                    user.name, user.where, "x (the password in /etc/shadow)", describe_password(user.password)
                ),
                action=action,
                why=why,
            )
        return report.finding("x in every password field", {"not shadowed": [u.name for u in bad]})

    @staticmethod
    def _no_empty_passwords(ctx: Context, spec: Spec, report: Report) -> Finding:
        empty = [s for s in ctx.files.shadows if s.password == ""]
        for entry in empty:
            report.add(
                c.difference(entry.name, entry.where, "a password or a lock", "empty"),
                why=(
                    "an account anyone can log in to without a password: a person decides whether to set a password "
                    "(passwd NAME), lock it (usermod -L NAME) or remove it"
                ),
            )
        return report.finding("no empty password field", {"empty": [s.name for s in empty]})

    @staticmethod
    def _groups_exist(ctx: Context, spec: Spec, report: Report) -> Finding:
        gids = {g.gid for g in ctx.files.groups}
        missing = [u for u in ctx.files.users if u.gid not in gids]
        for user in missing:
            report.add(
                c.difference(user.name, user.where, f"a GID of {db.GROUP}", f"GID {user.gid}"),
                why="create the group (groupadd -g GID NAME) or give the account an existing one (usermod -g)",
            )
        return report.finding(f"every primary group exists in {db.GROUP}", {"missing": [u.name for u in missing]})

    def _shadow_group_empty(self, ctx: Context, spec: Spec, report: Report) -> Finding:
        group = ctx.files.group("shadow")
        if group is None:
            return report.finding("no members", {"shadow": None}, {"shadow group": "absent"})
        for member in group.members:
            action = command_action(
                ctx.node,
                f"accounts:shadow-member:{member}",
                f"remove {member} from the group shadow",
                ["gpasswd", "-d", member, "shadow"],
                ["gpasswd", "-a", member, "shadow"],
                state_diff(f"groups of {member}", "shadow\n", "\n"),
            )
            report.add(
                c.difference(member, group.where, "not a member of shadow", "member"), account=member, action=action
            )
        primary = [u for u in ctx.files.users if u.gid == group.gid]
        for user in primary:
            report.add(
                c.difference(user.name, user.where, "a primary group other than shadow", "shadow"),
                why=(
                    "an account whose primary group is shadow can read /etc/shadow: give it another primary group "
                    "(usermod -g); this run never changes an account's primary group"
                ),
            )
        return report.finding(
            "no members and no one's primary group",
            {"members": list(group.members), "primary group of": [u.name for u in primary]},
        )

    # -- 7.2.5 to 7.2.8: duplicates ------------------------------------------------------------

    @staticmethod
    def _duplicates(report: Report, records: list, key: t.Callable[[t.Any], t.Any], what: str, why: str) -> list:
        by_key: dict[t.Any, list] = {}
        for record in records:
            by_key.setdefault(key(record), []).append(record)
        shared = [group for group in by_key.values() if len(group) > 1]
        for group in shared:
            for record in group:
                others = ", ".join(f"{o.name} ({o.where})" for o in group if o is not record)
                report.add(
                    c.difference(
                        record.name, record.where, f"a {what} of its own", f"{what} {key(record)}, as {others}"
                    ),
                    why=why,
                )
        return [key(group[0]) for group in shared]

    def _unique_uids(self, ctx: Context, spec: Spec, report: Report) -> Finding:
        why = "accounts sharing a UID own each other's files: give each its own UID (usermod -u)"
        shared = self._duplicates(report, ctx.files.users, lambda u: u.uid, "UID", why)
        return report.finding("no UID used twice", {"shared UIDs": shared})

    def _unique_gids(self, ctx: Context, spec: Spec, report: Report) -> Finding:
        why = "groups sharing a GID share their files: give each its own GID (groupmod -g)"
        shared = self._duplicates(report, ctx.files.groups, lambda g: g.gid, "GID", why)
        return report.finding("no GID used twice", {"shared GIDs": shared})

    def _unique_user_names(self, ctx: Context, spec: Spec, report: Report) -> Finding:
        why = "only the first line of a name counts: a person merges or renames the accounts"
        shared = self._duplicates(report, ctx.files.users, lambda u: u.name, "name", why)
        return report.finding("no user name used twice", {"duplicate names": shared})

    def _unique_group_names(self, ctx: Context, spec: Spec, report: Report) -> Finding:
        why = "only the first line of a group name counts: a person merges or renames the groups"
        shared = self._duplicates(report, ctx.files.groups, lambda g: g.name, "name", why)
        return report.finding("no group name used twice", {"duplicate names": shared})

    # -- 7.2.9 and 7.2.10: homes and dot files -------------------------------------------------

    @staticmethod
    def _homes(ctx: Context) -> dict[str, list[str]]:
        homes: dict[str, list[str]] = {}
        for user in ctx.interactive_users():
            if user.home.startswith("/"):
                homes.setdefault(os.path.normpath(user.home), []).append(user.name)
        return homes

    def _home_directories(self, ctx: Context, spec: Spec, report: Report) -> Finding:
        node = ctx.node
        homes = self._homes(ctx)
        shown: dict[str, str] = {}
        for user in ctx.interactive_users():
            guard = _home_guard(user, homes)
            home = os.path.normpath(user.home) if user.home.startswith("/") else user.home
            try:
                info = os.lstat(node.path(home)) if home.startswith("/") else None
            except FileNotFoundError:
                info = None
            if info is None or not stat.S_ISDIR(info.st_mode):
                actual = (
                    "absent" if info is None else ("a symbolic link" if stat.S_ISLNK(info.st_mode) else "no directory")
                )
                shown[user.name] = f"{home or '(empty)'}: {actual}"
                report.add(
                    c.difference(user.name, f"{user.where}: home {home or '(empty)'}", "a directory", actual),
                    why=(
                        "this run never creates, moves or deletes a home: create it (mkhomedir_helper NAME) "
                        "or give the account an existing one (usermod -d)"
                    ),
                )
                continue
            mode = stat.S_IMODE(info.st_mode)
            shown[user.name] = f"{home}: {mode:04o} {ctx.owner(info.st_uid)}"
            bad_mode, bad_owner = bool(mode & HOME_MASK), info.st_uid != user.uid
            if not (bad_mode or bad_owner):
                continue
            action = None
            if guard is None:
                action = attributes_action(
                    node,
                    f"accounts:home:{user.name}",
                    home,
                    info,
                    mode & ~HOME_MASK if bad_mode else None,
                    user.uid if bad_owner else None,
                    None,
                )
            if bad_owner:
                report.add(
                    c.difference(user.name, f"{user.where}: owner of {home}", user.name, ctx.owner(info.st_uid)),
                    account=user.name,
                    action=action,
                    why=guard or "",
                )
            if bad_mode:
                report.add(
                    c.difference(
                        user.name,
                        f"{user.where}: mode of {home}",
                        f"{mode & ~HOME_MASK:04o} or stricter",
                        f"{mode:04o}",
                    ),
                    # Taking group and other bits off a home locks nobody out (sshd wants no more):
                    # done for a protected account too, unless the same change would also chown.
                    account=user.name if bad_owner else None,
                    action=action,
                    why=guard or "",
                )
        return report.finding("homes exist, belong to their users and are 0750 or stricter", shown)

    def _dot_files(self, ctx: Context, spec: Spec, report: Report) -> Finding:
        node = ctx.node
        homes = self._homes(ctx)
        counted = 0
        netrc: list[str] = []
        not_walked: list[str] = []
        for user in ctx.interactive_users():
            guard = _home_guard(user, homes)
            home = os.path.normpath(user.home) if user.home.startswith("/") else ""
            if guard is not None or not os.path.isdir(node.path(home)) or os.path.islink(node.path(home)):
                not_walked.append(guard or f"{user.name}'s home {user.home or '(empty)'} is no directory")
                continue
            for path, info in self._dot_entries(node, home):
                counted += 1
                name = os.path.basename(path)
                if name == ".netrc":
                    netrc.append(path)
                if os.path.dirname(path) == home and name in FORWARDING_FILES:
                    self._forwarding(ctx, spec, report, user, home, name, info)
                    continue
                self._dot_attributes(ctx, report, user, path, info)
        details: dict[str, t.Any] = {"dot files checked": counted}
        if netrc:
            details[".netrc files (passwords in clear text: review them)"] = netrc
        if not_walked:
            details["homes not walked"] = not_walked
        return report.finding(
            "no .forward or .rhosts; dot files owned by their user and group, .netrc and .bash_history 0600, "
            "others 0644 or stricter",
            {"dot files": counted},
            details,
        )

    @staticmethod
    def _dot_entries(node: Node, home: str) -> list[tuple[str, os.stat_result]]:
        """Regular files named .* anywhere in the home, on its filesystem, links not followed."""
        top = node.path(home)
        device = os.lstat(top).st_dev
        found = []
        for folder, dirs, names in os.walk(top):
            kept = []
            for name in sorted(dirs):
                try:
                    if os.lstat(os.path.join(folder, name)).st_dev == device:
                        kept.append(name)
                except FileNotFoundError:
                    continue
            dirs[:] = kept
            for name in sorted(names):
                if not name.startswith("."):
                    continue
                try:
                    info = os.lstat(os.path.join(folder, name))
                except FileNotFoundError:
                    continue
                if stat.S_ISREG(info.st_mode):
                    relative = os.path.relpath(os.path.join(folder, name), top)
                    found.append((os.path.join(home, relative), info))
        return found

    @staticmethod
    def _forwarding(
        ctx: Context, spec: Spec, report: Report, user: db.User, home: str, name: str, info: os.stat_result
    ) -> None:
        path = os.path.join(home, name)
        action = None
        why = f"{name} sends mail on or lets hosts in: remove it by hand, or set remove_forward_rhosts"
        if spec.remove_forward_rhosts:
            if info.st_nlink > 1 or info.st_size > MAX_KEPT:
                why = f"{path} has other links or is too large to keep for undo: remove it by hand"
            else:
                content = read_same(ctx.node, path, (info.st_dev, info.st_ino))
                action = remove_action(ctx.node, f"accounts:remove:{user.name}:{path}", home, name, info, content)
        report.add(
            c.difference(user.name, f"{user.where}: {path}", "absent", "present"),
            account=user.name,
            action=action,
            why=why if action is None else "",
        )

    @staticmethod
    def _dot_attributes(ctx: Context, report: Report, user: db.User, path: str, info: os.stat_result) -> None:
        mask = STRICT_MASK if os.path.basename(path) in STRICT_DOT_FILES else DOT_MASK
        mode = stat.S_IMODE(info.st_mode)
        bad_mode = bool(mode & mask)
        bad_owner, bad_group = info.st_uid != user.uid, info.st_gid != user.gid
        if not (bad_mode or bad_owner or bad_group):
            return
        action = None
        why = ""
        if info.st_nlink > 1:
            why = f"{path} has {info.st_nlink} links: a person looks at what it is before changing it"
        else:
            action = attributes_action(
                ctx.node,
                f"accounts:dot-file:{user.name}:{path}",
                path,
                info,
                mode & ~mask if bad_mode else None,
                user.uid if bad_owner else None,
                user.gid if bad_group else None,
            )
        if bad_mode:
            expected = f"{0o777 & ~mask:04o} or stricter"
            report.add(
                c.difference(user.name, f"{user.where}: mode of {path}", expected, f"{mode:04o}"),
                # Stricter modes alone lock nobody out: done for a protected account too.
                account=user.name if bad_owner or bad_group else None,
                action=action,
                why=why,
            )
        if bad_owner:
            report.add(
                c.difference(user.name, f"{user.where}: owner of {path}", user.name, ctx.owner(info.st_uid)),
                account=user.name,
                action=action,
                why=why,
            )
        if bad_group:
            report.add(
                c.difference(
                    user.name, f"{user.where}: group of {path}", ctx.group_name(user.gid), ctx.group_name(info.st_gid)
                ),
                account=user.name,
                action=action,
                why=why,
            )

    # -- 5.4.1.x: password ageing --------------------------------------------------------------

    @staticmethod
    def _password_change_in_past(ctx: Context, spec: Spec, report: Report) -> Finding:
        future = [s for s in ctx.files.shadows if s.last_change is not None and s.last_change > ctx.today]
        for entry in future:
            report.add(
                c.difference(entry.name, entry.where, f"a day up to today ({day(ctx.today)})", day(entry.last_change)),
                why=(
                    "a person decides: set the date of the last change (chage -d YYYY-MM-DD NAME) or make the user "
                    "change the password at the next login (passwd --expire NAME)"
                ),
            )
        return report.finding(
            f"last password change on or before {day(ctx.today)}", {"in the future": [s.name for s in future]}
        )

    @staticmethod
    def _ageing_existing_users(ctx: Context, spec: Spec, report: Report) -> Finding:
        shown: dict[str, str] = {}
        for user in ctx.interactive_users():
            entry = ctx.files.shadow(user.name)
            if entry is None or not re.match(r"^\$.+\$", entry.password):
                continue  # no password to age: key logins and locked accounts
            shown[user.name] = f"max {entry.max_days}, warn {entry.warn_days}"
            max_ok = entry.max_days is not None and 1 <= entry.max_days <= spec.max_days
            warn_ok = entry.warn_days is not None and entry.warn_days >= spec.warn_days
            if max_ok and warn_ok:
                continue
            argv, undo = ["chage"], ["chage"]
            if not max_ok:
                argv += ["--maxdays", str(spec.max_days)]
                undo += ["--maxdays", str(-1 if entry.max_days is None else entry.max_days)]
            if not warn_ok:
                argv += ["--warndays", str(spec.warn_days)]
                undo += ["--warndays", str(-1 if entry.warn_days is None else entry.warn_days)]
            why = ""
            action = None
            expires_now = (
                not max_ok and entry.last_change is not None and entry.last_change + spec.max_days <= ctx.today
            )
            if expires_now:
                why = (
                    f"a maximum age of {spec.max_days} days would expire {user.name}'s password at once (last changed "
                    f"{day(entry.last_change)}), and an expired password stops key logins too: change it first"
                )
            else:
                action = command_action(
                    ctx.node,
                    f"accounts:ageing:{user.name}",
                    f"set the password ageing of {user.name} ({' '.join(argv[1:])})",
                    [*argv, user.name],
                    [*undo, user.name],
                    state_diff(
                        f"password ageing of {user.name}",
                        f"max {entry.max_days}, warn {entry.warn_days}\n",
                        f"max {spec.max_days if not max_ok else entry.max_days}, "
                        f"warn {spec.warn_days if not warn_ok else entry.warn_days}\n",
                    ),
                )
            if not max_ok:
                report.add(
                    c.difference(user.name, f"{entry.where}: maximum days", f"1 to {spec.max_days}", entry.max_days),
                    account=user.name,
                    action=action,
                    why=why,
                )
            if not warn_ok:
                report.add(
                    c.difference(
                        user.name, f"{entry.where}: warning days", f"{spec.warn_days} or more", entry.warn_days
                    ),
                    account=user.name,
                    action=action,
                    why=why,
                )
        return report.finding(
            {"maximum days": f"1 to {spec.max_days}", "warning days": f"{spec.warn_days} or more"},
            shown,
            {"judged": "interactive users with a password; root, system accounts and key-only accounts are left alone"},
        )


def ctx_home(ctx: Context) -> str:
    """root's home directory as /etc/passwd gives it (/root when it does not)."""
    root = ctx.files.user("root")
    return os.path.normpath(root.home) if root is not None and root.home.startswith("/") else "/root"
