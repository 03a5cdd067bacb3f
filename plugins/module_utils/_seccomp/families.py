# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The families of the seccomp role's controls.

- C(seccomp_profile): one control per wanted profile (the catalog's control is a template the
  module turns into one control per profile): its file below the kubelet's seccomp root, in the
  collection's own subfolder, holds the wanted text with mode 0644 and owner root.
- C(seccomp_retired): files in that subfolder that no wanted profile names are removed. The
  subfolder belongs to the collection.

Every profile is validated while the specs are validated, before anything is inspected or changed
(see schema.py): JSON that does not parse, an unknown action, architecture or flag, and a system
call the node's architecture does not have fail the run, and nothing is written.
"""

from __future__ import annotations

import os
import re
import typing as t
from dataclasses import dataclass

from ansible_collections.nodeguard.hardening.plugins.module_utils import _controls as c
from ansible_collections.nodeguard.hardening.plugins.module_utils._files import atomic_write, file_diff
from ansible_collections.nodeguard.hardening.plugins.module_utils._seccomp import native, schema
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.engine import Action, Family, Finding
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.node import Node
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.writes import (
    content_differences,
    file_attributes,
)

NAMES = ("seccomp_profile", "seccomp_retired")
FILE_RE = re.compile(r"^[A-Za-z0-9_+-][A-Za-z0-9._+-]*$")
SUBFOLDER_RE = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._-]*$")


@dataclass
class Options:
    profiles: list[dict]
    root: str
    subfolder: str

    @property
    def folder(self) -> str:
        return os.path.join(self.root, self.subfolder)

    def path(self, profile: dict) -> str:
        return os.path.join(self.folder, profile["file"])

    def reference(self, profile: dict) -> str:
        """What a pod puts in C(localhostProfile): the path relative to the kubelet's seccomp root."""
        return f"{self.subfolder}/{profile['file']}"


def check_profiles(profiles: list[dict]) -> list[dict]:
    """Each profile's file and content, checked for form; c.ControlInputError on the first problem."""
    seen: set[str] = set()
    checked = []
    for number, profile in enumerate(profiles, 1):
        file = (profile.get("file") or "").strip()
        where = f"seccomp profile {number} ({file or 'no file name'})"
        if not FILE_RE.match(file):
            raise c.ControlInputError(
                f"{where}: file must be a plain file name such as strict.json (letters, digits, '.', '_', '+', '-')"
            )
        if file in seen:
            raise c.ControlInputError(f"{where}: the file {file!r} is given twice")
        seen.add(file)
        content = profile.get("content")
        if not isinstance(content, str):
            raise c.ControlInputError(f"{where}: content must be the profile's JSON text")
        text = content if content.endswith("\n") else content + "\n"
        source = profile.get("source") or f"the content given for {file}"
        checked.append({"file": file, "content": text, "source": source})
    return checked


def slug(name: str) -> str:
    stem = name[:-5] if name.endswith(".json") else name
    return re.sub(r"[^a-z0-9_-]+", "-", stem.lower()).strip("-") or "profile"


def expand(controls: list[dict], profiles: list[dict]) -> list[dict]:
    """The catalog's controls with the C(seccomp_profile) template made one control per profile
    (C({file}) in its title filled in); with no profile wanted, the template stays, skipped."""
    out = []
    for control in controls:
        if control.get("family") != "seccomp_profile" or not profiles:
            out.append(control)
            continue
        for profile in profiles:
            title = control["title"].replace("{file}", profile["file"])
            out.append(
                {**control, "id": f"{control['id']}.{slug(profile['file'])}", "title": title, "spec": profile["file"]}
            )
    return out


def facts(checked: schema.Profile) -> dict[str, t.Any]:
    """What the validator found, for the result's details."""
    return {"default_action": checked.default_action, "rules": checked.syscall_count}


class ProfileFamily(Family):
    name = "seccomp_profile"

    def __init__(self, options: Options) -> None:
        self.options = options
        self.by_file = {profile["file"]: profile for profile in options.profiles}
        self._syscalls: native.Syscalls | None = None
        self.checked: dict[str, dict] = {}

    def syscalls(self) -> native.Syscalls:
        if self._syscalls is None:
            self._syscalls = native.load()
        return self._syscalls

    def validate(self, node: Node, control: dict, spec: t.Any) -> t.Any:
        if not self.by_file:
            return None
        profile = self.by_file.get(spec)
        if profile is None:
            raise c.ControlInputError(f"control {control['id']!r}: no wanted seccomp profile is named {spec!r}")
        checked = schema.validate(profile["file"], profile["content"], self.syscalls())
        self.checked[profile["file"]] = facts(checked)
        return profile

    def inspect(self, node: Node, items: list[tuple[dict, t.Any]]) -> dict[str, Finding]:
        if items and items[0][1] is None:
            return {items[0][0]["id"]: Finding(skipped="no seccomp profile is wanted on this node")}
        return {control["id"]: self._finding(node, profile) for control, profile in items}

    def _finding(self, node: Node, profile: dict) -> Finding:
        path = self.options.path(profile)
        before = node.read(path)
        attributes = file_attributes(node, path)
        item = f"seccomp profile {profile['file']}"
        differences = content_differences(path, before, profile["content"], item=item)
        if before is not None and before != profile["content"] and not differences:
            differences = [c.difference(item, path, "the wanted text", "edited")]
        if attributes is not None and attributes != (0o644, 0, 0):
            differences.append(c.difference(item, "mode and owner", "0644 0:0", "{:04o} {}:{}".format(*attributes)))
        reference = self.options.reference(profile)
        finding = Finding(
            expected={"file": "unchanged", "mode": "0644"},
            actual={
                "file": "absent" if before is None else ("unchanged" if before == profile["content"] else "edited")
            },
            details={
                "path": path,
                "source": profile["source"],
                "pod": {"securityContext": f"seccompProfile: {{type: Localhost, localhostProfile: {reference}}}"},
                **self.checked.get(profile["file"], {}),
            },
        )
        finding.differences = differences
        if differences:
            finding.actions = [self._action(node, path, profile["content"], before, attributes)]
        return finding

    def _action(self, node: Node, path: str, content: str, before: str | None, attributes) -> Action:
        target = node.path(path)
        folder = os.path.dirname(target)
        made = not os.path.isdir(folder)

        def run() -> None:
            atomic_write(node.module, target, content, 0o644)

        def undo() -> None:
            if before is None:
                os.unlink(target)
                if made and not os.listdir(folder):
                    os.rmdir(folder)
            else:
                atomic_write(node.module, target, before, attributes[0] if attributes else 0o644)

        return Action(
            f"seccomp:{path}", f"write the seccomp profile {path}", run, undo, [file_diff(path, before, content)]
        )


class RetiredFamily(Family):
    name = "seccomp_retired"

    def __init__(self, options: Options) -> None:
        self.options = options

    def validate(self, node: Node, control: dict, spec: t.Any) -> t.Any:
        return None

    def inspect(self, node: Node, items: list[tuple[dict, t.Any]]) -> dict[str, Finding]:
        wanted = {profile["file"] for profile in self.options.profiles}
        folder = self.options.folder
        try:
            present = sorted(os.listdir(node.path(folder)))
        except FileNotFoundError:
            present = []
        retired = [
            os.path.join(folder, entry)
            for entry in present
            if entry not in wanted
            and not entry.startswith(".")
            and os.path.isfile(node.path(os.path.join(folder, entry)))
        ]
        finding = Finding(expected=[], actual=retired, details={"folder": folder})
        finding.differences = [c.difference(path, "seccomp profile folder", "absent", "present") for path in retired]
        finding.actions = [self._action(node, path) for path in retired]
        return {control["id"]: finding for control, _unused in items}

    def _action(self, node: Node, path: str) -> Action:
        target = node.path(path)
        before = node.read(path) or ""
        attributes = file_attributes(node, path)
        return Action(
            f"seccomp-retire:{path}",
            f"remove {path}",
            lambda: os.unlink(target),
            lambda: atomic_write(node.module, target, before, attributes[0] if attributes else 0o644),
            [file_diff(path, before, None)],
        )


def build(options: Options) -> list[Family]:
    return [ProfileFamily(options), RetiredFamily(options)]
