# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The verdict kube-bench would give on this node for the CIS Kubernetes 1.12 worker node checks.

kube-bench (aquasecurity/kube-bench, Apache-2.0) runs a shell audit command per check and judges
its text output with "test items". This module does the same judging in Python, without a shell:
audit_outputs() builds the text the audit commands would print from what a NodeView reads on the
node, and evaluate() judges that text as kube-bench does. CHECKS holds kube-bench's CIS 1.12 node
check definitions (section 4, checks 4.1.1 to 4.3.1) and PATHS the node paths of its config.yaml,
both encoded here as data; the files themselves are never read at run time.

How kube-bench judges, in short (check/test.go, check/check.go and cmd/util.go):

- Each test item is looked up in the audit command's output first (C(flag): a substring test, then
  the value after C(=) or C(:); a bare C(--flag) means "true"). Only when the flag is not found, the
  check has an audit_config command and that printed something, the item's jsonpath C(path) is
  looked up in the configuration text (JSON, else YAML). So a command line flag beats the file.
- Found means a non-empty jsonpath output; a key that is absent is "not set", whatever the
  kubelet's built-in default. C(set: false) passes when not found; otherwise not found fails and a
  found item is compared (eq, noteq, gt, gte, lt, lte, has, nothave, regex, valid_elements, bitmask).
- Items combine with C(bin_op) (and, the default, or or). A passing check is PASS, a failing one
  FAIL when scored, WARN when not. An audit command that exits non-zero fails the check with the
  error as reason; a missing configuration file is forgiven when the audit command printed something.

Deliberate simplifications and differences, all documented where they happen:

- A process is one NodeView.process() argv per command name (ps would list every process of that
  name); the ps columns before CMD are placeholders (only CMD is ever judged).
- 4.1.7/4.1.8 look for C(--client-ca-file=) on the kubelet's own command line; kube-bench greps the
  whole C(ps -ef) for lines holding "kubelet" but not "apiserver".
- File modes and owners are those NodeView.stat() reports (it follows symbolic links); kube-bench's
  C(stat) reports a link itself (mode 777) unless the view also offers lstat(), which is then used.
- The jsonpath engine covers the two forms the checks use: C({.a.b.c}) and
  C({range .list[:]}{}{','}{end}); values print as Go's fmt does (see go_text()). A null value prints
  C(<nil>) (and so counts as set), a null list element C(<no value>); a YAML mapping or a list holding
  one cannot be printed (kube-bench fails the item), a JSON one prints as compact JSON.
- YAML is read by the caller's loader (PyYAML or yamldoc): where it resolves a scalar differently
  from Go's yaml.v2 (y/n, dates...), the printed value can differ. It must raise ValueError on text
  it cannot read.
- The C(regex) operator uses Python's re, not Go's RE2 (no 1.12 node check uses it).
- When no kubelet process runs, kube-bench (since October 2020, issue #701) does not stop: it logs that it cannot
  detect the programs for component "kubelet" and runs the checks with C($kubeletbin) and
  C($proxybin) left unsubstituted, so the ps audits fail with a usage error. variables() mirrors
  that by returning "" for both bins (see binaries_error()).
"""

from __future__ import annotations

import decimal
import json
import math
import re
import stat as statmod
import typing as t

PASS, FAIL, WARN, INFO = "PASS", "FAIL", "WARN", "INFO"

SOURCE_COMMAND, SOURCE_CONFIG, SOURCE_NONE = "command line", "config file", "none"

KUBELET_NOT_RUNNING = 'unable to detect running programs for component "kubelet"'

# What procps' ps prints: the -f header, and the usage error of "ps -fC" without a name.
PS_HEADER = "UID          PID    PPID  C STIME TTY          TIME CMD"
PS_USAGE_ERROR = (
    "error: list of command names must follow -C\n\nUsage:\n ps [options]\n\n"
    " Try 'ps --help <simple|list|output|threads|misc|all>'\n  or 'ps --help <s|l|o|t|m|a>'\n"
    " for additional help text.\n\nFor more details see ps(1).\n"
)

_GO_SPACE = "\t\n\f\r "  # what \s matches in Go's RE2
_ARRAY_SEPARATOR = ","


class Verdict(t.NamedTuple):
    """kube-bench's result for one check."""

    check: str  # "4.2.4"
    state: str  # PASS, FAIL, WARN or INFO
    expected: str  # kube-bench's expected-result text ("" when no test ran)
    actual: str  # the output judged for the first test item (trimmed), or the error reason
    source: str  # which output decided the first test item: command line, config file or none


class ParseUnavailable(ValueError):
    """A configuration text is not JSON and no YAML loader was given to read it."""


class NodeView(t.Protocol):
    """What the audit commands would see on the node.

    stat(path): (mode, user, group) of the file, following symbolic links, or None when it does not
    exist (the mode's permission bits are used; with file type bits a directory is recognised).
    process(comm): argv of a running process whose command name (as C(ps -C) matches it) is comm,
    or None. read(path): the file's text, or None when it cannot be read. A view may also offer
    lstat(path), same result without following links: C(stat -c) output then uses it.
    """

    def stat(self, path: str) -> tuple[int, str, str] | None: ...

    def process(self, comm: str) -> list[str] | None: ...

    def read(self, path: str) -> str | None: ...


# --- kube-bench's node paths (cfg/config.yaml, section node) -------------------------------------

PATHS: dict[str, t.Any] = {
    "components": ["kubelet", "proxy", "kubernetes"],
    "kubernetes": {"defaultconf": "/etc/kubernetes/config"},
    "kubelet": {
        "cafile": [
            "/var/lib/rancher/rke2/agent/client-ca.crt",
            "/var/lib/rancher/rke2/server/tls/server-ca.crt",
            "/etc/kubernetes/pki/ca.crt",
            "/etc/kubernetes/certs/ca.crt",
            "/etc/kubernetes/cert/ca.pem",
            "/var/snap/microk8s/current/certs/ca.crt",
            "/var/lib/rancher/rke2/agent/server.crt",
            "/var/lib/rancher/k3s/agent/client-ca.crt",
        ],
        "svc": [
            "/etc/systemd/system/kubelet.service.d/10-kubeadm.conf",
            "/etc/systemd/system/kubelet.service",
            "/lib/systemd/system/kubelet.service",
            "/etc/systemd/system/snap.kubelet.daemon.service",
            "/etc/systemd/system/snap.microk8s.daemon-kubelet.service",
            "/etc/systemd/system/atomic-openshift-node.service",
            "/etc/systemd/system/origin-node.service",
        ],
        "bins": ["hyperkube kubelet", "kubelet"],
        "kubeconfig": [
            "/etc/kubernetes/kubelet.conf",
            "/etc/kubernetes/kubelet-kubeconfig.conf",
            "/var/lib/kubelet/kubeconfig",
            "/etc/kubernetes/kubelet-kubeconfig",
            "/etc/kubernetes/kubelet/kubeconfig",
            "/etc/kubernetes/ssl/kubecfg-kube-node.yaml",
            "/var/snap/microk8s/current/credentials/kubelet.config",
            "/etc/kubernetes/kubeconfig-kubelet",
            "/var/lib/rancher/rke2/agent/kubelet.kubeconfig",
            "/var/lib/rancher/k3s/agent/kubelet.kubeconfig",
        ],
        "confs": [
            "/etc/kubernetes/kubelet-config.yaml",
            "/etc/kubernetes/kubelet/kubelet-config.json",
            "/var/lib/rancher/rke2/agent/etc/kubelet.conf.d",
            "/var/lib/kubelet/config.yaml",
            "/etc/kubernetes/azure.json",
            "/var/lib/kubelet/config.yml",
            "/etc/kubernetes/kubelet/kubelet-config.json",
            "/etc/kubernetes/kubelet/config.json",
            "/etc/kubernetes/kubelet/config",
            "/home/kubernetes/kubelet-config.yaml",
            "/home/kubernetes/kubelet-config.yml",
            "/etc/default/kubeletconfig.json",
            "/etc/default/kubelet",
            "/var/lib/kubelet/kubeconfig",
            "/var/snap/kubelet/current/args",
            "/var/snap/microk8s/current/args/kubelet",
            "/etc/systemd/system/kubelet.service.d/10-kubeadm.conf",
            "/etc/systemd/system/kubelet.service",
            "/lib/systemd/system/kubelet.service",
            "/etc/systemd/system/snap.kubelet.daemon.service",
            "/etc/systemd/system/snap.microk8s.daemon-kubelet.service",
            "/etc/kubernetes/kubelet.yaml",
        ],
        "defaultconf": "/var/lib/kubelet/config.yaml",
        "defaultsvc": "/etc/systemd/system/kubelet.service.d/10-kubeadm.conf",
        "defaultkubeconfig": "/etc/kubernetes/kubelet.conf",
        "defaultcafile": "/etc/kubernetes/pki/ca.crt",
    },
    "proxy": {
        "optional": True,
        "bins": ["kube-proxy", "hyperkube proxy", "hyperkube kube-proxy", "proxy", "openshift start network"],
        "confs": [
            "/etc/kubernetes/proxy",
            "/etc/kubernetes/addons/kube-proxy-daemonset.yaml",
            "/etc/kubernetes/addons/kube-proxy-daemonset.yml",
            "/var/snap/kube-proxy/current/args",
            "/var/snap/microk8s/current/args/kube-proxy",
        ],
        "kubeconfig": [
            "/etc/kubernetes/kubelet-kubeconfig",
            "/etc/kubernetes/kubelet-kubeconfig.conf",
            "/etc/kubernetes/kubelet/config",
            "/etc/kubernetes/ssl/kubecfg-kube-proxy.yaml",
            "/var/lib/kubelet/kubeconfig",
            "/var/snap/microk8s/current/credentials/proxy.config",
            "/var/lib/rancher/rke2/agent/kubeproxy.kubeconfig",
            "/var/lib/rancher/k3s/agent/kubeproxy.kubeconfig",
        ],
        "svc": ["/lib/systemd/system/kube-proxy.service", "/etc/systemd/system/snap.microk8s.daemon-proxy.service"],
        "defaultconf": "/etc/kubernetes/addons/kube-proxy-daemonset.yaml",
        "defaultkubeconfig": "/etc/kubernetes/proxy.conf",
    },
}

# --- kube-bench's CIS 1.12 node checks (cfg/cis-1.12/node.yaml) ----------------------------------

# Symbolic audit kinds: what the check's audit command prints, built by audit_outputs().
FILE_MODE = "file_mode"  # if test -e F; then stat -c permissions=%a F; fi
FILE_OWNER = "file_owner"  # if test -e F; then stat -c %U:%G F; fi
FILE_OWNER_OR_NOT_FOUND = "file_owner_or_not_found"  # ... else echo "File not found"
CA_MODE = "ca_file_mode"  # the kubelet's --client-ca-file= else $kubeletcafile, then as FILE_MODE
CA_OWNER = "ca_file_owner"  # same file, as FILE_OWNER
PROCESS = "process"  # /bin/ps -fC $<bin>
# audit_config kinds
CAT = "cat"  # /bin/cat F
CAT_IF_EXISTS = "cat_if_exists"  # if test -e F; then cat F; fi

_CA_SCRIPT = (
    "CAFILE=$(ps -ef | grep kubelet | grep -v apiserver | grep -- --client-ca-file= | awk -F '--client-ca-file=' "
    "'{print $2}' | awk '{print $1}' | uniq)\nif test -z $CAFILE; then CAFILE=$kubeletcafile; fi\n"
    "if test -e $CAFILE; then %s $CAFILE; fi"
)

_STRONG_CIPHERS = (
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,"
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305,TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,"
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305,TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"
)


def _item(flag: str, path: str = "", op: str = "", value: str = "", is_set: bool = True) -> dict:
    return {"flag": flag, "path": path, "set": is_set, "compare": {"op": op, "value": value}}


def _file_check(cid, text, scored, kind, variable, item, remediation, bin_op=""):
    commands = {
        FILE_MODE: "/bin/sh -c 'if test -e ${v}; then stat -c permissions=%a ${v}; fi'",
        FILE_OWNER: "/bin/sh -c 'if test -e ${v}; then stat -c %U:%G ${v}; fi'",
        FILE_OWNER_OR_NOT_FOUND: (
            '/bin/sh -c "if test -e ${v}; then stat -c %U:%G ${v}; else echo \\"File not found\\"; fi"'
        ),
        CA_MODE: _CA_SCRIPT % "stat -c permissions=%a",
        CA_OWNER: _CA_SCRIPT % "stat -c %U:%G",
    }
    items = item if isinstance(item, list) else [item]
    return {
        "id": cid,
        "text": text,
        "scored": scored,
        "type": "",
        "audit": kind,
        "file": variable,
        "audit_command": commands[kind].replace("${v}", "$" + variable),
        "audit_config": "",
        "audit_config_command": "",
        "tests": {"bin_op": bin_op, "test_items": items},
        "remediation": remediation,
    }


def _setting_check(cid, text, scored, items, remediation, bin_op="", component="kubelet"):
    kubelet = component == "kubelet"
    config = ""
    if cid != "4.2.7":
        config = CAT if kubelet else CAT_IF_EXISTS
    commands = {
        "": "",
        CAT: "/bin/cat $kubeletconf",
        CAT_IF_EXISTS: "/bin/sh -c 'if test -e $proxykubeconfig; then cat $proxykubeconfig; fi'",
    }
    return {
        "id": cid,
        "text": text,
        "scored": scored,
        "type": "",
        "audit": PROCESS,
        "bin": "kubeletbin" if kubelet else "proxybin",
        "audit_command": "/bin/ps -fC $kubeletbin" if kubelet else "/bin/ps -fC $proxybin",
        "audit_config": config,
        "config_file": ("kubeletconf" if kubelet else "proxykubeconfig") if config else "",
        "audit_config_command": commands[config],
        "tests": {"bin_op": bin_op, "test_items": items},
        "remediation": remediation,
    }


def _perms_600() -> dict:
    return _item("permissions", op="bitmask", value="600")


def _root() -> dict:
    return _item("root:root")


_CHECK_LIST = [
    _file_check(
        "4.1.1",
        "Ensure that the kubelet service file permissions are set to 600 or more restrictive (Automated)",
        True,
        FILE_MODE,
        "kubeletsvc",
        _perms_600(),
        "chmod 600 the kubelet service file.",
    ),
    _file_check(
        "4.1.2",
        "Ensure that the kubelet service file ownership is set to root:root (Automated)",
        True,
        FILE_OWNER_OR_NOT_FOUND,
        "kubeletsvc",
        [_root(), _item("File not found")],
        "chown root:root the kubelet service file.",
        bin_op="or",
    ),
    _file_check(
        "4.1.3",
        "If proxy kubeconfig file exists ensure permissions are set to 600 or more restrictive (Manual)",
        False,
        FILE_MODE,
        "proxykubeconfig",
        _perms_600(),
        "chmod 600 the kube-proxy kubeconfig file.",
        bin_op="or",
    ),
    _file_check(
        "4.1.4",
        "If proxy kubeconfig file exists ensure ownership is set to root:root (Manual)",
        False,
        FILE_OWNER,
        "proxykubeconfig",
        _root(),
        "chown root:root the kube-proxy kubeconfig file.",
        bin_op="or",
    ),
    _file_check(
        "4.1.5",
        "Ensure that the --kubeconfig kubelet.conf file permissions are set to 600 or more restrictive (Automated)",
        True,
        FILE_MODE,
        "kubeletkubeconfig",
        _perms_600(),
        "chmod 600 the kubelet's kubeconfig file.",
    ),
    _file_check(
        "4.1.6",
        "Ensure that the --kubeconfig kubelet.conf file ownership is set to root:root (Automated)",
        True,
        FILE_OWNER,
        "kubeletkubeconfig",
        _root(),
        "chown root:root the kubelet's kubeconfig file.",
    ),
    _file_check(
        "4.1.7",
        "Ensure that the certificate authorities file permissions are set to 644 or more restrictive (Manual)",
        False,
        CA_MODE,
        "kubeletcafile",
        _item("permissions", op="bitmask", value="644"),
        "chmod 644 (or stricter) the kubelet's client CA file.",
    ),
    _file_check(
        "4.1.8",
        "Ensure that the client certificate authorities file ownership is set to root:root (Manual)",
        False,
        CA_OWNER,
        "kubeletcafile",
        _item("root:root", op="eq", value="root:root"),
        "chown root:root the kubelet's client CA file.",
    ),
    _file_check(
        "4.1.9",
        "If the kubelet config.yaml configuration file is being used validate permissions set to 600 or more "
        "restrictive (Automated)",
        True,
        FILE_MODE,
        "kubeletconf",
        _perms_600(),
        "chmod 600 the kubelet configuration file.",
    ),
    _file_check(
        "4.1.10",
        "If the kubelet config.yaml configuration file is being used validate file ownership is set to root:root "
        "(Automated)",
        True,
        FILE_OWNER,
        "kubeletconf",
        _root(),
        "chown root:root the kubelet configuration file.",
    ),
    _setting_check(
        "4.2.1",
        "Ensure that the --anonymous-auth argument is set to false (Automated)",
        True,
        [_item("--anonymous-auth", "{.authentication.anonymous.enabled}", "eq", "false")],
        "Set authentication.anonymous.enabled: false (or --anonymous-auth=false) and restart the kubelet.",
    ),
    _setting_check(
        "4.2.2",
        "Ensure that the --authorization-mode argument is not set to AlwaysAllow (Automated)",
        True,
        [_item("--authorization-mode", "{.authorization.mode}", "nothave", "AlwaysAllow")],
        "Set authorization.mode: Webhook (or --authorization-mode=Webhook) and restart the kubelet.",
    ),
    _setting_check(
        "4.2.3",
        "Ensure that the --client-ca-file argument is set as appropriate (Automated)",
        True,
        [_item("--client-ca-file", "{.authentication.x509.clientCAFile}")],
        "Set authentication.x509.clientCAFile (or --client-ca-file) to the client CA and restart the kubelet.",
    ),
    _setting_check(
        "4.2.4",
        "Verify that if defined, the --read-only-port argument is set to 0 (Manual)",
        False,
        [
            _item("--read-only-port", "{.readOnlyPort}", "eq", "0"),
            _item("--read-only-port", "{.readOnlyPort}", is_set=False),
        ],
        "Set readOnlyPort: 0 (or --read-only-port=0), or leave it out, and restart the kubelet.",
        bin_op="or",
    ),
    _setting_check(
        "4.2.5",
        "Ensure that the --streaming-connection-idle-timeout argument is not set to 0 (Manual)",
        False,
        [
            _item("--streaming-connection-idle-timeout", "{.streamingConnectionIdleTimeout}", "noteq", "0"),
            _item("--streaming-connection-idle-timeout", "{.streamingConnectionIdleTimeout}", is_set=False),
        ],
        "Set streamingConnectionIdleTimeout to a non-zero duration such as 5m, and restart the kubelet.",
        bin_op="or",
    ),
    _setting_check(
        "4.2.6",
        "Ensure that the --make-iptables-util-chains argument is set to true (Automated)",
        True,
        [
            _item("--make-iptables-util-chains", "{.makeIPTablesUtilChains}", "eq", "true"),
            _item("--make-iptables-util-chains", "{.makeIPTablesUtilChains}", is_set=False),
        ],
        "Set makeIPTablesUtilChains: true (or drop the flag) and restart the kubelet.",
        bin_op="or",
    ),
    _setting_check(
        "4.2.7",
        "Ensure that the --hostname-override argument is not set (Manual)",
        False,
        [_item("--hostname-override", is_set=False)],
        "Remove --hostname-override from the kubelet's command line and restart it.",
    ),
    _setting_check(
        "4.2.8",
        "Ensure that the eventRecordQPS argument is set to a level which ensures appropriate event capture (Manual)",
        False,
        [
            _item("--event-qps", "{.eventRecordQPS}", "gte", "0"),
            _item("--event-qps", "{.eventRecordQPS}", is_set=False),
        ],
        "Set eventRecordQPS (or --event-qps) to a level that captures events, and restart the kubelet.",
        bin_op="or",
    ),
    _setting_check(
        "4.2.9",
        "Ensure that the --tls-cert-file and --tls-private-key-file arguments are set as appropriate (Manual)",
        False,
        [
            _item("--tls-cert-file", "{.tlsCertFile}"),
            _item("--tls-private-key-file", "{.tlsPrivateKeyFile}"),
        ],
        "Set tlsCertFile and tlsPrivateKeyFile (or the flags) to the kubelet's serving pair, and restart it.",
    ),
    _setting_check(
        "4.2.10",
        "Ensure that the --rotate-certificates argument is not set to false (Automated)",
        True,
        [
            _item("--rotate-certificates", "{.rotateCertificates}", "eq", "true"),
            _item("--rotate-certificates", "{.rotateCertificates}", is_set=False),
        ],
        "Set rotateCertificates: true (or remove --rotate-certificates=false) and restart the kubelet.",
        bin_op="or",
    ),
    _setting_check(
        "4.2.11",
        "Verify that the RotateKubeletServerCertificate argument is set to true (Manual)",
        False,
        [
            _item(
                "RotateKubeletServerCertificate", "{.featureGates.RotateKubeletServerCertificate}", "nothave", "false"
            ),
            _item("RotateKubeletServerCertificate", "{.featureGates.RotateKubeletServerCertificate}", is_set=False),
        ],
        "Do not set the RotateKubeletServerCertificate feature gate to false; restart the kubelet.",
        bin_op="or",
    ),
    _setting_check(
        "4.2.12",
        "Ensure that the Kubelet only makes use of Strong Cryptographic Ciphers (Manual)",
        False,
        [_item("--tls-cipher-suites", "{range .tlsCipherSuites[:]}{}{','}{end}", "valid_elements", _STRONG_CIPHERS)],
        "Set tlsCipherSuites (or --tls-cipher-suites) to a subset of the strong ciphers, and restart the kubelet.",
    ),
    _setting_check(
        "4.2.13",
        "Ensure that a limit is set on pod PIDs (Manual)",
        False,
        [_item("--pod-max-pids", "{.podPidsLimit}")],
        "Set podPidsLimit (or --pod-max-pids) to a suitable limit and restart the kubelet.",
    ),
    _setting_check(
        "4.2.14",
        "Ensure that the --seccomp-default parameter is set to true (Manual)",
        False,
        [_item("--seccomp-default", "{.seccompDefault}")],
        "Set seccompDefault: true (or --seccomp-default) and restart the kubelet.",
    ),
    _setting_check(
        "4.3.1",
        "Ensure that the kube-proxy metrics service is bound to localhost (Automated)",
        True,
        [
            _item("--metrics-bind-address", "{.metricsBindAddress}", "has", "127.0.0.1"),
            _item("--metrics-bind-address", "{.metricsBindAddress}", is_set=False),
        ],
        "Bind kube-proxy's metrics to 127.0.0.1 (or leave the default 127.0.0.1:10249).",
        bin_op="or",
        component="proxy",
    ),
]

CHECKS: dict[str, dict] = {check["id"]: check for check in _CHECK_LIST}


# --- Go value printing ---------------------------------------------------------------------------


class _PrintError(ValueError):
    """A value Go's json.Marshal refuses (a YAML mapping, a NaN...)."""


_NO_VALUE = object()  # an invalid reflect.Value: a null element ranged over


def _digits(value: float) -> tuple[str, int]:
    """Shortest round-trip digits of abs(value) (non-zero, finite) and the decimal point position."""
    sign_digits_exp = decimal.Decimal(repr(abs(value))).as_tuple()
    digits = "".join(str(d) for d in sign_digits_exp.digits)
    exponent = int(sign_digits_exp.exponent)
    stripped = digits.lstrip("0")
    digits = stripped.rstrip("0")
    exponent += len(stripped) - len(digits)
    return digits, len(digits) + exponent


def _fixed(digits: str, point: int) -> str:
    if point <= 0:
        return "0." + "0" * -point + digits
    if point >= len(digits):
        return digits + "0" * (point - len(digits))
    return digits[:point] + "." + digits[point:]


def _exponent(digits: str, point: int, json_style: bool) -> str:
    mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    exp = point - 1
    width = 1 if json_style and exp < 0 else 2
    return f"{mantissa}e{'-' if exp < 0 else '+'}{abs(exp):0{width}d}"


def go_float(value: float, json_style: bool = False) -> str:
    """A float64 as Go's fmt %v prints it (%g, shortest), or as encoding/json does when json_style."""
    if math.isnan(value):
        if json_style:
            raise _PrintError("json: unsupported value: NaN")
        return "NaN"
    if math.isinf(value):
        if json_style:
            raise _PrintError(f"json: unsupported value: {'+' if value > 0 else '-'}Inf")
        return "+Inf" if value > 0 else "-Inf"
    sign = "-" if math.copysign(1.0, value) < 0 else ""
    if value == 0:
        return sign + "0"
    digits, point = _digits(value)
    # encoding/json switches to an exponent outside [1e-6, 1e21); fmt's %g outside [1e-4, 1e6)
    use_exponent = (abs(value) < 1e-6 or abs(value) >= 1e21) if json_style else not -4 <= point - 1 < 6
    return sign + (_exponent(digits, point, json_style) if use_exponent else _fixed(digits, point))


def _json_string(text: str) -> str:
    out = json.dumps(text, ensure_ascii=False)
    for char, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028")):
        out = out.replace(char, escaped)
    return out.replace("\u2029", "\\u2029")


def _scalar_text(value: t.Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return go_float(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if hasattr(value, "isoformat"):  # a date PyYAML resolved; yaml.v2 keeps the text
        return value.isoformat()
    return str(value)


def _go_json(value: t.Any, from_json: bool) -> str:
    """json.Marshal of a decoded value; yaml.v2's map[interface{}]interface{} is refused."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return go_float(value, json_style=True)
    if isinstance(value, dict):
        if not from_json:
            raise _PrintError("json: unsupported type: map[interface {}]interface {}")
        inner = ",".join(_json_string(str(k)) + ":" + _go_json(value[k], from_json) for k in sorted(value))
        return "{" + inner + "}"
    if isinstance(value, list):
        return "[" + ",".join(_go_json(v, from_json) for v in value) + "]"
    return _json_string(_scalar_text(value))


def go_text(value: t.Any, from_json: bool = False) -> str:
    """What the jsonpath printer writes for one value: fmt.Fprint, or compact JSON for containers."""
    if value is _NO_VALUE:
        return "<no value>"
    if value is None:
        return "<nil>"
    if isinstance(value, (dict, list)):
        return _go_json(value, from_json)
    return _scalar_text(value)


# --- the jsonpath subset -------------------------------------------------------------------------

_FIELD_RE = re.compile(r"^((?:\.[A-Za-z0-9_-]+)+)(\[:\])?$")


def _parse_template(path: str) -> list[tuple[str, t.Any]]:
    """Split a jsonpath template into actions: text, cur ({}), fields, range, end."""
    actions: list[tuple[str, t.Any]] = []
    pos = 0
    while pos < len(path):
        start = path.find("{", pos)
        if start < 0:
            actions.append(("text", path[pos:]))
            break
        if start > pos:
            actions.append(("text", path[pos:start]))
        end = start + 1
        quote = ""
        while end < len(path) and (quote or path[end] != "}"):
            if path[end] in "'\"" and not quote:
                quote = path[end]
            elif path[end] == quote:
                quote = ""
            end += 1
        if end >= len(path):
            raise ValueError(f"unclosed action in {path!r}")
        actions.append(_parse_action(path[start + 1 : end].strip(), path))
        pos = end + 1
    return actions


def _parse_action(body: str, path: str) -> tuple[str, t.Any]:
    if not body:
        return ("cur", None)
    if body == "end":
        return ("end", None)
    if len(body) >= 2 and body[0] == body[-1] and body[0] in "'\"":
        return ("text", body[1:-1])
    is_range = body.startswith("range ")
    match = _FIELD_RE.match(body[6:].strip() if is_range else body)
    if not match:
        raise ValueError(f"unsupported jsonpath {path!r}")
    fields = (match.group(1)[1:].split("."), bool(match.group(2)))
    return ("range" if is_range else "fields", fields)


def _select(value: t.Any, fields: tuple[list[str], bool]) -> list[t.Any]:
    names, whole_slice = fields
    current = [value]
    for name in names:
        # A key of a mapping; anything else (missing key, scalar, list, null) yields nothing.
        current = [v[name] for v in current if isinstance(v, dict) and name in v]
    if not whole_slice:
        return current
    found: list[t.Any] = []
    for v in current:
        if v is None:
            continue
        if not isinstance(v, list):
            raise ValueError(f"{_go_type(v)} is not array or slice")
        found.extend(_NO_VALUE if item is None else item for item in v)
    return found


def _go_type(value: t.Any) -> str:
    if isinstance(value, dict):
        return "map[string]interface {}"
    return {bool: "bool", int: "int", float: "float64", str: "string"}.get(type(value), "interface {}")


def _run_actions(actions: list[tuple[str, t.Any]], value: t.Any, out: list[str], from_json: bool) -> None:
    index = 0
    while index < len(actions):
        kind, arg = actions[index]
        if kind == "text":
            out.append(arg)
        elif kind == "cur":
            out.append(go_text(value, from_json))
        elif kind == "fields":
            out.append(" ".join(go_text(v, from_json) for v in _select(value, arg)))
        elif kind == "range":
            depth, close = 1, index + 1
            while close < len(actions):
                depth += {"range": 1, "end": -1}.get(actions[close][0], 0)
                if depth == 0:
                    break
                close += 1
            for item in _select(value, arg):
                _run_actions(actions[index + 1 : close], item, out, from_json)
            index = close
        else:
            raise ValueError("not in range, nothing to end")
        index += 1


def jsonpath(path: str, data: t.Any, from_json: bool = False) -> str:
    """The text kube-bench's jsonpath (missing keys allowed) prints for path on the decoded data."""
    out: list[str] = []
    try:
        _run_actions(_parse_template(path), data, out, from_json)
    except _PrintError as exc:
        raise ValueError(str(exc)) from exc
    return "".join(out)


# --- test items ----------------------------------------------------------------------------------


def _go_atoi(text: str) -> int | None:
    text = text.strip()
    if not re.match(r"^[+-]?[0-9]+$", text):
        return None
    number = int(text)
    return number if -(2**63) <= number < 2**63 else None


def _go_octal(text: str) -> int | None:
    if not re.match(r"^[+-]?[0-7]+$", text):
        return None
    number = int(text, 8)
    return number if -(2**63) <= number < 2**63 else None


def _split_elements(text: str) -> list[str]:
    clean = text.strip().rstrip(_ARRAY_SEPARATOR)
    if not clean:
        return []
    return [part.strip() for part in clean.split(_ARRAY_SEPARATOR)]


def compare(op: str, found: str, wanted: str, name: str) -> tuple[str, bool]:
    """kube-bench's compareOp: (expected-result text, result) for a value that was found."""
    lowered = found.lower()
    if op in ("eq", "noteq"):
        same = lowered == wanted if lowered in ("true", "false") else found == wanted
        if op == "eq":
            return f"'{name}' is equal to '{wanted}'", same
        return f"'{name}' is not equal to '{wanted}'", not same
    if op in ("gt", "gte", "lt", "lte"):
        a, b = _go_atoi(found), _go_atoi(wanted)
        if a is None or b is None:
            return f"Invalid Number(s) used for comparison: '{found}' '{wanted}'", False
        words = {
            "gt": "is greater than",
            "gte": "is greater or equal to",
            "lt": "is lower than",
            "lte": "is lower or equal to",
        }
        results = {"gt": a > b, "gte": a >= b, "lt": a < b, "lte": a <= b}
        return f"'{name}' {words[op]} {wanted}", results[op]
    if op == "has":
        return f"'{name}' has '{wanted}'", wanted in found
    if op == "nothave":
        return f"'{name}' does not have '{wanted}'", wanted not in found
    if op == "regex":
        return f"'{name}' matched by regex expression '{wanted}'", re.search(wanted, found) is not None
    if op == "valid_elements":
        have, allowed = _split_elements(found), _split_elements(wanted)
        # both empty: valid; one of them empty: not valid; else every element must be allowed
        result = all(element in allowed for element in have) if have and allowed else not have and not allowed
        return f"'{name}' contains valid elements from '{wanted}'", result
    if op == "bitmask":
        requested = _go_octal(found)
        if requested is None:
            return f"Not numeric value - flag: {found}", False
        maximum = _go_octal(wanted)
        if maximum is None:
            return f"Not numeric value - flag: {wanted}", False
        return f"{name} has permissions {found}, expected {wanted} or more restrictive", (
            maximum & requested
        ) == requested
    return "", False


class _ItemResult(t.NamedTuple):
    passed: bool
    found: bool
    expected: str
    actual: str


def _flag_value(text: str, flag: str) -> tuple[bool, str]:
    if not text or not flag or flag not in text:
        return False, ""
    match = re.search("(" + flag + ")(=|: *)*([^" + _GO_SPACE + "]*) *", text)
    if match is None:
        raise ValueError(f"invalid flag in testItem definition: {text}")
    if match.group(3):
        return True, match.group(3)
    return True, "true" if flag.startswith("--") else match.group(1)


def _judge_item(item: dict, text: str, name: str, find: t.Callable[[str], tuple[bool, str]]) -> _ItemResult:
    text = text.rstrip(" \n")
    try:
        found, value = find(text)
    except ParseUnavailable:
        raise
    except ValueError:
        # kube-bench fails the item (the error goes to stderr); the output stays the actual value.
        return _ItemResult(False, False, "", text)
    op = item["compare"]["op"]
    if item["set"]:
        if found and op:
            expected, passed = compare(op, value, item["compare"]["value"], name)
        else:
            expected, passed = f"'{name}' is present", found
    else:
        expected, passed = f"'{name}' is not present", not found
    return _ItemResult(passed, found, expected, text)


class _Config:
    """The audit_config output, decoded once: JSON first (as Go's encoding/json), else YAML.

    JSON numbers become floats, as Go decodes them into float64.
    """

    def __init__(self, parse: t.Callable[[str], t.Any] | None) -> None:
        self.parse = parse
        self._decoded: dict[str, tuple[t.Any, bool]] = {}

    def decoded(self, text: str) -> tuple[t.Any, bool]:
        if text not in self._decoded:
            self._decoded[text] = self._decode(text)
        return self._decoded[text]

    def _decode(self, text: str) -> tuple[t.Any, bool]:
        try:
            return json.loads(text, parse_int=float, parse_constant=_reject_constant), True
        except ValueError as json_error:
            if self.parse is None:
                raise ParseUnavailable(
                    "the configuration text is not JSON and no YAML loader was passed as parse"
                ) from json_error
        try:
            return self.parse(text), False
        except ValueError as exc:
            raise ValueError(f'failed to load YAML or JSON from input "{text}": {exc}') from exc

    def find(self, text: str, path: str) -> tuple[bool, str]:
        data, from_json = self.decoded(text)
        try:
            value = jsonpath(path, data, from_json)
        except ValueError as exc:
            raise ValueError(f'unable to parse path expression "{path}": {exc}') from exc
        return value != "", value


def _reject_constant(name: str) -> t.Any:
    raise ValueError(f"invalid JSON constant {name}")


def _check_state(passed: bool, scored: bool) -> str:
    if passed:
        return PASS
    return FAIL if scored else WARN


def _config_error_forgiven(error: str, audit_output: str) -> bool:
    return ("exit status 127" in error or "No such file or directory" in error) and audit_output != ""


def evaluate(
    check: dict,
    audit_output: str,
    audit_config_output: str = "",
    audit_error: str | None = None,
    config_error: str | None = None,
    parse: t.Callable[[str], t.Any] | None = None,
) -> Verdict:
    """kube-bench's verdict on one check (an entry of CHECKS) given what its commands printed.

    audit_error / config_error: the reason kube-bench reports when that command exits non-zero
    (the output is still passed in audit_output / audit_config_output). parse reads YAML (it must
    raise ValueError on text it cannot read); without it, a configuration that is not JSON raises
    ParseUnavailable.
    """
    cid = check["id"]
    scored = bool(check["scored"])
    kind = (check.get("type") or "").strip()
    tests = check.get("tests")
    if scored and not kind and tests is None:
        return Verdict(cid, WARN, "", "There are no tests", SOURCE_NONE)
    if check.get("type") == "skip":
        return Verdict(cid, INFO, "", "Test marked as skip", SOURCE_NONE)
    if check.get("type") == "manual":
        return Verdict(cid, WARN, "", "Test marked as a manual test", SOURCE_NONE)
    if not tests or not tests.get("test_items"):
        return Verdict(cid, _check_state(False, scored), "", "No tests defined", SOURCE_NONE)
    if audit_error is not None:
        return Verdict(cid, _check_state(False, scored), "", audit_error, SOURCE_NONE)
    if config_error is not None:
        if not _config_error_forgiven(config_error, audit_output):
            return Verdict(cid, _check_state(False, scored), "", config_error, SOURCE_NONE)
        audit_config_output = ""

    config = _Config(parse)
    results: list[_ItemResult] = []
    first_source = SOURCE_NONE
    for index, item in enumerate(tests["test_items"]):
        flag = item.get("flag", "")
        result = _judge_item(item, audit_output, flag, lambda text, f=flag: _flag_value(text, f))
        source = SOURCE_COMMAND if result.found else SOURCE_NONE
        if not result.found and check.get("audit_config") and audit_config_output != "":
            path = item.get("path", "")
            result = _judge_item(item, audit_config_output, path, lambda text, p=path: config.find(text, p))
            source = SOURCE_CONFIG if result.found else SOURCE_NONE
        if index == 0:
            first_source = source
        results.append(result)

    bin_op = tests.get("bin_op") or "and"
    if bin_op == "and":
        passed = all(r.passed for r in results)
        expected = " AND ".join(r.expected for r in results)
    elif bin_op == "or":
        passed = any(r.passed for r in results)
        expected = " OR ".join(r.expected for r in results)
    else:
        reason = f"unknown binary operator for tests {bin_op}"
        return Verdict(cid, _check_state(False, scored), "", reason, SOURCE_NONE)
    return Verdict(cid, _check_state(passed, scored), expected, results[0].actual, first_source)


# --- substitutions -------------------------------------------------------------------------------


def _first_existing(candidates: list[str], exists: t.Callable[[str], bool]) -> str:
    for candidate in candidates:
        if exists(candidate):
            return candidate
    return ""


def _binaries(running: t.Callable[[str], bool]) -> dict[str, str]:
    """kube-bench's getBinaries for the node: {} when the (mandatory) kubelet runs under no name."""
    found: dict[str, str] = {}
    for component in PATHS["components"]:
        spec = PATHS[component]
        bins = spec.get("bins") or []
        if not bins:
            continue
        chosen = next((b for b in bins if running(b)), "")
        if not chosen and not spec.get("optional"):
            return {}
        found[component] = chosen or component
    return found


def variables(exists: t.Callable[[str], bool], running: t.Callable[[str], bool]) -> dict[str, str]:
    """kube-bench's substitutions on this node.

    exists(path) answers as os.stat does (links followed). running(candidate) is asked with each
    bins entry of config.yaml as written ("hyperkube kubelet", "kubelet"...) and answers as
    kube-bench's verifyBin (running_from_view() builds one from a NodeView).

    Files: the first existing path of each list, else the default. Bins: the first candidate that
    runs, else the component's name. When no kubelet candidate runs, kube-bench carries on without
    substituting any bin: kubeletbin and proxybin are then "" (see binaries_error()).
    """
    kubelet, proxy = PATHS["kubelet"], PATHS["proxy"]
    bins = _binaries(running)
    return {
        "kubeletsvc": _first_existing(kubelet["svc"], exists) or kubelet["defaultsvc"],
        "kubeletconf": _first_existing(kubelet["confs"], exists) or kubelet["defaultconf"],
        "kubeletkubeconfig": _first_existing(kubelet["kubeconfig"], exists) or kubelet["defaultkubeconfig"],
        "kubeletcafile": _first_existing(kubelet["cafile"], exists) or kubelet["defaultcafile"],
        "proxykubeconfig": _first_existing(proxy["kubeconfig"], exists) or proxy["defaultkubeconfig"],
        "kubeletbin": bins.get("kubelet", ""),
        "proxybin": bins.get("proxy", ""),
    }


def binaries_error(subs: dict[str, str]) -> str | None:
    """kube-bench's (logged, not fatal) complaint when variables() found no running kubelet."""
    return None if subs.get("kubeletbin") else KUBELET_NOT_RUNNING


def running_from_view(view: NodeView) -> t.Callable[[str], bool]:
    """kube-bench's verifyBin on a view: a process named after the first word whose command line
    starts with the whole candidate, a directory prefix allowed."""

    def running(candidate: str) -> bool:
        candidate = candidate.strip("'\"")
        words = candidate.split()
        if not words:
            return False
        argv = view.process(words[0])
        if not argv:
            return False
        return re.match("^([^" + _GO_SPACE + "]*/)*" + re.escape(candidate), " ".join(argv)) is not None

    return running


# --- audit outputs -------------------------------------------------------------------------------


def go_quote(text: str) -> str:
    """Go's %q of a string (strconv.Quote), enough for error messages."""
    escapes = {'"': '\\"', "\\": "\\\\", "\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r"}
    escapes.update({"\t": "\\t", "\v": "\\v"})
    out = []
    for char in text:
        if char in escapes:
            out.append(escapes[char])
        elif char.isprintable():
            out.append(char)
        elif ord(char) < 0x80:
            out.append(f"\\x{ord(char):02x}")
        elif ord(char) <= 0xFFFF:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(f"\\U{ord(char):08x}")
    return '"' + "".join(out) + '"'


def run_error(command: str, output: str, status: int = 1) -> str:
    """The error kube-bench reports for an audit command that exited with status."""
    return f"failed to run: {go_quote(command.strip())}, output: {go_quote(output)}, error: exit status {status}"


def substitute(command: str, subs: dict[str, str]) -> str:
    """kube-bench's makeSubstitutions: $name replaced by its value (quoted when it has spaces); an
    empty value is not substituted."""
    for name in sorted(subs, key=len, reverse=True):
        value = subs[name]
        if not value:
            continue
        if len(value.split()) > 1:
            value = "'" + value + "'"
        command = command.replace("$" + name, value)
    return command


def _stat_for_print(view: NodeView, path: str) -> tuple[int, str, str] | None:
    lstat = getattr(view, "lstat", None)
    info = lstat(path) if lstat is not None else None
    return info if info is not None else view.stat(path)


def _mode_line(view: NodeView, path: str) -> str:
    info = _stat_for_print(view, path)
    return "" if info is None else f"permissions={statmod.S_IMODE(info[0]):o}\n"


def _owner_line(view: NodeView, path: str) -> str:
    info = _stat_for_print(view, path)
    return "" if info is None else f"{info[1]}:{info[2]}\n"


def _processes(view: NodeView, bin_value: str) -> list[list[str]]:
    found: list[list[str]] = []
    for word in bin_value.split():
        argv = view.process(word)
        if argv and argv not in found:
            found.append(argv)
    return found


def _ps_line(argv: list[str]) -> str:
    cmd = " ".join("".join(c if c.isprintable() else "?" for c in word) for word in argv)
    return f"root           1       0  0 00:00 ?        00:00:00 {cmd}\n"


def client_ca_file(view: NodeView, subs: dict[str, str]) -> str:
    """The CA file 4.1.7 and 4.1.8 judge: the kubelet's --client-ca-file= value, else $kubeletcafile."""
    for argv in _processes(view, subs.get("kubeletbin") or "kubelet"):
        line = " ".join(argv)
        if "--client-ca-file=" in line:
            words = line.split("--client-ca-file=")[1].split()
            if words:
                return words[0]
    return subs["kubeletcafile"]


def _cat(view: NodeView, path: str, cat: str) -> tuple[str, str | None]:
    """What `cat path` prints, and whether it fails (the reason's output part)."""
    text = view.read(path)
    if text is not None:
        return text, None
    info = view.stat(path)
    if info is None:
        return "", f"{cat}: {path}: No such file or directory\n"
    kind = statmod.S_IFMT(info[0])
    if kind in (0, statmod.S_IFDIR):  # no type bits: a directory is the likely reason for root
        return "", f"{cat}: {path}: Is a directory\n"
    return "", f"{cat}: {path}: Permission denied\n"


def audit_outputs(check_id: str, view: NodeView, subs: dict[str, str]) -> tuple[str, str, str | None, str | None]:
    """(audit_output, audit_config_output, audit_error, config_error) kube-bench would get on the node."""
    check = CHECKS[check_id]
    kind = check["audit"]
    if kind in (FILE_MODE, FILE_OWNER, FILE_OWNER_OR_NOT_FOUND):
        path = subs[check["file"]]
        if view.stat(path) is None:
            return ("File not found\n" if kind == FILE_OWNER_OR_NOT_FOUND else ""), "", None, None
        return (_mode_line(view, path) if kind == FILE_MODE else _owner_line(view, path)), "", None, None
    if kind in (CA_MODE, CA_OWNER):
        path = client_ca_file(view, subs)
        if view.stat(path) is None:
            return "", "", None, None
        return (_mode_line(view, path) if kind == CA_MODE else _owner_line(view, path)), "", None, None

    # PROCESS: /bin/ps -fC $bin
    command = substitute(check["audit_command"], subs)
    bin_value = subs.get(check["bin"], "")
    if not bin_value:
        return PS_USAGE_ERROR, "", run_error(command, PS_USAGE_ERROR), None
    procs = _processes(view, bin_value)
    output = PS_HEADER + "\n" + "".join(_ps_line(argv) for argv in procs)
    if not procs:
        return output, "", run_error(command, output), None
    config_kind = check["audit_config"]
    if not config_kind:
        return output, "", None, None
    config_command = substitute(check["audit_config_command"], subs)
    path = subs[check["config_file"]]
    if config_kind == CAT_IF_EXISTS and view.stat(path) is None:
        return output, "", None, None
    text, failure = _cat(view, path, "/bin/cat" if config_kind == CAT else "cat")
    if failure is not None:
        return output, failure, None, run_error(config_command, failure)
    return output, text, None, None


def judge(
    check_id: str, view: NodeView, subs: dict[str, str], parse: t.Callable[[str], t.Any] | None = None
) -> Verdict:
    """kube-bench's verdict on check_id for this node: audit_outputs() judged by evaluate()."""
    return evaluate(CHECKS[check_id], *audit_outputs(check_id, view, subs), parse=parse)
