# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""JUnit XML for CI servers: one test suite per node, one test case per control.

``pass`` and ``fixed`` pass (a fixed control says what was changed in ``system-out``), ``drift``
is a failure (expected, actual and the differences in its text), ``error`` an error, ``skipped``
skipped with its reason. A node without a report is a suite with one errored test case,
``reachable``, whose message says why.
"""

from __future__ import annotations

import datetime
import json
import re
import typing as t
import xml.etree.ElementTree as ET

from nodeguard_cli.reports.load import Report

# Characters XML 1.0 cannot carry at all, even escaped.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
UNREACHABLE_CASE = "reachable"


def _text(value: t.Any) -> str:
    """A value as XML-safe text: strings as they are, anything else as compact JSON."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)
    return _NOT_XML.sub(lambda match: f"\\x{ord(match.group()):02x}", text)


def _timestamp(stamp: str | None) -> str | None:
    """An ISO 8601 time as the local-time form JUnit readers take, in UTC, or None if unreadable."""
    if not stamp:
        return None
    try:
        moment = datetime.datetime.fromisoformat(stamp)
    except ValueError:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    return moment.replace(microsecond=0).isoformat()


def describe_control(control: dict[str, t.Any]) -> str:
    """Expected, actual and each difference, for the body of a failure or error."""
    lines = [f"expected: {_text(control['expected'])}", f"actual: {_text(control['actual'])}"]
    if control["differences"]:
        lines.append("differences:")
        for difference in control["differences"]:
            lines.append(
                f"  - {_text(difference['item'])} ({_text(difference['where'])}): "
                f"expected {_text(difference['expected'])}, actual {_text(difference['actual'])}"
            )
    if control["benchmarks"]:
        refs = "; ".join(f"{ref['benchmark']} {ref['section']}" for ref in control["benchmarks"])
        lines.append(f"benchmarks: {_text(refs)}")
    return "\n".join(lines)


def _testcase(suite: ET.Element, host: str, control: dict[str, t.Any]) -> None:
    case = ET.SubElement(suite, "testcase", classname=_text(host), name=_text(control["id"]), time="0")
    status, reason = control["status"], _text(control["reason"] or "")
    if status == "drift":
        failure = ET.SubElement(case, "failure", message=reason or "drift", type="drift")
        failure.text = describe_control(control)
    elif status == "error":
        error = ET.SubElement(case, "error", message=reason or "error", type="error")
        error.text = describe_control(control)
    elif status == "skipped":
        ET.SubElement(case, "skipped", message=reason or "skipped")
    elif status == "fixed":
        ET.SubElement(case, "system-out").text = f"fixed: {reason}\n{describe_control(control)}"


def _suite(parent: ET.Element, index: int, host: str, mode: str, **counts: int) -> ET.Element:
    return ET.SubElement(
        parent,
        "testsuite",
        name=_text(host),
        tests=str(counts["tests"]),
        failures=str(counts["failures"]),
        errors=str(counts["errors"]),
        skipped=str(counts["skipped"]),
        time="0",
        hostname=_text(host),
        id=str(index),
        package=f"nodeguard.{mode}",
    )


def junit_document(
    mode: str,
    reports: dict[str, Report],
    unreachable: list[dict[str, str]] | None = None,
    generated_at: str | None = None,
) -> ET.Element:
    """The <testsuites> element for one mode's reports and the nodes without one."""
    missing = {entry["host"]: entry["reason"] for entry in unreachable or [] if entry["host"] not in reports}
    root = ET.Element("testsuites", name=f"nodeguard {mode}")
    totals = {"tests": 0, "failures": 0, "errors": 0}
    for index, host in enumerate(sorted(set(reports) | set(missing))):
        if host in missing:
            suite = _suite(root, index, host, mode, tests=1, failures=0, errors=1, skipped=0)
            stamp = _timestamp(generated_at)
            if stamp:
                suite.set("timestamp", stamp)
            case = ET.SubElement(suite, "testcase", classname=_text(host), name=UNREACHABLE_CASE, time="0")
            reason = _text(missing[host] or "no report")
            ET.SubElement(case, "error", message=reason, type="unreachable").text = f"{host}: no report: {reason}"
            totals["tests"] += 1
            totals["errors"] += 1
            continue
        report = reports[host]
        counts = report.counts()
        suite = _suite(
            root,
            index,
            host,
            mode,
            tests=len(report.controls),
            failures=counts["drift"],
            errors=counts["error"],
            skipped=counts["skipped"],
        )
        stamp = _timestamp(report.generated_at)
        if stamp:
            suite.set("timestamp", stamp)
        properties = ET.SubElement(suite, "properties")
        for name, value in (
            ("mode", mode),
            ("collection_version", report.document["collection_version"] or ""),
            ("generated_at", report.generated_at),
        ):
            ET.SubElement(properties, "property", name=name, value=_text(value))
        for control in report.controls:
            _testcase(suite, host, control)
        totals["tests"] += len(report.controls)
        totals["failures"] += counts["drift"]
        totals["errors"] += counts["error"]
    for key, value in totals.items():
        root.set(key, str(value))
    root.set("time", "0")
    return root


def render_junit(
    mode: str,
    reports: dict[str, Report],
    unreachable: list[dict[str, str]] | None = None,
    generated_at: str | None = None,
) -> str:
    root = junit_document(mode, reports, unreachable, generated_at)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
