# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""kube-bench's verdicts on the control plane checks, from a node in a temporary tree."""

from __future__ import annotations

import os

import pytest

from ansible_collections.nodeguard.hardening.plugins.module_utils._controlplane import kubebench
from ansible_collections.nodeguard.hardening.plugins.module_utils._controlplane.manifest import Manifest

from ..system.conftest import FakeModule, Tree
from .conftest import APISERVER, APISERVER_PATH, BENCHMARK, add_process, control_plane

PASS, FAIL, WARN = "PASS", "FAIL", "WARN"
APISERVER_ARGV = Manifest(APISERVER_PATH, APISERVER).command
SCHEDULER_ARGV = ["kube-scheduler", "--bind-address=127.0.0.1", "--kubeconfig=/etc/kubernetes/scheduler.conf"]
CM_ARGV = ["kube-controller-manager", "--bind-address=127.0.0.1", "--use-service-account-credentials=true"]
ETCD_ARGV = ["etcd", "--cert-file=/etc/kubernetes/pki/etcd/server.crt", "--client-cert-auth=true"]
ENCRYPTION = "/etc/kubernetes/enc/encryption.yaml"


@pytest.fixture
def tree(tmp_path) -> Tree:
    return control_plane(Tree(tmp_path))


def run_components(tree: Tree, apiserver=(), scheduler=(), cm=(), etcd=None, skip=()) -> None:
    table = [
        ("kube-apiserver", [*APISERVER_ARGV, *apiserver]),
        ("kube-scheduler", [*SCHEDULER_ARGV, *scheduler]),
        ("kube-controller-manager", [*CM_ARGV, *cm]),
    ]
    if etcd is not None:
        table.append(("etcd", [*ETCD_ARGV, *etcd]))
    for pid, (name, argv) in enumerate(table, start=100):
        if name not in skip:
            add_process(tree, pid, argv)
    add_process(tree, 1, ["/sbin/init"])


def judge(tree: Tree, check: str):
    return kubebench.judge(check, kubebench.View(tree.node(FakeModule([]))))


# --- process checks -----------------------------------------------------------------------------------
PS_CASES = [
    # (check, apiserver flags, scheduler flags, controller manager flags, state)
    ("1.2.15", (), (), (), FAIL),
    ("1.2.15", ("--profiling=false",), (), (), PASS),
    ("1.2.15", ("--profiling=true",), (), (), FAIL),
    ("1.2.1", (), (), (), WARN),
    ("1.2.1", ("--anonymous-auth=false",), (), (), PASS),
    ("1.2.2", (), (), (), PASS),
    ("1.2.2", ("--token-auth-file=/etc/kubernetes/tokens.csv",), (), (), FAIL),
    ("1.2.6", (), (), (), PASS),
    ("1.2.7", (), (), (), PASS),
    ("1.2.8", (), (), (), PASS),
    ("1.2.10", (), (), (), PASS),
    ("1.2.10", ("--enable-admission-plugins=AlwaysAdmit",), (), (), PASS),  # the first occurrence wins
    ("1.2.11", (), (), (), WARN),
    ("1.2.14", (), (), (), PASS),
    ("1.2.16", (), (), (), FAIL),
    ("1.2.17", ("--audit-log-maxage=7",), (), (), FAIL),
    ("1.2.17", ("--audit-log-maxage=30",), (), (), PASS),
    ("1.2.29", ("--tls-cipher-suites=TLS_AES_128_GCM_SHA256,TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",), (), (), PASS),
    ("1.2.29", ("--tls-cipher-suites=TLS_RSA_WITH_AES_128_CBC_SHA",), (), (), WARN),
    ("1.2.30", ("--service-account-extend-token-expiration=false",), (), (), PASS),
    ("3.2.1", (), (), (), WARN),
    ("3.2.1", ("--audit-policy-file=/etc/kubernetes/audit/policy.yaml",), (), (), PASS),
    ("1.3.2", (), (), (), FAIL),
    ("1.3.2", (), (), ("--profiling=false",), PASS),
    ("1.3.3", (), (), (), PASS),
    ("1.3.6", (), (), (), PASS),
    ("1.3.6", (), (), ("--feature-gates=RotateKubeletServerCertificate=false",), FAIL),
    ("1.3.7", (), (), (), PASS),
    ("1.4.1", (), ("--profiling=false",), (), PASS),
    ("1.4.2", (), (), (), PASS),
]


@pytest.mark.parametrize(("check", "api", "sched", "cm", "state"), PS_CASES)
def test_process_checks(tree, check, api, sched, cm, state):
    run_components(tree, api, sched, cm)
    assert judge(tree, check).state == state


@pytest.mark.parametrize("missing", ["kube-apiserver", "kube-scheduler", "kube-controller-manager"])
@pytest.mark.parametrize(("check", "state"), [("1.2.15", FAIL), ("1.2.1", WARN), ("1.4.1", FAIL), ("2.2", FAIL)])
def test_every_process_check_fails_when_a_mandatory_component_does_not_run(tree, missing, check, state):
    flags = ("--profiling=false", "--anonymous-auth=false")
    run_components(tree, flags, ("--profiling=false",), ("--profiling=false",), etcd=(), skip=(missing,))
    verdict = judge(tree, check)
    assert verdict.state == state
    assert f"({missing} not running)" in verdict.actual
    assert judge(tree, "1.1.1").state == PASS  # files are still looked at


def test_etcd_is_optional_and_its_name_matches_the_api_servers_etcd_flags(tree):
    run_components(tree)
    verdict = judge(tree, "2.2")
    assert verdict.state == FAIL
    assert "--etcd-servers=https://127.0.0.1:2379" in verdict.actual
    assert judge(tree, "2.1").state == FAIL


def test_a_process_check_without_any_matching_line_fails(tree):
    add_process(tree, 100, ["kube-apiserver", "--profiling=false"])
    add_process(tree, 101, SCHEDULER_ARGV)
    add_process(tree, 102, CM_ARGV)
    verdict = judge(tree, "2.2")
    assert (verdict.state, verdict.actual) == (FAIL, "the audit failed: no process line holds 'etcd' (exit status 1)")
    assert judge(tree, "2.7").state == WARN


def test_etcd_checks_when_etcd_runs(tree):
    run_components(tree, etcd=("--key-file=/etc/kubernetes/pki/etcd/server.key", "--auto-tls=false"))
    assert [judge(tree, check).state for check in ("2.1", "2.2", "2.3", "2.4", "2.6")] == [PASS, PASS, PASS, FAIL, PASS]


def test_grep_lines_hold_every_process_with_the_name(tree):
    run_components(tree)
    add_process(tree, 300, ["/usr/bin/kubectl", "logs", "kube-apiserver-node1"])
    add_process(tree, 301, ["grep", "kube-apiserver"])
    view = kubebench.View(tree.node(FakeModule([])))
    lines = view.grep("kube-apiserver").splitlines()
    assert len(lines) == 2
    assert lines[1].endswith("/usr/bin/kubectl logs kube-apiserver-node1")


# --- file checks --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("mode", "state"), [(0o600, PASS), (0o400, PASS), (0o000, PASS), (0o644, FAIL), (0o700, FAIL), (0o640, FAIL)]
)
def test_manifest_mode(tree, mode, state):
    os.chmod(tree.file(APISERVER_PATH), mode)
    verdict = judge(tree, "1.1.1")
    assert verdict.state == state
    assert verdict.actual == f"permissions={mode:o}"


def test_manifest_owner(tree):
    assert judge(tree, "1.1.2").state == PASS
    os.chown(tree.file(APISERVER_PATH), 4242, 4243)
    assert judge(tree, "1.1.2")[2:4] == ("'root:root' is present", "4242:4243")
    assert judge(tree, "1.1.2").state == FAIL


def test_a_missing_file_fails_and_the_yml_name_is_looked_at_too(tree):
    assert judge(tree, "1.1.5").state == FAIL
    tree.write("/etc/kubernetes/manifests/kube-scheduler.yml", "x", 0o644)
    assert (judge(tree, "1.1.5").state, judge(tree, "1.1.5").actual) == (FAIL, "permissions=644")
    tree.write("/etc/kubernetes/manifests/kube-scheduler.yaml", "x", 0o600)
    assert judge(tree, "1.1.5").state == PASS


@pytest.mark.parametrize(
    ("files", "state"),
    [
        ({"admin.conf": 0o600, "super-admin.conf": 0o600}, PASS),
        ({"admin.conf": 0o600}, PASS),
        ({"admin.conf": 0o600, "super-admin.conf": 0o644}, FAIL),
        ({"admin.conf": 0o640, "super-admin.conf": 0o600}, FAIL),
        ({}, FAIL),
    ],
)
def test_admin_kubeconfigs_every_line_must_pass(tree, files, state):
    for name, mode in files.items():
        tree.write(f"/etc/kubernetes/{name}", "x", mode)
    verdict = judge(tree, "1.1.13")
    assert verdict.state == state
    assert verdict.actual == "\n".join(f"permissions={mode:o} /etc/kubernetes/{name}" for name, mode in files.items())
    assert judge(tree, "1.1.14").state == (PASS if files else FAIL)


def test_pki_ownership_every_file_and_the_directory(tree):
    assert judge(tree, "1.1.19").state == PASS
    os.chown(tree.file("/etc/kubernetes/pki/etcd/ca.crt"), 4242, 0)
    verdict = judge(tree, "1.1.19")
    assert verdict.state == FAIL
    owners = [line for line in verdict.actual.splitlines() if line != "root:root"]
    assert owners == [f"{kubebench.user_name(4242)}:root"]
    assert len(verdict.actual.splitlines()) == 1 + 1 + len(os.listdir(tree.file("/etc/kubernetes/pki")))


@pytest.mark.parametrize(
    ("check", "path", "mode", "state"),
    [
        ("1.1.20", None, None, PASS),
        ("1.1.20", "/etc/kubernetes/pki/etcd/ca.crt", 0o666, WARN),
        ("1.1.20", "/etc/kubernetes/pki/ca.crt", 0o600, PASS),
        ("1.1.21", None, None, PASS),
        ("1.1.21", "/etc/kubernetes/pki/sa.key", 0o640, WARN),
    ],
)
def test_pki_modes_one_bad_file_is_enough(tree, check, path, mode, state):
    if path:
        os.chmod(tree.file(path), mode)
    assert judge(tree, check).state == state


@pytest.mark.parametrize("check", ["1.1.19", "1.1.20", "1.1.21"])
def test_without_pki_the_audit_fails(tmp_path, check):
    tree = Tree(tmp_path)
    verdict = judge(tree, check)
    assert verdict.state == (FAIL if check == "1.1.19" else WARN)
    assert "stat: missing operand" in verdict.actual


def test_etcd_manifest(tree):
    assert judge(tree, "1.1.7").state == FAIL
    tree.write("/etc/kubernetes/manifests/etcd.yaml", "x", 0o600)
    assert judge(tree, "1.1.7").state == PASS
    assert judge(tree, "1.1.8").state == PASS


# --- 1.1.11: the data directory etcd is started with ---------------------------------------------------
@pytest.mark.parametrize(
    ("flags", "dirs", "state", "actual"),
    [
        (("--data-dir=/var/lib/etcd",), {"/var/lib/etcd": 0o700}, PASS, "permissions=700"),
        (("--data-dir=/var/lib/etcd",), {"/var/lib/etcd": 0o755}, FAIL, "permissions=755"),
        (
            ("--data-dir", "/srv/etcd"),
            {"/srv/etcd": 0o700, "/var/lib/etcd/default.etcd": 0o755},
            PASS,
            "permissions=700",
        ),
        (("--data-dir=/srv/missing",), {"/var/lib/etcd/default.etcd": 0o750}, FAIL, "permissions=750"),
        ((), {"/var/lib/etcd/data.etcd": 0o700}, PASS, "permissions=700"),
        ((), {}, FAIL, "the audit failed: stat: cannot statx '/var/lib/etcd/default.etcd': No such file or directory"),
    ],
)
def test_etcd_data_dir(tree, flags, dirs, state, actual):
    for path, mode in dirs.items():
        tree.file(path).mkdir(parents=True)
        os.chmod(tree.file(path), mode)
    run_components(tree, etcd=flags)
    verdict = judge(tree, "1.1.11")
    assert (verdict.state, verdict.actual) == (state, actual)


def test_etcd_data_dir_the_last_flag_of_a_line_as_kube_benchs_sed_takes_it(tree):
    # sed 's%.*data-dir[= ]\([^ ]*\).*%\1%' is greedy: it prints the last --data-dir of a line.
    for path, mode in {"/var/lib/etcd": 0o755, "/srv/etcd": 0o700}.items():
        tree.file(path).mkdir(parents=True)
        os.chmod(tree.file(path), mode)
    run_components(tree, etcd=("--data-dir=/var/lib/etcd", "--data-dir=/srv/etcd"))
    assert (judge(tree, "1.1.11").state, judge(tree, "1.1.11").actual) == (PASS, "permissions=700")


# --- 1.2.28: the first provider of the encryption configuration ---------------------------------------
def encryption(*providers: str) -> str:
    listed = "".join(f"      - {p}\n" for p in providers)
    head = "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n"
    return f"{head}  - resources:\n      - secrets\n    providers:\n{listed}"


@pytest.mark.parametrize(
    ("flags", "text", "state", "actual"),
    [
        (
            (f"--encryption-provider-config={ENCRYPTION}",),
            encryption("aescbc:", "identity: {}"),
            PASS,
            "provider=aescbc",
        ),
        ((f"--encryption-provider-config={ENCRYPTION}",), encryption("secretbox:"), PASS, "provider=secretbox"),
        ((f"--encryption-provider-config={ENCRYPTION}",), encryption("kms:"), PASS, "provider=kms"),
        (
            (f"--encryption-provider-config={ENCRYPTION}",),
            encryption("identity: {}", "aescbc:"),
            WARN,
            "provider=identity",
        ),
        (("--encryption-provider-config", ENCRYPTION), encryption("aescbc:"), PASS, "provider=aescbc"),
        (("--encryption-provider-config=/etc/kubernetes/enc/missing.yaml",), encryption("aescbc:"), WARN, ""),
        ((), encryption("aescbc:"), WARN, ""),
        ((f"--encryption-provider-config={ENCRYPTION}",), "providers:", WARN, "provider=providers"),
        # grep -A1 prints no line after the file's last one: tail -n1 is the "providers:" line itself.
        (
            (f"--encryption-provider-config={ENCRYPTION}",),
            "providers: [identity]\n",
            WARN,
            "provider=providers\nprovider=identity",
        ),
    ],
)
def test_encryption_provider(tree, flags, text, state, actual):
    tree.write(ENCRYPTION, text, 0o600)
    run_components(tree, flags)
    verdict = judge(tree, "1.2.28")
    assert (verdict.state, verdict.actual) == (state, actual)


def test_encryption_provider_of_the_last_providers_list(tree):
    text = encryption("aescbc:") + "  - resources:\n      - configmaps\n    providers:\n      - identity: {}\n"
    tree.write(ENCRYPTION, text, 0o600)
    run_components(tree, (f"--encryption-provider-config={ENCRYPTION}",))
    assert judge(tree, "1.2.28").state == WARN


# --- manual checks and the verdicts of a control -------------------------------------------------------
@pytest.mark.parametrize("check", kubebench.MANUAL)
def test_manual_checks_warn(tree, check):
    run_components(tree)
    assert judge(tree, check)[1:] == (WARN, "", "Test marked as a manual test", "none")


def test_verdicts_of_a_control_only_for_cis_kubernetes_checks(tree):
    run_components(tree, ("--profiling=false",))
    view = kubebench.View(tree.node(FakeModule([])))
    control = {
        "benchmarks": [
            {"benchmark": BENCHMARK, "section": "1.2.15"},
            {"benchmark": BENCHMARK, "section": "9.9.9"},
            {"benchmark": "CIS Debian Linux 12 Benchmark v1.1.0", "section": "1.1.1"},
            {"benchmark": BENCHMARK, "section": "1.1.1"},
        ]
    }
    found = kubebench.verdicts(view, control)["kube_bench"]
    assert [(v["check"], v["state"]) for v in found] == [("1.2.15", PASS), ("1.1.1", PASS)]
    assert set(found[0]) == {"check", "state", "expected", "actual", "source"}
    assert found[0]["expected"] == "'--profiling' is equal to 'false'"
    assert kubebench.verdicts(view, {"benchmarks": []}) == {}


def test_every_check_has_an_audit_and_the_sections_are_complete():
    sections = set(kubebench.CHECKS)
    expected = {f"1.1.{n}" for n in range(1, 22)} | {f"1.2.{n}" for n in range(1, 31)}
    expected |= {f"1.3.{n}" for n in range(1, 8)} | {"1.4.1", "1.4.2"} | {f"2.{n}" for n in range(1, 8)}
    expected |= {"3.1.1", "3.1.2", "3.1.3", "3.2.1", "3.2.2"}
    assert sections == expected


def test_encryption_provider_config_the_last_flag_of_a_line_as_kube_benchs_sed_takes_it(tree):
    tree.write(ENCRYPTION, encryption("identity: {}"), 0o600)
    tree.write("/etc/kubernetes/enc/strong.yaml", encryption("aescbc:"), 0o600)
    run_components(
        tree,
        (f"--encryption-provider-config={ENCRYPTION}", "--encryption-provider-config=/etc/kubernetes/enc/strong.yaml"),
    )
    assert (judge(tree, "1.2.28").state, judge(tree, "1.2.28").actual) == (PASS, "provider=aescbc")
