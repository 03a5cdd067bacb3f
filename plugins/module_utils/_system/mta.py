# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The mail transfer agent listens on loopback only (CIS 2.1.21).

Spec: C({ports: [25, 465, 587]}), the mail ports. Two things are judged:

- what listens: every TCP socket in state LISTEN on a mail port (from /proc/net/tcp and tcp6)
  must be bound to a loopback address (127.0.0.0/8, ::1); a socket on any other address is a
  difference naming the address, the port and the program that holds it.
- what the MTA is told: where exim4 is installed, C(dc_local_interfaces) of
  /etc/exim4/update-exim4.conf.conf must name loopback addresses only (empty means every
  interface); where postfix is installed, C(inet_interfaces) of /etc/postfix/main.cf must be
  C(loopback-only), C(localhost) or loopback addresses (absent means C(all)).

Fixes: the setting is rewritten in place (atomically, the rest of the file kept), then exim4's
configuration is regenerated (C(update-exim4.conf)) and the running MTA restarted. A program on a
mail port that is neither exim4 nor postfix cannot be reconfigured here: the control reports it
as an error naming the program, for a person to stop or reconfigure. A node without an MTA passes.
"""

from __future__ import annotations

import ipaddress
import re
import typing as t

from ansible_collections.nodeguard.hardening.plugins.module_utils import _controls as c
from ansible_collections.nodeguard.hardening.plugins.module_utils import _netsockets as netsockets
from ansible_collections.nodeguard.hardening.plugins.module_utils._files import atomic_write, file_diff
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.engine import Action, Family, Finding
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.node import Node
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.systemd import restart_if_running, systemctl
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.writes import file_attributes

EXIM_CONF = "/etc/exim4/update-exim4.conf.conf"
EXIM_KEY = "dc_local_interfaces"
EXIM_WANTED = "127.0.0.1 ; ::1"
POSTFIX_CONF = "/etc/postfix/main.cf"
POSTFIX_KEY = "inet_interfaces"
POSTFIX_WANTED = "loopback-only"
# The programs of the MTAs this family configures, as /proc/PID/comm shows them.
MTA_PROGRAMS = {"exim4": "exim4", "exim": "exim4", "master": "postfix"}
decode_address = netsockets.decode_address


def loopback(address: str) -> bool:
    """Whether an address (bare, in brackets, or with exim's C(.PORT) / C(:PORT) suffix) is loopback."""
    if address.lower() in ("localhost", "loopback-only"):
        return True
    candidates = [address, address.strip("[]")]
    match = re.match(r"^\[?(.+?)\]?[.:](\d+)$", address)
    if match:
        candidates.append(match.group(1))
    for candidate in candidates:
        try:
            return ipaddress.ip_address(candidate).is_loopback
        except ValueError:
            continue
    return False


def listeners(node: Node, ports: list[int]) -> list[netsockets.Socket]:
    """Every TCP socket listening on one of C(ports)."""
    return [
        found for found in netsockets.sockets(node, protocols=("tcp",)) if found.listening and found.local_port in ports
    ]


def shell_value(text: str, key: str) -> tuple[str | None, int | None]:
    """The value and line number of C(key='value') in a shell-style file (the last one wins)."""
    value, number = None, None
    for index, line in enumerate(text.splitlines(), 1):
        match = re.match(rf"^\s*{re.escape(key)}\s*=\s*(.*?)\s*$", line)
        if match:
            value, number = match.group(1).strip("'\""), index
    return value, number


def postfix_value(text: str, key: str) -> tuple[str | None, int | None]:
    """The value and line of C(key = value) in main.cf (the last one wins; continuation lines joined)."""
    value, number = None, None
    lines = text.splitlines()
    for index, line in enumerate(lines, 1):
        match = re.match(rf"^{re.escape(key)}\s*=\s*(.*?)\s*$", line)
        if match:
            parts = [match.group(1)]
            for following in lines[index:]:
                if not following[:1].isspace() or not following.strip():
                    break
                parts.append(following.strip())
            value, number = " ".join(p for p in parts if p), index
    return value, number


def exim_loopback(value: str | None) -> bool:
    # exim accepts ADDRESS.PORT and [ADDRESS]:PORT forms as well (see loopback).
    items = [item.strip() for item in (value or "").split(";") if item.strip()]
    return bool(items) and all(loopback(item) for item in items)


def postfix_loopback(value: str | None) -> bool:
    items = [item for item in re.split(r"[\s,]+", value or "all") if item]
    return bool(items) and all(loopback(item) for item in items)


def set_line(text: str, key: str, line: str, number: int | None, continuation: bool = False) -> str:
    """C(text) with line C(number) (and its continuation lines) replaced by C(line), or C(line) appended."""
    lines = text.splitlines()
    if number is None:
        return text + ("" if not text or text.endswith("\n") else "\n") + line + "\n"
    end = number
    if continuation:
        while end < len(lines) and lines[end][:1].isspace() and lines[end].strip():
            end += 1
    return "\n".join([*lines[: number - 1], line, *lines[end:]]) + "\n"


class Mta(Family):
    name = "mta"

    def validate(self, node: Node, control: dict, spec: t.Any) -> list[int]:
        cid = control["id"]
        ports = spec.get("ports") if isinstance(spec, dict) and set(spec) == {"ports"} else None
        if not isinstance(ports, list) or not ports:
            raise c.ControlInputError(f"control {cid!r}: spec must be {{ports: [25, 465, 587]}}, the mail ports")
        for port in ports:
            if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
                raise c.ControlInputError(f"control {cid!r}: port {port!r} is not a TCP port number")
        return sorted(set(ports))

    def inspect(self, node: Node, items: list[tuple[dict, t.Any]]) -> dict[str, Finding]:
        return {control["id"]: self._one(node, ports) for control, ports in items}

    def _one(self, node: Node, ports: list[int]) -> Finding:
        finding = Finding(expected={"listening": "loopback only"}, actual={})
        actions: list[Action] = []
        configured = []
        for path, key, wanted, read, is_loopback, fix in (
            (EXIM_CONF, EXIM_KEY, EXIM_WANTED, shell_value, exim_loopback, self._exim_action),
            (POSTFIX_CONF, POSTFIX_KEY, POSTFIX_WANTED, postfix_value, postfix_loopback, self._postfix_action),
        ):
            text = node.read(path)
            if text is None:
                continue
            configured.append(path)
            value, number = read(text, key)
            finding.actual[key] = value
            if not is_loopback(value):
                where = f"{path} line {number}" if number else path
                finding.differences.append(c.difference(key, where, wanted, value))
                actions.append(fix(node, text, number))
        open_sockets = [found for found in listeners(node, ports) if not netsockets.is_loopback(found.local_address)]
        owners = netsockets.owners(node, {found.inode for found in open_sockets})
        strangers = []
        for found in open_sockets:
            pid, program = owners.get(found.inode, (0, "unknown program"))
            shown = found.endpoint
            finding.differences.append(c.difference(shown, "live", "loopback only", f"listening ({program})"))
            if program in MTA_PROGRAMS:
                service = MTA_PROGRAMS[program]
                if not actions:
                    # The configuration says loopback, the running daemon has not read it yet.
                    actions.append(self._restart_action(node, service))
            else:
                strangers.append(f"{program} (pid {pid}) on {shown}" if pid else shown)
        finding.actual["listening"] = [
            f"{found.local_address}:{found.local_port}" for found in open_sockets
        ] or "nothing off loopback"
        if not configured:
            finding.details["mta"] = "neither exim4 nor postfix is installed"
        if strangers:
            finding.unfixable = (
                f"{', '.join(strangers)} listens on a mail port and is not an MTA this role configures "
                "(exim4, postfix): configure it to listen on loopback only, or stop it"
            )
        finding.actions = actions
        return finding

    def _edit_action(
        self, node: Node, path: str, text: str, after: str, service: str, extra: list[list[str]]
    ) -> Action:
        target = node.path(path)
        mode = (file_attributes(node, path) or (0o644, 0, 0))[0]

        def apply(content: str) -> None:
            atomic_write(node.module, target, content, mode)
            for argv in extra:
                node.run(argv)
            restart_if_running(node, f"{service}.service")

        return Action(
            f"mta:{path}",
            f"set {path} to listen on loopback only and restart {service} if it runs",
            lambda: apply(after),
            lambda: apply(text),
            [file_diff(path, text, after)],
        )

    def _exim_action(self, node: Node, text: str, number: int | None) -> Action:
        after = set_line(text, EXIM_KEY, f"{EXIM_KEY}='{EXIM_WANTED}'", number)
        return self._edit_action(node, EXIM_CONF, text, after, "exim4", [["update-exim4.conf"]])

    def _postfix_action(self, node: Node, text: str, number: int | None) -> Action:
        after = set_line(text, POSTFIX_KEY, f"{POSTFIX_KEY} = {POSTFIX_WANTED}", number, continuation=True)
        return self._edit_action(node, POSTFIX_CONF, text, after, "postfix", [])

    def _restart_action(self, node: Node, service: str) -> Action:
        steps = [["update-exim4.conf"]] if service == "exim4" else []

        def run() -> None:
            for argv in steps:
                node.run(argv)
            node.run([systemctl(node), "restart", f"{service}.service"])

        return Action(f"mta:restart:{service}", f"restart {service} so it reads its loopback-only setting", run)
