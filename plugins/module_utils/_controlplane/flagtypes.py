# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The flags of the control plane components (Kubernetes v1.32) this collection sets, with their types.

A value is checked the way the component's flag parsing checks it (spf13/pflag and
k8s.io/component-base): Go's strconv.ParseBool for booleans, strconv.ParseInt for integers, Go
durations, IP addresses, comma lists whose elements must be known names (authorization modes,
admission plugins, cipher suites), C(Name=bool) feature gates. A flag this table does not hold is
refused in a control's spec: the collection writes only flags it can check, so a typo cannot reach
a manifest and take the component down. Flags already in a manifest are never judged by it.

Kinds C(file) and C(dir) name something on the node: the file must exist (or be written by the
same run) and the Pod must mount it; C(logfile) is a file the component creates, whose directory
must be mounted.
"""

from __future__ import annotations

import ipaddress
import re
import typing as t

from ansible_collections.nodeguard.hardening.plugins.module_utils._kubelet.settings import (
    DURATION_RE,
    GO_FALSE,
    GO_TRUE,
    KNOWN_CIPHERS,
)

AUTHORIZATION_MODES = ("AlwaysAllow", "AlwaysDeny", "ABAC", "Webhook", "RBAC", "Node")
# kube-apiserver v1.32 --enable-admission-plugins / --disable-admission-plugins (AllOrderedPlugins).
ADMISSION_PLUGINS = (
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
    "PersistentVolumeLabel",
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
)

_TLS = {"tls-cert-file": "file", "tls-private-key-file": "file", "tls-cipher-suites": "ciphers"}
_TLS.update({"tls-min-version": "tlsversion", "bind-address": "ip", "profiling": "bool", "feature-gates": "gates"})

FLAGS: dict[str, dict[str, str]] = {
    "kube-apiserver": {
        **_TLS,
        "admission-control-config-file": "file",
        "advertise-address": "ip",
        "allow-privileged": "bool",
        "anonymous-auth": "bool",
        "audit-log-maxage": "int",
        "audit-log-maxbackup": "int",
        "audit-log-maxsize": "int",
        "audit-log-path": "logfile",
        "audit-policy-file": "file",
        "authentication-config": "file",
        "authorization-mode": "authz",
        "client-ca-file": "file",
        "disable-admission-plugins": "plugins",
        "enable-admission-plugins": "plugins",
        "enable-bootstrap-token-auth": "bool",
        "encryption-provider-config": "file",
        "etcd-cafile": "file",
        "etcd-certfile": "file",
        "etcd-keyfile": "file",
        "kubelet-certificate-authority": "file",
        "kubelet-client-certificate": "file",
        "kubelet-client-key": "file",
        "request-timeout": "duration",
        "secure-port": "port",
        "service-account-extend-token-expiration": "bool",
        "service-account-key-file": "file",
        "service-account-lookup": "bool",
        "token-auth-file": "file",
    },
    "kube-controller-manager": {
        **_TLS,
        "root-ca-file": "file",
        "service-account-private-key-file": "file",
        "terminated-pod-gc-threshold": "int",
        "use-service-account-credentials": "bool",
    },
    "kube-scheduler": {**_TLS},
    "etcd": {
        "auto-tls": "bool",
        "cert-file": "file",
        "cipher-suites": "ciphers",
        "client-cert-auth": "bool",
        "key-file": "file",
        "peer-auto-tls": "bool",
        "peer-cert-file": "file",
        "peer-client-cert-auth": "bool",
        "peer-key-file": "file",
        "peer-trusted-ca-file": "file",
        "trusted-ca-file": "file",
    },
}
COMPONENTS = tuple(FLAGS)
LIST_KINDS = ("authz", "plugins", "ciphers", "gates")
PATH_KINDS = ("file", "logfile")
_INT_RE = re.compile(r"^[+-]?[0-9]+$")
_GATE_RE = re.compile(r"^[A-Za-z][A-Za-z0-9]*$")
TLS_VERSIONS = ("VersionTLS10", "VersionTLS11", "VersionTLS12", "VersionTLS13")


class FlagError(ValueError):
    """A flag or value the component would refuse; the message says which and why."""


def kind(component: str, flag: str) -> str:
    """The flag's kind, or FlagError naming the flags this collection can set on the component."""
    known = FLAGS.get(component)
    if known is None:
        raise FlagError(f"unknown component {component!r}; known: {', '.join(COMPONENTS)}")
    if flag not in known:
        raise FlagError(
            f"{component} has no flag --{flag} that this collection can set "
            f"(it sets: {', '.join('--' + name for name in sorted(known))})"
        )
    return known[flag]


def elements(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def check_value(component: str, flag: str, value: t.Any) -> str:
    """The value as the flag's text; FlagError when the component would refuse it."""
    flag_kind = kind(component, flag)
    if isinstance(value, bool):
        value = "true" if value else "false"
    if isinstance(value, (list, tuple)) and flag_kind in LIST_KINDS:
        value = ",".join(str(item) for item in value)
    if isinstance(value, int):
        value = str(value)
    if not isinstance(value, str) or not value or value != value.strip() or any(ch.isspace() for ch in value):
        raise FlagError(f"--{flag} of {component}: {value!r} is not a flag value (text without blanks)")
    problem = _problem(flag_kind, value)
    if problem:
        raise FlagError(f'invalid argument "{value}" for "--{flag}" flag of {component}: {problem}')
    return value


def _problem(flag_kind: str, value: str) -> str | None:
    if flag_kind == "bool":
        return None if value in GO_TRUE | GO_FALSE else "strconv.ParseBool: parsing: invalid syntax"
    if flag_kind in ("int", "port"):
        if not _INT_RE.match(value):
            return "strconv.ParseInt: parsing: invalid syntax"
        number = int(value)
        if flag_kind == "port" and not 0 < number < 65536:
            return "a port must be from 1 to 65535"
        return None if number >= 0 else "must not be negative"
    if flag_kind == "duration":
        return None if DURATION_RE.match(value) else "time: invalid duration"
    if flag_kind == "ip":
        try:
            ipaddress.ip_address(value)
        except ValueError:
            return "not an IP address"
        return None
    if flag_kind == "tlsversion":
        return None if value in TLS_VERSIONS else f"unknown tls version; use one of {', '.join(TLS_VERSIONS)}"
    if flag_kind in ("file", "logfile"):
        return None if value.startswith("/") and "/../" not in value + "/" else "must be an absolute path"
    names = {"authz": AUTHORIZATION_MODES, "plugins": ADMISSION_PLUGINS, "ciphers": tuple(KNOWN_CIPHERS)}
    if flag_kind in names:
        unknown = [item for item in elements(value) if item not in names[flag_kind]]
        if not elements(value):
            return "an empty list"
        return f"unknown names: {', '.join(unknown)}" if unknown else None
    if flag_kind == "gates":
        for item in elements(value):
            gate, sep, setting = item.partition("=")
            if not sep or not _GATE_RE.match(gate) or setting not in GO_TRUE | GO_FALSE:
                return f"{item!r} is not Name=true or Name=false"
        return None
    return f"internal: unknown kind {flag_kind!r}"


def same(component: str, flag: str, one: str | None, other: str | None) -> bool:
    """Whether two values of a flag mean the same (booleans by value, lists as written)."""
    if one is None or other is None:
        return one is other
    if FLAGS.get(component, {}).get(flag) == "bool":
        return (one in GO_TRUE) == (other in GO_TRUE) and (one in GO_TRUE | GO_FALSE) == (other in GO_TRUE | GO_FALSE)
    return one == other
