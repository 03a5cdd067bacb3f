"""The CIS system controls, checked on the node after it rebooted.

What each control wants comes from the role's catalog, the one place it is defined (rendered as
the scenario's converge saw it, see catalog.py). The other families: test_system_families.py.
"""

from __future__ import annotations

import pytest
from catalog import controls
from node_state import files

ON = controls()


def family(name: str) -> list[dict]:
    return [c for c in ON if c["family"] == name]


@pytest.fixture(scope="module")
def modprobe_conf(host) -> dict:
    path = "/etc/modprobe.d/nodeguard-hardening.conf"
    found = files(host, [path])[path]
    assert found is not None, f"{path} is missing"
    return found


@pytest.fixture(scope="module")
def kmod(host) -> dict[str, dict[str, str]]:
    """For every module a control switches off: what modprobe would do, whether loading it fails, and
    whether it is loaded, read in one command."""
    names = [name for c in family("kmod_off") for name in c["spec"]["modules"]]
    script = "; ".join(
        f"echo '== {name}'; modprobe -n -v {name} 2>&1; modprobe {name} >/dev/null 2>&1; echo \"rc=$?\"; "
        f"test -e /sys/module/{name.replace('-', '_')} && echo loaded || echo absent"
        for name in names
    )
    found: dict[str, dict[str, str]] = {}
    for block in host.check_output(script).split("== ")[1:]:
        name, _newline, rest = block.partition("\n")
        lines = rest.strip().splitlines()
        found[name] = {"plan": "\n".join(lines[:-2]), "rc": lines[-2], "state": lines[-1]}
    return found


@pytest.mark.parametrize("control", family("kmod_off"), ids=lambda c: c["id"])
def test_kernel_module_cannot_be_loaded(modprobe_conf, kmod, control):
    assert (modprobe_conf["user"], modprobe_conf["group"], modprobe_conf["mode"]) == ("root", "root", 0o644)
    text = modprobe_conf["text"]
    for name in control["spec"]["modules"]:
        assert f"install {name} /bin/false" in text
        assert f"blacklist {name}" in text
        # modprobe would run the install command, /bin/false, instead of loading the module.
        assert "install /bin/false" in kmod[name]["plan"], kmod[name]
        assert kmod[name]["rc"] != "rc=0", kmod[name]
        assert kmod[name]["state"] == "absent", kmod[name]


def test_audit_rules_of_every_rule_control_are_loaded(host):
    loaded = host.check_output("auditctl -l")
    keys = {part.split("=", 1)[1] for line in loaded.splitlines() for part in line.split() if part.startswith("key=")}
    keys |= {line.split()[-1] for line in loaded.splitlines() if line.startswith("-w") and " -k " in line}
    rules = [rule for c in family("auditd") for rule in c["spec"].get("rules") or []]
    watched = [rule.split()[1] for rule in rules if rule.startswith("-w ")]
    present = set(host.check_output("ls -d " + " ".join(watched) + " 2>/dev/null || true").split())
    for control in family("auditd"):
        for rule in control["spec"].get("rules") or []:
            # The kernel refuses a watch on a path that is not there (the lab has no
            # /etc/kubernetes): the module leaves such rules out and lists them in its details.
            if rule.startswith("-w ") and rule.split()[1] not in present:
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
