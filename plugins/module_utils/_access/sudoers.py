# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Rules of sudo that only a person may change (CIS 5.2.4, 5.2.5): reported, never changed.

Spec: C({check: password_required}) (5.2.4: no rule carries the C(NOPASSWD) tag) or
C({check: reauthentication}) (5.2.5: no C(Defaults) line switches C(authenticate) off).

The rules are read as sudo reads them: /etc/sudoers, then every file its C(@include) and
C(@includedir) lines (or the older C(#include), C(#includedir)) name, an included directory's
files in name order, leaving out names that end in C(~) or hold a C(.) as sudo does. Lines
ending in a backslash go on on the next line; C(#) starts a comment unless a number follows
it (a user or group ID).

Nothing is fixed. Escalation without a password is how Ansible and other automation become root
on most nodes, so removing C(NOPASSWD) or C(!authenticate) could take away the very escalation
this run uses; each line found is an C(error) naming the file and line, for a person to change.
That is also why 5.2.4 is off by default in the role's catalog. Where sudo is not installed (no
/etc/sudoers) the controls are skipped.
"""

from __future__ import annotations

import os
import re
import typing as t
from dataclasses import dataclass, field

from ansible_collections.nodeguard.hardening.plugins.module_utils import _controls as c
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.engine import Family, Finding
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.node import Node

SUDOERS = "/etc/sudoers"
# sudo stops at this include depth too.
MAX_DEPTH = 128
INCLUDE_RE = re.compile(r"^[@#](include|includedir)\s+(.+?)\s*$")
NOPASSWD_RE = re.compile(r"\bNOPASSWD\s*:")
DEFAULTS_RE = re.compile(r"^Defaults([:@>!]\S+)?\s")
NO_AUTHENTICATE_RE = re.compile(r"(^|[\s,])!\s*authenticate\b")
CHECKS = {
    "password_required": (
        "NOPASSWD",
        NOPASSWD_RE,
        "sudo rules without a password are how Ansible and other automation escalate; remove NOPASSWD by hand "
        "where nothing relies on it (this run never changes sudo rules it did not write)",
    ),
    "reauthentication": (
        "!authenticate",
        NO_AUTHENTICATE_RE,
        "remove !authenticate by hand (this run never changes sudo rules it did not write)",
    ),
}


@dataclass(frozen=True)
class Rule:
    """One logical line of sudoers (continuations joined, comment removed) and where it starts."""

    path: str
    number: int
    text: str


def strip_comment(line: str) -> str:
    """The line without its comment: C(#) followed by a digit is a user or group ID, not a comment;
    inside double quotes it is text."""
    quoted = False
    for index, char in enumerate(line):
        if char == '"' and (index == 0 or line[index - 1] != "\\"):
            quoted = not quoted
        elif char == "#" and not quoted and not line[index + 1 : index + 2].isdigit():
            return line[:index]
    return line


def logical_lines(text: str) -> list[tuple[int, str]]:
    """(number of the first line, text) with backslash continuations joined."""
    found: list[tuple[int, str]] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), 1):
        if not pending:
            start = number
        if raw.endswith("\\"):
            pending.append(raw[:-1])
            continue
        pending.append(raw)
        found.append((start, " ".join(pending)))
        pending = []
    if pending:
        found.append((start, " ".join(pending)))
    return found


def included_files(node: Node, directory: str) -> list[str]:
    """The files of an included directory that sudo reads, in its order."""
    try:
        names = sorted(os.listdir(node.path(directory)))
    except OSError:
        return []
    found = []
    for name in names:
        path = os.path.join(directory, name)
        if name.endswith("~") or "." in name or not os.path.isfile(node.path(path)):
            continue
        found.append(path)
    return found


@dataclass
class Rules:
    """What sudo reads: its rules in order, the files they come from, and what could not be read."""

    rules: list[Rule] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def read_rules(node: Node, path: str = SUDOERS, depth: int = 0, found: Rules | None = None) -> Rules:
    """Every rule sudo reads, starting at C(path); a file named twice is read once (its lines reported once)."""
    found = Rules() if found is None else found
    if path in found.files or depth > MAX_DEPTH:
        return found
    try:
        text = node.read(path)
    except OSError as exc:
        found.problems.append(f"{path}: {exc.strerror or exc}")
        return found
    if text is None:
        if not depth:
            found.problems.append(f"{path}: absent")
        return found
    found.files.append(path)
    for number, line in logical_lines(text):
        stripped = line.strip()
        directive = INCLUDE_RE.match(stripped)
        if directive:
            kind, target = directive.group(1), directive.group(2).strip('"')
            if not target.startswith("/"):
                target = os.path.join(os.path.dirname(path), target)
            for included in included_files(node, target) if kind == "includedir" else [target]:
                read_rules(node, included, depth + 1, found)
            continue
        body = strip_comment(stripped).strip()
        if body:
            found.rules.append(Rule(path, number, body))
    return found


def hits(rules: list[Rule], check: str) -> list[Rule]:
    """The rules a check finds: C(NOPASSWD) in user rules, C(!authenticate) in Defaults lines."""
    pattern = CHECKS[check][1]
    if check == "reauthentication":
        return [rule for rule in rules if DEFAULTS_RE.match(rule.text) and pattern.search(rule.text)]
    return [rule for rule in rules if not DEFAULTS_RE.match(rule.text) and pattern.search(rule.text)]


class Sudoers(Family):
    name = "sudoers"

    def validate(self, node: Node, control: dict, spec: t.Any) -> str:
        cid = control["id"]
        if not isinstance(spec, dict) or set(spec) != {"check"} or spec["check"] not in CHECKS:
            raise c.ControlInputError(
                f"control {cid!r}: spec must be {{check: NAME}} with NAME one of {', '.join(sorted(CHECKS))}"
            )
        return spec["check"]

    def inspect(self, node: Node, items: list[tuple[dict, t.Any]]) -> dict[str, Finding]:
        if not node.exists(SUDOERS):
            reason = f"sudo is not installed ({SUDOERS} is absent): its rules do not apply"
            return {control["id"]: Finding(skipped=reason) for control, _unused in items}
        read = read_rules(node)
        found: dict[str, Finding] = {}
        for control, check in items:
            tag, _pattern, why = CHECKS[check]
            lines = hits(read.rules, check)
            finding = Finding(
                expected={tag: "absent"},
                actual={tag: [f"{rule.path} line {rule.number}" for rule in lines]},
                differences=[
                    c.difference(tag, f"{rule.path} line {rule.number}", "absent", rule.text) for rule in lines
                ],
                details={"files": list(read.files)},
            )
            if read.problems:
                finding.details["unread"] = list(read.problems)
                finding.differences += [c.difference(SUDOERS, problem, "readable", None) for problem in read.problems]
            if finding.differences:
                finding.unfixable = why if not read.problems else f"{why}; some sudoers files could not be read"
            found[control["id"]] = finding
        return found
