"""Every family of system controls, verified on the node after it rebooted, from the rendered catalog.

Each test reads the node with its own tools (findmnt, stat, systemctl, dpkg-query, ss, the
kernel's AppArmor files, AIDE's database), not with the module, so a module that reported
C(pass) wrongly fails here. State is read in a few batched commands (see node_state.py).
"""

from __future__ import annotations

import fnmatch

import pytest
from catalog import controls, spec_for
from node_state import files, packages, units

CONTROLS = controls()


def family(name: str) -> list[dict]:
    return [control for control in CONTROLS if control["family"] == name]


def ids(control: dict) -> str:
    return control["id"]


def mode_ok(actual: int, limit: str) -> bool:
    """Within a CIS limit such as 0640 ("0640 or more restrictive")."""
    return actual & ~int(limit, 8) & 0o7777 == 0


@pytest.fixture(scope="module")
def platform(host) -> list[str]:
    fields = dict(
        line.split("=", 1) for line in host.file("/etc/os-release").content_string.splitlines() if "=" in line
    )
    ident, version = fields["ID"].strip('"'), fields["VERSION_ID"].strip('"').split(".")[0]
    return [f"{ident}-{version}", ident]


@pytest.fixture(scope="module")
def node_files(host, platform) -> dict[str, dict | None]:
    """Every path a control names, read in one command."""
    paths = ["/etc/fstab", "/etc/exim4/update-exim4.conf.conf", "/var/lib/aide/aide.db", "/boot/grub/grub.cfg"]
    for control in CONTROLS:
        spec = spec_for(control, platform) or {}
        if control["family"] == "managed_file":
            paths += [spec["path"]] + ([spec["only_if_exists"]] if spec.get("only_if_exists") else [])
        elif control["family"] == "file_attributes" and "paths" in spec:
            paths += spec["paths"]
        elif control["family"] == "aide":
            paths += spec.get("audit_tools", [])
    return files(host, paths)


@pytest.fixture(scope="module")
def node_units(host) -> dict[str, dict[str, str]]:
    names = [name for c in family("units") for group in c["spec"].values() for name in group]
    return units(host, [*names, "systemd-timesyncd.service", "apparmor.service", "systemd-journald.service"])


@pytest.fixture(scope="module")
def node_packages(host) -> dict[str, str]:
    return packages(host)


@pytest.fixture(scope="module")
def mounts(host) -> dict[str, list[str]]:
    out = host.check_output("findmnt -rn -o TARGET,OPTIONS")
    return {line.split()[0]: line.split()[1].split(",") for line in out.splitlines()}


@pytest.mark.parametrize("control", [c for c in family("mounts") if "options" in c["spec"]], ids=ids)
def test_mount_options_hold_live_and_at_boot(node_files, mounts, control):
    path, options = control["spec"]["path"], control["spec"]["options"]
    if path not in mounts:
        pytest.skip(f"{path} is not a separate mount on this node (the control reports skipped)")
    assert set(options) <= set(mounts[path]), f"{path} is mounted with {mounts[path]}"
    # After the reboot the live options are what fstab (or Debian 13's tmp.mount drop-in) set.
    fstab = [line.split() for line in node_files["/etc/fstab"]["text"].splitlines()]
    entries = [fields for fields in fstab if len(fields) > 3 and fields[1] == path and not fields[0].startswith("#")]
    if entries:
        assert set(options) <= set(entries[-1][3].split(",")), f"/etc/fstab has {entries[-1]}"


@pytest.mark.parametrize("control", family("managed_file"), ids=ids)
def test_managed_file_has_its_content_owner_and_mode(node_files, platform, control):
    spec = spec_for(control, platform)
    if spec.get("only_if_exists") and node_files.get(spec["only_if_exists"]) is None:
        pytest.skip(f"{spec['only_if_exists']} is not installed (the control reports skipped)")
    managed = node_files[spec["path"]]
    assert managed is not None, f"{spec['path']} is missing"
    assert (managed["user"], managed["group"]) == ("root", "root")
    assert managed["mode"] == int(spec.get("mode", "0644"), 8), oct(managed["mode"])
    if "content" in spec:
        wanted = spec["content"] if spec["content"].endswith("\n") else spec["content"] + "\n"
        assert managed["text"] == wanted
    else:
        lines = managed["text"].splitlines()
        if spec.get("section"):
            assert f"[{spec['section']}]" in lines
        for key, value in spec["settings"].items():
            shown = ("yes" if value else "no") if isinstance(value, bool) else str(value)
            assert f"{key}={shown}" in lines, f"{spec['path']} lacks {key}={shown}"


@pytest.mark.parametrize("control", [c for c in family("file_attributes") if "paths" in c["spec"]], ids=ids)
def test_file_modes_and_owners_are_within_the_limits(node_files, control):
    spec = control["spec"]
    found = {path: entry for path, entry in node_files.items() if entry and entry["pattern"] in spec["paths"]}
    if not found:
        assert not spec.get("required"), f"none of {spec['paths']} exists"
        pytest.skip(f"none of {spec['paths']} exists on this node (the control passes with a detail)")
    for path, entry in found.items():
        if entry["link"]:
            continue
        assert mode_ok(entry["mode"], spec["mode"]), f"{path} has {entry['mode']:04o}, at most {spec['mode']}"
        if spec.get("owner"):
            assert entry["user"] == spec["owner"], f"{path} belongs to {entry['user']}"
        if spec.get("group"):
            allowed = {spec["group"], *(spec.get("allowed_groups") or [])}
            assert entry["group"] in allowed, f"{path} has group {entry['group']}"


@pytest.mark.parametrize("control", [c for c in family("file_attributes") if "tree" in c["spec"]], ids=ids)
def test_files_of_a_tree_follow_their_rules(host, control):
    spec = control["spec"]
    listing = host.check_output(f"find {spec['tree']} -xdev -type f -printf '%p %m\\n'")
    excluded = tuple(spec.get("exclude") or [])
    for line in listing.splitlines():
        path, mode = line.rsplit(" ", 1)
        if excluded and path.startswith(excluded):
            continue
        name = path.rsplit("/", 1)[1]
        rule = next((r for r in spec["rules"] if any(fnmatch.fnmatch(name, glob) for glob in r["names"])), None)
        if rule is not None:
            assert mode_ok(int(mode, 8), rule["mode"]), f"{path} has {mode}, at most {rule['mode']}"


@pytest.mark.parametrize("control", family("units"), ids=ids)
def test_units_are_in_the_wanted_state(node_units, control):
    spec = control["spec"]
    for name in spec.get("masked", []):
        state = node_units[name]
        assert state["LoadState"] in ("masked", "not-found"), f"{name}: {state}"
        assert state["ActiveState"] != "active", f"{name}: {state}"
    for name in spec.get("enabled", []):
        assert node_units[name]["UnitFileState"] in ("enabled", "static", "alias"), f"{name}: {node_units[name]}"
    for name in spec.get("active", []):
        assert node_units[name]["ActiveState"] == "active", f"{name}: {node_units[name]}"


@pytest.mark.parametrize("control", family("packages"), ids=ids)
def test_packages_are_present_or_absent(node_packages, platform, control):
    spec = spec_for(control, platform)
    for name in spec.get("present", []):
        assert node_packages.get(name) == "ii", f"{name} is not installed ({node_packages.get(name)})"
    for name in spec.get("absent", []):
        assert node_packages.get(name, "un") != "ii", f"{name} is installed"


def test_one_time_daemon_runs_with_the_site_servers(host, node_units, node_packages):
    spec = next(c["spec"] for c in family("timesync"))
    assert spec["daemon"] == "systemd-timesyncd", "the scenario uses the default daemon"
    assert node_units["systemd-timesyncd.service"]["ActiveState"] == "active"
    assert node_packages.get("chrony", "un") != "ii" and node_packages.get("ntp", "un") != "ii"
    # What timesyncd itself parsed from every configuration file and drop-in.
    # Asked again for up to 20 s: right after boot timesyncd may not have answered on D-Bus yet.
    servers = host.check_output(
        "for i in $(seq 10); do v=$(timedatectl show-timesync -p SystemNTPServers --value 2>/dev/null); "
        '[ -n "$v" ] && break; sleep 2; done; echo "$v"'
    )
    if not servers.strip():
        # timesyncd gave no answer on D-Bus: the last NTP= of its configuration as systemd merges it.
        merged = host.check_output("systemd-analyze cat-config systemd/timesyncd.conf")
        lines = [line.split("=", 1)[1] for line in merged.splitlines() if line.startswith("NTP=")]
        servers = lines[-1] if lines else ""
    assert servers.split() == spec["servers"]


def test_apparmor_is_in_force(host, node_units):
    spec = family("apparmor")[0]["spec"]
    state = host.check_output(
        "cat /sys/module/apparmor/parameters/enabled; echo ---; cat /sys/kernel/security/apparmor/profiles"
    )
    enabled, _sep, profiles = state.partition("---")
    assert enabled.strip() == "Y"
    assert node_units["apparmor.service"]["UnitFileState"] == "enabled"
    modes = {line.rpartition(" ")[0]: line.rpartition(" ")[2].strip("()") for line in profiles.strip().splitlines()}
    assert modes, "no AppArmor profile is loaded"
    # AppArmor 4 ships profiles in unconfined mode that only grant user namespaces (Debian 13);
    # the control lists them and does not count them. Every other profile is in an allowed mode.
    assert {name: mode for name, mode in modes.items() if mode not in spec["modes"] and mode != "unconfined"} == {}


def test_mta_listens_on_loopback_only(host, node_files):
    spec = family("mta")[0]["spec"]
    ports = " or ".join(f"sport = :{port}" for port in spec["ports"])
    listening = host.check_output(f"ss -Hltn '( {ports} )'").splitlines()
    assert listening, "exim4 listens on loopback in the lab; nothing listens at all"
    for line in listening:
        address = line.split()[3].rsplit(":", 1)[0].strip("[]")
        assert address in ("127.0.0.1", "::1"), line
    conf = node_files["/etc/exim4/update-exim4.conf.conf"]["text"]
    assert "dc_local_interfaces='127.0.0.1 ; ::1'" in conf.splitlines()


@pytest.fixture(scope="module")
def aide_database(host) -> dict[str, str]:
    """Path -> the rest of its line, for every entry of AIDE's database."""
    if not family("aide"):
        pytest.skip("the AIDE controls are off in this scenario")
    out = host.check_output("zcat /var/lib/aide/aide.db | grep '^/'")
    return {line.split(" ", 1)[0]: line for line in out.splitlines()}


@pytest.mark.parametrize("control", family("aide"), ids=ids)
def test_aide_rules_are_in_its_database(node_files, aide_database, control):
    spec = control["spec"]
    database = node_files["/var/lib/aide/aide.db"]
    assert database and database["user"] == "root" and database["mode"] & 0o077 == 0
    if "exclude" in spec:
        for path in spec["exclude"]:
            assert not [entry for entry in aide_database if entry == path or entry.startswith(path + "/")], path
        # What AIDE must keep watching on a node: the runtime's program and the system's files.
        for path in ("/usr/bin/containerd", "/etc/passwd", "/usr/sbin/sshd"):
            assert path in aide_database, path
    else:
        for path in spec["audit_tools"]:
            if node_files.get(path) is None:
                continue  # not every release's auditd ships every tool (Debian 13 has no autrace)
            assert path in aide_database, path


def test_aide_check_reads_the_database(host, aide_database):
    """AIDE reads its rules and database: exit codes 0 to 7 report changes, 14 and above errors."""
    check = host.run("aide --config=/etc/aide/aide.conf --check --limit=/etc/aide")
    assert check.rc < 14, check.stdout[-2000:] + check.stderr[-2000:]


def test_no_unowned_file_on_local_filesystems(host):
    """CIS 7.1.12, read with find rather than the module's walk."""
    found = host.check_output(
        "find / -xdev \\( -path /proc -o -path /sys -o -path /run -o -path /var/lib/containerd \\) -prune -o "
        "\\( -nouser -o -nogroup \\) -print"
    )
    assert found.strip() == ""


def test_bootloader_controls_apply_nowhere_here(node_files):
    """The lab boots its kernel directly (no GRUB), which is why the bootloader controls report skipped."""
    if not family("bootloader"):
        pytest.skip("the bootloader controls are off")
    assert node_files["/boot/grub/grub.cfg"] is None
