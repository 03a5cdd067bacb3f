# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest

from ansible_collections.nodeguard.hardening.plugins.module_utils._controls import ControlInputError
from ansible_collections.nodeguard.hardening.plugins.module_utils._system import engine
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.node import Node
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.units import Units

from .conftest import FakeModule, control
from .system_fakes import FakeSystemd

AVAHI = control("cis.services.avahi", "units", {"masked": ["avahi-daemon.service", "avahi-daemon.socket"]})
RSYNC = control("cis.services.rsync", "units", {"masked": ["rsync.service"]})
AUDITD = control("cis.auditd.service", "units", {"enabled": ["auditd.service"], "active": ["auditd.service"]})


def fresh():
    return FakeSystemd(
        {
            "avahi-daemon.service": ["loaded", "enabled", "active"],
            "avahi-daemon.socket": ["loaded", "enabled", "active"],
            "auditd.service": ["loaded", "disabled", "inactive"],
        }
    )


def run(systemd, controls, *, check_mode=False):
    module = FakeModule(controls, check_mode=check_mode)
    module.commands["systemctl"] = systemd
    return module, engine.run(module, Node(module), [Units()])


def statuses(result):
    return [(r["id"], r["status"]) for r in result["controls"]]


def test_check_mode_reports_each_unit_and_changes_nothing():
    systemd = fresh()
    before = systemd.snapshot()
    module, result = run(systemd, [AVAHI, RSYNC, AUDITD], check_mode=True)
    assert statuses(result) == [
        ("cis.services.avahi", "drift"),
        ("cis.services.rsync", "pass"),
        ("cis.auditd.service", "drift"),
    ]
    assert systemd.changes == [] and systemd.units == before
    # One systemctl show for every unit of every control.
    assert [call[1] for call in module.calls] == ["show"]
    assert result["controls"][0]["differences"][:2] == [
        {"item": "avahi-daemon.service", "where": "unit", "expected": "masked", "actual": "enabled, active"},
        {"item": "avahi-daemon.service", "where": "live", "expected": "inactive", "actual": "active"},
    ]
    assert result["controls"][2]["differences"] == [
        {"item": "auditd.service", "where": "unit", "expected": "enabled", "actual": "disabled, inactive"},
        {"item": "auditd.service", "where": "live", "expected": "active", "actual": "inactive"},
    ]
    assert result["controls"][1]["actual"] == {"rsync.service": "not installed"}
    assert result["controls"][1]["details"] == {
        "not installed (CIS accepts a service whose package is absent)": ["rsync.service"]
    }


def test_apply_masks_and_starts_then_nothing_to_do():
    systemd = fresh()
    _unused, result = run(systemd, [AVAHI, AUDITD])
    assert statuses(result) == [("cis.services.avahi", "fixed"), ("cis.auditd.service", "fixed")]
    assert systemd.changes == [
        ["mask", "--now", "avahi-daemon.service"],
        ["mask", "--now", "avahi-daemon.socket"],
        ["enable", "--now", "auditd.service"],
    ]
    assert systemd.units["auditd.service"] == ["loaded", "enabled", "active"]
    _unused, again = run(systemd, [AVAHI, AUDITD])
    assert statuses(again) == [("cis.services.avahi", "pass"), ("cis.auditd.service", "pass")]
    assert again["changed"] is False
    assert systemd.changes[3:] == []


def test_unit_unmasked_by_hand_is_named():
    systemd = fresh()
    run(systemd, [AVAHI])
    systemd.units["avahi-daemon.socket"] = ["loaded", "enabled", "inactive"]
    _unused, result = run(systemd, [AVAHI], check_mode=True)
    assert result["controls"][0]["differences"] == [
        {"item": "avahi-daemon.socket", "where": "unit", "expected": "masked", "actual": "enabled, inactive"}
    ]


@pytest.mark.parametrize(
    ("spec", "state", "steps"),
    [
        (
            {"enabled": ["x.service"], "active": ["x.service"]},
            ["masked", "masked", "inactive"],
            [["unmask"], ["enable", "--now"]],
        ),
        ({"enabled": ["x.service"]}, ["masked", "masked", "inactive"], [["unmask"], ["enable"]]),
        ({"active": ["x.service"]}, ["loaded", "static", "inactive"], [["start"]]),
        ({"enabled": ["x.service"]}, ["loaded", "disabled", "active"], [["enable"]]),
        ({"enabled": ["x.service"], "active": ["x.service"]}, ["loaded", "static", "active"], []),
    ],
    ids=["masked-both", "masked-enable", "start-static", "enable-running", "static-running"],
)
def test_steps_for_units_that_must_run(spec, state, steps):
    systemd = FakeSystemd({"x.service": state})
    _unused, result = run(systemd, [control("site.x", "units", spec)])
    assert [change[:-1] for change in systemd.changes] == steps
    assert statuses(result) == [("site.x", "fixed" if steps else "pass")]


def test_unit_that_must_run_but_is_not_installed_is_an_error():
    systemd = FakeSystemd({})
    _unused, result = run(systemd, [AUDITD])
    assert statuses(result) == [("cis.auditd.service", "error")]
    assert "auditd.service is not installed" in result["controls"][0]["reason"]
    assert systemd.changes == []


def test_failure_undoes_earlier_units():
    systemd = fresh()
    systemd.fail = "avahi-daemon.socket"
    before = systemd.snapshot()
    with pytest.raises(engine.ApplyError, match=r"mask and stop avahi-daemon.socket failed: .*Access denied"):
        run(systemd, [AUDITD, AVAHI])
    assert systemd.units == before
    assert systemd.changes == [
        ["enable", "--now", "auditd.service"],
        ["mask", "--now", "avahi-daemon.service"],
        ["mask", "--now", "avahi-daemon.socket"],
        ["unmask", "avahi-daemon.service"],
        ["enable", "avahi-daemon.service"],
        ["start", "avahi-daemon.service"],
        ["stop", "auditd.service"],
        ["disable", "auditd.service"],
    ]


def test_masked_unit_started_and_later_failure_masks_it_again():
    systemd = FakeSystemd(
        {"systemd-timesyncd.service": ["masked", "masked", "inactive"], "b.service": ["loaded", "enabled", "active"]},
        fail="b.service",
    )
    time = control(
        "site.time", "units", {"enabled": ["systemd-timesyncd.service"], "active": ["systemd-timesyncd.service"]}
    )
    with pytest.raises(engine.ApplyError):
        run(systemd, [time, control("site.b", "units", {"masked": ["b.service"]})])
    assert systemd.units["systemd-timesyncd.service"] == ["masked", "masked", "inactive"]


def test_a_failed_enable_masks_the_unit_again():
    systemd = FakeSystemd({"x.service": ["masked", "masked", "inactive"]}, fail="x.service", fail_verb="enable")
    spec = {"enabled": ["x.service"], "active": ["x.service"]}
    with pytest.raises(engine.ApplyError, match=r"unmask, enable and start x.service failed"):
        run(systemd, [control("site.x", "units", spec)])
    assert systemd.units["x.service"] == ["masked", "masked", "inactive"]
    assert systemd.changes == [["unmask", "x.service"], ["enable", "--now", "x.service"], ["mask", "x.service"]]


def test_unreadable_units_are_an_error_not_a_crash():
    module = FakeModule([AVAHI])
    module.commands["systemctl"] = lambda argv: (1, "", "System has not been booted with systemd")
    result = engine.run(module, Node(module), [Units()])
    assert statuses(result) == [("cis.services.avahi", "error")]
    assert "not been booted with systemd" in result["controls"][0]["reason"]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"masked": ["ssh.service"]}, "ssh.service is needed by the node"),
        ({"masked": ["containerd.service"]}, "containerd.service is needed"),
        ({"masked": ["kubelet.service"]}, "kubelet.service is needed"),
        ({"masked": ["systemd-journald.service"]}, "systemd-journald.service is needed"),
        ({"masked": ["multi-user.target"]}, "multi-user.target is needed"),
        ({"masked": ["avahi"]}, "'avahi' is not a unit name"),
        ({"masked": ["--now.service"]}, "'--now.service' is not a unit name"),
        ({"masked": ["a b.service"]}, "is not a unit name"),
        ({"masked": []}, "spec.masked must list unit names"),
        ({"running": ["auditd.service"]}, r"spec must be \{masked"),
        ({"masked": ["x.service"], "active": ["y.service"]}, "cannot also want units running"),
        ({"enabled": ["avahi-daemon.service"]}, "avahi-daemon.service is wanted running here but masked by control"),
    ],
    ids=[
        "ssh",
        "containerd",
        "kubelet",
        "systemd",
        "target",
        "no-suffix",
        "option",
        "space",
        "empty",
        "key",
        "mixed",
        "clash",
    ],
)
def test_bad_input_fails_before_any_change(spec, message):
    systemd = fresh()
    before = systemd.snapshot()
    with pytest.raises(ControlInputError, match=message):
        run(systemd, [AVAHI, AUDITD, control("site.bad", "units", spec)])
    assert systemd.units == before
    assert systemd.changes == []
