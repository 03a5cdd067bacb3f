# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A control plane node for the tests: kubeadm's manifests, processes as /proc entries of the
system tests' tree, and a real HTTP server on 127.0.0.1 standing in for a component's probe."""

from __future__ import annotations

import http.server
import threading
import typing as t

import pytest

from ..system.conftest import Tree

MANIFESTS = "/etc/kubernetes/manifests"
APISERVER_PATH = f"{MANIFESTS}/kube-apiserver.yaml"
BACKUPS = "/var/backups/nodeguard/manifests"
BENCHMARK = "CIS Kubernetes Benchmark v1.12"

# kube-apiserver.yaml as kubeadm v1.32 writes it: flags in name order, volumes and mounts by name.
APISERVER = """\
apiVersion: v1
kind: Pod
metadata:
  annotations:
    kubeadm.kubernetes.io/kube-apiserver.advertise-address.endpoint: 192.168.56.10:6443
  creationTimestamp: null
  labels:
    component: kube-apiserver
    tier: control-plane
  name: kube-apiserver
  namespace: kube-system
spec:
  containers:
  - command:
    - kube-apiserver
    - --advertise-address=192.168.56.10
    - --allow-privileged=true
    - --authorization-mode=Node,RBAC
    - --client-ca-file=/etc/kubernetes/pki/ca.crt
    - --enable-admission-plugins=NodeRestriction
    - --enable-bootstrap-token-auth=true
    - --etcd-cafile=/etc/kubernetes/pki/etcd/ca.crt
    - --etcd-certfile=/etc/kubernetes/pki/apiserver-etcd-client.crt
    - --etcd-keyfile=/etc/kubernetes/pki/apiserver-etcd-client.key
    - --etcd-servers=https://127.0.0.1:2379
    - --kubelet-client-certificate=/etc/kubernetes/pki/apiserver-kubelet-client.crt
    - --kubelet-client-key=/etc/kubernetes/pki/apiserver-kubelet-client.key
    - --kubelet-preferred-address-types=InternalIP,ExternalIP,Hostname
    - --proxy-client-cert-file=/etc/kubernetes/pki/front-proxy-client.crt
    - --proxy-client-key-file=/etc/kubernetes/pki/front-proxy-client.key
    - --requestheader-allowed-names=front-proxy-client
    - --requestheader-client-ca-file=/etc/kubernetes/pki/front-proxy-ca.crt
    - --requestheader-extra-headers-prefix=X-Remote-Extra-
    - --requestheader-group-headers=X-Remote-Group
    - --requestheader-username-headers=X-Remote-User
    - --secure-port=6443
    - --service-account-issuer=https://kubernetes.default.svc.cluster.local
    - --service-account-key-file=/etc/kubernetes/pki/sa.pub
    - --service-account-signing-key-file=/etc/kubernetes/pki/sa.key
    - --service-cluster-ip-range=10.96.0.0/12
    - --tls-cert-file=/etc/kubernetes/pki/apiserver.crt
    - --tls-private-key-file=/etc/kubernetes/pki/apiserver.key
    image: registry.k8s.io/kube-apiserver:v1.32.0
    imagePullPolicy: IfNotPresent
    livenessProbe:
      failureThreshold: 8
      httpGet:
        host: 192.168.56.10
        path: /livez
        port: 6443
        scheme: HTTPS
      initialDelaySeconds: 10
      periodSeconds: 10
      timeoutSeconds: 15
    name: kube-apiserver
    readinessProbe:
      failureThreshold: 3
      httpGet:
        host: 192.168.56.10
        path: /readyz
        port: 6443
        scheme: HTTPS
      periodSeconds: 1
      timeoutSeconds: 15
    resources:
      requests:
        cpu: 250m
    startupProbe:
      failureThreshold: 24
      httpGet:
        host: 192.168.56.10
        path: /livez
        port: 6443
        scheme: HTTPS
      initialDelaySeconds: 10
      periodSeconds: 10
      timeoutSeconds: 15
    volumeMounts:
    - mountPath: /etc/ssl/certs
      name: ca-certs
      readOnly: true
    - mountPath: /etc/ca-certificates
      name: etc-ca-certificates
      readOnly: true
    - mountPath: /etc/kubernetes/pki
      name: k8s-certs
      readOnly: true
    - mountPath: /usr/local/share/ca-certificates
      name: usr-local-share-ca-certificates
      readOnly: true
    - mountPath: /usr/share/ca-certificates
      name: usr-share-ca-certificates
      readOnly: true
  hostNetwork: true
  priority: 2000001000
  priorityClassName: system-node-critical
  securityContext:
    seccompProfile:
      type: RuntimeDefault
  volumes:
  - hostPath:
      path: /etc/ssl/certs
      type: DirectoryOrCreate
    name: ca-certs
  - hostPath:
      path: /etc/ca-certificates
      type: DirectoryOrCreate
    name: etc-ca-certificates
  - hostPath:
      path: /etc/kubernetes/pki
      type: DirectoryOrCreate
    name: k8s-certs
  - hostPath:
      path: /usr/local/share/ca-certificates
      type: DirectoryOrCreate
    name: usr-local-share-ca-certificates
  - hostPath:
      path: /usr/share/ca-certificates
      type: DirectoryOrCreate
    name: usr-share-ca-certificates
status: {}
"""

# The files kubeadm's API server flags name, so that flags pointing at them are accepted.
PKI_FILES = (
    "ca.crt",
    "ca.key",
    "apiserver.crt",
    "apiserver.key",
    "apiserver-etcd-client.crt",
    "apiserver-etcd-client.key",
    "apiserver-kubelet-client.crt",
    "apiserver-kubelet-client.key",
    "front-proxy-ca.crt",
    "front-proxy-client.crt",
    "front-proxy-client.key",
    "sa.key",
    "sa.pub",
    "etcd/ca.crt",
)


def scheduler(port: int, *flags: str, host: str = "127.0.0.1") -> str:
    """A kube-scheduler manifest whose liveness probe is an HTTP GET on 127.0.0.1:port."""
    items = "".join(f"    - {flag}\n" for flag in ("--bind-address=127.0.0.1", *flags))
    return f"""\
apiVersion: v1
kind: Pod
metadata:
  labels:
    component: kube-scheduler
  name: kube-scheduler
  namespace: kube-system
spec:
  containers:
  - command:
    - kube-scheduler
{items}    image: registry.k8s.io/kube-scheduler:v1.32.0
    livenessProbe:
      httpGet:
        host: {host}
        path: /healthz
        port: {port}
        scheme: HTTP
    name: kube-scheduler
  hostNetwork: true
"""


def add_process(tree: Tree, pid: int, argv: list[str], comm: str | None = None) -> None:
    """A running process as /proc shows it: its command name and its NUL-separated argv."""
    name = comm if comm is not None else argv[0].rsplit("/", 1)[-1]
    tree.write(f"/proc/{pid}/comm", name[:15] + "\n")
    tree.write(f"/proc/{pid}/cmdline", "\0".join(argv) + "\0")


def control_plane(tree: Tree, apiserver: str = APISERVER, mode: int = 0o600) -> Tree:
    """The files of a kubeadm control plane node: the API server's manifest and its PKI."""
    tree.write(APISERVER_PATH, apiserver, mode)
    for name in PKI_FILES:
        tree.write(f"/etc/kubernetes/pki/{name}", f"{name}\n", 0o600 if name.endswith(".key") else 0o644)
    tree.write("/etc/passwd", "root:x:0:0:root:/root:/bin/bash\n")
    tree.write("/etc/group", "root:x:0:\n")
    return tree


class Probe(http.server.ThreadingHTTPServer):
    """A local HTTP server answering every GET with C(status)."""

    status = 200
    hits = 0


class _Handler(http.server.BaseHTTPRequestHandler):
    server: Probe

    def do_GET(self) -> None:
        self.server.hits += 1
        body = b"ok" if self.server.status == 200 else b"Unauthorized"
        self.send_response(self.server.status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: t.Any) -> None:
        return


@pytest.fixture
def probe_server() -> t.Iterator[Probe]:
    server = Probe(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
