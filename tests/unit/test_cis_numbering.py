"""Every CIS Debian 12 item a catalog names exists in the benchmark, with the level the catalog gives it.

The reference list (tests/data/cis_debian_linux_12_v1.1.0.yml) holds the 310 rules of CIS Debian
Linux 12 v1.1.0 as public remediation projects number them.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))

import controls_table  # noqa: E402

REFERENCE = yaml.safe_load((ROOT / "tests" / "data" / "cis_debian_linux_12_v1.1.0.yml").read_text(encoding="utf-8"))
RULES = {rule["id"]: rule for rule in REFERENCE["rules"]}
CIS_ITEMS = [
    (control, item)
    for controls in controls_table.role_catalogs().values()
    for control in controls
    for item in control.get("benchmarks") or []
    if item["benchmark"] == REFERENCE["benchmark"]
]


def test_reference_has_every_rule():
    assert len(RULES) == len(REFERENCE["rules"]) == 310


def test_catalogs_name_cis_items():
    assert len(CIS_ITEMS) >= 10


@pytest.mark.parametrize(("control", "item"), CIS_ITEMS, ids=[f"{c['id']}-{i['section']}" for c, i in CIS_ITEMS])
def test_cis_item_exists_with_its_level(control, item):
    rule = RULES.get(item["section"])
    assert rule is not None, f"{control['id']}: {item['section']} is not an item of {REFERENCE['benchmark']}"
    assert control.get("level") == rule["level"], (
        f"{control['id']}: {item['section']} ({rule['title']}) is Level {rule['level']}, "
        f"the catalog says {control.get('level')}"
    )


ACCESS = controls_table.role_catalogs()["access"]


def test_every_access_control_names_an_item_of_sections_5_or_7_2():
    for control in ACCESS:
        sections = [item["section"] for item in control.get("benchmarks") or []]
        assert sections, f"{control['id']} names no benchmark item"
        assert all(s.startswith(("5.", "7.2.")) for s in sections), (control["id"], sections)


@pytest.mark.parametrize("control", [c for c in ACCESS if c.get("level") == 2], ids=lambda c: c["id"])
def test_access_level_2_controls_are_off_by_default_with_a_reason(control):
    assert control.get("default") is False
    assert control.get("default_reason", "").strip()


def test_password_for_escalation_is_off_for_ansible():
    [control] = [c for c in ACCESS if any(i["section"] == "5.2.4" for i in c["benchmarks"])]
    assert control["default"] is False
    assert "nodes managed by Ansible escalate with NOPASSWD" in control["default_reason"]


KUBELET = controls_table.role_catalogs()["kubelet"]


def test_every_kube_bench_node_check_is_one_kubelet_control():
    """Each CIS Kubernetes 1.12 node check (4.1.1 to 4.3.1) is implemented by exactly one control."""
    from ansible_collections.nodeguard.hardening.plugins.module_utils._kubelet import kubebench  # noqa: PLC0415

    sections = sorted(item["section"] for control in KUBELET for item in control.get("benchmarks") or [])
    assert sections == sorted(kubebench.CHECKS)
    assert len(sections) == 25


CONTROLPLANE = controls_table.role_catalogs()["controlplane"]


def test_every_kube_bench_control_plane_check_with_a_test_is_a_controlplane_control():
    """Each CIS Kubernetes 1.12 check of sections 1 to 3 that kube-bench tests is implemented by a
    control, and every section a control names is one of kube-bench's checks."""
    from ansible_collections.nodeguard.hardening.plugins.module_utils._controlplane import kubebench  # noqa: PLC0415

    named = {item["section"] for control in CONTROLPLANE for item in control.get("benchmarks") or []}
    tested = {cid for cid, check in kubebench.CHECKS.items() if check.get("type") != "manual"}
    assert named <= set(kubebench.CHECKS), sorted(named - set(kubebench.CHECKS))
    assert tested <= named, sorted(tested - named)
    assert set(kubebench.MANUAL) - named == {"1.2.20", "3.1.1", "3.1.2", "3.1.3"}


def test_controlplane_catalog_names_the_benchmark_once_per_control_plane_section():
    assert all(c["id"].startswith(("cis.", "k8s.")) for c in CONTROLPLANE)
    assert len({c["id"] for c in CONTROLPLANE}) == len(CONTROLPLANE)


def test_controlplane_levels_are_the_benchmarks():
    """Level 2 items of sections 1 to 3: 1.3.6, 2.7, 3.1.1 and 3.2.2 (3.1.1 has no control)."""
    levels = {item["section"]: control["level"] for control in CONTROLPLANE for item in control.get("benchmarks") or []}
    assert {section for section, level in levels.items() if level == 2} == {"1.3.6", "2.7", "3.2.2"}
    assert set(levels.values()) == {1, 2}
