# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Kernel modules that must be loaded now and at every boot (systemd-modules-load)."""

from __future__ import annotations

import re
import typing as t

from ansible_collections.nodeguard.hardening.plugins.module_utils import _controls as c
from ansible_collections.nodeguard.hardening.plugins.module_utils._files import (
    atomic_write,
    attribute_diff,
    attribute_differences,
    check_drop_in_path,
    file_diff,
    read_text,
    state_diff,
)
from ansible_collections.nodeguard.hardening.plugins.module_utils._node import NodePaths

DEFAULT_PATH = "/etc/modules-load.d/nodeguard-hardening.conf"
MANAGED_DIR = "/etc/modules-load.d"
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")

FILE_HEADER = (
    "# Kernel modules loaded at boot for nodeguard.hardening. This file is replaced on\n"
    "# every run: change the role's variables, not this file.\n"
)


class KmodApplyError(RuntimeError):
    """modprobe failed on the node."""


def render(entries: list[tuple[dict, list[str]]]) -> str:
    blocks = [FILE_HEADER]
    for control, names in entries:
        if names:
            blocks.append("\n".join([f"# {control['id']}: {control['title']}", *names]) + "\n")
    return "\n".join(blocks)


def parse_conf(text: str) -> set[str]:
    names = set()
    for raw in text.splitlines():
        line = raw.strip()
        if line and line[0] not in "#;":
            names.add(line.replace("-", "_"))
    return names


def run(module: t.Any, host: NodePaths) -> dict[str, t.Any]:
    params = module.params
    path = params["path"]
    check_drop_in_path(path, MANAGED_DIR, "systemd-modules-load reads it at every boot")
    controls = params["controls"]
    c.validate_controls(controls)

    modprobe = module.get_bin_path("modprobe", required=False, opt_dirs=["/usr/sbin", "/sbin"])
    if modprobe is None:
        raise c.ControlInputError("modprobe is not installed on this node; install the kmod package")
    enabled = [control for control in controls if control["enabled"]]
    for control in enabled:
        names = control.get("load") or []
        if not names:
            raise c.ControlInputError(f"control {control['id']!r} names no module in 'load'")
        bad = [name for name in names if not _NAME_RE.match(name)]
        if bad:
            raise c.ControlInputError(f"control {control['id']!r}: {bad[0]!r} is not a kernel module name")
    available: dict[str, bool] = {}
    plan: list[tuple[dict, list[str], list[str]]] = []
    for control in enabled:
        names = control["load"]
        for name in names:
            if name not in available:
                available[name] = host.module_loaded(name) or module.run_command([modprobe, "-n", "-q", name])[0] == 0
        absent = [n for n in names if not available[n]]
        if absent and params["missing"] == "fail":
            raise c.ControlInputError(
                f"control {control['id']!r}: this kernel has no module {', '.join(absent)} "
                "(set missing=skip to report it as skipped)"
            )
        plan.append((control, [n for n in names if available[n]], absent))

    target = host.conf(path)
    before_text = read_text(target)
    after_text = render([(entry[0], entry[1]) for entry in plan])
    persisted = parse_conf(before_text or "")
    attributes = attribute_differences(target, path)
    to_load = sorted({n for entry in plan for n in entry[1] if not host.module_loaded(n)})
    file_changes = before_text != after_text or bool(attributes)

    results: dict[str, dict] = {}
    for control, names, absent in plan:
        expected = dict.fromkeys(control.get("load") or [], "loaded")
        actual = {
            n: ("loaded" if host.module_loaded(n) else ("absent" if n in absent else "not loaded")) for n in expected
        }
        if not names:
            reason = f"this kernel has no module {', '.join(absent)}"
            results[control["id"]] = c.make_result(control, c.SKIPPED, reason=reason, expected=expected, actual=actual)
            continue
        differences = [c.difference(n, "live", "loaded", "not loaded") for n in names if not host.module_loaded(n)]
        differences += [c.difference(n, path, "listed", None) for n in names if n.replace("-", "_") not in persisted]
        differences += attributes
        status = c.changed_status(module.check_mode) if differences else c.PASS
        details = {"missing_modules": absent} if absent else {}
        results[control["id"]] = c.make_result(
            control, status, expected=expected, actual=actual, details=details, differences=differences
        )

    if not module.check_mode:
        for name in to_load:
            rc, stdout, stderr = module.run_command([modprobe, name])
            if rc != 0:
                raise KmodApplyError(f"modprobe {name} failed with status {rc}: {(stderr or stdout).strip()}")
        if file_changes:
            atomic_write(module, target, after_text)

    diff = [file_diff(path, before_text, after_text), *attribute_diff(attributes)]
    if to_load:
        diff.append(state_diff("loaded modules", "", "".join(f"{n}\n" for n in to_load)))
    return c.module_result(
        controls, results, changed=bool(to_load) or file_changes, diff=diff, path=path, loaded=to_load
    )
