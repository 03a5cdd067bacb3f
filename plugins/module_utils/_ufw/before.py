# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Accept rules in /etc/ufw/before.rules, for what ufw's own rules cannot name.

ufw's rule syntax knows a few IP protocols (tcp, udp, esp, ah, gre, ...) but not IP-in-IP
(protocol 4), which Calico's IP-in-IP mode sends between the nodes. ufw loads before.rules with
its other chains, ahead of the user's rules; the collection keeps its lines there in one block
between two marker lines, just before the filter table's COMMIT, and nothing else of the file
changes. Only accept rules of ufw's before chains are taken (C(-A ufw-before-input|output|forward
... -j ACCEPT)): a line there can let traffic in, never shut the controller out, so the SSH guard
still judges the whole policy.
"""

from __future__ import annotations

import re

from ansible_collections.nodeguard.hardening.plugins.module_utils import _controls as c

PATH = "/etc/ufw/before.rules"
BEGIN = "# BEGIN nodeguard.hardening: accept rules managed by the ufw role; do not edit"
END = "# END nodeguard.hardening"
LINE_RE = re.compile(r"^-A ufw-before-(input|output|forward)( [A-Za-z0-9_.:/,!+-]+)+ -j ACCEPT$")


def check_lines(cid: str, lines: object) -> list[str]:
    if not isinstance(lines, list) or not all(isinstance(line, str) for line in lines):
        raise c.ControlInputError(f"control {cid!r}: spec.before_rules must be a list of iptables rule lines")
    for line in lines:
        if not LINE_RE.match(line.strip()):
            raise c.ControlInputError(
                f"control {cid!r}: {line!r} is not an accept rule of ufw's before chains "
                "('-A ufw-before-input ... -j ACCEPT'; letters, digits and . : / , ! + - _ only)"
            )
    return [line.strip() for line in lines]


def block(text: str) -> list[str] | None:
    """The lines of the managed block in TEXT; None when there is no block."""
    lines = text.splitlines()
    if BEGIN not in lines:
        return None
    start = lines.index(BEGIN) + 1
    end = lines.index(END, start) if END in lines[start:] else len(lines)
    return lines[start:end]


def wanted_text(text: str, wanted: list[str]) -> str:
    """TEXT with the managed block holding WANTED (removed when WANTED is empty), placed just
    before the last COMMIT (the filter table's)."""
    lines = text.splitlines()
    if BEGIN in lines:
        start = lines.index(BEGIN)
        end = lines.index(END, start) + 1 if END in lines[start:] else len(lines)
        del lines[start:end]
    if wanted:
        commits = [index for index, line in enumerate(lines) if line.strip() == "COMMIT"]
        if not commits:
            raise c.ControlInputError(f"{PATH} has no COMMIT line; it is not the file ufw installs")
        at = commits[-1]
        if at > 0 and lines[at - 1].startswith("# don't delete the 'COMMIT' line"):
            at -= 1
        lines[at:at] = [BEGIN, *wanted, END]
    return "\n".join(lines) + "\n"


def differences(text: str | None, wanted: list[str]) -> list[dict]:
    present = block(text or "")
    if (present or []) == wanted:
        return []
    return [c.difference("accept rules block", PATH, wanted or None, present)]
