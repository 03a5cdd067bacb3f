# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""AppArmor in force (CIS 1.3.1.3, 1.3.1.4): enabled in the kernel, its profiles loaded at boot, every
loaded profile in a mode the control allows, and no process running unconfined although a profile
for its program is loaded.

Spec, one per control: C({modes: [enforce, complain]}) (1.3.1.3, Level 1) or C({modes: [enforce]})
(1.3.1.4, Level 2). C(kill) mode counts as enforce.

What a run changes: C(apparmor.service), which loads the profiles of /etc/apparmor.d at boot, is
enabled and started. What it reports for a person to fix: AppArmor off in the running kernel (the
kernel command line needs C(apparmor=1 security=apparmor): see the bootloader family, then a
reboot); profiles in another mode (C(aa-enforce) / C(aa-complain) with the profile's file: a
profile switched to enforce may stop the program it confines, so this run leaves it to you); and
processes unconfined although their program has a profile (they started before it was loaded:
restart them). Package installation (1.3.1.1) is the packages family's, the boot parameters
(1.3.1.2) the bootloader family's.

The loaded profiles are read from securityfs (C(<securityfs>/apparmor/profiles)), the kernel
switch from C(<module_root>/apparmor/parameters/enabled), each process's confinement from
C(<proc>/PID/attr/apparmor/current) (or C(attr/current) on older kernels) and its program from
C(<proc>/PID/exe), as C(aa-status) does: a process counts as having a profile when its program's
path is the name of a loaded profile.
"""

from __future__ import annotations

import os
import typing as t

from ansible_collections.nodeguard.hardening.plugins.module_utils import _controls as c
from ansible_collections.nodeguard.hardening.plugins.module_utils._files import read_text
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.engine import Family, Finding
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.node import CommandError, Node
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.systemd import start_action, unit_states

SERVICE = "apparmor.service"
MODES = ("enforce", "complain")
# Modes that satisfy each allowed mode: kill is enforce that also kills the offender.
SATISFIES = {"enforce": ("enforce", "kill"), "complain": ("complain",)}
# Differences listed per control; the counts in the details are complete.
LIMIT = 100


class Apparmor(Family):
    name = "apparmor"

    def __init__(self, securityfs_root: str = "/sys/kernel/security", proc_root: str = "/proc") -> None:
        self.securityfs_root = securityfs_root
        self.proc_root = proc_root

    @property
    def profiles_path(self) -> str:
        return os.path.join(self.securityfs_root, "apparmor", "profiles")

    def validate(self, node: Node, control: dict, spec: t.Any) -> list[str]:
        cid = control["id"]
        modes = spec.get("modes") if isinstance(spec, dict) and set(spec) == {"modes"} else None
        if not isinstance(modes, list) or not modes or any(mode not in MODES for mode in modes):
            raise c.ControlInputError(
                f"control {cid!r}: spec must be {{modes: [enforce, complain]}} or {{modes: [enforce]}}, got {spec!r}"
            )
        return list(dict.fromkeys(modes))

    def inspect(self, node: Node, items: list[tuple[dict, t.Any]]) -> dict[str, Finding]:
        enabled = (read_text(os.path.join(node.paths.module_root, "apparmor", "parameters", "enabled")) or "").strip()
        profiles = node.cached("apparmor:profiles", self._profiles)
        unconfined = node.cached("apparmor:unconfined", lambda: self._unconfined(profiles or {}))
        try:
            service = unit_states(node, [SERVICE])[SERVICE]
            service_error = None
        except CommandError as exc:
            service, service_error = None, str(exc)
        return {
            control["id"]: self._finding(node, modes, enabled, profiles, unconfined, service, service_error)
            for control, modes in items
        }

    def _finding(self, node, modes, enabled, profiles, unconfined, service, service_error) -> Finding:
        allowed = [mode for want in modes for mode in SATISFIES[want]]
        finding = Finding(
            expected={
                "kernel": "enabled",
                SERVICE: "enabled, active",
                "profiles": " or ".join(modes),
                "processes with a profile": "confined",
            },
            actual={},
        )
        why: list[str] = []
        finding.actual["kernel"] = "enabled" if enabled == "Y" else (f"disabled ({enabled})" if enabled else "absent")
        if enabled != "Y":
            finding.differences.append(c.difference("AppArmor", "kernel", "enabled", enabled or None))
            why.append(
                "AppArmor is off in the running kernel: the kernel command line needs apparmor=1 security=apparmor "
                "(the bootloader's job), then a reboot"
            )
        service_fixes = self._service(node, service, service_error, finding, why)
        if profiles is None:
            finding.actual["profiles"] = None
            if enabled == "Y":
                finding.differences.append(c.difference("profiles", self.profiles_path, "readable", None))
                why.append(f"the loaded profiles cannot be read from {self.profiles_path} (securityfs not mounted?)")
        else:
            counts: dict[str, int] = {}
            for mode in profiles.values():
                counts[mode] = counts.get(mode, 0) + 1
            finding.actual["profiles"] = counts
            finding.details["profiles by mode"] = counts
            if not profiles:
                finding.differences.append(c.difference("profiles", "live", "loaded", "none"))
                if not service_fixes:
                    why.append("no profile is loaded although apparmor.service ran: check /etc/apparmor.d")
            # AppArmor 4 (Debian 13) loads profiles in mode "unconfined" whose only purpose is to
            # let a program create user namespaces; they confine nothing and have no enforce or
            # complain form to switch to. Listed, not counted against the control.
            userns = sorted(name for name, mode in profiles.items() if mode == "unconfined")
            if userns:
                finding.details["profiles in AppArmor 4's unconfined mode (user namespaces only)"] = userns
            others = sorted(name for name, mode in profiles.items() if mode not in (*allowed, "unconfined"))
            for name in others[:LIMIT]:
                finding.differences.append(c.difference(name, "live", " or ".join(modes), profiles[name]))
            if others:
                finding.details["profiles in another mode"] = others
                command = "aa-enforce" if modes == ["enforce"] else "aa-enforce or aa-complain"
                why.append(
                    f"{len(others)} profile(s) in another mode: {command} with each profile's file in "
                    "/etc/apparmor.d sets it (a profile switched to enforce may stop its program: this run leaves "
                    "it to you)"
                )
        finding.actual["processes with a profile"] = "confined" if not unconfined else f"{len(unconfined)} unconfined"
        for pid, comm, exe in unconfined[:LIMIT]:
            finding.differences.append(c.difference(f"{comm} (pid {pid})", "live", f"confined by {exe}", "unconfined"))
        if unconfined:
            names = sorted({comm for _unused, comm, _unused in unconfined})
            finding.details["unconfined processes that have a profile"] = [
                f"{comm} (pid {pid}, {exe})" for pid, comm, exe in unconfined
            ]
            why.append(f"processes started before their profile was loaded: restart {', '.join(names)}")
        if why:
            finding.unfixable = "; ".join(why)
        return finding

    @staticmethod
    def _service(node, service, error, finding: Finding, why: list[str]) -> bool:
        """Check apparmor.service; True when an action will start it."""
        if service is None:
            finding.actual[SERVICE] = None
            finding.differences.append(c.difference(SERVICE, "unit", "enabled, active", None))
            why.append(f"the state of {SERVICE} could not be read: {error}")
            return False
        finding.actual[SERVICE] = service.describe()
        if not service.installed:
            finding.differences.append(c.difference(SERVICE, "unit", "enabled, active", None))
            why.append("the apparmor package is not installed: its packages control installs it")
            return False
        if service.any_mask or not service.enabled:
            finding.differences.append(c.difference(SERVICE, "unit", "enabled", service.describe()))
        if service.any_mask or not service.running:
            finding.differences.append(c.difference(SERVICE, "live", "active", service.active))
        action = start_action(node, service, enable=True, start=True)
        if action:
            finding.actions.append(action)
        return action is not None

    def _profiles(self) -> dict[str, str] | None:
        """Loaded profile name -> mode; None when securityfs cannot be read."""
        try:
            with open(self.profiles_path, encoding="utf-8") as handle:
                text = handle.read()
        except OSError:
            return None
        profiles = {}
        for line in text.splitlines():
            name, sep, mode = line.rstrip().rpartition(" (")
            if sep and mode.endswith(")"):
                profiles[name] = mode[:-1]
        return profiles

    def _unconfined(self, profiles: dict[str, str]) -> list[tuple[int, str, str]]:
        """(pid, command, program) of the processes that run unconfined although a loaded profile
        is named after their program."""
        found = []
        try:
            pids = sorted(int(e) for e in os.listdir(self.proc_root) if e.isdigit())
        except OSError:
            return []
        for pid in pids:
            base = os.path.join(self.proc_root, str(pid))
            label = read_first(os.path.join(base, "attr", "apparmor", "current"), os.path.join(base, "attr", "current"))
            if label != "unconfined":
                continue
            try:
                exe = os.readlink(os.path.join(base, "exe"))
            except OSError:
                continue  # kernel threads, or gone
            if exe.endswith(" (deleted)"):
                exe = exe[: -len(" (deleted)")]
            if exe in profiles:
                comm = (read_first(os.path.join(base, "comm")) or os.path.basename(exe)).strip()
                found.append((pid, comm, exe))
        return found


def read_first(*paths: str) -> str | None:
    for path in paths:
        try:
            with open(path, encoding="utf-8", errors="replace") as handle:
                return handle.read().strip().rstrip("\0")
        except OSError:
            continue
    return None
