# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""JUnit XML: content per node and control, and validity against the schema CI servers read."""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import xmlschema
from nodeguard_cli.reports.junit import render_junit
from nodeguard_cli.reports.load import load_reports, select_mode

from .builders import control, report, write

# The Jenkins xunit plugin's junit-10.xsd, two revisions, put beside the venv by `make venv`
# (tools/fetch_junit_schemas.py).
SCHEMA_DIR = Path(sys.prefix) / "share" / "junit-schemas"
JUNIT_XSDS = sorted(SCHEMA_DIR.glob("*/junit-10.xsd"))
STAMP = "2026-12-07T01:00:00+00:00"


@pytest.fixture(scope="module", params=JUNIT_XSDS or [None], ids=lambda path: path and path.parent.name[:7])
def schema(request) -> xmlschema.XMLSchema:
    if request.param is None:
        pytest.fail(f"no JUnit schema in {SCHEMA_DIR}: run `make venv` (tools/fetch_junit_schemas.py)")
    return xmlschema.XMLSchema(str(request.param))


def test_both_revisions_of_the_schema_are_there() -> None:
    assert len(JUNIT_XSDS) == 2, f"{SCHEMA_DIR}: {JUNIT_XSDS}"


def _junit(folder: Path, unreachable=None) -> str:
    mode, reports = select_mode(load_reports(folder), None, folder)
    return render_junit(mode, reports, unreachable, STAMP)


def test_one_suite_per_node_with_counts(fleet_dir: Path) -> None:
    root = ET.fromstring(_junit(fleet_dir, [{"host": "node3", "reason": "ssh: no route to host"}]))
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("6", "1", "2")
    suites = {suite.get("name"): suite for suite in root.findall("testsuite")}
    assert list(suites) == ["node1", "node2", "node3"]
    expected = {"node1": ("2", "1", "0", "0"), "node2": ("3", "0", "1", "1"), "node3": ("1", "0", "1", "0")}
    for name, counts in expected.items():
        suite = suites[name]
        assert (suite.get("tests"), suite.get("failures"), suite.get("errors"), suite.get("skipped")) == counts
        assert suite.get("hostname") == name
    assert suites["node1"].get("timestamp") == "2026-12-06T22:44:56"
    assert suites["node3"].get("timestamp") == "2026-12-07T01:00:00"


@pytest.mark.parametrize(
    ("host", "cid", "child", "attributes", "text_parts"),
    [
        ("node1", "cis.a.one", None, {}, []),
        (
            "node1",
            "cis.a.two",
            "failure",
            {"message": "cis.a.two is drift", "type": "drift"},
            ["expected: 1", "actual: 0", "differences:", "  - cis.a.two (live): expected 1, actual 0",
             "benchmarks: CIS Debian Linux 12 v1.1.0 5.2.1"],
        ),
        ("node2", "cis.a.one", "error", {"message": "cis.a.one is error", "type": "error"},
         ["expected: 1", "actual: 0"]),
        ("node2", "cis.a.two", "skipped", {"message": "switched off: not here"}, []),
        ("node2", "k8s.b.three", "system-out", {}, ["fixed: k8s.b.three is fixed"]),
        ("node3", "reachable", "error", {"message": "ssh: no route to host", "type": "unreachable"},
         ["node3: no report: ssh: no route to host"]),
    ],
)  # fmt: skip
def test_testcase_per_control(fleet_dir: Path, host, cid, child, attributes, text_parts) -> None:
    root = ET.fromstring(_junit(fleet_dir, [{"host": "node3", "reason": "ssh: no route to host"}]))
    case = root.find(f"testsuite[@name='{host}']/testcase[@name='{cid}']")
    assert case is not None
    assert case.get("classname") == host
    children = list(case)
    if child is None:
        assert children == []
        return
    assert [element.tag for element in children] == [child]
    assert {key: children[0].get(key) for key in attributes} == attributes
    for part in text_parts:
        assert part in (children[0].text or "").splitlines()


def test_valid_against_the_schema(fleet_dir: Path, schema: xmlschema.XMLSchema) -> None:
    schema.validate(_junit(fleet_dir, [{"host": "node3", "reason": "refused"}]))


def test_awkward_text_stays_valid_xml(tmp_path: Path, schema: xmlschema.XMLSchema) -> None:
    nasty = 'a <b> & "c" \x00\x07 \x1b[31m ]]> \ud800'
    write(tmp_path, report("node1", controls=[control("cis.a.one", "drift", reason=nasty, actual={"k": nasty})]))
    text = _junit(tmp_path, [{"host": "node<2>", "reason": nasty}])
    schema.validate(text)
    failure = ET.fromstring(text).find("testsuite/testcase/failure")
    assert failure.get("message") == 'a <b> & "c" \\x00\\x07 \\x1b[31m ]]> \\xd800'


@pytest.mark.parametrize(
    ("breakage", "where"),
    [
        (lambda root: root.find("testsuite/testcase").attrib.pop("name"), "name"),
        (lambda root: ET.SubElement(root.find("testsuite/testcase"), "warning"), "warning"),
        (lambda root: root.append(ET.Element("testcase", name="x")), "testcase"),
    ],
)
def test_a_broken_document_fails_validation(fleet_dir: Path, schema: xmlschema.XMLSchema, breakage, where) -> None:
    root = ET.fromstring(_junit(fleet_dir))
    schema.validate(root)
    breakage(root)
    with pytest.raises(xmlschema.XMLSchemaValidationError):
        schema.validate(root)


@pytest.mark.parametrize("attribute", ["name", "tests", "failures", "errors"])
def test_a_suite_without_a_required_attribute_fails_the_newer_schema(fleet_dir: Path, attribute: str) -> None:
    newer = [path for path in JUNIT_XSDS if path.parent.name.startswith("ae25da5")]
    assert newer, f"no ae25da5 revision in {SCHEMA_DIR}"
    schema = xmlschema.XMLSchema(str(newer[0]))
    root = ET.fromstring(_junit(fleet_dir))
    root.find("testsuite").attrib.pop(attribute)
    with pytest.raises(xmlschema.XMLSchemaValidationError):
        schema.validate(root)
