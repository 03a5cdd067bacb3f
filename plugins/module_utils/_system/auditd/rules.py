# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The audit rule language: what auditctl reads in a rules file, checked before anything is
written, and the normal form in which a rule is compared with what C(auditctl -l) prints.

The normal form absorbs how auditctl prints rules: C(-k) as C(-F key=), syscalls merged and
reordered, C(unset) as C(-1), C(-C euid!=uid) as C(uid!=euid), C(-S all) added, trailing slashes
dropped.
"""

from __future__ import annotations

import errno
import re
import typing as t
from dataclasses import dataclass

# What auditctl reads in a rules file.
LISTS = ("task", "exit", "user", "exclude", "filesystem", "io_uring")
RULE_ACTIONS = ("always", "never")
FIELDS = frozenset(
    {
        "a0",
        "a1",
        "a2",
        "a3",
        "arch",
        "auid",
        "loginuid",
        "devmajor",
        "devminor",
        "dir",
        "egid",
        "euid",
        "exe",
        "exit",
        "fsgid",
        "fstype",
        "fsuid",
        "filetype",
        "gid",
        "inode",
        "key",
        "msgtype",
        "path",
        "perm",
        "pers",
        "pid",
        "ppid",
        "saddr_fam",
        "sessionid",
        "sgid",
        "subj_user",
        "subj_role",
        "subj_type",
        "subj_sen",
        "subj_clr",
        "obj_user",
        "obj_role",
        "obj_type",
        "obj_lev_low",
        "obj_lev_high",
        "obj_uid",
        "obj_gid",
        "success",
        "suid",
        "uid",
    }
)
ID_FIELDS = frozenset({"auid", "uid", "euid", "suid", "fsuid", "obj_uid", "gid", "egid", "sgid", "fsgid", "obj_gid"})
COMPARABLE = ID_FIELDS  # -C compares two id fields
_FIELD_RE = re.compile(r"^([a-z_0-9]+)(!=|>=|<=|&=|=|>|<|&)(.+)$")
_KEY_RE = re.compile(r"^[!-~]{1,31}$")
_SYSCALL_RE = re.compile(r"^[a-z_][a-z0-9_]*$")
ARCH = {
    "b64": "b64",
    "b32": "b32",
    "x86_64": "b64",
    "amd64": "b64",
    "aarch64": "b64",
    "ppc64": "b64",
    "ppc64le": "b64",
    "s390x": "b64",
    "i386": "b32",
    "i686": "b32",
    "arm": "b32",
    "armeb": "b32",
    "armv7l": "b32",
    "ppc": "b32",
    "s390": "b32",
}
SETTINGS = {"-b": "backlog_limit", "-f": "failure", "-r": "rate_limit", "--backlog_wait_time": "backlog_wait_time"}
_REFUSED = {
    "-D": "deletes every rule",
    "-d": "deletes rules",
    "-W": "deletes a watch",
    "-e": "is set by the immutable spec (-e 0 switches auditing off)",
    "-R": "reads another file",
    "-c": "is not a rule",
    "-i": "is not a rule",
    "-l": "is not a rule",
    "-s": "is not a rule",
    "-t": "is not a rule",
    "-q": "is not a rule",
    "--loginuid-immutable": "can break containers that set their own login uid",
}


class RuleError(ValueError):
    """A line auditctl would not load, or that this family will not write."""


@dataclass(frozen=True)
class Rule:
    """One audit rule: its text for the file, the normal form compared with C(auditctl -l)."""

    text: str
    norm: tuple
    kind: str  # watch, syscall, setting
    path: str | None = None  # watched path (-w, or -F path=/dir=) whose parent must exist
    arch: str | None = None
    syscalls: tuple[str, ...] = ()


def _perms(value: str) -> str:
    return "".join(p for p in "rwxa" if p in value)


def _strip(path: str) -> str:
    return path.rstrip("/") or "/"


def _field_value(name: str, op: str, value: str, strict: bool) -> str:
    if name == "loginuid":
        name = "auid"
    if name == "arch":
        if value not in ARCH:
            raise RuleError(f"arch {value!r} is not b32, b64 or a machine name")
        return ARCH[value]
    if name in ID_FIELDS:
        if value in ("unset", "-1", "4294967295"):
            return "unset"
        if not re.fullmatch(r"-?[0-9]+", value):
            if strict:
                raise RuleError(f"{name} takes a number or unset, not {value!r}")
            return value
        return str(int(value))
    if name in ("a0", "a1", "a2", "a3"):
        try:
            return hex(int(value, 0))
        except ValueError as exc:
            raise RuleError(f"{name} takes a number, not {value!r}") from exc
    if name in ("path", "dir"):
        if not value.startswith("/"):
            raise RuleError(f"{name} must be an absolute path, not {value!r}")
        return _strip(value)
    if name == "perm":
        if not re.fullmatch(r"[rwxa]+", value):
            raise RuleError(f"perm takes letters of rwxa, not {value!r}")
        return _perms(value)
    if name == "exit":
        if re.fullmatch(r"-?[0-9]+", value):
            number = int(value)
            code = errno.errorcode.get(abs(number))
            return f"{'-' if number < 0 else ''}{code}" if code and number else value
        if value.lstrip("-") not in errno.errorcode.values():
            raise RuleError(f"exit takes a number or an errno name such as -EACCES, not {value!r}")
        return value
    if name == "success" and value not in ("0", "1") and strict:
        raise RuleError(f"success takes 0 or 1, not {value!r}")
    return value


def parse_rule(line: str, *, strict: bool = True) -> Rule:
    """Read one rule as auditctl would; C(strict) also refuses what this family never writes."""
    tokens = line.split()
    if not tokens:
        raise RuleError("empty rule")
    first = tokens[0]
    if first in SETTINGS or (first == "-e" and not strict):
        if len(tokens) != 2 or not tokens[1].isdigit():
            raise RuleError(f"{first} takes one number")
        if first == "-f" and tokens[1] not in ("0", "1", "2"):
            raise RuleError("-f takes 0, 1 or 2")
        if strict and first == "-f" and tokens[1] == "2":
            raise RuleError("-f 2 panics the kernel when audit records are lost; use 0 or 1")
        name = "enabled" if first == "-e" else SETTINGS[first]
        return Rule(" ".join(tokens), ("setting", name, tokens[1]), "setting")
    if first in _REFUSED:
        raise RuleError(f"{first} {_REFUSED[first]}")
    if first == "-w":
        return _parse_watch(tokens, strict)
    if first in ("-a", "-A"):
        return _parse_syscall(tokens, strict)
    raise RuleError(f"a rule starts with -a, -A, -w, -b, -f, -r or --backlog_wait_time, not {first!r}")


def _pairs(tokens: list[str]) -> t.Iterator[tuple[str, str]]:
    if len(tokens) % 2:
        raise RuleError(f"{tokens[-1]!r} has no value")
    for i in range(0, len(tokens), 2):
        yield tokens[i], tokens[i + 1]


def _key(value: str, strict: bool) -> str:
    if strict and not _KEY_RE.match(value):
        raise RuleError(f"key {value!r} must be 1 to 31 printable characters without spaces")
    return value


def _parse_watch(tokens: list[str], strict: bool) -> Rule:
    if len(tokens) < 2 or not tokens[1].startswith("/"):
        raise RuleError("-w takes an absolute path")
    path = tokens[1]
    if _strip(path) == "/":
        raise RuleError("the kernel refuses a watch on /")
    perms, keys = None, []
    for option, value in _pairs(tokens[2:]):
        if option == "-p":
            if not re.fullmatch(r"[rwxa]+", value):
                raise RuleError(f"-p takes letters of rwxa, not {value!r}")
            perms = value
        elif option == "-k":
            keys.append(_key(value, strict))
        else:
            raise RuleError(f"a watch takes only -p and -k, not {option}")
    norm = ("w", _strip(path), _perms(perms or "rwxa"), tuple(sorted(keys)))
    return Rule(" ".join(tokens), norm, "watch", path=path)


def _parse_syscall(tokens: list[str], strict: bool) -> Rule:
    if len(tokens) < 2:
        raise RuleError(f"{tokens[0]} takes list,action such as always,exit")
    parts = tokens[1].split(",")
    lists = [p for p in parts if p in LISTS]
    actions = [p for p in parts if p in RULE_ACTIONS]
    if len(parts) != 2 or len(lists) != 1 or len(actions) != 1:
        raise RuleError(f"{tokens[1]!r} is not list,action (lists: {', '.join(LISTS)}; actions: always, never)")
    rule_list, action = lists[0], actions[0]
    syscalls: list[str] = []
    fields: list[tuple[str, str, str]] = []
    compares: list[tuple[str, str, str]] = []
    keys: list[str] = []
    arch = None
    for option, value in _pairs(tokens[2:]):
        if option == "-S":
            if rule_list not in ("exit", "io_uring"):
                raise RuleError(f"-S needs the exit list, not {rule_list}")
            for name in value.split(","):
                if strict and not (_SYSCALL_RE.match(name)):
                    raise RuleError(f"syscall {name!r} is not a name (numbers differ between architectures)")
                syscalls.append(name)
        elif option == "-F":
            match = _FIELD_RE.match(value)
            if not match:
                raise RuleError(f"-F {value!r} is not field, operator, value")
            name, op, raw = match.groups()
            if name not in FIELDS and strict:
                raise RuleError(f"-F {name} is not a field auditctl knows")
            if name == "key":
                keys.append(_key(raw, strict))
                continue
            normal = _field_value(name, op, raw, strict)
            if name == "arch":
                arch = normal
            fields.append(("auid" if name == "loginuid" else name, op, normal))
        elif option == "-C":
            match = re.fullmatch(r"([a-z_]+)(!=|=)([a-z_]+)", value)
            if not match or (strict and not {match.group(1), match.group(3)} <= COMPARABLE):
                raise RuleError(f"-C {value!r} is not two id fields compared with = or !=")
            left, op, right = match.groups()
            compares.append((*sorted((left, right)), op))
        elif option == "-k":
            keys.append(_key(value, strict))
        else:
            raise RuleError(f"{option} is not an option of a rule (-S, -F, -C, -k)")
    names = {f[0] for f in fields}
    path = next((f[2] for f in fields if f[0] in ("path", "dir")), None)
    if (
        rule_list == "exit"
        and action == "always"
        and set(syscalls) <= {"all"}
        and not compares
        and names in ({"path", "perm"}, {"dir", "perm"})
    ):
        # auditctl -l prints such a rule as the watch it is.
        perm = next(f[2] for f in fields if f[0] == "perm")
        norm: tuple = ("w", path, perm, tuple(sorted(keys)))
    else:
        every = "all" in syscalls or (not syscalls and rule_list == "exit")
        called = ("all",) if every else tuple(sorted(set(syscalls)))
        norm = (
            "a",
            f"{action},{rule_list}",
            called,
            tuple(sorted(fields)),
            tuple(sorted(compares)),
            tuple(sorted(keys)),
        )
    return Rule(
        " ".join(tokens), norm, "syscall", path=path, arch=arch, syscalls=tuple(s for s in syscalls if s != "all")
    )


def without_syscalls(rule: Rule, drop: set[str]) -> Rule | None:
    """The rule without some syscalls (None when none is left)."""
    tokens = rule.text.split()
    out = tokens[:2]
    for option, value in _pairs(tokens[2:]):
        if option == "-S":
            kept = [name for name in value.split(",") if name not in drop]
            if kept:
                out += ["-S", ",".join(kept)]
        else:
            out += [option, value]
    if not any(token == "-S" for token in out[2:]):
        return None
    return parse_rule(" ".join(out))
