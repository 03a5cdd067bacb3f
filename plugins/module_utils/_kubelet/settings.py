# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The KubeletConfiguration keys this collection manages: their types, and the flags that beat them.

Types are what the kubelet accepts for the key (kubelet.config.k8s.io/v1beta1): a value of another
type makes the kubelet refuse its configuration, so a wrong type in the file or in a control is
refused before anything is written.
"""

from __future__ import annotations

import re
import typing as t
from dataclasses import dataclass
from decimal import Decimal

# Go's time.ParseDuration: a sequence of decimal numbers with units, or a bare 0.
DURATION_RE = re.compile(r"^[-+]?(?:0|(?:(?:\d+\.?\d*|\.\d+)(?:ns|us|\u00b5s|ms|s|m|h))+)$")
DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "\u00b5s": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
# Go's strconv.ParseBool, which bool flags and --feature-gates use.
GO_TRUE = frozenset(("1", "t", "T", "TRUE", "true", "True"))
GO_FALSE = frozenset(("0", "f", "F", "FALSE", "false", "False"))

# Go crypto/tls cipher suite names the kubelet accepts (tls.CipherSuites and InsecureCipherSuites).
STRONG_CIPHERS = (
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
)
KNOWN_CIPHERS = frozenset(
    (
        *STRONG_CIPHERS,
        "TLS_AES_128_GCM_SHA256",
        "TLS_AES_256_GCM_SHA384",
        "TLS_CHACHA20_POLY1305_SHA256",
        "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
        "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
        "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
        "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
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
    )
)


@dataclass(frozen=True)
class Setting:
    """One managed key: its path in the file, its type, and the kubelet flag that overrides it."""

    key: str
    kind: str  # bool, port, int32, int64, duration, path, mode, ciphers, gate
    flag: str = ""

    @property
    def path(self) -> tuple[str, ...]:
        return tuple(self.key.split("."))


SETTINGS = {
    s.key: s
    for s in (
        Setting("authentication.anonymous.enabled", "bool", "anonymous-auth"),
        Setting("authentication.webhook.enabled", "bool", "authentication-token-webhook"),
        Setting("authorization.mode", "mode", "authorization-mode"),
        Setting("authentication.x509.clientCAFile", "path", "client-ca-file"),
        Setting("readOnlyPort", "port", "read-only-port"),
        Setting("streamingConnectionIdleTimeout", "duration", "streaming-connection-idle-timeout"),
        Setting("makeIPTablesUtilChains", "bool", "make-iptables-util-chains"),
        Setting("eventRecordQPS", "int32", "event-qps"),
        Setting("tlsCertFile", "path", "tls-cert-file"),
        Setting("tlsPrivateKeyFile", "path", "tls-private-key-file"),
        Setting("serverTLSBootstrap", "bool"),
        Setting("rotateCertificates", "bool", "rotate-certificates"),
        Setting("featureGates.RotateKubeletServerCertificate", "gate", "feature-gates"),
        Setting("tlsCipherSuites", "ciphers", "tls-cipher-suites"),
        Setting("podPidsLimit", "int64", "pod-max-pids"),
        Setting("seccompDefault", "bool", "seccomp-default"),
        Setting("protectKernelDefaults", "bool", "protect-kernel-defaults"),
    )
}
# Flags that take a value as the next word when written without '=' (the kubelet's non-boolean flags
# among those this collection reads; any other flag given as '--name value' is read the same way
# only when listed here).
VALUE_FLAGS = frozenset(
    {
        "config",
        "kubeconfig",
        "bootstrap-kubeconfig",
        "client-ca-file",
        "authorization-mode",
        "read-only-port",
        "streaming-connection-idle-timeout",
        "event-qps",
        "tls-cert-file",
        "tls-private-key-file",
        "tls-cipher-suites",
        "feature-gates",
        "pod-max-pids",
        "hostname-override",
        "container-runtime-endpoint",
        "pod-infra-container-image",
        "healthz-port",
        "healthz-bind-address",
        "cert-dir",
        "node-ip",
        "v",
    }
)
INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)


def type_error(setting: Setting, value: t.Any) -> str | None:
    """Why C(value) is not something the kubelet accepts for the key; None when it is."""
    kind = setting.kind
    if kind in ("bool", "gate"):
        return None if isinstance(value, bool) else "must be true or false"
    if kind in ("port", "int32", "int64"):
        if isinstance(value, bool) or not isinstance(value, int):
            return "must be an integer"
        low, high = (0, 65535) if kind == "port" else INT32 if kind == "int32" else INT64
        return None if low <= value <= high else f"must be from {low} to {high}"
    if kind == "duration":
        if not isinstance(value, str) or not DURATION_RE.match(value):
            return "must be a duration such as 5m, 4h or 1h30m"
        return None
    if kind == "path":
        return None if isinstance(value, str) and value.startswith("/") else "must be an absolute path"
    if kind == "mode":
        return None if value in ("Webhook", "AlwaysAllow") else "must be Webhook or AlwaysAllow"
    if kind == "ciphers":
        if not isinstance(value, list) or not all(isinstance(name, str) for name in value):
            return "must be a list of cipher suite names"
        unknown = [name for name in value if name not in KNOWN_CIPHERS]
        return f"names unknown cipher suites: {', '.join(unknown)}" if unknown else None
    return f"has an unknown kind {kind!r}"


def duration_seconds(value: str) -> float:
    """Seconds of a Go duration already checked by DURATION_RE."""
    sign = -1.0 if value.startswith("-") else 1.0
    body = value.lstrip("+-")
    if body == "0":
        return 0.0
    total = Decimal(0)  # exact, so that equal lengths written differently ('700ms', '0.7s') compare equal
    for number, unit in re.findall(r"(\d+\.?\d*|\.\d+)(ns|us|\u00b5s|ms|s|m|h)", body):
        total += Decimal(number) * Decimal(str(DURATION_UNITS[unit]))
    return sign * float(total)


def flag_value(setting: Setting, text: str) -> t.Any:
    """The value a flag's text gives the key, typed as in the file (None: the flag does not say)."""
    if setting.kind == "gate":
        gate = setting.key.split(".", 1)[1]
        for pair in text.split(","):
            name, _sep, value = pair.partition("=")
            if name.strip() == gate:
                return _go_bool(value.strip())
        return None
    if setting.kind == "bool":
        return _go_bool(text.strip())
    if setting.kind in ("port", "int32", "int64"):
        try:
            return int(text)
        except ValueError:
            return text
    if setting.kind == "ciphers":
        return [name.strip() for name in text.split(",") if name.strip()]
    return text


def _go_bool(text: str) -> t.Any:
    """True or False as Go's strconv.ParseBool reads C(text); the text itself when Go refuses it."""
    return True if text in GO_TRUE else False if text in GO_FALSE else text


def get(data: t.Any, path: tuple[str, ...]) -> tuple[bool, t.Any]:
    """(present, value) of a key path in the parsed file."""
    node = data
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return False, None
        node = node[key]
    return True, node


def same(a: t.Any, b: t.Any) -> bool:
    """Equal as the kubelet reads them: True is not 1, durations compare by length of time."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, str) and isinstance(b, str) and DURATION_RE.match(a) and DURATION_RE.match(b):
        return a == b or duration_seconds(a) == duration_seconds(b)
    return a == b
