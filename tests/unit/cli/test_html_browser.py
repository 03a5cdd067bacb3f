# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The fleet page in a real headless Chromium: what `nodeguard report` writes, checked against its reports.

One browser for the module. The checker lies in tests/fleet/fleet_page.py (``fleet.fleet_page``:
pytest puts tests/, the first folder above tests/unit without an ``__init__.py``, on sys.path); the
same checker runs on the reports of a real lab run (tests/fleet/test_page_of_a_run.py).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import typing as t
from pathlib import Path

import pytest
from fleet.fleet_page import (
    PAGE_NAME,
    BrowserMissing,
    PageProblems,
    browser_or_fail,
    browser_paths,
    check_fleet_page,
    section_group,
)
from nodeguard_cli.main import main

from .builders import control, report, write, write_unreachable

HOSTILE = '</script><img src=x onerror="alert(1)"><b>bold</b> & \u2028 <!-- -->'
DEBIAN = "CIS Debian Linux 12 v1.1.0"
KUBERNETES = "CIS Kubernetes Benchmark v1.12"
CKS = "CKS curriculum"
LEVEL1, LEVEL2 = "Level 1 - Server", "Level 2 - Server"
UNREACHABLE = {"host": "node9", "reason": "ssh: connect to host node9 port 22: Connection refused"}


def _ref(benchmark: str, section: t.Any) -> list[dict[str, t.Any]]:
    return [{"benchmark": benchmark, "section": section}]


def _fleet() -> list[dict[str, t.Any]]:
    """Three reported nodes, not all with every control: every status, two profiles and a control with
    none, seven benchmark sections, values of every JSON type, a reason that looks like markup."""
    ssh = {"benchmarks": _ref(DEBIAN, "5.1.20"), "title": "SSH root login is disabled"}
    rules = {
        "benchmarks": [{"benchmark": DEBIAN, "section": "6.3.3.1"}, {"benchmark": KUBERNETES, "section": "4.1.9"}],
        "profile": LEVEL2,
        "level": 2,
        "title": "Audit rules watch the kubelet configuration",
    }
    kubelet = {"benchmarks": _ref(KUBERNETES, "4.2.1"), "profile": LEVEL2, "title": "Kubelet refuses anonymous calls"}
    syscalls = {
        "benchmarks": _ref(CKS, "System Hardening: reduce the attack surface"),
        "profile": None,
        "level": None,
        "title": "Seccomp default profile",
    }
    return [
        report(
            "node1",
            controls=[
                control(
                    "cis.ssh.root_login", "drift", expected="no", actual="yes", reason="PermitRootLogin is yes", **ssh
                ),
                control("cis.ssh.ciphers", "pass", benchmarks=_ref(DEBIAN, "5.1.6")),
                control(
                    "cis.audit.kubelet_rules",
                    "drift",
                    expected=["-w /var/lib/kubelet/config.yaml -p wa"],
                    actual=[],
                    reason="audit rule missing: kubelet config watch",
                    differences=[
                        {"item": "kubelet", "where": "loaded", "expected": "present", "actual": None},
                        {"item": "kubelet", "where": "rules.d", "expected": "present", "actual": "absent"},
                    ],
                    **rules,
                ),
                control(
                    "cis.fs.tmp_mount", "skipped", reason="switched off: tmpfs by design", benchmarks=_ref(DEBIAN, 1)
                ),
                control("k8s.kubelet.anonymous_auth", "pass", **kubelet),
                control("cks.seccomp.default", "error", reason="cannot read /etc/kubernetes: denied", **syscalls),
            ],
        ),
        report(
            "node2",
            controls=[
                control("cis.ssh.root_login", "fixed", expected="no", actual="no", reason=HOSTILE, **ssh),
                control("cis.ssh.ciphers", "drift", benchmarks=_ref(DEBIAN, "5.1.6"), actual={"ciphers": ["3des"]}),
                control("k8s.kubelet.anonymous_auth", "drift", expected=False, actual=True, **kubelet),
                control("cks.seccomp.default", "skipped", reason="switched off: no container runtime", **syscalls),
            ],
        ),
        report(
            "node3",
            controls=[
                control("cis.ssh.root_login", "pass", expected="no", actual="no", **ssh),
                control("cis.ssh.ciphers", "pass", benchmarks=_ref(DEBIAN, "5.1.6")),
                control("cis.audit.kubelet_rules", "error", reason="auditctl: not found", expected=None, **rules),
                control("cis.fs.tmp_mount", "pass", benchmarks=_ref(DEBIAN, 1)),
                # Enough rows for the matrix to be taller than the window.
                *(control(f"cis.fs.partition_{n}", "pass", benchmarks=_ref(DEBIAN, f"1.1.{n}")) for n in range(30)),
            ],
        ),
    ]


@pytest.fixture(scope="module")
def driver() -> t.Iterator[t.Any]:
    """One headless Chromium for the module; without one the tests fail (never skip), saying `make deps`."""
    with browser_or_fail() as browser:
        yield browser


@pytest.fixture(scope="module")
def fleet_reports(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The reports, an earlier run's fleet summary naming an unreachable node, then `nodeguard report`."""
    folder = tmp_path_factory.mktemp("fleet")
    for document in _fleet():
        write(folder, document)
    write_unreachable(folder, [UNREACHABLE], mode="audit")
    assert main(["report", str(folder), "--quiet"]) == 0
    return folder


@pytest.fixture
def copied(tmp_path: Path, fleet_reports: Path) -> Path:
    folder = tmp_path / "reports"
    shutil.copytree(fleet_reports, folder)
    return folder


def test_the_page_shows_the_reports_and_every_filter_works(driver, fleet_reports: Path, tmp_path: Path) -> None:
    screenshot = tmp_path / "shots" / "fleet.png"
    checked = check_fleet_page(fleet_reports, driver, screenshot=screenshot, details=6)
    # What the checker went through: every node, control, status, profile and section of the reports.
    documents = _fleet()
    items = [item for document in documents for item in document["controls"]]
    assert checked["nodes"] == len(documents) + 1, checked
    assert checked["controls"] == len({item["id"] for item in items}), checked
    statuses = {item["status"] for item in items}
    profiles = {item["profile"] for item in items} - {None}
    sections = {section_group(ref["benchmark"], ref["section"]) for item in items for ref in item["benchmarks"]}
    assert len(statuses) == 5 and len(profiles) > 1 and len(sections) > 2, "the fixture lost its variety"
    wanted = [f"status filter: only {status}" for status in statuses]
    wanted += [f"profile filter: {profile}" for profile in profiles]
    wanted += [f"section filter: {section}" for section in sections]
    assert set(wanted) <= set(checked["filters"]), set(wanted) - set(checked["filters"])
    assert any(name.startswith("search ") for name in checked["filters"]), checked["filters"]
    for status in statuses:
        opened = {item["id"] for item in items if item["status"] == status} & set(checked["details"])
        assert opened, f"no {status} control opened: {checked['details']}"
    assert checked["header_scrolled"], "the matrix fits in the window: its sticky header row went unchecked"
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _replace(folder: Path, old: str, new: str) -> None:
    page = folder / PAGE_NAME
    text = page.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"the page no longer holds {old!r} once: change this test with html.py"
    page.write_text(text.replace(old, new), encoding="utf-8")


def _script_at_the_end(folder: Path) -> None:
    script = 'console.error("broken on purpose"); console.warn("odd on purpose");'
    _replace(
        folder, "</body>", f"<script>{script}</script><script>throw new Error('thrown on purpose')</script></body>"
    )
    # A box that scrolls sideways around the matrix: its header row no longer stays in view.
    _replace(folder, "</style>", ".wrap { overflow-x: auto; }</style>")
    _replace(folder, '<table id="matrix">', '<div class="wrap"><table id="matrix">')


def _filters_ignored(folder: Path) -> None:
    _replace(folder, "return wanted[control.results[host].status];", "return true;")
    _replace(folder, "(!profile || control.profile === profile)", "true")
    _replace(folder, "control.sections.indexOf(section) !== -1", "true")
    _replace(folder, 'return control.results[host].reason || "";', 'return "";')


def _values_wrong(folder: Path) -> None:
    _replace(folder, 'add("Actual", result.actual);', 'add("Actual", result.expected);')
    _replace(folder, 'text: "unreachable"', 'text: "pass"')
    # A report that says otherwise than the page: node2's drift on cis.ssh.ciphers is now a pass.
    path = folder / "node2-audit.json"
    document = json.loads(path.read_text(encoding="utf-8"))
    item = next(item for item in document["controls"] if item["id"] == "cis.ssh.ciphers")
    item.update(status="pass", reason=None, differences=[])
    write(folder, report("node2", controls=document["controls"]))


def _requests(folder: Path) -> None:
    shutil.copyfile(folder / "fleet-summary.json", folder / "pixel.png")
    _replace(folder, "</body>", '<img src="pixel.png" alt="" hidden>\n</body>')
    # Enter in the search box submits the form: the page loads again, its filters lost.
    _replace(folder, 'addEventListener("submit", function (event) { event.preventDefault(); });', 'getAttribute("id");')


# Each damage, and a symptom of each of its parts the checker must report.
BREAKAGES = {
    "console messages, an exception, a header that scrolls away": (
        _script_at_the_end,
        [
            "console SEVERE (console-api)",
            "broken on purpose",
            "console WARNING",
            "Uncaught Error: thrown on purpose",
            "column headers out of view once scrolled to the last control: Control, node1",
        ],
    ),
    "filters ignore their setting": (
        _filters_ignored,
        [
            "status filter: only pass:",
            f"profile filter: {LEVEL2}:",
            f"section filter: {section_group(CKS, 'System Hardening')}:",
            "search '",
        ],
    ),
    "values unlike the reports": (
        _values_wrong,
        [
            "details of cis.audit.kubelet_rules on node1: Actual shows",
            "node9: cell shows 'pass'",
            "cis.ssh.ciphers on node2: cell shows 'drift'",
        ],
    ),
    "requests beyond the page": (_requests, ["/pixel.png", f"/{PAGE_NAME}?"]),
}


@pytest.mark.parametrize("breakage", list(BREAKAGES))
def test_a_broken_page_is_caught(driver, copied: Path, breakage: str) -> None:
    damage, symptoms = BREAKAGES[breakage]
    damage(copied)
    with pytest.raises(PageProblems) as caught:
        check_fleet_page(copied, driver, details=1)
    for symptom in symptoms:
        assert any(symptom in problem for problem in caught.value.problems), f"{symptom!r} not in {caught.value}"


def test_without_chromium_the_checker_says_make_deps(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(BrowserMissing, match=r"chromium and chromedriver not found on PATH: run `make deps`"):
        browser_paths()


def test_without_chromium_the_browser_tests_fail_not_skip(tmp_path: Path) -> None:
    test = f"{__file__}::test_the_page_shows_the_reports_and_every_filter_works"
    run = subprocess.run(
        [sys.executable, "-m", "pytest", test, "-q", "-rfEs", "-p", "no:cacheprovider", f"--basetemp={tmp_path}/t"],
        env=dict(os.environ, PATH=str(tmp_path)),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 1, run.stdout + run.stderr
    assert "chromium and chromedriver not found on PATH: run `make deps`" in run.stdout, run.stdout
    assert "skipped" not in run.stdout, run.stdout
