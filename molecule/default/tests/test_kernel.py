"""The hardened kernel state, checked on the node after it rebooted.

Expected values come from the role's control catalog, the one place they are defined.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

CATALOG = yaml.safe_load(
    (Path(__file__).resolve().parents[3] / "roles" / "kernel" / "vars" / "main.yml").read_text(encoding="utf-8")
)
SYSCTL_CONTROLS = [c for c in CATALOG["kernel__sysctl_catalog"] if c.get("default", True)]
MODULE_CONTROLS = [c for c in CATALOG["kernel__module_catalog"] if c.get("default", True)]
EXPECTED = {key: str(value) for c in SYSCTL_CONTROLS for key, value in c["sysctl"].items()}
DROP_IN = "/etc/sysctl.d/zz-nodeguard-hardening.conf"
MODULES_LOAD = "/etc/modules-load.d/nodeguard-hardening.conf"


@pytest.fixture(scope="module")
def live(host) -> dict[str, str]:
    """Every expected key's live value, read in one command."""
    out = host.check_output("sysctl -e " + " ".join(sorted(EXPECTED)))
    values = {}
    for line in out.splitlines():
        key, sep, value = line.partition(" = ")
        if sep:
            values[key.strip()] = " ".join(value.split())
    return values


def test_node_rebooted_after_hardening(host):
    before = host.file("/var/tmp/nodeguard-boot-id-before-reboot")
    assert before.exists, "side_effect did not record the boot id before its reboot"
    assert before.content_string.strip() != host.file("/proc/sys/kernel/random/boot_id").content_string.strip()


@pytest.mark.parametrize("control", SYSCTL_CONTROLS, ids=lambda c: c["id"])
def test_live_values_after_boot(live, control):
    for key, value in control["sysctl"].items():
        assert live.get(key) == str(value), f"{control['id']}: {key} is {live.get(key)!r}, expected {value!r}"


def test_drop_in_file(host):
    conf = host.file(DROP_IN)
    assert conf.is_file
    assert (conf.user, conf.group, conf.mode) == ("root", "root", 0o644)
    lines = {line.strip() for line in conf.content_string.splitlines()}
    for key, value in EXPECTED.items():
        assert f"{key} = {value}" in lines


def test_boot_applied_the_file_without_errors(host):
    shown = host.check_output("systemctl show -p ActiveState -p Result systemd-sysctl")
    state = dict(line.split("=", 1) for line in shown.split())
    assert state == {"ActiveState": "active", "Result": "success"}, f"systemd-sysctl at boot: {state}"
    journal = host.check_output("journalctl -b -u systemd-sysctl --no-pager -o cat")
    assert "Couldn't" not in journal and "nodeguard" not in journal, journal


@pytest.mark.parametrize("control", MODULE_CONTROLS, ids=lambda c: c["id"])
def test_modules_loaded_at_boot(host, control):
    loaded = host.check_output("cat /proc/modules")
    names = {line.split()[0] for line in loaded.splitlines()}
    listed = {line.strip() for line in host.file(MODULES_LOAD).content_string.splitlines()}
    for name in control["load"]:
        assert name in names, f"{name} is not loaded after boot"
        assert name in listed, f"{name} is not listed in {MODULES_LOAD}"


def test_private_network_reaches_every_node(host):
    """Lab node i has 10.77.0.(10+i) on the shared switch; every node reaches every other."""
    names = host.ansible.get_variables()["groups"]["all"]
    assert len(names) >= 2, "the scenario needs two nodes to test the private network"
    for name in names:
        address = f"10.77.0.{10 + int(name.removeprefix('node'))}"
        assert host.run(f"ping -c 1 -W 3 {address}").rc == 0, f"{address} ({name}) does not answer"


def test_forwarding_stays_on_for_pods(live):
    """The Kubernetes exception to CIS 3.3.1: pods are routed through the node."""
    assert live["net.ipv4.ip_forward"] == "1"
    assert live["net.bridge.bridge-nf-call-iptables"] == "1"
