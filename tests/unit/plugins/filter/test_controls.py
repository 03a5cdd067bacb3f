# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import datetime
import re

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.nodeguard.hardening.plugins.filter.controls import (
    FilterModule,
    control_report,
    resolve_controls,
    skipped_results,
)

CATALOG = [
    {
        "id": "k8s.sysctl.ip_forward",
        "title": "Forward IPv4 packets",
        "sysctl": {"net.ipv4.ip_forward": 1},
    },
    {
        "id": "cis.sysctl.panic",
        "title": "Reboot after a panic",
        "level": 1,
        "sysctl": {"kernel.panic": 10, "kernel.panic_on_oops": 1},
    },
    {
        "id": "cis.sysctl.redirects",
        "title": "Ignore ICMP redirects",
        "default": False,
        "default_reason": "CNI plugins may rely on them",
        "sysctl": {"net.ipv4.conf.all.accept_redirects": 0},
    },
    {
        "id": "cis.sysctl.no_reason",
        "title": "Off without a catalog reason",
        "default": False,
        "sysctl": {"net.ipv4.conf.all.send_redirects": 0},
    },
]


def by_id(controls):
    return {c["id"]: c for c in controls}


def switches(controls):
    return [(c["id"], c["enabled"], c["reason"]) for c in controls]


# --------------------------------------------------------------------------- resolve_controls


def test_defaults():
    out = resolve_controls(CATALOG)
    assert switches(out) == [
        ("k8s.sysctl.ip_forward", True, None),
        ("cis.sysctl.panic", True, None),
        ("cis.sysctl.redirects", False, "off by default on Kubernetes nodes: CNI plugins may rely on them"),
        ("cis.sysctl.no_reason", False, "off by default on Kubernetes nodes: no reason given in the catalog"),
    ]


def test_catalog_only_fields_are_removed():
    out = resolve_controls(CATALOG)
    assert [sorted(c) for c in out] == [
        ["enabled", "id", "reason", "sysctl", "title"],
        ["enabled", "id", "level", "reason", "sysctl", "title"],
        ["enabled", "id", "reason", "sysctl", "title"],
        ["enabled", "id", "reason", "sysctl", "title"],
    ]
    # The catalog itself is left as it was.
    assert CATALOG[2]["default"] is False
    assert "enabled" not in CATALOG[0]


@pytest.mark.parametrize(
    ("disabled", "enabled", "expected"),
    [
        ({"k8s.sysctl.ip_forward": "  the node routes  "}, None, {"k8s.sysctl.ip_forward": (False, "the node routes")}),
        ({"cis.sysctl.redirects": "not needed here"}, None, {"cis.sysctl.redirects": (False, "not needed here")}),
        (None, ["cis.sysctl.redirects"], {"cis.sysctl.redirects": (True, None)}),
        (
            None,
            ["cis.sysctl.redirects", "cis.sysctl.no_reason"],
            {"cis.sysctl.redirects": (True, None), "cis.sysctl.no_reason": (True, None)},
        ),
        (None, ["k8s.sysctl.ip_forward"], {"k8s.sysctl.ip_forward": (True, None)}),
        (
            {"other.role.control": "not mine"},
            ["other.role.x"],
            {"k8s.sysctl.ip_forward": (True, None), "cis.sysctl.panic": (True, None)},
        ),
    ],
    ids=[
        "user-disabled-wins",
        "user-reason-replaces-default-reason",
        "enable-default-off",
        "enable-two",
        "enable-default-on",
        "unknown-ids-ignored",
    ],
)
def test_user_choices(disabled, enabled, expected):
    out = by_id(resolve_controls(CATALOG, disabled, enabled))
    assert {cid: (out[cid]["enabled"], out[cid]["reason"]) for cid in expected} == expected


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((CATALOG, {"cis.sysctl.panic": ""}), "control 'cis.sysctl.panic' is switched off without a reason"),
        ((CATALOG, {"cis.sysctl.panic": "   "}), "control 'cis.sysctl.panic' is switched off without a reason"),
        ((CATALOG, {"cis.sysctl.panic": None}), "control 'cis.sysctl.panic' is switched off without a reason"),
        ((CATALOG, {"cis.sysctl.panic": True}), "control 'cis.sysctl.panic' is switched off without a reason"),
        (
            (
                CATALOG,
                {"cis.sysctl.panic": "x", "k8s.sysctl.ip_forward": "y"},
                ["k8s.sysctl.ip_forward", "cis.sysctl.panic"],
            ),
            "cis.sysctl.panic, k8s.sysctl.ip_forward both switched on and off; choose one",
        ),
        (({"id": "a.b", "title": "t"},), "the catalog must be a list of controls, got dict"),
        ((CATALOG, ["cis.sysctl.panic"]), "'disabled' must map control ids to reasons"),
        ((CATALOG, {}, "cis.sysctl.redirects"), "'enabled' must be a list of control ids"),
        ((CATALOG, {}, [], None, {"kernel.panic": 30}), "'overrides' needs 'field'"),
        (([{"id": "a.b"}],), "every catalog entry needs id, title"),
        ((["a.b"],), "every catalog entry needs id, title"),
        (([{"id": "Bad", "title": "t"}],), "catalog id 'Bad' is not lower-case dotted words"),
    ],
    ids=[
        "empty-reason",
        "blank-reason",
        "none-reason",
        "bool-reason",
        "on-and-off",
        "catalog-not-list",
        "disabled-not-dict",
        "enabled-not-list",
        "overrides-without-field",
        "entry-without-title",
        "entry-not-dict",
        "bad-catalog-id",
    ],
)
def test_resolve_controls_rejects(args, message):
    with pytest.raises(AnsibleFilterError, match="^" + re.escape(f"resolve_controls: {message}")):
        resolve_controls(*args)


def test_overrides_replace_values():
    out = by_id(resolve_controls(CATALOG, field="sysctl", overrides={"kernel.panic": 30, "net.ipv4.ip_forward": 0}))
    assert out["cis.sysctl.panic"]["sysctl"] == {"kernel.panic": 30, "kernel.panic_on_oops": 1}
    assert out["k8s.sysctl.ip_forward"]["sysctl"] == {"net.ipv4.ip_forward": 0}
    assert out["cis.sysctl.redirects"]["sysctl"] == {"net.ipv4.conf.all.accept_redirects": 0}
    # The catalog's own mapping is not changed.
    assert CATALOG[1]["sysctl"] == {"kernel.panic": 10, "kernel.panic_on_oops": 1}


def test_override_of_disabled_control_is_known():
    out = by_id(
        resolve_controls(CATALOG, {"cis.sysctl.panic": "vendor"}, field="sysctl", overrides={"kernel.panic": 30})
    )
    assert out["cis.sysctl.panic"]["enabled"] is False
    assert out["cis.sysctl.panic"]["sysctl"]["kernel.panic"] == 30


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"kernel.nope": 1}, "no control sets kernel.nope"),
        (
            {"kernel.panic": 30, "vm.b": 1, "vm.a": 1},
            "no control sets vm.a, vm.b; overrides change catalog values only",
        ),
        ({"kernel/panic": 30}, "no control sets kernel/panic"),
    ],
    ids=["unknown", "two-unknown-sorted", "other-spelling"],
)
def test_unknown_override_raises(overrides, message):
    with pytest.raises(AnsibleFilterError, match=message):
        resolve_controls(CATALOG, field="sysctl", overrides=overrides)


def test_override_field_that_no_control_has_raises():
    with pytest.raises(AnsibleFilterError, match="no control sets overlay"):
        resolve_controls(CATALOG, field="load", overrides={"overlay": True})


# --------------------------------------------------------------------------- control_report


def result(cid, status):
    return {"id": cid, "title": f"title of {cid}", "status": status}


RESULTS = [
    result("cis.sysctl.10", "pass"),
    result("cis.sysctl.9", "fixed"),
    result("k8s.kernel_modules", "drift"),
    result("cis.sysctl.1", "skipped"),
    result("cis.sysctl.2", "error"),
    result("cis.sysctl.1a", "pass"),
]


def test_control_report():
    report = control_report(
        RESULTS,
        "node-1",
        "harden",
        disabled={"cis.sysctl.1": "why", "zz.gone": "old", "aa.gone": "old"},
        collection_version="0.1.0",
        now="2025-01-01T00:00:00+00:00",
    )
    assert report["schema_version"] == 1
    assert report["host"] == "node-1"
    assert report["mode"] == "harden"
    assert report["generated_at"] == "2025-01-01T00:00:00+00:00"
    assert report["collection_version"] == "0.1.0"
    assert report["summary"] == {"pass": 2, "fixed": 1, "drift": 1, "skipped": 1, "error": 1}
    assert report["unknown_disabled_ids"] == ["aa.gone", "zz.gone"]
    assert [r["id"] for r in report["controls"]] == [
        "cis.sysctl.1",
        "cis.sysctl.1a",
        "cis.sysctl.2",
        "cis.sysctl.9",
        "cis.sysctl.10",
        "k8s.kernel_modules",
    ]


def test_control_report_defaults():
    report = control_report([], "node-1", "audit")
    assert report["summary"] == {"pass": 0, "fixed": 0, "drift": 0, "skipped": 0, "error": 0}
    assert report["unknown_disabled_ids"] == []
    assert report["controls"] == []
    assert report["collection_version"] is None
    stamp = datetime.datetime.fromisoformat(report["generated_at"])
    assert stamp.utcoffset() == datetime.timedelta(0)
    assert stamp.microsecond == 0
    assert abs(datetime.datetime.now(datetime.UTC) - stamp) < datetime.timedelta(minutes=5)


@pytest.mark.parametrize(
    ("results", "mode", "message"),
    [
        (RESULTS, "check", "mode must be 'audit' or 'harden', got 'check'"),
        (RESULTS, None, "mode must be 'audit' or 'harden', got None"),
        ({"id": "a.b"}, "audit", "results must be a list of control results"),
        ([result("a.b", "pass"), result("a.b", "fixed")], "audit", "control 'a.b' was reported twice"),
        ([result("a.b", "ok")], "audit", "control 'a.b' has unknown status 'ok'"),
        ([{"id": "a.b", "title": "t"}], "audit", "not a control result"),
        (["a.b"], "audit", "not a control result"),
    ],
    ids=["bad-mode", "no-mode", "not-list", "duplicate-id", "unknown-status", "no-status", "not-dict"],
)
def test_control_report_rejects(results, mode, message):
    with pytest.raises(AnsibleFilterError, match="^" + re.escape(f"control_report: {message}")):
        control_report(results, "node-1", mode)


# --------------------------------------------------------------------------- skipped_results

SANDBOX_CATALOG = [
    {
        "id": "k8s.sandbox.gvisor_handler",
        "title": "containerd has the runsc runtime handler",
        "benchmarks": [{"benchmark": "CIS Kubernetes Benchmark v1.12", "section": "5.7.4"}],
        "level": 2,
        "default": False,
        "default_reason": "a sandbox runtime is chosen per node pool",
    },
    {"id": "k8s.sandbox.kata_handler", "title": "containerd has the kata runtime handler", "profile": "sandbox"},
]


def test_skipped_results_reports_every_switched_off_control_with_its_reason():
    controls = resolve_controls(SANDBOX_CATALOG, disabled={"k8s.sandbox.kata_handler": "no KVM on this pool"})
    assert skipped_results(controls) == [
        {
            "id": "k8s.sandbox.gvisor_handler",
            "title": "containerd has the runsc runtime handler",
            "benchmarks": [{"benchmark": "CIS Kubernetes Benchmark v1.12", "section": "5.7.4"}],
            "level": 2,
            "profile": None,
            "status": "skipped",
            "reason": "switched off: off by default on Kubernetes nodes: a sandbox runtime is chosen per node pool",
            "expected": None,
            "actual": None,
            "differences": [],
            "details": {},
        },
        {
            "id": "k8s.sandbox.kata_handler",
            "title": "containerd has the kata runtime handler",
            "benchmarks": [],
            "level": None,
            "profile": "sandbox",
            "status": "skipped",
            "reason": "switched off: no KVM on this pool",
            "expected": None,
            "actual": None,
            "differences": [],
            "details": {},
        },
    ]


def test_skipped_results_go_into_a_report():
    controls = resolve_controls(SANDBOX_CATALOG, disabled={"k8s.sandbox.kata_handler": "no KVM on this pool"})
    report = control_report(skipped_results(controls), "node-1", "harden", now="2025-01-01T00:00:00+00:00")
    assert report["summary"] == {"pass": 0, "fixed": 0, "drift": 0, "skipped": 2, "error": 0}


def test_skipped_results_of_nothing_is_nothing():
    assert skipped_results([]) == []


@pytest.mark.parametrize(
    ("controls", "message"),
    [
        (
            [{"id": "k8s.sandbox.gvisor_handler", "title": "t", "enabled": True, "reason": None}],
            "k8s.sandbox.gvisor_handler switched on; only switched-off controls go unchecked",
        ),
        (
            [
                {"id": "a.one", "title": "t", "enabled": False, "reason": "off"},
                {"id": "a.two", "title": "t"},
                {"id": "a.three", "title": "t", "enabled": True},
            ],
            "a.two, a.three switched on",
        ),
        ({"id": "a.one", "title": "t", "enabled": False}, "give the controls resolve_controls returned"),
        ([{"id": "a.one", "enabled": False, "reason": "off"}], "give the controls resolve_controls returned"),
        (["a.one"], "give the controls resolve_controls returned"),
        (None, "give the controls resolve_controls returned"),
    ],
    ids=["one-on", "on-by-default", "not-list", "no-title", "not-dict", "none"],
)
def test_skipped_results_rejects(controls, message):
    with pytest.raises(AnsibleFilterError, match="^" + re.escape(f"skipped_results: {message}")):
        skipped_results(controls)


def test_filter_module_exports():
    filters = FilterModule().filters()
    assert filters == {
        "resolve_controls": resolve_controls,
        "control_report": control_report,
        "skipped_results": skipped_results,
    }
