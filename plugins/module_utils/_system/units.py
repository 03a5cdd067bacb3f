# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""systemd units a node must not run, or must run (CIS 2.1.x, 6.2.1.2).

Spec kinds, one per control:

- C({masked: [UNIT, ...]}): each unit masked (for good, not C(--runtime)) and stopped. A unit
  that is not installed (LoadState C(not-found)) passes: CIS accepts a service whose package is
  absent, and the result's details say so. Fixed with C(systemctl mask --now UNIT); the undo
  unmasks it and enables and starts it again where it was.
- C({enabled: [UNIT, ...], active: [UNIT, ...]}): each unit of C(enabled) enabled, each of
  C(active) running; either list may be left out. A masked unit is unmasked first. One
  C(systemctl unmask / enable [--now] / start) per unit; the undo puts back what was.

The state of every unit of every control is read with one C(systemctl show) per run (see
systemd.py, which the timesync and apparmor families share). Units a node needs (ssh, the
container runtime, the kubelet, dbus, systemd's own units, every target) are never masked, and a
unit cannot be masked by one control and wanted running by another.
"""

from __future__ import annotations

import re
import typing as t

from ansible_collections.nodeguard.hardening.plugins.module_utils import _controls as c
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.engine import Action, Family, Finding
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.node import CommandError, Node
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.systemd import (
    UnitState,
    mask_action,
    start_action,
    unit_states,
)

UNIT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9:_.@-]{0,200}\.(service|socket|timer|target|path|mount)$")
KINDS = ("masked", "enabled", "active")
# What the node, its operators and Kubernetes need: never masked, whatever the input.
PROTECTED = frozenset(
    {
        "ssh.service",
        "sshd.service",
        "ssh.socket",
        "crio.service",
        "docker.service",
        "docker.socket",
        "cri-docker.service",
        "cri-docker.socket",
        "networking.service",
        "NetworkManager.service",
        "apparmor.service",
        "auditd.service",
        "cron.service",
    }
)
PROTECTED_PREFIXES = (
    "systemd-",
    "dbus",
    "kubelet",
    "containerd",
    "getty@",
    "serial-getty@",
    "ifup@",
    "var-lib-kubelet",
    "var-lib-containerd",
    "run-containerd",
)


def protected(name: str) -> bool:
    return name in PROTECTED or name.startswith(PROTECTED_PREFIXES) or name.endswith(".target")


class Units(Family):
    name = "units"

    def validate(self, node: Node, control: dict, spec: t.Any) -> dict[str, list[str]]:
        cid = control["id"]
        if not isinstance(spec, dict) or not spec or any(k not in KINDS for k in spec):
            raise c.ControlInputError(
                f"control {cid!r}: spec must be {{masked: [units]}} or {{enabled: [units], active: [units]}}"
            )
        if "masked" in spec and len(spec) > 1:
            raise c.ControlInputError(f"control {cid!r}: a spec with masked units cannot also want units running")
        normal: dict[str, list[str]] = {}
        for kind, names in spec.items():
            if not isinstance(names, list) or not names:
                raise c.ControlInputError(f"control {cid!r}: spec.{kind} must list unit names")
            for name in names:
                if not isinstance(name, str) or not UNIT_RE.match(name):
                    raise c.ControlInputError(
                        f"control {cid!r}: {name!r} is not a unit name (NAME.service, .socket, .timer, .target, "
                        ".path or .mount, with letters, digits and :_.@- only)"
                    )
                if kind == "masked" and protected(name):
                    raise c.ControlInputError(
                        f"control {cid!r}: {name} is needed by the node (remote access, the container runtime, the "
                        "kubelet, auditing or systemd itself); it is never masked"
                    )
            normal[kind] = list(dict.fromkeys(names))
        # A unit masked by one control and wanted running by another: neither could ever pass.
        seen: dict[str, tuple[str, str]] = node.cached("units:wanted", dict)
        for kind, names in normal.items():
            want = "masked" if kind == "masked" else "running"
            for name in names:
                other = seen.setdefault(name, (cid, want))
                if other[1] != want:
                    raise c.ControlInputError(
                        f"control {cid!r}: {name} is wanted {want} here but {other[1]} by control {other[0]!r}; "
                        "switch one of them off"
                    )
        return normal

    def inspect(self, node: Node, items: list[tuple[dict, t.Any]]) -> dict[str, Finding]:
        names = [name for _unused, spec in items for group in spec.values() for name in group]
        try:
            states = unit_states(node, names)
        except CommandError as exc:
            return {control["id"]: _unreadable(spec, str(exc)) for control, spec in items}
        # What all controls want of a unit, merged: one action per unit.
        enable = {name for _unused, spec in items for name in spec.get("enabled", [])}
        start = {name for _unused, spec in items for name in spec.get("active", [])}
        starts: dict[str, Action | None] = {}
        found = {}
        for control, spec in items:
            if "masked" in spec:
                found[control["id"]] = _masked(node, spec["masked"], states)
                continue
            finding = Finding(expected={}, actual={})
            for name in dict.fromkeys(spec.get("enabled", []) + spec.get("active", [])):
                state = states[name]
                wants = [kind for kind in ("enabled", "active") if name in spec.get(kind, [])]
                finding.expected[name] = ", ".join(wants)
                finding.actual[name] = state.describe()
                if not state.installed:
                    finding.differences.append(c.difference(name, "unit", ", ".join(wants), None))
                    finding.unfixable = f"{name} is not installed: its package must be installed first"
                    continue
                before = len(finding.differences)
                if "enabled" in wants and (state.any_mask or not state.enabled):
                    finding.differences.append(c.difference(name, "unit", "enabled", state.describe()))
                if "active" in wants and (state.any_mask or not state.running):
                    finding.differences.append(c.difference(name, "live", "active", state.active))
                if len(finding.differences) == before:
                    continue
                if name not in starts:
                    starts[name] = start_action(node, state, enable=name in enable, start=name in start)
                if starts[name] is not None:
                    finding.actions.append(starts[name])
            found[control["id"]] = finding
        return found


def _masked(node: Node, names: list[str], states: dict[str, UnitState]) -> Finding:
    finding = Finding(expected=dict.fromkeys(names, "masked"), actual={})
    absent = []
    for name in names:
        state = states[name]
        finding.actual[name] = state.describe()
        if not state.installed:
            absent.append(name)
            continue
        before = len(finding.differences)
        if not state.masked:
            finding.differences.append(c.difference(name, "unit", "masked", state.describe()))
        if state.running:
            finding.differences.append(c.difference(name, "live", "inactive", state.active))
        if len(finding.differences) > before:
            finding.actions.append(mask_action(node, state))
    if absent:
        finding.details["not installed (CIS accepts a service whose package is absent)"] = absent
    return finding


def _unreadable(spec: dict, error: str) -> Finding:
    return Finding(
        expected={name: kind for kind, group in spec.items() for name in group},
        differences=[c.difference(name, "live", kind, None) for kind, group in spec.items() for name in group],
        unfixable=f"the state of the units could not be read: {error}",
    )
