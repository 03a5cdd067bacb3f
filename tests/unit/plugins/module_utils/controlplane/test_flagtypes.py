# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The flags this collection sets and their values, checked as the components parse them."""

from __future__ import annotations

import pytest

from ansible_collections.nodeguard.hardening.plugins.module_utils._controlplane import flagtypes
from ansible_collections.nodeguard.hardening.plugins.module_utils._controlplane.flagtypes import FlagError

API, CM, SCHED, ETCD = "kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd"

VALID = [
    # (component, flag, value given, flag text)
    (API, "profiling", False, "false"),
    (API, "anonymous-auth", True, "true"),
    (API, "service-account-lookup", "True", "True"),
    (ETCD, "client-cert-auth", "1", "1"),
    (CM, "use-service-account-credentials", "f", "f"),
    (API, "audit-log-maxage", 30, "30"),
    (API, "audit-log-maxbackup", "10", "10"),
    (CM, "terminated-pod-gc-threshold", "+10", "+10"),
    (API, "audit-log-maxsize", 0, "0"),
    (API, "secure-port", 6443, "6443"),
    (API, "secure-port", "65535", "65535"),
    (API, "request-timeout", "60s", "60s"),
    (API, "request-timeout", "1h30m", "1h30m"),
    (API, "request-timeout", "0", "0"),
    (API, "bind-address", "0.0.0.0", "0.0.0.0"),
    (SCHED, "bind-address", "::1", "::1"),
    (API, "advertise-address", "fd00::10", "fd00::10"),
    (API, "tls-min-version", "VersionTLS12", "VersionTLS12"),
    (ETCD, "cert-file", "/etc/kubernetes/pki/etcd/server.crt", "/etc/kubernetes/pki/etcd/server.crt"),
    (API, "audit-log-path", "/var/log/kubernetes/audit/audit.log", "/var/log/kubernetes/audit/audit.log"),
    (API, "authorization-mode", "Node,RBAC", "Node,RBAC"),
    (API, "authorization-mode", ["Node", "RBAC", "Webhook"], "Node,RBAC,Webhook"),
    (API, "enable-admission-plugins", "NodeRestriction,EventRateLimit", "NodeRestriction,EventRateLimit"),
    (API, "disable-admission-plugins", ["AlwaysAdmit"], "AlwaysAdmit"),
    (
        API,
        "tls-cipher-suites",
        ["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_AES_128_GCM_SHA256"],
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,TLS_AES_128_GCM_SHA256",
    ),
    (ETCD, "cipher-suites", "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"),
    (
        CM,
        "feature-gates",
        "RotateKubeletServerCertificate=true,SomeGate=False",
        "RotateKubeletServerCertificate=true,SomeGate=False",
    ),
    (SCHED, "feature-gates", ["A=1", "B=f"], "A=1,B=f"),
]


@pytest.mark.parametrize(("component", "flag", "value", "text"), VALID)
def test_valid_values(component, flag, value, text):
    assert flagtypes.check_value(component, flag, value) == text


INVALID = [
    # (component, flag, value, what the message says)
    (API, "profiling", "yes", 'invalid argument "yes" for "--profiling" flag of kube-apiserver: strconv.ParseBool'),
    (API, "profiling", "", "--profiling of kube-apiserver: '' is not a flag value (text without blanks)"),
    (API, "audit-log-maxage", "30d", "strconv.ParseInt: parsing: invalid syntax"),
    (API, "audit-log-maxage", "1.5", "strconv.ParseInt"),
    (API, "audit-log-maxage", True, "strconv.ParseInt"),
    (API, "audit-log-maxbackup", -1, "must not be negative"),
    (API, "secure-port", 0, "a port must be from 1 to 65535"),
    (API, "secure-port", 65536, "a port must be from 1 to 65535"),
    (API, "secure-port", "https", "strconv.ParseInt"),
    (API, "request-timeout", "60", "time: invalid duration"),
    (API, "request-timeout", "1d", "time: invalid duration"),
    (API, "bind-address", "localhost", "not an IP address"),
    (API, "bind-address", "10.0.0.0/8", "not an IP address"),
    (API, "tls-min-version", "TLS1.2", "unknown tls version; use one of VersionTLS10, VersionTLS11"),
    (API, "tls-min-version", "VersionTLS14", "unknown tls version"),
    (API, "audit-policy-file", "audit/policy.yaml", "must be an absolute path"),
    (API, "audit-policy-file", "/etc/kubernetes/../policy.yaml", "must be an absolute path"),
    (API, "audit-log-path", "audit.log", "must be an absolute path"),
    (API, "authorization-mode", "Node,Foo,RBAC", "unknown names: Foo"),
    (API, "authorization-mode", ",", "an empty list"),
    (API, "enable-admission-plugins", "PodSecurityPolicy,NodeRestriction", "unknown names: PodSecurityPolicy"),
    (API, "tls-cipher-suites", "TLS_FOO,TLS_BAR", "unknown names: TLS_FOO, TLS_BAR"),
    (API, "feature-gates", "RotateKubeletServerCertificate", "'RotateKubeletServerCertificate' is not Name=true"),
    (API, "feature-gates", "A=yes", "'A=yes' is not Name=true or Name=false"),
    (API, "feature-gates", "9A=true", "'9A=true' is not Name=true"),
    (API, "authorization-mode", "Node, RBAC", "is not a flag value (text without blanks)"),
    (API, "audit-policy-file", " /etc/x", "is not a flag value"),
    (API, "audit-log-maxage", 1.5, "is not a flag value"),
    (API, "audit-log-maxage", None, "is not a flag value"),
    (API, "profiling", ["false"], "is not a flag value"),
]


@pytest.mark.parametrize(("component", "flag", "value", "message"), INVALID)
def test_invalid_values(component, flag, value, message):
    with pytest.raises(FlagError) as error:
        flagtypes.check_value(component, flag, value)
    assert message in str(error.value)


def test_an_unknown_flag_is_refused_with_the_flags_that_can_be_set():
    with pytest.raises(FlagError) as error:
        flagtypes.check_value(SCHED, "kubeconfig", "/etc/kubernetes/scheduler.conf")
    assert str(error.value) == (
        "kube-scheduler has no flag --kubeconfig that this collection can set (it sets: --bind-address, "
        "--feature-gates, --profiling, --tls-cert-file, --tls-cipher-suites, --tls-min-version, "
        "--tls-private-key-file)"
    )


def test_an_unknown_component_is_refused():
    with pytest.raises(FlagError, match="unknown component 'kubelet'; known: kube-apiserver, kube-controller-manager"):
        flagtypes.kind("kubelet", "profiling")


@pytest.mark.parametrize(
    ("component", "flag", "kind"),
    [
        (API, "profiling", "bool"),
        (API, "audit-log-path", "logfile"),
        (API, "encryption-provider-config", "file"),
        (ETCD, "peer-auto-tls", "bool"),
        (CM, "root-ca-file", "file"),
        (SCHED, "tls-cipher-suites", "ciphers"),
    ],
)
def test_kind(component, flag, kind):
    assert flagtypes.kind(component, flag) == kind


@pytest.mark.parametrize(
    ("flag", "one", "other", "same"),
    [
        ("profiling", "true", "True", True),
        ("profiling", "1", "t", True),
        ("profiling", "false", "0", True),
        ("profiling", "F", "FALSE", True),
        ("profiling", "true", "false", False),
        ("profiling", "true", None, False),
        ("profiling", None, None, True),
        ("profiling", "true", "yes", False),
        ("authorization-mode", "Node,RBAC", "Node,RBAC", True),
        ("authorization-mode", "Node,RBAC", "RBAC,Node", False),
        ("audit-log-maxage", "30", "030", False),
        ("audit-log-maxage", None, "30", False),
    ],
)
def test_same(flag, one, other, same):
    assert flagtypes.same(API, flag, one, other) is same
