"""The CIS system controls, checked on the node after it rebooted.

What each control wants comes from the role's catalog, the one place it is defined.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

ROLE = Path(__file__).resolve().parents[3] / "roles" / "system"
CATALOG = yaml.safe_load((ROLE / "vars" / "main.yml").read_text(encoding="utf-8"))["system__catalog"]
ON = [c for c in CATALOG if c.get("default", True)]


def family(name: str) -> list[dict]:
    return [c for c in ON if c["family"] == name]


@pytest.mark.parametrize("control", family("kmod_off"), ids=lambda c: c["id"])
def test_kernel_module_cannot_be_loaded(host, control):
    conf = host.file("/etc/modprobe.d/nodeguard-hardening.conf")
    assert (conf.user, conf.group, conf.mode) == ("root", "root", 0o644)
    for name in control["spec"]["modules"]:
        assert f"install {name} /bin/false" in conf.content_string
        assert f"blacklist {name}" in conf.content_string
        # modprobe would run the install command, /bin/false, instead of loading the module.
        plan = host.run(f"modprobe -n -v {name}")
        assert "install /bin/false" in plan.stdout, plan.stdout + plan.stderr
        assert host.run(f"modprobe {name}").rc != 0
        assert not host.file(f"/sys/module/{name.replace('-', '_')}").exists


def test_audit_rules_of_every_rule_control_are_loaded(host):
    loaded = host.check_output("auditctl -l")
    keys = {part.split("=", 1)[1] for line in loaded.splitlines() for part in line.split() if part.startswith("key=")}
    keys |= {line.split()[-1] for line in loaded.splitlines() if line.startswith("-w") and " -k " in line}
    for control in family("auditd"):
        for rule in control["spec"].get("rules") or []:
            # The kernel refuses a watch on a path that is not there (the lab has no
            # /etc/kubernetes): the module leaves such rules out and lists them in its details.
            if rule.startswith("-w ") and not host.file(rule.split()[1]).exists:
                continue
            if " -k " in rule:
                key = rule.rsplit(" -k ", 1)[1].split()[0]
                assert key in keys, f"{control['id']}: no loaded rule has key {key}"


def test_auditd_keeps_the_node_running_when_its_disk_fills(host):
    conf = {
        k.strip(): v.strip()
        for k, _unused, v in (
            line.partition("=") for line in host.file("/etc/audit/auditd.conf").content_string.splitlines()
        )
        if not k.strip().startswith("#") and v
    }
    for key in ("disk_full_action", "disk_error_action", "space_left_action", "admin_space_left_action"):
        assert conf.get(key, "").lower() not in ("halt", "single", "suspend"), f"{key} = {conf.get(key)}"


def test_no_world_writable_file_without_reason(host):
    """CIS 7.1.11: no world-writable regular file, no world-writable directory without the sticky bit."""
    found = host.check_output(
        "find / -xdev \\( -path /proc -o -path /sys -o -path /run -o -path /var/lib/containerd \\) -prune -o "
        "\\( -type f -perm -0002 -o -type d -perm -0002 ! -perm -1000 \\) -print"
    )
    assert found.strip() == ""
