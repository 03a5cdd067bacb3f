# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Run the collection's audit or harden playbook over a fleet through ansible-runner.

While the playbook runs, runner events say per node how many tasks finished and whether the node
failed or could not be reached. At the end the per-node reports the report role wrote are what
counts: the number of controls per status comes from them, and a node without one is listed
with the reason the events gave.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import tempfile
import time
import typing as t
from dataclasses import dataclass
from pathlib import Path

from nodeguard_cli.reports.load import ReportError, load_report, load_reports
from nodeguard_cli.reports.summary import EXIT_ERROR, exit_code, fleet_summary, render_text
from nodeguard_cli.reports.write import write_outputs

# The same rule as the collection's control ids.
CONTROL_ID = re.compile(r"^[a-z0-9][a-z0-9_-]*(\.[a-z0-9][a-z0-9_-]*)+$")
SKIP_REASON = "nodeguard --skip on the command line"
REPORT_DIR_VARIABLE = "NODEGUARD_REPORT_DIR"
_TASK_DONE = ("runner_on_ok", "runner_on_failed", "runner_on_skipped", "runner_on_unreachable")


class UsageError(ValueError):
    """Options that cannot work together or name nothing; exit code 3."""


def parse_ids(text: str | None, option: str) -> list[str]:
    """``"a.b,c.d"`` -> ``["a.b", "c.d"]``, each checked against the collection's id rule."""
    if not text:
        return []
    ids = [part.strip() for part in text.split(",") if part.strip()]
    bad = [cid for cid in ids if not CONTROL_ID.match(cid)]
    if bad:
        raise UsageError(
            f"{option}: {', '.join(bad)} is not a control id (lower-case dotted words, e.g. cis.sshd.ciphers)"
        )
    return list(dict.fromkeys(ids))


def control_extravars(controls: list[str], skip: list[str]) -> dict[str, t.Any]:
    """The collection's own switches: ``--controls`` switches ids on, ``--skip`` switches them off.

    Extra vars win over the inventory, so either option replaces the inventory's value of that
    variable for this run.
    """
    clash = sorted(set(controls) & set(skip))
    if clash:
        raise UsageError(f"{', '.join(clash)} given to both --controls and --skip; choose one")
    extravars: dict[str, t.Any] = {}
    if controls:
        extravars["nodeguard_enabled_controls"] = controls
    if skip:
        extravars["nodeguard_disabled_controls"] = dict.fromkeys(skip, SKIP_REASON)
    return extravars


def playbook_for(mode: str) -> str:
    """The installed collection's playbook (found through Ansible's collections path)."""
    return f"nodeguard.hardening.{mode}"


def inventory_sources(inventories: list[str]) -> list[str]:
    """Each ``-i``: a host list (``a,b,``) as given, a file or directory as an absolute path."""
    if not inventories:
        raise UsageError("no inventory given (-i)")
    sources = []
    for inventory in inventories:
        if "," in inventory:
            sources.append(inventory)
        elif Path(inventory).exists():
            sources.append(str(Path(inventory).resolve()))
        else:
            raise UsageError(f"inventory {inventory} does not exist")
    return sources


@dataclass
class NodeProgress:
    host: str
    tasks: int = 0
    task: str = ""
    state: str = "running"
    reason: str = ""
    controls: int = 0
    drift: int = 0
    errors: int = 0

    def count(self, result: dict[str, t.Any]) -> None:
        """Add the controls a role's module reported (its ``controls`` list) to this node's counts."""
        controls = result.get("controls")
        if not isinstance(controls, list):
            return
        statuses = [item.get("status") for item in controls if isinstance(item, dict)]
        self.controls += len(statuses)
        self.drift += statuses.count("drift")
        self.errors += statuses.count("error")


def _message(event_data: dict[str, t.Any]) -> str:
    result = event_data.get("res") or {}
    message = result.get("msg") or result.get("stderr") or result.get("reason") or ""
    if isinstance(message, (list, dict)):
        message = json.dumps(message)
    return " ".join(str(message).split())[:300]


class Progress:
    """Follows runner events per node; plain lines on a pipe, one live line per node on a terminal."""

    def __init__(
        self,
        stream: t.TextIO,
        live: bool | None = None,
        quiet: bool = False,
        clock: t.Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = stream
        self.live = stream.isatty() if live is None else live
        self.quiet = quiet
        self.clock = clock
        self.nodes: dict[str, NodeProgress] = {}
        self._drawn = 0
        self._last_draw = 0.0

    def node(self, host: str) -> NodeProgress:
        if host not in self.nodes:
            self.nodes[host] = NodeProgress(host)
            self._say(f"{host}: started")
        return self.nodes[host]

    def handle(self, event: dict[str, t.Any]) -> bool:
        """ansible-runner's event handler; returns True so that runner keeps the event."""
        kind = event.get("event", "")
        data = event.get("event_data") or {}
        host = data.get("host")
        if kind in _TASK_DONE and host:
            node = self.node(host)
            node.tasks += 1
            node.count(data.get("res") or {})
            node.task = str(data.get("task") or "")
            if kind == "runner_on_unreachable":
                node.state, node.reason = "unreachable", _message(data) or "unreachable"
                self._say(f"{host}: unreachable: {node.reason}")
            elif kind == "runner_on_failed" and not data.get("ignore_errors"):
                if node.state == "running":
                    node.state, node.reason = "failed", f"task '{node.task}' failed: {_message(data)}".rstrip(": ")
                    self._say(f"{host}: {node.reason}")
            else:
                self._draw()
        elif kind == "playbook_on_stats":
            for host in data.get("processed") or {}:
                node = self.node(host)
                if node.state == "running":
                    node.state = "finished"
            for host in data.get("dark") or {}:
                node = self.node(host)
                if node.state == "running":
                    node.state, node.reason = "unreachable", "unreachable"
            if self.live:
                self._draw(force=True)
            else:
                for node in self.nodes.values():
                    if node.state == "finished":
                        self._say(
                            f"{node.host}: finished, {node.tasks} tasks, {node.controls} controls, "
                            f"{node.drift} drift, {node.errors} errors"
                        )
        return True

    def _line(self, node: NodeProgress) -> str:
        width = max(len(host) for host in self.nodes)
        counts = f"{node.controls:>4} controls {node.drift:>4} drift {node.errors:>3} errors"
        text = f"{node.host:<{width}}  {node.state:<11}  {node.tasks:>4} tasks {counts}  {node.reason or node.task}"
        return text[: max(20, shutil.get_terminal_size((100, 20)).columns - 1)]

    def _say(self, line: str) -> None:
        if self.quiet:
            return
        if self.live:
            self._draw(force=True)
        else:
            print(line, file=self.stream, flush=True)

    def _draw(self, force: bool = False) -> None:
        if self.quiet or not self.live or not self.nodes:
            return
        moment = self.clock()
        if not force and moment - self._last_draw < 0.1:
            return
        self._last_draw = moment
        # Back to the first line drawn, then each line rewritten in place.
        out = f"\x1b[{self._drawn}F" if self._drawn else ""
        out += "".join(f"\x1b[2K{self._line(node)}\n" for node in self.nodes.values())
        self.stream.write(out)
        self.stream.flush()
        self._drawn = len(self.nodes)

    def without_report(self, reported: t.Iterable[str]) -> list[dict[str, str]]:
        """Nodes the run touched that wrote no report, each with why."""
        done = set(reported)
        return [
            {"host": node.host, "reason": node.reason or "no report written"}
            for node in sorted(self.nodes.values(), key=lambda node: node.host)
            if node.host not in done
        ]


def _ansible_runner_run(**kwargs: t.Any) -> t.Any:
    import ansible_runner  # noqa: PLC0415  (slow to import; report and diff never need it)

    return ansible_runner.run(**kwargs)


def run_fleet(
    mode: str,
    inventory: str | list[str],
    output: Path,
    formats: list[str],
    limit: str | None = None,
    controls: list[str] | None = None,
    skip: list[str] | None = None,
    forks: int | None = None,
    quiet: bool = False,
    as_json: bool = False,
    fail_on: str = "drift",
    runner: t.Callable[..., t.Any] | None = None,
    stdout: t.TextIO | None = None,
    stderr: t.TextIO | None = None,
    playbook: str | None = None,
) -> int:
    """Run ``mode`` over the inventory, write the fleet documents, return the exit code."""
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    runner = runner or _ansible_runner_run
    extravars = control_extravars(controls or [], skip or [])
    sources = inventory_sources([inventory] if isinstance(inventory, str) else inventory)
    # Progress goes where the result does not: stderr when stdout carries JSON.
    progress = Progress(stderr if as_json else stdout, quiet=quiet)
    with tempfile.TemporaryDirectory(prefix="nodeguard-") as private:
        report_dir = Path(private) / "reports"
        report_dir.mkdir()
        envvars = {REPORT_DIR_VARIABLE: str(report_dir)}
        # ansible-playbook runs in the private directory: keep the caller's ansible.cfg.
        if "ANSIBLE_CONFIG" not in os.environ and Path("ansible.cfg").is_file():
            envvars["ANSIBLE_CONFIG"] = str(Path("ansible.cfg").resolve())
        kwargs: dict[str, t.Any] = {
            "private_data_dir": private,
            "playbook": playbook or playbook_for(mode),
            "inventory": sources[0] if len(sources) == 1 else sources,
            "envvars": envvars,
            "extravars": extravars,
            "event_handler": progress.handle,
            "quiet": True,
        }
        if limit:
            kwargs["limit"] = limit
        if forks:
            kwargs["forks"] = forks
        result = runner(**kwargs)
        try:
            reports = {report.host: report for report in load_reports(report_dir) if report.mode == mode}
        except ReportError as exc:
            print(f"nodeguard: a report of this run is unusable: {exc}", file=stderr)
            return EXIT_ERROR
        output.mkdir(parents=True, exist_ok=True)
        _remove_stale_reports(output, mode, reports)
        for report in reports.values():
            shutil.copyfile(report.path, output / report.path.name)
        rc = getattr(result, "rc", 0)
        if not reports and not progress.nodes:
            print(f"nodeguard: ansible-playbook ended with rc {rc} before any node was reached", file=stderr)
            tail = _stdout_tail(result)
            if tail:
                print(tail, file=stderr)
            return EXIT_ERROR
    summary = fleet_summary(mode, reports, progress.without_report(reports))
    # The fleet summary is the run's record of the nodes without a report: always written.
    written = write_outputs(output, ["json", *[kind for kind in formats if kind != "json"]], summary, reports)
    if as_json:
        print(json.dumps(summary, indent=2), file=stdout)
    elif not quiet:
        print(render_text(summary), file=stdout)
        for path in written:
            print(f"wrote {path}", file=stdout)
    return exit_code(summary, fail_on)


def _remove_stale_reports(output: Path, mode: str, reports: dict[str, t.Any]) -> None:
    """An output directory holds one run: reports of ``mode`` an earlier run left there go.

    Only files named and shaped as the report role's reports are removed; anything else stays.
    """
    for path in output.glob(f"*-{mode}.json"):
        try:
            report = load_report(path)
        except ReportError:
            continue
        if report.mode == mode and report.host not in reports:
            path.unlink()


def _stdout_tail(result: t.Any, lines: int = 20) -> str:
    try:
        text = result.stdout.read()
    except (AttributeError, OSError, ValueError):
        return ""
    return "\n".join(text.splitlines()[-lines:])
