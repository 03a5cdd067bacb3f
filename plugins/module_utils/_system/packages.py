# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Debian packages a node must have, or must not have (CIS 1.3.1.1, 2.1.x, 2.2.x, 2.3.1.1, 6.2.1.1).

Spec kinds, one per control: C({present: [NAME, ...]}) and C({absent: [NAME, ...]}).

A package counts as installed when dpkg's state letter is C(i) (C(ii), C(hi)); C(rc) (removed,
its config files left) counts as absent, and the result's details say so. The state of every
package is read once per inspection with C(dpkg-query). Every package to install across all
controls goes into one C(apt-get install -y --no-install-recommends), every package to remove
into one C(apt-get purge -y); both run with DEBIAN_FRONTEND=noninteractive, keep changed config
files and wait for a running apt.

Two families share the name C(packages) and so every packages control: L(Packages), registered
first, installs, so that what the later families configure and start is there; L(PackagesPurge),
registered last, purges. A purge cannot be undone (the removed files are gone), so nothing that
could fail and need undoing runs after it. The undo of an install purges exactly the packages
that install added (the asked ones and their dependencies); packages the install removed for a
conflict (chrony replaces systemd-timesyncd) do not come back.

Before anything changes, C(apt-get -s) (a simulation) tells what each purge and the install would
remove as well. A control whose change would take a package the node needs (the container
runtime, the kubelet, ssh, networking, apt itself, ...) is refused with the names; other
packages removed along (they depend on a purged one) are named in the details. A held package
is not purged (C(apt-mark unhold) it first). C(apt-get update) runs first only when apt knows
no installable version of a package to install.
"""

from __future__ import annotations

import re
import typing as t

from ansible_collections.nodeguard.hardening.plugins.module_utils import _controls as c
from ansible_collections.nodeguard.hardening.plugins.module_utils._files import state_diff
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.dpkg import (
    APT_OPTIONS,
    apt_get,
    describe,
    is_installed,
    package_states,
    read_states,
    simulate,
    without_candidate,
)
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.engine import (
    Action,
    Family,
    Finding,
    one_kind,
)
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.node import CommandError, Node

# Debian policy 5.6.1: lower case letters, digits, + - . ; at least two characters, alphanumeric first.
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9+.-]+$")
KINDS = ("present", "absent")
# What the node, its container runtime, Kubernetes, its storage and its operators need: never removed.
PROTECTED = frozenset(
    {
        "apt",
        "dpkg",
        "gpgv",
        "libc6",
        "systemd",
        "systemd-sysv",
        "libsystemd0",
        "udev",
        "dbus",
        "sudo",
        "openssh-server",
        "openssh-client",
        "python3",
        "python3-minimal",
        "kmod",
        "iproute2",
        "iptables",
        "nftables",
        "ipset",
        "ebtables",
        "conntrack",
        "ethtool",
        "socat",
        "ca-certificates",
        "runc",
        "crun",
        "apparmor",
        "rsync",
        "util-linux",
        "mount",
        "e2fsprogs",
        "nfs-common",
        "open-iscsi",
        "ifupdown",
        "isc-dhcp-client",
        "dhcpcd-base",
        "netbase",
    }
)
PROTECTED_PREFIXES = ("containerd", "kube", "cri-", "linux-image-")


def needed(name: str) -> bool:
    return name in PROTECTED or name.startswith(PROTECTED_PREFIXES)


def _lines(names: t.Iterable[str]) -> str:
    return "".join(f"{name}\n" for name in names)


class Packages(Family):
    """The install half: controls with C(present)."""

    name = "packages"
    kind = "present"

    def validate(self, node: Node, control: dict, spec: t.Any) -> dict[str, list[str]]:
        cid = control["id"]
        kind, names = one_kind(control, spec, KINDS, "spec must be {present: [packages]} or {absent: [packages]}")
        if not isinstance(names, list) or not names:
            raise c.ControlInputError(f"control {cid!r}: spec.{kind} must list package names")
        for name in names:
            if not isinstance(name, str) or not NAME_RE.match(name):
                raise c.ControlInputError(
                    f"control {cid!r}: {name!r} is not a Debian package name (lower-case letters, digits, + - .)"
                )
            if kind == "absent" and needed(name):
                raise c.ControlInputError(
                    f"control {cid!r}: {name} is needed by the node, its container runtime, Kubernetes or its "
                    "operators; it is never removed"
                )
        seen: dict[str, tuple[str, str]] = node.cached("packages:wanted", dict)
        for name in names:
            other = seen.setdefault(name, (cid, kind))
            if other[1] != kind:
                raise c.ControlInputError(
                    f"control {cid!r}: {name} is wanted {kind} here but {other[1]} by control {other[0]!r}; "
                    "switch one of them off"
                )
        return {kind: list(dict.fromkeys(names))}

    def inspect(self, node: Node, items: list[tuple[dict, t.Any]]) -> dict[str, Finding]:
        mine = [(control, spec[self.kind]) for control, spec in items if self.kind in spec]
        if not mine:
            return {}
        try:
            states = package_states(node)
        except CommandError as exc:
            return {control["id"]: _unreadable(names, self.kind, str(exc)) for control, names in mine}
        return self._inspect(node, mine, states)

    def _inspect(self, node: Node, mine: list[tuple[dict, list[str]]], states: dict[str, str]) -> dict[str, Finding]:
        missing = sorted({name for _unused, names in mine for name in names if not is_installed(states.get(name))})
        found = {}
        problem, details, update = None, {}, False
        if missing:
            problem, details, update = self._check_install(node, missing)
        action = _install_action(node, missing, update) if missing and not problem else None
        for control, names in mine:
            finding = Finding(expected=dict.fromkeys(names, "installed"), actual={})
            for name in names:
                status = states.get(name)
                finding.actual[name] = describe(status) or "not installed"
                if not is_installed(status):
                    finding.differences.append(c.difference(name, "package", "installed", describe(status)))
            if finding.differences:
                finding.details.update(details)
                finding.unfixable = problem
                if action:
                    finding.actions.append(action)
            found[control["id"]] = finding
        return found

    @staticmethod
    def _check_install(node: Node, missing: list[str]) -> tuple[str | None, dict, bool]:
        """(why it cannot be installed, details, whether apt-get update must run first)."""
        try:
            if without_candidate(node, missing):
                # apt's lists are old or lack them: the removals are checked after the update.
                return None, {"apt-get update first": "apt knows no installable version yet"}, True
            removed, added = simulate(node, "install", missing)
        except CommandError as exc:
            return f"apt cannot install {' '.join(missing)}: {exc}", {}, False
        details = {"installed along": [n for n in added if n not in missing]} if len(added) > len(missing) else {}
        if removed:
            details["removed by the install (conflicts)"] = removed
        bad = [name for name in removed if needed(name)]
        if bad:
            return f"installing {' '.join(missing)} would remove {', '.join(bad)}, which the node needs", details, False
        return None, details, False


class PackagesPurge(Packages):
    """The purge half: controls with C(absent). Registered last: a purge has no undo."""

    kind = "absent"

    def _inspect(self, node: Node, mine: list[tuple[dict, list[str]]], states: dict[str, str]) -> dict[str, Finding]:
        found: dict[str, Finding] = {}
        purge: list[str] = []
        for control, names in mine:
            finding = Finding(expected=dict.fromkeys(names, "not installed"), actual={})
            present = []
            for name in names:
                status = states.get(name)
                finding.actual[name] = describe(status) or "not installed"
                if status and status[1:2] not in ("n", "c"):
                    present.append(name)
                    finding.differences.append(c.difference(name, "package", "not installed", describe(status)))
                elif status and status[1:2] == "c":
                    finding.details.setdefault("config files left (removed, not purged)", []).append(name)
            if present:
                finding.unfixable = self._check_purge(node, present, finding.details)
                if not finding.unfixable:
                    purge += present
            found[control["id"]] = finding
        if purge:
            action = _purge_action(node, sorted(set(purge)))
            for finding in found.values():
                if finding.differences and not finding.unfixable:
                    finding.actions.append(action)
        return found

    @staticmethod
    def _check_purge(node: Node, names: list[str], details: dict) -> str | None:
        held = [name for name in names if package_states(node).get(name, "")[:1] == "h"]
        if held:
            return f"{', '.join(held)} held: apt-mark unhold {' '.join(held)} first"
        try:
            removed, _unused = node.cached(
                f"apt:simulate:purge:{' '.join(names)}", lambda: simulate(node, "purge", names)
            )
        except CommandError as exc:
            return f"apt cannot purge {' '.join(names)}: {exc}"
        along = [name for name in removed if name not in names]
        bad = [name for name in along if needed(name)]
        if bad:
            return (
                f"purging {' '.join(names)} would also remove {', '.join(bad)} (they depend on it), which the node "
                "needs"
            )
        if along:
            details["also removed (they depend on it)"] = along
        return None


def _install_action(node: Node, names: list[str], update: bool) -> Action:
    added: list[str] = []

    def run() -> None:
        if update:
            apt_get(node, ["update", "-q"])
            removed, _unused = simulate(node, "install", names)
            bad = [name for name in removed if needed(name)]
            if bad:
                raise c.ControlInputError(
                    f"installing {' '.join(names)} would remove {', '.join(bad)}, which the node needs"
                )
        before = read_states(node)
        apt_get(node, ["install", "-y", "--no-install-recommends", *APT_OPTIONS, *names])
        after = read_states(node)
        added[:] = sorted(n for n, s in after.items() if is_installed(s) and not is_installed(before.get(n)))

    def undo() -> None:
        if added:
            apt_get(node, ["purge", "-y", *APT_OPTIONS, *added])

    what = ("apt-get update, then install " if update else "install ") + " ".join(names)
    return Action("apt:install", what, run, undo, [state_diff("installed packages", "", _lines(names))])


def _purge_action(node: Node, names: list[str]) -> Action:
    return Action(
        "apt:purge",
        f"purge {' '.join(names)}",
        lambda: apt_get(node, ["purge", "-y", *APT_OPTIONS, *names]),
        None,  # the removed files are gone; PackagesPurge runs last so that nothing needs it undone
        [state_diff("installed packages", _lines(names), "")],
    )


def _unreadable(names: list[str], kind: str, error: str) -> Finding:
    want = "installed" if kind == "present" else "not installed"
    return Finding(
        expected=dict.fromkeys(names, want),
        differences=[c.difference(name, "package", want, "unknown") for name in names],
        unfixable=f"the installed packages could not be read: {error}",
    )
