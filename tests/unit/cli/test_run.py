# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""nodeguard audit and harden with a stand-in for ansible_runner.run: what it is asked, what comes out."""

from __future__ import annotations

import io
import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from nodeguard_cli.main import main
from nodeguard_cli.run import SKIP_REASON, Progress, playbook_for

from .builders import control, report


class FakeRunner:
    """Plays back events and writes the reports the report role would have written."""

    def __init__(self, reports: list[dict], events: list[dict], rc: int = 0) -> None:
        self.reports = reports
        self.events = events
        self.rc = rc
        self.calls: list[dict] = []

    def __call__(self, **kwargs):
        self.calls.append(kwargs)
        folder = Path(kwargs["envvars"]["NODEGUARD_REPORT_DIR"])
        assert folder.is_dir()
        for event in self.events:
            assert kwargs["event_handler"](event) is True
        for document in self.reports:
            path = folder / f"{document['host']}-{document['mode']}.json"
            path.write_text(json.dumps(document), encoding="utf-8")
        return SimpleNamespace(
            rc=self.rc, status="failed" if self.rc else "successful", stdout=io.StringIO("PLAY RECAP\n")
        )


def ok(host: str, task: str = "Check kernel parameters", statuses: tuple[str, ...] = ()) -> dict:
    res = {"controls": [{"id": f"cis.a.c{n}", "status": status} for n, status in enumerate(statuses)]}
    return {"event": "runner_on_ok", "event_data": {"host": host, "task": task, "res": res if statuses else {}}}


def unreachable(host: str, msg: str = "Failed to connect to the host via ssh: Connection refused") -> dict:
    return {
        "event": "runner_on_unreachable",
        "event_data": {"host": host, "task": "Check kernel parameters", "res": {"msg": msg}},
    }


def failed(host: str, msg: str, ignore: bool = False) -> dict:
    data = {"host": host, "task": "Apply access settings", "res": {"msg": msg}, "ignore_errors": ignore}
    return {"event": "runner_on_failed", "event_data": data}


def stats(processed: list[str], dark: list[str] = ()) -> dict:
    return {
        "event": "playbook_on_stats",
        "event_data": {"processed": dict.fromkeys(processed, 1), "dark": dict.fromkeys(dark, 1)},
    }


@pytest.fixture
def inventory(tmp_path: Path) -> Path:
    path = tmp_path / "inventory.yml"
    path.write_text("---\nall:\n  hosts:\n    node1:\n    node2:\n", encoding="utf-8")
    return path


def _run(tmp_path: Path, inventory: Path, runner: FakeRunner, *extra: str, mode: str = "audit") -> int:
    return main([mode, "-i", str(inventory), "--output", str(tmp_path / "out"), *extra], runner=runner)


def test_what_ansible_runner_is_asked(tmp_path: Path, inventory: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "ansible.cfg").write_text("[defaults]\n", encoding="utf-8")
    monkeypatch.delenv("ANSIBLE_CONFIG", raising=False)
    runner = FakeRunner([report("node1")], [ok("node1"), stats(["node1"])])
    args = ["--limit", "node1", "--forks", "7", "--controls", "cis.a.one,cis.a.two", "--skip", "cis.c.three", "--quiet"]
    _run(tmp_path, inventory, runner, *args, mode="harden")
    (call,) = runner.calls
    assert call["playbook"] == playbook_for("harden")
    assert call["inventory"] == str(inventory.resolve())
    assert call["limit"] == "node1"
    assert call["forks"] == 7
    assert call["extravars"] == {
        "nodeguard_enabled_controls": ["cis.a.one", "cis.a.two"],
        "nodeguard_disabled_controls": {"cis.c.three": SKIP_REASON},
    }
    assert call["envvars"]["ANSIBLE_CONFIG"] == str(tmp_path / "ansible.cfg")
    assert Path(call["private_data_dir"]) in Path(call["envvars"]["NODEGUARD_REPORT_DIR"]).parents
    assert not Path(call["private_data_dir"]).exists(), "the private data directory is removed after the run"


def test_no_option_no_extravars(tmp_path: Path, inventory: Path) -> None:
    runner = FakeRunner([report("node1")], [stats(["node1"])])
    _run(tmp_path, inventory, runner, "--quiet")
    (call,) = runner.calls
    assert call["extravars"] == {}
    assert "limit" not in call
    assert "forks" not in call


def test_the_installed_collections_playbook() -> None:
    assert playbook_for("audit") == "nodeguard.hardening.audit"
    assert playbook_for("harden") == "nodeguard.hardening.harden"


def test_several_inventory_sources(tmp_path: Path, inventory: Path) -> None:
    extra = tmp_path / "unreachable.yml"
    extra.write_text("---\nall:\n  hosts:\n    node9:\n", encoding="utf-8")
    runner = FakeRunner([report("node1")], [stats(["node1"])])
    args = ["audit", "-i", str(inventory), "-i", str(extra), "-i", "node3,", "--output", str(tmp_path / "out")]
    assert main([*args, "--quiet", "--fail-on", "never"], runner=runner) == 0
    assert runner.calls[0]["inventory"] == [str(inventory.resolve()), str(extra.resolve()), "node3,"]


def test_a_missing_inventory_is_a_usage_error(capsys, tmp_path: Path, inventory: Path) -> None:
    runner = FakeRunner([], [])
    args = ["audit", "-i", str(inventory), "-i", str(tmp_path / "nope.yml"), "--output", str(tmp_path / "out")]
    assert main(args, runner=runner) == 3
    assert "nope.yml does not exist" in capsys.readouterr().err
    assert not runner.calls


@pytest.mark.parametrize(
    ("reports", "events", "fail_on", "code"),
    [
        ([report("node1", controls=[control("cis.a.one")])], [ok("node1"), stats(["node1"])], "drift", 0),
        ([report("node1")], [ok("node1"), stats(["node1"])], "drift", 1),
        ([report("node1")], [ok("node1"), stats(["node1"])], "error", 0),
        (
            [report("node1", controls=[control("cis.a.one", "error")])],
            [failed("node1", "cis.a.one: UID 0 account"), stats(["node1"])],
            "drift",
            2,
        ),
        ([report("node1")], [ok("node1"), unreachable("node2"), stats(["node1", "node2"], ["node2"])], "drift", 2),
        ([report("node1")], [ok("node1"), unreachable("node2"), stats(["node1", "node2"], ["node2"])], "never", 0),
        ([], [unreachable("node1"), unreachable("node2"), stats([], ["node1", "node2"])], "drift", 2),
    ],
)
def test_exit_codes(tmp_path: Path, inventory: Path, reports, events, fail_on: str, code: int) -> None:
    runner = FakeRunner(reports, events, rc=0 if code == 0 else 2)
    assert _run(tmp_path, inventory, runner, "--quiet", "--fail-on", fail_on) == code


def test_an_unreachable_host_is_reported_everywhere(capsys, tmp_path: Path, inventory: Path) -> None:
    events = [ok("node1"), unreachable("node2"), ok("node1", "Write the report"), stats(["node1", "node2"], ["node2"])]
    runner = FakeRunner([report("node1")], events, rc=4)
    assert _run(tmp_path, inventory, runner) == 2
    out = capsys.readouterr().out.splitlines()
    assert "node2: unreachable: Failed to connect to the host via ssh: Connection refused" in out
    assert "node1: finished, 2 tasks, 0 controls, 0 drift, 0 errors" in out
    assert "node2  no report: Failed to connect to the host via ssh: Connection refused" in out
    folder = tmp_path / "out"
    assert sorted(path.name for path in folder.iterdir()) == [
        "fleet-junit.xml", "fleet-report.html", "fleet-summary.json", "node1-audit.json",
    ]  # fmt: skip
    summary = json.loads((folder / "fleet-summary.json").read_text(encoding="utf-8"))
    assert summary["unreachable"] == [
        {"host": "node2", "reason": "Failed to connect to the host via ssh: Connection refused"}
    ]
    assert '<testsuite name="node2"' in (folder / "fleet-junit.xml").read_text(encoding="utf-8")
    # The next nodeguard report of that folder still knows node2.
    assert main(["report", str(folder), "--fail-on", "drift", "--quiet"]) == 2


def test_a_failed_host_without_report_says_which_task(tmp_path: Path, inventory: Path) -> None:
    events = [ok("node1"), failed("node2", "sshd -t: Bad configuration option"), stats(["node1", "node2"])]
    runner = FakeRunner([report("node1")], events, rc=2)
    assert _run(tmp_path, inventory, runner, "--quiet") == 2
    summary = json.loads((tmp_path / "out" / "fleet-summary.json").read_text(encoding="utf-8"))
    assert summary["unreachable"] == [
        {"host": "node2", "reason": "task 'Apply access settings' failed: sshd -t: Bad configuration option"}
    ]


def test_an_ignored_failure_does_not_fail_the_node(tmp_path: Path, inventory: Path) -> None:
    events = [failed("node1", "probe failed", ignore=True), stats(["node1"])]
    runner = FakeRunner([report("node1", controls=[control("cis.a.one")])], events)
    assert _run(tmp_path, inventory, runner, "--quiet") == 0


def test_only_this_runs_reports_count(tmp_path: Path, inventory: Path) -> None:
    stale = tmp_path / "out" / "node9-audit.json"
    stale.parent.mkdir()
    stale.write_text(json.dumps(report("node9", controls=[control("cis.a.one", "error")])), encoding="utf-8")
    runner = FakeRunner([report("node1", controls=[control("cis.a.one")])], [stats(["node1"])])
    assert _run(tmp_path, inventory, runner, "--quiet") == 0
    summary = json.loads((tmp_path / "out" / "fleet-summary.json").read_text(encoding="utf-8"))
    assert [node["host"] for node in summary["nodes"]] == ["node1"]


def test_a_run_that_reached_no_node(capsys, tmp_path: Path, inventory: Path) -> None:
    runner = FakeRunner([], [], rc=4)
    assert _run(tmp_path, inventory, runner, "--fail-on", "never") == 2
    err = capsys.readouterr().err
    assert "ansible-playbook ended with rc 4 before any node was reached" in err
    assert "PLAY RECAP" in err


def test_an_unusable_report_of_the_run_is_an_error(capsys, tmp_path: Path, inventory: Path) -> None:
    runner = FakeRunner([report("node1", schema_version=7)], [stats(["node1"])])
    assert _run(tmp_path, inventory, runner) == 2
    assert "node1-audit.json: has schema_version 7" in capsys.readouterr().err


def test_json_goes_to_stdout_and_progress_to_stderr(capsys, tmp_path: Path, inventory: Path) -> None:
    runner = FakeRunner([report("node1")], [ok("node1"), unreachable("node2"), stats(["node1"], ["node2"])])
    assert _run(tmp_path, inventory, runner, "--json", "--format", "json") == 2
    captured = capsys.readouterr()
    assert json.loads(captured.out)["totals"]["unreachable"] == 1
    assert "node2: unreachable" in captured.err


def test_inventory_as_a_host_list(tmp_path: Path) -> None:
    runner = FakeRunner([report("node1")], [stats(["node1"])])
    assert (
        main(["audit", "-i", "node1,", "--output", str(tmp_path), "--quiet", "--fail-on", "never"], runner=runner) == 0
    )
    assert runner.calls[0]["inventory"] == "node1,"


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("stream", "live"),
    [(io.StringIO(), False), (Terminal(), True)],
)
def test_plain_lines_on_a_pipe_and_a_live_view_on_a_terminal(stream: io.StringIO, live: bool) -> None:
    ticks = iter(range(100))
    progress = Progress(stream, clock=lambda: float(next(ticks)))
    assert progress.live is live
    for event in (
        ok("node1", statuses=("pass", "drift", "drift", "error", "skipped")),
        ok("node2"),
        ok("node1", "Write the report"),
        unreachable("node2"),
        stats(["node1"], ["node2"]),
    ):
        progress.handle(event)
    text = stream.getvalue()
    if live:
        assert "\x1b[2K" in text
        assert "\x1b[2F" in text
        last = text.rsplit("\x1b[2F", 1)[1]
        lines = [line.replace("\x1b[2K", "") for line in last.splitlines()]
        assert lines[0].split() == [
            *["node1", "finished", "2", "tasks", "5", "controls", "2", "drift", "1", "errors"],
            *["Write", "the", "report"],
        ]
        assert lines[1].startswith("node2  unreachable")
    else:
        assert "\x1b" not in text
        assert text.splitlines() == [
            "node1: started",
            "node2: started",
            "node2: unreachable: Failed to connect to the host via ssh: Connection refused",
            "node1: finished, 2 tasks, 5 controls, 2 drift, 1 errors",
        ]
    assert progress.without_report(["node1"]) == [
        {"host": "node2", "reason": "Failed to connect to the host via ssh: Connection refused"}
    ]


def test_quiet_progress_writes_nothing() -> None:
    stream = Terminal()
    progress = Progress(stream, quiet=True)
    progress.handle(ok("node1"))
    progress.handle(stats(["node1"]))
    assert stream.getvalue() == ""


def test_the_output_holds_this_run_only(tmp_path: Path, inventory: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes-audit.json").write_text("not a report", encoding="utf-8")
    first = FakeRunner([report("node1"), report("node2")], [stats(["node1", "node2"])])
    _run(tmp_path, inventory, first, "--quiet", "--format", "html")
    assert {"node1-audit.json", "node2-audit.json", "fleet-summary.json"} <= {p.name for p in out.iterdir()}
    second = FakeRunner([report("node1")], [ok("node1"), unreachable("node2"), stats(["node1"], ["node2"])])
    assert _run(tmp_path, inventory, second, "--quiet", "--format", "junit") == 2
    names = {path.name for path in out.iterdir()}
    assert "node2-audit.json" not in names, "an earlier run's report of an unreachable node is not this run's"
    assert {"node1-audit.json", "notes-audit.json", "fleet-junit.xml"} <= names
    summary = json.loads((out / "fleet-summary.json").read_text(encoding="utf-8"))
    assert [node["host"] for node in summary["unreachable"]] == ["node2"]
