# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Validation of one seccomp profile against the OCI seccomp structure, as runc and containerd's
CRI read it, before it is written to a node.

Both forms pods and containers use are accepted: the OCI runtime form (C(architectures),
C(names), C(flags), C(listenerPath)) and the form containerd's CRI plugin reads for pods'
C(localhostProfile) (C(archMap), the single C(name), C(includes) and C(excludes)). Every key is
checked (a misspelt key is refused with a suggestion), every action, operator, flag and
architecture, and every system call name against the node's libseccomp: a name the node's
architecture (or an architecture the profile lists) does not have would match nothing, silently.
Every message starts with the profile's name and names the JSON path of the problem.
"""

from __future__ import annotations

import difflib
import json
import typing as t
from dataclasses import dataclass

from ansible_collections.nodeguard.hardening.plugins.module_utils import _controls as c
from ansible_collections.nodeguard.hardening.plugins.module_utils._seccomp.native import OCI_ARCHES, Syscalls

ACTIONS = (
    "SCMP_ACT_KILL",
    "SCMP_ACT_KILL_PROCESS",
    "SCMP_ACT_KILL_THREAD",
    "SCMP_ACT_TRAP",
    "SCMP_ACT_ERRNO",
    "SCMP_ACT_TRACE",
    "SCMP_ACT_ALLOW",
    "SCMP_ACT_LOG",
    "SCMP_ACT_NOTIFY",
)
# Actions that return a value to the caller: errnoRet is theirs only.
WITH_RETURN = ("SCMP_ACT_ERRNO", "SCMP_ACT_TRACE")
OPERATORS = (
    "SCMP_CMP_NE",
    "SCMP_CMP_LT",
    "SCMP_CMP_LE",
    "SCMP_CMP_EQ",
    "SCMP_CMP_GE",
    "SCMP_CMP_GT",
    "SCMP_CMP_MASKED_EQ",
)
FLAGS = (
    "SECCOMP_FILTER_FLAG_TSYNC",
    "SECCOMP_FILTER_FLAG_LOG",
    "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
    "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
)
# The short names containerd's CRI profiles use in includes/excludes.arches.
SHORT_ARCHES = (
    "386",
    "amd64",
    "arm",
    "arm64",
    "loong64",
    "mips",
    "mips64",
    "mips64le",
    "mipsle",
    "ppc",
    "ppc64",
    "ppc64le",
    "riscv64",
    "s390",
    "s390x",
    "x32",
)
TOP_KEYS = (
    "defaultAction",
    "defaultErrnoRet",
    "architectures",
    "archMap",
    "listenerPath",
    "listenerMetadata",
    "flags",
    "syscalls",
)
RULE_KEYS = ("names", "name", "action", "errnoRet", "args", "comment", "includes", "excludes")
ARG_KEYS = ("index", "value", "valueTwo", "op")
ARCH_MAP_KEYS = ("architecture", "subArchitectures")
FILTER_KEYS = ("arches", "caps", "minKernel")
UINT64 = 2**64 - 1


@dataclass(frozen=True)
class Profile:
    """A profile that passed: its name, the parsed document, its default action, its rule count."""

    name: str
    data: dict
    default_action: str
    syscall_count: int


class _Checker:
    def __init__(self, name: str, syscalls: Syscalls) -> None:
        self.name = name
        self.syscalls = syscalls

    def fail(self, path: str, message: str) -> t.NoReturn:
        where = f"{path}: " if path else ""
        raise c.ControlInputError(f"seccomp profile {self.name!r}: {where}{message}")

    def one_of(self, path: str, value: t.Any, allowed: t.Sequence[str], what: str) -> str:
        if not isinstance(value, str):
            self.fail(path, f"{what} must be a string, got {json.dumps(value)}")
        if value not in allowed:
            self.fail(path, f"unknown {what} {value!r}{suggest(value, allowed)}; known: {', '.join(allowed)}")
        return value

    def keys(self, path: str, value: t.Any, allowed: t.Sequence[str], what: str) -> dict:
        if not isinstance(value, dict):
            self.fail(path, f"{what} must be an object, got {json.dumps(value)}")
        for key in value:
            if key not in allowed:
                self.fail(path, f"unknown key {key!r}{suggest(key, allowed)}; {what} takes {', '.join(allowed)}")
        return value

    def uint(self, path: str, value: t.Any, highest: int = UINT64) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= highest:
            self.fail(path, f"must be a whole number from 0 to {highest}, got {json.dumps(value)}")
        return value

    def strings(self, path: str, value: t.Any, *, empty: bool = False) -> list[str]:
        if not isinstance(value, list) or (not value and not empty):
            self.fail(path, f"must be a {'' if empty else 'non-empty '}list of strings, got {json.dumps(value)}")
        for index, item in enumerate(value):
            if not isinstance(item, str) or not item:
                self.fail(f"{path}[{index}]", f"must be a non-empty string, got {json.dumps(item)}")
        return value

    def arch(self, path: str, value: t.Any) -> str:
        arch = self.one_of(path, value, tuple(OCI_ARCHES), "architecture")
        if not self.syscalls.arch_supported(arch):
            self.fail(path, f"{arch} is not an architecture this node's libseccomp supports")
        return arch

    def action(self, path: str, value: t.Any, errno: t.Any, errno_key: str) -> str:
        action = self.one_of(path, value, ACTIONS, "action")
        if errno is not None:
            self.uint(errno_key, errno, 2**32 - 1)
            if action not in WITH_RETURN:
                self.fail(errno_key, f"only {' and '.join(WITH_RETURN)} return a value; the action is {action}")
        return action


def suggest(value: str, allowed: t.Iterable[str]) -> str:
    close = difflib.get_close_matches(value, list(allowed), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _no_duplicates(pairs: list[tuple[str, t.Any]]) -> dict:
    seen: dict = {}
    for key, value in pairs:
        if key in seen:
            raise ValueError(f"the key {key!r} appears twice in one object")
        seen[key] = value
    return seen


def parse(name: str, text: str) -> t.Any:
    if not isinstance(text, str) or not text.strip():
        raise c.ControlInputError(f"seccomp profile {name!r}: the profile is empty")
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates)
    except json.JSONDecodeError as exc:
        raise c.ControlInputError(
            f"seccomp profile {name!r}: not valid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from exc
    except ValueError as exc:
        raise c.ControlInputError(f"seccomp profile {name!r}: {exc}") from exc


def validate(name: str, text: str, syscalls: Syscalls) -> Profile:
    """Parse and check one profile; c.ControlInputError naming the first problem."""
    check = _Checker(name, syscalls)
    data = check.keys("", parse(name, text), TOP_KEYS, "a profile")
    if "defaultAction" not in data:
        check.fail("", "defaultAction is required (for example SCMP_ACT_ERRNO)")
    default = check.action("defaultAction", data["defaultAction"], data.get("defaultErrnoRet"), "defaultErrnoRet")
    if default == "SCMP_ACT_NOTIFY":
        check.fail("defaultAction", "SCMP_ACT_NOTIFY cannot be the default action (runc refuses it)")
    arches: list[str] = []
    if "architectures" in data and "archMap" in data:
        check.fail("", "give architectures or archMap, not both (containerd refuses a profile with both)")
    if "architectures" in data:
        listed = data["architectures"]
        if not isinstance(listed, list):
            check.fail("architectures", f"must be a list, got {json.dumps(listed)}")
        arches = [check.arch(f"architectures[{i}]", arch) for i, arch in enumerate(listed)]
    if "archMap" in data:
        entries = data["archMap"]
        if not isinstance(entries, list):
            check.fail("archMap", f"must be a list, got {json.dumps(entries)}")
        for i, entry in enumerate(entries):
            path = f"archMap[{i}]"
            check.keys(path, entry, ARCH_MAP_KEYS, "an archMap entry")
            if "architecture" not in entry:
                check.fail(path, "architecture is required")
            arches.append(check.arch(f"{path}.architecture", entry["architecture"]))
            subs = check.strings(f"{path}.subArchitectures", entry.get("subArchitectures", []), empty=True)
            arches += [check.arch(f"{path}.subArchitectures[{j}]", sub) for j, sub in enumerate(subs)]
    for key in ("listenerPath", "listenerMetadata"):
        if key in data and not isinstance(data[key], str):
            check.fail(key, f"must be a string, got {json.dumps(data[key])}")
    flags = check.strings("flags", data.get("flags", []), empty=True)
    for i, flag in enumerate(flags):
        check.one_of(f"flags[{i}]", flag, FLAGS, "flag")
    if len(set(flags)) != len(flags):
        check.fail("flags", "a flag is given twice")
    rules = data.get("syscalls", [])
    if not isinstance(rules, list):
        check.fail("syscalls", f"must be a list, got {json.dumps(rules)}")
    lookup = list(dict.fromkeys([syscalls.native, *arches]))
    plain: dict[str, tuple[str, str]] = {}
    notify = default == "SCMP_ACT_NOTIFY"
    for i, rule in enumerate(rules):
        path = f"syscalls[{i}]"
        check.keys(path, rule, RULE_KEYS, "a syscalls rule")
        if ("names" in rule) == ("name" in rule):
            check.fail(path, "give names (a list) or name (one), exactly one of them")
        names = check.strings(f"{path}.names", rule["names"]) if "names" in rule else [rule["name"]]
        if "name" in rule and (not isinstance(rule["name"], str) or not rule["name"]):
            check.fail(f"{path}.name", f"must be a non-empty string, got {json.dumps(rule['name'])}")
        if "action" not in rule:
            check.fail(path, "action is required")
        action = check.action(f"{path}.action", rule["action"], rule.get("errnoRet"), f"{path}.errnoRet")
        notify = notify or action == "SCMP_ACT_NOTIFY"
        if "comment" in rule and not isinstance(rule["comment"], str):
            check.fail(f"{path}.comment", "must be a string")
        args = rule.get("args") or []
        if not isinstance(args, list):
            check.fail(f"{path}.args", f"must be a list, got {json.dumps(args)}")
        for j, arg in enumerate(args):
            where = f"{path}.args[{j}]"
            check.keys(where, arg, ARG_KEYS, "an argument filter")
            for key in ("index", "value", "op"):
                if key not in arg:
                    check.fail(where, f"{key} is required")
            check.uint(f"{where}.index", arg["index"], 5)
            check.uint(f"{where}.value", arg["value"])
            check.uint(f"{where}.valueTwo", arg.get("valueTwo", 0))
            check.one_of(f"{where}.op", arg["op"], OPERATORS, "operator")
        conditional = bool(args)
        for key in ("includes", "excludes"):
            if key in rule:
                conditional = True
                _filter(check, f"{path}.{key}", rule[key])
        seen: set[str] = set()
        field = "names" if "names" in rule else "name"
        for j, syscall in enumerate(names):
            where = f"{path}.names[{j}]" if field == "names" else f"{path}.name"
            if syscall in seen:
                check.fail(where, f"{syscall!r} is listed twice in this rule")
            seen.add(syscall)
            if not any(syscalls.known(syscall, arch) for arch in lookup):
                on = " or ".join(lookup)
                check.fail(
                    where,
                    f"{syscall!r} is not a system call on {on}{suggest(syscall, syscalls.names(syscalls.native))}",
                )
            if not conditional:
                earlier = plain.get(syscall)
                if earlier and earlier[0] != action:
                    check.fail(where, f"{syscall!r} already has {earlier[0]} in {earlier[1]}; one call, one action")
                plain.setdefault(syscall, (action, path))
    if notify and not data.get("listenerPath"):
        check.fail("listenerPath", "SCMP_ACT_NOTIFY needs listenerPath, the agent's unix socket")
    return Profile(name, data, default, len(rules))


def _filter(check: _Checker, path: str, value: t.Any) -> None:
    check.keys(path, value, FILTER_KEYS, "includes and excludes")
    for i, arch in enumerate(check.strings(f"{path}.arches", value.get("arches", []), empty=True)):
        check.one_of(f"{path}.arches[{i}]", arch, SHORT_ARCHES, "architecture")
    for i, cap in enumerate(check.strings(f"{path}.caps", value.get("caps", []), empty=True)):
        if not cap.startswith("CAP_") or not cap[4:].replace("_", "").isalnum() or not cap.isupper():
            check.fail(f"{path}.caps[{i}]", f"{cap!r} is not a capability name such as CAP_SYS_ADMIN")
    if "minKernel" in value:
        kernel = value["minKernel"]
        parts = kernel.split(".") if isinstance(kernel, str) else []
        if len(parts) < 2 or not all(part.isdigit() for part in parts):
            check.fail(f"{path}.minKernel", f"must be a kernel version such as '4.8', got {json.dumps(kernel)}")
