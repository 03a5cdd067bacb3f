# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest

from ansible_collections.nodeguard.hardening.plugins.module_utils import _controls as c

RESULT_KEYS = {
    "id",
    "title",
    "benchmarks",
    "level",
    "profile",
    "status",
    "reason",
    "expected",
    "actual",
    "differences",
    "details",
}


def ctl(cid="sysctl.ip_forward", **extra):
    return {"id": cid, "title": f"title of {cid}", **extra}


@pytest.mark.parametrize(
    "cid",
    [
        "sysctl",
        "Sysctl.ip_forward",
        "sysctl.IP_forward",
        "sysctl.",
        ".sysctl.ip_forward",
        "sysctl..ip_forward",
        "sysctl.ip forward",
        "-sysctl.ip_forward",
        "sysctl.-ip_forward",
        "sysctl._ip_forward",
        "sysctl/ip_forward",
        "",
    ],
    ids=[
        "single-word",
        "upper-first",
        "upper-inner",
        "trailing-dot",
        "leading-dot",
        "empty-component",
        "space",
        "leading-dash",
        "component-leading-dash",
        "component-leading-underscore",
        "slash",
        "empty",
    ],
)
def test_validate_controls_rejects_bad_id(cid):
    with pytest.raises(c.ControlInputError, match="is not valid"):
        c.validate_controls([ctl(cid)])


@pytest.mark.parametrize(
    "cid",
    ["sysctl.ip_forward", "cis.sysctl.3_3_1", "k8s.kernel-modules", "a.b", "1.2.3"],
    ids=["two-words", "three-words", "dash", "minimal", "digits"],
)
def test_validate_controls_accepts_good_id(cid):
    assert c.validate_controls([ctl(cid)]) is None


def test_validate_controls_rejects_duplicate_id():
    controls = [ctl("sysctl.a"), ctl("sysctl.b"), ctl("sysctl.a")]
    with pytest.raises(c.ControlInputError, match=r"'sysctl\.a' is given twice"):
        c.validate_controls(controls)


@pytest.mark.parametrize(
    "reason",
    [None, "", "   ", "\t\n"],
    ids=["none", "empty", "spaces", "whitespace"],
)
def test_validate_controls_rejects_disabled_without_reason(reason):
    controls = [ctl("sysctl.a"), ctl("sysctl.b", enabled=False, reason=reason)]
    with pytest.raises(c.ControlInputError, match=r"'sysctl\.b' is switched off without a reason"):
        c.validate_controls(controls)


def test_validate_controls_rejects_disabled_with_missing_reason_key():
    with pytest.raises(c.ControlInputError, match="without a reason"):
        c.validate_controls([ctl("sysctl.a", enabled=False)])


@pytest.mark.parametrize(
    "controls",
    [
        [],
        [ctl("sysctl.a", enabled=False, reason="router")],
        [ctl("sysctl.a", enabled=True, reason=None), ctl("sysctl.b")],
    ],
    ids=["empty", "disabled-with-reason", "enabled-without-reason"],
)
def test_validate_controls_accepts(controls):
    assert c.validate_controls(controls) is None


def test_make_result_schema():
    control = ctl(
        "cis.sysctl.forward",
        benchmarks=[{"benchmark": "CIS Debian Linux 12 v1.1.0", "section": "3.3.1"}],
        level=1,
        profile="server",
        sysctl={"net.ipv4.ip_forward": 0},
    )
    result = c.make_result(
        control, c.DRIFT, reason="why", expected={"k": "0"}, actual={"k": "1"}, details={"persisted": False}
    )
    assert set(result) == RESULT_KEYS
    assert result == {
        "id": "cis.sysctl.forward",
        "title": "title of cis.sysctl.forward",
        "benchmarks": [{"benchmark": "CIS Debian Linux 12 v1.1.0", "section": "3.3.1"}],
        "level": 1,
        "profile": "server",
        "status": "drift",
        "reason": "why",
        "expected": {"k": "0"},
        "actual": {"k": "1"},
        "differences": [],
        "details": {"persisted": False},
    }
    # The result holds its own list, not the control's.
    assert result["benchmarks"] is not control["benchmarks"]


def test_make_result_defaults():
    result = c.make_result(ctl("sysctl.a"), c.PASS)
    assert result == {
        "id": "sysctl.a",
        "title": "title of sysctl.a",
        "benchmarks": [],
        "level": None,
        "profile": None,
        "status": "pass",
        "reason": None,
        "expected": None,
        "actual": None,
        "differences": [],
        "details": {},
    }


@pytest.mark.parametrize("status", ["ok", "PASS", "failed", ""], ids=["ok", "upper", "failed", "empty"])
def test_make_result_unknown_status_raises(status):
    with pytest.raises(ValueError, match="unknown status"):
        c.make_result(ctl(), status)


@pytest.mark.parametrize("status", c.STATUSES, ids=list(c.STATUSES))
def test_make_result_known_status(status):
    assert c.make_result(ctl(), status, reason="why")["status"] == status


@pytest.mark.parametrize("status", [c.FIXED, c.DRIFT, c.ERROR])
def test_make_result_refuses_a_change_or_error_that_says_nothing(status):
    with pytest.raises(ValueError, match="must say what differs"):
        c.make_result(ctl("sysctl.a"), status)


@pytest.mark.parametrize("status", [c.PASS, c.SKIPPED])
def test_make_result_pass_and_skipped_need_no_reason(status):
    assert c.make_result(ctl("sysctl.a"), status)["reason"] is None


def test_make_result_reason_from_differences():
    differences = [
        c.difference("net.ipv4.tcp_syncookies", "/etc/sysctl.d/x.conf line 12", "1", "0"),
        c.difference("br_netfilter", "/etc/modules-load.d/x.conf", "listed", None),
        c.difference("/etc/sysctl.d/x.conf", "mode", "0644", "0666"),
    ]
    result = c.make_result(ctl("sysctl.a"), c.DRIFT, differences=differences)
    assert result["differences"] == differences
    assert result["reason"] == (
        "net.ipv4.tcp_syncookies (/etc/sysctl.d/x.conf line 12): '0', expected '1'; "
        "br_netfilter (/etc/modules-load.d/x.conf): absent, expected 'listed'; "
        "/etc/sysctl.d/x.conf (mode): '0666', expected '0644'"
    )


def test_make_result_own_reason_kept_beside_differences():
    differences = [c.difference("k", "live", "1", "0")]
    result = c.make_result(ctl("sysctl.a"), c.ERROR, reason="refused", differences=differences)
    assert result["reason"] == "refused"
    assert result["differences"] == differences


def test_disabled_result():
    result = c.disabled_result(ctl("sysctl.a", enabled=False, reason="the node routes"))
    assert result["status"] == "skipped"
    assert result["reason"] == "switched off: the node routes"


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        ([], {"pass": 0, "fixed": 0, "drift": 0, "skipped": 0, "error": 0}),
        (["pass", "pass", "error"], {"pass": 2, "fixed": 0, "drift": 0, "skipped": 0, "error": 1}),
        (["fixed", "drift", "skipped", "error", "pass"], {"pass": 1, "fixed": 1, "drift": 1, "skipped": 1, "error": 1}),
    ],
    ids=["empty", "two-pass-one-error", "one-each"],
)
def test_summarise(statuses, expected):
    results = [c.make_result(ctl(f"sysctl.c{i}"), status, reason="why") for i, status in enumerate(statuses)]
    assert c.summarise(results) == expected


@pytest.mark.parametrize(("check_mode", "expected"), [(True, "drift"), (False, "fixed")], ids=["check", "apply"])
def test_changed_status(check_mode, expected):
    assert c.changed_status(check_mode) == expected


def test_control_argument_spec_merges_domain_options():
    spec = c.control_argument_spec({"load": {"type": "list", "elements": "str", "required": True}})
    assert spec["type"] == "list"
    assert spec["elements"] == "dict"
    assert spec["required"] is True
    assert set(spec["options"]) == {
        "id",
        "title",
        "benchmarks",
        "level",
        "profile",
        "enabled",
        "reason",
        "load",
    }
    assert spec["options"]["enabled"] == {"type": "bool", "default": True}
    assert spec["options"]["load"]["required"] is True


def test_module_result_orders_by_input_and_reports_switched_off_controls():
    on = {"id": "a.on", "title": "on", "enabled": True}
    off = {"id": "b.off", "title": "off", "enabled": False, "reason": "not here"}
    later = {"id": "c.later", "title": "later", "enabled": True}
    results = {
        "c.later": c.make_result(later, c.FIXED, reason="was off"),
        "a.on": c.make_result(on, c.PASS),
    }
    out = c.module_result([on, off, later], results, changed=True, diff=[{"before": "", "after": "x"}], path="/p")
    assert [(r["id"], r["status"]) for r in out["controls"]] == [
        ("a.on", "pass"),
        ("b.off", "skipped"),
        ("c.later", "fixed"),
    ]
    assert out["controls"][1]["reason"] == "switched off: not here"
    assert out["summary"] == {"pass": 1, "fixed": 1, "drift": 0, "skipped": 1, "error": 0}
    assert (out["changed"], out["path"], out["diff"]) == (True, "/p", [{"before": "", "after": "x"}])
