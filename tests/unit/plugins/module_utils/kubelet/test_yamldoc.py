# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Tests for the kubelet configuration reader and in-place editor (yamldoc)."""

from __future__ import annotations

import json
import math

import pytest
import yaml

from ansible_collections.nodeguard.hardening.plugins.module_utils._kubelet import yamldoc
from ansible_collections.nodeguard.hardening.plugins.module_utils._kubelet.yamldoc import REMOVE, YamlError

# What kubeadm v1.32 writes to /var/lib/kubelet/config.yaml (Go marshals keys sorted, sequences unindented).
KUBEADM = """\
apiVersion: kubelet.config.k8s.io/v1beta1
authentication:
  anonymous:
    enabled: false
  webhook:
    cacheTTL: 0s
    enabled: true
  x509:
    clientCAFile: /etc/kubernetes/pki/ca.crt
authorization:
  mode: Webhook
  webhook:
    cacheAuthorizedTTL: 0s
    cacheUnauthorizedTTL: 0s
cgroupDriver: systemd
clusterDNS:
- 10.96.0.10
clusterDomain: cluster.local
containerRuntimeEndpoint: ""
cpuManagerReconcilePeriod: 0s
crashLoopBackOff: {}
evictionPressureTransitionPeriod: 0s
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
memorySwap: {}
nodeStatusReportFrequency: 0s
nodeStatusUpdateFrequency: 0s
resolvConf: /run/systemd/resolve/resolv.conf
rotateCertificates: true
runtimeRequestTimeout: 0s
shutdownGracePeriod: 0s
shutdownGracePeriodCriticalPods: 0s
staticPodPath: /etc/kubernetes/manifests
streamingConnectionIdleTimeout: 0s
syncFrequency: 0s
volumeStatsAggPeriod: 0s
"""

# kubespray's /etc/kubernetes/kubelet-config.yaml: a rendered Jinja template, indented sequences and comments.
KUBESPRAY = """\
---
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
maxPods: 110
podPidsLimit: -1
address: 192.168.56.11
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
  cpu: "200m"
  memory: "512Mi"
# Node reserved resources
systemReserved:
  cpu: 500m   # leave room for sshd
  memory: 512Mi
resolvConf: "/run/systemd/resolve/resolv.conf"
eventRecordQPS: 50
shutdownGracePeriod: 60s
shutdownGracePeriodCriticalPods: 20s
maxParallelImagePulls: 1
featureGates:
  SidecarContainers: true
  # InPlacePodVerticalScaling: true

tlsCipherSuites:
  - TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
  - TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
"""

STRONG = [
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
]

EKS_DATA = {
    "kind": "KubeletConfiguration",
    "apiVersion": "kubelet.config.k8s.io/v1beta1",
    "address": "0.0.0.0",
    "authentication": {
        "anonymous": {"enabled": False},
        "webhook": {"cacheTTL": "2m0s", "enabled": True},
        "x509": {"clientCAFile": "/etc/kubernetes/pki/ca.crt"},
    },
    "authorization": {"mode": "Webhook", "webhook": {"cacheAuthorizedTTL": "5m0s", "cacheUnauthorizedTTL": "30s"}},
    "clusterDomain": "cluster.local",
    "hairpinMode": "hairpin-veth",
    "readOnlyPort": 0,
    "cgroupDriver": "systemd",
    "cgroupRoot": "/",
    "featureGates": {"RotateKubeletServerCertificate": True},
    "protectKernelDefaults": True,
    "serializeImagePulls": False,
    "serverTLSBootstrap": True,
    "clusterDNS": ["10.100.0.10"],
    "evictionHard": {"memory.available": "100Mi", "nodefs.available": "10%"},
    "kubeReservedCgroup": "/runtime",
    "maxPods": 29,
}


def eks(indent: int | None = 2, newline: bool = True, data: dict | None = None) -> str:
    """An EKS-style kubelet-config.json as Go's json.MarshalIndent writes it."""
    text = json.dumps(EKS_DATA if data is None else data, indent=indent)
    return text + "\n" if newline else text


def strict_equal(a: object, b: object) -> bool:
    """Data equality where True is not 1 and 1 is not 1.0."""
    if isinstance(a, dict) and isinstance(b, dict):
        return list(a) == list(b) and all(strict_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(strict_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return type(a) is type(b) and a == b


# --- load ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("text", [KUBEADM, KUBESPRAY], ids=["kubeadm", "kubespray"])
def test_load_realistic_files_like_pyyaml(text):
    assert strict_equal(yamldoc.load(text), yaml.safe_load(text))


def test_load_kubeadm_values():
    data = yamldoc.load(KUBEADM)
    assert data["clusterDNS"] == ["10.96.0.10"]
    assert data["authentication"]["anonymous"]["enabled"] is False
    assert data["containerRuntimeEndpoint"] == ""
    assert data["crashLoopBackOff"] == {}
    assert data["logging"]["options"]["json"]["infoBufferSize"] == "0"
    assert data["healthzPort"] == 10248
    assert list(data)[:3] == ["apiVersion", "authentication", "authorization"]


@pytest.mark.parametrize("indent", [None, 2, 4])
def test_load_json_keeps_order(indent):
    data = yamldoc.load(eks(indent))
    assert data == EKS_DATA
    assert list(data) == list(EKS_DATA)


# Plain scalars whose YAML 1.1 reading PyYAML and Go's yaml.v2 agree on; each is also checked against PyYAML.
AGREED = [
    ("", None),
    ("~", None),
    ("null", None),
    ("Null", None),
    ("NULL", None),
    ("nULL", "nULL"),
    ("true", True),
    ("True", True),
    ("TRUE", True),
    ("tRUE", "tRUE"),
    ("yes", True),
    ("Yes", True),
    ("NO", False),
    ("on", True),
    ("Off", False),
    ("false", False),
    ("0", 0),
    ("-0", 0),
    ("+10", 10),
    ("-10", -10),
    ("10248", 10248),
    ("1_000", 1000),
    ("0x1F", 31),
    ("-0x1F", -31),
    ("0x_1F", 31),
    ("017", 15),
    ("0b101", 5),
    ("-0b11", -3),
    ("9223372036854775807", 9223372036854775807),
    ("1.5", 1.5),
    ("-1.5", -1.5),
    ("1.", 1.0),
    ("1.5e+3", 1500.0),
    ("-1.5e-3", -0.0015),
    (".5", 0.5),
    ("1_000.5", 1000.5),
    (".inf", math.inf),
    ("-.inf", -math.inf),
    ("+.inf", math.inf),
    (".Inf", math.inf),
    (".nan", math.nan),
    (".NaN", math.nan),
    ("0s", "0s"),
    ("5m", "5m"),
    ("1h30m", "1h30m"),
    ("10.96.0.10", "10.96.0.10"),
    ("cluster.local", "cluster.local"),
    ("/etc/kubernetes/pki/ca.crt", "/etc/kubernetes/pki/ca.crt"),
    ("a:b", "a:b"),
    ("a#b", "a#b"),
    ("a, b", "a, b"),
    ("http://x:80/y", "http://x:80/y"),
    ("-a", "-a"),
    ("--", "--"),
    ("inf", "inf"),
    ("é", "é"),
]


@pytest.mark.parametrize(("plain", "expected"), AGREED, ids=[repr(case[0]) for case in AGREED])
def test_plain_scalar_resolution_matches_pyyaml(plain, expected):
    text = f"k: {plain}\n"
    assert strict_equal(yamldoc.load(text), {"k": expected})
    assert strict_equal(yaml.safe_load(text), {"k": expected})
    assert strict_equal(yamldoc.load(f"- {plain}\n"), [expected])


# Deliberate difference: plain scalars that Go's yaml.v2 (the kubelet) and PyYAML read differently are refused.
AMBIGUOUS = [
    "y",  # Go: true, PyYAML: "y"
    "N",
    "1e3",  # Go: 1000.0, PyYAML: "1e3"
    "-1.5e3",
    "1.5e3",
    "0o17",  # Go: 15, PyYAML: "0o17"
    "0X1F",
    "08",  # Go: 8.0, PyYAML: "08"
    "-.5",
    "+.5",
    "1:30",  # PyYAML: 90 (base 60), Go: "1:30"
    "2001-12-14",  # PyYAML: a date
    "18446744073709551616",  # Go: a float
    "=",
]


@pytest.mark.parametrize("plain", AMBIGUOUS)
def test_ambiguous_plain_scalars_are_refused(plain):
    with pytest.raises(YamlError, match=r"^line 2: the plain value .* quote it"):
        yamldoc.load(f"a: 1\nk: {plain}\n")
    assert yamldoc.load(f"k: '{plain}'\n") == {"k": plain}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("k: 'it''s'\n", "it's"),
        ("k: 'a # b'  # comment\n", "a # b"),
        ('k: "a\\\\b\\"c"\n', 'a\\b"c'),
        ('k: "tab\\there\\nnl"\n', "tab\there\nnl"),
        ('k: "\\u00e9\\x41\\U0001F600\\/"\n', "éA\U0001f600/"),
        ('k: "true"\n', "true"),
        ("k: '10'\n", "10"),
        ('k: ""\n', ""),
        ("k: ' x '\n", " x "),
    ],
)
def test_quoted_scalars_are_strings(text, expected):
    assert yamldoc.load(text) == {"k": expected}
    assert yaml.safe_load(text) == {"k": expected}


@pytest.mark.parametrize(
    "text",
    [
        "k: []\n",
        "k: {}\n",
        'k: [a, "b", 3]\n',
        "k: {a: 1, b: [x, z]}\n",
        'k: {"a":1, b: {c: [[], {}]}}  # comment\n',
        "k: [a, b,]\n",
        "k: [ -1, 0x10 , true ]\n",
        "k: {a: , b: ~}\n",
        "- [a, b]\n- {}\n",
        "[a, {b: c}]\n",
        "---\n{a: 1}\n",
    ],
)
def test_flow_collections_like_pyyaml(text):
    assert strict_equal(yamldoc.load(text), yaml.safe_load(text))


@pytest.mark.parametrize(
    "text",
    [
        "clusterDNS:\n- 10.96.0.10\n- 10.96.0.11\nclusterDomain: cluster.local\n",
        "clusterDNS:\n  - 10.96.0.10\n  - 10.96.0.11\nclusterDomain: cluster.local\n",
        "a:\n- name: x\n  value: 1\n- name: z\n  args:\n  - p\n  - q\nb: 2\n",
        "a:\n    - - 1\n      - 2\n    - -\n        - 3\n    -\n    - # empty\n",
        "- a: 1\n  b:\n    c: 2\n- - x\n  - z\n",
        "a:\nb:   # nothing\nc: 1\n",
        "# comment\n\n---  # start\na: 1  # one\n\n# between\nb: 'two'\n...\n# after the end\n",
        "a:\n  b:\n    c: 1\n\n  # comment\n  d: 2\ne: 3\n",
        "  a: 1\n  b: 2\n",
        "'quoted key': 1\n\"dq\": 2\nplain key: 3\n",
        "key: value:with:colons\n",
        "plain\n",
        "'x'\n",
    ],
)
def test_block_structures_like_pyyaml(text):
    assert strict_equal(yamldoc.load(text), yaml.safe_load(text))


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n", "---\n", "--- # c\n...\n", "   \n", "...\n"])
def test_empty_documents_load_as_none(text):
    assert yamldoc.load(text) is None


# Each error names the line; the second element is a fragment of the message.
ERRORS = [
    ("a:\n\tb: 1\n", 2, "tabs are not allowed for indentation"),
    ("a: 1\n  \t\n", 2, "tabs are not allowed for indentation"),
    ("a: b\t# c\n", 1, "tabs are not allowed"),
    ("a: &anchor 1\n", 1, "anchors"),
    ("a: 1\nb: *alias\n", 2, "aliases"),
    ("a: !!str 1\n", 1, "tags"),
    ("a: |\n  text\n", 1, "block scalars"),
    ("a: >-\n  text\n", 1, "block scalars"),
    ("a: 1\n---\nb: 2\n", 2, "multiple documents"),
    ("---\na: 1\n---\n", 3, "multiple documents"),
    ("a: 1\n...\nb: 2\n", 3, "multiple documents"),
    ("--- a: 1\n", 1, "content on a document marker line"),
    ("%YAML 1.1\n---\na: 1\n", 1, "directives"),
    ("a: 1\nb: 2\na: 3\n", 3, "duplicate key 'a'"),
    ("k: {a: 1, a: 2}\n", 1, "duplicate key 'a'"),
    ("a: 'unterminated\n", 1, "unterminated quoted string"),
    ('a: "multi\n  line"\n', 1, "unterminated quoted string"),
    ('a: "bad \\q escape"\n', 1, "unsupported escape"),
    ("a: 1\nkey: [a, b\n", 2, "not closed on this line"),
    ("key: [a, b  # comment\n", 1, "not closed on this line"),
    ("key: {a: 1,\n  b: 2}\n", 1, "not closed on this line"),
    ("key: [a] b\n", 1, "unexpected text 'b' after a flow collection"),
    ("key: 'a' b\n", 1, "unexpected text 'b' after a value"),
    ("key: [a: b]\n", 1, "'key: value' pairs inside a flow sequence"),
    ("key: [a:b]\n", 1, "':' inside a plain value"),
    ("key: [a?b]\n", 1, "'?' inside a plain value"),
    ("key: [a, , b]\n", 1, "unexpected ','"),
    ("a:\n  b: 1\n   c: 2\n", 3, "unexpected indentation"),
    ("a:\n    b: 1\n  c: 2\n", 3, "unexpected indentation"),
    ("a: plain\n  continued\n", 2, "unexpected indentation"),
    ("a:\n  text on the next line\n", 2, "a scalar must be on its key's or dash's line"),
    ("a:\n  - 1\n  b: 2\n", 3, "unexpected indentation"),
    ("a: 1\n- 2\n", 2, "unexpected '- ' item"),
    ("- 1\na: 2\n", 2, "unexpected content after the top-level value"),
    ("a: 1\njunk\n", 2, "expected 'key: value'"),
    ("? complex\n: key\n", 1, "complex keys"),
    ("<<: {a: 1}\n", 1, "merge keys"),
    ("a: b: c\n", 1, "cannot start on its key's line"),
    ("a: - b\n", 1, "cannot start on its key's line"),
    ("a: @x\n", 1, "cannot start with '@x'"),
    ("1: one\n", 1, "key '1' would not read as a string"),
    ("a: 1\n\ufeffb: 2\n", 2, "unsupported character U+FEFF"),
    ("a: 1\rb: 2\n", 1, "carriage return"),
    ("a: 1\r\nb: 2\nc: 3\n", 2, "mixed line endings"),
    ('{\n  "a": 1,\n  "a": 2\n}\n', 3, "duplicate key 'a'"),
    ('{\n  "a": 1,\n  "b": [1, 2\n}\n', 4, "invalid JSON"),
]


@pytest.mark.parametrize(("text", "line", "fragment"), ERRORS, ids=[repr(e[0]) for e in ERRORS])
def test_invalid_or_unsupported_documents_name_the_line(text, line, fragment):
    with pytest.raises(YamlError) as error:
        yamldoc.load(text)
    assert str(error.value).startswith(f"line {line}: ")
    assert fragment in str(error.value)


def test_json_nan_is_refused():
    with pytest.raises(YamlError, match="NaN is not valid JSON"):
        yamldoc.load('{"a": NaN}')


def test_crlf_documents_load():
    assert yamldoc.load(KUBEADM.replace("\n", "\r\n")) == yamldoc.load(KUBEADM)


# --- render_scalar -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, "true"),
        (False, "false"),
        (None, "null"),
        (10, "10"),
        (-3, "-3"),
        (0.5, "0.5"),
        (1e16, "1.0e+16"),
        (1e-05, "1.0e-05"),
        (math.inf, ".inf"),
        (-math.inf, "-.inf"),
        (math.nan, ".nan"),
        ("0s", "0s"),
        ("5m", "5m"),
        ("systemd", "systemd"),
        ("/etc/kubernetes/pki/ca.crt", "/etc/kubernetes/pki/ca.crt"),
        ("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"),
        ("a:b", "a:b"),
        ("true", '"true"'),
        ("no", '"no"'),
        ("y", '"y"'),
        ("10", '"10"'),
        ("", '""'),
        ("null", '"null"'),
        ("~", '"~"'),
        ("1e3", '"1e3"'),
        ("0x1F", '"0x1F"'),
        ("0o17", '"0o17"'),
        (".inf", '".inf"'),
        ("1_000", '"1_000"'),
        ("2001-12-14", '"2001-12-14"'),
        ("a: b", '"a: b"'),
        ("a:", '"a:"'),
        (" x", '" x"'),
        ("x ", '"x "'),
        ("#x", '"#x"'),
        ("x #y", '"x #y"'),
        ("[x", '"[x"'),
        ("{x", '"{x"'),
        ("*x", '"*x"'),
        ("&x", '"&x"'),
        ("!x", '"!x"'),
        ("%x", '"%x"'),
        ("@x", '"@x"'),
        ("`x", '"`x"'),
        ("'x", '"\'x"'),
        ('"x', '"\\"x"'),
        ("- x", '"- x"'),
        ("-", '"-"'),
        ("? x", '"? x"'),
        ("|", '"|"'),
        ("---", '"---"'),
        ("a\nb", '"a\\nb"'),
        ("a\tb", '"a\\tb"'),
        ("back\\slash", "back\\slash"),
        ("é", '"é"'),
        ("\x85", '"\\x85"'),
        ("\u2028", '"\\u2028"'),
    ],
)
def test_render_scalar(value, expected):
    assert yamldoc.render_scalar(value) == expected


@pytest.mark.parametrize(
    "value",
    ["true", "a: b", " lead", "x #y", "'q", '"q', "\x00\x07\x1b", "é😀", "a\\b", "0s", "1.0", "-", ":x", "...", "null"],
)
def test_rendered_strings_read_back_in_every_position(value):
    rendered = yamldoc.render_scalar(value)
    for text, expected in (
        (f"k: {rendered}\n", {"k": value}),
        (f"- {rendered}\n", [value]),
        (f"{rendered}: 1\n", {value: 1}),
    ):
        assert yamldoc.load(text) == expected
        assert yaml.safe_load(text) == expected


@pytest.mark.parametrize("value", [2**64, -(2**63) - 1, b"bytes", object()])
def test_render_scalar_refuses_what_does_not_read_back(value):
    with pytest.raises(YamlError):
        yamldoc.render_scalar(value)


# --- set_values on YAML --------------------------------------------------------------------------
def changed_lines(before: str, after: str) -> list[tuple[str, str]]:
    """Pairs of (old, new) lines where the two texts differ, both with the same number of lines."""
    old, new = before.splitlines(keepends=True), after.splitlines(keepends=True)
    assert len(old) == len(new)
    return [(a, b) for a, b in zip(old, new) if a != b]


def test_setting_an_existing_scalar_changes_only_its_line():
    result = yamldoc.set_values(KUBEADM, {("streamingConnectionIdleTimeout",): "5m"})
    assert changed_lines(KUBEADM, result) == [
        ("streamingConnectionIdleTimeout: 0s\n", "streamingConnectionIdleTimeout: 5m\n")
    ]


def test_setting_a_nested_scalar():
    text = KUBEADM.replace("    enabled: false\n", "    enabled: true\n", 1)
    result = yamldoc.set_values(text, {("authentication", "anonymous", "enabled"): False})
    assert result == KUBEADM


def test_no_change_returns_the_same_string():
    changes = {
        ("authentication", "anonymous", "enabled"): False,
        ("clusterDNS",): ["10.96.0.10"],
        ("crashLoopBackOff",): {},
        ("healthzPort",): 10248,
        ("containerRuntimeEndpoint",): "",
        ("readOnlyPort",): REMOVE,
        ("featureGates", "Absent"): REMOVE,
        ("logging", "options"): {"json": {"infoBufferSize": "0"}, "text": {"infoBufferSize": "0"}},
    }
    assert yamldoc.set_values(KUBEADM, changes) is KUBEADM
    assert yamldoc.set_values(KUBESPRAY, {("protectKernelDefaults",): True}) is KUBESPRAY


def test_type_changes_are_changes():
    result = yamldoc.set_values("a: 1\nb: true\n", {("a",): True, ("b",): 1})
    assert result == "a: true\nb: 1\n"


def test_absent_top_level_keys_are_appended_at_the_end():
    result = yamldoc.set_values(
        KUBEADM,
        {("readOnlyPort",): 0, ("podPidsLimit",): 4096, ("seccompDefault",): True, ("tlsCipherSuites",): STRONG},
    )
    tail = "readOnlyPort: 0\npodPidsLimit: 4096\nseccompDefault: true\ntlsCipherSuites:\n"
    assert result == KUBEADM + tail + "".join(f"- {name}\n" for name in STRONG)


def test_kubespray_sequences_stay_indented():
    result = yamldoc.set_values(KUBESPRAY, {("tlsCipherSuites",): STRONG, ("allowedUnsafeSysctls",): ["net.core.*"]})
    head = KUBESPRAY.split("tlsCipherSuites:\n", maxsplit=1)[0]
    body = "".join(f"  - {name}\n" for name in STRONG)
    assert result == head + "tlsCipherSuites:\n" + body + "allowedUnsafeSysctls:\n  - net.core.*\n"


def test_replacing_a_sequence_in_the_middle_keeps_the_rest():
    result = yamldoc.set_values(KUBEADM, {("clusterDNS",): ["10.96.0.10", "10.96.0.11"]})
    assert result == KUBEADM.replace("- 10.96.0.10\n", "- 10.96.0.10\n- 10.96.0.11\n")


def test_feature_gate_when_feature_gates_is_absent():
    result = yamldoc.set_values(KUBEADM, {("featureGates", "RotateKubeletServerCertificate"): True})
    assert result == KUBEADM + "featureGates:\n  RotateKubeletServerCertificate: true\n"


@pytest.mark.parametrize(
    ("line", "head"),
    [
        ("featureGates: {}", "featureGates:"),
        ("featureGates:", "featureGates:"),
        ("featureGates:  # none yet", "featureGates:  # none yet"),
        ("featureGates: ~", "featureGates:"),
        ("featureGates: null # x", "featureGates: # x"),
    ],
)
def test_feature_gate_when_feature_gates_is_empty(line, head):
    text = KUBEADM.replace("memorySwap: {}\n", f"{line}\nmemorySwap: {{}}\n")
    result = yamldoc.set_values(text, {("featureGates", "RotateKubeletServerCertificate"): True})
    block = f"{head}\n  RotateKubeletServerCertificate: true\n"
    assert result == KUBEADM.replace("memorySwap: {}\n", block + "memorySwap: {}\n")


def test_feature_gate_among_other_gates_goes_before_trailing_comments():
    result = yamldoc.set_values(KUBESPRAY, {("featureGates", "RotateKubeletServerCertificate"): True})
    assert result == KUBESPRAY.replace(
        "  SidecarContainers: true\n", "  SidecarContainers: true\n  RotateKubeletServerCertificate: true\n"
    )


def test_empty_flow_mapping_becomes_a_block():
    result = yamldoc.set_values(KUBEADM, {("crashLoopBackOff", "maxContainerRestartPeriod"): "5m"})
    assert result == KUBEADM.replace("crashLoopBackOff: {}\n", "crashLoopBackOff:\n  maxContainerRestartPeriod: 5m\n")


def test_empty_flow_sequence_becomes_a_block():
    text = "clusterDNS: []  # filled by the installer\nkind: KubeletConfiguration\n"
    result = yamldoc.set_values(text, {("clusterDNS",): ["10.96.0.10"]})
    assert result == "clusterDNS:  # filled by the installer\n- 10.96.0.10\nkind: KubeletConfiguration\n"


def test_trailing_comment_on_a_changed_line_stays():
    text = "healthzPort: 10248    # probed by the node agent\nreadOnlyPort: 10255 # insecure\n"
    result = yamldoc.set_values(text, {("healthzPort",): 10250, ("readOnlyPort",): 0})
    assert result == "healthzPort: 10250    # probed by the node agent\nreadOnlyPort: 0 # insecure\n"


def test_block_replaced_by_a_scalar_keeps_the_key_comment():
    text = "a: # note\n  b: 1\n  c: 2\n# about d\nd: 3\n"
    assert yamldoc.set_values(text, {("a",): "flat"}) == "a: flat # note\n# about d\nd: 3\n"
    assert yamldoc.set_values(text, {("a",): []}) == "a: [] # note\n# about d\nd: 3\n"


def test_podpidslimit_and_quoted_values_in_kubespray():
    result = yamldoc.set_values(KUBESPRAY, {("podPidsLimit",): 4096, ("nodeStatusUpdateFrequency",): "20s"})
    assert changed_lines(KUBESPRAY, result) == [
        ('nodeStatusUpdateFrequency: "10s"\n', "nodeStatusUpdateFrequency: 20s\n"),
        ("podPidsLimit: -1\n", "podPidsLimit: 4096\n"),
    ]


def test_nested_key_appended_after_the_last_child_block():
    result = yamldoc.set_values(
        KUBEADM, {("authentication", "webhook", "cacheTTL"): "2m0s", ("logging", "format"): "json"}
    )
    expected = KUBEADM.replace("cacheTTL: 0s", "cacheTTL: 2m0s").replace(
        "  verbosity: 0\n", "  verbosity: 0\n  format: json\n"
    )
    assert result == expected


def test_new_nested_blocks_follow_the_document_step():
    text = "authentication:\n    anonymous:\n        enabled: true\nclusterDNS:\n    - 10.96.0.10\n"
    result = yamldoc.set_values(
        text,
        {("authentication", "webhook", "enabled"): True, ("featureGates",): {"A": True}, ("tls",): ["x"]},
    )
    assert result == (
        "authentication:\n    anonymous:\n        enabled: true\n    webhook:\n        enabled: true\n"
        "clusterDNS:\n    - 10.96.0.10\nfeatureGates:\n    A: true\ntls:\n    - x\n"
    )


def test_values_of_every_shape():
    value = {"name": "x", "list": [1, {"a": None, "b": ["p"]}, ["q", "r"], [], {}], "empty": {}, "s": "a: b"}
    result = yamldoc.set_values("kind: KubeletConfiguration\n", {("extra",): value})
    assert result == (
        "kind: KubeletConfiguration\n"
        "extra:\n"
        "  name: x\n"
        "  list:\n"
        "  - 1\n"
        "  - a: null\n"
        "    b:\n"
        "    - p\n"
        "  - - q\n"
        "    - r\n"
        "  - []\n"
        "  - {}\n"
        "  empty: {}\n"
        '  s: "a: b"\n'
    )
    assert yaml.safe_load(result)["extra"] == value


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (("healthzPort",), KUBEADM.replace("healthzPort: 10248\n", "")),
        (("clusterDNS",), KUBEADM.replace("clusterDNS:\n- 10.96.0.10\n", "")),
        (
            ("logging", "options"),
            KUBEADM.replace(KUBEADM[KUBEADM.index("  options:") : KUBEADM.index("  verbosity")], ""),
        ),
        (
            ("authentication", "anonymous", "enabled"),
            KUBEADM.replace("  anonymous:\n    enabled: false\n", "  anonymous: {}\n"),
        ),
        (("authentication", "absent"), KUBEADM),
        (("absent", "deeper"), KUBEADM),
        (("crashLoopBackOff", "absent"), KUBEADM),
    ],
)
def test_remove(path, expected):
    result = yamldoc.set_values(KUBEADM, {path: REMOVE})
    assert result == expected
    if expected is KUBEADM:
        assert result is KUBEADM


def test_remove_keeps_surrounding_comments():
    result = yamldoc.set_values(KUBESPRAY, {("systemReserved",): REMOVE})
    assert result == KUBESPRAY.replace("systemReserved:\n  cpu: 500m   # leave room for sshd\n  memory: 512Mi\n", "")


def test_remove_everything_and_build_from_an_empty_document():
    assert yamldoc.set_values("a: 1\n", {("a",): REMOVE}) == ""
    assert yamldoc.set_values("a: 1\n...\n", {("a",): REMOVE}) == "...\n"
    assert (
        yamldoc.set_values("# managed\n", {("kind",): "KubeletConfiguration"})
        == "# managed\nkind: KubeletConfiguration\n"
    )
    assert yamldoc.set_values("", {("a", "b"): 1}) == "a:\n  b: 1\n"


def test_changes_apply_in_order():
    changes = {("featureGates",): {"A": True}, ("featureGates", "B"): False, ("featureGates", "A"): REMOVE}
    assert yamldoc.set_values("kind: K\n", changes) == "kind: K\nfeatureGates:\n  B: false\n"


def test_top_level_append_goes_before_a_document_end_marker():
    text = "---\na: 1\n...\n# trailer\n"
    assert yamldoc.set_values(text, {("b",): 2}) == "---\na: 1\nb: 2\n...\n# trailer\n"


def test_file_without_a_final_newline():
    assert yamldoc.set_values("a: 1\nb: 2", {("b",): 3}) == "a: 1\nb: 3"
    assert yamldoc.set_values("a: 1\nb: 2", {("c",): 3}) == "a: 1\nb: 2\nc: 3\n"
    assert yamldoc.set_values("a: 1\nb: 2", {("b",): [1]}) == "a: 1\nb:\n- 1"
    assert yamldoc.set_values("a:\n  b: 1", {("a", "c"): 2}) == "a:\n  b: 1\n  c: 2\n"


def test_crlf_is_preserved():
    text = KUBESPRAY.replace("\n", "\r\n")
    result = yamldoc.set_values(
        text, {("podPidsLimit",): 4096, ("seccompDefault",): True, ("tlsCipherSuites",): STRONG}
    )
    assert "\n" not in result.replace("\r\n", "")
    expected = yamldoc.set_values(
        KUBESPRAY, {("podPidsLimit",): 4096, ("seccompDefault",): True, ("tlsCipherSuites",): STRONG}
    )
    assert result == expected.replace("\n", "\r\n")


@pytest.mark.parametrize(
    ("text", "path", "fragment"),
    [
        (
            "kind: K\nauthentication: {anonymous: {enabled: true}}\n",
            ("authentication", "anonymous", "enabled"),
            "line 2: authentication is a flow mapping",
        ),
        (
            "kind: K\nauthentication: {anonymous: {enabled: true}}\n",
            ("authentication", "webhook"),
            "line 2: authentication is a flow mapping",
        ),
        (KUBEADM, ("clusterDNS", "first"), "line 16: clusterDNS is not a mapping"),
        (KUBEADM, ("healthzPort", "x", "y"), "line 25: healthzPort is not a mapping"),
        (KUBEADM, ("clusterDomain", "x"), "line 18: clusterDomain is not a mapping"),
        ("# c\n- a\n- b\n", ("a",), "line 2: the top level is not a block mapping"),
        ("just a string\n", ("a",), "line 1: the top level is not a block mapping"),
        ("[a, b]\n", ("a",), "line 1: the top level is not a block mapping"),
        ("a: 1\nb: *x\n", ("a",), "line 2: aliases"),
    ],
)
def test_set_values_refusals(text, path, fragment):
    with pytest.raises(YamlError) as error:
        yamldoc.set_values(text, {path: 1})
    assert fragment in str(error.value)


def test_whole_flow_mapping_can_be_replaced_by_a_block():
    text = "kind: K\nauthentication: {anonymous: {enabled: true}}  # inline\n"
    result = yamldoc.set_values(text, {("authentication",): {"anonymous": {"enabled": False}}})
    assert result == "kind: K\nauthentication:  # inline\n  anonymous:\n    enabled: false\n"


def test_removing_an_absent_key_inside_a_flow_mapping_is_a_no_op():
    text = "authentication: {anonymous: {enabled: true}}\n"
    assert yamldoc.set_values(text, {("authentication", "webhook", "enabled"): REMOVE}) is text


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({(): 1}, "non-empty tuple of strings"),
        ({("a", 1): 1}, "non-empty tuple of strings"),
        ({"a": 1}, "non-empty tuple of strings"),
        ({("a",): {1: "x"}}, "mapping keys must be strings"),
        ({("a",): {1, 2}}, "cannot write a value of type set"),
        ({("a",): 2**70}, "out of the range"),
    ],
)
def test_bad_changes(changes, fragment):
    with pytest.raises(YamlError, match=fragment):
        yamldoc.set_values("a: 1\n", changes)


def test_guard_refuses_an_edit_that_does_not_read_back(monkeypatch):
    monkeypatch.setattr(yamldoc, "render_scalar", lambda value: "999")
    with pytest.raises(YamlError, match=r"^internal: the edited document does not read back as intended"):
        yamldoc.set_values(KUBEADM, {("healthzPort",): 10250})


def test_guard_compares_bools_and_ints_strictly(monkeypatch):
    monkeypatch.setattr(yamldoc, "render_scalar", lambda value: "1" if value is True else "true")
    with pytest.raises(YamlError, match=r"^internal"):
        yamldoc.set_values("a: 0\n", {("a",): True})


@pytest.mark.parametrize("text", [KUBEADM, KUBESPRAY], ids=["kubeadm", "kubespray"])
def test_typical_hardening_edits_read_back_with_pyyaml(text):
    changes = {
        ("authentication", "anonymous", "enabled"): False,
        ("authentication", "webhook", "enabled"): True,
        ("authorization", "mode"): "Webhook",
        ("readOnlyPort",): 0,
        ("streamingConnectionIdleTimeout",): "5m",
        ("tlsCipherSuites",): STRONG,
        ("featureGates", "RotateKubeletServerCertificate"): True,
        ("podPidsLimit",): 4096,
        ("seccompDefault",): True,
        ("protectKernelDefaults",): True,
        ("makeIPTablesUtilChains",): True,
        ("eventRecordQPS",): REMOVE,
    }
    result = yamldoc.set_values(text, changes)
    expected = yaml.safe_load(text)
    for path, value in changes.items():
        node = expected
        for key in path[:-1]:
            node = node.setdefault(key, {})
        if value is REMOVE:
            node.pop(path[-1], None)
        else:
            node[path[-1]] = value
    assert strict_equal(yaml.safe_load(result), expected)
    assert yamldoc.set_values(result, changes) is result
    # Lines outside the edited values survive: every other original line is still there, in order.
    edited = ("streamingConnectionIdleTimeout", "eventRecordQPS", "podPidsLimit", "tlsCipherSuites", "  - TLS")
    remaining = iter(result.splitlines())
    untouched = [line for line in text.splitlines() if not line.startswith(edited)]
    assert all(line in remaining for line in untouched)


# --- set_values on JSON --------------------------------------------------------------------------
@pytest.mark.parametrize("indent", [2, 4, None])
@pytest.mark.parametrize("newline", [True, False])
def test_json_edit_keeps_the_layout(indent, newline):
    text = eks(indent, newline)
    changes = {
        ("readOnlyPort",): REMOVE,
        ("authentication", "anonymous", "enabled"): True,
        ("tlsCipherSuites",): STRONG,
        ("featureGates", "SeccompDefault"): True,
    }
    data = json.loads(text)
    del data["readOnlyPort"]
    data["authentication"]["anonymous"]["enabled"] = True
    data["tlsCipherSuites"] = STRONG
    data["featureGates"]["SeccompDefault"] = True
    assert yamldoc.set_values(text, changes) == eks(indent, newline, data)


def test_json_compact_separators_and_crlf():
    assert yamldoc.set_values('{"a":1,"b":2}', {("c",): "x"}) == '{"a":1,"b":2,"c":"x"}'
    text = '{\r\n    "a": 1\r\n}\r\n'
    assert yamldoc.set_values(text, {("b",): [1]}) == '{\r\n    "a": 1,\r\n    "b": [\r\n        1\r\n    ]\r\n}\r\n'


def test_json_without_changes_is_returned_as_is():
    text = '{ "readOnlyPort": 0,   "kind": "KubeletConfiguration" }\n'
    assert yamldoc.set_values(text, {("readOnlyPort",): 0, ("absent",): REMOVE}) is text


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({("maxPods", "x"): 1}, "maxPods is not a mapping"),
        ({("a",): math.nan}, "cannot write the value as JSON"),
    ],
)
def test_json_refusals(changes, fragment):
    with pytest.raises(YamlError, match=fragment):
        yamldoc.set_values(eks(), changes)


def test_json_guard(monkeypatch):
    monkeypatch.setattr(yamldoc, "_load_json", lambda text: {"kind": "other"} if "999" in text else json.loads(text))
    monkeypatch.setattr(yamldoc.json, "dumps", lambda *args, **kwargs: '{"maxPods": 999}')
    with pytest.raises(YamlError, match=r"^internal"):
        yamldoc.set_values(eks(), {("maxPods",): 30})


def test_guard_reports_an_edit_that_does_not_parse(monkeypatch):
    monkeypatch.setattr(yamldoc, "render_scalar", lambda value: "&anchor x")
    with pytest.raises(YamlError, match=r"^internal: the edited document does not read back \(line 1: anchors"):
        yamldoc.set_values("a: 1\n", {("a",): 2})
