# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Lay a lab VM out as a Kubernetes worker node, with the stand-in kubelet as its kubelet.

    python3 layout.py kubeadm|kubespray [--root DIR] [--standin PATH] [--certs DIR] [--no-systemd]
                      [--node-name NAME] [--node-ip ADDRESS] [--no-kernel-defaults]

Runs on the VM as root. It writes the kubelet's files where, and as, the real tools leave them on
a worker (paths, contents, modes, owners; each entry below says where its facts come from), puts
standin_kubelet.py where the kubelet binary goes, then, unless --no-systemd or --root is given,
runs ``systemctl daemon-reload``, enables and (re)starts kubelet.service, and waits at most 30 s
for http://127.0.0.1:10248/healthz to answer "ok". It exits 0 when all is done, else non-zero
with a message that names what failed. Every file is written atomically (a temporary file in the
same directory, then rename); re-running it changes nothing and restarts nothing.

``kubeadm``: the pkgs.k8s.io kubelet and kubeadm .deb packages (v1.32; their specs and files are
kubernetes/release cmd/krel/templates/latest/{kubelet,kubeadm}/) followed by ``kubeadm join``
(kubernetes/kubernetes cmd/kubeadm/app/phases/kubelet/) and the kubelet's TLS bootstrap
(pkg/kubelet/certificate/bootstrap/bootstrap.go, client-go util/certificate/certificate_store.go).
The kubeconfig's API server is https://192.0.2.10:6443, a documentation address never contacted.

``kubespray``: kubespray v2.27.1 with its defaults (kubernetes-sigs/kubespray, roles/kubernetes/
node, roles/kubernetes/preinstall, roles/kubernetes/kubeadm, roles/kubespray-defaults,
roles/adduser); kubespray joins workers with ``kubeadm join`` too, so the kubelet's TLS bootstrap
files and kubeadm's /var/lib/kubelet files (unused by kubespray's unit) are there as well.
kubespray's preinstall role sets the six kernel tunables the kubelet checks when
protectKernelDefaults is true (kubespray's default), in /etc/sysctl.d/99-sysctl.conf or the file
that link points to; this layout does the same and applies them to /proc/sys, unless
--no-kernel-defaults is given: then the stand-in refuses to start until something (this
collection's kernel role, say) sets them, as a real kubelet would, so a scenario that wants to
show that uses --no-kernel-defaults --no-systemd and starts kubelet.service itself.

Only one layout per VM: the kubeadm drop-in would also apply to kubespray's unit, so each refuses
to run where the other's unit is.

Node name: the VM's hostname (--node-name overrides). kubespray's --node-ip: the address Ansible
reports as ansible_default_ipv4 (the source address of the route to 8.8.8.8), else 127.0.0.1, as
kubespray's fallback_ip (--node-ip overrides).

Both layouts also leave containerd configured as each tool's instructions do, with the lab's pause
image (localhost/nodelab/pause:latest, from the node image's archive) as the CRI plugin's sandbox
image, since no registry is reachable: ``kubeadm`` as the Kubernetes documentation's container
runtime page says (``containerd config default > /etc/containerd/config.toml``, then
``SystemdCgroup = true`` for runc and the sandbox image set), ``kubespray`` as its containerd role's
config.toml template renders with its defaults. When /etc/containerd/config.toml changed, the layout
restarts containerd.service; then it starts nodelab-import-image.service (the node image's oneshot
unit that imports the lab's images into containerd's k8s.io namespace) and checks that the CRI
plugin loaded and both images are there (unless --no-systemd or --root is given).

With --root DIR every path is laid under DIR (for tests on a host): nothing is chowned, no user is
created, /proc/sys and systemd are left alone, and symbolic links keep the node's absolute targets,
as the tools write them, so they dangle outside DIR.

What the layouts leave out: the real kubeadm and kubectl binaries, CNI, kubespray's own containerd,
runc and containerd.service (the node keeps Debian's) with its cri-base.json (its base_runtime_spec,
generated from ``ctr oci spec``) and certs.d registry files, kubespray's kubeadm-client.conf (it holds
a join token) and the ``.~`` backup copies its lineinfile and template tasks keep, kubespray's other
sysctls (net.ipv4.ip_forward...).
"""

from __future__ import annotations

import argparse
import base64
import grp
import os
import pwd
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

# lab/kubelet is not a package: the node runs this file as a script beside the other one.
from containerd_configs import (
    DEBIAN_RUNC,
    KUBESPRAY_CONTAINERD_CONFIG,
    PAUSE_IMAGE,
    kubeadm_containerd_config,
)

HERE = Path(__file__).resolve().parent
HEALTHZ = "http://127.0.0.1:10248/healthz"
WAIT_SECONDS = 30
API_SERVER_KUBEADM = "https://192.0.2.10:6443"
# kubespray's kube_apiserver_endpoint on a worker with loadbalancer_apiserver_localhost (its
# default): its "Update server field in kubelet kubeconfig" task writes it into kubelet.conf.
API_SERVER_KUBESPRAY = "https://localhost:6443"
# The kubelet names the client pair after the time it stored it (certificate_store.go Update,
# "2006-01-02-15-04-05"); here the notBefore of certs/client.crt, so the layout is reproducible.
CLIENT_PEM_STAMP = "2026-11-23-21-47-31"
PKI = "/var/lib/kubelet/pki"
CLIENT_PEM = f"{PKI}/kubelet-client-{CLIENT_PEM_STAMP}.pem"
CLIENT_CURRENT = f"{PKI}/kubelet-client-current.pem"

BUSYBOX_IMAGE = "localhost/nodelab/busybox:latest"
IMPORT_UNIT = "nodelab-import-image.service"
CONTAINERD_CONFIG = "/etc/containerd/config.toml"
# kubespray: roles/adduser/defaults/main.yml (addusers.kube, kube_cert_group) and
# roles/kubespray-defaults/defaults/main/main.yml (kube_owner).
KUBE_USER, KUBE_GROUP = "kube", "kube-cert"
# kubespray: roles/kubernetes/preinstall/tasks/0080-system-configurations.yml, "Ensure kubelet
# expected parameters are set" (when kubelet_protect_kernel_defaults, true by default), into
# sysctl_file_path (roles/kubernetes/preinstall/defaults/main.yml), or the file it links to.
SYSCTL_FILE = "/etc/sysctl.d/99-sysctl.conf"
KERNEL_DEFAULTS = (
    ("kernel.keys.root_maxbytes", "25000000"),
    ("kernel.keys.root_maxkeys", "1000000"),
    ("kernel.panic", "10"),
    ("kernel.panic_on_oops", "1"),
    ("vm.overcommit_memory", "1"),
    ("vm.panic_on_oom", "0"),
)


@dataclass(frozen=True)
class Entry:
    """One path as the tool leaves it; content for a file, target for a symbolic link."""

    path: str
    kind: str  # "dir", "file" or "link"
    mode: int = 0o755
    owner: str = "root"
    group: str | None = "root"  # None: the tool's task names no group; an existing one is kept
    content: bytes = b""
    target: str = ""
    source: str = ""


def d(path, mode=0o755, owner="root", group="root", source=""):
    return Entry(path, "dir", mode, owner, group, source=source)


def f(path, content, mode, owner="root", group="root", source=""):
    data = content.encode() if isinstance(content, str) else content
    return Entry(path, "file", mode, owner, group, content=data, source=source)


def link(path, target, source=""):
    return Entry(path, "link", 0o777, target=target, source=source)


# --- file contents -----------------------------------------------------------------------------

# kubernetes/release cmd/krel/templates/latest/kubelet/kubelet.service, as the .deb installs it.
KUBELET_SERVICE_DEB = """\
[Unit]
Description=kubelet: The Kubernetes Node Agent
Documentation=https://kubernetes.io/docs/
Wants=network-online.target
After=network-online.target

[Service]
ExecStart=/usr/bin/kubelet
Restart=always
StartLimitInterval=0
RestartSec=10

[Install]
WantedBy=multi-user.target
"""

# kubernetes/release cmd/krel/templates/latest/kubeadm/10-kubeadm.conf, after kubeadm.spec's
# "sed -i 's;/etc/sysconfig/kubelet;/etc/default/kubelet;g'" for the .deb (debbuild).
KUBEADM_DROPIN = """\
# Note: This dropin only works with kubeadm and kubelet v1.11+
[Service]
Environment="KUBELET_KUBECONFIG_ARGS=--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf \
--kubeconfig=/etc/kubernetes/kubelet.conf"
Environment="KUBELET_CONFIG_ARGS=--config=/var/lib/kubelet/config.yaml"
# This is a file that "kubeadm init" and "kubeadm join" generates at runtime, populating the \
KUBELET_KUBEADM_ARGS variable dynamically
EnvironmentFile=-/var/lib/kubelet/kubeadm-flags.env
# This is a file that the user can use for overrides of the kubelet args as a last resort. \
Preferably, the user should use
# the .NodeRegistration.KubeletExtraArgs object in the configuration files instead. \
KUBELET_EXTRA_ARGS should be sourced from this file.
EnvironmentFile=-/etc/default/kubelet
ExecStart=
ExecStart=/usr/bin/kubelet $KUBELET_KUBECONFIG_ARGS $KUBELET_CONFIG_ARGS $KUBELET_KUBEADM_ARGS $KUBELET_EXTRA_ARGS
"""

# kubernetes/release cmd/krel/templates/latest/kubelet/kubelet.env, as /etc/default/kubelet.
DEFAULT_KUBELET = "KUBELET_EXTRA_ARGS=\n"

# cmd/kubeadm/app/phases/kubelet/flags.go: the CRI socket and pause image (kubeadm 1.31 and 1.32:
# pause 3.10), keys sorted; --hostname-override only when the node name is not the hostname.
KUBEADM_FLAGS = (
    'KUBELET_KUBEADM_ARGS="--container-runtime-endpoint=unix:///var/run/containerd/containerd.sock '
    '--pod-infra-container-image=registry.k8s.io/pause:3.10"\n'
)


def kubeadm_kubelet_config(client_ca: str, cluster_dns: str, crash_loop_backoff: bool) -> str:
    """The KubeletConfiguration kubeadm writes to /var/lib/kubelet/config.yaml: its defaults
    (cmd/kubeadm/app/componentconfigs/kubelet.go) marshalled by Go, keys sorted, zero durations
    as 0s. No resolvConf: kubeadm sets it only where systemd-resolved is active, which Debian's
    images do not run. crashLoopBackOff: {} appears from 1.32 (KubeletCrashLoopBackOffMax)."""
    crash = "crashLoopBackOff: {}\n" if crash_loop_backoff else ""
    return f"""\
apiVersion: kubelet.config.k8s.io/v1beta1
authentication:
  anonymous:
    enabled: false
  webhook:
    cacheTTL: 0s
    enabled: true
  x509:
    clientCAFile: {client_ca}
authorization:
  mode: Webhook
  webhook:
    cacheAuthorizedTTL: 0s
    cacheUnauthorizedTTL: 0s
cgroupDriver: systemd
clusterDNS:
- {cluster_dns}
clusterDomain: cluster.local
containerRuntimeEndpoint: ""
cpuManagerReconcilePeriod: 0s
{crash}evictionPressureTransitionPeriod: 0s
fileCheckFrequency: 0s
healthzBindAddress: 127.0.0.1
healthzPort: 10248
httpCheckFrequency: 0s
imageMaximumGCAge: 0s
imageMinimumGCAge: 0s
kind: KubeletConfiguration
logging:
  flushFrequency: 0
  options:
    json:
      infoBufferSize: "0"
    text:
      infoBufferSize: "0"
  verbosity: 0
memorySwap: {{}}
nodeStatusReportFrequency: 0s
nodeStatusUpdateFrequency: 0s
rotateCertificates: true
runtimeRequestTimeout: 0s
shutdownGracePeriod: 0s
shutdownGracePeriodCriticalPods: 0s
staticPodPath: /etc/kubernetes/manifests
streamingConnectionIdleTimeout: 0s
syncFrequency: 0s
volumeStatsAggPeriod: 0s
"""


def kubelet_kubeconfig(server: str, ca_pem: bytes) -> str:
    """The kubeconfig the kubelet writes after its TLS bootstrap (bootstrap.go
    writeKubeconfigFromBootstrapping, clientcmd.Write): names default-cluster, default-auth,
    default-context; the CA copied from the bootstrap kubeconfig kubeadm wrote, as data."""
    ca_data = base64.b64encode(ca_pem).decode()
    return f"""\
apiVersion: v1
clusters:
- cluster:
    certificate-authority-data: {ca_data}
    server: {server}
  name: default-cluster
contexts:
- context:
    cluster: default-cluster
    namespace: default
    user: default-auth
  name: default-context
current-context: default-context
kind: Config
preferences: {{}}
users:
- name: default-auth
  user:
    client-certificate: {CLIENT_CURRENT}
    client-key: {CLIENT_CURRENT}
"""


# kubespray roles/kubernetes/node/templates/kubelet.service.j2 rendered with its defaults
# (container_manager containerd, bin_dir /usr/local/bin, kube_config_dir /etc/kubernetes,
# system_reserved and kube_reserved false, kubelet_systemd_hardening false).
KUBELET_SERVICE_KUBESPRAY = """\
[Unit]
Description=Kubernetes Kubelet Server
Documentation=https://github.com/GoogleCloudPlatform/kubernetes
After=containerd.service
Wants=containerd.service

[Service]
EnvironmentFile=-/etc/kubernetes/kubelet.env
ExecStart=/usr/local/bin/kubelet \\
\t\t$KUBE_LOGTOSTDERR \\
\t\t$KUBE_LOG_LEVEL \\
\t\t$KUBELET_API_SERVER \\
\t\t$KUBELET_ADDRESS \\
\t\t$KUBELET_PORT \\
\t\t$KUBELET_HOSTNAME \\
\t\t$KUBELET_ARGS \\
\t\t$DOCKER_SOCKET \\
\t\t$KUBELET_NETWORK_PLUGIN \\
\t\t$KUBELET_VOLUME_PLUGIN \\
\t\t$KUBELET_CLOUDPROVIDER
Restart=always
RestartSec=10s

[Install]
WantedBy=multi-user.target
"""


def kubespray_kubelet_env(node: str, node_ip: str) -> str:
    """kubespray roles/kubernetes/node/templates/kubelet.env.v1beta1.j2 with its defaults
    (kube_log_level 2, kube_override_hostname = the inventory name, kubelet_runtime_cgroups
    /system.slice/containerd.service, kubelet_custom_flags [], kubelet_flexvolumes_plugins_dir
    from the preinstall role, cloud_provider ""), Ansible's trim_blocks included. Note: the CRI
    endpoint is not a flag here; kubespray puts it in kubelet-config.yaml."""
    return f"""\
KUBE_LOG_LEVEL="--v=2"
KUBELET_ADDRESS="--node-ip={node_ip}"
KUBELET_HOSTNAME="--hostname-override={node}"


KUBELET_ARGS="--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf \\
--config=/etc/kubernetes/kubelet-config.yaml \\
--kubeconfig=/etc/kubernetes/kubelet.conf \\
--runtime-cgroups=/system.slice/containerd.service \\
 "
KUBELET_VOLUME_PLUGIN="--volume-plugin-dir=/usr/libexec/kubernetes/kubelet-plugins/volume/exec"
KUBELET_CLOUDPROVIDER=""

PATH=/usr/local/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
"""


# kubespray roles/kubernetes/node/templates/kubelet-config.v1beta1.yaml.j2 with its defaults:
# Ansible renders the booleans of its variables as True, plain ones as false/true; kubelet_bind_address
# is 0.0.0.0 without an inventory "ip"; enable_nodelocaldns puts 169.254.25.10 in clusterDNS;
# kubeReserved/systemReserved come out even with kube_reserved/system_reserved false.
KUBESPRAY_KUBELET_CONFIG = """\
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
nodeStatusUpdateFrequency: "10s"
failSwapOn: True
authentication:
  anonymous:
    enabled: false
  webhook:
    enabled: True
  x509:
    clientCAFile: /etc/kubernetes/ssl/ca.crt
authorization:
  mode: Webhook
staticPodPath: /etc/kubernetes/manifests
cgroupDriver: systemd
containerLogMaxFiles: 5
containerLogMaxSize: 10Mi
containerRuntimeEndpoint : unix:///var/run/containerd/containerd.sock
maxPods: 110
podPidsLimit: -1
address: 0.0.0.0
readOnlyPort: 0
healthzPort: 10248
healthzBindAddress: 127.0.0.1
kubeletCgroups: /system.slice/kubelet.service
clusterDomain: cluster.local
protectKernelDefaults: true
rotateCertificates: true
clusterDNS:
- 169.254.25.10
kubeReserved:
  cpu: "100m"
  memory: "256Mi"
  ephemeral-storage: "500Mi"
  pid: "1000"
systemReserved:
  cpu: "500m"
  memory: "512Mi"
  ephemeral-storage: "500Mi"
  pid: "1000"
resolvConf: "/etc/resolv.conf"
eventRecordQPS: 50
shutdownGracePeriod: 60s
shutdownGracePeriodCriticalPods: 20s
maxParallelImagePulls: 1
"""


# --- the plans ----------------------------------------------------------------------------------


def read_certs(certs: Path) -> dict:
    names = ("ca.crt", "kubelet.crt", "kubelet.key", "client.crt", "client.key")
    missing = [name for name in names if not (certs / name).is_file()]
    if missing:
        raise SystemExit(f"layout: missing in {certs}: {', '.join(missing)}")
    return {name: (certs / name).read_bytes() for name in names}


def kubelet_pki(pem: dict, source: str) -> list:
    """/var/lib/kubelet/pki as the kubelet leaves it: the serving pair it generates when no
    tlsCertFile is set (cmd/kubelet/app/server.go InitializeTLS: certutil.WriteCert 0644 with the
    leaf then its CA, keyutil.WriteKey 0600), the client pair of its TLS bootstrap in a dated
    file (certificate_store.go Update: 0600, certificates then key, directory 0755) and the
    kubelet-client-current.pem link to it, with an absolute target (updateSymlink)."""
    why = f"{source}; kubelet's cert dir, client-go util/cert WriteCert and certificate_store.go"
    return [
        d(PKI, 0o755, source=why),
        f(
            f"{PKI}/kubelet.crt",
            pem["kubelet.crt"] + pem["ca.crt"],
            0o644,
            source="kubelet InitializeTLS, WriteCert 0644",
        ),
        f(f"{PKI}/kubelet.key", pem["kubelet.key"], 0o600, source="kubelet InitializeTLS, keyutil.WriteKey 0600"),
        f(CLIENT_PEM, pem["client.crt"] + pem["client.key"], 0o600, source="certificate_store.go Update, 0600"),
        link(CLIENT_CURRENT, CLIENT_PEM, source="certificate_store.go updateSymlink, absolute target"),
    ]


def plan_kubeadm(standin: bytes, pem: dict) -> list:
    deb = "kubernetes/release cmd/krel/templates/latest/kubelet/kubelet.spec"
    kubeadm_deb = "kubernetes/release cmd/krel/templates/latest/kubeadm/kubeadm.spec"
    join = "cmd/kubeadm/app/phases/kubelet"
    return [
        f("/usr/bin/kubelet", standin, 0o755, source=f"{deb}: install -p -m 755 kubelet %{{_bindir}}"),
        f("/usr/lib/systemd/system/kubelet.service", KUBELET_SERVICE_DEB, 0o644, source=f"{deb}: install -m 644"),
        d("/usr/lib/systemd/system/kubelet.service.d", 0o755, source=f"{kubeadm_deb}: mkdir -p, %dir"),
        f(
            "/usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf",
            KUBEADM_DROPIN,
            0o644,
            source=f"{kubeadm_deb}: install -p -m 644",
        ),
        f("/etc/default/kubelet", DEFAULT_KUBELET, 0o644, source=f"{deb}: install -p -m 644 -T kubelet.env"),
        d("/etc/kubernetes", 0o755, source=f"{deb}: mkdir -p, %dir"),
        d("/etc/kubernetes/manifests", 0o755, source=f"{deb}: mkdir -p, %dir"),
        f("/etc/kubernetes/manifests/.kubelet-keep", b"", 0o644, source=f"{deb}: touch (dpkg keeps no empty dir)"),
        d("/var/lib/kubelet", 0o755, source=f"{deb}: mkdir -p %{{_sharedstatedir}}/kubelet (before kubeadm's 0700)"),
        f("/var/lib/kubelet/.kubelet-keep", b"", 0o644, source=f"{deb}: touch"),
        f("/var/lib/kubelet/kubeadm-flags.env", KUBEADM_FLAGS, 0o644, source=f"{join}/flags.go: WriteFile 0644"),
        f(
            "/var/lib/kubelet/config.yaml",
            kubeadm_kubelet_config("/etc/kubernetes/pki/ca.crt", "10.96.0.10", crash_loop_backoff=True),
            0o644,
            source=f"{join}/config.go writeConfigBytesToDisk: WriteFile 0644",
        ),
        d("/etc/kubernetes/pki", 0o755, source="kubeadm join: certutil.WriteCert MkdirAll 0755"),
        f("/etc/kubernetes/pki/ca.crt", pem["ca.crt"], 0o644, source="kubeadm join: certutil.WriteCert 0644"),
        f(
            "/etc/kubernetes/kubelet.conf",
            kubelet_kubeconfig(API_SERVER_KUBEADM, pem["ca.crt"]),
            0o600,
            source="kubelet TLS bootstrap: clientcmd.WriteToFile 0600",
        ),
        *kubelet_pki(pem, "kubelet TLS bootstrap"),
        f(
            CONTAINERD_CONFIG,
            kubeadm_containerd_config(),
            0o644,
            source="kubernetes.io container runtimes: containerd config default > config.toml (umask 022), edited",
        ),
    ]


def plan_kubespray(standin: bytes, pem: dict, node: str, node_ip: str) -> list:
    node_role = "kubespray roles/kubernetes/node/tasks"
    pre = "kubespray roles/kubernetes/preinstall/tasks/0050-create_directories.yml"
    containerd = "kubespray roles/container-engine/containerd/tasks/main.yml"
    kube = {"owner": KUBE_USER, "group": None}
    return [
        d("/usr/local/bin", 0o755, group=None, source=f"{pre}: other directories of root owner, 0755"),
        f("/usr/local/bin/kubelet", standin, 0o755, source=f"{node_role}/install.yml: copy mode 0755"),
        d("/etc/kubernetes", 0o755, **kube, source=f"{pre}: owner kube_owner, 0755"),
        d("/etc/kubernetes/manifests", 0o755, **kube, source=f"{pre}: owner kube_owner, 0755"),
        d("/usr/local/bin/kubernetes-scripts", 0o755, **kube, source=f"{pre}: kube_script_dir, owner kube_owner, 0755"),
        *(
            d(path, 0o755, **kube, source=f"{pre}: kubelet_flexvolumes_plugins_dir, owner kube_owner, 0755")
            for path in (
                "/usr/libexec/kubernetes",
                "/usr/libexec/kubernetes/kubelet-plugins",
                "/usr/libexec/kubernetes/kubelet-plugins/volume",
                "/usr/libexec/kubernetes/kubelet-plugins/volume/exec",
            )
        ),
        d("/etc/kubernetes/ssl", 0o755, source=f"{pre}: kube_cert_dir, root, 0755"),
        link("/etc/kubernetes/pki", "/etc/kubernetes/ssl", source=f"{pre}: kube_cert_compat_dir link (kubeadm#1498)"),
        f(
            "/etc/kubernetes/ssl/ca.crt",
            pem["ca.crt"],
            0o644,
            source="kubeadm join caCertPath; kubespray roles/kubernetes/kubeadm/tasks/main.yml: root:root 0644",
        ),
        f(
            "/etc/kubernetes/kubelet.env",
            kubespray_kubelet_env(node, node_ip),
            0o600,
            source=f"{node_role}/kubelet.yml: 0600",
        ),
        f(
            "/etc/kubernetes/kubelet-config.yaml",
            KUBESPRAY_KUBELET_CONFIG,
            0o600,
            source=f"{node_role}/kubelet.yml: 0600",
        ),
        f(
            "/etc/systemd/system/kubelet.service",
            KUBELET_SERVICE_KUBESPRAY,
            0o600,
            source=f"{node_role}/kubelet.yml: 0600",
        ),
        f(
            "/etc/kubernetes/kubelet.conf",
            kubelet_kubeconfig(API_SERVER_KUBESPRAY, pem["ca.crt"]),
            0o600,
            source="kubelet TLS bootstrap (0600), server line rewritten by roles/kubernetes/kubeadm/tasks/main.yml",
        ),
        d("/var/lib/kubelet", 0o700, source="kubeadm join: cmd/kubeadm/app/phases/kubelet MkdirAll 0700"),
        f(
            "/var/lib/kubelet/kubeadm-flags.env",
            KUBEADM_FLAGS,
            0o644,
            source="kubeadm join (unused by kubespray's unit): flags.go 0644",
        ),
        f(
            "/var/lib/kubelet/config.yaml",
            kubeadm_kubelet_config("/etc/kubernetes/ssl/ca.crt", "169.254.25.10", crash_loop_backoff=False),
            0o644,
            source="kubeadm 1.31 join (unused by kubespray's unit): config.go 0644",
        ),
        *kubelet_pki(pem, "kubelet TLS bootstrap"),
        d("/etc/containerd", 0o755, source=f"{containerd}: Ensure containerd directories exist, root 0755"),
        f(
            CONTAINERD_CONFIG,
            KUBESPRAY_CONTAINERD_CONFIG,
            0o640,
            source=f"{containerd}: Copy containerd config file, root 0640",
        ),
        link("/usr/local/bin/runc", DEBIAN_RUNC, source=f"{containerd}: runc in bin_dir (here Debian's)"),
    ]


def plan(kind: str, standin: bytes, certs: Path, node: str, node_ip: str) -> list:
    pem = read_certs(certs)
    if kind == "kubeadm":
        return plan_kubeadm(standin, pem)
    return plan_kubespray(standin, pem, node, node_ip)


# --- applying -----------------------------------------------------------------------------------


class Applier:
    def __init__(self, root: str | None, owners: bool):
        self.root = root
        self.owners = owners
        self.changed: list = []

    def host(self, path: str) -> str:
        return os.path.join(self.root, path.lstrip("/")) if self.root else path

    def ids(self, entry: Entry) -> tuple:
        gid = -1 if entry.group is None else grp.getgrnam(entry.group).gr_gid
        return pwd.getpwnam(entry.owner).pw_uid, gid

    def attributes(self, path: str, entry: Entry) -> None:
        info = os.lstat(path)
        if (info.st_mode & 0o7777) != entry.mode:
            os.chmod(path, entry.mode)
            self.changed.append(f"mode {entry.mode:04o} {entry.path}")
        if self.owners:
            uid, gid = self.ids(entry)
            if info.st_uid != uid or gid not in (-1, info.st_gid):
                os.chown(path, uid, gid)
                self.changed.append(f"owner {entry.owner}:{entry.group or '-'} {entry.path}")

    def directory(self, entry: Entry) -> None:
        path = self.host(entry.path)
        if os.path.islink(path):
            raise SystemExit(f"layout: {entry.path} is a symbolic link, the tools leave a directory")
        if not os.path.isdir(path):
            os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
            os.mkdir(path, entry.mode)
            self.changed.append(f"created {entry.path}")
        self.attributes(path, entry)

    def file(self, entry: Entry) -> None:
        path = self.host(entry.path)
        directory = os.path.dirname(path)
        os.makedirs(directory, mode=0o755, exist_ok=True)
        if os.path.isfile(path) and not os.path.islink(path):
            with open(path, "rb") as handle:
                if handle.read() == entry.content:
                    self.attributes(path, entry)
                    return
        handle, temporary = tempfile.mkstemp(prefix=".layout-", dir=directory)
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(entry.content)
                out.flush()
                os.fchmod(out.fileno(), entry.mode)
                if self.owners:
                    os.fchown(out.fileno(), *self.ids(entry))
                os.fsync(out.fileno())
            os.replace(temporary, path)
        except BaseException:
            if os.path.exists(temporary):
                os.unlink(temporary)
            raise
        self.changed.append(f"wrote {entry.path}")

    def link(self, entry: Entry) -> None:
        path = self.host(entry.path)
        if os.path.islink(path) and os.readlink(path) == entry.target:
            return
        if os.path.isdir(path) and not os.path.islink(path):
            # kubespray links /etc/kubernetes/pki only "when not kube_cert_compat_dir_check.stat.exists".
            self.changed.append(f"left the existing directory {entry.path}")
            return
        os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
        temporary = os.path.join(os.path.dirname(path), f".layout-{os.getpid()}-{os.path.basename(path)}")
        if os.path.lexists(temporary):
            os.unlink(temporary)
        os.symlink(entry.target, temporary)
        os.replace(temporary, path)
        self.changed.append(f"linked {entry.path} -> {entry.target}")

    def apply(self, entries: list) -> None:
        for entry in entries:
            getattr(self, {"dir": "directory", "file": "file", "link": "link"}[entry.kind])(entry)


def sysctl_target(applier: Applier) -> str:
    """kubespray's "Change sysctl file path to link source if linked": the file the link names."""
    path = applier.host(SYSCTL_FILE)
    if not os.path.islink(path):
        return SYSCTL_FILE
    target = os.readlink(path)
    return os.path.normpath(os.path.join(os.path.dirname(SYSCTL_FILE), target))


def set_kernel_defaults(applier: Applier, write_proc: bool) -> None:
    """As ansible.posix.sysctl does for each key: replace its "key=value" line or append one,
    then (its reload) apply the values."""
    node_path = sysctl_target(applier)
    path = applier.host(node_path)
    lines = Path(path).read_text(encoding="utf-8").splitlines() if os.path.isfile(path) else []
    for key, value in KERNEL_DEFAULTS:
        wanted = f"{key}={value}"
        found = [i for i, line in enumerate(lines) if line.split("=", 1)[0].strip() == key and "=" in line]
        if found:
            for index in found:
                lines[index] = wanted
        else:
            lines.append(wanted)
    mode = os.stat(path).st_mode & 0o7777 if os.path.exists(path) else 0o644
    applier.apply([f(node_path, "\n".join(lines) + "\n", mode, source="kubespray preinstall sysctl")])
    if write_proc:
        for key, value in KERNEL_DEFAULTS:
            proc = "/proc/sys/" + key.replace(".", "/")
            with open(proc, encoding="ascii") as handle:
                if handle.read().strip() == value:
                    continue
            with open(proc, "w", encoding="ascii") as handle:
                handle.write(value)
            applier.changed.append(f"sysctl {key}={value}")


def ensure_kube_user() -> None:
    """kubespray roles/adduser: a system group kube-cert and a system user kube in it, no home,
    shell /sbin/nologin, comment "Kubernetes user"."""
    try:
        grp.getgrnam(KUBE_GROUP)
    except KeyError:
        run(["groupadd", "--system", KUBE_GROUP])
    try:
        pwd.getpwnam(KUBE_USER)
    except KeyError:
        run(
            [
                "useradd", "--system", "--no-create-home", "--shell", "/sbin/nologin",
                "--gid", KUBE_GROUP, "--comment", "Kubernetes user", KUBE_USER,
            ]
        )  # fmt: skip


def run(command: list) -> str:
    done = subprocess.run(command, capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False)
    if done.returncode != 0:
        raise SystemExit(
            f"layout: {' '.join(command)} failed ({done.returncode}): {(done.stderr or done.stdout).strip()}"
        )
    return done.stdout


def healthz_ok() -> bool:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # no http_proxy for loopback
    try:
        with opener.open(HEALTHZ, timeout=2) as answer:
            return answer.status == 200 and answer.read().strip() == b"ok"
    except OSError:
        return False


def start_kubelet(changed: bool) -> None:
    run(["systemctl", "daemon-reload"])
    run(["systemctl", "enable", "kubelet.service"])
    run(["systemctl", "restart" if changed else "start", "kubelet.service"])
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        if healthz_ok():
            return
        time.sleep(0.5)
    state = subprocess.run(["systemctl", "is-active", "kubelet.service"], capture_output=True, text=True, check=False)
    journal = subprocess.run(
        ["journalctl", "--unit", "kubelet.service", "--lines", "5", "--no-pager", "--output", "cat"],
        capture_output=True,
        text=True,
        check=False,
    )
    raise SystemExit(
        f"layout: kubelet.service ({state.stdout.strip() or 'unknown'}) did not answer ok on {HEALTHZ} "
        f"within {WAIT_SECONDS} s; its last log lines:\n{journal.stdout.strip()}"
    )


def start_containerd(changed: bool) -> None:
    """Restart containerd when its configuration changed (the tools' "Restart containerd"), import
    the lab's images with the node image's oneshot unit (a no-op once it ran; a restart of
    containerd restarts it too, as it requires containerd), then check that the CRI plugin loaded
    the new configuration and that both images are in its namespace."""
    if changed:
        run(["systemctl", "restart", "containerd.service"])
    run(["systemctl", "start", IMPORT_UNIT])
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        plugins = run(["ctr", "plugins", "ls"])
        # Columns: TYPE ID PLATFORMS STATUS; the CRI plugin is io.containerd.grpc.v1 cri.
        cri = [line.split() for line in plugins.splitlines() if line.split()[:2] == ["io.containerd.grpc.v1", "cri"]]
        if cri and cri[0][-1] == "ok":
            break
        if time.monotonic() > deadline or (cri and cri[0][-1] == "error"):
            journal = subprocess.run(
                ["journalctl", "--unit", "containerd.service", "--lines", "20", "--no-pager", "--output", "cat"],
                capture_output=True,
                text=True,
                check=False,
            ).stdout
            errors = "\n".join(line for line in journal.splitlines() if "io.containerd.grpc.v1.cri" in line)
            raise SystemExit(f"layout: containerd's CRI plugin did not load {CONTAINERD_CONFIG}:\n{errors}")
        time.sleep(0.5)
    images = run(["ctr", "--namespace", "k8s.io", "images", "list", "--quiet"]).split()
    missing = [image for image in (PAUSE_IMAGE, BUSYBOX_IMAGE) if image not in images]
    if missing:
        raise SystemExit(f"layout: not in containerd's k8s.io namespace after {IMPORT_UNIT}: {', '.join(missing)}")


def default_ipv4() -> str:
    """What Ansible reports as ansible_default_ipv4.address: the source address of the route to
    8.8.8.8 (no packet is sent), else kubespray's fallback 127.0.0.1."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("8.8.8.8", 53))
            return probe.getsockname()[0]
    except OSError:
        return "127.0.0.1"


def conflict(kind: str, root: str | None) -> str | None:
    other = (
        "/etc/systemd/system/kubelet.service"
        if kind == "kubeadm"
        else "/usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf"
    )
    path = os.path.join(root, other.lstrip("/")) if root else other
    return other if os.path.exists(path) else None


def main(argv: list | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=("kubeadm", "kubespray"))
    parser.add_argument("--root", help="lay the files out under this directory; no systemd, chown or sysctl")
    parser.add_argument("--standin", default=str(HERE / "standin_kubelet.py"), help="the stand-in kubelet")
    parser.add_argument("--certs", default=str(HERE / "certs"), help="the test PEM files")
    parser.add_argument("--no-systemd", action="store_true", help="do not reload, enable, start or wait")
    parser.add_argument("--node-name", default=None, help="default: the hostname")
    parser.add_argument("--node-ip", default=None, help="kubespray's --node-ip; default: the default route's")
    parser.add_argument("--no-kernel-defaults", action="store_true", help="kubespray: leave the sysctls alone")
    args = parser.parse_args(argv)

    root = os.path.abspath(args.root) if args.root else None
    real_node = root is None
    if real_node and os.geteuid() != 0:
        raise SystemExit("layout: run it as root on the VM, or give --root DIR")
    clash = conflict(args.kind, root)
    if clash:
        raise SystemExit(f"layout: {clash} is there: the other layout was laid on this node; one layout per node")
    node = args.node_name or socket.gethostname()
    node_ip = args.node_ip or default_ipv4()
    with open(args.standin, "rb") as handle:
        standin = handle.read()
    # Installed with the interpreter's path itself, so that the process's command name is the
    # program's name ("kubelet", as ps -C and kube-bench look for it), not "env" or "python3".
    if not standin.startswith(b"#!"):
        standin = b"#!/usr/bin/python3\n" + standin
    entries = plan(args.kind, standin, Path(args.certs), node, node_ip)

    if real_node and args.kind == "kubespray":
        ensure_kube_user()
    applier = Applier(root, owners=real_node)
    applier.apply(entries)
    if args.kind == "kubespray" and not args.no_kernel_defaults:
        set_kernel_defaults(applier, write_proc=real_node)
    for change in applier.changed:
        print(f"layout: {change}")
    if not applier.changed:
        print("layout: nothing to change")
    if real_node and not args.no_systemd:
        start_containerd(any(change.endswith(f" {CONTAINERD_CONFIG}") for change in applier.changed))
        print(f"layout: containerd's CRI plugin runs with {CONTAINERD_CONFIG}; {PAUSE_IMAGE} is there")
        start_kubelet(bool(applier.changed))
        print(f"layout: kubelet.service answers ok on {HEALTHZ}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
