# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Kernel parameters: one drop-in file plus the live values, for a whole set of controls.

Boot order follows systemd-sysctl: every C(*.conf) in the search directories, a name in an
earlier directory hiding the same name in a later one, all read in lexical order of the file
name, the last assignment of a key winning. The default file name starts with C(zz-) so it is
read after every numbered file (C(99-sysctl.conf), C(99-kubernetes-cri.conf)) and after the
usual unnumbered ones (C(k8s.conf)); a file read later that sets one of its keys otherwise is
reported as an error for that control, because the value would not survive a reboot.
"""

from __future__ import annotations

import errno
import os
import re
import typing as t
from dataclasses import dataclass

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

DEFAULT_PATH = "/etc/sysctl.d/zz-nodeguard-hardening.conf"
MANAGED_DIR = "/etc/sysctl.d"
SEARCH_DIRS = ("/etc/sysctl.d", "/run/sysctl.d", "/usr/local/lib/sysctl.d", "/usr/lib/sysctl.d", "/lib/sysctl.d")

_KEY_PART_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.:@+-]*$")
_INT_RE = re.compile(r"^-?[0-9]+$")
_MODULE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")

FILE_HEADER = (
    "# Kernel parameters of nodeguard.hardening. This file is replaced on every run:\n"
    "# change the role's variables, not this file. Its name sorts after numbered files\n"
    "# so its values win at boot (systemd-sysctl reads files in lexical order).\n"
)


class SysctlApplyError(RuntimeError):
    """The kernel refused a value; every value already written was put back."""


def split_key(key: str) -> list[str]:
    """A key's path components, as sysctl(8) and systemd-sysctl read them.

    When C(/) comes before any dot the key is a path; otherwise dots separate components and a
    C(/) stands for a dot inside a component (C(net.ipv4.conf.eth0/100.rp_filter)).
    """
    first = re.search(r"[./]", key)
    if first and first.group(0) == "/":
        return key.strip("/").split("/")
    return [part.replace("/", ".") for part in key.strip(".").split(".")]


def canonical_key(key: str) -> str:
    """Dotted form, a dot inside a component written as C(/), so each key has one spelling."""
    return ".".join(part.replace(".", "/") for part in split_key(key))


def validate_key(key: t.Any) -> str:
    if not isinstance(key, str) or not key.strip():
        raise c.ControlInputError(f"sysctl key {key!r} is not a name such as 'net.ipv4.ip_forward'")
    parts = split_key(key.strip())
    if len(parts) < 2 or any(part in ("", ".", "..") or not _KEY_PART_RE.match(part) for part in parts):
        raise c.ControlInputError(f"sysctl key {key!r} is not a name such as 'net.ipv4.ip_forward'")
    return canonical_key(key.strip())


def normalise_value(key: str, value: t.Any) -> str:
    """The value as the kernel prints it: tokens joined by one space."""
    if isinstance(value, bool):
        raise c.ControlInputError(f"sysctl {key}: {value!r} is a boolean; write 1 or 0 instead")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        if any(ch in value for ch in "\n\r\0"):
            raise c.ControlInputError(f"sysctl {key}: the value must be on one line")
        text = " ".join(value.split())
        if text:
            return text
        raise c.ControlInputError(f"sysctl {key}: the value is empty")
    raise c.ControlInputError(f"sysctl {key}: {value!r} is a {type(value).__name__}; use an integer or a string")


def check_shape(key: str, desired: str, live: str) -> None:
    """A key the kernel prints as integers only takes the same number of integers."""
    live_tokens = live.split()
    if not live_tokens or not all(_INT_RE.match(tok) for tok in live_tokens):
        return
    wanted = desired.split()
    if len(wanted) != len(live_tokens) or not all(_INT_RE.match(tok) for tok in wanted):
        count = "an integer" if len(live_tokens) == 1 else f"{len(live_tokens)} integers"
        raise c.ControlInputError(
            f"sysctl {key}: {desired!r} is not valid, this kernel takes {count} there (now {live!r})"
        )


def read_live(host: NodePaths, key: str) -> str | None:
    path = os.path.join(host.proc_root, *split_key(key))
    try:
        with open(path, encoding="utf-8") as handle:
            return " ".join(handle.read().split())
    except FileNotFoundError:
        return None
    except NotADirectoryError:
        return None


def write_live(host: NodePaths, key: str, value: str) -> None:
    path = os.path.join(host.proc_root, *split_key(key))
    fd = os.open(path, os.O_WRONLY | os.O_TRUNC)
    try:
        os.write(fd, value.encode() + b"\n")
    finally:
        os.close(fd)


def parse_conf_lines(text: str) -> list[tuple[str, str, int]]:
    """Assignments of a sysctl.d file, in order, with keys in dotted form and line numbers."""
    out = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line[0] in "#;" or "=" not in line:
            continue
        key, value = line.split("=", 1)
        key = key.strip().lstrip("-").strip()
        if key:
            out.append((canonical_key(key), " ".join(value.split()), number))
    return out


def parse_conf(text: str) -> list[tuple[str, str]]:
    """Assignments of a sysctl.d file, in order, with keys in dotted form."""
    return [(key, value) for key, value, _unused in parse_conf_lines(text)]


def boot_files(host: NodePaths) -> list[str]:
    """Config files in the order systemd-sysctl reads them at boot."""
    by_name: dict[str, str] = {}
    for directory in SEARCH_DIRS:
        try:
            names = os.listdir(host.conf(directory))
        except OSError:
            continue
        for name in names:
            # systemd-sysctl skips hidden files.
            if name.endswith(".conf") and not name.startswith(".") and name not in by_name:
                by_name[name] = os.path.join(directory, name)
    return [by_name[name] for name in sorted(by_name)]


def later_conflicts(host: NodePaths, path: str, wanted: dict[str, str]) -> dict[str, tuple[str, str]]:
    """Keys that a file read after C(path) sets to another value: key -> ("file line N", value).

    Only explicit assignments count: systemd-sysctl never lets a glob pattern override a key
    that some file sets explicitly, and every key of the drop-in is explicit.
    """
    name = os.path.basename(path)
    conflicts: dict[str, tuple[str, str]] = {}
    for conf in boot_files(host):
        if os.path.basename(conf) <= name:
            continue
        for key, value, number in parse_conf_lines(read_text(host.conf(conf)) or ""):
            if key in wanted and value != wanted[key]:
                conflicts[key] = (f"{conf} line {number}", value)
    return conflicts


def render(entries: list[tuple[dict, dict[str, str]]]) -> str:
    """The drop-in file: one block per control, keys in the order given."""
    blocks = [FILE_HEADER]
    for control, settings in entries:
        if not settings:
            continue
        lines = [f"# {control['id']}: {control['title']}"]
        lines += [f"{key} = {value}" for key, value in settings.items()]
        blocks.append("\n".join(lines) + "\n")
    return "\n".join(blocks)


def validate_path(path: str) -> str:
    return check_drop_in_path(
        path,
        MANAGED_DIR,
        "systemd-sysctl reads it at every boot (/run is emptied at boot, and /etc hides "
        "files of the same name elsewhere)",
    )


@dataclass
class _Planned:
    control: dict
    desired: dict[str, str]
    live: dict[str, str | None]
    missing: list[str]
    waiting_for: list[str]


def plan(host: NodePaths, controls: list[dict], missing_policy: str) -> list[_Planned]:
    """Validate every control against the input rules and the running kernel; touch nothing."""
    c.validate_controls(controls)
    owners: dict[str, tuple[str, str]] = {}
    planned = []
    for control in controls:
        if not control["enabled"]:
            continue
        settings = control.get("sysctl") or {}
        if not settings:
            raise c.ControlInputError(f"control {control['id']!r} has no sysctl settings")
        for name in control.get("requires_modules") or []:
            if not _MODULE_RE.match(name):
                raise c.ControlInputError(f"control {control['id']!r}: {name!r} is not a kernel module name")
        item = _Planned(control, {}, {}, [], [])
        for raw_key, raw_value in settings.items():
            key = validate_key(raw_key)
            value = normalise_value(key, raw_value)
            if key in owners and owners[key][1] != value:
                raise c.ControlInputError(
                    f"sysctl {key} is set to {owners[key][1]!r} by control {owners[key][0]!r} and to "
                    f"{value!r} by control {control['id']!r}; switch one of them off"
                )
            owners[key] = (control["id"], value)
            live = read_live(host, key)
            if live is None:
                item.missing.append(key)
            else:
                check_shape(key, value, live)
            item.desired[key] = value
            item.live[key] = live
        item.waiting_for = [m for m in control.get("requires_modules") or [] if not host.module_loaded(m)]
        if item.missing and not item.waiting_for and missing_policy == "fail":
            raise c.ControlInputError(
                f"control {control['id']!r}: this kernel has no {', '.join(item.missing)} "
                "(set missing=skip to report such keys as skipped)"
            )
        planned.append(item)
    return planned


def run(module: t.Any, host: NodePaths) -> dict[str, t.Any]:
    """Check or apply every control; return the module's result."""
    params = module.params
    path = validate_path(params["path"])
    controls = params["controls"]
    planned = plan(host, controls, params["missing"])
    check_mode = module.check_mode

    # What goes into the file: every key the kernel has, or will have once a required module loads.
    file_entries = []
    for item in planned:
        keep = {k: v for k, v in item.desired.items() if k not in item.missing or item.waiting_for}
        file_entries.append((item.control, keep))
    wanted = {k: v for entry in file_entries for k, v in entry[1].items()}
    target = host.conf(path)
    before_text = read_text(target)
    after_text = render(file_entries)
    # Last assignment wins, as at boot; its line number says where a wrong value is.
    persisted = {key: (value, number) for key, value, number in parse_conf_lines(before_text or "")}
    attributes = attribute_differences(target, path)
    conflicts = later_conflicts(host, path, wanted)

    to_write = {
        k: v for item in planned for k, v in item.desired.items() if k not in item.missing and item.live[k] != v
    }
    live_before = {k: item.live[k] for item in planned for k in to_write if k in item.live}
    file_changes = before_text != after_text or bool(attributes)
    if not check_mode:
        _apply_live(host, to_write)
        if file_changes:
            try:
                atomic_write(module, target, after_text)
            except OSError as exc:
                _restore_live(host, live_before)
                raise SysctlApplyError(f"could not write {path}: {exc}; live values were put back") from exc

    boot = _BootFile(path, persisted, attributes)
    results = {item.control["id"]: _result(item, boot, conflicts, check_mode) for item in planned}
    diff = [file_diff(path, before_text, after_text), *attribute_diff(attributes)]
    if to_write:
        diff.append(
            state_diff(
                "live kernel parameters",
                "".join(f"{k} = {live_before[k]}\n" for k in sorted(to_write)),
                "".join(f"{k} = {to_write[k]}\n" for k in sorted(to_write)),
            )
        )
    return c.module_result(controls, results, changed=bool(to_write) or file_changes, diff=diff, path=path)


@dataclass
class _BootFile:
    """The drop-in as found: each key's last value and line, and its mode and owner differences."""

    path: str
    values: dict[str, tuple[str, int]]
    attributes: list[dict]

    def differences(self, wanted: dict[str, str]) -> list[dict]:
        found = []
        for key, value in wanted.items():
            if key not in self.values:
                found.append(c.difference(key, self.path, value, None))
            elif self.values[key][0] != value:
                found.append(c.difference(key, f"{self.path} line {self.values[key][1]}", value, self.values[key][0]))
        return found + (self.attributes if wanted else [])


def _result(item: _Planned, boot: _BootFile, conflicts: dict, check_mode: bool) -> dict:
    control = item.control
    present = {k: v for k, v in item.desired.items() if k not in item.missing}
    actual = {k: item.live[k] for k in item.desired}
    details: dict[str, t.Any] = {}
    if item.missing:
        details["missing_keys"] = item.missing
    if item.waiting_for and item.missing:
        reason = f"kernel module {', '.join(item.waiting_for)} is not loaded, so {', '.join(item.missing)} do not exist"
        absent = [c.difference(k, "live", item.desired[k], None) for k in item.missing]
        if check_mode:
            return c.make_result(
                control,
                c.DRIFT,
                reason=reason,
                expected=item.desired,
                actual=actual,
                details=details,
                differences=absent + boot.differences(item.desired),
            )
        return c.make_result(
            control,
            c.ERROR,
            reason=reason + "; load it first (control k8s.kernel_modules)",
            expected=item.desired,
            actual=actual,
            details=details,
            differences=absent,
        )
    if not present:
        return c.make_result(
            control,
            c.SKIPPED,
            reason=f"this kernel has no {', '.join(item.missing)}",
            expected=item.desired,
            actual=actual,
            details=details,
        )
    clashing = {k: conflicts[k] for k in present if k in conflicts}
    if clashing:
        where = "; ".join(f"{k} = {v} in {f}" for k, (f, v) in sorted(clashing.items()))
        return c.make_result(
            control,
            c.ERROR,
            reason=f"a file read later at boot sets another value ({where}): "
            "remove it there or switch this control off",
            expected=item.desired,
            actual=actual,
            details=details,
            differences=[c.difference(k, f, item.desired[k], v) for k, (f, v) in sorted(clashing.items())],
        )
    live = [c.difference(k, "live", v, item.live[k]) for k, v in present.items() if item.live[k] != v]
    persisted = boot.differences(present)
    if not live and not persisted:
        return c.make_result(control, c.PASS, expected=item.desired, actual=actual, details=details)
    details["live_matches"] = not live
    details["persisted"] = not persisted
    return c.make_result(
        control,
        c.changed_status(check_mode),
        expected=item.desired,
        actual=actual,
        details=details,
        differences=live + persisted,
    )


def _apply_live(host: NodePaths, values: dict[str, str]) -> None:
    done: dict[str, str] = {}
    for key, value in values.items():
        old = read_live(host, key)
        try:
            write_live(host, key, value)
        except OSError as exc:
            _restore_live(host, done)
            why = "the kernel refused it" if exc.errno == errno.EINVAL else exc.strerror
            raise SysctlApplyError(
                f"sysctl {key}: could not set {value!r} ({why}); nothing was changed, "
                "check the value's range for this kernel"
            ) from exc
        if old is not None:
            done[key] = old


def _restore_live(host: NodePaths, values: dict[str, str | None]) -> None:
    for key, value in values.items():
        if value is not None:
            try:
                write_live(host, key, value)
            except OSError:
                continue
