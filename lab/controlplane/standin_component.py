# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Stand-in control plane component (nodeguard lab): not kube-apiserver, not kube-controller-manager,
not kube-scheduler, not etcd.

Debian's archive has none of the control plane binaries, so a lab control plane node runs this one
program under four names (/usr/local/bin/{kube-apiserver,kube-controller-manager,kube-scheduler,etcd},
see layout.py), started by static_pods.py from the kubeadm manifests as the kubelet would start the
containers. It stores nothing, serves no API and joins no cluster. What it does is what a test of a
static pod manifest editor (and of its roll-back) depends on: it starts, or refuses to start, from
a command line as the real component of Kubernetes v1.32 / etcd v3.5 would, and then answers the
health endpoints kubeadm's livenessProbe, readinessProbe and startupProbe ask for.

Which component it plays comes from the name it was run under, ``Path(sys.argv[0]).name`` (the
kernel names the process after the script it executes, so ``ps -C kube-apiserver`` finds it), or
from ``--as NAME`` before the component's own arguments (for tests).

1. Command line. Kubernetes components parse with pflag: ``--flag=value``, ``--flag value``, a bare
   ``--flag`` for a boolean; etcd parses with Go's flag package (``-flag`` or ``--flag``, same
   forms). The flag names each component accepts are data below (FLAGS): every flag kubeadm v1.32
   writes, every flag sections 1 and 2 of the CIS Kubernetes Benchmark name, and the rest of each
   component's ``--help`` of v1.32 as far as it was written down here. The list is NOT complete,
   and a flag missing from it is refused like an unknown flag, so when a real v1.32 flag is refused
   here, add it to the list. Unknown flag: ``Error: unknown flag: --x`` (etcd: ``flag provided but
   not defined: -x``), exit 1. A bad value of a typed flag (bool, int, float, duration, IP address,
   port, a comma list whose elements are an enumeration: --authorization-mode, the admission plugin
   lists, --tls-cipher-suites, --tls-min-version, --feature-gates as key=bool) is refused with
   pflag's wording (``invalid argument "x" for "--flag" flag: ...``) or the component's own.
   Feature gate names are not checked, only their values. A word that is not a flag (say the
   "false" of ``--profiling false``, since a boolean never takes the next word) is refused as
   cobra refuses arguments: ``"kube-apiserver" does not take any arguments, got ["false"]``.
2. Files. Each flag that names a file (certificates, keys, CA bundles, kubeconfigs, the audit
   policy, encryption, authentication, authorization and admission configuration files...) must name
   an existing file inside one of the pod's hostPath mounts: static_pods.py passes the container's
   mountPaths in NODELAB_MOUNTS (colon-separated) and the read-only ones again in
   NODELAB_READONLY_MOUNTS. A file outside every mount does not exist for the container:
   ``open /x: no such file or directory``, exit 1. --audit-log-path (unless "-") must lie in a
   writable mount; the stand-in creates the file, as the apiserver's log writer does. etcd's
   --data-dir likewise. The stand-in reads the host's paths: a mount whose mountPath differs from its
   hostPath is not translated (kubeadm's never differ).
3. Configuration files the apiserver parses at start: --encryption-provider-config must be an
   EncryptionConfiguration (apiserver.config.k8s.io/v1) whose providers are aescbc, aesgcm,
   secretbox, kms or identity, one per list item, with base64 keys of 16, 24 or 32 bytes (aescbc,
   aesgcm) or 32 bytes (secretbox); --audit-policy-file must be an audit.k8s.io/v1 Policy whose
   rules' levels are None, Metadata, Request or RequestResponse and whose omitStages are known
   stages; --authentication-config must be an AuthenticationConfiguration
   (apiserver.config.k8s.io/v1beta1 or v1alpha1). Giving --anonymous-auth together with an
   ``anonymous`` section there is fatal, worded as pkg/kubeapiserver/options/authentication.go
   words it. Messages follow the field-error style of k8s.io/apimachinery (``path: Invalid value:
   ...``); their exact wording is close to, not always the same as, the apiserver's.
4. Serving. kube-apiserver: HTTPS on --bind-address (0.0.0.0) : --secure-port (6443) with
   --tls-cert-file and --tls-private-key-file; /livez, /readyz and /healthz answer 200 "ok" to a
   request with a client certificate signed by --client-ca-file, and to an anonymous one only when
   anonymous requests are allowed for that path (anonymous_allowed below: the ``anonymous``
   section of the authentication configuration when there is one, with its conditions' paths, else
   --anonymous-auth, default true; kubeadm's RBAC lets system:unauthenticated read these paths);
   otherwise 401 with the apiserver's JSON Status body. kube-controller-manager: HTTPS on
   --bind-address (0.0.0.0; kubeadm sets 127.0.0.1) : --secure-port (10257); kube-scheduler the
   same on 10259; both answer /healthz, /livez and /readyz with 200 "ok" when the path is in
   --authorization-always-allow-paths (default /healthz,/readyz,/livez), as the real ones do for
   anonymous probes, else 403. Without --tls-cert-file they use a self-signed pair, as the real ones
   generate one in memory: here the one the layout installed (/var/lib/nodelab/standin-serving.crt
   and .key, or NODELAB_SERVING_CERT and NODELAB_SERVING_KEY). etcd: plain HTTP on the host and
   port of the first --listen-metrics-urls URL (kubeadm: http://127.0.0.1:2381), /livez, /readyz and
   /health (as etcd 3.5.11+). etcd's client and peer ports are not served.

It logs one line per decision to stderr, klog-style (etcd's real log is JSON; this one is not),
and its first line says what it is. SIGTERM and SIGINT end it with status 0.

Runs on Python 3.11 and 3.13 (Debian 12 and 13) with the standard library and PyYAML only.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import os
import re
import signal
import socket
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar
from urllib.parse import urlsplit

COMPONENTS = ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd")
SERVING_CERT = "/var/lib/nodelab/standin-serving.crt"
SERVING_KEY = "/var/lib/nodelab/standin-serving.key"


class Fatal(Exception):
    """A start-up failure: logged, then exit status 1."""


# --- logging ------------------------------------------------------------------------------------


def log(severity: str, message: str, **values) -> None:
    now = time.time()
    stamp = time.strftime("%m%d %H:%M:%S", time.localtime(now)) + f".{int(now % 1 * 1e6):06d}"
    pairs = "".join(f" {key}={json.dumps(str(value))}" for key, value in values.items())
    sys.stderr.write(f"{severity}{stamp} {os.getpid():7d} standin] {json.dumps(message)}{pairs}\n")
    sys.stderr.flush()


def info(message: str, **values) -> None:
    log("I", message, **values)


# --- flag types and tables ----------------------------------------------------------------------

BOOL, STR, INT, FLOAT, DURATION, IP, PORT = "bool", "string", "int", "float", "duration", "ip", "port"
LIST = "strings"  # a comma-separated list, free elements
FILE = "file"  # an existing file inside a mount
FILES = "files"  # a repeatable or comma-separated list of such files
WRITE_FILE = "write-file"  # a file the component creates in a writable mount ("-": stdout)
WRITE_DIR = "write-dir"  # a directory the component creates in a writable mount
AUTHZ_MODES = "authorization-modes"
ADMISSION = "admission-plugins"
CIPHERS = "cipher-suites"
TLS_VERSION = "tls-version"
GATES = "feature-gates"
CONFIG = {"encryption": "encryption", "audit": "audit-policy", "authn": "authentication-config"}

# pkg/kubeapiserver/authorizer/modes/modes.go.
AUTHORIZATION_MODES = ("AlwaysAllow", "AlwaysDeny", "ABAC", "Webhook", "RBAC", "Node")

# The admission plugins kube-apiserver v1.32 registers (pkg/kubeapiserver/options/plugins.go
# AllOrderedPlugins, with the generic ones of k8s.io/apiserver).
ADMISSION_PLUGINS = frozenset(
    {
        "AlwaysAdmit",
        "AlwaysDeny",
        "AlwaysPullImages",
        "CertificateApproval",
        "CertificateSigning",
        "CertificateSubjectRestriction",
        "ClusterTrustBundleAttest",
        "DefaultIngressClass",
        "DefaultStorageClass",
        "DefaultTolerationSeconds",
        "DenyServiceExternalIPs",
        "EventRateLimit",
        "ExtendedResourceToleration",
        "ImagePolicyWebhook",
        "LimitPodHardAntiAffinityTopology",
        "LimitRanger",
        "MutatingAdmissionPolicy",
        "MutatingAdmissionWebhook",
        "NamespaceAutoProvision",
        "NamespaceExists",
        "NamespaceLifecycle",
        "NodeRestriction",
        "OwnerReferencesPermissionEnforcement",
        "PersistentVolumeClaimResize",
        "PodNodeSelector",
        "PodSecurity",
        "PodTolerationRestriction",
        "Priority",
        "ResourceQuota",
        "RuntimeClass",
        "ServiceAccount",
        "StorageObjectInUseProtection",
        "TaintNodesByCondition",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionWebhook",
    }
)

# Go's crypto/tls names (tls.CipherSuites() and tls.InsecureCipherSuites()), as
# k8s.io/component-base/cli/flag/ciphersuites_flag.go accepts them.
CIPHER_SUITES = frozenset(
    {
        "TLS_AES_128_GCM_SHA256",
        "TLS_AES_256_GCM_SHA384",
        "TLS_CHACHA20_POLY1305_SHA256",
        "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
        "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
        "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
        "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
        "TLS_RSA_WITH_RC4_128_SHA",
        "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
        "TLS_RSA_WITH_AES_128_CBC_SHA",
        "TLS_RSA_WITH_AES_256_CBC_SHA",
        "TLS_RSA_WITH_AES_128_CBC_SHA256",
        "TLS_RSA_WITH_AES_128_GCM_SHA256",
        "TLS_RSA_WITH_AES_256_GCM_SHA384",
        "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA",
        "TLS_ECDHE_RSA_WITH_RC4_128_SHA",
        "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA",
        "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
        "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305",
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305",
    }
)
TLS_VERSIONS = ("VersionTLS10", "VersionTLS11", "VersionTLS12", "VersionTLS13")


def _flags(kind: str, names: str) -> dict:
    return dict.fromkeys(names.split(), kind)


# k8s.io/component-base logs, metrics and version flags, on every Kubernetes component.
COMPONENT_BASE = {
    **_flags(BOOL, "help log-json-split-stream log-text-split-stream"),
    **_flags(INT, "v"),
    **_flags(DURATION, "log-flush-frequency"),
    **_flags(STR, "log-json-info-buffer-size log-text-info-buffer-size logging-format vmodule version"),
    **_flags(STR, "show-hidden-metrics-for-version"),
    **_flags(LIST, "allow-metric-labels disabled-metrics"),
    **_flags(FILE, "allow-metric-labels-manifest"),
    **_flags(GATES, "feature-gates"),
}

# k8s.io/apiserver secure serving (SecureServingOptions) and the TLS flags.
SECURE_SERVING = {
    **_flags(IP, "bind-address"),
    **_flags(PORT, "secure-port"),
    **_flags(STR, "cert-dir"),
    **_flags(INT, "http2-max-streams-per-connection"),
    **_flags(BOOL, "permit-address-sharing permit-port-sharing"),
    **_flags(FILE, "tls-cert-file tls-private-key-file"),
    **_flags(CIPHERS, "tls-cipher-suites"),
    **_flags(TLS_VERSION, "tls-min-version"),
    **_flags(LIST, "tls-sni-cert-key"),
}

# Delegated authentication and authorization of the controller manager and the scheduler
# (k8s.io/apiserver/pkg/server/options/authentication.go and authorization.go).
DELEGATED_AUTH = {
    **_flags(FILE, "authentication-kubeconfig authorization-kubeconfig client-ca-file requestheader-client-ca-file"),
    **_flags(BOOL, "authentication-skip-lookup authentication-tolerate-lookup-failure"),
    **_flags(DURATION, "authentication-token-webhook-cache-ttl"),
    **_flags(DURATION, "authorization-webhook-cache-authorized-ttl authorization-webhook-cache-unauthorized-ttl"),
    **_flags(LIST, "authorization-always-allow-paths requestheader-allowed-names"),
    **_flags(LIST, "requestheader-extra-headers-prefix requestheader-group-headers requestheader-username-headers"),
    **_flags(LIST, "requestheader-uid-headers"),
}

LEADER_ELECTION = {
    **_flags(BOOL, "leader-elect"),
    **_flags(DURATION, "leader-elect-lease-duration leader-elect-renew-deadline leader-elect-retry-period"),
    **_flags(STR, "leader-elect-resource-lock leader-elect-resource-name leader-elect-resource-namespace"),
}

CLIENT_CONNECTION = {
    **_flags(FILE, "kubeconfig"),
    **_flags(STR, "master kube-api-content-type"),
    **_flags(INT, "kube-api-burst"),
    **_flags(FLOAT, "kube-api-qps"),
    **_flags(BOOL, "contention-profiling profiling"),
}

APISERVER_FLAGS = {
    **COMPONENT_BASE,
    **SECURE_SERVING,
    # generic (k8s.io/apiserver ServerRunOptions, FeatureOptions)
    **_flags(IP, "advertise-address"),
    **_flags(LIST, "cors-allowed-origins strict-transport-security-directives"),
    **_flags(INT, "default-not-ready-toleration-seconds default-unreachable-toleration-seconds"),
    **_flags(STR, "external-hostname emulated-version debug-socket-path"),
    **_flags(FLOAT, "goaway-chance"),
    **_flags(DURATION, "livez-grace-period request-timeout shutdown-delay-duration"),
    **_flags(DURATION, "shutdown-watch-termination-grace-period"),
    **_flags(INT, "max-mutating-requests-inflight max-requests-inflight min-request-timeout"),
    **_flags(BOOL, "shutdown-send-retry-after enable-priority-and-fairness contention-profiling profiling"),
    **_flags(BOOL, "aggregator-reject-forwarding-redirect enable-aggregator-routing enable-logs-handler"),
    # etcd storage
    **_flags(INT, "delete-collection-workers etcd-count-metric-poll-period lease-reuse-duration-seconds"),
    **_flags(BOOL, "enable-garbage-collector encryption-provider-config-automatic-reload watch-cache"),
    **_flags(FILE, "etcd-cafile etcd-certfile etcd-keyfile"),
    **_flags(CONFIG["encryption"], "encryption-provider-config"),
    **_flags(DURATION, "etcd-compaction-interval etcd-db-metric-poll-interval etcd-healthcheck-timeout"),
    **_flags(DURATION, "etcd-readycheck-timeout"),
    **_flags(STR, "etcd-prefix storage-backend storage-media-type"),
    **_flags(LIST, "etcd-servers etcd-servers-overrides watch-cache-sizes"),
    # audit
    **_flags(INT, "audit-log-batch-buffer-size audit-log-batch-max-size audit-log-batch-throttle-burst"),
    **_flags(INT, "audit-log-maxage audit-log-maxbackup audit-log-maxsize audit-log-truncate-max-batch-size"),
    **_flags(INT, "audit-log-truncate-max-event-size audit-webhook-batch-buffer-size"),
    **_flags(INT, "audit-webhook-batch-max-size audit-webhook-batch-throttle-burst"),
    **_flags(INT, "audit-webhook-truncate-max-batch-size audit-webhook-truncate-max-event-size"),
    **_flags(DURATION, "audit-log-batch-max-wait audit-webhook-batch-initial-backoff audit-webhook-batch-max-wait"),
    **_flags(DURATION, "audit-webhook-initial-backoff"),
    **_flags(FLOAT, "audit-log-batch-throttle-qps audit-webhook-batch-throttle-qps"),
    **_flags(BOOL, "audit-log-batch-throttle-enable audit-log-compress audit-log-truncate-enabled"),
    **_flags(BOOL, "audit-webhook-batch-throttle-enable audit-webhook-truncate-enabled"),
    **_flags(STR, "audit-log-format audit-log-mode audit-log-version audit-webhook-mode audit-webhook-version"),
    **_flags(WRITE_FILE, "audit-log-path"),
    **_flags(CONFIG["audit"], "audit-policy-file"),
    **_flags(FILE, "audit-webhook-config-file"),
    # authentication
    **_flags(BOOL, "anonymous-auth enable-bootstrap-token-auth service-account-extend-token-expiration"),
    **_flags(BOOL, "service-account-lookup"),
    **_flags(LIST, "api-audiences oidc-signing-algs requestheader-allowed-names requestheader-extra-headers-prefix"),
    **_flags(LIST, "requestheader-group-headers requestheader-username-headers requestheader-uid-headers"),
    **_flags(CONFIG["authn"], "authentication-config"),
    **_flags(DURATION, "authentication-token-webhook-cache-ttl service-account-max-token-expiration"),
    **_flags(FILE, "authentication-token-webhook-config-file client-ca-file oidc-ca-file"),
    **_flags(FILE, "requestheader-client-ca-file token-auth-file service-account-signing-key-file"),
    **_flags(FILES, "service-account-key-file"),
    **_flags(STR, "authentication-token-webhook-version oidc-client-id oidc-groups-claim oidc-groups-prefix"),
    **_flags(STR, "oidc-issuer-url oidc-username-claim oidc-username-prefix service-account-jwks-uri"),
    **_flags(LIST, "service-account-issuer oidc-required-claim"),
    # authorization
    **_flags(AUTHZ_MODES, "authorization-mode"),
    **_flags(FILE, "authorization-config authorization-policy-file authorization-webhook-config-file"),
    **_flags(DURATION, "authorization-webhook-cache-authorized-ttl authorization-webhook-cache-unauthorized-ttl"),
    **_flags(STR, "authorization-webhook-version"),
    # API enablement, egress, admission, traces
    **_flags(LIST, "runtime-config"),
    **_flags(FILE, "egress-selector-config-file admission-control-config-file tracing-config-file"),
    **_flags(ADMISSION, "enable-admission-plugins disable-admission-plugins admission-control"),
    # misc (cmd/kube-apiserver/app/options)
    **_flags(BOOL, "allow-privileged"),
    **_flags(STR, "endpoint-reconciler-type service-cluster-ip-range service-node-port-range"),
    **_flags(STR, "cloud-provider cloud-config"),
    **_flags(DURATION, "event-ttl kubelet-timeout"),
    **_flags(FILE, "kubelet-certificate-authority kubelet-client-certificate kubelet-client-key"),
    **_flags(FILE, "proxy-client-cert-file proxy-client-key-file peer-ca-file"),
    **_flags(LIST, "kubelet-preferred-address-types"),
    **_flags(PORT, "kubernetes-service-node-port"),
    **_flags(INT, "max-connection-bytes-per-sec peer-advertise-port"),
    **_flags(IP, "peer-advertise-ip"),
}

CONTROLLER_MANAGER_FLAGS = {
    **COMPONENT_BASE,
    **SECURE_SERVING,
    **DELEGATED_AUTH,
    **LEADER_ELECTION,
    **CLIENT_CONNECTION,
    **_flags(STR, "cloud-provider cloud-config cluster-name cluster-cidr service-cluster-ip-range"),
    **_flags(STR, "cidr-allocator-type external-cloud-volume-plugin emulated-version"),
    **_flags(BOOL, "allocate-node-cidrs allow-untagged-cloud configure-cloud-routes enable-dynamic-provisioning"),
    **_flags(BOOL, "enable-garbage-collector enable-hostpath-provisioner enable-leader-migration"),
    **_flags(BOOL, "disable-attach-detach-reconcile-sync disable-force-detach-on-timeout"),
    **_flags(BOOL, "use-service-account-credentials volume-host-allow-local-loopback"),
    **_flags(LIST, "controllers volume-host-cidr-denylist"),
    **_flags(FILE, "root-ca-file service-account-private-key-file cluster-signing-cert-file"),
    **_flags(FILE, "cluster-signing-key-file cluster-signing-kube-apiserver-client-cert-file"),
    **_flags(FILE, "cluster-signing-kube-apiserver-client-key-file cluster-signing-kubelet-client-cert-file"),
    **_flags(FILE, "cluster-signing-kubelet-client-key-file cluster-signing-kubelet-serving-cert-file"),
    **_flags(FILE, "cluster-signing-kubelet-serving-key-file cluster-signing-legacy-unknown-cert-file"),
    **_flags(FILE, "cluster-signing-legacy-unknown-key-file leader-migration-config"),
    **_flags(FILE, "pv-recycler-pod-template-filepath-hostpath pv-recycler-pod-template-filepath-nfs"),
    **_flags(STR, "flex-volume-plugin-dir"),
    **_flags(DURATION, "attach-detach-reconcile-sync-period cluster-signing-duration controller-start-interval"),
    **_flags(DURATION, "endpoint-updates-batch-period endpointslice-updates-batch-period"),
    **_flags(DURATION, "horizontal-pod-autoscaler-cpu-initialization-period"),
    **_flags(DURATION, "horizontal-pod-autoscaler-downscale-stabilization"),
    **_flags(DURATION, "horizontal-pod-autoscaler-initial-readiness-delay horizontal-pod-autoscaler-sync-period"),
    **_flags(DURATION, "legacy-service-account-token-clean-up-period min-resync-period"),
    **_flags(DURATION, "mirroring-endpointslice-updates-batch-period namespace-sync-period"),
    **_flags(DURATION, "node-monitor-grace-period node-monitor-period node-startup-grace-period"),
    **_flags(DURATION, "pvclaimbinder-sync-period resource-quota-sync-period route-reconciliation-period"),
    **_flags(FLOAT, "horizontal-pod-autoscaler-tolerance node-eviction-rate secondary-node-eviction-rate"),
    **_flags(FLOAT, "unhealthy-zone-threshold"),
    **_flags(INT, "concurrent-cron-job-syncs concurrent-deployment-syncs concurrent-endpoint-syncs"),
    **_flags(INT, "concurrent-ephemeralvolume-syncs concurrent-gc-syncs concurrent-job-syncs"),
    **_flags(INT, "concurrent-horizontal-pod-autoscaler-syncs concurrent-namespace-syncs concurrent-rc-syncs"),
    **_flags(INT, "concurrent-replicaset-syncs concurrent-resource-quota-syncs"),
    **_flags(INT, "concurrent-service-endpoint-syncs concurrent-service-syncs"),
    **_flags(INT, "concurrent-serviceaccount-token-syncs concurrent-statefulset-syncs"),
    **_flags(INT, "concurrent-ttl-after-finished-syncs concurrent-validating-admission-policy-status-syncs"),
    **_flags(INT, "large-cluster-size-threshold max-endpoints-per-slice mirroring-concurrent-service-endpoint-syncs"),
    **_flags(INT, "mirroring-max-endpoints-per-subset node-cidr-mask-size node-cidr-mask-size-ipv4"),
    **_flags(INT, "node-cidr-mask-size-ipv6 pv-recycler-increment-timeout-nfs"),
    **_flags(INT, "pv-recycler-minimum-timeout-hostpath pv-recycler-minimum-timeout-nfs"),
    **_flags(INT, "pv-recycler-timeout-increment-hostpath terminated-pod-gc-threshold"),
}

SCHEDULER_FLAGS = {
    **COMPONENT_BASE,
    **SECURE_SERVING,
    **DELEGATED_AUTH,
    **LEADER_ELECTION,
    **CLIENT_CONNECTION,
    **_flags(FILE, "config"),
    **_flags(STR, "write-config-to emulated-version"),
    **_flags(DURATION, "pod-max-in-unschedulable-pods-duration"),
}

# etcd v3.5 (server/etcdmain/config.go and server/embed/config.go).
ETCD_FLAGS = {
    **_flags(STR, "name initial-cluster initial-cluster-state initial-cluster-token discovery discovery-fallback"),
    **_flags(STR, "discovery-proxy discovery-srv discovery-srv-name auto-compaction-retention"),
    **_flags(STR, "auto-compaction-mode auth-token logger log-level log-rotation-config-json metrics"),
    **_flags(STR, "tls-min-version tls-max-version experimental-distributed-tracing-address"),
    **_flags(STR, "experimental-distributed-tracing-service-name experimental-distributed-tracing-instance-id"),
    **_flags(STR, "config-file"),
    **_flags(LIST, "listen-peer-urls listen-client-urls listen-client-http-urls initial-advertise-peer-urls"),
    **_flags(LIST, "advertise-client-urls listen-metrics-urls cors host-whitelist cipher-suites log-outputs"),
    **_flags(LIST, "peer-client-cert-allowed-hostname client-cert-allowed-hostname"),
    **_flags(STR, "peer-client-cert-allowed-cn"),
    **_flags(WRITE_DIR, "data-dir wal-dir"),
    **_flags(FILE, "cert-file key-file trusted-ca-file client-crl-file peer-cert-file peer-key-file"),
    **_flags(FILE, "peer-trusted-ca-file peer-crl-file"),
    **_flags(BOOL, "client-cert-auth peer-client-cert-auth auto-tls peer-auto-tls strict-reconfig-check"),
    **_flags(BOOL, "pre-vote enable-pprof enable-log-rotation experimental-initial-corrupt-check"),
    **_flags(BOOL, "experimental-enable-lease-checkpoint experimental-enable-lease-checkpoint-persist"),
    **_flags(BOOL, "experimental-peer-skip-client-san-verification experimental-memory-mlock"),
    **_flags(BOOL, "experimental-txn-mode-write-with-shared-buffer experimental-enable-distributed-tracing"),
    **_flags(BOOL, "experimental-stop-grpc-service-on-defrag experimental-compact-hash-check-enabled"),
    **_flags(BOOL, "experimental-enable-v2v3 force-new-cluster unsafe-no-fsync socket-reuse-port"),
    **_flags(BOOL, "socket-reuse-address initial-election-tick-advance enable-v2 version help"),
    **_flags(INT, "snapshot-count heartbeat-interval election-timeout max-snapshots max-wals"),
    **_flags(INT, "quota-backend-bytes backend-batch-limit max-txn-ops max-request-bytes bcrypt-cost"),
    **_flags(INT, "auth-token-ttl self-signed-cert-validity experimental-compaction-batch-limit"),
    **_flags(INT, "experimental-bootstrap-defrag-threshold-megabytes experimental-max-learners"),
    **_flags(INT, "experimental-snapshot-catchup-entries experimental-distributed-tracing-sampling-rate"),
    **_flags(DURATION, "backend-batch-interval grpc-keepalive-min-time grpc-keepalive-interval"),
    **_flags(DURATION, "grpc-keepalive-timeout experimental-corrupt-check-time experimental-compaction-sleep-interval"),
    **_flags(DURATION, "experimental-watch-progress-notify-interval experimental-warning-apply-duration"),
    **_flags(DURATION, "experimental-compact-hash-check-time experimental-downgrade-check-time"),
    **_flags(DURATION, "experimental-wait-cluster-ready-timeout experimental-warning-unary-request-duration"),
}

FLAGS = {
    "kube-apiserver": APISERVER_FLAGS,
    "kube-controller-manager": CONTROLLER_MANAGER_FLAGS,
    "kube-scheduler": SCHEDULER_FLAGS,
    "etcd": ETCD_FLAGS,
}

# Flags that may be given more than once, each occurrence adding (pflag StringArray/StringSlice).
REPEATABLE = {"service-account-key-file", "service-account-issuer", "tls-sni-cert-key", "api-audiences"}

DEFAULTS = {
    "kube-apiserver": {"bind-address": "0.0.0.0", "secure-port": 6443, "anonymous-auth": True},
    "kube-controller-manager": {"bind-address": "0.0.0.0", "secure-port": 10257},
    "kube-scheduler": {"bind-address": "0.0.0.0", "secure-port": 10259},
    "etcd": {"listen-metrics-urls": []},
}
ALWAYS_ALLOW_PATHS = ["/healthz", "/readyz", "/livez"]

# --- parsing ------------------------------------------------------------------------------------

_TRUE = ("1", "t", "T", "TRUE", "true", "True")
_FALSE = ("0", "f", "F", "FALSE", "false", "False")
_DURATION = re.compile(r"[-+]?(?:(?:\d+\.?\d*|\.\d+)(?:ns|us|\u00b5s|\u03bcs|ms|s|m|h))+")
_FLOAT = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


def bad_value(component: str, flag: str, text: str, why: str) -> Fatal:
    if component == "etcd":
        return Fatal(f'invalid value "{text}" for flag -{flag}: {why}')
    return Fatal(f'invalid argument "{text}" for "--{flag}" flag: {why}')


def parse_bool(component: str, flag: str, text: str) -> bool:
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    if component == "etcd":
        raise Fatal(f'invalid boolean value "{text}" for -{flag}: parse error')
    raise bad_value(component, flag, text, f'strconv.ParseBool: parsing "{text}": invalid syntax')


def parse_value(component: str, flag: str, kind: str, text: str):
    """A flag's value of its kind, or Fatal worded as the component words a bad one."""
    if kind == BOOL:
        return parse_bool(component, flag, text)
    if kind in (INT, PORT):
        if not re.fullmatch(r"[-+]?\d+", text):
            raise bad_value(component, flag, text, f'strconv.ParseInt: parsing "{text}": invalid syntax')
        number = int(text)
        if kind == PORT and not 0 <= number <= 65535:
            raise Fatal(f"--{flag} {number} must be between 0 and 65535, inclusive. 0 for turning off secure port")
        return number
    if kind == FLOAT:
        if not _FLOAT.fullmatch(text):
            raise bad_value(component, flag, text, f'strconv.ParseFloat: parsing "{text}": invalid syntax')
        return float(text)
    if kind == DURATION:
        if not (text in ("0", "+0", "-0") or _DURATION.fullmatch(text)):
            raise bad_value(component, flag, text, f'time: invalid duration "{text}"')
        return text
    if kind == IP:
        try:
            ipaddress.ip_address(text)
        except ValueError:
            raise bad_value(component, flag, text, f'failed to parse IP: "{text}"') from None
        return text
    if kind in (LIST, FILES, AUTHZ_MODES, ADMISSION, CIPHERS):
        items = [item.strip() for item in text.split(",") if item.strip()] if text else []
        if kind == AUTHZ_MODES:
            for mode in items:
                if mode not in AUTHORIZATION_MODES:
                    raise Fatal(f'authorization-mode "{mode}" is not a valid mode')
            for mode in items:
                if items.count(mode) > 1:
                    raise Fatal(f'authorization-mode "{mode}" has mode specified more than once')
        elif kind == ADMISSION:
            for plugin in items:
                if plugin not in ADMISSION_PLUGINS:
                    raise Fatal(f'{flag} plugin "{plugin}" is unknown')
        elif kind == CIPHERS:
            for name in items:
                if name not in CIPHER_SUITES:
                    raise Fatal(f"Cipher suite {name} not supported or doesn't exist")
        return items
    if kind == TLS_VERSION:
        if text not in TLS_VERSIONS:
            raise Fatal(f'unknown tls version "{text}"' if component != "etcd" else f'unexpected TLS version "{text}"')
        return text
    if kind == GATES:
        gates = {}
        for pair in filter(None, (part.strip() for part in text.split(","))):
            name, sep, value = pair.partition("=")
            if not sep:
                raise bad_value(component, flag, text, f"missing bool value for {name}")
            if value.strip() not in _TRUE + _FALSE:
                raise bad_value(
                    component,
                    flag,
                    text,
                    f'invalid value of {name}={value}, err: strconv.ParseBool: parsing "{value}": invalid syntax',
                )
            gates[name.strip()] = value.strip() in _TRUE
        return gates
    return text


def parse_command_line(component: str, argv: list) -> tuple:
    """({flag: value}, [flags given on the command line]); Fatal for an unknown flag or bad value."""
    table = FLAGS[component]
    values: dict = {}
    given: list = []
    positional: list = []
    index = 0
    while index < len(argv):
        word = argv[index]
        index += 1
        if word == "--":
            break
        if not word.startswith("-") or word == "-":
            positional.append(word)
            continue
        if word.startswith("--"):
            body = word[2:]
        elif component == "etcd":
            body = word[1:]
        else:
            raise Fatal(f"unknown shorthand flag: '{word[1:2]}' in {word}")
        name, has_value, value = body.partition("=")
        if name not in table:
            if component == "etcd":
                raise Fatal(f"flag provided but not defined: -{name}")
            raise Fatal(f"unknown flag: --{name}")
        kind = table[name]
        if not has_value:
            if kind == BOOL:
                value = "true"
            elif index < len(argv):
                value = argv[index]
                index += 1
            else:
                raise Fatal(
                    f"flag needs an argument: --{name}" if component != "etcd" else f"flag needs an argument: -{name}"
                )
        parsed = parse_value(component, name, kind, value)
        if name in REPEATABLE and name in values:
            values[name] = values[name] + parsed
        else:
            values[name] = parsed
        given.append(name)
    positional += argv[index:]  # what follows "--"
    if positional:
        # Each component's cobra command refuses arguments (cmd/kube-apiserver/app/server.go Args);
        # etcd's flag package stops at the first one and etcdmain refuses it.
        if component == "etcd":
            raise Fatal(f"'{positional[0]}' is not a valid flag")
        shown = "[" + " ".join(json.dumps(word) for word in positional) + "]"
        raise Fatal(f'"{component}" does not take any arguments, got {shown}')
    return values, given


# --- files and mounts ---------------------------------------------------------------------------


def mounts_from_env(environ=None) -> tuple:
    environ = os.environ if environ is None else environ

    def split(name: str) -> list:
        return [path for path in environ.get(name, "").split(":") if path]

    return split("NODELAB_MOUNTS"), split("NODELAB_READONLY_MOUNTS")


def inside(path: str, mounts: list) -> str | None:
    """The mount that holds path, if any (paths are compared after normpath, not resolved)."""
    path = os.path.normpath(path)
    for item in mounts:
        mount = os.path.normpath(item)
        if path == mount or path.startswith(mount.rstrip("/") + "/"):
            return mount
    return None


def check_file(path: str, mounts: list) -> None:
    """An existing regular file the container can see, else the error its open() would give."""
    if not path:
        return
    if inside(path, mounts) is None or not os.path.exists(path):
        raise Fatal(f"open {path}: no such file or directory")
    if os.path.isdir(path):
        raise Fatal(f"read {path}: is a directory")
    if not os.access(path, os.R_OK):
        raise Fatal(f"open {path}: permission denied")


def writable_place(path: str, mounts: list, readonly: list, directory: bool) -> None:
    """Create the file (or directory) path in a writable mount, as the component would."""
    parent = path if directory else os.path.dirname(path)
    mount = inside(parent, mounts)
    if mount is None:
        raise Fatal(f"open {path}: no such file or directory")
    if mount in {os.path.normpath(item) for item in readonly}:
        raise Fatal(f"open {path}: read-only file system")
    try:
        os.makedirs(parent, mode=0o700 if directory else 0o755, exist_ok=True)
        if not directory:
            with open(path, "a", encoding="utf-8"):
                pass
    except OSError as error:
        raise Fatal(f"open {path}: {error.strerror.lower()}") from None


def load_yaml(path: str):
    import yaml  # noqa: PLC0415 (imported where needed: the flag tests need no PyYAML)

    with open(path, encoding="utf-8") as handle:
        try:
            return yaml.safe_load(handle)
        except yaml.YAMLError as error:
            raise Fatal(f"error while parsing file {path}: {str(error).splitlines()[0]}") from None


def _kind_check(document, path: str, kind: str, versions: tuple) -> dict:
    if not isinstance(document, dict):
        raise Fatal(f"error while parsing file {path}: Object 'Kind' is missing in '{document}'")
    got = (document.get("apiVersion"), document.get("kind"))
    if got[1] != kind or got[0] not in versions:
        raise Fatal(
            f'error while parsing file {path}: no kind "{got[1]}" is registered for version "{got[0]}" '
            f"(want kind {kind} in {', '.join(versions)})"
        )
    return document


# --- the apiserver's configuration files --------------------------------------------------------

AES_SIZES = (16, 24, 32)
PROVIDERS = ("aescbc", "aesgcm", "secretbox", "kms", "identity")


def validate_encryption_config(document, path: str = "(encryption config)") -> None:
    """As k8s.io/apiserver's validation_encryption.go checks an EncryptionConfiguration."""
    _kind_check(document, path, "EncryptionConfiguration", ("apiserver.config.k8s.io/v1",))
    errors = []
    resources = document.get("resources")
    if not isinstance(resources, list) or not resources:
        errors.append("resources: Required value: EncryptionConfiguration.Resources must contain at least one resource")
        resources = []
    for r_index, item in enumerate(resources):
        field = f"resources[{r_index}]"
        if not isinstance(item, dict):
            errors.append(f"{field}: Invalid value: must be an object")
            continue
        if not item.get("resources"):
            errors.append(f"{field}.resources: Required value: at least one resource must be specified")
        providers = item.get("providers")
        if not isinstance(providers, list) or not providers:
            errors.append(f"{field}.providers: Required value: at least one provider must be specified")
            continue
        for p_index, provider in enumerate(providers):
            pfield = f"{field}.providers[{p_index}]"
            names = list(provider) if isinstance(provider, dict) else []
            if len(names) != 1 or names[0] not in PROVIDERS:
                errors.append(
                    f"{pfield}: Invalid value: {json.dumps(names)}: "
                    f"more than one provider specified in a single element, should split into different list "
                    f"elements, or unknown provider; supported: {', '.join(PROVIDERS)}"
                    if len(names) > 1
                    else f"{pfield}: Invalid value: {json.dumps(names)}: provider does not contain any of the "
                    f"expected providers: {', '.join(PROVIDERS)}"
                )
                continue
            name = names[0]
            body = provider[name] or {}
            if name in ("aescbc", "aesgcm", "secretbox"):
                keys = body.get("keys") if isinstance(body, dict) else None
                if not isinstance(keys, list) or not keys:
                    errors.append(f"{pfield}.{name}.keys: Required value: keys must contain at least one key")
                    continue
                for k_index, key in enumerate(keys):
                    kfield = f"{pfield}.{name}.keys[{k_index}]"
                    if not isinstance(key, dict) or not key.get("name"):
                        errors.append(f"{kfield}.name: Required value: key name is required")
                    secret = key.get("secret") if isinstance(key, dict) else None
                    if not secret:
                        errors.append(f"{kfield}.secret: Required value: secret is required")
                        continue
                    try:
                        raw = base64.b64decode(str(secret), validate=True)
                    except (binascii.Error, ValueError):
                        errors.append(f'{kfield}.secret: Invalid value: "REDACTED": secret must be base64 encoded')
                        continue
                    if name == "secretbox" and len(raw) != 32:
                        errors.append(
                            f'{kfield}.secret: Invalid value: "REDACTED": secret is not of the expected length, '
                            f"got {len(raw)}, expected 32"
                        )
                    elif name != "secretbox" and len(raw) not in AES_SIZES:
                        errors.append(
                            f'{kfield}.secret: Invalid value: "REDACTED": secret is not of the expected length, '
                            f"got {len(raw)}, expected one of [16 24 32]"
                        )
            elif name == "kms":
                if not isinstance(body, dict) or not body.get("name"):
                    errors.append(f"{pfield}.kms.name: Required value: name is required")
                if not isinstance(body, dict) or not body.get("endpoint"):
                    errors.append(f"{pfield}.kms.endpoint: Required value: endpoint is required")
                elif not str(body["endpoint"]).startswith("unix://"):
                    errors.append(f'{pfield}.kms.endpoint: Invalid value: "{body["endpoint"]}": unsupported scheme')
                if isinstance(body, dict) and body.get("apiVersion", "v1") not in ("v1", "v2"):
                    errors.append(f'{pfield}.kms.apiVersion: Invalid value: "{body["apiVersion"]}": unsupported')
    if errors:
        raise Fatal(f"error while parsing file: {aggregate(errors)}")


AUDIT_LEVELS = ("None", "Metadata", "Request", "RequestResponse")
AUDIT_STAGES = ("RequestReceived", "ResponseStarted", "ResponseComplete", "Panic")


def validate_audit_policy(document, path: str = "(audit policy)") -> None:
    """As k8s.io/apiserver's audit policy loader and validation check an audit.k8s.io/v1 Policy."""
    _kind_check(document, path, "Policy", ("audit.k8s.io/v1",))
    errors = []
    rules = document.get("rules")
    if rules is None:
        rules = []
    if not isinstance(rules, list):
        raise Fatal(f"failed decoding file {path}: rules must be a list")
    supported = ", ".join(f'"{level}"' for level in AUDIT_LEVELS)
    stages = ", ".join(f'"{stage}"' for stage in AUDIT_STAGES)

    def check_stages(value, field):
        for s_index, stage in enumerate(value or []):
            if stage not in AUDIT_STAGES:
                errors.append(f'{field}[{s_index}]: Unsupported value: "{stage}": supported values: {stages}')

    check_stages(document.get("omitStages"), "omitStages")
    for index, rule in enumerate(rules):
        if not isinstance(rule, dict):
            errors.append(f"rules[{index}]: Invalid value: must be an object")
            continue
        level = rule.get("level")
        if level not in AUDIT_LEVELS:
            errors.append(f'rules[{index}].level: Unsupported value: "{level}": supported values: {supported}')
        check_stages(rule.get("omitStages"), f"rules[{index}].omitStages")
    if errors:
        raise Fatal(f"loading audit policy file: invalid audit policy file {path}: {aggregate(errors)}")


def load_authentication_config(document, path: str = "(authentication config)") -> dict:
    """The AuthenticationConfiguration, with the anonymous section's checks of
    k8s.io/apiserver's validation (conditions need enabled: true; each needs a path)."""
    _kind_check(
        document,
        path,
        "AuthenticationConfiguration",
        ("apiserver.config.k8s.io/v1beta1", "apiserver.config.k8s.io/v1alpha1"),
    )
    anonymous = document.get("anonymous")
    if anonymous is not None:
        if not isinstance(anonymous, dict):
            raise Fatal("anonymous: Invalid value: must be an object")
        conditions = anonymous.get("conditions") or []
        if conditions and not anonymous.get("enabled"):
            raise Fatal(
                "anonymous.conditions: Invalid value: enabled should be set to true when conditions are defined"
            )
        for index, condition in enumerate(conditions):
            if not isinstance(condition, dict) or not condition.get("path"):
                raise Fatal(f"anonymous.conditions[{index}].path: Required value: path is required")
    jwt = document.get("jwt")
    if jwt is not None and not isinstance(jwt, list):
        raise Fatal("jwt: Invalid value: must be a list")
    return document


def anonymous_conflict(flag_given: bool, authn_config: dict | None) -> str | None:
    """The apiserver's refusal when --anonymous-auth and the file's anonymous section are both set."""
    if flag_given and authn_config is not None and authn_config.get("anonymous") is not None:
        return (
            "anonymous: Forbidden: --anonymous-auth flag cannot be set when anonymous field is configured "
            "in authentication configuration file"
        )
    return None


def anonymous_allowed(flag_value: bool, authn_config: dict | None, path: str) -> bool:
    """Whether an anonymous request for path gets through authentication: the configuration file's
    anonymous section when it has one (enabled, and the path among its conditions if any are
    listed), else --anonymous-auth (default true) - authentication.go's switch."""
    section = (authn_config or {}).get("anonymous")
    if section is None:
        return bool(flag_value)
    if not section.get("enabled"):
        return False
    conditions = section.get("conditions") or []
    return not conditions or any(condition.get("path") == path for condition in conditions)


def aggregate(errors: list) -> str:
    return errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]"


# --- start-up checks per component --------------------------------------------------------------


def check_apiserver(values: dict, given: list, mounts: list, readonly: list) -> dict:
    """The checks kube-apiserver makes before it serves; returns the parsed authentication config."""
    errors = []
    if not values.get("etcd-servers"):
        errors.append("--etcd-servers must be specified")
    if not values.get("service-account-issuer"):
        errors.append("service-account-issuer is a required flag")
    if not values.get("service-account-key-file") and not values.get("service-account-signing-key-file"):
        errors.append("either `--service-account-key-file` or `--service-account-signing-key-file` must be set")
    modes = values.get("authorization-mode")
    if modes is not None and values.get("authorization-config"):
        errors.append("--authorization-config can not be specified when --authorization-mode is specified")
    modes = modes or ([] if values.get("authorization-config") else ["AlwaysAllow"])
    if "ABAC" in modes and not values.get("authorization-policy-file"):
        errors.append("authorization-mode ABAC's authorization policy file not passed")
    if "Webhook" in modes and not values.get("authorization-webhook-config-file"):
        errors.append("authorization-mode Webhook's authorization config file not passed")
    enabled = set(values.get("enable-admission-plugins", []))
    for plugin in values.get("disable-admission-plugins", []):
        if plugin in enabled:
            errors.append(f"{plugin} in disable-admission-plugins and enable-admission-plugins overlapped")
    if errors:
        raise Fatal(aggregate(errors))
    authn = None
    if values.get("authentication-config"):
        authn = load_authentication_config(load_yaml(values["authentication-config"]), values["authentication-config"])
    conflict = anonymous_conflict("anonymous-auth" in given, authn)
    if conflict:
        raise Fatal(conflict)
    if values.get("encryption-provider-config"):
        path = values["encryption-provider-config"]
        validate_encryption_config(load_yaml(path), path)
        info("Encryption provider configuration loaded", path=path)
    if values.get("audit-policy-file"):
        path = values["audit-policy-file"]
        validate_audit_policy(load_yaml(path), path)
        info("Audit policy loaded", path=path)
    log_path = values.get("audit-log-path")
    if log_path and log_path != "-":
        if not values.get("audit-policy-file"):
            info("No audit policy file: the apiserver would log no audit events", path=log_path)
        writable_place(log_path, mounts, readonly, directory=False)
        info("Audit log file open", path=log_path)
    if not values.get("tls-cert-file"):
        raise Fatal("stand-in: no --tls-cert-file (the real apiserver would write a self-signed pair to --cert-dir)")
    return authn or {}


def check_files(component: str, values: dict, mounts: list, readonly: list) -> None:
    table = FLAGS[component]
    for name, value in values.items():
        kind = table[name]
        if kind in (FILE, *CONFIG.values()):
            check_file(value, mounts)
        elif kind == FILES:
            for path in value:
                check_file(path, mounts)
        elif kind == WRITE_DIR and value:
            writable_place(value, mounts, readonly, directory=True)
    if bool(values.get("tls-cert-file")) != bool(values.get("tls-private-key-file")):
        raise Fatal("--tls-cert-file and --tls-private-key-file must both be set or both be unset")


# --- serving ------------------------------------------------------------------------------------

UNAUTHORIZED = {
    "kind": "Status",
    "apiVersion": "v1",
    "metadata": {},
    "status": "Failure",
    "message": "Unauthorized",
    "reason": "Unauthorized",
    "code": 401,
}


def status_body(status: dict, user_agent: str) -> bytes:
    """The apiserver pretty-prints for curl, wget and browsers (its serializer's user-agent test)."""
    pretty = user_agent.startswith(("curl", "Wget", "Mozilla/"))
    return (json.dumps(status, indent=2) + "\n").encode() if pretty else json.dumps(status).encode()


class Handler(BaseHTTPRequestHandler):
    server_version = "standin"
    sys_version = ""
    decide: ClassVar = staticmethod(lambda handler, path: (404, "text/plain", b"404 page not found\n"))

    def do_GET(self):
        path = self.path.split("?", 1)[0]
        status, content_type, body = type(self).decide(self, path)
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):
        return

    def client_authenticated(self) -> bool:
        connection = self.connection
        return isinstance(connection, ssl.SSLSocket) and bool(connection.getpeercert())


OK = (200, "text/plain; charset=utf-8", b"ok")
HEALTH_PATHS = ("/livez", "/readyz", "/healthz")


def apiserver_decider(anonymous_flag: bool, authn: dict):
    def decide(handler: Handler, path: str):
        if handler.client_authenticated() or anonymous_allowed(anonymous_flag, authn, path):
            if path in HEALTH_PATHS:
                return OK
            return (404, "text/plain; charset=utf-8", b"404 page not found\n")
        body = status_body(UNAUTHORIZED, handler.headers.get("User-Agent", ""))
        return (401, "application/json", body)

    return decide


def delegated_decider(allow_paths: list):
    def decide(handler: Handler, path: str):
        if path in allow_paths or handler.client_authenticated():
            if path in HEALTH_PATHS:
                return OK
            return (404, "text/plain; charset=utf-8", b"404 page not found\n")
        return (
            403,
            "text/plain; charset=utf-8",
            f'forbidden: User "system:anonymous" cannot get path "{path}"\n'.encode(),
        )

    return decide


def etcd_decider(handler: Handler, path: str):
    if path in ("/livez", "/readyz"):
        return OK
    if path == "/health":
        return (200, "application/json", b'{"health":"true","reason":""}')
    if path == "/metrics":
        return (200, "text/plain; version=0.0.4", b"# stand-in etcd: no metrics\n")
    return (404, "text/plain; charset=utf-8", b"404 page not found\n")


def listen(component: str, host: str, port: int, decide, context: ssl.SSLContext | None) -> ThreadingHTTPServer:
    handler = type("StandinHandler", (Handler,), {"decide": staticmethod(decide)})
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    server_class = type("StandinServer", (ThreadingHTTPServer,), {"address_family": family, "daemon_threads": True})
    try:
        server = server_class((host, port), handler)
    except OSError as error:
        raise Fatal(
            f"failed to listen on {host}:{port}: listen tcp {host}:{port}: bind: {error.strerror.lower()}"
        ) from None
    if context is not None:
        server.socket = context.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
    threading.Thread(target=server.serve_forever, name=component, daemon=True).start()
    scheme = "https" if context is not None else "http"
    info("Serving", component=component, address=f"{scheme}://{host}:{port}")
    return server


def tls_context(cert: str, key: str, client_ca: str | None, ciphers: list, min_version: str | None) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as error:
        raise Fatal(f"unable to load server certificate: tls: failed to load {cert} and {key}: {error}") from None
    if client_ca:
        try:
            context.load_verify_locations(client_ca)
        except (OSError, ssl.SSLError) as error:
            raise Fatal(f"unable to load client CA file {client_ca}: {error}") from None
        context.verify_mode = ssl.CERT_OPTIONAL
    if min_version:
        context.minimum_version = getattr(ssl.TLSVersion, {"VersionTLS13": "TLSv1_3"}.get(min_version, "TLSv1_2"))
    if ciphers:
        info(
            "TLS cipher suites configured (stand-in: Python's TLS stack keeps its own list)", ciphers=",".join(ciphers)
        )
    return context


def serve(component: str, values: dict, authn: dict) -> list:
    defaults = DEFAULTS[component]
    if component == "etcd":
        urls = values.get("listen-metrics-urls") or []
        if not urls:
            info("No --listen-metrics-urls: no metrics listener")
            return []
        parts = urlsplit(urls[0])
        if parts.scheme != "http":
            raise Fatal(f"stand-in: only an http --listen-metrics-urls is served, not {urls[0]}")
        return [listen(component, parts.hostname or "127.0.0.1", parts.port or 2381, etcd_decider, None)]
    host = values.get("bind-address", defaults["bind-address"])
    port = values.get("secure-port", defaults["secure-port"])
    if port == 0:
        info("--secure-port is 0: not serving")
        return []
    cert, key = values.get("tls-cert-file"), values.get("tls-private-key-file")
    if not cert:
        cert = os.environ.get("NODELAB_SERVING_CERT", SERVING_CERT)
        key = os.environ.get("NODELAB_SERVING_KEY", SERVING_KEY)
        info("No --tls-cert-file: using a self-signed pair (the real component generates one in memory)", cert=cert)
    context = tls_context(
        cert, key, values.get("client-ca-file"), values.get("tls-cipher-suites", []), values.get("tls-min-version")
    )
    if component == "kube-apiserver":
        decide = apiserver_decider(values.get("anonymous-auth", True), authn)
    else:
        decide = delegated_decider(values.get("authorization-always-allow-paths", ALWAYS_ALLOW_PATHS))
    return [listen(component, host, port, decide, context)]


def component_name(argv0: str, argv: list) -> tuple:
    if argv[:1] == ["--as"] and len(argv) > 1:
        return argv[1], argv[2:]
    if argv and argv[0].startswith("--as="):
        return argv[0].split("=", 1)[1], argv[1:]
    return Path(argv0).name, argv


def start(component: str, argv: list, environ=None) -> tuple:
    """Everything before serving: (values, given flags, authentication config). Fatal on refusal."""
    if component not in FLAGS:
        raise Fatal(f"stand-in: unknown component {component!r}; run it as one of {', '.join(COMPONENTS)}")
    values, given = parse_command_line(component, argv)
    mounts, readonly = mounts_from_env(environ)
    info("Mounts", mounts=":".join(mounts) or "(none)", readonly=":".join(readonly) or "(none)")
    check_files(component, values, mounts, readonly)
    authn = check_apiserver(values, given, mounts, readonly) if component == "kube-apiserver" else {}
    return values, given, authn


def run(argv0: str, argv: list) -> int:
    component, argv = component_name(argv0, argv)
    info(f"stand-in {component} (nodeguard lab): not the real {component}", pid=os.getpid(), argv=" ".join(argv))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_unused: stop.set())
    signal.signal(signal.SIGINT, lambda *_unused: stop.set())
    values, _given, authn = start(component, argv)
    if component == "kube-apiserver":
        anonymous = values.get("anonymous-auth", True)
        info("Anonymous requests", livez=anonymous_allowed(anonymous, authn, "/livez"), flag=anonymous)
    servers = serve(component, values, authn)
    info("Started", component=component)
    while not stop.wait(1.0):
        pass
    info("Received SIGTERM or SIGINT: stopping")
    for server in servers:
        server.shutdown()
        server.server_close()
    return 0


def main() -> int:
    try:
        return run(sys.argv[0], sys.argv[1:])
    except Fatal as error:
        log("E", "command failed", err=str(error))
        sys.stderr.write(f"Error: {error}\n")
        return 1


if __name__ == "__main__":
    sys.exit(main())
