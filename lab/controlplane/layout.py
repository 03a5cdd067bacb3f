# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Lay a lab VM out as ``kubeadm init`` (v1.32) leaves a control plane node, with stand-ins for the
control plane components and for the kubelet's static pod handling.

    python3 layout.py [--root DIR] [--no-systemd] [--pki DIR] [--ca-dir DIR]
                      [--node-name NAME] [--advertise-address ADDRESS]

Runs on the VM as root, after ``lab/kubelet/layout.py kubeadm`` (the worker fixture: the kubelet
packages, /etc/kubernetes/kubelet.conf, /var/lib/kubelet, /etc/kubernetes/pki/ca.crt). It writes
the files ``kubeadm init --pod-network-cidr=10.244.0.0/16`` writes on its first control plane node,
where and as kubeadm writes them (each entry below names its source in kubernetes/kubernetes
v1.32, cmd/kubeadm/app/...), plus what a flannel CNI leaves; installs standin_component.py as
/usr/local/bin/{kube-apiserver,kube-controller-manager,kube-scheduler,etcd} and static_pods.py as
the runner of nodelab-static-pods.service; then, unless --no-systemd or --root is given, reloads
systemd, enables and starts that unit (restarting it only when the runner or the stand-in changed)
and waits at most 60 s until every manifest's livenessProbe answers; else it exits non-zero naming
the component and the last lines of its log. Every file is written atomically (a temporary file in
the same directory, then rename, with lab/kubelet/layout.py's Applier); re-running changes nothing
and restarts nothing. A manifest changed since (by a test) is put back to kubeadm's; that is how a
scenario resets the node (the runner then restarts that pod, as the kubelet would). The runner's
view of the pods is in /run/nodelab-static-pods/status.json, each pod's output in
/var/log/nodelab-static-pods/<file>.log, the runner's decisions in its unit's journal. On a lab VM
under TCG a first run takes about 20 s, a re-run about 10 s (mostly the probes' wait).

The PKI: the node has no openssl, so the host runs ``pki.py DIR --node-name N --advertise-address
A`` and this layout installs DIR (--pki, default ./pki beside this file). The cluster CA is --ca-dir
(default ../kubelet/certs, the worker fixture's CA, so /etc/kubernetes/pki/ca.crt is the file the
worker layout wrote); the layout refuses a PKI made for another node name or address. The default
./pki is ignored by git (lab/controlplane/.gitignore): it holds generated keys.

What it writes (modes as kubeadm's writers set them, owner root:root):
- /etc/kubernetes/pki: certificates 0644 (client-go util/cert WriteCert), private keys 0600
  (keyutil.WriteKey), sa.pub 0600 too (pkiutil.WritePublicKey writes with keyutil.WriteKey);
  directories 0755 (their MkdirAll).
- /etc/kubernetes/{admin,super-admin,controller-manager,scheduler}.conf: kubeconfigs with embedded
  client certificates, 0600 (phases/kubeconfig, clientcmd.WriteToFile); cluster "kubernetes",
  context "<user>@kubernetes", server https://<advertise address>:6443 (no controlPlaneEndpoint).
- /etc/kubernetes/manifests/{etcd,kube-apiserver,kube-controller-manager,kube-scheduler}.yaml:
  kubeadm's pods (phases/controlplane/manifests.go and volumes.go, phases/etcd/local.go,
  util/staticpod/utils.go) marshalled as kubeadm marshals them (JSON field names, keys sorted,
  ``creationTimestamp: null``, ``status: {}``), mode 0600 (WriteStaticPodToDisk). The CA
  directories kubeadm mounts only where they exist on the node (/etc/pki/ca-trust,
  /etc/pki/tls/certs, /etc/ca-certificates, /usr/share/ca-certificates,
  /usr/local/share/ca-certificates) are looked up under --root as kubeadm's os.Stat does.
  The directory keeps the 0755 the kubelet .deb gave it (kubeadm's MkdirAll 0700 does not change
  an existing directory). Images: registry.k8s.io, Kubernetes v1.32.0, etcd 3.5.16-0 (kubeadm
  v1.32.0's constants).
- /var/lib/etcd 0700 (kubeadm's etcd phase, CreateDataDirectory).
- /etc/cni/net.d/10-flannel.conflist 0644: flannel's kube-flannel.yml cni-conf.json as its
  install-cni init container copies it (cp, umask 022); /var/lib/cni/networks/cbr0/ as the
  host-local IPAM plugin leaves it after two pods (CoreDNS) got addresses: directory 0755, one file
  per address holding "<container id>\\r\\n<ifname>" and last_reserved_ip.0, all 0644
  (containernetworking/plugins plugins/ipam/host-local/backend/disk/backend.go).
- /usr/local/bin/{kube-apiserver,kube-controller-manager,kube-scheduler,etcd} 0755: copies of
  standin_component.py with a /usr/bin/python3 shebang, so each process is named after its file.
- /var/lib/nodelab/standin-serving.{crt,key} (0644, 0600): the self-signed pair the stand-in
  controller manager and scheduler serve with.
- /usr/local/lib/nodelab/static_pods.py 0755 and /etc/systemd/system/nodelab-static-pods.service
  0644: the runner (not a kubelet; see static_pods.py).

It never rewrites a file the worker layout owns with other content: if /etc/kubernetes/pki/ca.crt
is there and differs from --ca-dir's, it stops and says so.

With --root DIR everything is laid under DIR (for tests on a host): nothing is chowned and systemd
is left alone. The node's hostname is the default node name; the default advertise address is the
source address of the default route (as kubeadm's ChooseHostInterface), else 10.0.2.15 (qemu's
user network).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import importlib.util
import json
import os
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
KUBELET_DIR = HERE.parent / "kubelet"
KUBERNETES_VERSION = "v1.32.0"
ETCD_VERSION = "3.5.16-0"
IMAGE_REPOSITORY = "registry.k8s.io"
POD_SUBNET = "10.244.0.0/16"
SERVICE_SUBNET = "10.96.0.0/12"
DNS_DOMAIN = "cluster.local"
CLUSTER_NAME = "kubernetes"
BIND_PORT = 6443
PKI = "/etc/kubernetes/pki"
MANIFESTS = "/etc/kubernetes/manifests"
ETCD_DATA = "/var/lib/etcd"
COMPONENTS = ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd")
UNIT = "nodelab-static-pods.service"
RUNNER = "/usr/local/lib/nodelab/static_pods.py"
STATUS = "/run/nodelab-static-pods/status.json"
POD_LOGS = "/var/log/nodelab-static-pods"
WAIT_SECONDS = 60
# util/staticpod: the startup probe's failureThreshold covers kubeadm's default
# ControlPlaneComponentHealthCheck timeout (4m) in 10 s periods.
STARTUP_FAILURES = 24
# volumes.go caCertsExtraVolumePaths (v1.31+), mounted only where they exist.
CA_EXTRA_PATHS = (
    "/etc/pki/ca-trust",
    "/etc/pki/tls/certs",
    "/etc/ca-certificates",
    "/usr/share/ca-certificates",
    "/usr/local/share/ca-certificates",
)
FLEXVOLUME_DIR = "/usr/libexec/kubernetes/kubelet-plugins/volume/exec"


def load_kubelet_layout():
    """lab/kubelet/layout.py's Entry helpers and Applier (one writer for both fixtures)."""
    sys.path.insert(0, str(KUBELET_DIR))
    spec = importlib.util.spec_from_file_location("nodelab_kubelet_layout", KUBELET_DIR / "layout.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


kubelet_layout = load_kubelet_layout()
d, f, Applier = kubelet_layout.d, kubelet_layout.f, kubelet_layout.Applier

# Files lab/kubelet/layout.py kubeadm writes that this layout also names: never rewritten here
# with other content.
KUBELET_OWNED = ("/etc/kubernetes/pki/ca.crt",)


# --- the manifests ------------------------------------------------------------------------------


def probe(host: str, path: str, port: int, scheme: str, initial: int, timeout: int, failures: int, period: int):
    """util/staticpod createHTTPProbe."""
    return {
        "failureThreshold": failures,
        "httpGet": {"host": host, "path": path, "port": port, "scheme": scheme},
        "initialDelaySeconds": initial,
        "periodSeconds": period,
        "timeoutSeconds": timeout,
    }


def liveness(host, path, port, scheme):
    return probe(host, path, port, scheme, 10, 15, 8, 10)


def readiness(host, path, port, scheme):
    return probe(host, path, port, scheme, 0, 15, 3, 1)


def startup(host, path, port, scheme):
    return probe(host, path, port, scheme, 10, 15, STARTUP_FAILURES, 10)


def drop_zero(document: dict) -> dict:
    """Go's omitempty: initialDelaySeconds 0 is not written."""
    return {key: value for key, value in document.items() if value != 0 or key != "initialDelaySeconds"}


def host_path(name: str, path: str, kind: str) -> dict:
    return {"hostPath": {"path": path, "type": kind}, "name": name}


def mount(name: str, path: str, read_only: bool) -> dict:
    entry = {"mountPath": path, "name": name}
    if read_only:
        entry["readOnly"] = True
    return entry


def component_pod(container: dict, volumes: list, annotations: dict | None) -> dict:
    """util/staticpod ComponentPod: kube-system, component/tier labels, hostNetwork, priority
    2000001000 with system-node-critical, RuntimeDefault seccomp, volumes sorted by name."""
    metadata = {
        "creationTimestamp": None,
        "labels": {"component": container["name"], "tier": "control-plane"},
        "name": container["name"],
        "namespace": "kube-system",
    }
    if annotations:
        metadata["annotations"] = annotations
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": metadata,
        "spec": {
            "containers": [container],
            "hostNetwork": True,
            "priority": 2000001000,
            "priorityClassName": "system-node-critical",
            "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
            "volumes": sorted(volumes, key=lambda volume: volume["name"]),
        },
        "status": {},
    }


def command(name: str, arguments: dict) -> list:
    """util ArgumentsToCommand: --name=value, sorted by name."""
    return [name] + [f"--{key}={arguments[key]}" for key in sorted(arguments)]


def ca_mounts(existing: list) -> tuple:
    volumes = [
        host_path("ca-certs", "/etc/ssl/certs", "DirectoryOrCreate"),
        host_path("k8s-certs", PKI, "DirectoryOrCreate"),
    ]
    mounts = [mount("ca-certs", "/etc/ssl/certs", True), mount("k8s-certs", PKI, True)]
    for path in existing:
        name = path.replace("/", "-")[1:]
        volumes.append(host_path(name, path, "DirectoryOrCreate"))
        mounts.append(mount(name, path, True))
    return volumes, sorted(mounts, key=lambda item: item["name"])


def apiserver_pod(address: str, existing_ca_paths: list) -> dict:
    args = {
        "advertise-address": address,
        "allow-privileged": "true",
        "authorization-mode": "Node,RBAC",
        "client-ca-file": f"{PKI}/ca.crt",
        "enable-admission-plugins": "NodeRestriction",
        "enable-bootstrap-token-auth": "true",
        "etcd-cafile": f"{PKI}/etcd/ca.crt",
        "etcd-certfile": f"{PKI}/apiserver-etcd-client.crt",
        "etcd-keyfile": f"{PKI}/apiserver-etcd-client.key",
        "etcd-servers": "https://127.0.0.1:2379",
        "kubelet-client-certificate": f"{PKI}/apiserver-kubelet-client.crt",
        "kubelet-client-key": f"{PKI}/apiserver-kubelet-client.key",
        "kubelet-preferred-address-types": "InternalIP,ExternalIP,Hostname",
        "proxy-client-cert-file": f"{PKI}/front-proxy-client.crt",
        "proxy-client-key-file": f"{PKI}/front-proxy-client.key",
        "requestheader-allowed-names": "front-proxy-client",
        "requestheader-client-ca-file": f"{PKI}/front-proxy-ca.crt",
        "requestheader-extra-headers-prefix": "X-Remote-Extra-",
        "requestheader-group-headers": "X-Remote-Group",
        "requestheader-username-headers": "X-Remote-User",
        "secure-port": str(BIND_PORT),
        "service-account-issuer": f"https://kubernetes.default.svc.{DNS_DOMAIN}",
        "service-account-key-file": f"{PKI}/sa.pub",
        "service-account-signing-key-file": f"{PKI}/sa.key",
        "service-cluster-ip-range": SERVICE_SUBNET,
        "tls-cert-file": f"{PKI}/apiserver.crt",
        "tls-private-key-file": f"{PKI}/apiserver.key",
    }
    volumes, mounts = ca_mounts(existing_ca_paths)
    container = {
        "command": command("kube-apiserver", args),
        "image": f"{IMAGE_REPOSITORY}/kube-apiserver:{KUBERNETES_VERSION}",
        "imagePullPolicy": "IfNotPresent",
        "livenessProbe": liveness(address, "/livez", BIND_PORT, "HTTPS"),
        "name": "kube-apiserver",
        "readinessProbe": drop_zero(readiness(address, "/readyz", BIND_PORT, "HTTPS")),
        "resources": {"requests": {"cpu": "250m"}},
        "startupProbe": startup(address, "/livez", BIND_PORT, "HTTPS"),
        "volumeMounts": mounts,
    }
    annotation = {"kubeadm.kubernetes.io/kube-apiserver.advertise-address.endpoint": f"{address}:{BIND_PORT}"}
    return component_pod(container, volumes, annotation)


def controller_manager_pod(existing_ca_paths: list) -> dict:
    kubeconfig = "/etc/kubernetes/controller-manager.conf"
    args = {
        "allocate-node-cidrs": "true",
        "authentication-kubeconfig": kubeconfig,
        "authorization-kubeconfig": kubeconfig,
        "bind-address": "127.0.0.1",
        "client-ca-file": f"{PKI}/ca.crt",
        "cluster-cidr": POD_SUBNET,
        "cluster-name": CLUSTER_NAME,
        "cluster-signing-cert-file": f"{PKI}/ca.crt",
        "cluster-signing-key-file": f"{PKI}/ca.key",
        "controllers": "*,bootstrapsigner,tokencleaner",
        "kubeconfig": kubeconfig,
        "leader-elect": "true",
        "requestheader-client-ca-file": f"{PKI}/front-proxy-ca.crt",
        "root-ca-file": f"{PKI}/ca.crt",
        "service-account-private-key-file": f"{PKI}/sa.key",
        "service-cluster-ip-range": SERVICE_SUBNET,
        "use-service-account-credentials": "true",
    }
    volumes, mounts = ca_mounts(existing_ca_paths)
    volumes += [
        host_path("flexvolume-dir", FLEXVOLUME_DIR, "DirectoryOrCreate"),
        host_path("kubeconfig", kubeconfig, "FileOrCreate"),
    ]
    mounts = sorted(
        [*mounts, mount("flexvolume-dir", FLEXVOLUME_DIR, False), mount("kubeconfig", kubeconfig, True)],
        key=lambda item: item["name"],
    )
    container = {
        "command": command("kube-controller-manager", args),
        "image": f"{IMAGE_REPOSITORY}/kube-controller-manager:{KUBERNETES_VERSION}",
        "imagePullPolicy": "IfNotPresent",
        "livenessProbe": liveness("127.0.0.1", "/healthz", 10257, "HTTPS"),
        "name": "kube-controller-manager",
        "resources": {"requests": {"cpu": "200m"}},
        "startupProbe": startup("127.0.0.1", "/healthz", 10257, "HTTPS"),
        "volumeMounts": mounts,
    }
    return component_pod(container, volumes, None)


def scheduler_pod() -> dict:
    kubeconfig = "/etc/kubernetes/scheduler.conf"
    args = {
        "authentication-kubeconfig": kubeconfig,
        "authorization-kubeconfig": kubeconfig,
        "bind-address": "127.0.0.1",
        "kubeconfig": kubeconfig,
        "leader-elect": "true",
    }
    container = {
        "command": command("kube-scheduler", args),
        "image": f"{IMAGE_REPOSITORY}/kube-scheduler:{KUBERNETES_VERSION}",
        "imagePullPolicy": "IfNotPresent",
        "livenessProbe": liveness("127.0.0.1", "/healthz", 10259, "HTTPS"),
        "name": "kube-scheduler",
        "resources": {"requests": {"cpu": "100m"}},
        "startupProbe": startup("127.0.0.1", "/healthz", 10259, "HTTPS"),
        "volumeMounts": [mount("kubeconfig", kubeconfig, True)],
    }
    return component_pod(container, [host_path("kubeconfig", kubeconfig, "FileOrCreate")], None)


def etcd_pod(node: str, address: str) -> dict:
    """phases/etcd/local.go GetEtcdPodSpec: mounts in its own order (data, then certs), probes on
    the metrics URL (util/staticpod GetEtcdProbeEndpoint: http://127.0.0.1:2381)."""
    client, peer = f"https://{address}:2379", f"https://{address}:2380"
    args = {
        "advertise-client-urls": client,
        "cert-file": f"{PKI}/etcd/server.crt",
        "client-cert-auth": "true",
        "data-dir": ETCD_DATA,
        "experimental-initial-corrupt-check": "true",
        "experimental-watch-progress-notify-interval": "5s",
        "initial-advertise-peer-urls": peer,
        "initial-cluster": f"{node}={peer}",
        "key-file": f"{PKI}/etcd/server.key",
        "listen-client-urls": f"https://127.0.0.1:2379,{client}",
        "listen-metrics-urls": "http://127.0.0.1:2381",
        "listen-peer-urls": peer,
        "name": node,
        "peer-cert-file": f"{PKI}/etcd/peer.crt",
        "peer-client-cert-auth": "true",
        "peer-key-file": f"{PKI}/etcd/peer.key",
        "peer-trusted-ca-file": f"{PKI}/etcd/ca.crt",
        "snapshot-count": "10000",
        "trusted-ca-file": f"{PKI}/etcd/ca.crt",
    }
    container = {
        "command": command("etcd", args),
        "image": f"{IMAGE_REPOSITORY}/etcd:{ETCD_VERSION}",
        "imagePullPolicy": "IfNotPresent",
        "livenessProbe": liveness("127.0.0.1", "/livez", 2381, "HTTP"),
        "name": "etcd",
        "readinessProbe": drop_zero(readiness("127.0.0.1", "/readyz", 2381, "HTTP")),
        "resources": {"requests": {"cpu": "100m", "memory": "100Mi"}},
        "startupProbe": startup("127.0.0.1", "/readyz", 2381, "HTTP"),
        "volumeMounts": [mount("etcd-data", ETCD_DATA, False), mount("etcd-certs", f"{PKI}/etcd", False)],
    }
    volumes = [
        host_path("etcd-certs", f"{PKI}/etcd", "DirectoryOrCreate"),
        host_path("etcd-data", ETCD_DATA, "DirectoryOrCreate"),
    ]
    return component_pod(container, volumes, {"kubeadm.kubernetes.io/etcd.advertise-client-urls": client})


def render(pod: dict) -> str:
    """kubeadm's MarshalToYaml: JSON then YAML, map keys sorted, block style."""
    import yaml  # noqa: PLC0415 (the node has python3-yaml; only the manifests need it)

    return yaml.safe_dump(pod, sort_keys=True, default_flow_style=False, width=1 << 20)


def manifests(node: str, address: str, root: str | None) -> dict:
    existing = [path for path in CA_EXTRA_PATHS if os.path.exists(under(root, path))]
    return {
        "etcd": render(etcd_pod(node, address)),
        "kube-apiserver": render(apiserver_pod(address, existing)),
        "kube-controller-manager": render(controller_manager_pod(existing)),
        "kube-scheduler": render(scheduler_pod()),
    }


# --- kubeconfigs, CNI ---------------------------------------------------------------------------


def kubeconfig(user: str, server: str, ca_pem: bytes, cert_pem: bytes, key_pem: bytes) -> str:
    """phases/kubeconfig CreateWithCerts, written by clientcmd (keys sorted, preferences {})."""

    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode()

    context = f"{user}@{CLUSTER_NAME}"
    return f"""\
apiVersion: v1
clusters:
- cluster:
    certificate-authority-data: {b64(ca_pem)}
    server: {server}
  name: {CLUSTER_NAME}
contexts:
- context:
    cluster: {CLUSTER_NAME}
    user: {user}
  name: {context}
current-context: {context}
kind: Config
preferences: {{}}
users:
- name: {user}
  user:
    client-certificate-data: {b64(cert_pem)}
    client-key-data: {b64(key_pem)}
"""


KUBECONFIGS = (
    ("admin", "kubernetes-admin"),
    ("super-admin", "kubernetes-super-admin"),
    ("controller-manager", "system:kube-controller-manager"),
    ("scheduler", "system:kube-scheduler"),
)

# flannel (flannel-io/flannel Documentation/kube-flannel.yml, ConfigMap kube-flannel-cfg, cni-conf.json).
FLANNEL_CONFLIST = """\
{
  "name": "cbr0",
  "cniVersion": "0.3.1",
  "plugins": [
    {
      "type": "flannel",
      "delegate": {
        "hairpinMode": true,
        "isDefaultGateway": true
      }
    },
    {
      "type": "portmap",
      "capabilities": {
        "portMappings": true
      }
    }
  ]
}
"""
CNI_NETWORK = "cbr0"
CNI_PODS = (("10.244.0.2", "coredns-1"), ("10.244.0.3", "coredns-2"))


def container_id(name: str) -> str:
    """A stable 64-hex sandbox id, the form containerd gives."""
    return hashlib.sha256(f"nodelab {name}".encode()).hexdigest()


# --- the plan -----------------------------------------------------------------------------------

PKI_FILES = (
    "etcd/ca.crt",
    "etcd/ca.key",
    "front-proxy-ca.crt",
    "front-proxy-ca.key",
    "sa.key",
    "sa.pub",
    "apiserver.crt",
    "apiserver.key",
    "apiserver-kubelet-client.crt",
    "apiserver-kubelet-client.key",
    "front-proxy-client.crt",
    "front-proxy-client.key",
    "etcd/server.crt",
    "etcd/server.key",
    "etcd/peer.crt",
    "etcd/peer.key",
    "etcd/healthcheck-client.crt",
    "etcd/healthcheck-client.key",
    "apiserver-etcd-client.crt",
    "apiserver-etcd-client.key",
)


def read_pki(pki: Path, ca_dir: Path, node: str, address: str) -> dict:
    params_path = pki / "params.json"
    if not params_path.is_file():
        raise SystemExit(
            f"layout: no PKI in {pki}; on the host run: "
            f"python3 pki.py {pki} --node-name {node} --advertise-address {address}"
        )
    params = json.loads(params_path.read_text(encoding="utf-8"))
    if params != {"node_name": node, "advertise_address": address}:
        raise SystemExit(
            f"layout: the PKI in {pki} was made for {params}, not node {node} at {address}; on the host run: "
            f"python3 pki.py {pki} --node-name {node} --advertise-address {address}"
        )
    names = [*PKI_FILES, *(f"kubeconfig/{name}.{ext}" for name, _unused in KUBECONFIGS for ext in ("crt", "key"))]
    names += ["standin-serving.crt", "standin-serving.key"]
    missing = [name for name in names if not (pki / name).is_file()]
    if missing:
        raise SystemExit(f"layout: missing in {pki}: {', '.join(missing)}; run pki.py again")
    pem = {name: (pki / name).read_bytes() for name in names}
    for name in ("ca.crt", "ca.key"):
        if not (ca_dir / name).is_file():
            raise SystemExit(f"layout: missing in {ca_dir}: {name}")
        pem[name] = (ca_dir / name).read_bytes()
    if pki.joinpath("ca.crt").is_file() and pki.joinpath("ca.crt").read_bytes() != pem["ca.crt"]:
        raise SystemExit(f"layout: {pki} was signed by another CA than {ca_dir}/ca.crt; run pki.py again")
    return pem


def plan(pem: dict, standin: bytes, runner: bytes, node: str, address: str, root: str | None) -> list:
    certs = "phases/certs (util/cert WriteCert 0644, keyutil.WriteKey 0600)"
    entries = [
        d("/etc/kubernetes", 0o755, source="kubelet .deb, mkdir -p"),
        d(PKI, 0o755, source="certutil.WriteCert MkdirAll 0755"),
        d(f"{PKI}/etcd", 0o755, source="certutil.WriteCert MkdirAll 0755"),
        f(f"{PKI}/ca.crt", pem["ca.crt"], 0o644, source=f"{certs}; the worker layout writes the same file"),
        f(f"{PKI}/ca.key", pem["ca.key"], 0o600, source=certs),
    ]
    for name in PKI_FILES:
        mode = 0o644 if name.endswith(".crt") else 0o600
        entries.append(f(f"{PKI}/{name}", pem[name], mode, source=certs))
    server = f"https://{address}:{BIND_PORT}"
    for name, user in KUBECONFIGS:
        text = kubeconfig(user, server, pem["ca.crt"], pem[f"kubeconfig/{name}.crt"], pem[f"kubeconfig/{name}.key"])
        entries.append(
            f(f"/etc/kubernetes/{name}.conf", text, 0o600, source="phases/kubeconfig: clientcmd.WriteToFile 0600")
        )
    entries.append(d(MANIFESTS, 0o755, source="kubelet .deb mkdir -p (kubeadm's MkdirAll 0700 keeps it)"))
    for name, text in manifests(node, address, root).items():
        entries.append(f(f"{MANIFESTS}/{name}.yaml", text, 0o600, source="util/staticpod WriteStaticPodToDisk 0600"))
    entries.append(d(ETCD_DATA, 0o700, source="kubeadm etcd phase: CreateDataDirectory 0700"))
    cni = "containernetworking/plugins host-local disk backend"
    entries += [
        d("/etc/cni", 0o755, source="kube-flannel.yml hostPath /etc/cni/net.d (created 0755)"),
        d("/etc/cni/net.d", 0o755, source="kube-flannel.yml hostPath /etc/cni/net.d (created 0755)"),
        f("/etc/cni/net.d/10-flannel.conflist", FLANNEL_CONFLIST, 0o644, source="install-cni: cp -f, umask 022"),
        d("/var/lib/cni", 0o755, source=f"{cni}: MkdirAll 0755"),
        d("/var/lib/cni/networks", 0o755, source=f"{cni}: MkdirAll 0755"),
        d(f"/var/lib/cni/networks/{CNI_NETWORK}", 0o755, source=f"{cni}: MkdirAll 0755"),
    ]
    for ip, name in CNI_PODS:
        entries.append(
            f(
                f"/var/lib/cni/networks/{CNI_NETWORK}/{ip}",
                f"{container_id(name)}\r\neth0",
                0o644,
                source=f"{cni}: Reserve 0644",
            )
        )
    entries.append(
        f(
            f"/var/lib/cni/networks/{CNI_NETWORK}/last_reserved_ip.0",
            CNI_PODS[-1][0],
            0o644,
            source=f"{cni}: lastIPFile 0644",
        )
    )
    for name in COMPONENTS:
        entries.append(f(f"/usr/local/bin/{name}", standin, 0o755, source="stand-in (standin_component.py)"))
    entries += [
        d("/var/lib/nodelab", 0o755, source="lab"),
        f("/var/lib/nodelab/standin-serving.crt", pem["standin-serving.crt"], 0o644, source="lab, pki.py"),
        f("/var/lib/nodelab/standin-serving.key", pem["standin-serving.key"], 0o600, source="lab, pki.py"),
        d("/usr/local/lib/nodelab", 0o755, source="lab"),
        f(RUNNER, runner, 0o755, source="lab (static_pods.py)"),
        f(f"/etc/systemd/system/{UNIT}", UNIT_TEXT, 0o644, source="lab"),
    ]
    return entries


UNIT_TEXT = f"""\
[Unit]
Description=nodelab stand-in for the kubelet's static pods (not a kubelet)
Documentation=file://{RUNNER}
Wants=network-online.target
After=network-online.target

[Service]
ExecStart=/usr/bin/python3 {RUNNER} --manifests {MANIFESTS} --status {STATUS} --logs {POD_LOGS}
Restart=always
RestartSec=2

[Install]
WantedBy=multi-user.target
"""


def under(root: str | None, path: str) -> str:
    return os.path.join(root, path.lstrip("/")) if root else path


def check_ownership(entries: list, root: str | None) -> None:
    for entry in entries:
        if entry.path in KUBELET_OWNED:
            path = under(root, entry.path)
            if os.path.isfile(path) and Path(path).read_bytes() != entry.content:
                raise SystemExit(
                    f"layout: {entry.path} is the worker layout's and holds another CA; give --ca-dir the CA the "
                    "worker layout used (lab/kubelet/certs)"
                )


def with_shebang(program: bytes) -> bytes:
    # The interpreter's own path, so that the process's name is the file's, not "env" or "python3".
    return program if program.startswith(b"#!") else b"#!/usr/bin/python3\n" + program


# --- running ------------------------------------------------------------------------------------


def run(command_line: list) -> str:
    done = subprocess.run(command_line, capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False)
    if done.returncode != 0:
        raise SystemExit(
            f"layout: {' '.join(command_line)} failed ({done.returncode}): {(done.stderr or done.stdout).strip()}"
        )
    return done.stdout


def probe_ok(http_get: dict) -> bool:
    host = http_get.get("host") or "127.0.0.1"
    url = f"{http_get.get('scheme', 'HTTP').lower()}://{host}:{http_get['port']}{http_get.get('path', '/')}"
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=context))
    try:
        with opener.open(url, timeout=2) as answer:
            return 200 <= answer.status < 400
    except OSError:
        return False


def wait_for_probes(names: list) -> None:
    import yaml  # noqa: PLC0415

    probes = {}
    for name in names:
        with open(f"{MANIFESTS}/{name}.yaml", encoding="utf-8") as handle:
            probes[name] = yaml.safe_load(handle)["spec"]["containers"][0]["livenessProbe"]["httpGet"]
    deadline = time.monotonic() + WAIT_SECONDS
    waiting = list(names)
    while waiting and time.monotonic() < deadline:
        waiting = [name for name in waiting if not probe_ok(probes[name])]
        if waiting:
            time.sleep(0.5)
    if not waiting:
        return
    reports = []
    for name in waiting:
        log_file = Path(POD_LOGS) / f"{name}.yaml.log"
        tail = log_file.read_text(encoding="utf-8", errors="replace").splitlines()[-8:] if log_file.is_file() else []
        reports.append(
            f"{name}: no answer on its livenessProbe {probes[name]}; last lines of {log_file}:\n" + "\n".join(tail)
        )
    raise SystemExit(f"layout: within {WAIT_SECONDS} s, " + "\n".join(reports))


def default_address() -> str:
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe_socket:
            probe_socket.connect(("8.8.8.8", 53))
            return probe_socket.getsockname()[0]
    except OSError:
        return "10.0.2.15"


def main(argv: list | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", help="lay the files out under this directory; no systemd, no chown")
    parser.add_argument("--no-systemd", action="store_true", help="do not reload, enable, start or wait")
    parser.add_argument("--pki", default=str(HERE / "pki"), help="pki.py's output (default ./pki)")
    parser.add_argument("--ca-dir", default=str(KUBELET_DIR / "certs"), help="the cluster CA: ca.crt and ca.key")
    parser.add_argument("--node-name", default=None, help="default: the hostname")
    parser.add_argument("--advertise-address", default=None, help="default: the default route's source address")
    args = parser.parse_args(argv)

    root = os.path.abspath(args.root) if args.root else None
    real_node = root is None
    if real_node and os.geteuid() != 0:
        raise SystemExit("layout: run it as root on the VM, or give --root DIR")
    node = args.node_name or socket.gethostname()
    address = args.advertise_address or default_address()
    started = time.monotonic()
    pem = read_pki(Path(args.pki), Path(args.ca_dir), node, address)
    standin = with_shebang((HERE / "standin_component.py").read_bytes())
    runner = with_shebang((HERE / "static_pods.py").read_bytes())
    entries = plan(pem, standin, runner, node, address, root)
    check_ownership(entries, root)

    applier = Applier(root, owners=real_node)
    applier.apply(entries)
    for change in applier.changed:
        print(f"layout: {change}")
    if not applier.changed:
        print("layout: nothing to change")
    if real_node and not args.no_systemd:
        restart_on = (f"/etc/systemd/system/{UNIT}", RUNNER, *(f"/usr/local/bin/{name}" for name in COMPONENTS))
        restart = any(change.split(" ", 1)[-1] in restart_on for change in applier.changed)
        run(["systemctl", "daemon-reload"])
        run(["systemctl", "enable", UNIT])
        run(["systemctl", "restart" if restart else "start", UNIT])
        wait_for_probes(list(COMPONENTS))
        print(
            f"layout: {UNIT} runs the four stand-ins; every livenessProbe answers ({time.monotonic() - started:.1f} s)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
