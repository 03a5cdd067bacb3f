# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest
import yaml

from ansible_collections.nodeguard.hardening.plugins.module_utils._kubelet import kubebench

PASS, FAIL, WARN, INFO = kubebench.PASS, kubebench.FAIL, kubebench.WARN, kubebench.INFO
CMD, CONF, NONE = kubebench.SOURCE_COMMAND, kubebench.SOURCE_CONFIG, kubebench.SOURCE_NONE

PS_NO_PROCESS_ERROR = (
    f'failed to run: "/bin/ps -fC kube-proxy", output: "{kubebench.PS_HEADER}\\n", error: exit status 1'
)
STRONG = (
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,"
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305,TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,"
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305,TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"
)
MISSING_CONF = (
    'failed to run: "/bin/cat /var/lib/kubelet/config.yaml", output: '
    '"/bin/cat: /var/lib/kubelet/config.yaml: No such file or directory\\n", error: exit status 1'
)


def ps(*args: str) -> str:
    """What `/bin/ps -fC kubelet` prints for a kubelet started with args."""
    return f"{kubebench.PS_HEADER}\nroot 812 1 3 09:14 ? 00:41:07 /usr/bin/kubelet {' '.join(args)}\n"


def set_item(flag: str, path: str = "") -> dict:
    return {"flag": flag, "path": path, "set": True, "compare": {"op": "", "value": ""}}


def strict_yaml(text: str):
    """yaml.safe_load raising ValueError, as evaluate() expects of a loader."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValueError(str(exc)) from exc


# --- kube-bench's judging rules: (id, check, audit output, config output, state, source, expected) ------
# expected: a text kube-bench's expected result must contain ("" skips that assertion).
RULES = [
    # A flag on the command line beats the configuration file.
    (
        "flag beats file: read-only-port",
        "4.2.4",
        ps("--read-only-port=10255"),
        "readOnlyPort: 0\n",
        WARN,
        CMD,
        "'--read-only-port' is equal to '0' OR '--read-only-port' is not present",
    ),
    (
        "flag beats file: anonymous-auth",
        "4.2.1",
        ps("--anonymous-auth=false"),
        "authentication:\n  anonymous:\n    enabled: true\n",
        PASS,
        CMD,
        "'--anonymous-auth' is equal to 'false'",
    ),
    (
        "file decides without the flag",
        "4.2.1",
        ps(),
        "authentication:\n  anonymous:\n    enabled: false\n",
        PASS,
        CONF,
        "'{.authentication.anonymous.enabled}' is equal to 'false'",
    ),
    ("file says true", "4.2.1", ps(), "authentication:\n  anonymous:\n    enabled: true\n", FAIL, CONF, ""),
    # An absent key is "not set", whatever the kubelet's default.
    (
        "absent key fails",
        "4.2.1",
        ps(),
        "kind: KubeletConfiguration\nauthentication:\n  webhook:\n    enabled: true\n",
        FAIL,
        NONE,
        "'{.authentication.anonymous.enabled}' is present",
    ),
    (
        "absent read-only-port passes via set:false",
        "4.2.4",
        ps(),
        "kind: KubeletConfiguration\n",
        PASS,
        NONE,
        "'{.readOnlyPort}' is present OR '{.readOnlyPort}' is not present",
    ),
    ("read-only-port 0 in the file", "4.2.4", ps(), "readOnlyPort: 0\n", PASS, CONF, ""),
    ("read-only-port 10255 in the file", "4.2.4", ps(), "readOnlyPort: 10255\n", WARN, CONF, ""),
    (
        "seccompDefault false: only presence is checked",
        "4.2.14",
        ps(),
        "seccompDefault: false\n",
        PASS,
        CONF,
        "'{.seccompDefault}' is present",
    ),
    ("seccompDefault absent", "4.2.14", ps(), "kind: KubeletConfiguration\n", WARN, NONE, ""),
    ("--seccomp-default=false is present", "4.2.14", ps("--seccomp-default=false"), "", PASS, CMD, ""),
    (
        'streaming timeout "0s" is not "0"',
        "4.2.5",
        ps(),
        "streamingConnectionIdleTimeout: 0s\n",
        PASS,
        CONF,
        "is not equal to '0'",
    ),
    ("streaming timeout 0", "4.2.5", ps(), "streamingConnectionIdleTimeout: 0\n", WARN, CONF, ""),
    ("streaming timeout flag 0", "4.2.5", ps("--streaming-connection-idle-timeout=0"), "", WARN, CMD, ""),
    ("streaming timeout 5m", "4.2.5", ps(), "streamingConnectionIdleTimeout: 5m\n", PASS, CONF, ""),
    # bitmask: (allowed & mode) == mode, octal.
    (
        "mode 600 vs 600",
        "4.1.1",
        "permissions=600\n",
        "",
        PASS,
        CMD,
        "permissions has permissions 600, expected 600 or more restrictive",
    ),
    (
        "mode 644 vs 600",
        "4.1.1",
        "permissions=644\n",
        "",
        FAIL,
        CMD,
        "permissions has permissions 644, expected 600 or more restrictive",
    ),
    ("mode 400 vs 600", "4.1.5", "permissions=400\n", "", PASS, CMD, ""),
    ("mode 640 vs 600", "4.1.9", "permissions=640\n", "", FAIL, CMD, ""),
    ("mode 700 vs 600", "4.1.9", "permissions=700\n", "", FAIL, CMD, ""),
    ("mode 0 vs 600", "4.1.1", "permissions=0\n", "", PASS, CMD, ""),
    ("mode 4600 (setuid) vs 600", "4.1.1", "permissions=4600\n", "", FAIL, CMD, ""),
    ("CA mode 644 vs 644", "4.1.7", "permissions=644\n", "", PASS, CMD, ""),
    ("CA mode 600 vs 644", "4.1.7", "permissions=600\n", "", PASS, CMD, ""),
    ("CA mode 664 vs 644 (unscored)", "4.1.7", "permissions=664\n", "", WARN, CMD, ""),
    ("proxy kubeconfig 644 (unscored)", "4.1.3", "permissions=644\n", "", WARN, CMD, ""),
    # Ownership.
    ("owner root:root", "4.1.6", "root:root\n", "", PASS, CMD, "'root:root' is present"),
    ("owner kube:root", "4.1.6", "kube:root\n", "", FAIL, NONE, ""),
    ("CA owner eq root:root", "4.1.8", "root:root\n", "", PASS, CMD, "'root:root' is equal to 'root:root'"),
    # valid_elements over the jsonpath range output "A,B,".
    (
        "ciphers: a subset",
        "4.2.12",
        ps(),
        "tlsCipherSuites:\n- TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256\n- TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384\n",
        PASS,
        CONF,
        "contains valid elements from",
    ),
    ("ciphers: all six", "4.2.12", ps(), "tlsCipherSuites: [" + STRONG + "]\n", PASS, CONF, ""),
    (
        "ciphers: one weak",
        "4.2.12",
        ps(),
        "tlsCipherSuites:\n- TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256\n- TLS_RSA_WITH_AES_128_GCM_SHA256\n",
        WARN,
        CONF,
        "",
    ),
    (
        "ciphers: empty list",
        "4.2.12",
        ps(),
        "tlsCipherSuites: []\n",
        WARN,
        NONE,
        "'{range .tlsCipherSuites[:]}{}{','}{end}' is present",
    ),
    ("ciphers: absent", "4.2.12", ps(), "kind: KubeletConfiguration\n", WARN, NONE, ""),
    (
        "ciphers: flag subset",
        "4.2.12",
        ps("--tls-cipher-suites=TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"),
        "",
        PASS,
        CMD,
        "",
    ),
    (
        "ciphers: flag with weak one",
        "4.2.12",
        ps("--tls-cipher-suites=TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,TLS_RSA_WITH_RC4_128_SHA"),
        "",
        WARN,
        CMD,
        "",
    ),
    # and / or of items.
    (
        "and: both tls files in the file",
        "4.2.9",
        ps(),
        "tlsCertFile: /a.crt\ntlsPrivateKeyFile: /a.key\n",
        PASS,
        CONF,
        "'{.tlsCertFile}' is present AND '{.tlsPrivateKeyFile}' is present",
    ),
    ("and: only the certificate", "4.2.9", ps(), "tlsCertFile: /a.crt\n", WARN, CONF, ""),
    (
        "and: one flag, one key",
        "4.2.9",
        ps("--tls-cert-file=/a.crt"),
        "tlsPrivateKeyFile: /a.key\n",
        PASS,
        CMD,
        "'--tls-cert-file' is present AND '{.tlsPrivateKeyFile}' is present",
    ),
    ("or: metrics on loopback", "4.3.1", ps("--metrics-bind-address=127.0.0.1:10249"), "", PASS, CMD, ""),
    ("or: metrics on all addresses", "4.3.1", ps("--metrics-bind-address=0.0.0.0:10249"), "", FAIL, CMD, ""),
    ("or: metrics not set", "4.3.1", ps("--config=/var/lib/kube-proxy/config.conf"), "", PASS, NONE, ""),
    # set: false.
    (
        "hostname-override set",
        "4.2.7",
        ps("--hostname-override=node1"),
        "",
        WARN,
        CMD,
        "'--hostname-override' is not present",
    ),
    ("hostname-override absent", "4.2.7", ps("--node-ip=10.0.0.1"), "", PASS, NONE, ""),
    # eq: booleans are compared case-insensitively.
    ("eq True", "4.2.6", ps("--make-iptables-util-chains=True"), "", PASS, CMD, ""),
    ("eq TRUE", "4.2.6", ps("--make-iptables-util-chains=TRUE"), "", PASS, CMD, ""),
    ("eq false in the file", "4.2.6", ps(), "makeIPTablesUtilChains: false\n", FAIL, CONF, ""),
    ("eq yes (not a Go bool text)", "4.2.6", ps("--make-iptables-util-chains=yes"), "", FAIL, CMD, ""),
    # gte: integers only.
    ("gte 50", "4.2.8", ps(), "eventRecordQPS: 50\n", PASS, CONF, "'{.eventRecordQPS}' is greater or equal to 0"),
    ("gte 0", "4.2.8", ps("--event-qps=0"), "", PASS, CMD, ""),
    ("gte -1", "4.2.8", ps("--event-qps=-1"), "", WARN, CMD, ""),
    (
        "gte 5.5 is not an integer",
        "4.2.8",
        ps(),
        "eventRecordQPS: 5.5\n",
        WARN,
        CONF,
        "Invalid Number(s) used for comparison: '5.5' '0'",
    ),
    ("gte 50.0 prints as 50", "4.2.8", ps(), "eventRecordQPS: 50.0\n", PASS, CONF, ""),
    ("gte non-numeric", "4.2.8", ps("--event-qps=lots"), "", WARN, CMD, "Invalid Number(s)"),
    # A bare boolean flag means "true".
    ("bare --rotate-certificates", "4.2.10", ps("--rotate-certificates"), "rotateCertificates: false\n", PASS, CMD, ""),
    ("--rotate-certificates=false", "4.2.10", ps("--rotate-certificates=false"), "", FAIL, CMD, ""),
    ("rotateCertificates false in the file", "4.2.10", ps(), "rotateCertificates: false\n", FAIL, CONF, ""),
    # The flag is a substring: RotateKubeletServerCertificate inside --feature-gates.
    (
        "feature gate false",
        "4.2.11",
        ps("--feature-gates=RotateKubeletServerCertificate=false"),
        "",
        WARN,
        CMD,
        "'RotateKubeletServerCertificate' does not have 'false'",
    ),
    ("feature gate true", "4.2.11", ps("--feature-gates=RotateKubeletServerCertificate=true"), "", PASS, CMD, ""),
    (
        "feature gate true, a later gate false",
        "4.2.11",
        ps("--feature-gates=RotateKubeletServerCertificate=true,Foo=false"),
        "",
        WARN,
        CMD,
        "",
    ),
    (
        "feature gate false in the file",
        "4.2.11",
        ps(),
        "featureGates:\n  RotateKubeletServerCertificate: false\n",
        WARN,
        CONF,
        "",
    ),
    ("feature gate absent", "4.2.11", ps(), "featureGates:\n  Foo: true\n", PASS, NONE, ""),
    # Missing files.
    ("missing service file", "4.1.1", "", "", FAIL, NONE, "'permissions' is present"),
    (
        "missing service file owner: File not found",
        "4.1.2",
        "File not found\n",
        "",
        PASS,
        NONE,
        "'root:root' is present OR 'File not found' is present",
    ),
    ("missing proxy kubeconfig (unscored)", "4.1.3", "", "", WARN, NONE, ""),
    ("missing proxy kubeconfig owner (unscored)", "4.1.4", "", "", WARN, NONE, ""),
    # Values as Go prints them.
    ("null prints <nil>, so it is set", "4.2.4", ps(), "readOnlyPort: null\n", WARN, CONF, ""),
    ("JSON number 0 (a float64 in Go)", "4.2.4", ps(), '{"readOnlyPort": 0}', PASS, CONF, ""),
    ("JSON nested key", "4.2.1", ps(), '{"authentication": {"anonymous": {"enabled": false}}}', PASS, CONF, ""),
    # Only the jsonpath is looked up in the file: a flag written in it is not seen.
    ("a scalar document has no keys", "4.2.4", ps(), "KUBELET_EXTRA_ARGS=--read-only-port=10255\n", PASS, NONE, ""),
    (
        "client CA in the file",
        "4.2.3",
        ps(),
        "authentication:\n  x509:\n    clientCAFile: /etc/kubernetes/pki/ca.crt\n",
        PASS,
        CONF,
        "",
    ),
    ("authorization AlwaysAllow", "4.2.2", ps("--authorization-mode=AlwaysAllow"), "", FAIL, CMD, ""),
    ("authorization Webhook in the file", "4.2.2", ps(), "authorization:\n  mode: Webhook\n", PASS, CONF, ""),
    ("pod pids limit", "4.2.13", ps(), "podPidsLimit: 4096\n", PASS, CONF, ""),
]


@pytest.mark.parametrize(
    ("check_id", "audit", "config", "state", "source", "expected"),
    [case[1:] for case in RULES],
    ids=[case[0] for case in RULES],
)
def test_judging_rules(check_id, audit, config, state, source, expected):
    verdict = kubebench.evaluate(kubebench.CHECKS[check_id], audit, config, parse=yaml.safe_load)
    assert (verdict.check, verdict.state, verdict.source) == (check_id, state, source)
    assert expected in verdict.expected
    # The actual value is the output the first item was judged on, trimmed of trailing blanks.
    consulted = source == CONF or (source == NONE and config and kubebench.CHECKS[check_id]["audit_config"])
    judged = config if consulted else audit
    assert verdict.actual == judged.rstrip(" \n")


def test_expected_text_of_the_brief():
    verdict = kubebench.evaluate(kubebench.CHECKS["4.2.4"], ps("--read-only-port=10255"), "readOnlyPort: 0\n")
    assert verdict.expected == "'--read-only-port' is equal to '0' OR '--read-only-port' is not present"
    assert verdict.state == WARN
    assert verdict.actual.endswith("/usr/bin/kubelet --read-only-port=10255")


# --- audit and configuration errors ---------------------------------------------------------------
ERRORS = [
    # (name, id, audit, config, audit_error, config_error, state, actual)
    (
        "no kube-proxy process",
        "4.3.1",
        kubebench.PS_HEADER + "\n",
        "",
        PS_NO_PROCESS_ERROR,
        None,
        FAIL,
        PS_NO_PROCESS_ERROR,
    ),
    (
        "no kubelet process (unscored)",
        "4.2.4",
        kubebench.PS_HEADER + "\n",
        "",
        "exit status 1",
        None,
        WARN,
        "exit status 1",
    ),
    (
        "config missing but the audit printed: error suppressed",
        "4.2.1",
        ps("--anonymous-auth=false"),
        "",
        None,
        MISSING_CONF,
        PASS,
        ps("--anonymous-auth=false").rstrip(),
    ),
    ("config missing, flag absent", "4.2.1", ps(), "", None, MISSING_CONF, FAIL, ps().rstrip()),
    (
        "config missing, exit 127",
        "4.2.4",
        ps(),
        "",
        None,
        "sh: 1: cat: not found, error: exit status 127",
        PASS,
        ps().rstrip(),
    ),
    (
        "config is a directory: not suppressed",
        "4.2.1",
        ps("--anonymous-auth=false"),
        "",
        None,
        "cat: /d: Is a directory, error: exit status 1",
        FAIL,
        "cat: /d: Is a directory, error: exit status 1",
    ),
    ("config missing and no audit output", "4.2.1", "", "", None, MISSING_CONF, FAIL, MISSING_CONF),
]


@pytest.mark.parametrize(
    ("check_id", "audit", "config", "audit_error", "config_error", "state", "actual"),
    [case[1:] for case in ERRORS],
    ids=[case[0] for case in ERRORS],
)
def test_errors(check_id, audit, config, audit_error, config_error, state, actual):
    check = kubebench.CHECKS[check_id]
    verdict = kubebench.evaluate(check, audit, config, audit_error, config_error, parse=yaml.safe_load)
    assert (verdict.state, verdict.actual) == (state, actual)


@pytest.mark.parametrize(
    ("changes", "state", "actual"),
    [
        ({"type": "manual"}, WARN, "Test marked as a manual test"),
        ({"type": "skip"}, INFO, "Test marked as skip"),
        ({"tests": None}, WARN, "There are no tests"),
        ({"tests": {"bin_op": "and", "test_items": []}}, FAIL, "No tests defined"),
        (
            {"tests": {"bin_op": "xor", "test_items": [set_item("--anonymous-auth")]}},
            FAIL,
            "unknown binary operator for tests xor",
        ),
        (
            {"scored": False, "tests": {"bin_op": "xor", "test_items": [set_item("--anonymous-auth")]}},
            WARN,
            "unknown binary operator for tests xor",
        ),
    ],
)
def test_check_types(changes, state, actual):
    check = dict(kubebench.CHECKS["4.2.1"], **changes)
    verdict = kubebench.evaluate(check, ps("--anonymous-auth=false"), "")
    assert (verdict.state, verdict.actual, verdict.source) == (state, actual, NONE)


def test_json_needs_no_loader_and_yaml_needs_one():
    check = kubebench.CHECKS["4.2.1"]
    assert kubebench.evaluate(check, ps(), '{"authentication": {"anonymous": {"enabled": false}}}').state == PASS
    with pytest.raises(kubebench.ParseUnavailable, match="no YAML loader"):
        kubebench.evaluate(check, ps(), "authentication: {}\n")
    # The flag decides before the file is read: no loader needed.
    assert kubebench.evaluate(check, ps("--anonymous-auth=false"), "authentication: {}\n").state == PASS


def test_unreadable_yaml_fails_the_item():
    verdict = kubebench.evaluate(kubebench.CHECKS["4.2.4"], ps(), "readOnlyPort: [\n", parse=strict_yaml)
    # Both items fail (the error is only logged by kube-bench); the output stays the actual value.
    assert (verdict.state, verdict.expected, verdict.actual) == (WARN, " OR ", "readOnlyPort: [")


def test_yaml_mapping_cannot_be_printed_but_json_can():
    check = dict(kubebench.CHECKS["4.2.3"], tests={"bin_op": "", "test_items": [set_item("--x", "{.a}")]})
    assert kubebench.evaluate(check, ps(), "a:\n  b: 1\n", parse=yaml.safe_load).state == FAIL
    assert kubebench.evaluate(check, ps(), '{"a": {"b": 1}}').state == PASS


# --- building blocks --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("op", "found", "wanted", "result"),
    [
        ("eq", "false", "false", True),
        ("eq", "False", "false", True),
        ("eq", "0", "0", True),
        ("eq", "00", "0", False),
        ("noteq", "0s", "0", True),
        ("noteq", "FALSE", "false", False),
        ("gt", "5", "4", True),
        ("gte", " 4 ", "4", True),
        ("lt", "+3", "4", True),
        ("lte", "4.0", "4", False),
        ("gte", "1_000", "0", False),
        ("gte", "99999999999999999999", "0", False),
        ("has", "127.0.0.1:10249", "127.0.0.1", True),
        ("nothave", "Webhook,AlwaysAllow", "AlwaysAllow", False),
        ("regex", "abc123", "[0-9]+$", True),
        ("valid_elements", "a, b,", "a,b,c", True),
        ("valid_elements", "a,,b", "a,b", False),
        ("valid_elements", "", "", True),
        ("valid_elements", "a", "", False),
        ("valid_elements", ",", "a", False),
        ("bitmask", "0600", "600", True),
        ("bitmask", "660", "644", False),
        ("bitmask", "8", "600", False),
        ("bitmask", "600", "x", False),
        ("nosuchop", "a", "a", False),
    ],
)
def test_compare(op, found, wanted, result):
    assert kubebench.compare(op, found, wanted, "--f")[1] is result


@pytest.mark.parametrize(
    ("value", "text", "json_text"),
    [
        (50.0, "50", "50"),
        (0.5, "0.5", "0.5"),
        (0.0, "0", "0"),
        (-0.0, "-0", "-0"),
        (1e6, "1e+06", "1000000"),
        (123456.0, "123456", "123456"),
        (12345678.0, "1.2345678e+07", "12345678"),
        (0.0001, "0.0001", "0.0001"),
        (0.00001, "1e-05", "0.00001"),
        (1e-7, "1e-07", "1e-7"),
        (1e21, "1e+21", "1e+21"),
        (float("inf"), "+Inf", None),
    ],
)
def test_go_float(value, text, json_text):
    assert kubebench.go_float(value) == text
    if json_text is not None:
        assert kubebench.go_float(value, json_style=True) == json_text


@pytest.mark.parametrize(
    ("path", "data", "from_json", "text"),
    [
        ("{.a.b}", {"a": {"b": True}}, False, "true"),
        ("{.a.b}", {"a": {"b": 10250}}, False, "10250"),
        ("{.a.b}", {"a": {"b": 10250.0}}, True, "10250"),
        ("{.a.b}", {"a": {"b": "0s"}}, False, "0s"),
        ("{.a.b}", {"a": {"b": None}}, False, "<nil>"),
        ("{.a.b}", {"a": None}, False, ""),
        ("{.a.b}", {"a": "text"}, False, ""),
        ("{.a.b}", {"a": [{"b": 1}]}, False, ""),
        ("{.a.b}", {}, False, ""),
        ("{.a}", {"a": ["x", 1, 2.5, None]}, False, '["x",1,2.5,null]'),
        ("{.a}", {"a": {"z": 1.0, "b": "<"}}, True, '{"b":"\\u003c","z":1}'),
        ("{range .l[:]}{}{','}{end}", {"l": ["A", "B"]}, False, "A,B,"),
        ("{range .l[:]}{}{','}{end}", {"l": []}, False, ""),
        ("{range .l[:]}{}{','}{end}", {"l": None}, False, ""),
        ("{range .l[:]}{}{','}{end}", {}, False, ""),
        ("{range .l[:]}{}{','}{end}", {"l": ["A", None]}, False, "A,<no value>,"),
        ("{range .l[:]}{}{','}{end}", "scalar", False, ""),
    ],
)
def test_jsonpath(path, data, from_json, text):
    assert kubebench.jsonpath(path, data, from_json) == text


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("{range .l[:]}{}{','}{end}", {"l": "A,B"}),  # not a list
        ("{.a}", {"a": {"b": 1}}),  # a YAML mapping: json.Marshal refuses map[interface{}]interface{}
        ("{.a}", {"a": [{"b": 1}]}),
        ("{.a[?(@.x)]}", {}),  # outside the supported subset
    ],
)
def test_jsonpath_errors(path, data):
    with pytest.raises(ValueError):
        kubebench.jsonpath(path, data)


# --- substitutions --------------------------------------------------------------------------------


def only(*paths):
    return lambda path: path in paths


@pytest.mark.parametrize(
    ("existing", "running", "expected"),
    [
        (
            (),
            ("kubelet",),
            {
                "kubeletsvc": "/etc/systemd/system/kubelet.service.d/10-kubeadm.conf",
                "kubeletconf": "/var/lib/kubelet/config.yaml",
                "kubeletkubeconfig": "/etc/kubernetes/kubelet.conf",
                "kubeletcafile": "/etc/kubernetes/pki/ca.crt",
                "proxykubeconfig": "/etc/kubernetes/proxy.conf",
                "kubeletbin": "kubelet",
                "proxybin": "proxy",
            },
        ),
        (
            ("/usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf", "/lib/systemd/system/kubelet.service"),
            ("kubelet", "kube-proxy"),
            # The unit file is also on the confs list: kube-bench then reads it as the kubelet config.
            {
                "kubeletsvc": "/lib/systemd/system/kubelet.service",
                "kubeletconf": "/lib/systemd/system/kubelet.service",
                "proxybin": "kube-proxy",
            },
        ),
        (
            ("/var/lib/kubelet/config.yaml", "/etc/kubernetes/kubelet-config.yaml"),
            ("hyperkube kubelet", "kubelet"),
            {"kubeletconf": "/etc/kubernetes/kubelet-config.yaml", "kubeletbin": "hyperkube kubelet"},
        ),
        (
            ("/var/lib/kubelet/config.yaml", "/var/lib/kubelet/kubeconfig", "/etc/kubernetes/pki/ca.crt"),
            ("kubelet",),
            {
                "kubeletconf": "/var/lib/kubelet/config.yaml",
                "kubeletkubeconfig": "/var/lib/kubelet/kubeconfig",
                "proxykubeconfig": "/var/lib/kubelet/kubeconfig",
                "kubeletcafile": "/etc/kubernetes/pki/ca.crt",
            },
        ),
        (
            ("/var/lib/rancher/rke2/agent/client-ca.crt", "/etc/kubernetes/pki/ca.crt"),
            ("kubelet",),
            {"kubeletcafile": "/var/lib/rancher/rke2/agent/client-ca.crt"},
        ),
        # No kubelet runs: kube-bench carries on without substituting the bins.
        ((), ("kube-proxy",), {"kubeletbin": "", "proxybin": ""}),
    ],
)
def test_variables(existing, running, expected):
    found = kubebench.variables(only(*existing), lambda name: name in running)
    assert sorted(found) == sorted(
        ["kubeletsvc", "kubeletconf", "kubeletkubeconfig", "kubeletcafile", "proxykubeconfig", "kubeletbin", "proxybin"]
    )
    assert {key: found[key] for key in expected} == expected
    assert kubebench.binaries_error(found) == (
        None if "kubelet" in " ".join(running) else kubebench.KUBELET_NOT_RUNNING
    )


# --- audit outputs from a node view ---------------------------------------------------------------


class FakeView:
    def __init__(self, files=None, processes=None, links=None):
        self.files = files or {}  # path: (mode, user, group, text or None)
        self.processes = processes or {}  # comm: argv
        self.links = links or {}  # path: (mode, user, group) of the link itself

    def stat(self, path):
        entry = self.files.get(path)
        return None if entry is None else entry[:3]

    def process(self, comm):
        return self.processes.get(comm)

    def read(self, path):
        entry = self.files.get(path)
        return None if entry is None else entry[3]


class LinkView(FakeView):
    def lstat(self, path):
        return self.links.get(path) or self.stat(path)


KUBELET_ARGV = ["/usr/bin/kubelet", "--config=/var/lib/kubelet/config.yaml", "--client-ca-file=/srv/ca.pem"]
KUBEADM_CONFIG = "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nreadOnlyPort: 0\n"


def node(**overrides):
    files = {
        "/lib/systemd/system/kubelet.service": (0o100644, "root", "root", "[Service]\n"),
        "/var/lib/kubelet/config.yaml": (0o100600, "root", "root", KUBEADM_CONFIG),
        "/etc/kubernetes/kubelet.conf": (0o100600, "root", "root", "apiVersion: v1\n"),
        "/etc/kubernetes/pki/ca.crt": (0o100644, "root", "root", "PEM"),
        "/srv/ca.pem": (0o100640, "root", "ssl", "PEM"),
    }
    files.update(overrides.pop("files", {}))
    files = {path: entry for path, entry in files.items() if entry is not None}
    processes = overrides.pop("processes", {"kubelet": KUBELET_ARGV})
    return FakeView(files, processes, **overrides)


def subs_of(view):
    return kubebench.variables(lambda path: view.stat(path) is not None, kubebench.running_from_view(view))


NODE_CASES = [
    # (name, check, view, state, audit output)
    ("service file 644", "4.1.1", node(), FAIL, "permissions=644\n"),
    (
        "service file 600",
        "4.1.1",
        node(files={"/lib/systemd/system/kubelet.service": (0o600, "root", "root", "")}),
        PASS,
        "permissions=600\n",
    ),
    ("no service file", "4.1.1", node(files={"/lib/systemd/system/kubelet.service": None}), FAIL, ""),
    (
        "no service file: owner",
        "4.1.2",
        node(files={"/lib/systemd/system/kubelet.service": None}),
        PASS,
        "File not found\n",
    ),
    ("service owner", "4.1.2", node(), PASS, "root:root\n"),
    ("no proxy kubeconfig", "4.1.3", node(), WARN, ""),
    ("kubelet kubeconfig", "4.1.5", node(), PASS, "permissions=600\n"),
    ("CA from --client-ca-file", "4.1.7", node(), PASS, "permissions=640\n"),
    ("CA owner from --client-ca-file", "4.1.8", node(), WARN, "root:ssl\n"),
    ("CA default without the flag", "4.1.8", node(processes={"kubelet": ["/usr/bin/kubelet"]}), PASS, "root:root\n"),
    ("config file", "4.1.9", node(), PASS, "permissions=600\n"),
    ("read-only-port from the file", "4.2.4", node(), PASS, None),
    ("anonymous auth absent", "4.2.1", node(), FAIL, None),
    ("hostname-override: no audit_config", "4.2.7", node(), PASS, None),
    ("no kube-proxy process", "4.3.1", node(), FAIL, kubebench.PS_HEADER + "\n"),
    (
        "kube-proxy without metrics flag",
        "4.3.1",
        node(
            processes={
                "kubelet": KUBELET_ARGV,
                "kube-proxy": ["/usr/local/bin/kube-proxy", "--config=/var/lib/kube-proxy/config.conf"],
            }
        ),
        PASS,
        None,
    ),
    (
        "kube-proxy metrics on 0.0.0.0",
        "4.3.1",
        node(processes={"kubelet": KUBELET_ARGV, "kube-proxy": ["kube-proxy", "--metrics-bind-address=0.0.0.0:10249"]}),
        FAIL,
        None,
    ),
]


@pytest.mark.parametrize(
    ("check_id", "view", "state", "audit"),
    [case[1:] for case in NODE_CASES],
    ids=[case[0] for case in NODE_CASES],
)
def test_judge_on_a_node(check_id, view, state, audit):
    subs = subs_of(view)
    if audit is not None:
        assert kubebench.audit_outputs(check_id, view, subs)[0] == audit
    assert kubebench.judge(check_id, view, subs, parse=yaml.safe_load).state == state


def test_process_audit_and_config():
    view = node()
    subs = subs_of(view)
    audit, config, audit_error, config_error = kubebench.audit_outputs("4.2.1", view, subs)
    assert audit.splitlines()[0] == kubebench.PS_HEADER
    assert audit.splitlines()[1].endswith(" ".join(KUBELET_ARGV))
    assert (config, audit_error, config_error) == (KUBEADM_CONFIG, None, None)
    assert kubebench.audit_outputs("4.2.7", view, subs)[1:] == ("", None, None)


def test_no_kube_proxy_process_reason():
    view = node()
    verdict = kubebench.judge("4.3.1", view, subs_of(view))
    assert (verdict.state, verdict.actual, verdict.expected) == (
        FAIL,
        PS_NO_PROCESS_ERROR.replace("kube-proxy", "proxy"),
        "",
    )


def test_missing_config_with_flags():
    view = node(
        files={"/var/lib/kubelet/config.yaml": None, "/lib/systemd/system/kubelet.service": None},
        processes={"kubelet": ["/usr/bin/kubelet", "--anonymous-auth=false", "--read-only-port=0"]},
    )
    subs = subs_of(view)
    assert subs["kubeletconf"] == "/var/lib/kubelet/config.yaml"  # the default
    assert kubebench.audit_outputs("4.2.1", view, subs)[3] == MISSING_CONF
    assert kubebench.judge("4.2.1", view, subs).state == PASS
    assert kubebench.judge("4.2.4", view, subs).state == PASS
    assert kubebench.judge("4.2.3", view, subs).state == FAIL
    assert kubebench.judge("4.1.9", view, subs).state == FAIL  # no file: nothing printed


def test_config_is_a_directory():
    rke2 = "/var/lib/rancher/rke2/agent/etc/kubelet.conf.d"
    view = node(files={rke2: (0o040755, "root", "root", None)})
    subs = subs_of(view)
    assert subs["kubeletconf"] == rke2
    verdict = kubebench.judge("4.2.1", view, subs)
    assert verdict.state == FAIL
    assert verdict.actual == (
        f'failed to run: "/bin/cat {rke2}", output: "/bin/cat: {rke2}: Is a directory\\n", error: exit status 1'
    )


def test_proxy_kubeconfig_is_read_when_it_exists():
    view = node(
        files={"/etc/kubernetes/proxy.conf": (0o600, "root", "root", "metricsBindAddress: 0.0.0.0:10249\n")},
        processes={"kubelet": KUBELET_ARGV, "kube-proxy": ["kube-proxy"]},
    )
    subs = subs_of(view)
    assert kubebench.audit_outputs("4.3.1", view, subs)[1] == "metricsBindAddress: 0.0.0.0:10249\n"
    verdict = kubebench.judge("4.3.1", view, subs, parse=yaml.safe_load)
    assert (verdict.state, verdict.source) == (FAIL, CONF)


def test_kubelet_not_running():
    view = node(processes={"kube-proxy": ["kube-proxy"]})
    subs = subs_of(view)
    assert (subs["kubeletbin"], subs["proxybin"]) == ("", "")
    verdict = kubebench.judge("4.2.1", view, subs)
    assert verdict.state == FAIL
    assert verdict.actual.startswith('failed to run: "/bin/ps -fC $kubeletbin", output: "error: list of command names')
    # kube-proxy runs, but $proxybin is not substituted either.
    assert kubebench.judge("4.3.1", view, subs).state == FAIL
    # The file checks run as usual.
    assert kubebench.judge("4.1.9", view, subs).state == PASS


def test_hyperkube_kubelet():
    view = node(processes={"hyperkube": ["/usr/bin/hyperkube", "kubelet", "--anonymous-auth=false"]})
    subs = subs_of(view)
    assert subs["kubeletbin"] == "hyperkube kubelet"
    audit, _config, error, _config_error = kubebench.audit_outputs("4.2.1", view, subs)
    assert error is None
    assert audit.endswith("/usr/bin/hyperkube kubelet --anonymous-auth=false\n")
    assert kubebench.judge("4.2.1", view, subs).state == PASS


def test_symbolic_link_modes():
    path = "/etc/kubernetes/kubelet.conf"
    target = (0o600, "root", "root", "apiVersion: v1\n")
    plain = node(files={path: target})
    assert kubebench.judge("4.1.5", plain, subs_of(plain)).state == PASS
    linked = LinkView(plain.files, plain.processes, links={path: (0o777, "root", "root")})
    assert kubebench.audit_outputs("4.1.5", linked, subs_of(linked))[0] == "permissions=777\n"
    assert kubebench.judge("4.1.5", linked, subs_of(linked)).state == FAIL


def test_substitute_quotes_words_and_skips_empty_values():
    subs = {"kubeletbin": "hyperkube kubelet", "kubeletconf": "/c", "kubeletkubeconfig": "/k", "proxybin": ""}
    assert kubebench.substitute("/bin/ps -fC $kubeletbin", subs) == "/bin/ps -fC 'hyperkube kubelet'"
    assert kubebench.substitute("cat $kubeletconf $kubeletkubeconfig", subs) == "cat /c /k"
    assert kubebench.substitute("/bin/ps -fC $proxybin", subs) == "/bin/ps -fC $proxybin"


# --- the check definitions, written from kube-bench's cfg/cis-1.12/node.yaml ----------------------


def item(flag, path="", op="", value="", is_set=True):
    return (flag, path, is_set, op, value)


CIS_1_12_NODE = {
    "4.1.1": (True, "", [item("permissions", op="bitmask", value="600")]),
    "4.1.2": (True, "or", [item("root:root"), item("File not found")]),
    "4.1.3": (False, "or", [item("permissions", op="bitmask", value="600")]),
    "4.1.4": (False, "or", [item("root:root")]),
    "4.1.5": (True, "", [item("permissions", op="bitmask", value="600")]),
    "4.1.6": (True, "", [item("root:root")]),
    "4.1.7": (False, "", [item("permissions", op="bitmask", value="644")]),
    "4.1.8": (False, "", [item("root:root", op="eq", value="root:root")]),
    "4.1.9": (True, "", [item("permissions", op="bitmask", value="600")]),
    "4.1.10": (True, "", [item("root:root")]),
    "4.2.1": (True, "", [item("--anonymous-auth", "{.authentication.anonymous.enabled}", "eq", "false")]),
    "4.2.2": (True, "", [item("--authorization-mode", "{.authorization.mode}", "nothave", "AlwaysAllow")]),
    "4.2.3": (True, "", [item("--client-ca-file", "{.authentication.x509.clientCAFile}")]),
    "4.2.4": (
        False,
        "or",
        [
            item("--read-only-port", "{.readOnlyPort}", "eq", "0"),
            item("--read-only-port", "{.readOnlyPort}", is_set=False),
        ],
    ),
    "4.2.5": (
        False,
        "or",
        [
            item("--streaming-connection-idle-timeout", "{.streamingConnectionIdleTimeout}", "noteq", "0"),
            item("--streaming-connection-idle-timeout", "{.streamingConnectionIdleTimeout}", is_set=False),
        ],
    ),
    "4.2.6": (
        True,
        "or",
        [
            item("--make-iptables-util-chains", "{.makeIPTablesUtilChains}", "eq", "true"),
            item("--make-iptables-util-chains", "{.makeIPTablesUtilChains}", is_set=False),
        ],
    ),
    "4.2.7": (False, "", [item("--hostname-override", is_set=False)]),
    "4.2.8": (
        False,
        "or",
        [item("--event-qps", "{.eventRecordQPS}", "gte", "0"), item("--event-qps", "{.eventRecordQPS}", is_set=False)],
    ),
    "4.2.9": (
        False,
        "",
        [item("--tls-cert-file", "{.tlsCertFile}"), item("--tls-private-key-file", "{.tlsPrivateKeyFile}")],
    ),
    "4.2.10": (
        True,
        "or",
        [
            item("--rotate-certificates", "{.rotateCertificates}", "eq", "true"),
            item("--rotate-certificates", "{.rotateCertificates}", is_set=False),
        ],
    ),
    "4.2.11": (
        False,
        "or",
        [
            item(
                "RotateKubeletServerCertificate", "{.featureGates.RotateKubeletServerCertificate}", "nothave", "false"
            ),
            item("RotateKubeletServerCertificate", "{.featureGates.RotateKubeletServerCertificate}", is_set=False),
        ],
    ),
    "4.2.12": (
        False,
        "",
        [item("--tls-cipher-suites", "{range .tlsCipherSuites[:]}{}{','}{end}", "valid_elements", STRONG)],
    ),
    "4.2.13": (False, "", [item("--pod-max-pids", "{.podPidsLimit}")]),
    "4.2.14": (False, "", [item("--seccomp-default", "{.seccompDefault}")]),
    "4.3.1": (
        True,
        "or",
        [
            item("--metrics-bind-address", "{.metricsBindAddress}", "has", "127.0.0.1"),
            item("--metrics-bind-address", "{.metricsBindAddress}", is_set=False),
        ],
    ),
}

AUDITS = {
    "4.1.1": "/bin/sh -c 'if test -e $kubeletsvc; then stat -c permissions=%a $kubeletsvc; fi'",
    "4.1.2": '/bin/sh -c "if test -e $kubeletsvc; then stat -c %U:%G $kubeletsvc; else echo \\"File not found\\"; fi"',
    "4.1.4": "/bin/sh -c 'if test -e $proxykubeconfig; then stat -c %U:%G $proxykubeconfig; fi'",
    "4.2.1": "/bin/ps -fC $kubeletbin",
    "4.3.1": "/bin/ps -fC $proxybin",
}


def test_every_check_is_defined():
    assert list(kubebench.CHECKS) == list(CIS_1_12_NODE)


@pytest.mark.parametrize("check_id", list(CIS_1_12_NODE))
def test_check_definition(check_id):
    check = kubebench.CHECKS[check_id]
    scored, bin_op, items = CIS_1_12_NODE[check_id]
    assert check["id"] == check_id
    assert check["scored"] is scored
    assert check["type"] == ""
    assert check["tests"]["bin_op"] == bin_op
    assert [
        (i["flag"], i["path"], i["set"], i["compare"]["op"], i["compare"]["value"])
        for i in check["tests"]["test_items"]
    ] == items
    assert check["text"].endswith("(Automated)" if scored else "(Manual)")
    assert check["remediation"] and "\n" not in check["remediation"]
    assert bool(check["audit_config"]) == (check_id.startswith(("4.2", "4.3")) and check_id != "4.2.7")
    if check_id in AUDITS:
        assert check["audit_command"] == AUDITS[check_id]
    if check_id == "4.2.1":
        assert check["audit_config_command"] == "/bin/cat $kubeletconf"
    if check_id == "4.3.1":
        assert (
            check["audit_config_command"] == "/bin/sh -c 'if test -e $proxykubeconfig; then cat $proxykubeconfig; fi'"
        )


def test_paths_follow_config_yaml():
    kubelet, proxy = kubebench.PATHS["kubelet"], kubebench.PATHS["proxy"]
    assert kubelet["svc"][:3] == [
        "/etc/systemd/system/kubelet.service.d/10-kubeadm.conf",
        "/etc/systemd/system/kubelet.service",
        "/lib/systemd/system/kubelet.service",
    ]
    assert "/usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf" not in kubelet["svc"]
    assert kubelet["confs"].index("/etc/kubernetes/kubelet-config.yaml") < kubelet["confs"].index(
        "/var/lib/kubelet/config.yaml"
    )
    assert (len(kubelet["svc"]), len(kubelet["confs"]), len(kubelet["kubeconfig"]), len(kubelet["cafile"])) == (
        7,
        22,
        10,
        8,
    )
    assert kubelet["bins"] == ["hyperkube kubelet", "kubelet"]
    assert proxy["bins"][0] == "kube-proxy" and proxy["optional"] is True
    assert (len(proxy["kubeconfig"]), proxy["defaultkubeconfig"]) == (8, "/etc/kubernetes/proxy.conf")
