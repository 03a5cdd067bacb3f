# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Stand-in kubelet (nodeguard lab): not a kubelet.

Debian's archive has no kubelet, so the lab VMs run this small program where the kubelet would
be (/usr/bin/kubelet for a kubeadm layout, /usr/local/bin/kubelet for a kubespray one, see
layout.py), started by the real tools' systemd units exactly as they start the kubelet. It runs
no pods, talks to no API server and implements none of the kubelet's work. What it does do is
what the collection's "change the kubelet config, restart, wait for /healthz, roll back" path
depends on, modelled on the kubelet's start-up (cmd/kubelet/app/server.go of Kubernetes 1.32):

1. Command line as the kubelet's (pflag) parses it: ``--flag=value``; ``--flag value`` for flags
   that take a value; a bare ``--flag`` sets a boolean (``--flag=false`` clears it; a boolean
   never takes the next word). Unknown flags are accepted and logged; an argument that is not a
   flag is fatal, as the kubelet's "unknown command". Flags interpreted: --config, --kubeconfig,
   --bootstrap-kubeconfig, --read-only-port, --anonymous-auth, --authorization-mode,
   --client-ca-file, --tls-cert-file, --tls-private-key-file, --hostname-override,
   --healthz-port, --healthz-bind-address, --rotate-certificates, --event-qps, --pod-max-pids,
   --seccomp-default, --protect-kernel-defaults, --make-iptables-util-chains,
   --streaming-connection-idle-timeout, --tls-cipher-suites, --tls-min-version, --feature-gates.
   A flag given on the command line beats the config file's value, as in the kubelet.
2. The --config file is read with yaml.safe_load (JSON is YAML). It must be a mapping with
   ``apiVersion: kubelet.config.k8s.io/v1beta1`` and ``kind: KubeletConfiguration``. A YAML
   error, a wrong kind or version, or a value of the wrong JSON type for a known field (a string
   for a bool or an int, a number for a duration, an int32 out of range...) is fatal, like the
   kubelet's decoder. Unknown keys only log the kubelet's lenient-decoding warning. The values
   are then validated as the kubelet validates the fields it reads (port ranges, non-negative
   QPS, authorization mode, Go durations, cipher suite names from Go's crypto/tls list, TLS
   versions).
3. File checks of the kubelet's start: the --kubeconfig must exist, or else the
   --bootstrap-kubeconfig; authentication.x509.clientCAFile, if set, must be readable and hold a
   PEM CERTIFICATE block; tlsCertFile and tlsPrivateKeyFile, if either is set, must both be set,
   readable, and hold a PEM CERTIFICATE block and a PEM "... PRIVATE KEY" block respectively.
   (The real kubelet generates a self-signed pair in --cert-dir when neither is set; the stand-in
   only logs that.) protectKernelDefaults: true makes it compare the sysctls the kubelet requires
   (vm.overcommit_memory=1, vm.panic_on_oom=0, kernel.panic=10, kernel.panic_on_oops=1,
   kernel.keys.root_maxkeys=1000000, kernel.keys.root_maxbytes=25000000) with /proc/sys.
4. Then it serves HTTP (standard library): GET /healthz answers 200 "ok" on
   healthzBindAddress:healthzPort (defaults 127.0.0.1:10248; port 0 disables it, as in the
   kubelet), and if the effective readOnlyPort is not 0 (config default 0) it also listens on
   0.0.0.0:<readOnlyPort> answering /healthz and /pods, as the kubelet's unauthenticated
   read-only port does. Every listener is logged. SIGTERM (and SIGINT) end it with status 0.

Every failure logs one klog-style line to stderr, ``E<mmdd> <time> <pid> standin] "command
failed" err="..."``, worded as the kubelet words it where the kubelet's wording is known
(cmd/kubelet/app/server.go, pkg/kubelet/apis/config/validation, k8s.io/component-base/cli/flag,
client-go util/cert; the file and TLS messages are close, not verbatim), and exits 1; systemd's
Restart=always then restarts it, as it restarts a kubelet that cannot start. Its first log line
always says what it is.

Runs on Python 3.11 and 3.13 (Debian 12 and 13) with the standard library and PyYAML only.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

IDENTITY = "stand-in kubelet (nodeguard lab): not a kubelet"
API_VERSION = "kubelet.config.k8s.io/v1beta1"
KIND = "KubeletConfiguration"


class Fatal(Exception):
    """A start-up failure: logged as the kubelet logs "command failed", then exit status 1."""


# --- logging, klog's text format ---------------------------------------------------------------


def _quote(value) -> str:
    return json.dumps(str(value), ensure_ascii=False)


def log(severity: str, message: str, **values) -> None:
    now = time.time()
    stamp = time.strftime("%m%d %H:%M:%S", time.localtime(now)) + f".{int(now % 1 * 1e6):06d}"
    pairs = "".join(f" {key}={_quote(value)}" for key, value in values.items())
    sys.stderr.write(f"{severity}{stamp} {os.getpid():7d} standin] {_quote(message)}{pairs}\n")
    sys.stderr.flush()


def info(message: str, **values) -> None:
    log("I", message, **values)


def warning(message: str, **values) -> None:
    log("W", message, **values)


# --- the configuration's schema -----------------------------------------------------------------

BOOL, STR, INT32, INT64, FLOAT, DURATION = "bool", "string", "int32", "int64", "float64", "duration"
LIST_STR, MAP_STR_BOOL, MAP_STR_STR, ANY = "[]string", "map[string]bool", "map[string]string", "any"
INT_RANGES = {INT32: (-(2**31), 2**31 - 1), INT64: (-(2**63), 2**63 - 1)}

# KubeletConfiguration v1beta1 (k8s.io/kubelet/config/v1beta1/types.go), the fields any of
# kubeadm's, kubespray's or this collection's files use, with the JSON type Go decodes them as.
# Objects whose inner fields the stand-in does not check are ANY.
SCHEMA: dict = {
    "apiVersion": STR,
    "kind": STR,
    "enableServer": BOOL,
    "staticPodPath": STR,
    "podLogsDir": STR,
    "syncFrequency": DURATION,
    "fileCheckFrequency": DURATION,
    "httpCheckFrequency": DURATION,
    "staticPodURL": STR,
    "staticPodURLHeader": ANY,
    "address": STR,
    "port": INT32,
    "readOnlyPort": INT32,
    "tlsCertFile": STR,
    "tlsPrivateKeyFile": STR,
    "tlsCipherSuites": LIST_STR,
    "tlsMinVersion": STR,
    "rotateCertificates": BOOL,
    "serverTLSBootstrap": BOOL,
    "authentication": {
        "x509": {"clientCAFile": STR},
        "webhook": {"enabled": BOOL, "cacheTTL": DURATION},
        "anonymous": {"enabled": BOOL},
    },
    "authorization": {
        "mode": STR,
        "webhook": {"cacheAuthorizedTTL": DURATION, "cacheUnauthorizedTTL": DURATION},
    },
    "registryPullQPS": INT32,
    "registryBurst": INT32,
    "imagePullCredentialsVerificationPolicy": STR,
    "preloadedImagesVerificationAllowlist": LIST_STR,
    "eventRecordQPS": INT32,
    "eventBurst": INT32,
    "enableDebuggingHandlers": BOOL,
    "enableContentionProfiling": BOOL,
    "healthzPort": INT32,
    "healthzBindAddress": STR,
    "oomScoreAdj": INT32,
    "clusterDomain": STR,
    "clusterDNS": LIST_STR,
    "streamingConnectionIdleTimeout": DURATION,
    "nodeStatusUpdateFrequency": DURATION,
    "nodeStatusReportFrequency": DURATION,
    "nodeLeaseDurationSeconds": INT32,
    "imageMinimumGCAge": DURATION,
    "imageMaximumGCAge": DURATION,
    "imageGCHighThresholdPercent": INT32,
    "imageGCLowThresholdPercent": INT32,
    "volumeStatsAggPeriod": DURATION,
    "kubeletCgroups": STR,
    "systemCgroups": STR,
    "cgroupRoot": STR,
    "cgroupsPerQOS": BOOL,
    "cgroupDriver": STR,
    "cpuManagerPolicy": STR,
    "singleProcessOOMKill": BOOL,
    "cpuManagerPolicyOptions": MAP_STR_STR,
    "cpuManagerReconcilePeriod": DURATION,
    "memoryManagerPolicy": STR,
    "topologyManagerPolicy": STR,
    "topologyManagerScope": STR,
    "topologyManagerPolicyOptions": MAP_STR_STR,
    "qosReserved": MAP_STR_STR,
    "runtimeRequestTimeout": DURATION,
    "hairpinMode": STR,
    "maxPods": INT32,
    "podCIDR": STR,
    "podPidsLimit": INT64,
    "resolvConf": STR,
    "runOnce": BOOL,
    "cpuCFSQuota": BOOL,
    "cpuCFSQuotaPeriod": DURATION,
    "nodeStatusMaxImages": INT32,
    "maxOpenFiles": INT64,
    "contentType": STR,
    "kubeAPIQPS": INT32,
    "kubeAPIBurst": INT32,
    "serializeImagePulls": BOOL,
    "maxParallelImagePulls": INT32,
    "evictionHard": MAP_STR_STR,
    "evictionSoft": MAP_STR_STR,
    "evictionSoftGracePeriod": MAP_STR_STR,
    "evictionPressureTransitionPeriod": DURATION,
    "evictionMaxPodGracePeriod": INT32,
    "evictionMinimumReclaim": MAP_STR_STR,
    "podsPerCore": INT32,
    "enableControllerAttachDetach": BOOL,
    "protectKernelDefaults": BOOL,
    "makeIPTablesUtilChains": BOOL,
    "iptablesMasqueradeBit": INT32,
    "iptablesDropBit": INT32,
    "featureGates": MAP_STR_BOOL,
    "failSwapOn": BOOL,
    "memorySwap": {"swapBehavior": STR},
    "containerLogMaxSize": STR,
    "containerLogMaxFiles": INT32,
    "containerLogMaxWorkers": INT32,
    "containerLogMonitorInterval": DURATION,
    "configMapAndSecretChangeDetectionStrategy": STR,
    "systemReserved": MAP_STR_STR,
    "kubeReserved": MAP_STR_STR,
    "reservedSystemCPUs": STR,
    "showHiddenMetricsForVersion": STR,
    "systemReservedCgroup": STR,
    "kubeReservedCgroup": STR,
    "enforceNodeAllocatable": LIST_STR,
    "allowedUnsafeSysctls": LIST_STR,
    "volumePluginDir": STR,
    "providerID": STR,
    "kernelMemcgNotification": BOOL,
    "logging": ANY,
    "enableSystemLogHandler": BOOL,
    "enableSystemLogQuery": BOOL,
    "shutdownGracePeriod": DURATION,
    "shutdownGracePeriodCriticalPods": DURATION,
    "shutdownGracePeriodByPodPriority": ANY,
    "crashLoopBackOff": ANY,
    "reservedMemory": ANY,
    "enableProfilingHandler": BOOL,
    "enableDebugFlagsHandler": BOOL,
    "seccompDefault": BOOL,
    "memoryThrottlingFactor": FLOAT,
    "registerWithTaints": ANY,
    "registerNode": BOOL,
    "tracing": ANY,
    "localStorageCapacityIsolation": BOOL,
    "containerRuntimeEndpoint": STR,
    "imageServiceEndpoint": STR,
    "failCgroupV1": BOOL,
    "userNamespaces": ANY,
}

# Names Go's crypto/tls knows (tls.CipherSuites() and tls.InsecureCipherSuites()), plus the two
# legacy names k8s.io/component-base/cli/flag/ciphersuites_flag.go keeps: what the kubelet accepts.
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
TLS_VERSIONS = frozenset({"VersionTLS10", "VersionTLS11", "VersionTLS12", "VersionTLS13"})
AUTHORIZATION_MODES = ("AlwaysAllow", "Webhook")

# pkg/kubelet/cm/container_manager_linux.go setupKernelTunables, in the order checked here.
KERNEL_DEFAULTS = (
    ("vm/overcommit_memory", 1),
    ("vm/panic_on_oom", 0),
    ("kernel/panic", 10),
    ("kernel/panic_on_oops", 1),
    ("kernel/keys/root_maxkeys", 1000000),
    ("kernel/keys/root_maxbytes", 25000000),
)

_DURATION = re.compile(r"[-+]?(?:(?:\d+\.?\d*|\.\d+)(?:ns|us|\u00b5s|\u03bcs|ms|s|m|h))+")


def valid_duration(text: str) -> bool:
    """Whether Go's time.ParseDuration accepts text ("0" alone may go without a unit)."""
    return text in ("0", "+0", "-0") or _DURATION.fullmatch(text) is not None


def json_kind(value) -> str:
    """The JSON type name Go's encoding/json reports for a decoded YAML value."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _type_error(value, path: str, go_type: str) -> Fatal:
    shown = json_kind(value)
    if shown == "number":
        shown = f"number {value}"
    return Fatal(f"json: cannot unmarshal {shown} into Go struct field {KIND}.{path} of type {go_type}")


def check_value(value, spec, path: str) -> None:
    """Raise Fatal as Go's json decoder would for a value of the wrong type; null is always fine."""
    if value is None or spec == ANY:
        return
    if isinstance(spec, dict):
        if not isinstance(value, dict):
            raise _type_error(value, path, "struct")
        for key, inner in value.items():
            if key in spec:
                check_value(inner, spec[key], f"{path}.{key}")
        return
    if spec == BOOL:
        if not isinstance(value, bool):
            raise _type_error(value, path, "bool")
    elif spec in (STR, DURATION):
        if not isinstance(value, str):
            raise _type_error(value, path, "string")
        if spec == DURATION and not valid_duration(value):
            raise Fatal(f"time: invalid duration {_quote(value)} (field {KIND}.{path})")
    elif spec in INT_RANGES:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _type_error(value, path, spec)
        low, high = INT_RANGES[spec]
        if isinstance(value, float) or not low <= value <= high:
            raise _type_error(value, path, spec)
    elif spec == FLOAT:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _type_error(value, path, spec)
    elif spec == LIST_STR:
        if not isinstance(value, list):
            raise _type_error(value, path, spec)
        for item in value:
            if item is not None and not isinstance(item, str):
                raise _type_error(item, path, "string")
    elif spec in (MAP_STR_BOOL, MAP_STR_STR):
        if not isinstance(value, dict):
            raise _type_error(value, path, spec)
        want = bool if spec == MAP_STR_BOOL else str
        for inner in value.values():
            if inner is not None and not isinstance(inner, want):
                raise _type_error(inner, path, want.__name__.replace("str", "string"))


def unknown_fields(document: dict, schema: dict, prefix: str = "") -> list:
    found = []
    for key, value in document.items():
        if key not in schema:
            found.append(prefix + str(key))
        elif isinstance(schema[key], dict) and isinstance(value, dict):
            found.extend(unknown_fields(value, schema[key], f"{prefix}{key}."))
    return found


def load_config(path: str) -> dict:
    """The config file's mapping, or Fatal worded as the kubelet words a file it cannot load."""
    import yaml  # noqa: PLC0415 (PyYAML is needed only with --config)

    def fail(error: str) -> Fatal:
        return Fatal(
            f"failed to load kubelet config file, path: {path}, error: "
            f"failed to load Kubelet config file {path}, error {error}"
        )

    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as error:
        raise fail(f'failed to read kubelet config file "{path}", error: open {path}: {_os_error(error)}') from None
    try:
        document = yaml.safe_load(data)
    except yaml.YAMLError as error:
        where = getattr(error, "problem_mark", None)
        line = f"line {where.line + 1}: " if where is not None else ""
        problem = getattr(error, "problem", None) or str(error)
        raise fail(f"failed to decode: error converting YAML to JSON: yaml: {line}{problem}") from None
    if not isinstance(document, dict):
        raise fail(
            f"failed to decode: couldn't get version/kind; json parse error: not an object: {json_kind(document)}"
        )
    version, kind = document.get("apiVersion"), document.get("kind")
    if not kind:
        raise fail("failed to decode: Object 'Kind' is missing")
    if not version:
        raise fail("failed to decode: Object 'apiVersion' is missing")
    if version != API_VERSION or kind != KIND:
        raise fail(f'failed to decode: no kind "{kind}" is registered for version "{version}"')
    try:
        for key, value in document.items():
            if key in SCHEMA:
                check_value(value, SCHEMA[key], key)
    except Fatal as error:
        raise fail(f"failed to decode: {error}") from None
    unknown = unknown_fields(document, SCHEMA)
    if unknown:
        warning(
            "Using lenient decoding as strict decoding failed",
            err="strict decoding error: " + ", ".join(f'unknown field "{name}"' for name in unknown),
        )
    return document


def _os_error(error: OSError) -> str:
    return (error.strerror or str(error)).lower()


# --- the command line ---------------------------------------------------------------------------

# Flags the kubelet defines as booleans: a bare --flag means true and never takes the next word.
BOOL_FLAGS = frozenset(
    {
        "anonymous-auth",
        "rotate-certificates",
        "rotate-server-certificates",
        "seccomp-default",
        "protect-kernel-defaults",
        "make-iptables-util-chains",
        "fail-swap-on",
        "register-node",
        "register-schedulable",
        "logtostderr",
        "alsologtostderr",
        "cgroups-per-qos",
        "enable-server",
        "enable-debugging-handlers",
        "serialize-image-pulls",
        "exit-on-lock-contention",
        "keep-terminated-pod-volumes",
        "kernel-memcg-notification",
        "local-storage-capacity-isolation",
        "one-output",
        "skip-headers",
        "skip-log-headers",
        "help",
        "version",
    }
)

# Interpreted flags that take a value: flag name -> (config path or None, type).
VALUE_FLAGS = {
    "config": (None, STR),
    "kubeconfig": (None, STR),
    "bootstrap-kubeconfig": (None, STR),
    "hostname-override": (None, STR),
    "cert-dir": (None, STR),
    "read-only-port": ("readOnlyPort", INT32),
    "authorization-mode": ("authorization.mode", STR),
    "client-ca-file": ("authentication.x509.clientCAFile", STR),
    "tls-cert-file": ("tlsCertFile", STR),
    "tls-private-key-file": ("tlsPrivateKeyFile", STR),
    "tls-cipher-suites": ("tlsCipherSuites", LIST_STR),
    "tls-min-version": ("tlsMinVersion", STR),
    "healthz-port": ("healthzPort", INT32),
    "healthz-bind-address": ("healthzBindAddress", STR),
    "event-qps": ("eventRecordQPS", INT32),
    "pod-max-pids": ("podPidsLimit", INT64),
    "streaming-connection-idle-timeout": ("streamingConnectionIdleTimeout", DURATION),
    "feature-gates": ("featureGates", MAP_STR_BOOL),
}
BOOL_FLAG_FIELDS = {
    "anonymous-auth": "authentication.anonymous.enabled",
    "rotate-certificates": "rotateCertificates",
    "seccomp-default": "seccompDefault",
    "protect-kernel-defaults": "protectKernelDefaults",
    "make-iptables-util-chains": "makeIPTablesUtilChains",
}
# Other kubelet flags that take a value, so that their "--flag value" form is read right.
OTHER_VALUE_FLAGS = frozenset(
    {
        "container-runtime-endpoint",
        "image-service-endpoint",
        "pod-infra-container-image",
        "runtime-cgroups",
        "kubelet-cgroups",
        "system-cgroups",
        "cgroup-driver",
        "cgroup-root",
        "node-ip",
        "node-labels",
        "register-with-taints",
        "v",
        "vmodule",
        "log-file",
        "log-dir",
        "volume-plugin-dir",
        "root-dir",
        "cloud-provider",
        "cloud-config",
        "hairpin-mode",
        "network-plugin",
        "max-pods",
        "address",
        "port",
        "resolv-conf",
        "system-reserved",
        "kube-reserved",
        "eviction-hard",
        "event-burst",
        "cluster-dns",
        "cluster-domain",
        "provider-id",
        "runtime-request-timeout",
        "lock-file",
        "seccomp-profile-root",
        "pod-manifest-path",
    }
)

_TRUE = ("1", "t", "T", "TRUE", "true", "True")
_FALSE = ("0", "f", "F", "FALSE", "false", "False")


def parse_bool(text: str, flag: str) -> bool:
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise Fatal(f'invalid argument "{text}" for "--{flag}" flag: strconv.ParseBool: parsing "{text}": invalid syntax')


def parse_flag_value(flag: str, text: str, kind: str):
    """A flag's value of kind, or Fatal worded as pflag words a bad one."""
    if kind in INT_RANGES:
        low, high = INT_RANGES[kind]
        if not re.fullmatch(r"[-+]?\d+", text):
            raise Fatal(
                f'invalid argument "{text}" for "--{flag}" flag: strconv.ParseInt: parsing "{text}": invalid syntax'
            )
        number = int(text)
        if not low <= number <= high:
            raise Fatal(
                f'invalid argument "{text}" for "--{flag}" flag: strconv.ParseInt: parsing "{text}": value out of range'
            )
        return number
    if kind == DURATION:
        if not valid_duration(text):
            raise Fatal(f'invalid argument "{text}" for "--{flag}" flag: time: invalid duration "{text}"')
        return text
    if kind == LIST_STR:
        return [item for item in text.split(",") if item]
    if kind == MAP_STR_BOOL:
        gates = {}
        for pair in filter(None, text.split(",")):
            name, sep, value = pair.partition("=")
            if not sep:
                raise Fatal(f'invalid argument "{text}" for "--{flag}" flag: missing bool value for {name}')
            try:
                gates[name.strip()] = parse_bool(value.strip(), flag)
            except Fatal:
                raise Fatal(
                    f'invalid argument "{text}" for "--{flag}" flag: invalid value of {name}={value}, '
                    f'err: strconv.ParseBool: parsing "{value}": invalid syntax'
                ) from None
        return gates
    return text


def parse_command_line(argv: list) -> tuple:
    """(values of interpreted flags by name, [(unknown flag, value)]); Fatal for a bad line."""
    values: dict = {}
    unknown: list = []
    index = 0
    while index < len(argv):
        word = argv[index]
        index += 1
        if word == "--":
            if index < len(argv):
                raise Fatal(f'unknown command "{argv[index]}" for "kubelet"')
            break
        if not word.startswith("-") or word == "-":
            raise Fatal(f'unknown command "{word}" for "kubelet"')
        name, has_value, value = word.lstrip("-").partition("=")
        if name in BOOL_FLAGS:
            flag_value = parse_bool(value, name) if has_value else True
            if name in BOOL_FLAG_FIELDS:
                values[name] = flag_value
            else:
                unknown.append((name, flag_value))
            continue
        takes_value = name in VALUE_FLAGS or name in OTHER_VALUE_FLAGS
        if not has_value:
            if takes_value:
                if index >= len(argv):
                    raise Fatal(f"flag needs an argument: --{name}")
                value = argv[index]
                index += 1
            elif index < len(argv) and not argv[index].startswith("-"):
                # An unknown flag followed by a word: read as "--flag value", the likelier intent.
                value = argv[index]
                index += 1
            else:
                value = None
        if name in VALUE_FLAGS:
            values[name] = parse_flag_value(name, value, VALUE_FLAGS[name][1])
        else:
            unknown.append((name, value))
    return values, unknown


# --- the effective configuration ----------------------------------------------------------------


def get_path(document: dict, path: str, default=None):
    node = document
    for part in path.split("."):
        if not isinstance(node, dict) or node.get(part) is None:
            return default
        node = node[part]
    return node


def set_path(document: dict, path: str, value) -> None:
    node = document
    parts = path.split(".")
    for part in parts[:-1]:
        if not isinstance(node.get(part), dict):
            node[part] = {}
        node = node[part]
    if isinstance(value, dict) and isinstance(node.get(parts[-1]), dict):
        node[parts[-1]] = {**node[parts[-1]], **value}
    else:
        node[parts[-1]] = value


def aggregate(errors: list) -> str:
    """k8s.io/apimachinery's error aggregate: one error alone, several as [a, b]."""
    return errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]"


def validate(config: dict, path: str) -> None:
    errors = []
    read_only = get_path(config, "readOnlyPort", 0)
    if not 0 <= read_only <= 65535:
        errors.append(
            f"invalid configuration: readOnlyPort (--read-only-port) {read_only} must be between 0 and 65535, inclusive"
        )
    healthz = get_path(config, "healthzPort", 10248)
    if healthz != 0 and not 1 <= healthz <= 65535:
        errors.append(
            f"invalid configuration: healthzPort (--healthz-port) {healthz} must be between 1 and 65535, inclusive"
        )
    for field, flag in (("eventRecordQPS", "event-qps"), ("eventBurst", "event-burst")):
        number = get_path(config, field, 0)
        if number < 0:
            errors.append(f"invalid configuration: {field} (--{flag}) {number} must not be a negative number")
    if errors:
        raise Fatal(f"failed to validate kubelet configuration, error: {aggregate(errors)}, path: {path}")


def check_tls_settings(config: dict) -> None:
    """InitializeTLS's checks (cmd/kubelet/app/server.go): cipher names, then the TLS version."""
    for name in get_path(config, "tlsCipherSuites", []) or []:
        if name not in CIPHER_SUITES:
            raise Fatal(f"failed to run Kubelet: Cipher suite {name} not supported or doesn't exist")
    version = get_path(config, "tlsMinVersion", "")
    if version and version not in TLS_VERSIONS:
        raise Fatal(f'failed to run Kubelet: unknown tls version "{version}"')
    mode = get_path(config, "authorization.mode", "AlwaysAllow")
    if mode not in AUTHORIZATION_MODES:
        raise Fatal(f"failed to run Kubelet: unknown authorization mode {mode}")


# --- the files the kubelet reads at start ------------------------------------------------------

_PEM_BLOCK = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----\r?\n[A-Za-z0-9+/=\r\n]+-----END \1-----")


def pem_types(path: str, purpose: str) -> set:
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as error:
        raise Fatal(
            f"failed to run Kubelet: unable to load {purpose} {path}: open {path}: {_os_error(error)}"
        ) from None
    return {match.group(1).decode() for match in _PEM_BLOCK.finditer(data)}


def check_files(flags: dict, config: dict, cert_dir: str) -> None:
    kubeconfig, bootstrap = flags.get("kubeconfig"), flags.get("bootstrap-kubeconfig")
    if kubeconfig and os.path.isfile(kubeconfig):
        info("Using kubeconfig", path=kubeconfig)
    elif bootstrap:
        if not os.path.isfile(bootstrap):
            error = f"unable to load bootstrap kubeconfig: stat {bootstrap}: no such file or directory"
            raise Fatal(f"failed to run Kubelet: {error}")
        info("Would request a client certificate with the bootstrap kubeconfig (stand-in: not done)", path=bootstrap)
    elif kubeconfig:
        raise Fatal(f"failed to run Kubelet: invalid kubeconfig: stat {kubeconfig}: no such file or directory")
    else:
        info("No kubeconfig given: standalone mode")

    client_ca = get_path(config, "authentication.x509.clientCAFile", "")
    if client_ca:
        if "CERTIFICATE" not in pem_types(client_ca, "client CA file"):
            raise Fatal(
                f"failed to run Kubelet: unable to load client CA file {client_ca}: "
                "data does not contain any valid RSA or ECDSA certificates"
            )
        info("Client CA file loaded", path=client_ca)

    cert, key = get_path(config, "tlsCertFile", ""), get_path(config, "tlsPrivateKeyFile", "")
    if not cert and not key:
        info(
            "No tlsCertFile and tlsPrivateKeyFile: the kubelet would use a self-signed pair (stand-in: not checked)",
            certDir=cert_dir,
        )
        return
    if not cert or not key:
        missing = "tlsCertFile (--tls-cert-file)" if not cert else "tlsPrivateKeyFile (--tls-private-key-file)"
        raise Fatal(f"failed to run Kubelet: unable to load server certificate: {missing} is not set")
    if "CERTIFICATE" not in pem_types(cert, "server certificate file"):
        raise Fatal(
            f'failed to run Kubelet: unable to load server certificate "{cert}": '
            "tls: failed to find any PEM data in certificate input"
        )
    if not any(kind.endswith("PRIVATE KEY") for kind in pem_types(key, "server private key file")):
        raise Fatal(
            f'failed to run Kubelet: unable to load server private key "{key}": '
            "tls: failed to find any PEM data in key input"
        )
    info("Serving certificate loaded", certFile=cert, keyFile=key)


def check_kernel_defaults(config: dict) -> None:
    if not get_path(config, "protectKernelDefaults", False):
        return
    errors = []
    for flag, expected in KERNEL_DEFAULTS:
        try:
            with open(f"/proc/sys/{flag}", encoding="ascii") as handle:
                actual = int(handle.read().split()[0])
        except (OSError, ValueError, IndexError) as error:
            errors.append(f"failed to get kernel flag {flag}: {error}")
            continue
        if actual != expected:
            errors.append(f"invalid kernel flag: {flag}, expected value: {expected}, actual value: {actual}")
    if errors:
        raise Fatal(f"failed to run Kubelet: failed to create kubelet: {aggregate(errors)}")
    info("Kernel tunables are as protectKernelDefaults requires")


# --- serving ------------------------------------------------------------------------------------


class Handler(BaseHTTPRequestHandler):
    server_version = "standin-kubelet"
    sys_version = ""
    paths: ClassVar[dict] = {}

    def do_GET(self):
        path = self.path.split("?", 1)[0]
        answer = self.paths.get(path)
        if answer is None:
            self._send(404, "text/plain; charset=utf-8", b"404 page not found\n")
        else:
            self._send(200, *answer)

    def _send(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):
        return


HEALTHZ = ("text/plain; charset=utf-8", b"ok")
PODS = ("application/json", b'{"kind":"PodList","apiVersion":"v1","metadata":{},"items":[]}')


def listen(address: str, port: int, paths: dict, name: str) -> ThreadingHTTPServer:
    handler = type(f"{name}Handler", (Handler,), {"paths": paths})
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    server_class = type(f"{name}Server", (ThreadingHTTPServer,), {"address_family": family, "daemon_threads": True})
    try:
        server = server_class((address, port), handler)
    except OSError as error:
        raise Fatal(
            f"failed to run Kubelet: failed to listen on {address}:{port} ({name}): {_os_error(error)}"
        ) from None
    threading.Thread(target=server.serve_forever, name=name, daemon=True).start()
    info("Listening", server=name, address=f"{address}:{port}", paths=",".join(sorted(paths)))
    return server


def run(argv: list) -> int:
    info(IDENTITY, pid=os.getpid(), argv=" ".join(argv))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_unused: stop.set())
    signal.signal(signal.SIGINT, lambda *_unused: stop.set())

    flags, unknown = parse_command_line(argv)
    for name, value in unknown:
        info("Flag accepted, not interpreted by the stand-in", flag=name, value="" if value is None else value)
    config_path = flags.get("config")
    config: dict = load_config(config_path) if config_path else {}
    for flag, value in flags.items():
        field = VALUE_FLAGS[flag][0] if flag in VALUE_FLAGS else BOOL_FLAG_FIELDS[flag]
        if field:
            set_path(config, field, value)
    validate(config, config_path or "(no config file)")
    check_tls_settings(config)
    node = flags.get("hostname-override") or socket.gethostname()
    info("Node name", node=node)
    check_files(flags, config, flags.get("cert-dir", "/var/lib/kubelet/pki"))
    check_kernel_defaults(config)

    servers = []
    port = get_path(config, "healthzPort", 10248)
    if port:
        servers.append(
            listen(get_path(config, "healthzBindAddress", "127.0.0.1"), port, {"/healthz": HEALTHZ}, "healthz")
        )
    else:
        info("healthzPort is 0: no healthz server")
    read_only = get_path(config, "readOnlyPort", 0)
    if read_only:
        paths = {"/healthz": HEALTHZ, "/pods": PODS, "/pods/": PODS}
        servers.append(listen("0.0.0.0", read_only, paths, "read-only"))
    else:
        info("readOnlyPort is 0: no read-only server")
    info("Started", node=node)
    while not stop.wait(1.0):
        pass
    info("Received SIGTERM or SIGINT: stopping")
    for server in servers:
        server.shutdown()
        server.server_close()
    return 0


def main() -> int:
    try:
        return run(sys.argv[1:])
    except Fatal as error:
        log("E", "command failed", err=str(error))
        return 1


if __name__ == "__main__":
    sys.exit(main())
