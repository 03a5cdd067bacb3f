# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""AIDE, the file integrity checker: configured for a node, its database initialised (CIS 6.3.1, 6.3.3).

Two spec kinds, one per control:

- C({exclude: [PATH, ...]}): the database exists, and AIDE leaves out the paths given. On a
  Kubernetes node those are the container runtime's and the kubelet's data (image layers, pod
  volumes, container logs), which change all day: an AIDE that watched them would report every
  pod start and stay unread. The paths become negative selection lines in a drop-in of Debian's
  /etc/aide/aide.conf.d (whose file names may hold letters, digits, C(_) and C(-) only).
- C({audit_tools: [PATH, ...], attributes: "p+i+n+u+g+s+b+acl+xattrs+sha512"}): AIDE watches the
  audit tools with those attributes (CIS 6.3.3), in a second drop-in.

The database (C(database_out) of aide.conf, moved to C(database_in)) is initialised with
C(aide --init) when it is missing or older than a drop-in, that is when the rules it was made
with are not the rules in force. An initialisation hashes every watched file once, which takes a
while; the regular check (CIS 6.3.2) is Debian's C(dailyaidecheck.timer), a unit control.
"""

from __future__ import annotations

import os
import re
import shutil
import typing as t

from ansible_collections.nodeguard.hardening.plugins.module_utils import _controls as c
from ansible_collections.nodeguard.hardening.plugins.module_utils._files import state_diff
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.engine import Action, Family, Finding
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.node import Node
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.writes import (
    content_differences,
    write_action,
)

CONFIG = "/etc/aide/aide.conf"
DROP_IN_DIR = "/etc/aide/aide.conf.d"
DROP_INS = {
    "exclude": f"{DROP_IN_DIR}/99_nodeguard_hardening_exclude",
    "audit_tools": f"{DROP_IN_DIR}/99_nodeguard_hardening_audit_tools",
}
DEFAULT_ATTRIBUTES = "p+i+n+u+g+s+b+acl+xattrs+sha512"
ATTRIBUTES_RE = re.compile(r"^[A-Za-z0-9]+(?:[+-][A-Za-z0-9]+)*$")
PATH_RE = re.compile(r"^/[^\s\x00]*$")
HEADER = "# nodeguard.hardening: {what}. This file is replaced on every run: change the role's variables.\n"


def aide_regex(path: str) -> str:
    """An AIDE selection regex matching C(path) itself and everything below it."""
    return literal(path)[:-1] + "(/|$)"


def literal(path: str) -> str:
    """An AIDE selection regex matching exactly C(path)."""
    return re.sub(r"([.^$*+?()\[\]{}|\\@])", r"\\\1", path) + "$"


def render(kind: str, paths: list[str], attributes: str) -> str:
    if kind == "exclude":
        body = "".join(f"!{aide_regex(path)}\n" for path in paths)
        return HEADER.format(what="what AIDE leaves out (container and kubelet data)") + body
    body = "".join(f"{literal(path)} {attributes}\n" for path in paths)
    return HEADER.format(what="the audit tools AIDE watches (CIS 6.3.3)") + body


def database_paths(text: str) -> tuple[str, str]:
    """(database_in, database_out) file paths named by aide.conf (Debian's when not named)."""
    found = {"database_in": "/var/lib/aide/aide.db", "database_out": "/var/lib/aide/aide.db.new"}
    for line in text.splitlines():
        match = re.match(r"^\s*(database_in|database_out)\s*=\s*file:(\S+)\s*$", line)
        if match:
            found[match.group(1)] = match.group(2)
    return found["database_in"], found["database_out"]


def mtime(node: Node, path: str) -> float | None:
    try:
        return os.stat(node.path(path)).st_mtime
    except OSError:
        return None


class Aide(Family):
    name = "aide"

    def validate(self, node: Node, control: dict, spec: t.Any) -> dict:
        cid = control["id"]
        if not isinstance(spec, dict) or len({"exclude", "audit_tools"} & set(spec)) != 1:
            raise c.ControlInputError(
                f"control {cid!r}: spec must be {{exclude: [paths]}} or {{audit_tools: [paths], attributes: ...}}"
            )
        kind = "exclude" if "exclude" in spec else "audit_tools"
        allowed = {"exclude"} if kind == "exclude" else {"audit_tools", "attributes"}
        unknown = sorted(set(spec) - allowed)
        if unknown:
            raise c.ControlInputError(f"control {cid!r}: unknown spec keys {', '.join(unknown)}")
        paths = spec[kind]
        if not isinstance(paths, list) or (kind == "audit_tools" and not paths):
            raise c.ControlInputError(f"control {cid!r}: spec.{kind} must be a list of absolute paths")
        for path in paths:
            if not isinstance(path, str) or not PATH_RE.match(path) or os.path.normpath(path) != path:
                raise c.ControlInputError(
                    f"control {cid!r}: {path!r} is not an absolute, normalised path without spaces"
                )
            if kind == "exclude" and path in ("/", "/etc", "/usr", "/bin", "/sbin", "/boot", "/lib"):
                raise c.ControlInputError(
                    f"control {cid!r}: leaving {path} out would leave the system's own files unwatched"
                )
        attributes = spec.get("attributes", DEFAULT_ATTRIBUTES)
        if not isinstance(attributes, str) or not ATTRIBUTES_RE.match(attributes):
            raise c.ControlInputError(
                f"control {cid!r}: attributes {attributes!r} must be AIDE attributes joined by + or -"
            )
        seen = node.cached("aide:kinds", dict)
        if kind in seen and seen[kind] != cid:
            raise c.ControlInputError(f"control {cid!r}: control {seen[kind]!r} already sets the AIDE {kind} list")
        seen[kind] = cid
        return {"kind": kind, "paths": list(dict.fromkeys(paths)), "attributes": attributes}

    def inspect(self, node: Node, items: list[tuple[dict, t.Any]]) -> dict[str, Finding]:
        found: dict[str, Finding] = {}
        config = node.read(CONFIG)
        if config is None:
            for control, _spec in items:
                found[control["id"]] = Finding(
                    expected="AIDE configured, database initialised",
                    differences=[c.difference("aide", CONFIG, "present", None)],
                    unfixable="AIDE is not installed: install the aide package (control cis.aide.packages)",
                )
            return found
        writes: list[Action] = []
        file_diffs: dict[str, list[dict]] = {}
        for _control, spec in items:
            path = DROP_INS[spec["kind"]]
            wanted = render(spec["kind"], spec["paths"], spec["attributes"])
            differences = content_differences(path, node.read(path), wanted, item=spec["kind"])
            file_diffs[spec["kind"]] = differences
            if differences:
                writes.append(write_action(node, path, wanted))
        database_in, database_out = database_paths(config)
        db_time = mtime(node, database_in)
        newest = max((mtime(node, DROP_INS[spec["kind"]]) or 0.0 for _c, spec in items), default=0.0)
        if db_time is None:
            stale = c.difference("aide database", database_in, "initialised", None)
        elif writes or newest > db_time:
            stale = c.difference("aide database", database_in, "made with the rules in force", "older than the rules")
        else:
            stale = None
        actions = [*writes, self._init_action(node, database_in, database_out)] if writes or stale else []
        for control, spec in items:
            finding = Finding(expected={"rules": DROP_INS[spec["kind"]], "database": database_in}, actual={})
            finding.actual["database"] = "absent" if db_time is None else "present"
            finding.differences = list(file_diffs[spec["kind"]])
            if spec["kind"] == "exclude" and stale:
                finding.differences.append(stale)
            if finding.differences:
                finding.actions = list(actions)
            finding.details[spec["kind"]] = spec["paths"]
            found[control["id"]] = finding
        return found

    def _init_action(self, node: Node, database_in: str, database_out: str) -> Action:
        target, new = node.path(database_in), node.path(database_out)
        keep = target + ".nodeguard-previous"

        def run() -> None:
            node.run(["aide", f"--config={CONFIG}", "--init"])
            if not os.path.exists(new):
                raise OSError(f"aide --init wrote no {database_out}")
            if os.path.exists(target):
                shutil.copy2(target, keep)
            os.replace(new, target)

        def undo() -> None:
            if os.path.exists(keep):
                os.replace(keep, target)

        return Action(
            "aide:init",
            f"initialise the AIDE database {database_in} (aide --init)",
            run,
            undo,
            [state_diff(f"AIDE database {database_in}", "as it was\n", "made with the rules in force\n")],
        )
