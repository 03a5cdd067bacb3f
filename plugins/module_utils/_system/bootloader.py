# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""GRUB (CIS 1.4.1, 1.4.2) and the kernel command line it boots (CIS 1.3.1.2, 6.2.1.3, 6.2.1.4).

Spec kinds, one per control:

- C({cmdline: {apparmor: "1", security: apparmor}}): kernel parameters, one
  C(GRUB_CMDLINE_LINUX="$GRUB_CMDLINE_LINUX ...") line per control in the managed file
  /etc/default/grub.d/60-nodeguard-hardening.cfg (update-grub reads it after /etc/default/grub),
  then C(update-grub); every C(linux) line of /boot/grub/grub.cfg must carry them. The details say
  whether the running kernel (/proc/cmdline) has them: a new command line needs a reboot.
- C({config_mode: "0600"}): /boot/grub/grub.cfg owned by root:root with no permission beyond
  C(config_mode). update-grub writes grub.cfg anew (0444 where no password is set): the update
  action puts back the mode and owner grub.cfg had just before it.
- C({password: report}): report only. A GRUB superuser and password need a password hash from
  the site (grub-mkpasswd-pbkdf2); the control says whether grub.cfg sets them.

A node without GRUB (no /boot/grub/grub.cfg and no GRUB package, as a virtual machine whose
hypervisor boots the kernel directly) skips every control: its kernel command line is the
hypervisor's. The details still say what the running kernel has.
"""

from __future__ import annotations

import os
import re
import typing as t

from ansible_collections.nodeguard.hardening.plugins.module_utils import _controls as c
from ansible_collections.nodeguard.hardening.plugins.module_utils._files import read_text
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.dpkg import is_installed, package_states
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.engine import (
    Action,
    Family,
    Finding,
    one_kind,
)
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.node import CommandError, Node
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.writes import (
    attribute_action,
    content_differences,
    file_attributes,
    write_action,
)

GRUB_CFG = "/boot/grub/grub.cfg"
DROPIN = "/etc/default/grub.d/60-nodeguard-hardening.cfg"
# Packages that install GRUB as the node's boot loader (grub-common alone is only its tools).
GRUB_PACKAGES = (
    "grub-pc",
    "grub-cloud-amd64",
    "grub-efi-amd64",
    "grub-efi-amd64-signed",
    "grub-efi-arm64",
    "grub-efi-arm64-signed",
    "grub-efi-ia32",
    "grub-ieee1275",
    "grub-xen",
    "grub-coreboot",
)
NO_GRUB = "no GRUB on this node (the kernel is booted directly); the kernel command line is the hypervisor's"
HEADER = (
    "# Kernel command line parameters of nodeguard.hardening, read by update-grub after\n"
    "# /etc/default/grub. This file is replaced on every run: change the role's variables, not this file.\n"
)
KEY_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")
VALUE_RE = re.compile(r"^[A-Za-z0-9_.,:/+-]+$")
LINUX_RE = re.compile(r"^\s*linux(?:16|efi)?\s+\S+(.*)$")
KINDS = ("cmdline", "config_mode", "password")


def parameters(text: str) -> dict[str, str | None]:
    """Kernel parameters of a command line: key -> value (None for a bare flag); the last one wins."""
    found: dict[str, str | None] = {}
    for word in text.split():
        key, sep, value = word.partition("=")
        found[key] = value if sep else None
    return found


class Bootloader(Family):
    name = "bootloader"

    def __init__(self, cmdline_path: str = "/proc/cmdline") -> None:
        self.cmdline_path = cmdline_path

    def validate(self, node: Node, control: dict, spec: t.Any) -> dict[str, t.Any]:
        cid = control["id"]
        kind, value = one_kind(
            control,
            spec,
            KINDS,
            "spec must be one of {cmdline: {key: value}}, {config_mode: '0600'}, {password: report}",
        )
        if kind == "cmdline":
            return {"cmdline": self._cmdline(node, cid, value)}
        if kind == "config_mode":
            text = str(value)
            if not re.match(r"^0?[0-7]{3}$", text):
                raise c.ControlInputError(f"control {cid!r}: config_mode {value!r} is not an octal mode such as '0600'")
            return {"config_mode": int(text, 8)}
        if value != "report":
            raise c.ControlInputError(
                f"control {cid!r}: password can only be reported (a GRUB password needs a hash from you): use "
                "{password: report}"
            )
        return {"password": "report"}

    @staticmethod
    def _cmdline(node: Node, cid: str, value: t.Any) -> dict[str, str]:
        if not isinstance(value, dict) or not value:
            raise c.ControlInputError(f"control {cid!r}: cmdline must map kernel parameters to values")
        wanted: dict[str, str] = {}
        seen: dict[str, tuple[str, str]] = node.cached("bootloader:parameters", dict)
        for key, raw in value.items():
            text = str(raw)
            if not isinstance(key, str) or not KEY_RE.match(key) or not VALUE_RE.match(text):
                raise c.ControlInputError(
                    f"control {cid!r}: {key}={raw} is not a kernel parameter this collection sets (letters, digits "
                    "and _.,:/+- only)"
                )
            other = seen.setdefault(key, (cid, text))
            if other[1] != text:
                raise c.ControlInputError(
                    f"control {cid!r}: {key}={text} here but {key}={other[1]} in control {other[0]!r}; keep one"
                )
            wanted[key] = text
        return wanted

    def inspect(self, node: Node, items: list[tuple[dict, t.Any]]) -> dict[str, Finding]:
        running = parameters(read_text(self.cmdline_path) or "")
        if not self._has_grub(node):
            found = {}
            for control, spec in items:
                finding = Finding(skipped=NO_GRUB)
                if "cmdline" in spec:
                    finding.details = _running_details(spec["cmdline"], running)
                found[control["id"]] = finding
            return found
        grub_cfg = node.read(GRUB_CFG)
        linux_lines = [
            (number, parameters(match.group(1)))
            for number, line in enumerate((grub_cfg or "").splitlines(), 1)
            if (match := LINUX_RE.match(line))
        ]
        before = node.read(DROPIN)
        content = _dropin([(control, spec["cmdline"]) for control, spec in items if "cmdline" in spec])
        update = None
        found = {}
        for control, spec in items:
            if "cmdline" in spec:
                finding = self._cmdline_finding(spec["cmdline"], before, content, grub_cfg, linux_lines, running)
                if finding.differences:
                    update = update or self._update_action(node, before, content)
                    if update is None:
                        finding.unfixable = "update-grub is not installed (package grub2-common)"
                    else:
                        finding.actions.append(update)
            elif "config_mode" in spec:
                finding = self._access(node, spec["config_mode"])
            else:
                finding = self._password(grub_cfg)
            found[control["id"]] = finding
        # A file left with lines of controls that are off now is rewritten with the first control.
        if before not in (None, content) and content and not update:
            first = next(((control, spec) for control, spec in items if "cmdline" in spec), None)
            action = self._update_action(node, before, content)
            if first and action:
                found[first[0]["id"]].differences += content_differences(DROPIN, before, content)
                found[first[0]["id"]].actions.append(action)
        return found

    @staticmethod
    def _has_grub(node: Node) -> bool:
        if node.exists(GRUB_CFG):
            return True
        try:
            states = package_states(node)
        except CommandError:
            return False
        return any(is_installed(states.get(name)) for name in GRUB_PACKAGES)

    @staticmethod
    def _cmdline_finding(wanted, before, content, grub_cfg, linux_lines, running) -> Finding:
        finding = Finding(
            expected=dict(wanted),
            actual={},
            details=_running_details(wanted, running),
        )
        present = set((before or "").splitlines())
        line = _line(wanted)
        if line not in present:
            finding.differences.append(
                c.difference(" ".join(f"{k}={v}" for k, v in wanted.items()), DROPIN, line, None)
            )
        for key, value in wanted.items():
            have = [params.get(key, "") for _unused, params in linux_lines]
            finding.actual[key] = sorted({h for h in have if h}) or None
            missing = [number for number, params in linux_lines if params.get(key, "") != value]
            if grub_cfg is None:
                finding.differences.append(c.difference(f"{key}={value}", GRUB_CFG, "on every linux line", None))
            elif not linux_lines:
                finding.differences.append(
                    c.difference(f"{key}={value}", GRUB_CFG, "on every linux line", "no linux line")
                )
            elif missing:
                finding.differences.append(
                    c.difference(
                        f"{key}={value}",
                        f"{GRUB_CFG} line {missing[0]}",
                        f"{key}={value}",
                        linux_lines[[n for n, _unused in linux_lines].index(missing[0])][1].get(key),
                    )
                )
        return finding

    @staticmethod
    def _update_action(node: Node, before: str | None, content: str) -> Action | None:
        update_grub = node.binary("update-grub")
        if update_grub is None:
            return None
        write = write_action(node, DROPIN, content) if before != content else None

        def regenerate() -> None:
            # update-grub writes grub.cfg anew (0444 without a password): keep the mode it had.
            kept = file_attributes(node, GRUB_CFG)
            node.run([update_grub])
            now = file_attributes(node, GRUB_CFG)
            if kept and now and now != kept:
                os.chown(node.path(GRUB_CFG), kept[1], kept[2])
                os.chmod(node.path(GRUB_CFG), kept[0])

        def run() -> None:
            if write:
                write.run()
            try:
                regenerate()
            except (CommandError, OSError):
                # The engine undoes the actions that completed: this one puts its own file back.
                if write and write.undo:
                    write.undo()
                raise

        def undo() -> None:
            if write and write.undo:
                write.undo()
            regenerate()

        what = f"{write.what} and run update-grub" if write else "run update-grub"
        return Action("bootloader:update-grub", what, run, undo, write.diff if write else [])

    @staticmethod
    def _access(node: Node, most: int) -> Finding:
        attributes = file_attributes(node, GRUB_CFG)
        finding = Finding(expected={GRUB_CFG: f"root:root, {most:04o} or stricter"}, actual={})
        if attributes is None:
            finding.actual[GRUB_CFG] = None
            finding.differences.append(c.difference(GRUB_CFG, "file", "present", None))
            finding.unfixable = "there is no grub.cfg: run update-grub"
            return finding
        mode, uid, gid = attributes
        finding.actual[GRUB_CFG] = f"{uid}:{gid}, {mode:04o}"
        if mode & ~most:
            finding.differences.append(c.difference(GRUB_CFG, "mode", f"{most:04o} or stricter", f"{mode:04o}"))
        if (uid, gid) != (0, 0):
            finding.differences.append(c.difference(GRUB_CFG, "owner", "0:0", f"{uid}:{gid}"))
        if finding.differences:
            finding.actions.append(
                attribute_action(node, GRUB_CFG, mode & most, 0 if uid else None, 0 if gid else None)
            )
        return finding

    @staticmethod
    def _password(grub_cfg: str | None) -> Finding:
        lines = [line.strip() for line in (grub_cfg or "").splitlines()]
        superusers = next(
            (line.split("=", 1)[1].strip("\"' ") for line in lines if line.startswith("set superusers=")), None
        )
        hashed = [line.split()[1] for line in lines if line.startswith("password_pbkdf2 ") and len(line.split()) > 2]
        finding = Finding(
            expected={"superusers": "set", "password_pbkdf2": "set"},
            actual={"superusers": superusers, "password_pbkdf2": hashed or None},
        )
        if not superusers:
            finding.differences.append(c.difference("set superusers", GRUB_CFG, "a superuser", None))
        if not hashed:
            finding.differences.append(c.difference("password_pbkdf2", GRUB_CFG, "a password hash", None))
        if finding.differences:
            finding.unfixable = (
                "a GRUB password needs a password hash from you (grub-mkpasswd-pbkdf2): set superusers and "
                "password_pbkdf2 in a file of /etc/grub.d, then run update-grub"
            )
        return finding


def _line(wanted: dict[str, str]) -> str:
    return 'GRUB_CMDLINE_LINUX="$GRUB_CMDLINE_LINUX ' + " ".join(f"{k}={v}" for k, v in wanted.items()) + '"'


def _dropin(items: list[tuple[dict, dict[str, str]]]) -> str:
    if not items:
        return ""
    blocks = [HEADER]
    for control, wanted in items:
        blocks.append(f"# {control['id']}: {control['title']}\n{_line(wanted)}\n")
    return "\n".join(blocks)


def _running_details(wanted: dict[str, str], running: dict[str, str | None]) -> dict[str, t.Any]:
    have = {key: running.get(key) for key in wanted}
    return {
        "running kernel": have,
        "running kernel has them": all(running.get(key) == value for key, value in wanted.items()),
    }
