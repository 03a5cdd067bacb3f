# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The JUnit file of a real fleet run, read back against the run's own JSON reports.

Run after `nodeguard audit|harden --output DIR` with NODEGUARD_FLEET_REPORTS=DIR (the default
Molecule scenario does so on its lab nodes). Every expectation comes from the per-node reports
and fleet-summary.json in DIR; the schema is the Jenkins xunit plugin's junit-10.xsd (both
revisions `make venv` puts beside the venv).
"""

from __future__ import annotations

import json
import os
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import xmlschema
from nodeguard_cli.reports.load import load_reports

SCHEMAS = sorted((Path(sys.prefix) / "share" / "junit-schemas").glob("*/junit-10.xsd"))


@pytest.fixture(scope="module")
def run_dir() -> Path:
    value = os.environ.get("NODEGUARD_FLEET_REPORTS")
    if not value:
        pytest.fail("set NODEGUARD_FLEET_REPORTS to the --output directory of a nodeguard run")
    return Path(value)


@pytest.fixture(scope="module")
def junit(run_dir: Path) -> ET.Element:
    return ET.parse(run_dir / "fleet-junit.xml").getroot()


@pytest.fixture(scope="module")
def summary(run_dir: Path) -> dict:
    return json.loads((run_dir / "fleet-summary.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def reports(run_dir: Path, summary: dict) -> dict:
    return {report.host: report for report in load_reports(run_dir) if report.mode == summary["mode"]}


@pytest.mark.parametrize("schema", SCHEMAS or [None], ids=lambda path: path and path.parent.name[:7])
def test_valid_against_the_jenkins_schema(run_dir: Path, schema: Path | None) -> None:
    assert schema is not None, "no junit-10.xsd beside the venv: run `make venv`"
    xmlschema.XMLSchema(str(schema)).validate(str(run_dir / "fleet-junit.xml"))


def test_a_suite_per_node_with_its_counts(junit: ET.Element, reports: dict, summary: dict) -> None:
    suites = {suite.get("name"): suite for suite in junit.findall("testsuite")}
    unreachable = [node["host"] for node in summary["unreachable"]]
    assert sorted(suites) == sorted([*reports, *unreachable])
    for host, report in reports.items():
        counts = report.counts()
        suite = suites[host]
        assert int(suite.get("tests")) == len(report.controls)
        assert int(suite.get("failures")) == counts["drift"]
        assert int(suite.get("errors")) == counts["error"]
        assert int(suite.get("skipped")) == counts["skipped"]
    assert int(junit.get("tests")) == sum(len(suite.findall("testcase")) for suite in suites.values())


def test_each_control_is_a_case_with_its_status(junit: ET.Element, reports: dict) -> None:
    cases = {(case.get("classname"), case.get("name")): case for case in junit.iter("testcase")}
    checked = 0
    for host, report in reports.items():
        for control in report.controls:
            case = cases[(host, control["id"])]
            failure, error, skipped = case.find("failure"), case.find("error"), case.find("skipped")
            status = control["status"]
            assert (failure is not None, error is not None, skipped is not None) == (
                status == "drift",
                status == "error",
                status == "skipped",
            ), f"{host} {control['id']} {status}"
            problem = failure if failure is not None else error
            if problem is not None:
                assert problem.get("message") == control["reason"]
                expected = json.dumps(control["expected"], ensure_ascii=False, sort_keys=True)
                actual = json.dumps(control["actual"], ensure_ascii=False, sort_keys=True)
                text = problem.text or ""
                for value in (expected, actual):
                    # Strings appear as they are, other values as compact JSON.
                    assert (value.strip('"') if value.startswith('"') else value) in text, (control["id"], text)
            if skipped is not None:
                assert skipped.get("message") == control["reason"]
            checked += 1
    assert checked == sum(len(report.controls) for report in reports.values()) > 0


def test_an_unreachable_node_is_an_errored_case_with_the_reason(junit: ET.Element, summary: dict) -> None:
    suites = {suite.get("name"): suite for suite in junit.findall("testsuite")}
    for node in summary["unreachable"]:
        (case,) = suites[node["host"]].findall("testcase")
        error = case.find("error")
        assert error is not None
        assert node["reason"] in (error.get("message") or "") + (error.text or "")
