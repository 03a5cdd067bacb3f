# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The families of the apparmor role's controls.

- C(apparmor_profile): one control per wanted profile (the catalog's control is a template the
  module turns into one control per profile): its file in the profile folder holds the wanted
  text, the kernel has it loaded, in the wanted mode, from the policy that file compiles to.
- C(apparmor_retired): files in the profile folder that no wanted profile names are removed, and
  the profiles they declare unloaded. The folder belongs to the collection.
- C(apparmor_boot): a systemd unit loads every wanted profile, in its mode, at boot before
  sysinit.target and before the container runtimes and the kubelet start, so a pod scheduled right
  after a reboot finds its profile.

Every profile is compiled by apparmor_parser while the specs are validated, before anything is
inspected or changed: a profile the parser refuses fails the run with the parser's message and
nothing is touched.
"""

from __future__ import annotations

import os
import re
import typing as t
from dataclasses import dataclass, field

from ansible_collections.nodeguard.hardening.plugins.module_utils import _controls as c
from ansible_collections.nodeguard.hardening.plugins.module_utils._apparmor import kernel
from ansible_collections.nodeguard.hardening.plugins.module_utils._apparmor.parser import Compiled, Parser
from ansible_collections.nodeguard.hardening.plugins.module_utils._files import atomic_write, file_diff, state_diff
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.engine import Action, Family, Finding
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.node import CommandError, Node
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.writes import (
    content_differences,
    file_attributes,
)

NAMES = ("apparmor_profile", "apparmor_retired", "apparmor_boot")
MODES = ("enforce", "complain")
FILE_RE = re.compile(r"^[A-Za-z0-9_+-][A-Za-z0-9._+-]*$")
SYSTEMD_DIR = "/etc/systemd/system"
BOOT_TARGET = "sysinit.target"


@dataclass
class Options:
    profiles: list[dict]
    profile_dir: str
    unit: str
    runtime_units: list[str]
    securityfs_root: str = "/sys/kernel/security"


@dataclass
class Shared:
    """What the three families share: the options, the parser and each profile's compiled form."""

    options: Options
    parser: Parser | None = None
    unavailable: str | None = None
    compiled: dict[str, Compiled] = field(default_factory=dict)

    def path(self, profile: dict) -> str:
        return os.path.join(self.options.profile_dir, profile["file"])


def file_name(name: str) -> str:
    """The default file of a profile: its name with slashes as dots, as /etc/apparmor.d names them."""
    return name.strip("/").replace("/", ".")


def check_profiles(profiles: list[dict]) -> list[dict]:
    """Each profile's name, file, mode and content, checked; c.ControlInputError on the first problem."""
    seen_names: set[str] = set()
    seen_files: set[str] = set()
    checked = []
    for number, profile in enumerate(profiles, 1):
        name = (profile.get("name") or "").strip()
        where = f"profile {number} ({name or 'no name'})"
        if not name or any(ch.isspace() for ch in name):
            raise c.ControlInputError(f"{where}: give the profile's name as it declares it, without spaces")
        file = profile.get("file") or file_name(name)
        if not FILE_RE.match(file):
            raise c.ControlInputError(
                f"{where}: file {file!r} must be a plain file name (letters, digits, '.', '_', '+', '-', not hidden)"
            )
        mode = profile.get("mode") or "enforce"
        if mode not in MODES:
            raise c.ControlInputError(f"{where}: mode must be one of {', '.join(MODES)}, got {mode!r}")
        content = profile.get("content")
        if not isinstance(content, str) or not content.strip():
            raise c.ControlInputError(f"{where}: the profile's content is empty")
        if name in seen_names:
            raise c.ControlInputError(f"{where}: the profile {name!r} is given twice")
        if file in seen_files:
            raise c.ControlInputError(f"{where}: the file {file!r} is given to two profiles")
        seen_names.add(name)
        seen_files.add(file)
        text = content if content.endswith("\n") else content + "\n"
        source = profile.get("source") or f"the profile {name!r}"
        checked.append({"name": name, "file": file, "mode": mode, "content": text, "source": source})
    return checked


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9_-]+", "-", name.lower()).strip("-") or "profile"


def expand(controls: list[dict], profiles: list[dict]) -> list[dict]:
    """The catalog's controls with the C(apparmor_profile) template made one control per profile.

    The template's C(id) gets the profile's name as its last part, its C(title) has C({name}) and
    C({mode}) filled in. With no profile wanted, the template stays, reported as skipped.
    """
    out = []
    for control in controls:
        if control.get("family") != "apparmor_profile" or not profiles:
            out.append(control)
            continue
        for profile in profiles:
            title = control["title"].replace("{name}", profile["name"]).replace("{mode}", profile["mode"])
            out.append(
                {**control, "id": f"{control['id']}.{slug(profile['name'])}", "title": title, "spec": profile["name"]}
            )
    return out


class ProfileFamily(Family):
    name = "apparmor_profile"

    def __init__(self, shared: Shared) -> None:
        self.shared = shared
        self.by_name = {profile["name"]: profile for profile in shared.options.profiles}

    def validate(self, node: Node, control: dict, spec: t.Any) -> t.Any:
        if not self.by_name:
            return None
        profile = self.by_name.get(spec)
        if profile is None:
            raise c.ControlInputError(f"control {control['id']!r}: no wanted profile is named {spec!r}")
        if self.shared.parser is not None:
            compiled = self.shared.parser.compile(
                profile["file"], profile["content"], profile["mode"], profile["source"]
            )
            if profile["name"] not in compiled.names:
                raise c.ControlInputError(
                    f"{profile['source']} declares the profiles {', '.join(compiled.names) or 'none'}, "
                    f"not {profile['name']!r}: give the name its 'profile NAME' line declares"
                )
            self.shared.compiled[profile["name"]] = compiled
        return profile

    def inspect(self, node: Node, items: list[tuple[dict, t.Any]]) -> dict[str, Finding]:
        if self.shared.unavailable:
            return {
                control["id"]: unavailable_finding(self.shared.unavailable, "profiles", "loaded")
                for control, _unused in items
            }
        if items and items[0][1] is None:
            return {items[0][0]["id"]: Finding(skipped="no AppArmor profile is wanted on this node")}
        live = kernel.loaded(self.shared.options.securityfs_root)
        return {control["id"]: self._finding(node, profile, live) for control, profile in items}

    def _finding(self, node: Node, profile: dict, live: dict[str, kernel.Loaded]) -> Finding:
        name, mode = profile["name"], profile["mode"]
        path = self.shared.path(profile)
        compiled = self.shared.compiled[name]
        before = node.read(path)
        attributes = file_attributes(node, path)
        loaded = live.get(name)
        differences = content_differences(path, before, profile["content"], item=f"profile file of {name}")
        if before is not None and before != profile["content"] and not differences:
            differences = [c.difference(f"profile file of {name}", path, "the wanted text", "edited")]
        if attributes is not None and attributes != (0o644, 0, 0):
            differences.append(
                c.difference(
                    f"profile file of {name}", f"{path} mode and owner", "0644 0:0", "{:04o} {}:{}".format(*attributes)
                )
            )
        if loaded is None:
            differences.append(c.difference(name, "loaded in the kernel", mode, None))
        else:
            if loaded.mode != mode:
                differences.append(c.difference(name, "mode in the kernel", mode, loaded.mode))
            if loaded.raw_sha1 and loaded.raw_sha1 != compiled.raw_sha1:
                differences.append(
                    c.difference(
                        name,
                        "loaded policy (raw_sha1)",
                        f"{compiled.raw_sha1[:12]}, compiled from the wanted text",
                        f"{loaded.raw_sha1[:12]}",
                    )
                )
        actual = {
            "file": "absent" if before is None else ("unchanged" if before == profile["content"] else "edited"),
            "loaded": loaded is not None,
            "mode": loaded.mode if loaded else None,
        }
        details = {"profile": name, "file": path, "source": profile["source"], "pod": pod_snippets(name)}
        finding = Finding(expected={"file": "unchanged", "loaded": True, "mode": mode}, actual=actual, details=details)
        finding.differences = differences
        if differences:
            finding.actions = [self._action(node, profile, path, before, attributes, loaded)]
        return finding

    def _action(self, node, profile, path, before, attributes, loaded) -> Action:
        parser = t.cast(Parser, self.shared.parser)  # inspect returned early without one
        content, mode, name = profile["content"], profile["mode"], profile["name"]
        target = node.path(path)

        def run() -> None:
            wrote = before != content or attributes != (0o644, 0, 0)
            if wrote:
                atomic_write(node.module, target, content, 0o644)
            try:
                parser.load(path, mode)
            except CommandError:
                # The kernel kept what it had; the file goes back to what it held.
                if wrote and before is None:
                    os.unlink(target)
                elif wrote:
                    atomic_write(node.module, target, before, attributes[0] if attributes else 0o644)
                raise

        def undo() -> None:
            if loaded is None:
                # Not loaded before this run: unloaded again while the file still names it.
                parser.unload(path)
            if before is None:
                os.unlink(target)
                return
            atomic_write(node.module, target, before, attributes[0] if attributes else 0o644)
            if loaded is not None:
                parser.load(path, loaded.mode if loaded.mode in MODES else "enforce")

        diff = [file_diff(path, before, content)] if before != content else []
        diff.append(state_diff(f"AppArmor profile {name}", f"{loaded.mode if loaded else 'not loaded'}\n", f"{mode}\n"))
        return Action(
            f"apparmor:{path}", f"install and load the AppArmor profile {name} ({mode}) from {path}", run, undo, diff
        )


class RetiredFamily(Family):
    name = "apparmor_retired"

    def __init__(self, shared: Shared) -> None:
        self.shared = shared

    def validate(self, node: Node, control: dict, spec: t.Any) -> t.Any:
        return None

    def inspect(self, node: Node, items: list[tuple[dict, t.Any]]) -> dict[str, Finding]:
        if self.shared.unavailable:
            return {
                control["id"]: unavailable_finding(self.shared.unavailable, "retired profiles", "removed")
                for control, _unused in items
            }
        wanted = {profile["file"] for profile in self.shared.options.profiles}
        # A wanted profile that moved to another file stays loaded: only the old file goes.
        keep = {profile["name"] for profile in self.shared.options.profiles}
        folder = self.shared.options.profile_dir
        try:
            present = sorted(os.listdir(node.path(folder)))
        except FileNotFoundError:
            present = []
        live = kernel.loaded(self.shared.options.securityfs_root)
        differences: list[dict] = []
        actions: list[Action] = []
        retired = []
        for entry in present:
            path = os.path.join(folder, entry)
            if entry in wanted or entry.startswith(".") or not os.path.isfile(node.path(path)):
                continue
            names = [name for name in self.shared.parser.names(path) if name in live and name not in keep]
            retired.append({"file": path, "loaded": names})
            differences.append(c.difference(path, "profile folder", "absent", "present"))
            differences += [c.difference(name, "loaded in the kernel", "unloaded", live[name].mode) for name in names]
            actions.append(self._action(node, path, names, live))
        finding = Finding(expected=[], actual=retired, details={"profile_dir": folder})
        finding.differences = differences
        finding.actions = actions
        return {control["id"]: finding for control, _unused in items}

    def _action(self, node: Node, path: str, names: list[str], live: dict) -> Action:
        parser = t.cast(Parser, self.shared.parser)  # inspect returned early without one
        target = node.path(path)
        before = node.read(path) or ""
        attributes = file_attributes(node, path)

        def run() -> None:
            if names:
                parser.unload(path)
            try:
                os.unlink(target)
            except OSError:
                if names:
                    parser.load(path, live[names[0]].mode if live[names[0]].mode in MODES else "enforce")
                raise

        def undo() -> None:
            atomic_write(node.module, target, before, attributes[0] if attributes else 0o644)
            if names:
                parser.load(path, live[names[0]].mode if live[names[0]].mode in MODES else "enforce")

        what = f"remove {path}" + (f" and unload {', '.join(names)}" if names else "")
        return Action(f"apparmor-retire:{path}", what, run, undo, [file_diff(path, before, None)])


class BootFamily(Family):
    name = "apparmor_boot"

    def __init__(self, shared: Shared) -> None:
        self.shared = shared

    def validate(self, node: Node, control: dict, spec: t.Any) -> t.Any:
        return None

    @property
    def unit_path(self) -> str:
        return os.path.join(SYSTEMD_DIR, self.shared.options.unit)

    @property
    def wants_path(self) -> str:
        return os.path.join(SYSTEMD_DIR, f"{BOOT_TARGET}.wants", self.shared.options.unit)

    def unit_text(self) -> str | None:
        options = self.shared.options
        if not options.profiles or self.shared.parser is None:
            return None
        before = " ".join([BOOT_TARGET, *options.runtime_units])
        lines = [
            "# Managed by nodeguard.hardening (apparmor role): edits are undone by its next run.",
            "[Unit]",
            "Description=Load the AppArmor profiles of pods before the container runtime starts",
            "Documentation=man:apparmor_parser(8)",
            "DefaultDependencies=no",
            "After=local-fs.target apparmor.service systemd-journald-audit.socket",
            f"Before={before}",
            f"RequiresMountsFor={options.profile_dir}",
            "ConditionSecurity=apparmor",
            "",
            "[Service]",
            "Type=oneshot",
            "RemainAfterExit=yes",
        ]
        for profile in options.profiles:
            argv = [self.shared.parser.binary, "--replace", *(["--complain"] if profile["mode"] == "complain" else [])]
            lines.append(f"ExecStart=-{' '.join(argv)} {self.shared.path(profile)}")
        lines += ["", "[Install]", f"WantedBy={BOOT_TARGET}", ""]
        return "\n".join(lines)

    def inspect(self, node: Node, items: list[tuple[dict, t.Any]]) -> dict[str, Finding]:
        if self.shared.unavailable:
            return {
                control["id"]: unavailable_finding(self.shared.unavailable, "boot unit", "installed")
                for control, _unused in items
            }
        wanted = self.unit_text()
        before = node.read(self.unit_path)
        linked = os.path.islink(node.path(self.wants_path))
        differences = []
        if wanted is None:
            if before is not None:
                differences.append(c.difference(self.unit_path, "systemd", None, "present"))
            if linked:
                differences.append(c.difference(self.shared.options.unit, f"enabled ({BOOT_TARGET})", None, "enabled"))
        else:
            differences = content_differences(self.unit_path, before, wanted, item=self.shared.options.unit)
            if not linked:
                differences.append(c.difference(self.shared.options.unit, f"enabled ({BOOT_TARGET})", "enabled", None))
        finding = Finding(
            expected={"unit": "absent" if wanted is None else "installed and enabled"},
            actual={
                "unit": "absent" if before is None else ("unchanged" if before == wanted else "differs"),
                "enabled": linked,
            },
            details={"unit": self.unit_path, "before": [BOOT_TARGET, *self.shared.options.runtime_units]},
        )
        finding.differences = differences
        if differences:
            finding.actions = [self._action(node, wanted, before, linked)]
        return {control["id"]: finding for control, _unused in items}

    def _action(self, node: Node, wanted: str | None, before: str | None, linked: bool) -> Action:
        unit = self.shared.options.unit
        target = node.path(self.unit_path)
        systemctl = node.binary("systemctl") or "systemctl"

        def put(content: str | None, enabled: bool) -> None:
            if content is None:
                if os.path.lexists(node.path(self.wants_path)):
                    node.run([systemctl, "disable", "--quiet", unit])
                if os.path.lexists(target):
                    os.unlink(target)
                node.run([systemctl, "daemon-reload"])
                return
            atomic_write(node.module, target, content, 0o644)
            node.run([systemctl, "daemon-reload"])
            node.run([systemctl, "enable" if enabled else "disable", "--quiet", unit])

        def apply() -> None:
            try:
                put(wanted, True)
            except (OSError, CommandError):
                put(before, linked)
                raise

        what = f"remove {self.unit_path}" if wanted is None else f"write and enable {self.unit_path}"
        return Action(
            f"apparmor-boot:{unit}",
            what,
            apply,
            lambda: put(before, linked),
            [file_diff(self.unit_path, before, wanted)],
        )


def unit_state(before: str | None, wanted: str | None) -> str:
    if before is None:
        return "absent"
    return "unchanged" if before == wanted else "differs"


def unavailable_finding(reason: str, item: str, expected: str) -> Finding:
    finding = Finding(expected=expected, actual=None, unfixable=reason)
    finding.differences = [c.difference(item, "AppArmor", expected, None)]
    return finding


def pod_snippets(name: str) -> dict[str, str]:
    """How a pod asks for the profile: the field (Kubernetes 1.30 and later) and the older annotation."""
    return {
        "securityContext": f"appArmorProfile: {{type: Localhost, localhostProfile: {name}}}",
        "annotation": f"container.apparmor.security.beta.kubernetes.io/<container>: localhost/{name}",
    }


def build(node: Node, options: Options) -> list[Family]:
    shared = Shared(options)
    binary = node.binary("apparmor_parser")
    if not kernel.enabled(node.paths.module_root):
        shared.unavailable = "AppArmor is off in the running kernel (see the system role's AppArmor controls)"
    elif not binary:
        shared.unavailable = "apparmor_parser is not installed: install the apparmor package"
    else:
        shared.parser = Parser(node, binary, options.profile_dir)
    return [ProfileFamily(shared), RetiredFamily(shared), BootFamily(shared)]
