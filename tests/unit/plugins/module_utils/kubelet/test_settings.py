# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import typing as t

import pytest

from ansible_collections.nodeguard.hardening.plugins.module_utils._kubelet import settings
from ansible_collections.nodeguard.hardening.plugins.module_utils._kubelet.settings import SETTINGS, Setting

# Tests for settings.py: the types the kubelet accepts for the managed keys, how a flag's text reads
# as a key's value, and equality as the kubelet sees it.

DURATION = "must be a duration such as 5m, 4h or 1h30m"
BOOL = "must be true or false"
INTEGER = "must be an integer"
ABSOLUTE = "must be an absolute path"
CIPHER_LIST = "must be a list of cipher suite names"
STRONG = list(settings.STRONG_CIPHERS)


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        # bool
        ("authentication.anonymous.enabled", False, None),
        ("authentication.anonymous.enabled", True, None),
        ("authentication.anonymous.enabled", "false", BOOL),
        ("authentication.anonymous.enabled", 0, BOOL),
        ("authentication.anonymous.enabled", 1, BOOL),
        ("authentication.anonymous.enabled", None, BOOL),
        ("rotateCertificates", "yes", BOOL),
        ("serverTLSBootstrap", True, None),
        # feature gate
        ("featureGates.RotateKubeletServerCertificate", True, None),
        ("featureGates.RotateKubeletServerCertificate", "true", BOOL),
        # port: an integer (not a bool) from 0 to 65535
        ("readOnlyPort", 0, None),
        ("readOnlyPort", 10255, None),
        ("readOnlyPort", 65535, None),
        ("readOnlyPort", 65536, "must be from 0 to 65535"),
        ("readOnlyPort", -1, "must be from 0 to 65535"),
        ("readOnlyPort", True, INTEGER),
        ("readOnlyPort", False, INTEGER),
        ("readOnlyPort", "10255", INTEGER),
        ("readOnlyPort", 10255.0, INTEGER),
        ("readOnlyPort", None, INTEGER),
        # int32
        ("eventRecordQPS", 5, None),
        ("eventRecordQPS", 0, None),
        ("eventRecordQPS", 2**31 - 1, None),
        ("eventRecordQPS", -(2**31), None),
        ("eventRecordQPS", 2**31, "must be from -2147483648 to 2147483647"),
        ("eventRecordQPS", -(2**31) - 1, "must be from -2147483648 to 2147483647"),
        ("eventRecordQPS", True, INTEGER),
        ("eventRecordQPS", "5", INTEGER),
        # int64
        ("podPidsLimit", -1, None),
        ("podPidsLimit", 4096, None),
        ("podPidsLimit", 2**63 - 1, None),
        ("podPidsLimit", 2**63, "must be from -9223372036854775808 to 9223372036854775807"),
        ("podPidsLimit", False, INTEGER),
        # duration: Go's time.ParseDuration, written as a string
        ("streamingConnectionIdleTimeout", "5m", None),
        ("streamingConnectionIdleTimeout", "1h30m", None),
        ("streamingConnectionIdleTimeout", "0", None),
        ("streamingConnectionIdleTimeout", "0s", None),
        ("streamingConnectionIdleTimeout", "4h", None),
        ("streamingConnectionIdleTimeout", "4h0m0s", None),
        ("streamingConnectionIdleTimeout", "1.5h", None),
        ("streamingConnectionIdleTimeout", "300ms", None),
        ("streamingConnectionIdleTimeout", "-5m", None),
        ("streamingConnectionIdleTimeout", "5", DURATION),
        ("streamingConnectionIdleTimeout", "abc", DURATION),
        ("streamingConnectionIdleTimeout", "", DURATION),
        ("streamingConnectionIdleTimeout", "1h 30m", DURATION),
        ("streamingConnectionIdleTimeout", "5min", DURATION),
        ("streamingConnectionIdleTimeout", "1d", DURATION),
        ("streamingConnectionIdleTimeout", ".s", DURATION),
        ("streamingConnectionIdleTimeout", 300, DURATION),
        ("streamingConnectionIdleTimeout", 0, DURATION),
        ("streamingConnectionIdleTimeout", None, DURATION),
        # cipher suites: a list of names Go knows
        ("tlsCipherSuites", STRONG, None),
        ("tlsCipherSuites", ["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_RSA_WITH_AES_128_CBC_SHA"], None),
        ("tlsCipherSuites", [], None),
        (
            "tlsCipherSuites",
            ["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA512", "ECDHE-RSA-AES128"],
            "names unknown cipher suites: TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA512, ECDHE-RSA-AES128",
        ),
        ("tlsCipherSuites", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", CIPHER_LIST),
        ("tlsCipherSuites", ["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", 1], CIPHER_LIST),
        ("tlsCipherSuites", None, CIPHER_LIST),
        # paths must be absolute
        ("authentication.x509.clientCAFile", "/etc/kubernetes/pki/ca.crt", None),
        ("tlsCertFile", "/var/lib/kubelet/pki/kubelet.crt", None),
        ("tlsPrivateKeyFile", "pki/kubelet.key", ABSOLUTE),
        ("authentication.x509.clientCAFile", "", ABSOLUTE),
        ("authentication.x509.clientCAFile", None, ABSOLUTE),
        ("authentication.x509.clientCAFile", ["/etc/kubernetes/pki/ca.crt"], ABSOLUTE),
        # authorization mode
        ("authorization.mode", "Webhook", None),
        ("authorization.mode", "AlwaysAllow", None),
        ("authorization.mode", "webhook", "must be Webhook or AlwaysAllow"),
        ("authorization.mode", "Node,Webhook", "must be Webhook or AlwaysAllow"),
    ],
)
def test_type_error(key: str, value: t.Any, expected: str | None) -> None:
    assert settings.type_error(SETTINGS[key], value) == expected


def test_type_error_unknown_kind() -> None:
    assert settings.type_error(Setting("cpuCFSQuota", "float"), 1.0) == "has an unknown kind 'float'"


def test_setting_path_and_flags() -> None:
    assert SETTINGS["featureGates.RotateKubeletServerCertificate"].path == (
        "featureGates",
        "RotateKubeletServerCertificate",
    )
    assert SETTINGS["readOnlyPort"].path == ("readOnlyPort",)
    # Every flag of a non-boolean key takes its value as the next word when written without '='.
    for setting in SETTINGS.values():
        if setting.flag and setting.kind != "bool":
            assert setting.flag in settings.VALUE_FLAGS, setting.key
        if setting.kind == "bool" and setting.flag:
            assert setting.flag not in settings.VALUE_FLAGS, setting.key


GATE = "featureGates.RotateKubeletServerCertificate"


@pytest.mark.parametrize(
    ("key", "text", "expected"),
    [
        (GATE, "A=true,RotateKubeletServerCertificate=false", False),
        (GATE, "RotateKubeletServerCertificate=true,A=false", True),
        (GATE, "A=true, RotateKubeletServerCertificate = True ", True),
        (GATE, "RotateKubeletServerCertificate=1", True),  # Go's strconv.ParseBool
        (GATE, "RotateKubeletServerCertificate=F", False),
        (GATE, "A=true", None),
        (GATE, "RotateKubeletServerCertificateX=false,XRotateKubeletServerCertificate=false", None),
        (GATE, "", None),
        ("authentication.anonymous.enabled", "true", True),
        ("authentication.anonymous.enabled", "false", False),
        ("authentication.anonymous.enabled", "True", True),
        ("authentication.anonymous.enabled", "TRUE", True),
        ("authentication.anonymous.enabled", "1", True),
        ("authentication.anonymous.enabled", "t", True),
        ("authentication.anonymous.enabled", "0", False),
        ("authentication.anonymous.enabled", "FALSE", False),
        ("authentication.anonymous.enabled", "yes", "yes"),  # the kubelet refuses it: not a bool
        ("rotateCertificates", "true", True),  # a bare --rotate-certificates
        ("readOnlyPort", "10255", 10255),
        ("readOnlyPort", "0", 0),
        ("readOnlyPort", "abc", "abc"),
        ("eventRecordQPS", "-1", -1),
        ("podPidsLimit", "4096", 4096),
        (
            "tlsCipherSuites",
            "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,",
            ["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"],
        ),
        ("tlsCipherSuites", "", []),
        ("streamingConnectionIdleTimeout", "5m0s", "5m0s"),
        ("authentication.x509.clientCAFile", "/etc/kubernetes/pki/ca.crt", "/etc/kubernetes/pki/ca.crt"),
        ("authorization.mode", "Webhook", "Webhook"),
    ],
)
def test_flag_value(key: str, text: str, expected: t.Any) -> None:
    value = settings.flag_value(SETTINGS[key], text)
    assert value == expected
    assert type(value) is type(expected)


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("5m", "5m0s", True),
        ("5m", "300s", True),
        ("5m0s", "300s", True),
        ("4h", "4h0m0s", True),
        ("1h30m", "90m", True),
        ("1h30m", "5400s", True),
        ("0", "0s", True),
        ("0", "0h0m0s", True),
        ("700ms", "0.7s", True),
        ("1500ms", "1.5s", True),
        ("1.1s", "1100ms", True),
        ("1us", "1\u00b5s", True),
        ("5m", "4m", False),
        ("5m", "-5m", False),
        ("5m", "5", False),  # '5' is not a duration: compared as text
        ("1h", "3600", False),
        (True, 1, False),
        (1, True, False),
        (False, 0, False),
        (0, False, False),
        (True, True, True),
        (False, False, True),
        (True, False, False),
        (True, "true", False),
        (10255, 10255, True),
        (0, 10255, False),
        ("Webhook", "Webhook", True),
        ("Webhook", "AlwaysAllow", False),
        (["a", "b"], ["a", "b"], True),
        (["a", "b"], ["b", "a"], False),
        (None, None, True),
    ],
)
def test_same(a: t.Any, b: t.Any, expected: bool) -> None:
    pair = (a, b)
    assert settings.same(*pair) is expected
    assert settings.same(*reversed(pair)) is expected


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("5m", 300.0),
        ("5m0s", 300.0),
        ("1h30m", 5400.0),
        ("4h", 14400.0),
        ("0", 0.0),
        ("0s", 0.0),
        ("-0", 0.0),
        ("+2m", 120.0),
        ("-1.5h", -5400.0),
        ("1.5h", 5400.0),
        (".5s", 0.5),
        ("1.s", 1.0),
        ("300ms", 0.3),
        ("700ms", 0.7),
        ("1ms", 0.001),  # ms, not m then s
        ("1us", 0.000001),
        ("1\u00b5s", 0.000001),
        ("1ns", 0.000000001),
        ("1h1m1s1ms", 3661.001),
    ],
)
def test_duration_seconds(text: str, seconds: float) -> None:
    assert settings.DURATION_RE.match(text)
    assert settings.duration_seconds(text) == seconds


@pytest.mark.parametrize(
    ("data", "path", "expected"),
    [
        (
            {"authentication": {"anonymous": {"enabled": False}}},
            ("authentication", "anonymous", "enabled"),
            (True, False),
        ),
        ({"authentication": {"anonymous": {}}}, ("authentication", "anonymous", "enabled"), (False, None)),
        ({"authentication": None}, ("authentication", "anonymous", "enabled"), (False, None)),
        ({"readOnlyPort": 0}, ("readOnlyPort",), (True, 0)),
        (None, ("readOnlyPort",), (False, None)),
        ({"featureGates": {"RotateKubeletServerCertificate": True}}, SETTINGS[GATE].path, (True, True)),
    ],
)
def test_get(data: t.Any, path: tuple[str, ...], expected: tuple[bool, t.Any]) -> None:
    assert settings.get(data, path) == expected
