# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest

from ansible_collections.nodeguard.hardening.plugins.module_utils._controls import ControlInputError
from ansible_collections.nodeguard.hardening.plugins.module_utils._system import engine
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.node import Node
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.packages import Packages, PackagesPurge
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.units import Units

from .conftest import FakeModule, control
from .system_fakes import FakeApt, FakeSystemd

TELNET = control("cis.clients.telnet", "packages", {"absent": ["telnet", "inetutils-telnet"]})
AUDITD = control("cis.auditd.packages", "packages", {"present": ["auditd", "audispd-plugins"]})
RPCBIND = control("cis.services.rpcbind", "packages", {"absent": ["rpcbind"]})
AVAHI = control("cis.services.avahi", "packages", {"absent": ["avahi-daemon"]})


def run(apt, controls, *, check_mode=False, families=None, systemd=None):
    module = FakeModule(controls, check_mode=check_mode)
    apt.register(module)
    if systemd is not None:
        module.commands["systemctl"] = systemd
    return module, engine.run(module, Node(module), families or [Packages(), PackagesPurge()])


def statuses(result):
    return [(r["id"], r["status"]) for r in result["controls"]]


def fresh():
    return FakeApt(
        {"telnet": "ii", "inetutils-telnet": "rc", "auditd": "ii", "audispd-plugins": "un"},
        depends={"audispd-plugins": ["libauparse0"]},
    )


def test_check_mode_names_each_package_and_changes_nothing():
    apt = fresh()
    before = dict(apt.states)
    _unused, result = run(apt, [TELNET, AUDITD], check_mode=True)
    assert statuses(result) == [("cis.clients.telnet", "drift"), ("cis.auditd.packages", "drift")]
    assert apt.changes == []
    assert apt.states == before
    telnet, auditd = result["controls"]
    assert telnet["differences"] == [
        {"item": "telnet", "where": "package", "expected": "not installed", "actual": "installed"}
    ]
    assert telnet["details"]["config files left (removed, not purged)"] == ["inetutils-telnet"]
    assert auditd["differences"] == [
        {"item": "audispd-plugins", "where": "package", "expected": "installed", "actual": None}
    ]
    assert auditd["details"]["installed along"] == ["libauparse0"]
    # Installs come first, the purge last.
    assert result["actions"] == ["install audispd-plugins", "purge telnet"]


def test_one_install_and_one_purge_then_nothing_to_do():
    apt = fresh()
    _unused, result = run(apt, [TELNET, AUDITD, AVAHI])
    assert statuses(result) == [
        ("cis.clients.telnet", "fixed"),
        ("cis.auditd.packages", "fixed"),
        ("cis.services.avahi", "pass"),
    ]
    assert [change[0] for change in apt.changes] == ["install", "purge"]
    assert apt.changes[0] == ["install", "audispd-plugins"]
    assert apt.changes[1] == ["purge", "telnet"]
    assert apt.installed("audispd-plugins") and not apt.installed("telnet")
    _unused, again = run(apt, [TELNET, AUDITD, AVAHI])
    assert statuses(again) == [
        ("cis.clients.telnet", "pass"),
        ("cis.auditd.packages", "pass"),
        ("cis.services.avahi", "pass"),
    ]
    assert again["changed"] is False
    assert apt.changes[2:] == []


def test_apt_runs_without_questions():
    apt = fresh()
    module, _unused = run(apt, [AUDITD])
    install = next(call for call in module.calls if "install" in call and "-s" not in call)
    assert install[1:4] == ["install", "-y", "--no-install-recommends"]
    assert "Dpkg::Options::=--force-confold" in install


def test_purge_comes_after_every_other_family_and_a_failure_undoes_the_install():
    apt = fresh()
    systemd = FakeSystemd({"avahi-daemon.service": ["loaded", "enabled", "active"]}, fail="avahi-daemon.service")
    units = control("cis.services.avahi_units", "units", {"masked": ["avahi-daemon.service"]})
    families = [Packages(), Units(), PackagesPurge()]
    with pytest.raises(engine.ApplyError, match=r"mask and stop avahi-daemon.service failed: .*undid 1 earlier"):
        run(apt, [TELNET, AUDITD, units], families=families, systemd=systemd)
    # The purge never ran; the install was undone by purging exactly what it added.
    assert apt.installed("telnet")
    assert not apt.installed("audispd-plugins") and not apt.installed("libauparse0")
    assert apt.changes == [
        ["install", "audispd-plugins"],
        ["purge", "audispd-plugins", "libauparse0"],
    ]


def test_a_purge_that_would_take_a_package_the_node_needs_is_refused():
    apt = FakeApt({"rpcbind": "ii", "nfs-common": "ii"}, rdepends={"rpcbind": ["nfs-common"]})
    _unused, result = run(apt, [RPCBIND])
    assert statuses(result) == [("cis.services.rpcbind", "error")]
    assert "would also remove nfs-common" in result["controls"][0]["reason"]
    assert apt.changes == []


def test_packages_removed_along_are_named():
    apt = FakeApt({"avahi-daemon": "ii", "libnss-mdns": "ii"}, rdepends={"avahi-daemon": ["libnss-mdns"]})
    _unused, result = run(apt, [AVAHI], check_mode=True)
    assert result["controls"][0]["details"]["also removed (they depend on it)"] == ["libnss-mdns"]
    _unused, result = run(apt, [AVAHI])
    assert statuses(result) == [("cis.services.avahi", "fixed")]
    assert not apt.installed("libnss-mdns")


def test_held_package_is_not_purged():
    apt = FakeApt({"telnet": "hi"})
    _unused, result = run(apt, [TELNET])
    assert statuses(result) == [("cis.clients.telnet", "error")]
    assert "apt-mark unhold telnet" in result["controls"][0]["reason"]
    assert apt.changes == []


def test_update_runs_first_only_when_apt_knows_no_version():
    apt = FakeApt({"auditd": "ii", "audispd-plugins": "un"}, candidates=set(), archive={"audispd-plugins"})
    _unused, checked = run(apt, [AUDITD], check_mode=True)
    assert checked["actions"] == ["apt-get update, then install audispd-plugins"]
    _unused, result = run(apt, [AUDITD])
    assert statuses(result) == [("cis.auditd.packages", "fixed")]
    assert [change[0] for change in apt.changes] == ["update", "install"]
    apt2 = fresh()
    run(apt2, [AUDITD])
    assert [change[0] for change in apt2.changes] == ["install"]


def test_an_install_that_would_remove_a_needed_package_is_refused():
    apt = FakeApt({"openssh-server": "ii"}, conflicts={"telnetd-ssl": ["openssh-server"]})
    site = control("site.telnetd", "packages", {"present": ["telnetd-ssl"]})
    _unused, result = run(apt, [site])
    assert statuses(result) == [("site.telnetd", "error")]
    assert "would remove openssh-server" in result["controls"][0]["reason"]
    assert apt.changes == []


def test_partly_installed_package_is_named():
    apt = FakeApt({"auditd": "iU", "audispd-plugins": "ii"})
    _unused, result = run(apt, [AUDITD], check_mode=True)
    assert result["controls"][0]["differences"] == [
        {"item": "auditd", "where": "package", "expected": "installed", "actual": "partly installed (iU)"}
    ]


def test_apt_failure_says_what_apt_said_and_undoes_nothing_it_did_not_do():
    apt = FakeApt({"audispd-plugins": "un", "auditd": "ii"}, fail="install")
    with pytest.raises(engine.ApplyError, match=r"install audispd-plugins failed: .*status 100: .*went wrong"):
        run(apt, [AUDITD])
    assert apt.changes == [["install", "audispd-plugins"]]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"absent": ["openssh-server"]}, "openssh-server is needed by the node"),
        ({"absent": ["containerd.io"]}, "containerd.io is needed"),
        ({"absent": ["kubelet"]}, "kubelet is needed"),
        ({"absent": ["rsync"]}, "rsync is needed"),
        ({"absent": ["linux-image-amd64"]}, "linux-image-amd64 is needed"),
        ({"absent": ["Bad_Name"]}, "'Bad_Name' is not a Debian package name"),
        ({"absent": ["-y"]}, "'-y' is not a Debian package name"),
        ({"absent": ["a"]}, "'a' is not a Debian package name"),
        ({"absent": []}, "spec.absent must list package names"),
        ({"remove": ["telnet"]}, r"spec must be \{present"),
        ({"absent": ["talk"], "present": ["ftp"]}, r"spec must be \{present"),
        ("telnet", r"spec must be \{present"),
        ({"present": ["telnet"]}, "telnet is wanted present here but absent by control 'cis.clients.telnet'"),
    ],
    ids=[
        "ssh",
        "containerd",
        "kubelet",
        "rsync",
        "kernel",
        "case",
        "option",
        "short",
        "empty",
        "key",
        "both",
        "str",
        "clash",
    ],
)
def test_bad_input_fails_before_any_change(spec, message):
    apt = fresh()
    before = dict(apt.states)
    with pytest.raises(ControlInputError, match=message):
        run(apt, [TELNET, AUDITD, control("site.bad", "packages", spec)])
    assert apt.states == before
    assert apt.changes == []
