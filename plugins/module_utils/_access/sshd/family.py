# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The C(sshd) family: SSH server settings (CIS Debian 12 5.1.4 to 5.1.22), lockout-safe.

Spec, one kind: C({settings: {Keyword: value, ...}}). Keywords are sshd's (any case, old names
resolved, kept in the manual's case); values are text, numbers, booleans (yes/no) or lists
(joined with commas for algorithm lists such as Ciphers, MACs and KexAlgorithms, with blanks for
AllowUsers and the like). Every control's settings go into one drop-in,
/etc/ssh/sshd_config.d/00-nodeguard-hardening.conf (mode 0600), replaced whole on every run. sshd
keeps the first value it reads for most keywords and Debian's sshd_config includes
sshd_config.d/*.conf on its first line, so the drop-in named 00- wins over the other files.

Inspection compares each managed keyword with C(sshd -T), what sshd really uses, and says where a
different value comes from (origin.py): a difference names the file and line. A line that the
drop-in cannot win over (one sshd reads before it, or a keyword that adds up such as AllowUsers or
Port set in another file too) is commented out by the fix, with a note saying why.

The fix is one action for all controls. It copies the configuration tree with the planned files
in their place (candidate.py), has C(sshd -t) judge the copy, and has C(sshd -T -C) say what the
copy means for the connection Ansible is on (session.py, and what the module was told); the guard
(guard.py) refuses anything that would lock that account out, and nothing has changed yet. Then
the node's own rollback is armed (rollback.py), the files are written atomically and ssh.service
reloaded (nothing to reload when only ssh.socket runs). When writing or reloading fails, the
previous files are put back and sshd reloaded at once; the undo does the same. After the run the
controller reconnects and confirms (rollback.confirm); without that the timer restores the
previous files by itself.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import sys
import time
import typing as t
from dataclasses import dataclass, field

from ansible_collections.nodeguard.hardening.plugins.module_utils import _controls as c
from ansible_collections.nodeguard.hardening.plugins.module_utils._access.sshd import (
    candidate,
    effective,
    guard,
    origin,
    rollback,
    session,
)
from ansible_collections.nodeguard.hardening.plugins.module_utils._access.sshd import keywords as kw
from ansible_collections.nodeguard.hardening.plugins.module_utils._files import atomic_write, file_diff
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.engine import Action, Family, Finding
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.node import CommandError, Node
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.systemd import systemctl

DROP_IN = "/etc/ssh/sshd_config.d/00-nodeguard-hardening.conf"
DROP_IN_MODE = 0o600
HEADER = (
    "# sshd settings of nodeguard.hardening. This file is replaced on every run: change the role's\n"
    "# variables, not this file. sshd keeps the first value it reads, and reads this file first.\n"
)
OVERRIDDEN = "nodeguard.hardening: commented out, the value of {keyword} in " + DROP_IN + " applies"
INTEGER_RE = re.compile(r"^\d+$")
MAXSTARTUPS_RE = re.compile(r"^\d+(:\d+:\d+)?$")
KEYWORD_RE = re.compile(r"^[A-Za-z][A-Za-z0-9]*$")


@dataclass
class SshdSpec:
    """A control's settings: canonical keyword -> the value as the drop-in writes it."""

    settings: dict[str, str]


@dataclass
class Plan:
    """What the fix writes: C(files) path -> new text (the drop-in, files with lines commented out),
    C(previous) path -> text now (None: absent), C(modes), the configuration sshd will read
    (C(planned)), the lines commented out, and why the fix cannot be made (C(problems))."""

    files: dict[str, str] = field(default_factory=dict)
    previous: dict[str, str | None] = field(default_factory=dict)
    modes: dict[str, int] = field(default_factory=dict)
    planned: origin.Config | None = None
    commented: list[origin.Line] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    service_running: bool = False


def check_value(cid: str, keyword: str, value: t.Any) -> str:
    """A value rendered and checked: one line, no comment, the form sshd expects for its kind."""
    if value is None or isinstance(value, dict) or (isinstance(value, (list, tuple)) and not value):
        raise c.ControlInputError(f"control {cid!r}: {keyword} needs a value (text, number, yes/no or a list)")
    if isinstance(value, (list, tuple)) and any(isinstance(item, (list, tuple, dict)) for item in value):
        raise c.ControlInputError(f"control {cid!r}: the list of {keyword} must hold plain values")
    text = kw.render(keyword, value)
    key = keyword.lower()
    if not text.strip() or any(ch in text for ch in "\n\r\0"):
        raise c.ControlInputError(f"control {cid!r}: the value of {keyword} must be one non-empty line")
    text = text.strip()
    if text.startswith("#"):
        raise c.ControlInputError(
            f"control {cid!r}: the value of {keyword} starts with '#', which sshd reads as a comment"
        )
    if key in kw.COMMA_LISTS and text[0] in "+-^":
        raise c.ControlInputError(
            f"control {cid!r}: {keyword} {text} changes sshd's default list; give the whole list, so that it can be "
            "compared with what sshd uses"
        )
    if key in kw.FLAGS and text.lower() not in ("yes", "no"):
        raise c.ControlInputError(f"control {cid!r}: {keyword} takes yes or no, got {text!r}")
    if key in kw.TIMES and kw.seconds(text) is None and not (key == "unusedconnectiontimeout" and text == "none"):
        raise c.ControlInputError(f"control {cid!r}: {keyword} takes a time such as 60, 1m or 1h30m, got {text!r}")
    if key in kw.INTEGERS and not INTEGER_RE.match(text):
        raise c.ControlInputError(f"control {cid!r}: {keyword} takes a whole number, got {text!r}")
    if key == "maxstartups" and not MAXSTARTUPS_RE.match(text):
        raise c.ControlInputError(f"control {cid!r}: MaxStartups takes N or START:RATE:FULL such as 10:30:60")
    if key == "port" and not all(part.isdigit() and 0 < int(part) < 65536 for part in text.split()):
        raise c.ControlInputError(f"control {cid!r}: Port takes TCP port numbers, got {text!r}")
    return text


def adds_to(keyword: str, value: str, line: origin.Line) -> bool:
    """Whether a line of another file changes what a keyword that adds up ends as: it adds values
    the managed one lacks, or (Subsystem) names the same subsystem."""
    if keyword == kw.SUBSYSTEM:
        return line.args[:1] == tuple(value.split()[:1])
    return not set(line.value.split()) <= set(value.split())


def is_active(node: Node, unit: str) -> bool:
    return node.run([systemctl(node), "is-active", "--quiet", unit], check=False)[0] == 0


def reload_sshd(node: Node, settle: float = 1.0) -> None:
    """Make a running ssh.service read its configuration, and see that it still runs: on a reload
    sshd re-executes itself, and a configuration it cannot use then stops it."""
    node.run([systemctl(node), "reload", rollback.SERVICE_UNIT])
    if settle:
        time.sleep(settle)
    if not is_active(node, rollback.SERVICE_UNIT):
        raise CommandError(f"{rollback.SERVICE_UNIT} does not run any more after the reload")


def mode_of(node: Node, path: str, default: int) -> int:
    try:
        return stat.S_IMODE(os.stat(node.path(path)).st_mode)
    except OSError:
        return default


class Sshd(Family):
    """C(connection): what Ansible believes of its connection (guard.check_connection);
    C(rollback_timeout): seconds before the node restores an unconfirmed change; C(pid): the
    process whose SSH session is looked for (default: this one)."""

    name = "sshd"

    def __init__(
        self,
        connection: dict | None = None,
        rollback_timeout: int = rollback.DEFAULT_TIMEOUT,
        pid: int | None = None,
        byteorder: str = sys.byteorder,
    ) -> None:
        self.connection = connection
        self.rollback_timeout = rollback_timeout
        self.pid = pid
        self.byteorder = byteorder
        # Seconds to wait after a reload before checking that sshd still runs.
        self.settle = 1.0

    # -- validate ------------------------------------------------------------------------------

    def validate(self, node: Node, control: dict, spec: t.Any) -> SshdSpec:
        cid = control["id"]
        node.cached("sshd:options", self._options)
        if not isinstance(spec, dict) or set(spec) != {"settings"}:
            raise c.ControlInputError(
                f"control {cid!r}: spec must be {{settings: {{Keyword: value, ...}}}} with sshd keywords"
            )
        settings = spec["settings"]
        if not isinstance(settings, dict) or not settings:
            raise c.ControlInputError(
                f"control {cid!r}: settings must map sshd keywords to values, such as {{MaxAuthTries: 4}}"
            )
        found: dict[str, str] = {}
        for name, value in settings.items():
            keyword = self._keyword(cid, name)
            if keyword in found:
                raise c.ControlInputError(f"control {cid!r}: {keyword} is given twice (as {name!r} too)")
            found[keyword] = check_value(cid, keyword, value)
        self._claim(node, cid, found)
        return SshdSpec(found)

    def _options(self) -> tuple[dict, int]:
        return guard.check_connection(self.connection), rollback.check_timeout(self.rollback_timeout)

    @staticmethod
    def _keyword(cid: str, name: t.Any) -> str:
        if not isinstance(name, str) or not KEYWORD_RE.match(name):
            raise c.ControlInputError(f"control {cid!r}: {name!r} is not an sshd keyword")
        lower = name.lower()
        if lower in kw.REFUSED:
            raise c.ControlInputError(f"control {cid!r}: {name} cannot be managed here: {kw.REFUSED[lower]}")
        if lower in kw.DEPRECATED:
            raise c.ControlInputError(f"control {cid!r}: {name} is obsolete; sshd ignores it")
        keyword = kw.canonical(name)
        if keyword is None:
            raise c.ControlInputError(
                f"control {cid!r}: {name} is not an sshd keyword (see sshd_config(5); for example PermitRootLogin)"
            )
        return keyword

    @staticmethod
    def _claim(node: Node, cid: str, settings: dict[str, str]) -> None:
        """Two controls may name one keyword only with the same value: there is one drop-in."""
        claims: dict[str, tuple[str, str]] = node.cached("sshd:claims", dict)
        for keyword, text in settings.items():
            other = claims.setdefault(keyword, (cid, text))
            if other[0] != cid and not kw.same(keyword, other[1], [text]):
                raise c.ControlInputError(
                    f"controls {other[0]!r} and {cid!r} both set {keyword}, to {other[1]} and {text}; "
                    "switch one of them off or give them the same value"
                )

    # -- inspect -------------------------------------------------------------------------------

    def inspect(self, node: Node, items: list[tuple[dict, t.Any]]) -> dict[str, Finding]:
        binary = effective.sshd_binary(node)
        if binary is None:
            reason = "sshd is not installed (package openssh-server): the SSH server controls do not apply"
            return {control["id"]: Finding(skipped=reason) for control, _unused in items}
        settings: dict[str, str] = {}
        for _unused, spec in items:
            for keyword, text in spec.settings.items():
                settings.setdefault(keyword, text)
        current = origin.read_config(node)
        plan = self.plan(node, current, settings, self.render(items))
        try:
            used = effective.read(node, binary=binary)
            broken = None
        except CommandError as exc:
            used, broken = {}, str(exc)
        notes = self._notes(node, current, settings)
        found: dict[str, Finding] = {}
        for control, spec in items:
            finding = Finding(expected=dict(spec.settings), actual={}, details=dict(notes))
            origins = {}
            for keyword, text in spec.settings.items():
                if broken:
                    finding.actual[keyword] = None
                    finding.differences.append(c.difference(keyword, "sshd -T", text, None))
                    continue
                values = self._used(current, used, keyword)
                finding.actual[keyword] = kw.shown(keyword, values)
                if not kw.same(keyword, text, values):
                    place, sentence = self._origin(current, plan, keyword, text)
                    finding.differences.append(c.difference(keyword, place, text, finding.actual[keyword]))
                    origins[keyword] = sentence
            if origins:
                finding.details["origins"] = origins
            if broken:
                finding.unfixable = f"sshd -T refuses the configuration in use ({broken}); repair it by hand first"
            elif plan.problems:
                finding.unfixable = "; ".join(plan.problems)
            found[control["id"]] = finding
        stale = self._stale(node, settings)
        first = next(iter(found.values()))
        first.differences += stale
        action = self.action(node, plan, binary)
        for finding in found.values():
            if finding.differences and not finding.unfixable:
                finding.actions.append(action)
        return found

    @staticmethod
    def render(items: list[tuple[dict, t.Any]]) -> str:
        blocks = [HEADER]
        seen: set[str] = set()
        for control, spec in items:
            lines = [f"{keyword} {text}" for keyword, text in spec.settings.items() if keyword not in seen]
            seen.update(spec.settings)
            if lines:
                title = " ".join(str(control.get("title") or "").split())
                blocks.append("\n".join([f"# {control['id']}: {title}", *lines]) + "\n")
        return "".join(blocks)

    @staticmethod
    def _used(current: origin.Config, used: dict[str, list[str]], keyword: str) -> list[str]:
        """What sshd uses for a keyword: sshd -T's lines; for a keyword sshd -T does not print
        (a Debian addition, a keyword of another OpenSSH version) the lines of the files."""
        key = keyword.lower()
        if key in used:
            return used[key]
        lines = current.settings(key)
        if key in kw.MULTI_LINE:
            return [line.value for line in lines]
        return [lines[0].value] if lines else []

    @staticmethod
    def _origin(current: origin.Config, plan: Plan, keyword: str, text: str) -> tuple[str, str]:
        """Where a differing value comes from, as C(where) and as a sentence."""
        key = keyword.lower()
        lines = current.settings(key)
        if key in kw.ACCUMULATING or key in (kw.LISTEN, kw.SUBSYSTEM):
            lines = [line for line in lines if line.path != DROP_IN and adds_to(key, text, line)] or lines
        if not lines:
            return "sshd default", f"{keyword} has sshd's default value: no file sets it"
        line = lines[0]
        sentence = f"{keyword} set to {line.value} by {line.where}"
        if line.path == DROP_IN:
            sentence += ", the managed drop-in as an earlier run wrote it"
        elif current.before(line, DROP_IN):
            sentence += ", which sshd reads before the managed drop-in"
        elif current.reads(DROP_IN) and key not in kw.MULTI_LINE:
            sentence += ", read after the managed drop-in, which does not set it yet"
        elif key in kw.MULTI_LINE:
            sentence += f", which adds to the values of the managed drop-in ({keyword} adds up over all files)"
        else:
            sentence += f"; the managed drop-in {DROP_IN} is not installed yet"
        if any(done.path == line.path and done.number == line.number for done in plan.commented):
            sentence += "; the fix comments that line out"
        return line.where, sentence

    @staticmethod
    def _notes(node: Node, current: origin.Config, settings: dict[str, str]) -> dict[str, t.Any]:
        notes: dict[str, t.Any] = {"drop_in": DROP_IN}
        conditional = {
            keyword: [line.where for line in current.conditional(keyword)]
            for keyword in settings
            if current.conditional(keyword)
        }
        if conditional:
            notes["match_blocks"] = conditional
        waiting = rollback.state(node).describe()
        if waiting:
            notes["rollback"] = waiting
        if current.problems:
            notes["unread"] = list(current.problems)
        return notes

    @staticmethod
    def _stale(node: Node, settings: dict[str, str]) -> list[dict]:
        """Lines of the drop-in that no control wants any more (a control switched off)."""
        text = node.read(DROP_IN) or ""
        found = []
        wanted = {keyword.lower() for keyword in settings}
        for number, raw in enumerate(text.splitlines(), 1):
            parsed = origin.parse_line(raw)
            if parsed and origin.key_of(parsed[0]) not in wanted:
                found.append(c.difference(parsed[0], f"{DROP_IN} line {number}", None, " ".join(parsed[1])))
        return found

    # -- plan ----------------------------------------------------------------------------------

    def plan(self, node: Node, current: origin.Config, settings: dict[str, str], text: str) -> Plan:
        """The files the fix writes: the drop-in, and other files with the lines commented out
        that the drop-in cannot win over."""
        result = Plan(files={DROP_IN: text})
        planned = origin.read_config(node, overrides=result.files)
        if not planned.reads(DROP_IN):
            result.problems.append(
                f"{planned.main} does not include {DROP_IN} (Debian's sshd_config includes "
                "/etc/ssh/sshd_config.d/*.conf on its first line): put that Include back first"
            )
            result.planned = planned
            return result
        edits: dict[str, set[int]] = {}
        for keyword, value in settings.items():
            for line in self._overriding(planned, keyword, value):
                result.commented.append(line)
                edits.setdefault(line.path, set()).add(line.number)
        for path, numbers in edits.items():
            real = node.path(path)
            if os.path.islink(real) or not os.path.isfile(real):
                result.problems.append(
                    f"{path} sets values the managed drop-in cannot override and is not a regular file; edit it by hand"
                )
                continue
            lines = planned.texts[path].splitlines(keepends=True)
            for number in sorted(numbers):
                original = lines[number - 1].rstrip("\r\n")
                parsed = origin.parse_line(original)
                keyword = kw.canonical(parsed[0]) if parsed else None
                note = OVERRIDDEN.format(keyword=keyword or "it")
                ending = lines[number - 1][len(original) :] or "\n"
                lines[number - 1] = f"# {original.strip()}  # {note}{ending}"
            result.files[path] = "".join(lines)
        result.planned = origin.read_config(node, overrides=result.files)
        for path in result.files:
            result.previous[path] = node.read(path)
            result.modes[path] = DROP_IN_MODE if path == DROP_IN else mode_of(node, path, 0o644)
        return result

    @staticmethod
    def _overriding(planned: origin.Config, keyword: str, value: str) -> list[origin.Line]:
        """Global lines of other files that keep the drop-in's value from applying."""
        key = keyword.lower()
        others = [line for line in planned.settings(key) if line.path != DROP_IN]
        if key in kw.ACCUMULATING or key in (kw.LISTEN, kw.SUBSYSTEM):
            return [line for line in others if adds_to(key, value, line)]
        return [line for line in others if planned.before(line, DROP_IN) and not kw.same(key, value, [line.value])]

    # -- the action ----------------------------------------------------------------------------

    def action(self, node: Node, plan: Plan, binary: str) -> Action:
        others = [path for path in plan.files if path != DROP_IN]
        what = f"install {DROP_IN}"
        if others:
            what += f", comment out overridden lines of {', '.join(others)}"
        return Action(
            "sshd:configuration",
            what + " and reload sshd",
            lambda: self.apply(node, plan, binary),
            lambda: self.restore(node, plan),
            [file_diff(path, plan.previous.get(path), text) for path, text in plan.files.items()],
        )

    def apply(self, node: Node, plan: Plan, binary: str) -> None:
        """Judge the candidate, then arm the rollback, install and reload; put back on failure.

        Only a running ssh.service is reloaded: with Debian 13's ssh.socket alone, every connection
        starts an sshd that reads the files anew."""
        connection, timeout = node.cached("sshd:options", self._options)
        self.judge(node, plan, binary, connection)
        plan.service_running = is_active(node, rollback.SERVICE_UNIT)
        rollback.arm(node, plan.previous, timeout, plan.service_running)
        try:
            for path, text in plan.files.items():
                atomic_write(node.module, node.path(path), text, plan.modes[path])
            if plan.service_running:
                reload_sshd(node, self.settle)
        except (OSError, CommandError):
            # When this fails too, the armed timer puts the files back on its own.
            with contextlib.suppress(OSError, CommandError):
                self.restore(node, plan)
            raise

    def judge(self, node: Node, plan: Plan, binary: str, connection: dict) -> list[str]:
        """C(sshd -t) and the guard on a copy of the planned tree; raises c.ControlInputError with
        every reason when the candidate is refused. Returns the notes on who was checked."""
        found = session.find_session(node, self.pid, self.byteorder)
        learned = session.authentication(node, found) if found and not connection.get("method") else None
        operators, notes = guard.operators(found, connection, learned)
        if plan.planned is None:
            raise c.ControlInputError("the sshd plan has no configuration to judge")
        shadow = candidate.build(node, plan.planned)
        try:
            try:
                effective.test(node, shadow.main, binary)
            except CommandError as exc:
                raise c.ControlInputError(
                    f"sshd -t refuses the candidate configuration, so nothing was changed: {shadow.explain(str(exc))}"
                ) from exc
            refusals: list[str] = []
            socket = is_active(node, rollback.SOCKET_UNIT)
            matches = [line.value for line in plan.planned.matches()]
            for operator in operators:
                reasons = guard.match_refusals(matches, operator)
                try:
                    wanted = effective.read(node, config=shadow.main, connection=operator.connection(), binary=binary)
                except CommandError as exc:
                    raise c.ControlInputError(
                        f"sshd -T refuses the candidate configuration, so nothing was changed: "
                        f"{shadow.explain(str(exc))}"
                    ) from exc
                try:
                    now = effective.read(node, connection=operator.connection(), binary=binary)
                except CommandError:
                    now = None
                account = guard.account(node, operator.user)
                reasons += guard.refusals(wanted, operator, account, current=now, socket_activated=socket)
                refusals += [f"{operator.describe()} (from {operator.source}): {reason}" for reason in reasons]
        finally:
            shadow.remove()
        if refusals:
            raise c.ControlInputError(
                "the sshd configuration would lock out the account Ansible connects with, so nothing was changed: "
                + "; ".join(refusals)
            )
        return notes

    @staticmethod
    def restore(node: Node, plan: Plan) -> None:
        """Put the previous files back, have ssh.service read them (started again if the new
        configuration stopped it), stop the rollback timer. When a file cannot be written the
        timer stays armed and does it later."""
        for path, text in plan.previous.items():
            if text is None:
                if os.path.lexists(node.path(path)):
                    os.unlink(node.path(path))
            else:
                atomic_write(node.module, node.path(path), text, plan.modes[path])
        try:
            if plan.service_running:
                node.run([systemctl(node), "reload-or-restart", rollback.SERVICE_UNIT])
        finally:
            rollback.disarm(node)
