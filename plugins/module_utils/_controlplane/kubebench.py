# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The verdict kube-bench would give on this node for the CIS Kubernetes 1.12 control plane checks.

Sections 1 (master), 2 (etcd) and 3.2.1 (the audit policy flag) of kube-bench's cis-1.12
definitions, encoded here as data (kube-bench, aquasecurity/kube-bench, Apache-2.0); the judging
is _kubelet.kubebench.evaluate(), the output each audit command would print is built here from what
the node shows, without a shell. How kube-bench gets there (cmd/util.go, check/check.go):

- Programs: a component runs when a process has its name (C(ps -C)). When one of the mandatory
  components (kube-apiserver, kube-scheduler, kube-controller-manager) does not run, kube-bench
  logs that it cannot detect the programs of the component and substitutes no program at all: every
  C(ps -ef | grep $bin) audit then fails (an empty pattern). etcd is optional: not running, its
  name "etcd" is grepped for, which also matches the API server's C(--etcd-*) flags.
- C(ps -ef | grep BIN | grep -v grep) prints every process line holding BIN; a flag is looked for
  in that whole text (the first occurrence wins). The ps columns before CMD are placeholders.
- Files: the first existing path of each list of config.yaml, else its default.
- C(use_multiple_values) checks judge every output line; all must pass, and no output fails.
- The kube-bench rule that the command line must start with the program's name is not applied:
  the lab's stand-in components are interpreted programs (see _kubelet.kubebench).
"""

from __future__ import annotations

import os
import re
import stat
import typing as t

from ansible_collections.nodeguard.hardening.plugins.module_utils._kubelet.discovery import group_name, user_name
from ansible_collections.nodeguard.hardening.plugins.module_utils._kubelet.kubebench import (
    FAIL,
    PASS,
    SOURCE_NONE,
    WARN,
    Verdict,
    evaluate,
)
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.node import Node

BENCHMARK_PREFIX = "CIS Kubernetes"
MANDATORY = ("kube-apiserver", "kube-scheduler", "kube-controller-manager")
_ETC = "/etc/kubernetes"
PATHS: dict[str, tuple[list[str], str]] = {
    "apiserverconf": ([f"{_ETC}/manifests/kube-apiserver.yaml", f"{_ETC}/manifests/kube-apiserver.yml"], ""),
    "schedulerconf": ([f"{_ETC}/manifests/kube-scheduler.yaml", f"{_ETC}/manifests/kube-scheduler.yml"], ""),
    "controllermanagerconf": (
        [f"{_ETC}/manifests/kube-controller-manager.yaml", f"{_ETC}/manifests/kube-controller-manager.yml"],
        "",
    ),
    "etcdconf": ([f"{_ETC}/manifests/etcd.yaml", f"{_ETC}/manifests/etcd.yml", "/etc/etcd/etcd.conf"], ""),
    "schedulerkubeconfig": ([f"{_ETC}/scheduler.conf", "/var/lib/kube-scheduler/kubeconfig"], ""),
    "controllermanagerkubeconfig": (
        [f"{_ETC}/controller-manager.conf", "/var/lib/kube-controller-manager/kubeconfig"],
        "",
    ),
    "etcddatadir": (["/var/lib/etcd/default.etcd", "/var/lib/etcd/data.etcd"], "/var/lib/etcd/default.etcd"),
}
for _name, (_paths, _default) in list(PATHS.items()):
    PATHS[_name] = (_paths, _default or _paths[0])

STRONG_API_CIPHERS = (
    "TLS_AES_128_GCM_SHA256,TLS_AES_256_GCM_SHA384,TLS_CHACHA20_POLY1305_SHA256,"
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,"
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305,TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,"
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,"
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305,TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"
)


def _item(flag: str, op: str = "", value: str = "", is_set: bool = True) -> dict:
    return {"flag": flag, "path": "", "set": is_set, "compare": {"op": op, "value": value}}


def _check(cid: str, scored: bool, audit: tuple, items: list[dict], bin_op: str = "", multiple: bool = False) -> dict:
    return {
        "id": cid,
        "scored": scored,
        "type": "",
        "audit": audit,
        "multiple": multiple,
        "audit_config": "",
        "tests": {"bin_op": bin_op, "test_items": items},
    }


def _mode(value: str) -> dict:
    return _item("permissions", "bitmask", value)


def _ps(component: str) -> tuple:
    return ("ps", component)


def _flag_set(flag: str) -> dict:
    return _item(flag)


def _eq(flag: str, value: str) -> dict:
    return _item(flag, "eq", value)


def _unset(flag: str) -> dict:
    return _item(flag, is_set=False)


_API, _CM, _SCHED, _ETCD = "kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd"
_FILE_CHECKS = [
    ("1.1.1", "apiserverconf", "mode"),
    ("1.1.2", "apiserverconf", "owner"),
    ("1.1.3", "controllermanagerconf", "mode"),
    ("1.1.4", "controllermanagerconf", "owner"),
    ("1.1.5", "schedulerconf", "mode"),
    ("1.1.6", "schedulerconf", "owner"),
    ("1.1.15", "schedulerkubeconfig", "mode"),
    ("1.1.16", "schedulerkubeconfig", "owner"),
    ("1.1.17", "controllermanagerkubeconfig", "mode"),
    ("1.1.18", "controllermanagerkubeconfig", "owner"),
]
_CHECK_LIST = [
    *[
        _check(cid, True, ("file", var, kind), [_mode("600") if kind == "mode" else _item("root:root")])
        for cid, var, kind in _FILE_CHECKS
    ],
    _check("1.1.7", True, ("etcdfind", "mode"), [_mode("600")], multiple=True),
    _check("1.1.8", True, ("etcdfind", "owner"), [_item("root:root")], multiple=True),
    _check("1.1.9", False, ("cni", "mode"), [_mode("600")], multiple=True),
    _check("1.1.10", False, ("cni", "owner"), [_item("root:root")], multiple=True),
    _check("1.1.11", True, ("datadir", "mode"), [_mode("700")]),
    _check("1.1.12", True, ("datadir", "owner"), [_item("etcd:etcd")]),
    _check("1.1.13", True, ("admin", "mode"), [_mode("600")], multiple=True),
    _check("1.1.14", True, ("admin", "owner"), [_eq("ownership", "root:root")], multiple=True),
    _check("1.1.19", True, ("pki", "owner", ""), [_item("root:root")], multiple=True),
    _check("1.1.20", False, ("pki", "mode", "*.crt"), [_mode("644")], multiple=True),
    _check("1.1.21", False, ("pki", "mode", "*.key"), [_mode("600")], multiple=True),
    _check("1.2.1", False, _ps(_API), [_eq("--anonymous-auth", "false")]),
    _check("1.2.2", True, _ps(_API), [_unset("--token-auth-file")]),
    _check(
        "1.2.3",
        False,
        _ps(_API),
        [_item("--enable-admission-plugins", "has", "DenyServiceExternalIPs")],
        bin_op="or",
    ),
    _check(
        "1.2.4", True, _ps(_API), [_flag_set("--kubelet-client-certificate"), _flag_set("--kubelet-client-key")], "and"
    ),
    _check("1.2.5", True, _ps(_API), [_flag_set("--kubelet-certificate-authority")]),
    _check("1.2.6", True, _ps(_API), [_item("--authorization-mode", "nothave", "AlwaysAllow")]),
    _check("1.2.7", True, _ps(_API), [_item("--authorization-mode", "has", "Node")]),
    _check("1.2.8", True, _ps(_API), [_item("--authorization-mode", "has", "RBAC")]),
    _check("1.2.9", False, _ps(_API), [_item("--enable-admission-plugins", "has", "EventRateLimit")]),
    _check(
        "1.2.10",
        True,
        _ps(_API),
        [_item("--enable-admission-plugins", "nothave", "AlwaysAdmit"), _unset("--enable-admission-plugins")],
        "or",
    ),
    _check("1.2.11", False, _ps(_API), [_item("--enable-admission-plugins", "has", "AlwaysPullImages")]),
    _check(
        "1.2.12",
        True,
        _ps(_API),
        [_item("--disable-admission-plugins", "nothave", "ServiceAccount"), _unset("--disable-admission-plugins")],
        "or",
    ),
    _check(
        "1.2.13",
        True,
        _ps(_API),
        [_item("--disable-admission-plugins", "nothave", "NamespaceLifecycle"), _unset("--disable-admission-plugins")],
        "or",
    ),
    _check("1.2.14", True, _ps(_API), [_item("--enable-admission-plugins", "has", "NodeRestriction")]),
    _check("1.2.15", True, _ps(_API), [_eq("--profiling", "false")]),
    _check("1.2.16", True, _ps(_API), [_flag_set("--audit-log-path")]),
    _check("1.2.17", True, _ps(_API), [_item("--audit-log-maxage", "gte", "30")]),
    _check("1.2.18", True, _ps(_API), [_item("--audit-log-maxbackup", "gte", "10")]),
    _check("1.2.19", True, _ps(_API), [_item("--audit-log-maxsize", "gte", "100")]),
    _check(
        "1.2.21",
        True,
        _ps(_API),
        [_unset("--service-account-lookup"), _eq("--service-account-lookup", "true")],
        "or",
    ),
    _check("1.2.22", True, _ps(_API), [_flag_set("--service-account-key-file")]),
    _check("1.2.23", True, _ps(_API), [_flag_set("--etcd-certfile"), _flag_set("--etcd-keyfile")], "and"),
    _check("1.2.24", True, _ps(_API), [_flag_set("--tls-cert-file"), _flag_set("--tls-private-key-file")], "and"),
    _check("1.2.25", True, _ps(_API), [_flag_set("--client-ca-file")]),
    _check("1.2.26", True, _ps(_API), [_flag_set("--etcd-cafile")]),
    _check("1.2.27", False, _ps(_API), [_flag_set("--encryption-provider-config")]),
    _check("1.2.28", False, ("encryption",), [_item("provider", "valid_elements", "aescbc,kms,secretbox")]),
    _check("1.2.29", False, _ps(_API), [_item("--tls-cipher-suites", "valid_elements", STRONG_API_CIPHERS)]),
    _check("1.2.30", True, _ps(_API), [_eq("--service-account-extend-token-expiration", "false")]),
    _check("1.3.1", False, _ps(_CM), [_flag_set("--terminated-pod-gc-threshold")]),
    _check("1.3.2", True, _ps(_CM), [_eq("--profiling", "false")]),
    _check("1.3.3", True, _ps(_CM), [_item("--use-service-account-credentials", "noteq", "false")]),
    _check("1.3.4", True, _ps(_CM), [_flag_set("--service-account-private-key-file")]),
    _check("1.3.5", True, _ps(_CM), [_flag_set("--root-ca-file")]),
    _check(
        "1.3.6",
        True,
        _ps(_CM),
        [_item("--feature-gates", "nothave", "RotateKubeletServerCertificate=false"), _unset("--feature-gates")],
        "or",
    ),
    _check("1.3.7", True, _ps(_CM), [_eq("--bind-address", "127.0.0.1"), _unset("--bind-address")], "or"),
    _check("1.4.1", True, _ps(_SCHED), [_eq("--profiling", "false")]),
    _check("1.4.2", True, _ps(_SCHED), [_eq("--bind-address", "127.0.0.1"), _unset("--bind-address")], "or"),
    _check("2.1", True, _ps(_ETCD), [_flag_set("--cert-file"), _flag_set("--key-file")], "and"),
    _check("2.2", True, _ps(_ETCD), [_eq("--client-cert-auth", "true")]),
    _check("2.3", True, _ps(_ETCD), [_unset("--auto-tls"), _eq("--auto-tls", "false")], "or"),
    _check("2.4", True, _ps(_ETCD), [_flag_set("--peer-cert-file"), _flag_set("--peer-key-file")], "and"),
    _check("2.5", True, _ps(_ETCD), [_eq("--peer-client-cert-auth", "true")]),
    _check("2.6", True, _ps(_ETCD), [_unset("--peer-auto-tls"), _eq("--peer-auto-tls", "false")], "or"),
    _check("2.7", False, _ps(_ETCD), [_flag_set("--trusted-ca-file")]),
    _check("3.2.1", False, _ps(_API), [_flag_set("--audit-policy-file")]),
]
# 1.2.20, 3.1.1 to 3.1.3 and 3.2.2 are manual checks without tests: kube-bench always warns.
MANUAL = ("1.2.20", "3.1.1", "3.1.2", "3.1.3", "3.2.2")
CHECKS: dict[str, dict] = {check["id"]: check for check in _CHECK_LIST}
for _cid in MANUAL:
    CHECKS[_cid] = {"id": _cid, "scored": False, "type": "manual", "audit": ("manual",), "tests": None}

GREP_USAGE = "Usage: grep [OPTION]... PATTERNS [FILE]...\nTry 'grep --help' for more information.\n"


class View:
    """What the audit commands would see on the node, read once per run."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self._ps: list[tuple[str, str]] | None = None

    def ps(self) -> list[tuple[str, str]]:
        """(command name, command line) of every process."""
        if self._ps is None:
            self._ps = []
            try:
                entries = sorted((e for e in os.listdir(self.node.path("/proc")) if e.isdigit()), key=int)
            except OSError:
                entries = []
            for entry in entries:
                comm = (self.node.read(f"/proc/{entry}/comm") or "").strip()
                words = [w for w in (self.node.read(f"/proc/{entry}/cmdline") or "").split("\0") if w]
                if words:
                    self._ps.append((comm, " ".join("".join(c if c.isprintable() else "?" for c in w) for w in words)))
        return self._ps

    def running(self, name: str) -> bool:
        return any(comm == name[:15] for comm, _unused in self.ps())

    def grep(self, pattern: str) -> str:
        lines = [cmd for _unused, cmd in self.ps() if pattern in cmd and "grep" not in cmd]
        return "".join(f"root           1       0  0 00:00 ?        00:00:00 {cmd}\n" for cmd in lines)

    def stat(self, path: str) -> tuple[int, str, str] | None:
        try:
            info = os.lstat(self.node.path(path))
        except OSError:
            return None
        return info.st_mode, user_name(info.st_uid), group_name(info.st_gid)

    def first(self, variable: str) -> str:
        candidates, default = PATHS[variable]
        for candidate in candidates:
            if os.path.exists(self.node.path(candidate)):
                return candidate
        return default


def _stat_line(view: View, path: str, kind: str, label: str = "", name: bool = False) -> str:
    info = view.stat(path)
    if info is None:
        return ""
    text = f"{stat.S_IMODE(info[0]):o}" if kind == "mode" else f"{info[1]}:{info[2]}"
    prefix = label or ("permissions=" if kind == "mode" else "")
    return f"{prefix}{text}{' ' + path if name else ''}\n"


def _walk(view: View, top: str, pattern: str) -> list[str]:
    root = view.node.path(top)
    if not os.path.isdir(root):
        return []
    found = [top.rstrip("/") + "/"] if not pattern else []
    regex = re.compile("^" + re.escape(pattern).replace(r"\*", ".*") + "$") if pattern else None
    for directory, dirs, files in os.walk(root):
        dirs.sort()
        rel = directory[len(root) :].lstrip("/")
        for entry in sorted(dirs + files):
            if regex is None or regex.match(entry):
                found.append(os.path.join(top, rel, entry) if rel else os.path.join(top, entry))
    return found


def audit_output(check: dict, view: View) -> tuple[str, str | None]:
    """(output, error) kube-bench's audit command would give for the check on this node."""
    kind = check["audit"][0]
    bins_ok = all(view.running(name) for name in MANDATORY)
    if kind == "file":
        return _stat_line(view, view.first(check["audit"][1]), check["audit"][2]), None
    if kind == "etcdfind":
        path = view.first("etcdconf")
        return ("" if "etcd" not in os.path.basename(path) else _stat_line(view, path, check["audit"][1])), None
    if kind == "cni":
        out = "" if bins_ok else GREP_USAGE
        for path in _walk(view, "/var/lib/cni/networks", "*"):
            if view.stat(path) and stat.S_ISREG(view.stat(path)[0]):
                out += _stat_line(view, path, check["audit"][1])
        return out, None
    if kind == "datadir":
        data_dir = ""
        for line in (view.grep("etcd") if bins_ok else "").splitlines():
            found = re.findall(r"data-dir[= ]([^ ]*)", line)  # sed's greedy .* takes the last one
            if "--data-dir" in line and found and os.path.isdir(view.node.path(found[-1])):
                data_dir = found[-1]
        data_dir = data_dir or view.first("etcddatadir")
        if view.stat(data_dir) is None:
            message = f"stat: cannot statx '{data_dir}': No such file or directory\n"
            return message, f"the audit failed: {message.strip()}"
        return _stat_line(view, data_dir, check["audit"][1]), None
    if kind == "admin":
        label = "permissions=" if check["audit"][1] == "mode" else "ownership="
        lines = [f"{_ETC}/admin.conf", f"{_ETC}/super-admin.conf"]
        return "".join(_stat_line(view, p, check["audit"][1], label, name=True) for p in lines), None
    if kind == "pki":
        paths = _walk(view, f"{_ETC}/pki/", check["audit"][2])
        if not paths:
            return "stat: missing operand\n", "the audit failed: stat: missing operand (no file found)"
        return "".join(_stat_line(view, p, check["audit"][1]) for p in paths), None
    if kind == "encryption":
        return _providers(view, bins_ok), None
    if kind == "ps":
        if not bins_ok:
            return GREP_USAGE, "kube-bench cannot detect the control plane's programs (" + ", ".join(
                name for name in MANDATORY if not view.running(name)
            ) + " not running), so it substitutes none and this audit fails"
        output = view.grep(check["audit"][1])
        if not output:
            return "", f"the audit failed: no process line holds {check['audit'][1]!r} (exit status 1)"
        return output, None
    return "", None


def _providers(view: View, bins_ok: bool) -> str:
    """What C(grep -A1 'providers:' CONFIG | tail -n1 | grep -o '[A-Za-z]*' | sed 's/^/provider=/') prints."""
    if not bins_ok:
        return GREP_USAGE
    path = ""
    for line in view.grep("kube-apiserver").splitlines():
        found = re.findall(r"encryption-provider-config[= ]([^ ]*)", line)
        if "--encryption-provider-config" in line and found:
            path = found[-1]
    text = view.node.read(path) if path else None
    if not text:
        return ""
    lines = text.splitlines()
    last = ""
    for index, line in enumerate(lines):
        if "providers:" in line:  # grep -A1 ... | tail -n1: the line after the last match, or the match
            last = lines[index + 1] if index + 1 < len(lines) else line
    return "".join(f"provider={word}\n" for word in re.findall(r"[A-Za-z]+", last))


def judge(check_id: str, view: View) -> Verdict:
    """kube-bench's verdict on one control plane check for this node."""
    check = CHECKS[check_id]
    output, error = audit_output(check, view)
    if error is not None:
        state = FAIL if check["scored"] else WARN
        return Verdict(check_id, state, "", error, SOURCE_NONE)
    if not check.get("multiple"):
        return evaluate(check, output)
    lines = output.rstrip(" \n").split("\n")
    verdict = evaluate(check, lines[0])
    for line in lines[1:]:
        if verdict.state != PASS:
            break
        verdict = evaluate(check, line)
    return verdict._replace(actual=output.rstrip(" \n"))


def verdicts(view: View, control: dict) -> dict[str, t.Any]:
    """C({kube_bench: [{check, state, expected, actual, source}]}) for the control's CIS sections."""
    found = []
    for entry in control.get("benchmarks") or []:
        section = entry.get("section")
        if not str(entry.get("benchmark", "")).startswith(BENCHMARK_PREFIX) or section not in CHECKS:
            continue
        verdict = judge(section, view)
        found.append(
            {
                "check": section,
                "state": verdict.state,
                "expected": verdict.expected,
                "actual": verdict.actual,
                "source": verdict.source,
            }
        )
    return {"kube_bench": found} if found else {}
