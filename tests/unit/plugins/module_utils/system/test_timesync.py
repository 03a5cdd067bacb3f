# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest

from ansible_collections.nodeguard.hardening.plugins.module_utils._controls import ControlInputError
from ansible_collections.nodeguard.hardening.plugins.module_utils._system import engine
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.timesync import (
    CHRONY_CONF,
    CHRONY_SOURCES,
    TIMESYNCD_DROPIN,
    Timesync,
)

from .conftest import FakeModule, control
from .system_fakes import FakeSystemd

SERVERS = ["ntp1.example.org", "ntp2.example.org"]
FALLBACK = ["0.debian.pool.ntp.org"]
TIMESYNCD = "systemd-timesyncd.service"
CHRONY = "chrony.service"
DROPIN = (
    "# Time servers of this site, for nodeguard.hardening. This file is replaced on every run:\n"
    "# change the role's variables, not this file.\n"
    "[Time]\nNTP=\nNTP=ntp1.example.org ntp2.example.org\nFallbackNTP=\nFallbackNTP=0.debian.pool.ntp.org\n"
)


def catalog(daemon="systemd-timesyncd"):
    spec = {"daemon": daemon, "servers": SERVERS, "fallback": FALLBACK}
    return [
        control("cis.time.single", "timesync", {**spec, "check": "single"}),
        control(
            "cis.time.timesyncd.servers", "timesync", {**spec, "check": "servers", "applies_to": "systemd-timesyncd"}
        ),
        control(
            "cis.time.timesyncd.running", "timesync", {**spec, "check": "running", "applies_to": "systemd-timesyncd"}
        ),
        control("cis.time.chrony.servers", "timesync", {**spec, "check": "servers", "applies_to": "chrony"}),
        control("cis.time.chrony.user", "timesync", {**spec, "check": "user", "applies_to": "chrony"}),
        control("cis.time.chrony.running", "timesync", {**spec, "check": "running", "applies_to": "chrony"}),
    ]


def run(tree, systemd, controls, *, check_mode=False):
    module = FakeModule(controls, check_mode=check_mode)
    module.commands["systemctl"] = systemd
    return module, engine.run(module, tree.node(module), [Timesync(proc_root=str(tree.base / "proc"))])


def statuses(result):
    return {r["id"]: r["status"] for r in result["controls"]}


def lab():
    """The lab's node: timesyncd installed but masked, no other time daemon."""
    return FakeSystemd({TIMESYNCD: ["masked", "masked", "inactive"]})


def process(tree, pid, comm, uid):
    folder = tree.base / "proc" / str(pid)
    folder.mkdir(parents=True)
    (folder / "comm").write_text(f"{comm}\n")
    (folder / "status").write_text(f"Name:\t{comm}\nUid:\t{uid}\t{uid}\t{uid}\t{uid}\n")


def test_check_mode_on_the_lab_node_reports_and_changes_nothing(tree):
    systemd = lab()
    before = tree.snapshot()
    _unused, result = run(tree, systemd, catalog(), check_mode=True)
    assert statuses(result) == {
        "cis.time.single": "drift",
        "cis.time.timesyncd.servers": "drift",
        "cis.time.timesyncd.running": "drift",
        "cis.time.chrony.servers": "skipped",
        "cis.time.chrony.user": "skipped",
        "cis.time.chrony.running": "skipped",
    }
    assert tree.snapshot() == before and systemd.changes == []
    running = result["controls"][2]
    assert running["differences"] == [
        {"item": TIMESYNCD, "where": "unit", "expected": "enabled", "actual": "masked, inactive"},
        {"item": TIMESYNCD, "where": "live", "expected": "active", "actual": "inactive"},
    ]
    assert result["controls"][1]["differences"] == [
        {"item": TIMESYNCD_DROPIN, "where": TIMESYNCD_DROPIN, "expected": "present", "actual": None}
    ]
    assert "the node's time daemon is systemd-timesyncd" in result["controls"][3]["reason"]


def test_apply_writes_the_drop_in_starts_timesyncd_and_is_idempotent(tree):
    systemd = lab()
    _unused, result = run(tree, systemd, catalog())
    assert set(statuses(result).values()) == {"fixed", "skipped"}
    assert tree.read(TIMESYNCD_DROPIN) == DROPIN
    assert systemd.changes == [["unmask", TIMESYNCD], ["enable", "--now", TIMESYNCD]]
    assert systemd.units[TIMESYNCD] == ["loaded", "enabled", "active"]
    _unused, again = run(tree, systemd, catalog())
    assert set(statuses(again).values()) == {"pass", "skipped"}
    assert again["changed"] is False and systemd.changes[2:] == []


def test_a_running_daemon_is_restarted_after_its_servers_changed(tree):
    systemd = FakeSystemd({TIMESYNCD: ["loaded", "enabled", "active"]})
    run(tree, systemd, catalog()[1:2])
    assert systemd.changes == [["restart", TIMESYNCD]]


def test_line_changed_by_hand_is_named(tree):
    systemd = lab()
    run(tree, systemd, catalog())
    tree.write(TIMESYNCD_DROPIN, DROPIN.replace("ntp2.example.org", "ntp.evil.example"))
    _unused, result = run(tree, systemd, catalog()[1:2], check_mode=True)
    diffs = result["controls"][0]["differences"]
    assert {
        "item": TIMESYNCD_DROPIN,
        "where": f"{TIMESYNCD_DROPIN} line 5",
        "expected": "NTP=ntp1.example.org ntp2.example.org",
        "actual": None,
    } in diffs
    assert result["controls"][0]["actual"]["NTP"] == ["ntp1.example.org", "ntp.evil.example"]


def test_a_later_drop_in_that_adds_servers_cannot_be_fixed_and_is_named(tree):
    systemd = FakeSystemd({TIMESYNCD: ["loaded", "enabled", "active"]})
    tree.write("/etc/systemd/timesyncd.conf", "[Time]\nNTP=old.example.org\n")
    tree.write("/etc/systemd/timesyncd.conf.d/90-local.conf", "[Time]\nNTP=rogue.example.org\n")
    _unused, result = run(tree, systemd, catalog()[1:2])
    control_result = result["controls"][0]
    assert control_result["status"] == "error"
    assert {
        "item": "NTP",
        "where": "/etc/systemd/timesyncd.conf.d/90-local.conf line 2",
        "expected": "ntp1.example.org ntp2.example.org",
        "actual": "ntp1.example.org ntp2.example.org rogue.example.org",
    } in control_result["differences"]
    assert tree.read(TIMESYNCD_DROPIN) is None and systemd.changes == []


def test_the_main_file_is_overridden_by_the_drop_in(tree):
    systemd = FakeSystemd({TIMESYNCD: ["loaded", "enabled", "active"]})
    tree.write("/etc/systemd/timesyncd.conf", "[Time]\nNTP=old.example.org\nFallbackNTP=x.example.org\n")
    _unused, result = run(tree, systemd, catalog()[1:2])
    assert result["controls"][0]["status"] == "fixed"
    assert result["controls"][0]["actual"] == {"NTP": SERVERS, "FallbackNTP": FALLBACK}


def test_chrony_replaces_timesyncd(tree):
    systemd = FakeSystemd({CHRONY: ["loaded", "enabled", "active"], TIMESYNCD: ["loaded", "enabled", "active"]})
    tree.write(
        CHRONY_CONF, "confdir /etc/chrony/conf.d\npool 2.debian.pool.ntp.org iburst\nsourcedir /etc/chrony/sources.d\n"
    )
    tree.write("/etc/passwd", "root:x:0:0::/root:/bin/bash\n_chrony:x:101:101::/var/lib/chrony:/usr/sbin/nologin\n")
    process(tree, 812, "chronyd", 101)
    _unused, result = run(tree, systemd, catalog("chrony"))
    assert statuses(result) == {
        "cis.time.single": "fixed",
        "cis.time.timesyncd.servers": "skipped",
        "cis.time.timesyncd.running": "skipped",
        "cis.time.chrony.servers": "fixed",
        "cis.time.chrony.user": "pass",
        "cis.time.chrony.running": "pass",
    }
    assert systemd.changes == [["restart", CHRONY], ["disable", "--now", TIMESYNCD]]
    assert tree.read(CHRONY_SOURCES).endswith("server ntp1.example.org iburst\nserver ntp2.example.org iburst\n")
    servers = next(r for r in result["controls"] if r["id"] == "cis.time.chrony.servers")
    assert servers["details"]["other time sources chrony uses"] == [
        f"{CHRONY_CONF} line 2: pool 2.debian.pool.ntp.org iburst"
    ]


def test_chrony_that_does_not_read_sources_d_is_an_error(tree):
    systemd = FakeSystemd({CHRONY: ["loaded", "enabled", "active"]})
    tree.write(CHRONY_CONF, "pool 2.debian.pool.ntp.org iburst\n")
    _unused, result = run(tree, systemd, catalog("chrony")[3:4])
    assert result["controls"][0]["status"] == "error"
    assert "add 'sourcedir /etc/chrony/sources.d'" in result["controls"][0]["reason"]
    assert tree.read(CHRONY_SOURCES) is None


@pytest.mark.parametrize(
    ("uid", "config", "status", "item"),
    [
        (101, "", "pass", None),
        (0, "", "error", "chronyd (pid 812)"),
        (101, "user root\n", "error", "user"),
    ],
    ids=["chrony-user", "root", "config-names-root"],
)
def test_chronyd_user(tree, uid, config, status, item):
    systemd = FakeSystemd({CHRONY: ["loaded", "enabled", "active"]})
    tree.write("/etc/passwd", "root:x:0:0::/root:/bin/bash\n_chrony:x:101:101::/var/lib/chrony:/usr/sbin/nologin\n")
    tree.write(CHRONY_CONF, "sourcedir /etc/chrony/sources.d\n" + config)
    process(tree, 812, "chronyd", uid)
    process(tree, 900, "sshd", 0)
    _unused, result = run(tree, systemd, catalog("chrony")[4:5])
    assert result["controls"][0]["status"] == status
    if item:
        assert result["controls"][0]["differences"][0]["item"] == item


def test_daemon_not_installed_is_an_error_naming_the_package(tree):
    systemd = FakeSystemd({})
    _unused, result = run(tree, systemd, catalog("chrony")[5:6])
    assert result["controls"][0]["status"] == "error"
    assert "chrony is not installed" in result["controls"][0]["reason"]
    assert systemd.changes == []


def test_a_failed_start_undoes_the_drop_in(tree):
    systemd = lab()
    systemd.fail = TIMESYNCD
    with pytest.raises(engine.ApplyError, match=r"failed: .*Access denied.*undid 1 earlier"):
        run(tree, systemd, catalog()[1:3])
    assert tree.read(TIMESYNCD_DROPIN) is None


def test_a_failed_restart_puts_the_old_file_back(tree):
    systemd = FakeSystemd({TIMESYNCD: ["loaded", "enabled", "active"]}, fail=TIMESYNCD, fail_verb="restart")
    tree.write(TIMESYNCD_DROPIN, "[Time]\nNTP=old.example.org\n")
    with pytest.raises(engine.ApplyError, match=r"restart systemd-timesyncd.service if it runs failed"):
        run(tree, systemd, catalog()[1:2])
    assert tree.read(TIMESYNCD_DROPIN) == "[Time]\nNTP=old.example.org\n"
    assert systemd.changes[-1] == ["try-restart", TIMESYNCD]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"daemon": "ntpd", "servers": SERVERS, "check": "single"}, "daemon 'ntpd' is not one of"),
        ({"daemon": "chrony", "servers": SERVERS, "check": "fast"}, "check 'fast' is not one of"),
        ({"daemon": "chrony", "servers": ["a b"], "check": "servers"}, "servers must list host names"),
        ({"daemon": "chrony", "servers": ["-x"], "check": "servers"}, "servers must list host names"),
        ({"daemon": "chrony", "servers": [], "check": "servers"}, "at least one time server"),
        ({"daemon": "chrony", "fallback": "x", "check": "single"}, "fallback must list host names"),
        ({"daemon": "chrony", "check": "user", "applies_to": "systemd-timesyncd"}, "check user is about chrony"),
        ({"daemon": "chrony", "check": "single", "pool": "x"}, "unknown spec keys pool"),
        ("chrony", "spec must be a mapping"),
    ],
    ids=["daemon", "check", "space", "option", "no-servers", "fallback", "user", "key", "not-a-dict"],
)
def test_bad_input_fails_before_any_change(tree, spec, message):
    systemd = lab()
    before = tree.snapshot()
    with pytest.raises(ControlInputError, match=message):
        run(tree, systemd, [*catalog(), control("site.bad", "timesync", spec)])
    assert tree.snapshot() == before and systemd.changes == []
