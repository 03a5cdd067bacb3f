# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import pytest

from ansible_collections.nodeguard.hardening.plugins.module_utils import _sysctl
from ansible_collections.nodeguard.hardening.plugins.module_utils._controls import ControlInputError
from ansible_collections.nodeguard.hardening.plugins.module_utils._node import NodePaths

from ...controls import full_control

PATH = _sysctl.DEFAULT_PATH

# Live kernel parameters of the fake node, by their path under /proc/sys.
LIVE = {
    "net/ipv4/ip_forward": "0",
    "net/ipv4/conf/all/rp_filter": "0",
    "net/ipv4/conf/eth0.100/rp_filter": "0",
    "net/ipv4/ip_local_port_range": "32768\t60999",
    "net/ipv4/tcp_congestion_control": "cubic",
    "kernel/panic": "0",
    "vm/overcommit_memory": "0",
}


# --------------------------------------------------------------------------- helpers


def ctl(cid, sysctl, *, enabled=True, reason=None, requires_modules=None):
    """A control as AnsibleModule hands it over, every option present."""
    return full_control(cid, enabled=enabled, reason=reason, sysctl=sysctl, requires_modules=requires_modules or [])


class FakeModule:
    def __init__(self, controls, *, check_mode=False, path=PATH, missing="skip"):
        self.params = {"controls": controls, "path": path, "missing": missing}
        self.check_mode = check_mode
        self.moves = []

    def atomic_move(self, src, dest):
        self.moves.append(dest)
        os.rename(src, dest)


class Tree:
    """A node in a temporary directory: /proc/sys, /sys/module and a root for config files."""

    def __init__(self, root: Path):
        self.root = root
        self.proc_root = root / "proc" / "sys"
        self.module_root = root / "sys" / "module"
        self.conf_root = root / "root"
        for rel, value in LIVE.items():
            self.set_live(rel, value)
        self.module_root.mkdir(parents=True)
        self.conf_root.mkdir()
        self.host = NodePaths(
            proc_root=str(self.proc_root), module_root=str(self.module_root), conf_root=str(self.conf_root)
        )

    def set_live(self, rel, value):
        path = self.proc_root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(value + "\n")

    def live(self, rel):
        return (self.proc_root / rel).read_text()

    def conf(self, path=PATH) -> Path:
        return self.conf_root / path.lstrip("/")

    def add_conf(self, path, text):
        target = self.conf(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)

    def load_module(self, name):
        (self.module_root / name).mkdir()

    def snapshot(self):
        return {str(p.relative_to(self.root)): p.read_bytes() for p in sorted(self.root.rglob("*")) if p.is_file()}


@pytest.fixture
def tree(tmp_path):
    return Tree(tmp_path)


def run(tree, controls, **kwargs):
    module = FakeModule(controls, **kwargs)
    return module, _sysctl.run(module, tree.host)


def run_result(tree, controls, **kwargs):
    """The module's result alone, for tests that need not look at the fake module."""
    return run(tree, controls, **kwargs)[1]


def statuses(result):
    return [(r["id"], r["status"]) for r in result["controls"]]


def expected_file(*blocks):
    """The drop-in file as render() writes it, from (control id, [lines]) pairs."""
    parts = [_sysctl.FILE_HEADER]
    parts += [f"# {cid}: title of {cid}\n" + "".join(f"{line}\n" for line in lines) for cid, lines in blocks]
    return "\n".join(parts)


# --------------------------------------------------------------------------- keys


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("net.ipv4.ip_forward", ["net", "ipv4", "ip_forward"]),
        ("net/ipv4/ip_forward", ["net", "ipv4", "ip_forward"]),
        ("/net/ipv4/ip_forward/", ["net", "ipv4", "ip_forward"]),
        (".net.ipv4.ip_forward.", ["net", "ipv4", "ip_forward"]),
        ("net/ipv4/conf/eth0.100/rp_filter", ["net", "ipv4", "conf", "eth0.100", "rp_filter"]),
        ("net.ipv4.conf.eth0/100.rp_filter", ["net", "ipv4", "conf", "eth0.100", "rp_filter"]),
        ("net.ipv4.conf.eth0/100/2.rp_filter", ["net", "ipv4", "conf", "eth0.100.2", "rp_filter"]),
        ("kernel", ["kernel"]),
    ],
    ids=["dotted", "slash", "slash-outer", "dot-outer", "vlan-slash", "vlan-dotted", "vlan-dotted-nested", "single"],
)
def test_split_key(key, expected):
    assert _sysctl.split_key(key) == expected


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("net.ipv4.ip_forward", "net.ipv4.ip_forward"),
        ("net/ipv4/ip_forward", "net.ipv4.ip_forward"),
        ("/net/ipv4/conf/all/rp_filter", "net.ipv4.conf.all.rp_filter"),
        ("net/ipv4/conf/eth0.100/rp_filter", "net.ipv4.conf.eth0/100.rp_filter"),
        ("net.ipv4.conf.eth0/100.rp_filter", "net.ipv4.conf.eth0/100.rp_filter"),
        ("net.ipv4.conf.*.rp_filter", "net.ipv4.conf.*.rp_filter"),
    ],
    ids=["dotted", "slash", "slash-leading", "vlan-slash", "vlan-dotted", "glob"],
)
def test_canonical_key(key, expected):
    assert _sysctl.canonical_key(key) == expected


def test_canonical_key_both_vlan_spellings_are_one_key():
    # sysctl.d(5): in a dotted key '.' and '/' swap roles, so both spellings name the same file in /proc/sys.
    dotted = _sysctl.canonical_key("net.ipv4.conf.eth0/100.rp_filter")
    slashed = _sysctl.canonical_key("net/ipv4/conf/eth0.100/rp_filter")
    assert dotted == slashed == "net.ipv4.conf.eth0/100.rp_filter"
    assert _sysctl.split_key(dotted) == ["net", "ipv4", "conf", "eth0.100", "rp_filter"]
    assert _sysctl.canonical_key(dotted) == dotted


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("net.ipv4.ip_forward", "net.ipv4.ip_forward"),
        ("  net.ipv4.ip_forward  ", "net.ipv4.ip_forward"),
        ("net/ipv4/ip_forward", "net.ipv4.ip_forward"),
        ("net/ipv4/conf/eth0.100/rp_filter", "net.ipv4.conf.eth0/100.rp_filter"),
        ("net.ipv4.conf.eth0/100.rp_filter", "net.ipv4.conf.eth0/100.rp_filter"),
        ("net.bridge.bridge-nf-call-iptables", "net.bridge.bridge-nf-call-iptables"),
    ],
    ids=["dotted", "padded", "slash", "vlan-slash", "vlan-dotted", "dashes"],
)
def test_validate_key_accepts(key, expected):
    assert _sysctl.validate_key(key) == expected


@pytest.mark.parametrize(
    "key",
    [
        "",
        "   ",
        ".",
        "..",
        "kernel",
        "net..ipv4",
        "net/ipv4/../ip_forward",
        "net/ipv4/./ip_forward",
        "net.ipv4 .ip_forward",
        "net.ipv4.ip forward",
        "net.ipv4.conf.*.rp_filter",
        None,
        5,
    ],
    ids=[
        "empty",
        "blank",
        "dot",
        "dotdot",
        "single",
        "empty-part",
        "parent-part",
        "self-part",
        "space-in-part",
        "space-inside",
        "glob",
        "none",
        "int",
    ],
)
def test_validate_key_rejects(key):
    with pytest.raises(ControlInputError, match=r"is not a name such as 'net\.ipv4\.ip_forward'"):
        _sysctl.validate_key(key)


# --------------------------------------------------------------------------- values


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1, "1"),
        (0, "0"),
        (-1, "-1"),
        ("1", "1"),
        ("32768\t60999", "32768 60999"),
        ("  4   4\t1  7 ", "4 4 1 7"),
        ("bbr", "bbr"),
    ],
    ids=["one", "zero", "negative", "str-int", "tab", "many-spaces", "word"],
)
def test_normalise_value(value, expected):
    assert _sysctl.normalise_value("k.x", value) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (True, "k.x: True is a boolean; write 1 or 0 instead"),
        (False, "k.x: False is a boolean; write 1 or 0 instead"),
        (1.5, "k.x: 1.5 is a float; use an integer or a string"),
        ([1, 2], r"k.x: \[1, 2\] is a list; use an integer or a string"),
        ({"a": 1}, "is a dict"),
        (None, "is a NoneType"),
        ("1\n0", "k.x: the value must be on one line"),
        ("1\r", "must be on one line"),
        ("1\x000", "must be on one line"),
        ("", "k.x: the value is empty"),
        ("  \t ", "k.x: the value is empty"),
    ],
    ids=["true", "false", "float", "list", "dict", "none", "newline", "carriage-return", "nul", "empty", "blank"],
)
def test_normalise_value_rejects(value, message):
    with pytest.raises(ControlInputError, match=message):
        _sysctl.normalise_value("k.x", value)


@pytest.mark.parametrize(
    ("key", "desired", "live"),
    [
        ("net.ipv4.ip_forward", "1", "0"),
        ("kernel.printk", "-1", "4"),
        ("net.ipv4.ip_local_port_range", "1024 65000", "32768 60999"),
        ("net.ipv4.tcp_congestion_control", "anything at all", "cubic"),
        ("kernel.core_pattern", "core", "|/usr/lib/systemd/systemd-coredump %P"),
        ("kernel.domainname", "example", ""),
    ],
    ids=["int", "negative", "two-ints", "string-key", "mixed-tokens", "empty-live"],
)
def test_check_shape_accepts(key, desired, live):
    assert _sysctl.check_shape(key, desired, live) is None


@pytest.mark.parametrize(
    ("key", "desired", "live", "message"),
    [
        (
            "net.ipv4.ip_forward",
            "yes",
            "0",
            r"sysctl net.ipv4.ip_forward: 'yes' is not valid, this kernel takes an integer there \(now '0'\)",
        ),
        ("net.ipv4.ip_forward", "1 1", "0", "net.ipv4.ip_forward: '1 1' is not valid, this kernel takes an integer"),
        ("net.ipv4.ip_forward", "1.0", "0", "takes an integer"),
        (
            "net.ipv4.ip_local_port_range",
            "1024",
            "32768 60999",
            "net.ipv4.ip_local_port_range: '1024' is not valid, this kernel takes 2 integers there",
        ),
        ("net.ipv4.ip_local_port_range", "1024 high", "32768 60999", "takes 2 integers"),
        ("kernel.printk", "4 4 1", "4 4 1 7", "takes 4 integers"),
    ],
    ids=["word-for-int", "two-for-one", "decimal", "one-for-two", "word-in-pair", "three-for-four"],
)
def test_check_shape_rejects(key, desired, live, message):
    with pytest.raises(ControlInputError, match=message):
        _sysctl.check_shape(key, desired, live)


# --------------------------------------------------------------------------- config files


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("net.ipv4.ip_forward = 1\n", [("net.ipv4.ip_forward", "1")]),
        ("net.ipv4.ip_forward=1", [("net.ipv4.ip_forward", "1")]),
        ("   kernel.panic   =   10   \n", [("kernel.panic", "10")]),
        ("# net.ipv4.ip_forward = 1\n", []),
        ("; net.ipv4.ip_forward = 1\n", []),
        ("   # indented = 1\n", []),
        ("\n\n   \n", []),
        ("-net.ipv4.conf.all.rp_filter = 2\n", [("net.ipv4.conf.all.rp_filter", "2")]),
        ("- net.ipv4.conf.all.rp_filter = 2\n", [("net.ipv4.conf.all.rp_filter", "2")]),
        ("-net.ipv4.conf.all.rp_filter\n", []),
        ("net/ipv4/tcp_syncookies = 1\n", [("net.ipv4.tcp_syncookies", "1")]),
        ("net/ipv4/conf/eth0.100/rp_filter = 1\n", [("net.ipv4.conf.eth0/100.rp_filter", "1")]),
        ("net.ipv4.conf.eth0/100.rp_filter = 1\n", [("net.ipv4.conf.eth0/100.rp_filter", "1")]),
        ("net.ipv4.ip_local_port_range = 1024\t65000\n", [("net.ipv4.ip_local_port_range", "1024 65000")]),
        ("kernel.core_pattern = a=b\n", [("kernel.core_pattern", "a=b")]),
        ("= orphan\n", []),
        ("not an assignment\n", []),
        ("kernel.panic = 0\nkernel.panic = 10\n", [("kernel.panic", "0"), ("kernel.panic", "10")]),
    ],
    ids=[
        "spaced",
        "tight",
        "padded",
        "hash-comment",
        "semicolon-comment",
        "indented-comment",
        "blank-lines",
        "dash-prefix",
        "dash-space",
        "glob-exclusion-line",
        "slash-key",
        "vlan-slash-key",
        "vlan-dotted-key",
        "tab-value",
        "equals-in-value",
        "no-key",
        "no-equals",
        "order-kept",
    ],
)
def test_parse_conf(text, expected):
    assert _sysctl.parse_conf(text) == expected


def test_boot_files_order_and_hiding(tree):
    files = {
        "/etc/sysctl.d/99-sysctl.conf": "",
        "/usr/lib/sysctl.d/99-sysctl.conf": "",  # hidden by /etc
        "/usr/lib/sysctl.d/50-default.conf": "",  # hidden by /run
        "/run/sysctl.d/50-default.conf": "",
        "/run/sysctl.d/60-run.conf": "",
        "/usr/local/lib/sysctl.d/10-local.conf": "",
        "/lib/sysctl.d/70-lib.conf": "",
        "/lib/sysctl.d/60-run.conf": "",  # hidden by /run
        "/etc/sysctl.d/k8s.conf": "",
        "/etc/sysctl.d/README": "",  # not a .conf file
        "/etc/sysctl.d/zz-nodeguard-hardening.conf": "",
    }
    for path, text in files.items():
        tree.add_conf(path, text)
    assert _sysctl.boot_files(tree.host) == [
        "/usr/local/lib/sysctl.d/10-local.conf",
        "/run/sysctl.d/50-default.conf",
        "/run/sysctl.d/60-run.conf",
        "/lib/sysctl.d/70-lib.conf",
        "/etc/sysctl.d/99-sysctl.conf",
        "/etc/sysctl.d/k8s.conf",
        "/etc/sysctl.d/zz-nodeguard-hardening.conf",
    ]


def test_boot_files_none(tree):
    assert _sysctl.boot_files(tree.host) == []


# The drop-in's keys as run() hands them over: through validate_key, so in canonical spelling.
WANTED = {
    _sysctl.validate_key(key): value
    for key, value in {
        "net.ipv4.ip_forward": "1",
        "kernel.panic": "10",
        "net/ipv4/conf/eth0.100/rp_filter": "1",
    }.items()
}
VLAN = "net.ipv4.conf.eth0/100.rp_filter"


@pytest.mark.parametrize(
    ("path", "text", "expected"),
    [
        (
            "/etc/sysctl.d/zzz-local.conf",
            "net.ipv4.ip_forward = 0\n",
            {"net.ipv4.ip_forward": ("/etc/sysctl.d/zzz-local.conf line 1", "0")},
        ),
        (
            "/usr/lib/sysctl.d/zzz-vendor.conf",
            "kernel.panic = 0\n",
            {"kernel.panic": ("/usr/lib/sysctl.d/zzz-vendor.conf line 1", "0")},
        ),
        (
            "/etc/sysctl.d/zzz-local.conf",
            "net/ipv4/ip_forward = 0\n",
            {"net.ipv4.ip_forward": ("/etc/sysctl.d/zzz-local.conf line 1", "0")},
        ),
        (
            "/etc/sysctl.d/zzz-local.conf",
            "-net.ipv4.ip_forward = 0\n",
            {"net.ipv4.ip_forward": ("/etc/sysctl.d/zzz-local.conf line 1", "0")},
        ),
        (
            "/etc/sysctl.d/zzz-local.conf",
            "net/ipv4/conf/eth0.100/rp_filter = 2\n",
            {VLAN: ("/etc/sysctl.d/zzz-local.conf line 1", "2")},
        ),
        (
            "/etc/sysctl.d/zzz-local.conf",
            "net.ipv4.conf.eth0/100.rp_filter = 2\n",
            {VLAN: ("/etc/sysctl.d/zzz-local.conf line 1", "2")},
        ),
        ("/etc/sysctl.d/zzz-local.conf", "kernel.* = 0\nnet.ipv4.conf.*.rp_filter = 2\n", {}),
        ("/etc/sysctl.d/zzz-local.conf", "net.ipv4.ip_forward = 1\nkernel.panic =  10\n", {}),
        ("/etc/sysctl.d/zzz-local.conf", "# net.ipv4.ip_forward = 0\n", {}),
        ("/etc/sysctl.d/zzz-local.conf", "vm.swappiness = 1\n", {}),
        ("/etc/sysctl.d/99-sysctl.conf", "net.ipv4.ip_forward = 0\n", {}),
        ("/etc/sysctl.d/k8s.conf", "net.ipv4.ip_forward = 0\n", {}),
        ("/etc/sysctl.d/zz-kubernetes.conf", "net.ipv4.ip_forward = 0\n", {}),
        ("/usr/lib/sysctl.d/zz-nodeguard-hardening.conf", "net.ipv4.ip_forward = 0\n", {}),
    ],
    ids=[
        "later-etc",
        "later-usr-lib",
        "later-slash-key",
        "later-dash-prefix",
        "later-vlan-slash",
        "later-vlan-dotted",
        "later-glob",
        "later-same-values",
        "later-commented",
        "later-other-key",
        "earlier-numbered",
        "earlier-unnumbered",
        "earlier-zz",
        "same-name-is-not-later",
    ],
)
def test_later_conflicts(tree, path, text, expected):
    tree.add_conf(path, text)
    assert _sysctl.later_conflicts(tree.host, PATH, WANTED) == expected


def test_later_conflicts_hidden_file_is_ignored(tree):
    tree.add_conf("/usr/lib/sysctl.d/zzz-vendor.conf", "net.ipv4.ip_forward = 0\n")
    tree.add_conf("/etc/sysctl.d/zzz-vendor.conf", "net.ipv4.ip_forward = 1\n")
    assert _sysctl.later_conflicts(tree.host, PATH, WANTED) == {}


def test_later_conflicts_last_later_file_named(tree):
    tree.add_conf("/etc/sysctl.d/zzz-a.conf", "kernel.panic = 0\n")
    tree.add_conf("/etc/sysctl.d/zzz-b.conf", "kernel.panic = 5\n")
    assert _sysctl.later_conflicts(tree.host, PATH, WANTED) == {
        "kernel.panic": ("/etc/sysctl.d/zzz-b.conf line 1", "5")
    }


@pytest.mark.parametrize(
    "text",
    [
        "net.ipv4.conf.*.rp_filter = 2\n",
        "net/ipv4/conf/*/rp_filter = 2\n",
        "-net.ipv4.conf.*.rp_filter = 2\n",
        "net.ipv4.conf.al?.rp_filter = 2\n",
        "net.ipv4.conf.[a]ll.rp_filter = 2\n",
    ],
    ids=["star", "star-slash", "star-dash", "question-mark", "bracket"],
)
def test_later_glob_does_not_override_explicit_key(tree, text):
    # sysctl.d(5): keys with an explicit assignment are excluded from any glob matching.
    tree.add_conf("/etc/sysctl.d/zzz-local.conf", text)
    assert _sysctl.later_conflicts(tree.host, PATH, {"net.ipv4.conf.all.rp_filter": "1"}) == {}


def test_later_glob_next_to_explicit_key_only_explicit_counts(tree):
    tree.add_conf("/etc/sysctl.d/zzz-local.conf", "net.ipv4.* = 0\nkernel.panic = 0\n")
    assert _sysctl.later_conflicts(tree.host, PATH, WANTED) == {
        "kernel.panic": ("/etc/sysctl.d/zzz-local.conf line 2", "0"),
    }


def test_later_conflicts_dotted_vlan_spelling(tree):
    # The drop-in was given the slash spelling; a later file uses the dotted one for the same key.
    tree.add_conf("/etc/sysctl.d/zzz-local.conf", "net.ipv4.conf.eth0/100.rp_filter = 2\n")
    wanted = {_sysctl.validate_key("net/ipv4/conf/eth0.100/rp_filter"): "1"}
    assert _sysctl.later_conflicts(tree.host, PATH, wanted) == {
        VLAN: ("/etc/sysctl.d/zzz-local.conf line 1", "2"),
    }


def test_render():
    a = {"id": "k8s.sysctl.a", "title": "title of k8s.sysctl.a"}
    b = {"id": "k8s.sysctl.b", "title": "title of k8s.sysctl.b"}
    c = {"id": "k8s.sysctl.c", "title": "title of k8s.sysctl.c"}
    text = _sysctl.render(
        [
            (a, {"net.ipv4.ip_forward": "1", "kernel.panic": "10"}),
            (b, {}),
            # run() hands render() the keys validate_key returned, whatever spelling the control used.
            (c, {_sysctl.validate_key("net/ipv4/conf/eth0.100/rp_filter"): "1"}),
        ]
    )
    assert text == (
        _sysctl.FILE_HEADER
        + "\n# k8s.sysctl.a: title of k8s.sysctl.a\nnet.ipv4.ip_forward = 1\nkernel.panic = 10\n"
        + "\n# k8s.sysctl.c: title of k8s.sysctl.c\nnet.ipv4.conf.eth0/100.rp_filter = 1\n"
    )
    assert _sysctl.parse_conf(text) == [
        ("net.ipv4.ip_forward", "1"),
        ("kernel.panic", "10"),
        ("net.ipv4.conf.eth0/100.rp_filter", "1"),
    ]


def test_render_nothing():
    assert _sysctl.render([]) == _sysctl.FILE_HEADER


@pytest.mark.parametrize(
    "path",
    ["/etc/sysctl.d/zz-nodeguard-hardening.conf", "/etc/sysctl.d/50-site.conf"],
    ids=["default", "other-name"],
)
def test_validate_path_accepts(path):
    assert _sysctl.validate_path(path) == path


@pytest.mark.parametrize(
    "path",
    [
        "etc/sysctl.d/x.conf",
        "/etc/sysctl.d/x.cfg",
        "/etc/sysctl.d/sub/x.conf",
        "/usr/lib/sysctl.d/x.conf",
        "/etc/sysctl.conf",
        "/etc/sysctl.d/",
        "/run/sysctl.d/zz-nodeguard-hardening.conf",
    ],
    ids=["relative", "suffix", "subdirectory", "vendor-dir", "sysctl-conf", "directory", "run"],
)
def test_validate_path_rejects(path):
    with pytest.raises(
        ControlInputError,
        match=r"must be a '\.conf' file \(not hidden\) directly in /etc/sysctl\.d: systemd-sysctl reads it",
    ):
        _sysctl.validate_path(path)


# --------------------------------------------------------------------------- live values


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("net.ipv4.ip_forward", "0"),
        ("net/ipv4/ip_forward", "0"),
        ("net.ipv4.ip_local_port_range", "32768 60999"),
        ("net/ipv4/conf/eth0.100/rp_filter", "0"),
        ("net.ipv4.nope", None),
        ("net.ipv4.ip_forward.deeper", None),
    ],
    ids=["dotted", "slash", "tab-folded", "vlan", "missing", "below-a-file"],
)
def test_read_live(tree, key, expected):
    assert _sysctl.read_live(tree.host, key) == expected


def test_write_live(tree):
    _sysctl.write_live(tree.host, "net/ipv4/conf/eth0.100/rp_filter", "2")
    assert tree.live("net/ipv4/conf/eth0.100/rp_filter") == "2\n"


def test_write_live_missing_key_raises(tree):
    with pytest.raises(FileNotFoundError):
        _sysctl.write_live(tree.host, "net.ipv4.nope", "1")
    assert not (tree.proc_root / "net" / "ipv4" / "nope").exists()


# --------------------------------------------------------------------------- run: check and apply

FORWARD = ctl("k8s.sysctl.ip_forward", {"net.ipv4.ip_forward": 1})
RP_FILTER = ctl("cis.sysctl.rp_filter", {"net/ipv4/conf/all/rp_filter": 1})
BOTH_FILE = expected_file(
    ("k8s.sysctl.ip_forward", ["net.ipv4.ip_forward = 1"]),
    ("cis.sysctl.rp_filter", ["net.ipv4.conf.all.rp_filter = 1"]),
)


def test_check_mode_predicts_and_touches_nothing(tree):
    before = tree.snapshot()
    module, result = run(tree, [FORWARD, RP_FILTER], check_mode=True)
    assert result["changed"] is True
    assert statuses(result) == [("k8s.sysctl.ip_forward", "drift"), ("cis.sysctl.rp_filter", "drift")]
    first = result["controls"][0]
    assert first["expected"] == {"net.ipv4.ip_forward": "1"}
    assert first["actual"] == {"net.ipv4.ip_forward": "0"}
    assert first["details"] == {"live_matches": False, "persisted": False}
    assert first["differences"] == [
        {"item": "net.ipv4.ip_forward", "where": "live", "expected": "1", "actual": "0"},
        {"item": "net.ipv4.ip_forward", "where": PATH, "expected": "1", "actual": None},
    ]
    assert (
        first["reason"]
        == f"net.ipv4.ip_forward (live): '0', expected '1'; net.ipv4.ip_forward ({PATH}): absent, expected '1'"
    )
    assert result["summary"] == {"pass": 0, "fixed": 0, "drift": 2, "skipped": 0, "error": 0}
    assert result["path"] == PATH
    assert not tree.conf().exists()
    assert tree.snapshot() == before
    assert module.moves == []


def test_apply_sets_live_values_and_writes_file(tree):
    module, result = run(tree, [FORWARD, RP_FILTER])
    assert result["changed"] is True
    assert statuses(result) == [("k8s.sysctl.ip_forward", "fixed"), ("cis.sysctl.rp_filter", "fixed")]
    assert result["controls"][1]["actual"] == {"net.ipv4.conf.all.rp_filter": "0"}
    assert result["summary"] == {"pass": 0, "fixed": 2, "drift": 0, "skipped": 0, "error": 0}
    assert tree.live("net/ipv4/ip_forward") == "1\n"
    assert tree.live("net/ipv4/conf/all/rp_filter") == "1\n"
    assert tree.conf().read_text() == BOTH_FILE
    assert stat.S_IMODE(tree.conf().stat().st_mode) == 0o644
    assert module.moves == [str(tree.conf())]
    # No temporary file is left next to the drop-in.
    assert sorted(p.name for p in tree.conf().parent.iterdir()) == ["zz-nodeguard-hardening.conf"]


def test_second_apply_is_a_no_op(tree):
    run(tree, [FORWARD, RP_FILTER])
    before = tree.snapshot()
    module, result = run(tree, [FORWARD, RP_FILTER])
    assert result["changed"] is False
    assert statuses(result) == [("k8s.sysctl.ip_forward", "pass"), ("cis.sysctl.rp_filter", "pass")]
    assert result["controls"][0]["details"] == {}
    assert result["controls"][0]["actual"] == {"net.ipv4.ip_forward": "1"}
    assert result["summary"]["pass"] == 2
    assert module.moves == []
    assert tree.snapshot() == before
    assert len(result["diff"]) == 1
    assert result["diff"][0]["before"] == result["diff"][0]["after"] == BOTH_FILE


def test_check_after_apply_passes(tree):
    run(tree, [FORWARD, RP_FILTER])
    result = run_result(tree, [FORWARD, RP_FILTER], check_mode=True)
    assert result["changed"] is False
    assert statuses(result) == [("k8s.sysctl.ip_forward", "pass"), ("cis.sysctl.rp_filter", "pass")]


@pytest.mark.parametrize(
    ("check_mode", "status"),
    [(True, "drift"), (False, "fixed")],
    ids=["check", "apply"],
)
def test_live_right_but_not_persisted(tree, check_mode, status, monkeypatch):
    writes = []
    monkeypatch.setattr(_sysctl, "write_live", lambda host, key, value: writes.append(key))
    result = run_result(tree, [ctl("k8s.sysctl.panic", {"kernel.panic": 0})], check_mode=check_mode)
    assert statuses(result) == [("k8s.sysctl.panic", status)]
    assert result["controls"][0]["details"] == {"live_matches": True, "persisted": False}
    assert result["changed"] is True
    assert writes == []
    assert len(result["diff"]) == 1
    assert tree.conf().exists() is (not check_mode)


def test_persisted_but_live_wrong(tree):
    tree.add_conf(PATH, expected_file(("k8s.sysctl.ip_forward", ["net.ipv4.ip_forward = 1"])))
    result = run_result(tree, [FORWARD], check_mode=True)
    assert statuses(result) == [("k8s.sysctl.ip_forward", "drift")]
    assert result["controls"][0]["details"] == {"live_matches": False, "persisted": True}
    assert result["changed"] is True
    assert result["diff"][0]["before"] == result["diff"][0]["after"]


def test_white_space_is_folded_before_comparing(tree):
    tree.add_conf(PATH, expected_file(("k8s.sysctl.ports", ["net.ipv4.ip_local_port_range = 32768 60999"])))
    result = run_result(tree, [ctl("k8s.sysctl.ports", {"net.ipv4.ip_local_port_range": "32768   60999"})])
    assert statuses(result) == [("k8s.sysctl.ports", "pass")]
    assert result["changed"] is False
    assert tree.live("net/ipv4/ip_local_port_range") == "32768\t60999\n"


def test_string_valued_key_is_applied(tree):
    result = run_result(tree, [ctl("site.sysctl.cc", {"net.ipv4.tcp_congestion_control": "bbr"})])
    assert statuses(result) == [("site.sysctl.cc", "fixed")]
    assert tree.live("net/ipv4/tcp_congestion_control") == "bbr\n"


def test_vlan_key_round_trip(tree):
    control = ctl("site.sysctl.vlan", {"net/ipv4/conf/eth0.100/rp_filter": 1})
    first = run_result(tree, [control])
    assert statuses(first) == [("site.sysctl.vlan", "fixed")]
    assert first["controls"][0]["expected"] == {"net.ipv4.conf.eth0/100.rp_filter": "1"}
    assert tree.live("net/ipv4/conf/eth0.100/rp_filter") == "1\n"
    assert tree.conf().read_text() == expected_file(("site.sysctl.vlan", ["net.ipv4.conf.eth0/100.rp_filter = 1"]))
    second = run_result(tree, [control])
    assert statuses(second) == [("site.sysctl.vlan", "pass")]
    assert second["changed"] is False
    # The other spelling of the same key finds it live and persisted.
    third = run_result(tree, [ctl("site.sysctl.vlan", {"net.ipv4.conf.eth0/100.rp_filter": "1"})])
    assert statuses(third) == [("site.sysctl.vlan", "pass")]
    assert third["changed"] is False


def test_same_key_same_value_in_two_controls_is_fine(tree):
    controls = [ctl("a.one", {"net.ipv4.ip_forward": 1}), ctl("b.two", {"net/ipv4/ip_forward": "1"})]
    result = run_result(tree, controls)
    assert statuses(result) == [("a.one", "fixed"), ("b.two", "fixed")]
    assert tree.live("net/ipv4/ip_forward") == "1\n"


def test_results_follow_input_order(tree):
    controls = [
        ctl("c.three", {"kernel.panic": 10}),
        ctl("a.one", {"net.ipv4.ip_forward": 1}, enabled=False, reason="routes"),
        ctl("b.two", {"vm.overcommit_memory": 1}),
    ]
    result = run_result(tree, controls, check_mode=True)
    assert statuses(result) == [("c.three", "drift"), ("a.one", "skipped"), ("b.two", "drift")]


def test_stale_file_is_rewritten(tree):
    tree.add_conf(
        PATH,
        expected_file(
            ("k8s.sysctl.ip_forward", ["net.ipv4.ip_forward = 1"]),
            ("old.sysctl.panic", ["kernel.panic = 10"]),
        ),
    )
    tree.set_live("net/ipv4/ip_forward", "1")
    result = run_result(tree, [FORWARD])
    assert statuses(result) == [("k8s.sysctl.ip_forward", "pass")]
    assert result["changed"] is True
    assert tree.conf().read_text() == expected_file(("k8s.sysctl.ip_forward", ["net.ipv4.ip_forward = 1"]))


# --------------------------------------------------------------------------- run: missing keys and modules

NOPE = ctl("cis.sysctl.nope", {"net.ipv4.nope": 1})


def test_missing_key_is_skipped(tree):
    result = run_result(tree, [FORWARD, NOPE])
    assert statuses(result) == [("k8s.sysctl.ip_forward", "fixed"), ("cis.sysctl.nope", "skipped")]
    skipped = result["controls"][1]
    assert skipped["reason"] == "this kernel has no net.ipv4.nope"
    assert skipped["details"] == {"missing_keys": ["net.ipv4.nope"]}
    assert skipped["actual"] == {"net.ipv4.nope": None}
    assert tree.conf().read_text() == expected_file(("k8s.sysctl.ip_forward", ["net.ipv4.ip_forward = 1"]))
    assert not (tree.proc_root / "net" / "ipv4" / "nope").exists()


def test_partly_missing_control_sets_what_exists(tree):
    control = ctl("cis.sysctl.mixed", {"net.ipv4.ip_forward": 1, "net.ipv4.nope": 1})
    result = run_result(tree, [control])
    assert statuses(result) == [("cis.sysctl.mixed", "fixed")]
    assert result["controls"][0]["details"] == {
        "missing_keys": ["net.ipv4.nope"],
        "live_matches": False,
        "persisted": False,
    }
    assert tree.conf().read_text() == expected_file(("cis.sysctl.mixed", ["net.ipv4.ip_forward = 1"]))


def test_missing_fail_raises_before_anything_is_written(tree):
    before = tree.snapshot()
    with pytest.raises(ControlInputError, match=r"control 'cis.sysctl.nope': this kernel has no net.ipv4.nope"):
        run(tree, [FORWARD, NOPE], missing="fail")
    assert tree.snapshot() == before


BRIDGE = ctl(
    "k8s.sysctl.bridge",
    {"net.bridge.bridge-nf-call-iptables": 1},
    requires_modules=["br_netfilter"],
)
BRIDGE_REASON = "kernel module br_netfilter is not loaded, so net.bridge.bridge-nf-call-iptables do not exist"


@pytest.mark.parametrize("missing", ["skip", "fail"])
def test_required_module_not_loaded_check_mode_is_drift(tree, missing):
    before = tree.snapshot()
    result = run_result(tree, [BRIDGE], check_mode=True, missing=missing)
    assert statuses(result) == [("k8s.sysctl.bridge", "drift")]
    assert result["controls"][0]["reason"] == BRIDGE_REASON
    assert result["controls"][0]["details"] == {"missing_keys": ["net.bridge.bridge-nf-call-iptables"]}
    assert result["changed"] is True
    assert tree.snapshot() == before


def test_required_module_not_loaded_apply_is_error(tree):
    result = run_result(tree, [BRIDGE, FORWARD])
    assert statuses(result) == [("k8s.sysctl.bridge", "error"), ("k8s.sysctl.ip_forward", "fixed")]
    assert result["controls"][0]["reason"] == BRIDGE_REASON + "; load it first (control k8s.kernel_modules)"
    assert result["summary"]["error"] == 1
    # The key goes into the file so that it is set at boot once the module loads.
    assert tree.conf().read_text() == expected_file(
        ("k8s.sysctl.bridge", ["net.bridge.bridge-nf-call-iptables = 1"]),
        ("k8s.sysctl.ip_forward", ["net.ipv4.ip_forward = 1"]),
    )


def test_required_module_loaded_key_is_applied(tree):
    tree.load_module("br_netfilter")
    tree.set_live("net/bridge/bridge-nf-call-iptables", "0")
    result = run_result(tree, [BRIDGE])
    assert statuses(result) == [("k8s.sysctl.bridge", "fixed")]
    assert tree.live("net/bridge/bridge-nf-call-iptables") == "1\n"


def test_disabled_control_is_skipped_and_left_alone(tree):
    controls = [
        FORWARD,
        ctl("cis.sysctl.panic", {"kernel.panic": "yes"}, enabled=False, reason="the vendor sets it"),
    ]
    result = run_result(tree, controls)
    assert statuses(result) == [("k8s.sysctl.ip_forward", "fixed"), ("cis.sysctl.panic", "skipped")]
    assert result["controls"][1]["reason"] == "switched off: the vendor sets it"
    assert tree.live("kernel/panic") == "0\n"
    assert "kernel.panic" not in tree.conf().read_text()


# --------------------------------------------------------------------------- run: rejected input changes nothing

OLD_FILE = "# an older drop-in\nnet.ipv4.ip_forward = 0\n"


@pytest.mark.parametrize(
    ("controls", "params", "message"),
    [
        (
            [FORWARD, ctl("a.bad", {"net.ipv4.conf.all.rp_filter": "yes"})],
            {},
            r"sysctl net.ipv4.conf.all.rp_filter: 'yes' is not valid, this kernel takes an integer",
        ),
        ([FORWARD, ctl("a.bad", {"net.ipv4.ip_local_port_range": 1024})], {}, "takes 2 integers"),
        ([FORWARD, ctl("a.bad", {"kernel.panic": True})], {}, "write 1 or 0"),
        ([FORWARD, ctl("a.bad", {"kernel.panic": 1.5})], {}, "is a float"),
        ([FORWARD, ctl("a.bad", {"kernel.panic": "1\n2"})], {}, "on one line"),
        ([FORWARD, ctl("a.bad", {"kernel.panic": " "})], {}, "the value is empty"),
        ([FORWARD, ctl("a.bad", {"kernel": 1})], {}, "is not a name"),
        ([FORWARD, ctl("a.bad", {})], {}, "control 'a.bad' has no sysctl settings"),
        (
            [FORWARD, ctl("a.bad", {"kernel.panic": 1}, requires_modules=["br netfilter"])],
            {},
            "'br netfilter' is not a kernel module name",
        ),
        (
            [FORWARD, ctl("a.bad", {"kernel.panic": 1}, requires_modules=["-r"])],
            {},
            "control 'a.bad': '-r' is not a kernel module name",
        ),
        ([FORWARD, ctl("A.bad", {"kernel.panic": 1})], {}, "control id 'A.bad' is not valid"),
        ([FORWARD, FORWARD], {}, "is given twice"),
        ([FORWARD, ctl("a.off", {"kernel.panic": 1}, enabled=False)], {}, "switched off without a reason"),
        ([FORWARD], {"path": "/etc/sysctl.d/sub/x.conf"}, "must be a '.conf' file"),
        ([FORWARD], {"path": "/etc/sysctl.d/.zz-hidden.conf"}, r"must be a '\.conf' file \(not hidden\)"),
        ([FORWARD], {"path": "/run/sysctl.d/zz-nodeguard-hardening.conf"}, "directly in /etc/sysctl.d:"),
        (
            [FORWARD, ctl("b.two", {"net/ipv4/ip_forward": 0})],
            {},
            (
                r"sysctl net.ipv4.ip_forward is set to '1' by control 'k8s.sysctl.ip_forward' and to '0' by control "
                r"'b.two'; switch one of them off"
            ),
        ),
        (
            [
                ctl("a.one", {"net/ipv4/conf/eth0.100/rp_filter": 1}),
                ctl("b.two", {"net.ipv4.conf.eth0/100.rp_filter": 2}),
            ],
            {},
            r"sysctl net.ipv4.conf.eth0/100.rp_filter is set to '1' by control 'a.one' and to '2' by control 'b.two'",
        ),
    ],
    ids=[
        "word-for-int",
        "one-for-two",
        "bool",
        "float",
        "two-lines",
        "empty",
        "bad-key",
        "no-settings",
        "bad-module-name",
        "option-as-module-name",
        "bad-id",
        "duplicate-id",
        "no-reason",
        "bad-path",
        "hidden-path",
        "run-path",
        "same-key-two-values",
        "same-vlan-key-two-spellings",
    ],
)
@pytest.mark.parametrize("check_mode", [False, True], ids=["apply", "check"])
def test_rejected_input_changes_nothing(tree, controls, params, message, check_mode):
    tree.add_conf(PATH, OLD_FILE)
    before = tree.snapshot()
    module = FakeModule(controls, check_mode=check_mode, **params)
    with pytest.raises(ControlInputError, match=message):
        _sysctl.run(module, tree.host)
    assert tree.snapshot() == before
    assert tree.conf().read_text() == OLD_FILE
    assert module.moves == []


# --------------------------------------------------------------------------- run: the kernel refuses a value


@pytest.mark.parametrize(
    ("code", "why"),
    [(errno.EINVAL, "the kernel refused it"), (errno.EACCES, "Permission denied")],
    ids=["einval", "eacces"],
)
def test_refused_write_puts_back_earlier_values(tree, monkeypatch, code, why):
    tree.add_conf(PATH, OLD_FILE)
    before = tree.snapshot()
    real_write = _sysctl.write_live
    calls = []

    def write_live(host, key, value):
        calls.append((key, value))
        if key == "kernel.panic":
            raise OSError(code, os.strerror(code))
        real_write(host, key, value)

    monkeypatch.setattr(_sysctl, "write_live", write_live)
    controls = [FORWARD, ctl("k8s.sysctl.panic", {"kernel.panic": 10})]
    module = FakeModule(controls)
    with pytest.raises(_sysctl.SysctlApplyError, match=rf"sysctl kernel.panic: could not set '10' \({why}\)"):
        _sysctl.run(module, tree.host)
    # ip_forward was written, then put back; the drop-in was not touched.
    assert calls == [("net.ipv4.ip_forward", "1"), ("kernel.panic", "10"), ("net.ipv4.ip_forward", "0")]
    assert tree.live("net/ipv4/ip_forward") == "0\n"
    assert tree.snapshot() == before
    assert module.moves == []


def test_failed_file_write_puts_back_live_values(tree):
    class FailingMove(FakeModule):
        def atomic_move(self, src, dest):
            raise OSError(errno.EROFS, "Read-only file system")

    before = tree.snapshot()
    with pytest.raises(_sysctl.SysctlApplyError, match=f"could not write {PATH}: .*live values were put back"):
        _sysctl.run(FailingMove([FORWARD, RP_FILTER]), tree.host)
    assert tree.snapshot() == before
    assert tree.live("net/ipv4/ip_forward") == "0\n"
    assert not tree.conf().parent.exists() or list(tree.conf().parent.iterdir()) == []


# --------------------------------------------------------------------------- run: files read later at boot


@pytest.mark.parametrize("check_mode", [False, True], ids=["apply", "check"])
def test_later_file_makes_control_an_error(tree, check_mode):
    tree.add_conf("/etc/sysctl.d/zzz-local.conf", "net.ipv4.ip_forward = 0\n")
    tree.add_conf("/etc/sysctl.d/99-sysctl.conf", "net.ipv4.conf.all.rp_filter = 2\n")
    result = run_result(tree, [FORWARD, RP_FILTER], check_mode=check_mode)
    assert statuses(result) == [
        ("k8s.sysctl.ip_forward", "error"),
        ("cis.sysctl.rp_filter", "drift" if check_mode else "fixed"),
    ]
    assert result["controls"][0]["reason"] == (
        "a file read later at boot sets another value "
        "(net.ipv4.ip_forward = 0 in /etc/sysctl.d/zzz-local.conf line 1): "
        "remove it there or switch this control off"
    )
    assert result["summary"]["error"] == 1


def test_later_file_with_other_vlan_spelling_makes_control_an_error(tree):
    tree.add_conf("/etc/sysctl.d/zzz-local.conf", "net.ipv4.conf.eth0/100.rp_filter = 2\n")
    result = run_result(tree, [ctl("site.sysctl.vlan", {"net/ipv4/conf/eth0.100/rp_filter": 1})], check_mode=True)
    assert statuses(result) == [("site.sysctl.vlan", "error")]
    assert result["controls"][0]["reason"] == (
        "a file read later at boot sets another value (net.ipv4.conf.eth0/100.rp_filter = 2 in "
        "/etc/sysctl.d/zzz-local.conf line 1): remove it there or switch this control off"
    )


def test_later_glob_does_not_make_control_an_error(tree):
    tree.add_conf("/etc/sysctl.d/zzz-local.conf", "net.ipv4.conf.*.rp_filter = 2\n")
    result = run_result(tree, [RP_FILTER])
    assert statuses(result) == [("cis.sysctl.rp_filter", "fixed")]
    assert result["summary"]["error"] == 0
    assert tree.live("net/ipv4/conf/all/rp_filter") == "1\n"


# --------------------------------------------------------------------------- run: diff


def test_diff_of_new_file_and_live_values(tree):
    result = run_result(tree, [FORWARD, RP_FILTER], check_mode=True)
    assert result["diff"] == [
        {"before_header": f"{PATH} (absent)", "after_header": PATH, "before": "", "after": BOTH_FILE},
        {
            "before_header": "live kernel parameters",
            "after_header": "live kernel parameters",
            "before": "net.ipv4.conf.all.rp_filter = 0\nnet.ipv4.ip_forward = 0\n",
            "after": "net.ipv4.conf.all.rp_filter = 1\nnet.ipv4.ip_forward = 1\n",
        },
    ]


def test_diff_of_existing_file(tree):
    tree.add_conf(PATH, OLD_FILE)
    tree.set_live("net/ipv4/ip_forward", "1")
    result = run_result(tree, [FORWARD])
    assert result["diff"] == [
        {
            "before_header": PATH,
            "after_header": PATH,
            "before": OLD_FILE,
            "after": expected_file(("k8s.sysctl.ip_forward", ["net.ipv4.ip_forward = 1"])),
        }
    ]


# --------------------------------------------------------------------------- what differs, in the result


@pytest.mark.parametrize(("check_mode", "status"), [(True, "drift"), (False, "fixed")], ids=["check", "apply"])
def test_line_changed_in_boot_file_is_named_with_its_line(tree, check_mode, status):
    """Live value right, the drop-in changed by hand: the result names the file, the line and the value."""
    run(tree, [FORWARD, RP_FILTER])
    edited = tree.conf().read_text().replace("net.ipv4.conf.all.rp_filter = 1", "net.ipv4.conf.all.rp_filter = 0")
    tree.conf().write_text(edited)
    line = edited.splitlines().index("net.ipv4.conf.all.rp_filter = 0") + 1
    result = run_result(tree, [FORWARD, RP_FILTER], check_mode=check_mode)
    assert statuses(result) == [("k8s.sysctl.ip_forward", "pass"), ("cis.sysctl.rp_filter", status)]
    control = result["controls"][1]
    assert control["actual"] == control["expected"] == {"net.ipv4.conf.all.rp_filter": "1"}
    assert control["differences"] == [
        {"item": "net.ipv4.conf.all.rp_filter", "where": f"{PATH} line {line}", "expected": "1", "actual": "0"}
    ]
    assert control["reason"] == f"net.ipv4.conf.all.rp_filter ({PATH} line {line}): '0', expected '1'"
    assert control["details"] == {"live_matches": True, "persisted": False}
    assert ("rp_filter = 0" in tree.conf().read_text()) is check_mode


def test_line_removed_from_boot_file_is_named(tree):
    run(tree, [FORWARD, RP_FILTER])
    tree.conf().write_text(tree.conf().read_text().replace("net.ipv4.ip_forward = 1\n", ""))
    result = run_result(tree, [FORWARD, RP_FILTER], check_mode=True)
    assert statuses(result) == [("k8s.sysctl.ip_forward", "drift"), ("cis.sysctl.rp_filter", "pass")]
    assert result["controls"][0]["differences"] == [
        {"item": "net.ipv4.ip_forward", "where": PATH, "expected": "1", "actual": None}
    ]


@pytest.mark.parametrize(("check_mode", "status"), [(True, "drift"), (False, "fixed")], ids=["check", "apply"])
def test_boot_file_mode_opened_is_named_and_closed(tree, check_mode, status):
    run(tree, [FORWARD])
    tree.conf().chmod(0o666)
    module, result = run(tree, [FORWARD], check_mode=check_mode)
    assert statuses(result) == [("k8s.sysctl.ip_forward", status)]
    assert result["changed"] is True
    assert result["controls"][0]["differences"] == [
        {"item": PATH, "where": "mode", "expected": "0644", "actual": "0666"}
    ]
    assert stat.S_IMODE(tree.conf().stat().st_mode) == (0o666 if check_mode else 0o644)
    assert module.moves == ([] if check_mode else [str(tree.conf())])


def test_every_change_or_error_says_what_differs(tree):
    """Whatever the state, no fixed, drift or error result comes without a reason and differences."""
    tree.add_conf("/etc/sysctl.d/zzz-local.conf", "kernel.panic = 3\n")
    bridge = ctl("k8s.bridge", {"net.bridge.bridge-nf-call-iptables": 1}, requires_modules=["br_netfilter"])
    panic = ctl("k8s.panic", {"kernel.panic": 10})
    for check_mode in (True, False):
        result = run_result(tree, [FORWARD, RP_FILTER, bridge, panic], check_mode=check_mode)
        changed = [r for r in result["controls"] if r["status"] in ("fixed", "drift", "error")]
        assert len(changed) >= 3
        for control in changed:
            assert control["reason"], control
            assert control["differences"], control
