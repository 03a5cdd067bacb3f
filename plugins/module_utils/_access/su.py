# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""su only for the members of an empty group (CIS 5.2.7): pam_wheel in /etc/pam.d/su.

Spec: C({group: sugroup}). The control holds when /etc/pam.d/su has an active line
C(auth required pam_wheel.so use_uid group=GROUP) after C(pam_rootok) (so root still switches
without a password) and ahead of C(@include common-auth), and the group exists with no member
and is nobody's primary group.

A missing group is created as a system group; the line replaces an active pam_wheel line or goes
right after pam_rootok's (else ahead of the first auth line). A member of the group is an error
naming it: removing someone's way to root is a person's decision.

Ansible itself may become root with su. When this module runs under an C(su) process, restricting
su would take that away: the control is an error saying so and nothing is changed.
"""

from __future__ import annotations

import os
import re
import typing as t

from ansible_collections.nodeguard.hardening.plugins.module_utils import _controls as c
from ansible_collections.nodeguard.hardening.plugins.module_utils._access.pam import stack as sk
from ansible_collections.nodeguard.hardening.plugins.module_utils._access.sshd.session import ancestors
from ansible_collections.nodeguard.hardening.plugins.module_utils._files import state_diff
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.engine import Action, Family, Finding
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.node import Node
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.writes import write_action

SU_PAM = "/etc/pam.d/su"
GROUP_RE = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")


def wheel_line(group: str) -> str:
    return f"auth       required   pam_wheel.so use_uid group={group}"


def wanted_line(line: sk.PamLine, group: str) -> bool:
    return (
        line.type == "auth"
        and line.control in ("required", "requisite")
        and line.name == "pam_wheel.so"
        and line.has("use_uid")
        and line.value("group") == group
        and not line.has("trust")
    )


def rewrite(text: str, group: str) -> str:
    """/etc/pam.d/su with the one pam_wheel line this control wants, right after pam_rootok's (else
    ahead of the first auth line or include); other active pam_wheel auth lines are commented out."""
    lines = text.splitlines()
    parsed = sk.parse(SU_PAM, text)
    wheel = {line.number for line in parsed if line.name == "pam_wheel.so" and line.type == "auth"}
    out: list[str] = []
    for number, raw in enumerate(lines, 1):
        # The first pam_wheel line is replaced by the wanted one below; any other is commented out.
        if number in wheel and number != min(wheel):
            out.append(f"# {raw.strip()}")
        elif number not in wheel:
            out.append(raw)
    kept = sk.parse(SU_PAM, "\n".join(out) + "\n")
    rootok = [line for line in kept if line.name == "pam_rootok.so" and line.type == "auth"]
    if rootok:
        at = rootok[-1].number
    else:
        first = [line for line in kept if line.type in ("auth", "@include")]
        at = first[0].number - 1 if first else len(out)
    out.insert(at, wheel_line(group))
    return "\n".join(out) + "\n"


def placement(parsed: list[sk.PamLine], line: sk.PamLine) -> str | None:
    """What is wrong with where the pam_wheel line stands, None when nothing."""
    index = parsed.index(line)
    rootok = [i for i, other in enumerate(parsed) if other.name == "pam_rootok.so" and other.type == "auth"]
    include = [i for i, other in enumerate(parsed) if other.type == "@include" and other.module == "common-auth"]
    if rootok and index < rootok[0]:
        return "ahead of pam_rootok.so (root would need the group too)"
    if include and index > include[0]:
        return "after @include common-auth (a password would be asked first)"
    return None


def su_escalation(node: Node) -> bool:
    """Whether this module runs under an su process (Ansible's become_method su)."""
    return any(process.name == "su" for process in ancestors(node, os.getpid())[1:])


class SuWheel(Family):
    name = "su_wheel"

    def validate(self, node: Node, control: dict, spec: t.Any) -> str:
        cid = control["id"]
        if not isinstance(spec, dict) or set(spec) != {"group"}:
            raise c.ControlInputError(f"control {cid!r}: spec must be {{group: NAME}}, such as {{group: sugroup}}")
        group = spec["group"]
        if not isinstance(group, str) or not GROUP_RE.match(group):
            raise c.ControlInputError(
                f"control {cid!r}: group {group!r} is not a valid group name (lowercase letters, digits, _ and -)"
            )
        if group in ("root", "sudo", "wheel", "adm"):
            raise c.ControlInputError(
                f"control {cid!r}: group {group!r} has members on most nodes; name a group of its own, such as sugroup"
            )
        return group

    def inspect(self, node: Node, items: list[tuple[dict, t.Any]]) -> dict[str, Finding]:
        found = {}
        for control, group in items:
            found[control["id"]] = self.judge(node, group)
        return found

    def judge(self, node: Node, group: str) -> Finding:
        finding = Finding(expected={"line": wheel_line(group), "group": group, "members": []}, actual={})
        text = node.read(SU_PAM)
        if text is None:
            finding.skipped = f"{SU_PAM} does not exist (su is not installed)"
            return finding
        parsed = sk.parse(SU_PAM, text)
        matching = [line for line in parsed if wanted_line(line, group)]
        wheel = [line for line in parsed if line.name == "pam_wheel.so" and line.type == "auth"]
        finding.actual["line"] = wheel[0].text if wheel else None
        fix_file = False
        if not matching:
            where = wheel[0].where if wheel else SU_PAM
            finding.differences.append(
                c.difference("pam_wheel", where, wheel_line(group), wheel[0].text if wheel else None)
            )
            fix_file = True
        else:
            wrong = placement(parsed, matching[0])
            if wrong:
                finding.differences.append(c.difference("pam_wheel", matching[0].where, "after pam_rootok.so", wrong))
                fix_file = True
        gid, members, primary = self.group(node, group)
        finding.actual["group"] = group if gid is not None else None
        finding.actual["members"] = members + primary
        actions: list[Action] = []
        if gid is None:
            finding.differences.append(c.difference("group", "/etc/group", group, None))
            actions.append(self.add_group(node, group))
        if members or primary:
            finding.differences.append(c.difference("members", f"/etc/group {group}", [], members + primary))
            finding.unfixable = (
                f"group {group} has members ({', '.join(members + primary)}): each may su to root; remove them by hand "
                f"(gpasswd -d USER {group}) where that is not intended"
            )
        if fix_file:
            actions.append(write_action(node, SU_PAM, rewrite(text, group), 0o644))
        if finding.differences and su_escalation(node):
            finding.unfixable = (
                f"Ansible becomes root with su here: restricting su to the empty group {group} would take that away; "
                "escalate with sudo (become_method: sudo) or switch this control off"
            )
        finding.actions = actions
        return finding

    @staticmethod
    def group(node: Node, name: str) -> tuple[str | None, list[str], list[str]]:
        """(gid or None, listed members, accounts whose primary group it is)."""
        gid, members = None, []
        for line in (node.read("/etc/group") or "").splitlines():
            fields = line.split(":")
            if len(fields) >= 4 and fields[0] == name:
                gid, members = fields[2], [member for member in fields[3].split(",") if member]
        primary = []
        if gid is not None:
            for line in (node.read("/etc/passwd") or "").splitlines():
                fields = line.split(":")
                if len(fields) >= 4 and fields[3] == gid:
                    primary.append(f"{fields[0]} (primary group)")
        return gid, members, primary

    @staticmethod
    def add_group(node: Node, name: str) -> Action:
        groupadd = node.binary("groupadd") or "groupadd"
        groupdel = node.binary("groupdel") or "groupdel"

        def run() -> None:
            node.run([groupadd, "--system", name])

        def undo() -> None:
            node.run([groupdel, name], check=False)

        return Action(
            f"group:{name}",
            f"create the system group {name}",
            run,
            undo,
            [state_diff(f"group {name}", "absent\n", "present, no members\n")],
        )
