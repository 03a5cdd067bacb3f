# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The local account files (/etc/passwd, /etc/shadow, /etc/group, /etc/gshadow, /etc/shells) as typed records.

The account controls judge what these files say, not what NSS (getent) answers: the benchmark's
audits read the files, and accounts of a directory service are not this node's to change. Every
record keeps its line number, so a finding can say where it is (C(/etc/passwd line 12)). A line
that does not parse (a wrong number of fields, an ID that is no number, a NIS C(+) entry) is kept
apart as malformed, never guessed at. The files are read once per inspection (C(node.cached)).
"""

from __future__ import annotations

import os
import typing as t
from dataclasses import dataclass, field

from ansible_collections.nodeguard.hardening.plugins.module_utils._system.node import Node

PASSWD = "/etc/passwd"
SHADOW = "/etc/shadow"
GROUP = "/etc/group"
GSHADOW = "/etc/gshadow"
SHELLS = "/etc/shells"
# What getusershell(3) answers when /etc/shells does not exist.
DEFAULT_SHELLS = ("/bin/sh", "/bin/csh")
# Shells that exist to refuse a login; never a valid login shell, even when /etc/shells lists them.
REFUSING_SHELLS = ("nologin", "false")
# login(1) and sshd run /bin/sh for an account whose shell field is empty.
EMPTY_SHELL = "/bin/sh"
CACHE_KEY = "access:account-files"


def where(path: str, line: int) -> str:
    """How a finding names a record's place: C(/etc/passwd line 12)."""
    return f"{path} line {line}"


@dataclass(frozen=True)
class User:
    """One line of /etc/passwd."""

    name: str
    password: str
    uid: int
    gid: int
    gecos: str
    home: str
    shell: str
    line: int

    @property
    def where(self) -> str:
        return where(PASSWD, self.line)

    @property
    def login_shell(self) -> str:
        """The program a login runs: the shell field, or /bin/sh when it is empty."""
        return self.shell or EMPTY_SHELL


@dataclass(frozen=True)
class ShadowEntry:
    """One line of /etc/shadow; ageing fields are days (None: empty)."""

    name: str
    password: str
    last_change: int | None
    min_days: int | None
    max_days: int | None
    warn_days: int | None
    inactive_days: int | None
    expire: int | None
    line: int

    @property
    def where(self) -> str:
        return where(SHADOW, self.line)


@dataclass(frozen=True)
class Group:
    """One line of /etc/group."""

    name: str
    password: str
    gid: int
    members: tuple[str, ...]
    line: int

    @property
    def where(self) -> str:
        return where(GROUP, self.line)


@dataclass(frozen=True)
class GroupShadow:
    """One line of /etc/gshadow."""

    name: str
    password: str
    admins: tuple[str, ...]
    members: tuple[str, ...]
    line: int

    @property
    def where(self) -> str:
        return where(GSHADOW, self.line)


@dataclass(frozen=True)
class Malformed:
    """A line that does not parse; reported as it is, never interpreted."""

    path: str
    line: int
    text: str
    why: str

    @property
    def where(self) -> str:
        return where(self.path, self.line)


def password_status(password: str) -> str:
    """What C(passwd -S) calls a password field: L (locked: starts with ! or *), NP (empty) or P."""
    if password[:1] in ("!", "*"):
        return "L"
    return "NP" if password == "" else "P"


@dataclass
class AccountFiles:
    """Everything the account controls read, in file order (duplicates kept: some controls look for them)."""

    users: list[User] = field(default_factory=list)
    shadows: list[ShadowEntry] = field(default_factory=list)
    groups: list[Group] = field(default_factory=list)
    gshadows: list[GroupShadow] = field(default_factory=list)
    malformed: list[Malformed] = field(default_factory=list)
    # Files that do not exist (a missing /etc/gshadow is legal; a missing /etc/passwd is not).
    missing: list[str] = field(default_factory=list)
    # The lines of /etc/shells naming a program; None when the file does not exist.
    shells: tuple[str, ...] | None = None

    def user(self, name: str) -> User | None:
        """The first passwd line of an account: the one every tool uses."""
        return next((u for u in self.users if u.name == name), None)

    def user_by_uid(self, uid: int) -> User | None:
        return next((u for u in self.users if u.uid == uid), None)

    def shadow(self, name: str) -> ShadowEntry | None:
        return next((s for s in self.shadows if s.name == name), None)

    def group(self, name: str) -> Group | None:
        return next((g for g in self.groups if g.name == name), None)

    def group_by_gid(self, gid: int) -> Group | None:
        return next((g for g in self.groups if g.gid == gid), None)

    def password(self, user: User) -> tuple[str, str]:
        """(password field, where it is): the shadow entry's when there is one, as passwd -S reads it."""
        entry = self.shadow(user.name)
        if entry is not None:
            return entry.password, entry.where
        return user.password, user.where

    def status(self, user: User) -> str:
        return password_status(self.password(user)[0])

    def valid_shells(self) -> tuple[str, ...]:
        """Login shells as the benchmark counts them: /etc/shells without nologin and false."""
        listed = self.shells if self.shells is not None else DEFAULT_SHELLS
        return tuple(s for s in listed if os.path.basename(s) not in REFUSING_SHELLS)

    def has_valid_shell(self, user: User) -> bool:
        return user.login_shell in self.valid_shells()


def _lines(text: str) -> t.Iterator[tuple[int, str]]:
    """Numbered lines that hold a record: blank lines and comments are passed over."""
    for number, raw in enumerate(text.split("\n"), 1):
        line = raw.rstrip("\r")
        if line.strip() and not line.lstrip().startswith("#"):
            yield number, line


def _number(value: str) -> int | None:
    """An ageing field: None when empty, the number otherwise; ValueError when it is no number."""
    return None if value == "" else int(value)


def _names(value: str) -> tuple[str, ...]:
    return tuple(name for name in value.split(",") if name)


def parse_passwd(text: str) -> tuple[list[User], list[Malformed]]:
    users, bad = [], []
    for number, line in _lines(text):
        fields = line.split(":")
        if line[0] in "+-":
            bad.append(Malformed(PASSWD, number, line, "a NIS compat entry, which these controls do not judge"))
        elif len(fields) != 7:
            bad.append(Malformed(PASSWD, number, line, f"{len(fields)} fields instead of 7"))
        elif not (fields[2].isdigit() and fields[3].isdigit()):
            bad.append(Malformed(PASSWD, number, line, "UID or GID is not a number"))
        else:
            name, password, uid, gid, gecos, home, shell = fields
            users.append(User(name, password, int(uid), int(gid), gecos, home, shell, number))
    return users, bad


def parse_shadow(text: str) -> tuple[list[ShadowEntry], list[Malformed]]:
    entries, bad = [], []
    for number, line in _lines(text):
        fields = line.split(":")
        if len(fields) != 9:
            bad.append(Malformed(SHADOW, number, _masked(fields), f"{len(fields)} fields instead of 9"))
            continue
        try:
            ageing = [_number(value) for value in fields[2:8]]
        except ValueError:
            bad.append(Malformed(SHADOW, number, _masked(fields), "an ageing field is not a number"))
            continue
        entries.append(ShadowEntry(fields[0], fields[1], *ageing, number))
    return entries, bad


def _masked(fields: list[str]) -> str:
    """A shadow line as a report may show it: the password field is never repeated."""
    return ":".join([fields[0], "(password field)", *fields[2:]]) if len(fields) > 1 else fields[0]


def parse_group(text: str) -> tuple[list[Group], list[Malformed]]:
    groups, bad = [], []
    for number, line in _lines(text):
        fields = line.split(":")
        if line[0] in "+-":
            bad.append(Malformed(GROUP, number, line, "a NIS compat entry, which these controls do not judge"))
        elif len(fields) != 4:
            bad.append(Malformed(GROUP, number, line, f"{len(fields)} fields instead of 4"))
        elif not fields[2].isdigit():
            bad.append(Malformed(GROUP, number, line, "GID is not a number"))
        else:
            groups.append(Group(fields[0], fields[1], int(fields[2]), _names(fields[3]), number))
    return groups, bad


def parse_gshadow(text: str) -> tuple[list[GroupShadow], list[Malformed]]:
    entries, bad = [], []
    for number, line in _lines(text):
        fields = line.split(":")
        if len(fields) != 4:
            bad.append(Malformed(GSHADOW, number, _masked(fields), f"{len(fields)} fields instead of 4"))
        else:
            entries.append(GroupShadow(fields[0], fields[1], _names(fields[2]), _names(fields[3]), number))
    return entries, bad


def parse_shells(text: str) -> tuple[str, ...]:
    """The programs /etc/shells lists (lines starting with /), as getusershell(3) reads them."""
    found = []
    for raw in text.split("\n"):
        line = raw.strip()
        if line.startswith("/"):
            found.append(line.split()[0])
    return tuple(found)


def load(node: Node) -> AccountFiles:
    """Read and parse the five files (no cache: see C(account_files))."""
    found = AccountFiles()
    parsers: list[tuple[str, t.Callable[[str], tuple[list, list[Malformed]]], list]] = [
        (PASSWD, parse_passwd, found.users),
        (SHADOW, parse_shadow, found.shadows),
        (GROUP, parse_group, found.groups),
        (GSHADOW, parse_gshadow, found.gshadows),
    ]
    for path, parse, into in parsers:
        text = node.read(path)
        if text is None:
            found.missing.append(path)
            continue
        records, bad = parse(text)
        into.extend(records)
        found.malformed.extend(bad)
    shells = node.read(SHELLS)
    found.shells = parse_shells(shells) if shells is not None else None
    return found


def account_files(node: Node) -> AccountFiles:
    """The account files of the node, read once until the node forgets what it read."""
    return node.cached(CACHE_KEY, lambda: load(node))
