# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Time synchronisation (CIS 2.3.x): one daemon, systemd-timesyncd or chrony, with the site's servers.

Spec, one per control: C({daemon: systemd-timesyncd|chrony, servers: [...], fallback: [...],
check: single|servers|running|user, applies_to: systemd-timesyncd|chrony}). C(daemon) is the
site's choice; a control with C(applies_to) is skipped on a node whose daemon is the other one.
What each C(check) wants:

- C(single) (2.3.1.1): the daemon enabled and running, every other time daemon (timesyncd,
  chrony, ntpsec, ntp, openntpd) neither enabled nor running (C(systemctl disable --now)).
- C(servers) (2.3.2.1, 2.3.3.1): for timesyncd the drop-in
  /etc/systemd/timesyncd.conf.d/60-nodeguard-hardening.conf with C(NTP=) and C(FallbackNTP=)
  (each emptied first: both settings add to what earlier files set), and no later drop-in that
  changes them; for chrony /etc/chrony/sources.d/nodeguard-hardening.sources with one
  C(server NAME iburst) line per server (chrony has no fallback list: C(fallback) is not used),
  and C(sourcedir /etc/chrony/sources.d) in chrony's configuration. A daemon that runs is
  restarted after its file changed.
- C(running) (2.3.2.2, 2.3.3.3): the daemon's unit enabled and running (unmasked first).
- C(user) (2.3.3.2): every chronyd process runs as C(_chrony), and no configuration names
  another user. Read from the processes; a wrong user is for a person to fix.

Installing the daemon's package is the packages family's job (its own control): here a daemon
that is not installed is a difference this run cannot fix. Whether the daemon reaches its
servers is not checked (a node may have no route to them yet).
"""

from __future__ import annotations

import glob
import os
import re
import typing as t

from ansible_collections.nodeguard.hardening.plugins.module_utils import _controls as c
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.engine import Action, Family, Finding
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.node import CommandError, Node
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.systemd import (
    UnitState,
    restart_if_running,
    start_action,
    stop_action,
    systemctl,
    unit_states,
)
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.writes import (
    content_differences,
    write_action,
)

DAEMONS = {
    "systemd-timesyncd": {"unit": "systemd-timesyncd.service", "package": "systemd-timesyncd"},
    "chrony": {"unit": "chrony.service", "package": "chrony"},
}
# Every time daemon's unit on Debian: only the chosen one may run.
TIME_UNITS = ("systemd-timesyncd.service", "chrony.service", "ntpsec.service", "ntp.service", "openntpd.service")
CHECKS = ("single", "servers", "running", "user")
SERVER_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.:%-]{0,252}$")

TIMESYNCD_DROPIN = "/etc/systemd/timesyncd.conf.d/60-nodeguard-hardening.conf"
TIMESYNCD_MAIN = (
    "/etc/systemd/timesyncd.conf",
    "/run/systemd/timesyncd.conf",
    "/usr/local/lib/systemd/timesyncd.conf",
    "/usr/lib/systemd/timesyncd.conf",
)
# Drop-in directories, most important first: a file name in an earlier one hides the same name later.
TIMESYNCD_DIRS = (
    "/etc/systemd/timesyncd.conf.d",
    "/run/systemd/timesyncd.conf.d",
    "/usr/local/lib/systemd/timesyncd.conf.d",
    "/usr/lib/systemd/timesyncd.conf.d",
)
CHRONY_SOURCES = "/etc/chrony/sources.d/nodeguard-hardening.sources"
CHRONY_CONF = "/etc/chrony/chrony.conf"
CHRONY_CONF_D = "/etc/chrony/conf.d"
CHRONY_DEFAULTS = "/etc/default/chrony"
CHRONY_USER = "_chrony"
HEADER = (
    "# Time servers of this site, for nodeguard.hardening. This file is replaced on every run:\n"
    "# change the role's variables, not this file.\n"
)


def timesyncd_content(servers: list[str], fallback: list[str]) -> str:
    # Both settings add to what earlier files set: an empty assignment starts them afresh.
    return (
        HEADER
        + "[Time]\nNTP=\n"
        + f"NTP={' '.join(servers)}\n"
        + "FallbackNTP=\n"
        + (f"FallbackNTP={' '.join(fallback)}\n" if fallback else "")
    )


def chrony_content(servers: list[str]) -> str:
    return HEADER + "".join(f"server {server} iburst\n" for server in servers)


class Timesync(Family):
    name = "timesync"

    def __init__(self, proc_root: str = "/proc") -> None:
        self.proc_root = proc_root

    def validate(self, node: Node, control: dict, spec: t.Any) -> dict[str, t.Any]:
        cid = control["id"]
        if not isinstance(spec, dict):
            raise c.ControlInputError(f"control {cid!r}: spec must be a mapping with daemon, servers and check")
        unknown = sorted(set(spec) - {"daemon", "servers", "fallback", "check", "applies_to"})
        if unknown:
            raise c.ControlInputError(f"control {cid!r}: unknown spec keys {', '.join(unknown)}")
        daemon = spec.get("daemon")
        if daemon not in DAEMONS:
            raise c.ControlInputError(f"control {cid!r}: daemon {daemon!r} is not one of {', '.join(DAEMONS)}")
        applies_to = spec.get("applies_to", daemon)
        if applies_to not in DAEMONS:
            raise c.ControlInputError(f"control {cid!r}: applies_to {applies_to!r} is not one of {', '.join(DAEMONS)}")
        check = spec.get("check")
        if check not in CHECKS:
            raise c.ControlInputError(f"control {cid!r}: check {check!r} is not one of {', '.join(CHECKS)}")
        if check == "user" and applies_to != "chrony":
            raise c.ControlInputError(f"control {cid!r}: check user is about chrony; set applies_to: chrony")
        servers = spec.get("servers") or []
        fallback = spec.get("fallback") or []
        for key, values in (("servers", servers), ("fallback", fallback)):
            if not isinstance(values, list) or any(not isinstance(v, str) or not SERVER_RE.match(v) for v in values):
                raise c.ControlInputError(f"control {cid!r}: {key} must list host names or addresses, got {values!r}")
        if check == "servers" and not servers:
            raise c.ControlInputError(f"control {cid!r}: servers must list at least one time server")
        return {
            "daemon": daemon,
            "applies_to": applies_to,
            "check": check,
            "servers": list(dict.fromkeys(servers)),
            "fallback": list(dict.fromkeys(fallback)),
        }

    def inspect(self, node: Node, items: list[tuple[dict, t.Any]]) -> dict[str, Finding]:
        try:
            states = unit_states(node, TIME_UNITS)
        except CommandError as exc:
            return {
                control["id"]: Finding(
                    differences=[c.difference(spec["daemon"], "live", spec["check"], None)],
                    unfixable=f"the state of the time daemons could not be read: {exc}",
                )
                for control, spec in items
            }
        found = {}
        # Servers first: the engine runs actions in the order of the findings, and a daemon started
        # after its file was written needs no restart.
        for control, spec in sorted(items, key=lambda item: item[1]["check"] != "servers"):
            daemon = spec["daemon"]
            if spec["applies_to"] != daemon:
                found[control["id"]] = Finding(
                    skipped=f"the node's time daemon is {daemon} (system_time_daemon); this rule is for "
                    f"{spec['applies_to']}"
                )
                continue
            check = getattr(self, f"_{spec['check']}")
            found[control["id"]] = check(node, spec, states)
        return found

    # 2.3.1.1 and 2.3.x.2/3: the chosen daemon runs, no other one does.
    def _running(self, node: Node, spec: dict, states: dict[str, UnitState]) -> Finding:
        unit = DAEMONS[spec["daemon"]]["unit"]
        state = states[unit]
        finding = Finding(expected={unit: "enabled, active"}, actual={unit: state.describe()})
        if not state.installed:
            finding.differences.append(c.difference(unit, "unit", "enabled, active", None))
            finding.unfixable = _not_installed(spec["daemon"])
            return finding
        if state.any_mask or not state.enabled:
            finding.differences.append(c.difference(unit, "unit", "enabled", state.describe()))
        if state.any_mask or not state.running:
            finding.differences.append(c.difference(unit, "live", "active", state.active))
        action = start_action(node, state, enable=True, start=True)
        if finding.differences and action:
            finding.actions.append(action)
        return finding

    def _single(self, node: Node, spec: dict, states: dict[str, UnitState]) -> Finding:
        finding = self._running(node, spec, states)
        chosen = DAEMONS[spec["daemon"]]["unit"]
        for unit in TIME_UNITS:
            state = states[unit]
            if unit == chosen or not state.installed:
                continue
            finding.expected[unit] = "disabled, inactive"
            finding.actual[unit] = state.describe()
            in_use = []
            if state.file == "enabled":
                in_use.append(c.difference(unit, "unit", "disabled", state.file))
            if state.running:
                in_use.append(c.difference(unit, "live", "inactive", state.active))
            if in_use:
                finding.differences += in_use
                finding.actions.append(stop_action(node, state))
        # The other daemon goes before the chosen one starts: two never run at once.
        finding.actions.sort(key=lambda action: not action.key.startswith("unit:disable+stop:"))
        return finding

    # 2.3.2.1 / 2.3.3.1: the site's servers.
    def _servers(self, node: Node, spec: dict, states: dict[str, UnitState]) -> Finding:
        daemon = spec["daemon"]
        unit = DAEMONS[daemon]["unit"]
        if daemon == "chrony":
            path, content = CHRONY_SOURCES, chrony_content(spec["servers"])
            finding = Finding(expected={"servers": spec["servers"]}, actual={})
        else:
            path, content = TIMESYNCD_DROPIN, timesyncd_content(spec["servers"], spec["fallback"])
            finding = Finding(expected={"NTP": spec["servers"], "FallbackNTP": spec["fallback"]}, actual={})
        before = node.read(path)
        finding.differences += content_differences(path, before, content)
        if not states[unit].installed:
            finding.differences.append(c.difference(unit, "unit", "installed", None))
            finding.unfixable = _not_installed(daemon)
        if daemon == "chrony":
            self._chrony_sources(node, spec, finding)
        else:
            self._timesyncd_effective(node, spec, content, finding)
        if finding.differences and before != content and not finding.unfixable:
            finding.actions.append(_write_and_restart(node, path, content, unit))
        return finding

    @staticmethod
    def _timesyncd_effective(node: Node, spec: dict, content: str, finding: Finding) -> None:
        """What timesyncd will use once the drop-in is in place; a later file that changes it wins."""
        now, _unused = _timesyncd_settings(node, {})
        finding.actual = {key: now[key] for key in ("NTP", "FallbackNTP")}
        values, setters = _timesyncd_settings(node, {TIMESYNCD_DROPIN: content})
        for key, want in (("NTP", spec["servers"]), ("FallbackNTP", spec["fallback"])):
            if values[key] != want:
                where = setters[key]
                finding.differences.append(c.difference(key, where, " ".join(want), " ".join(values[key])))
                finding.unfixable = (
                    f"{where.split(' line ', maxsplit=1)[0]} sets {key} after {TIMESYNCD_DROPIN}: "
                    "remove the setting there (files are read in name order, the last one wins)"
                )

    @staticmethod
    def _chrony_sources(node: Node, spec: dict, finding: Finding) -> None:
        conf = [(CHRONY_CONF, node.read(CHRONY_CONF) or "")]
        conf += [(p, node.read(p) or "") for p in _listing(node, CHRONY_CONF_D, ".conf")]
        reads_dir = any(
            line.split()[:2] == ["sourcedir", "/etc/chrony/sources.d"]
            for _unused, text in conf
            for line in text.splitlines()
        )
        if not reads_dir:
            finding.differences.append(c.difference("sourcedir", CHRONY_CONF, "sourcedir /etc/chrony/sources.d", None))
            finding.unfixable = (
                f"chrony does not read /etc/chrony/sources.d: add 'sourcedir /etc/chrony/sources.d' to {CHRONY_CONF}"
            )
        others = []
        sources = [(p, node.read(p) or "") for p in _listing(node, "/etc/chrony/sources.d", ".sources")]
        for path, text in conf + [s for s in sources if s[0] != CHRONY_SOURCES]:
            for number, line in enumerate(text.splitlines(), 1):
                if line.split()[:1] in (["server"], ["pool"], ["peer"]):
                    others.append(f"{path} line {number}: {line.strip()}")
        ours = node.read(CHRONY_SOURCES) or ""
        finding.actual = {
            "servers": [w[1] for w in map(str.split, ours.splitlines()) if w[:1] == ["server"] and len(w) > 1]
        }
        if others:
            finding.details["other time sources chrony uses"] = others

    # 2.3.3.2: chronyd runs as _chrony.
    def _user(self, node: Node, spec: dict, states: dict[str, UnitState]) -> Finding:
        finding = Finding(expected={"chronyd user": CHRONY_USER}, actual={})
        users = _users(node)
        processes = []
        for pid, uid in self._chronyd(node):
            user = users.get(uid, str(uid))
            processes.append(f"pid {pid} as {user}")
            if user != CHRONY_USER:
                finding.differences.append(c.difference(f"chronyd (pid {pid})", "live", CHRONY_USER, user))
        finding.actual["chronyd user"] = sorted({p.split(" as ")[1] for p in processes}) or "not running"
        for path in (CHRONY_CONF, *_listing(node, CHRONY_CONF_D, ".conf")):
            for number, line in enumerate((node.read(path) or "").splitlines(), 1):
                words = line.split()
                if words[:1] == ["user"] and words[1:2] != [CHRONY_USER]:
                    finding.differences.append(c.difference("user", f"{path} line {number}", CHRONY_USER, line.strip()))
        defaults = node.read(CHRONY_DEFAULTS) or ""
        match = re.search(r"^\s*DAEMON_OPTS=.*-u\s+(\S+?)[\"'\s]", defaults + "\n", re.MULTILINE)
        if match and match.group(1) != CHRONY_USER:
            finding.differences.append(c.difference("-u", CHRONY_DEFAULTS, CHRONY_USER, match.group(1)))
        if not processes:
            finding.details["chronyd"] = "not running: no process runs as another user"
        if finding.differences:
            finding.unfixable = (
                "chronyd must run as _chrony: remove the 'user' directive naming another user and any -u option "
                f"in {CHRONY_DEFAULTS}, then restart chrony"
            )
        return finding

    def _chronyd(self, node: Node) -> list[tuple[int, int]]:
        found = []
        for entry in _pids(self.proc_root):
            base = os.path.join(self.proc_root, entry)
            try:
                with open(os.path.join(base, "comm"), encoding="utf-8") as handle:
                    if handle.read().strip() != "chronyd":
                        continue
                with open(os.path.join(base, "status"), encoding="utf-8") as handle:
                    uid = next(int(line.split()[2]) for line in handle if line.startswith("Uid:"))
            except (OSError, StopIteration, ValueError, IndexError):
                continue
            found.append((int(entry), uid))
        return found


def _not_installed(daemon: str) -> str:
    package = DAEMONS[daemon]["package"]
    return (
        f"{package} is not installed: the packages control of the time daemon installs it (apt-get install {package})"
    )


def _write_and_restart(node: Node, path: str, content: str, unit: str) -> Action:
    """Write the file, and restart the daemon if it runs; the undo does the same with the old file."""
    write = write_action(node, path, content)

    def run() -> None:
        write.run()
        try:
            restart_if_running(node, unit)
        except CommandError:
            # The engine undoes the actions that completed: this one puts its own file back.
            if write.undo:
                write.undo()
            node.run([systemctl(node), "try-restart", unit], check=False)
            raise

    def undo() -> None:
        if write.undo:
            write.undo()
        restart_if_running(node, unit)

    return Action(write.key, f"{write.what} and restart {unit} if it runs", run, undo, write.diff)


def _listing(node: Node, directory: str, suffix: str) -> list[str]:
    return sorted(
        os.path.join(directory, os.path.basename(p))
        for p in glob.glob(os.path.join(node.path(directory), "*" + suffix))
    )


def _timesyncd_settings(node: Node, replaced: dict[str, str]) -> tuple[dict[str, list[str]], dict[str, str]]:
    """NTP and FallbackNTP as timesyncd reads them (main file, then drop-ins in name order), and
    where each was last set; C(replaced) gives the content of files as they will be."""

    def text(path: str) -> str | None:
        return replaced[path] if path in replaced else node.read(path)

    files = []
    main = next((p for p in TIMESYNCD_MAIN if text(p) is not None), None)
    if main:
        files.append(main)
    dropins: dict[str, str] = {}
    for directory in reversed(TIMESYNCD_DIRS):
        names = {os.path.basename(p) for p in glob.glob(os.path.join(node.path(directory), "*.conf"))}
        names |= {os.path.basename(p) for p in replaced if os.path.dirname(p) == directory}
        for name in names:
            dropins[name] = os.path.join(directory, name)
    files += [dropins[name] for name in sorted(dropins)]
    values: dict[str, list[str]] = {"NTP": [], "FallbackNTP": []}
    setters = {"NTP": "default", "FallbackNTP": "default"}
    for path in files:
        section = None
        for number, raw in enumerate((text(path) or "").splitlines(), 1):
            line = raw.strip()
            if not line or line[0] in "#;":
                continue
            if line.startswith("["):
                section = line
                continue
            key, sep, value = line.partition("=")
            key = key.strip()
            if section != "[Time]" or not sep or key not in values:
                continue
            values[key] = values[key] + value.split() if value.strip() else []
            setters[key] = f"{path} line {number}"
    return values, setters


def _users(node: Node) -> dict[int, str]:
    users = {}
    for line in (node.read("/etc/passwd") or "").splitlines():
        fields = line.split(":")
        if len(fields) > 2 and fields[2].isdigit():
            users[int(fields[2])] = fields[0]
    return users


def _pids(proc_root: str) -> list[str]:
    try:
        return [entry for entry in os.listdir(proc_root) if entry.isdigit()]
    except OSError:
        return []
