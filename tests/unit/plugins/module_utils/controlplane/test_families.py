# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The control plane families through the engine, on a kubeadm node in a temporary tree.

No component runs (no /proc entries), so manifests are written without waiting; the waiting
itself is test_static_pod's. useradd and groupadd are scripted and write the tree's files.
"""

from __future__ import annotations

import base64
import json
import os

import pytest
import yaml

from ansible_collections.nodeguard.hardening.plugins.module_utils._controlplane import families, kubebench, static_pod
from ansible_collections.nodeguard.hardening.plugins.module_utils._controlplane.manifest import Manifest, edit
from ansible_collections.nodeguard.hardening.plugins.module_utils._controls import ControlInputError
from ansible_collections.nodeguard.hardening.plugins.module_utils._system import engine

from ..system.conftest import FakeModule, Tree, control
from .conftest import APISERVER, APISERVER_PATH, BACKUPS, MANIFESTS, add_process, control_plane

AUDIT_POLICY = "/etc/kubernetes/audit/policy.yaml"
ENCRYPTION = "/etc/kubernetes/enc/encryption.yaml"
POLICY_TEXT = "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n  - level: Metadata\n"
ONLY = {"only_if_exists": APISERVER_PATH}

PROFILING = control(
    "cis.apiserver.profiling", "controlplane_flags", {"component": "kube-apiserver", "set": {"profiling": False}}
)
AUDIT_FLAGS = control(
    "cis.apiserver.audit_policy_file",
    "controlplane_flags",
    {
        "component": "kube-apiserver",
        "set": {"audit-policy-file": AUDIT_POLICY},
        "mounts": [{"name": "audit-policy", "path": "/etc/kubernetes/audit", "type": "DirectoryOrCreate"}],
    },
)
AUDIT_CONFIG = control(
    "k8s.apiserver.audit_policy",
    "controlplane_config",
    {"path": AUDIT_POLICY, "content": POLICY_TEXT, "mode": "0600", **ONLY},
)
ENCRYPT = control(
    "cis.apiserver.encryption_providers",
    "controlplane_encryption",
    {"path": ENCRYPTION, "provider": "aescbc", "resources": ["secrets"], "mode": "0600", **ONLY},
)
ENCRYPT_FLAG = control(
    "cis.apiserver.encryption_provider_config",
    "controlplane_flags",
    {
        "component": "kube-apiserver",
        "set": {"encryption-provider-config": ENCRYPTION},
        "mounts": [{"name": "encryption-config", "path": "/etc/kubernetes/enc", "type": "DirectoryOrCreate"}],
    },
)
ACCOUNT = control(
    "cis.controlplane.etcd_account",
    "controlplane_account",
    {"user": "etcd", "group": "etcd", "home": "/var/lib/etcd", **ONLY},
)
MANIFESTS_ONLY = control("cis.controlplane.manifests_dir", "controlplane_manifests", {})
MANIFEST_MODE = control(
    "cis.controlplane.apiserver_manifest_mode",
    "controlplane_files",
    {"paths": [APISERVER_PATH], "mode": "0600", **ONLY},
)


@pytest.fixture
def tree(tmp_path) -> Tree:
    return control_plane(Tree(tmp_path), mode=0o644)


def scripted(module: FakeModule, tree: Tree) -> None:
    """groupadd and useradd that add their line to the tree's /etc/group and /etc/passwd."""

    def add(path: str, entry: str):
        def handler(argv):
            with open(tree.file(path), "a", encoding="utf-8") as handle:
                handle.write(entry.format(name=argv[-1]))
            return 0, "", ""

        return handler

    module.commands["groupadd"] = add("/etc/group", "{name}:x:998:\n")
    module.commands["useradd"] = add("/etc/passwd", "{name}:x:998:998::/var/lib/etcd:/usr/sbin/nologin\n")


def run(tree: Tree, controls: list[dict], *, check_mode: bool = False, options: static_pod.Options | None = None):
    module = FakeModule(controls, check_mode=check_mode)
    scripted(module, tree)
    result = engine.run(module, tree.node(module), families.build(options or static_pod.Options()))
    return module, result


def statuses(result) -> list[tuple[str, str]]:
    return [(entry["id"], entry["status"]) for entry in result["controls"]]


def flags(tree: Tree) -> dict[str, str]:
    return Manifest(APISERVER_PATH, tree.read(APISERVER_PATH)).flags()


ALL = [ACCOUNT, AUDIT_CONFIG, ENCRYPT, PROFILING, AUDIT_FLAGS, ENCRYPT_FLAG, MANIFEST_MODE, MANIFESTS_ONLY]


# --- a whole run ----------------------------------------------------------------------------------------
def test_check_mode_predicts_every_change_and_touches_nothing(tree):
    tree.write(f"{MANIFESTS}/kube-apiserver.yaml.bak", APISERVER, 0o600)
    before = tree.snapshot()
    module, result = run(tree, ALL, check_mode=True)
    assert statuses(result) == [(c["id"], "drift") for c in ALL]
    assert result["changed"] is True
    assert result["actions"] == [
        "groupadd --system etcd",
        "useradd --system --gid etcd --home-dir /var/lib/etcd --no-create-home --shell /usr/sbin/nologin "
        "--comment etcd (control plane) etcd",
        f"write {AUDIT_POLICY}",
        f"write {ENCRYPTION} with aescbc first (a new key)",
        f"write {APISERVER_PATH} (kube-apiserver is not running: not waited for)",
        f"set {APISERVER_PATH} to 0600 0:0",
        f"move {MANIFESTS}/kube-apiserver.yaml.bak to {BACKUPS}/moved/kube-apiserver.yaml.bak",
    ]
    assert tree.snapshot() == before
    assert module.calls == []


def test_apply_fixes_and_a_second_run_passes_without_actions(tree):
    _module, result = run(tree, ALL)
    assert statuses(result) == [(c["id"], "fixed") for c in ALL[:-1]] + [(MANIFESTS_ONLY["id"], "pass")]
    after = flags(tree)
    assert after["profiling"] == "false"
    assert after["audit-policy-file"] == AUDIT_POLICY
    assert after["encryption-provider-config"] == ENCRYPTION
    manifest = Manifest(APISERVER_PATH, tree.read(APISERVER_PATH))
    assert manifest.host_path(AUDIT_POLICY) == AUDIT_POLICY
    assert manifest.host_path(ENCRYPTION) == ENCRYPTION
    assert tree.file(APISERVER_PATH).stat().st_mode & 0o777 == 0o600
    assert tree.read(AUDIT_POLICY) == POLICY_TEXT
    assert sorted(os.listdir(tree.file(MANIFESTS))) == ["kube-apiserver.yaml"]
    assert [tree.read(f"{BACKUPS}/{name}") for name in os.listdir(tree.file(BACKUPS))] == [APISERVER]

    module, again = run(tree, ALL)
    assert statuses(again) == [(c["id"], "pass") for c in ALL]
    assert (again["changed"], again["actions"], again["diff"]) == (False, [], [])
    assert module.calls == []


def test_only_the_flags_asked_for_change_every_other_line_stays(tree):
    run(tree, [PROFILING])
    assert tree.read(APISERVER_PATH) == APISERVER.replace(
        "    - --proxy-client-cert-file", "    - --profiling=false\n    - --proxy-client-cert-file"
    )


def test_a_stray_file_in_the_manifests_directory_is_moved_to_the_backups(tree):
    tree.write(f"{MANIFESTS}/kube-apiserver.yaml.bak", APISERVER, 0o600)
    tree.write(f"{MANIFESTS}/notes.txt", "remember to renew the certificates\n")
    tree.write(f"{MANIFESTS}/.kube-apiserver.yaml.swp", "editor state")
    _module, result = run(tree, [MANIFESTS_ONLY])
    assert statuses(result) == [("cis.controlplane.manifests_dir", "fixed")]
    assert sorted(os.listdir(tree.file(MANIFESTS))) == [".kube-apiserver.yaml.swp", "kube-apiserver.yaml"]
    assert sorted(os.listdir(tree.file(f"{BACKUPS}/moved"))) == ["kube-apiserver.yaml.bak", "notes.txt"]
    assert tree.read(f"{BACKUPS}/moved/kube-apiserver.yaml.bak") == APISERVER
    assert tree.read(APISERVER_PATH) == APISERVER
    assert sorted(result["controls"][0]["differences"], key=lambda d: d["item"]) == [
        {
            "item": f"{MANIFESTS}/kube-apiserver.yaml.bak",
            "where": MANIFESTS,
            "expected": "absent",
            "actual": "a second Pod named kube-apiserver (beside kube-apiserver.yaml)",
        },
        {
            "item": f"{MANIFESTS}/notes.txt",
            "where": MANIFESTS,
            "expected": "absent",
            "actual": "not a Pod (apiVersion v1, kind Pod, a name and containers)",
        },
    ]


# A static pod of the user's own that runs its image's entrypoint (no command), and one in YAML the
# module does not read (a block scalar): the kubelet runs both, so neither is touched.
KUBE_VIP = """apiVersion: v1
kind: Pod
metadata:
  name: kube-vip
  namespace: kube-system
spec:
  containers:
  - args: [manager]
    image: ghcr.io/kube-vip/kube-vip:v0.8.0
    name: kube-vip
  hostNetwork: true
"""
HAPROXY = """apiVersion: v1
kind: Pod
metadata:
  name: haproxy
  annotations:
    note: |
      load balancer for the API servers
spec:
  containers:
  - name: haproxy
    image: haproxy:2.8
"""


def test_the_users_own_static_pods_stay_where_they_are(tree):
    tree.write(f"{MANIFESTS}/kube-vip.yaml", KUBE_VIP, 0o600)
    tree.write(f"{MANIFESTS}/haproxy.yaml", HAPROXY, 0o600)
    _module, result = run(tree, [MANIFESTS_ONLY])
    assert statuses(result) == [("cis.controlplane.manifests_dir", "pass")]
    assert sorted(os.listdir(tree.file(MANIFESTS))) == ["haproxy.yaml", "kube-apiserver.yaml", "kube-vip.yaml"]
    [unread] = result["controls"][0]["details"]["not read"]
    assert unread.startswith(f"{MANIFESTS}/haproxy.yaml: line 6: block scalars")


# --- files named by flags ---------------------------------------------------------------------------------
def flag_control(cid: str, spec: dict) -> dict:
    return control(cid, "controlplane_flags", {"component": "kube-apiserver", **spec})


@pytest.mark.parametrize(
    ("controls", "message"),
    [
        (
            [flag_control("a.b", {"set": {"kubelet-certificate-authority": "/etc/kubernetes/pki/kubelet-ca.crt"}})],
            "kube-apiserver would not start with the new /etc/kubernetes/manifests/kube-apiserver.yaml: "
            "--kubelet-certificate-authority=/etc/kubernetes/pki/kubelet-ca.crt: "
            "/etc/kubernetes/pki/kubelet-ca.crt does not exist on this node; nothing was written",
        ),
        (
            [flag_control("a.b", {"set": {"audit-policy-file": AUDIT_POLICY}})],
            f"--audit-policy-file={AUDIT_POLICY}: no hostPath volume of the Pod mounts {AUDIT_POLICY} "
            "(add it to the control's mounts)",
        ),
        (
            [flag_control("a.b", {"set": {"audit-log-path": "/var/log/kubernetes/audit/audit.log"}})],
            "--audit-log-path=/var/log/kubernetes/audit/audit.log: no hostPath volume of the Pod mounts "
            "/var/log/kubernetes/audit",
        ),
        (
            [PROFILING, flag_control("b.c", {"set": {"profiling": "true"}})],
            "controls 'cis.apiserver.profiling' and 'b.c' want --profiling of kube-apiserver set otherwise",
        ),
        (
            [flag_control("a.b", {"set": {"profiling": False}}), flag_control("b.c", {"absent": ["profiling"]})],
            "controls 'a.b' and 'b.c' want --profiling of kube-apiserver set otherwise",
        ),
        (
            [flag_control("a.b", {"set": {"kubeconfig": "/x"}})],
            "control 'a.b': kube-apiserver has no flag --kubeconfig",
        ),
        ([flag_control("a.b", {"set": {"--profiling": False}})], "write flag names without dashes ('--profiling')"),
        ([flag_control("a.b", {"set": {"profiling": "no"}})], 'invalid argument "no" for "--profiling" flag'),
        (
            [flag_control("a.b", {"set": {"profiling": False}, "absent": ["profiling"]})],
            "control 'a.b': a flag is named twice in one spec",
        ),
        ([flag_control("a.b", {"includes": {"profiling": ["x"]}})], "--profiling of kube-apiserver is not a list flag"),
        ([flag_control("a.b", {"at_least": {"audit-log-maxage": "30"}})], "needs an integer flag and a number from 0"),
        (
            [flag_control("a.b", {"set": {"profiling": False}, "mounts": [{"name": "Bad_Name", "path": "/x"}]})],
            "mount name 'Bad_Name' is not a DNS label",
        ),
        ([control("a.b", "controlplane_flags", {"component": "kubelet", "set": {}})], "unknown component 'kubelet'"),
    ],
)
def test_bad_flags_fail_before_anything_is_written(tree, controls, message):
    before = tree.snapshot()
    with pytest.raises(ControlInputError) as error:
        run(tree, controls)
    assert message in str(error.value)
    assert tree.snapshot() == before


def test_a_missing_file_after_an_earlier_family_wrote_undoes_that_too(tree):
    before = tree.snapshot()
    missing = flag_control("a.b", {"set": {"kubelet-certificate-authority": "/etc/kubernetes/pki/kubelet-ca.crt"}})
    with pytest.raises(engine.ApplyError) as error:
        run(tree, [AUDIT_CONFIG, missing])
    assert "/etc/kubernetes/pki/kubelet-ca.crt does not exist on this node" in str(error.value)
    assert tree.snapshot() == before


def test_a_file_the_same_run_writes_is_accepted_in_check_mode(tree):
    before = tree.snapshot()
    _module, result = run(tree, [AUDIT_CONFIG, AUDIT_FLAGS, ENCRYPT, ENCRYPT_FLAG], check_mode=True)
    assert [s for _cid, s in statuses(result)] == ["drift"] * 4
    assert tree.snapshot() == before


def test_a_file_outside_the_pods_mounts_is_found_through_its_host_path(tree):
    tree.write("/srv/policies/audit.yaml", POLICY_TEXT)
    spec = {
        "set": {"audit-policy-file": "/srv/policies/audit.yaml"},
        "mounts": [{"name": "policies", "path": "/srv/policies", "type": "Directory"}],
    }
    _module, result = run(tree, [flag_control("a.b", spec)])
    assert statuses(result) == [("a.b", "fixed")]
    volumes = yaml.safe_load(tree.read(APISERVER_PATH))["spec"]["volumes"]
    assert {"hostPath": {"path": "/srv/policies", "type": "Directory"}, "name": "policies"} in volumes


# --- how controls of one flag combine ----------------------------------------------------------------------
def test_controls_adding_to_one_list_flag_combine(tree):
    # CIS 1.2.3, 1.2.11 and 1.2.14 each add their admission plugin to the same flag.
    controls = [
        flag_control("cis.a", {"includes": {"enable-admission-plugins": ["DenyServiceExternalIPs"]}}),
        flag_control("cis.b", {"includes": {"enable-admission-plugins": ["AlwaysPullImages"]}}),
        flag_control("cis.c", {"includes": {"enable-admission-plugins": ["NodeRestriction"]}}),
        flag_control("cis.d", {"excludes": {"enable-admission-plugins": ["AlwaysAdmit"]}}),
    ]
    _module, result = run(tree, controls)
    assert statuses(result) == [("cis.a", "fixed"), ("cis.b", "fixed"), ("cis.c", "pass"), ("cis.d", "pass")]
    assert flags(tree)["enable-admission-plugins"] == "NodeRestriction,DenyServiceExternalIPs,AlwaysPullImages"


@pytest.mark.parametrize(
    ("spec", "current", "expected"),
    [
        (
            {"present": {"service-account-key-file": "/etc/kubernetes/pki/other.pub"}},
            None,
            "/etc/kubernetes/pki/sa.pub",
        ),
        ({"at_least": {"audit-log-maxage": 30}}, None, "30"),
        ({"at_least": {"audit-log-maxage": 30}}, "90", "90"),
        ({"at_least": {"audit-log-maxage": 30}}, "7", "30"),
        ({"excludes": {"authorization-mode": ["AlwaysAllow"]}}, "AlwaysAllow,Node,RBAC", "Node,RBAC"),
        ({"excludes": {"disable-admission-plugins": ["ServiceAccount"]}}, "ServiceAccount", None),
        ({"includes": {"authorization-mode": ["Node", "RBAC"]}}, "Webhook", "Webhook,Node,RBAC"),
        ({"absent": ["enable-bootstrap-token-auth"]}, None, None),
    ],
)
def test_wanted_values(tree, spec, current, expected):
    flag = spec["absent"][0] if "absent" in spec else next(iter(next(iter(spec.values()))))
    if current is not None:
        tree.write(APISERVER_PATH, edit(Manifest(APISERVER_PATH, APISERVER), {flag: current}), 0o600)
    run(tree, [flag_control("a.b", spec)])
    assert flags(tree).get(flag) == expected


def test_controls_switched_off_do_not_count(tree):
    off = flag_control("b.c", {"set": {"profiling": True}})
    off.update(enabled=False, reason="profiling is needed here")
    _module, result = run(tree, [PROFILING, off])
    assert statuses(result) == [("cis.apiserver.profiling", "fixed"), ("b.c", "skipped")]


# --- encryption -------------------------------------------------------------------------------------------
def providers(text: str, resource: str = "secrets") -> list[dict]:
    for group in yaml.safe_load(text)["resources"]:
        if resource in group["resources"]:
            return group["providers"]
    raise AssertionError(f"no group for {resource}")


def test_an_absent_encryption_configuration_is_written_with_a_new_key(tree):
    module, result = run(tree, [ENCRYPT])
    assert statuses(result) == [(ENCRYPT["id"], "fixed")]
    text = tree.read(ENCRYPTION)
    assert tree.file(ENCRYPTION).stat().st_mode & 0o777 == 0o600
    listed = providers(text)
    assert list(listed[0]) == ["aescbc"]
    key = listed[0]["aescbc"]["keys"][0]
    assert key["name"] == "nodeguard-1"
    assert len(base64.b64decode(key["secret"], validate=True)) == 32
    assert listed[1:] == [{"identity": {}}]
    shown = json.dumps(result)
    assert key["secret"] not in shown
    assert result["diff"] == [
        {
            "before_header": ENCRYPTION,
            "after_header": ENCRYPTION,
            "before": "absent\n",
            "after": "aescbc first, key not shown\n",
        }
    ]
    assert module.calls == []


def test_each_run_that_writes_makes_a_new_key(tmp_path):
    keys = set()
    for name in ("one", "two"):
        (tmp_path / name).mkdir()
        tree = control_plane(Tree(tmp_path / name))
        run(tree, [ENCRYPT])
        keys.add(providers(tree.read(ENCRYPTION))[0]["aescbc"]["keys"][0]["secret"])
    assert len(keys) == 2


OLD_KEY = base64.b64encode(b"k" * 32).decode()
IDENTITY_FIRST = f"""\
apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
  - resources:
      - secrets
    providers:
      - identity: {{}}
      - aesgcm:
          keys:
            - name: key1
              secret: {OLD_KEY}
"""


def test_an_identity_first_configuration_gets_the_provider_first_and_keeps_the_others(tree):
    tree.write(ENCRYPTION, IDENTITY_FIRST, 0o600)
    _module, result = run(tree, [ENCRYPT])
    assert statuses(result) == [(ENCRYPT["id"], "fixed")]
    assert sorted(result["controls"][0]["differences"], key=lambda d: d["item"]) == [
        {"item": "secrets", "where": ENCRYPTION, "expected": "one of aescbc, secretbox, kms", "actual": "identity"}
    ]
    listed = providers(tree.read(ENCRYPTION))
    assert [next(iter(p)) for p in listed] == ["aescbc", "identity", "aesgcm"]
    assert listed[2] == {"aesgcm": {"keys": [{"name": "key1", "secret": OLD_KEY}]}}
    assert OLD_KEY not in json.dumps(result)


def test_other_resources_groups_are_kept(tree):
    text = IDENTITY_FIRST + "  - resources:\n      - configmaps\n    providers:\n      - identity: {}\n"
    tree.write(ENCRYPTION, text, 0o600)
    run(tree, [ENCRYPT])
    after = tree.read(ENCRYPTION)
    assert providers(after, "configmaps") == [{"identity": {}}]
    assert [next(iter(p)) for p in providers(after)] == ["aescbc", "identity", "aesgcm"]


def test_kube_bench_judges_the_written_configuration_strong_with_other_groups_kept(tree):
    # kube-bench 1.2.28 reads the line after the last "providers:" of the file.
    text = IDENTITY_FIRST + "  - resources:\n      - configmaps\n    providers:\n      - identity: {}\n"
    tree.write(ENCRYPTION, text, 0o600)
    run(tree, [ENCRYPT])
    add_process(tree, 100, [*Manifest(APISERVER_PATH, APISERVER).command, f"--encryption-provider-config={ENCRYPTION}"])
    add_process(tree, 101, ["kube-scheduler"])
    add_process(tree, 102, ["kube-controller-manager"])
    verdict = kubebench.judge("1.2.28", kubebench.View(tree.node(FakeModule([]))))
    assert (verdict.state, verdict.actual) == ("PASS", "provider=aescbc")


STRONG = IDENTITY_FIRST.replace("      - identity: {}\n", "").replace("- aesgcm:", "- aescbc:")


def test_a_strong_configuration_is_kept(tree):
    tree.write(ENCRYPTION, STRONG, 0o600)
    _module, result = run(tree, [ENCRYPT])
    assert statuses(result) == [(ENCRYPT["id"], "pass")]
    assert tree.read(ENCRYPTION) == STRONG


def test_a_strong_configuration_with_a_loose_mode_keeps_its_keys(tree):
    tree.write(ENCRYPTION, STRONG, 0o644)
    _module, result = run(tree, [ENCRYPT])
    assert statuses(result) == [(ENCRYPT["id"], "fixed")]
    assert result["actions"] == [f"set {ENCRYPTION} to 0600 root"]
    assert tree.read(ENCRYPTION) == STRONG
    assert tree.file(ENCRYPTION).stat().st_mode & 0o777 == 0o600
    assert OLD_KEY not in json.dumps(result)


@pytest.mark.parametrize(
    ("text", "actual"),
    [
        ("kind: Policy\n", "not an EncryptionConfiguration"),
        ("resources: [\n", "not read: line 1: flow collection not closed"),
    ],
)
@pytest.mark.parametrize(("check_mode", "status"), [(True, "drift"), (False, "error")], ids=["check", "apply"])
def test_an_unreadable_encryption_configuration_is_left_alone(tree, text, actual, check_mode, status):
    tree.write(ENCRYPTION, text, 0o600)
    before = tree.snapshot()
    _module, result = run(tree, [ENCRYPT], check_mode=check_mode)
    [entry] = result["controls"]
    assert entry["status"] == status
    assert entry["differences"][0]["actual"].startswith(actual)
    if not check_mode:
        assert entry["reason"].startswith(f"{ENCRYPTION} holds keys this run does not rewrite; fix or move it by hand")
    assert tree.snapshot() == before


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"path": ENCRYPTION, "provider": "kms"}, "provider must be one of aescbc, secretbox (kms needs a plugin"),
        ({"path": ENCRYPTION, "provider": "identity"}, "provider must be one of aescbc, secretbox"),
        ({"path": ENCRYPTION, "provider": "aescbc", "resources": ["Secrets"]}, "resources must be a list"),
        ({"path": "enc.yaml", "provider": "aescbc"}, "must be an absolute, normalised file path"),
        ({"path": ENCRYPTION, "provider": "aescbc", "key": "x"}, "spec must be {path, provider, resources, mode"),
    ],
)
def test_encryption_specs_are_checked(tree, spec, message):
    with pytest.raises(ControlInputError) as error:
        run(tree, [control("a.b", "controlplane_encryption", spec)])
    assert message in str(error.value)


# --- accounts ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("passwd", "group", "commands"),
    [
        ("", "", ["groupadd", "useradd"]),
        ("", "etcd:x:998:\n", ["useradd"]),
        ("etcd:x:998:998::/var/lib/etcd:/usr/sbin/nologin\n", "etcd:x:998:\n", []),
    ],
)
def test_the_etcd_account_is_created_only_when_missing(tree, passwd, group, commands):
    tree.write("/etc/passwd", "root:x:0:0:root:/root:/bin/bash\n" + passwd)
    tree.write("/etc/group", "root:x:0:\n" + group)
    module, result = run(tree, [ACCOUNT])
    assert [argv[0] for argv in module.calls] == commands
    assert statuses(result) == [(ACCOUNT["id"], "fixed" if commands else "pass")]
    if "useradd" in commands:
        assert module.calls[-1] == [
            "useradd",
            "--system",
            "--gid",
            "etcd",
            "--home-dir",
            "/var/lib/etcd",
            "--no-create-home",
            "--shell",
            "/usr/sbin/nologin",
            "--comment",
            "etcd (control plane)",
            "etcd",
        ]
    module, again = run(tree, [ACCOUNT])
    assert module.calls == []
    assert statuses(again) == [(ACCOUNT["id"], "pass")]


def test_a_failing_useradd_undoes_the_group(tree):
    module = FakeModule([ACCOUNT])
    scripted(module, tree)
    module.commands["useradd"] = lambda argv: (9, "", "useradd: user 'etcd' already exists")
    module.commands["groupdel"] = lambda argv: (0, "", "")
    with pytest.raises(engine.ApplyError, match="useradd: user 'etcd' already exists; undid 1 earlier change"):
        engine.run(module, tree.node(module), families.build(static_pod.Options()))
    assert [argv[0] for argv in module.calls] == ["groupadd", "useradd", "groupdel"]


# --- a worker node ----------------------------------------------------------------------------------------
def test_a_worker_node_skips_every_control(tmp_path):
    tree = Tree(tmp_path)
    tree.write("/etc/passwd", "root:x:0:0:root:/root:/bin/bash\n")
    tree.write("/etc/group", "root:x:0:\n")
    before = tree.snapshot()
    module, result = run(tree, ALL)
    assert statuses(result) == [(c["id"], "skipped") for c in ALL]
    assert result["controls"][3]["reason"] == (
        f"no {APISERVER_PATH}: kube-apiserver does not run as a static pod here (not a control plane node)"
    )
    assert result["controls"][-1]["reason"] == f"no {MANIFESTS}: not a control plane node"
    assert (result["changed"], result["actions"]) == (False, [])
    assert tree.snapshot() == before
    assert module.calls == []


def test_options_choose_the_directories(tree):
    tree.write(f"{MANIFESTS}/old.yaml", "not a pod\n")
    options = static_pod.Options(backup_dir="/srv/backups", backup_keep=1)
    run(tree, [PROFILING, MANIFESTS_ONLY], options=options)
    assert tree.read("/srv/backups/moved/old.yaml") == "not a pod\n"
    copies = [n for n in os.listdir(tree.file("/srv/backups")) if n.startswith("kube-apiserver.yaml.")]
    assert [tree.read(f"/srv/backups/{n}") for n in copies] == [APISERVER]
    assert not tree.file(BACKUPS).exists()
