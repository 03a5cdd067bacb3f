# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from ansible_collections.nodeguard.hardening.plugins.module_utils import _kmod
from ansible_collections.nodeguard.hardening.plugins.module_utils._controls import ControlInputError
from ansible_collections.nodeguard.hardening.plugins.module_utils._node import NodePaths

from ...controls import full_control

PATH = _kmod.DEFAULT_PATH
MODPROBE = "/sbin/modprobe"


def ctl(cid, load, *, enabled=True, reason=None):
    return full_control(cid, enabled=enabled, reason=reason, load=load)


class FakeModule:
    """Enough of AnsibleModule for _kmod.run: modprobe answers from a set of module names."""

    def __init__(
        self, tree, controls, *, available=(), check_mode=False, path=PATH, missing="skip", modprobe=MODPROBE, load_rc=0
    ):
        self.tree = tree
        self.params = {"controls": controls, "path": path, "missing": missing}
        self.check_mode = check_mode
        self.available = set(available)
        self.modprobe = modprobe
        self.load_rc = load_rc
        self.calls = []
        self.moves = []

    def get_bin_path(self, name, required=False, opt_dirs=None):
        assert name == "modprobe"
        return self.modprobe

    def run_command(self, args):
        self.calls.append(list(args))
        if args[1:3] == ["-n", "-q"]:
            return (0, "", "") if args[3] in self.available else (1, "", f"modprobe: FATAL: Module {args[3]} not found")
        name = args[1]
        if self.load_rc != 0 or name not in self.available:
            return (1, "", f"modprobe: ERROR: could not insert '{name}'\n")
        self.tree.load_module(name)
        return (0, "", "")

    def atomic_move(self, src, dest):
        self.moves.append(dest)
        os.rename(src, dest)

    @property
    def loads(self):
        return [call for call in self.calls if call[1:3] != ["-n", "-q"]]


class Tree:
    def __init__(self, root: Path):
        self.root = root
        self.module_root = root / "sys" / "module"
        self.conf_root = root / "root"
        self.module_root.mkdir(parents=True)
        self.conf_root.mkdir()
        self.host = NodePaths(module_root=str(self.module_root), conf_root=str(self.conf_root))

    def load_module(self, name):
        (self.module_root / name.replace("-", "_")).mkdir()

    def conf(self, path=PATH) -> Path:
        return self.conf_root / path.lstrip("/")

    def add_conf(self, text, path=PATH):
        self.conf(path).parent.mkdir(parents=True, exist_ok=True)
        self.conf(path).write_text(text)

    def snapshot(self):
        return {str(p.relative_to(self.root)): p.read_bytes() for p in sorted(self.root.rglob("*")) if p.is_file()}

    def dirs(self):
        return sorted(str(p.relative_to(self.root)) for p in self.root.rglob("*") if p.is_dir())


@pytest.fixture
def tree(tmp_path):
    return Tree(tmp_path)


def run(tree, controls, **kwargs):
    module = FakeModule(tree, controls, **kwargs)
    return module, _kmod.run(module, tree.host)


def statuses(result):
    return [(r["id"], r["status"]) for r in result["controls"]]


def expected_file(*blocks):
    parts = [_kmod.FILE_HEADER]
    parts += [f"# {cid}: title of {cid}\n" + "".join(f"{n}\n" for n in names) for cid, names in blocks]
    return "\n".join(parts)


NET = ctl("k8s.kernel_modules", ["br_netfilter", "overlay"])
NET_FILE = expected_file(("k8s.kernel_modules", ["br_netfilter", "overlay"]))
AVAILABLE = {"br_netfilter", "overlay", "nf-conntrack"}


# --------------------------------------------------------------------------- pure functions


def test_render():
    text = _kmod.render(
        [
            (ctl("k8s.a", ["br_netfilter"]), ["br_netfilter"]),
            (ctl("k8s.b", ["nope"]), []),
            (ctl("k8s.c", ["overlay", "nf-conntrack"]), ["overlay", "nf-conntrack"]),
        ]
    )
    assert text == expected_file(("k8s.a", ["br_netfilter"]), ("k8s.c", ["overlay", "nf-conntrack"]))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("br_netfilter\noverlay\n", {"br_netfilter", "overlay"}),
        ("# br_netfilter\n; overlay\n\n   \n", set()),
        ("  nf-conntrack  \n", {"nf_conntrack"}),
        (NET_FILE, {"br_netfilter", "overlay"}),
    ],
    ids=["names", "comments-and-blanks", "dash-to-underscore", "rendered"],
)
def test_parse_conf(text, expected):
    assert _kmod.parse_conf(text) == expected


# --------------------------------------------------------------------------- run


def test_check_mode_predicts_and_touches_nothing(tree):
    tree.load_module("overlay")
    before = tree.snapshot()
    dirs = tree.dirs()
    module, result = run(tree, [NET], available=AVAILABLE, check_mode=True)
    assert result["changed"] is True
    assert result["loaded"] == ["br_netfilter"]
    assert statuses(result) == [("k8s.kernel_modules", "drift")]
    assert result["controls"][0]["expected"] == {"br_netfilter": "loaded", "overlay": "loaded"}
    assert result["controls"][0]["actual"] == {"br_netfilter": "not loaded", "overlay": "loaded"}
    assert result["summary"] == {"pass": 0, "fixed": 0, "drift": 1, "skipped": 0, "error": 0}
    assert module.loads == []
    # Only br_netfilter is looked up; overlay is loaded already.
    assert module.calls == [[MODPROBE, "-n", "-q", "br_netfilter"]]
    assert module.moves == []
    assert not tree.conf().exists()
    assert tree.snapshot() == before
    assert tree.dirs() == dirs
    assert result["diff"] == [
        {"before_header": f"{PATH} (absent)", "after_header": PATH, "before": "", "after": NET_FILE},
        {"before_header": "loaded modules", "after_header": "loaded modules", "before": "", "after": "br_netfilter\n"},
    ]


def test_apply_loads_and_writes_file(tree):
    module, result = run(tree, [NET], available=AVAILABLE)
    assert result["changed"] is True
    assert result["loaded"] == ["br_netfilter", "overlay"]
    assert statuses(result) == [("k8s.kernel_modules", "fixed")]
    assert module.loads == [[MODPROBE, "br_netfilter"], [MODPROBE, "overlay"]]
    assert tree.conf().read_text() == NET_FILE
    assert stat.S_IMODE(tree.conf().stat().st_mode) == 0o644
    assert module.moves == [str(tree.conf())]
    assert tree.host.module_loaded("br_netfilter") and tree.host.module_loaded("overlay")


def test_second_apply_is_a_no_op(tree):
    run(tree, [NET], available=AVAILABLE)
    before = tree.snapshot()
    module, result = run(tree, [NET], available=AVAILABLE)
    assert result["changed"] is False
    assert result["loaded"] == []
    assert statuses(result) == [("k8s.kernel_modules", "pass")]
    assert result["controls"][0]["actual"] == {"br_netfilter": "loaded", "overlay": "loaded"}
    assert result["summary"]["pass"] == 1
    assert module.calls == []
    assert module.moves == []
    assert tree.snapshot() == before
    assert len(result["diff"]) == 1


@pytest.mark.parametrize(("check_mode", "status"), [(True, "drift"), (False, "fixed")], ids=["check", "apply"])
def test_loaded_but_not_persisted(tree, check_mode, status):
    tree.load_module("br_netfilter")
    tree.load_module("overlay")
    module, result = run(tree, [NET], available=AVAILABLE, check_mode=check_mode)
    assert statuses(result) == [("k8s.kernel_modules", status)]
    assert result["changed"] is True
    assert result["loaded"] == []
    assert module.loads == []
    assert tree.conf().exists() is (not check_mode)


def test_dashed_name_counts_as_loaded_and_persisted(tree):
    control = ctl("k8s.conntrack", ["nf-conntrack"])
    tree.load_module("nf_conntrack")
    tree.add_conf(expected_file(("k8s.conntrack", ["nf-conntrack"])))
    module, result = run(tree, [control], available=AVAILABLE)
    assert statuses(result) == [("k8s.conntrack", "pass")]
    assert result["changed"] is False
    assert module.calls == []


def test_unavailable_module_is_skipped(tree):
    controls = [NET, ctl("k8s.ipvs", ["ip_vs"])]
    module, result = run(tree, controls, available=AVAILABLE)
    assert statuses(result) == [("k8s.kernel_modules", "fixed"), ("k8s.ipvs", "skipped")]
    skipped = result["controls"][1]
    assert skipped["reason"] == "this kernel has no module ip_vs"
    assert skipped["actual"] == {"ip_vs": "absent"}
    assert [MODPROBE, "-n", "-q", "ip_vs"] in module.calls
    assert [MODPROBE, "ip_vs"] not in module.loads
    assert tree.conf().read_text() == NET_FILE


def test_partly_unavailable_control_loads_the_rest(tree):
    control = ctl("k8s.mods", ["overlay", "ip_vs"])
    module, result = run(tree, [control], available=AVAILABLE)
    assert statuses(result) == [("k8s.mods", "fixed")]
    assert result["controls"][0]["details"] == {"missing_modules": ["ip_vs"]}
    assert result["controls"][0]["actual"] == {"overlay": "not loaded", "ip_vs": "absent"}
    assert module.loads == [[MODPROBE, "overlay"]]
    assert tree.conf().read_text() == expected_file(("k8s.mods", ["overlay"]))


def test_unavailable_module_with_missing_fail_raises(tree):
    before = tree.snapshot()
    with pytest.raises(ControlInputError, match=r"control 'k8s.ipvs': this kernel has no module ip_vs"):
        run(tree, [NET, ctl("k8s.ipvs", ["ip_vs"])], available=AVAILABLE, missing="fail")
    assert tree.snapshot() == before
    assert tree.dirs() == ["root", "sys", "sys/module"]


def test_disabled_control_is_skipped(tree):
    controls = [ctl("k8s.ipvs", ["ip_vs"], enabled=False, reason="kube-proxy uses iptables"), NET]
    module, result = run(tree, controls, available=AVAILABLE)
    assert statuses(result) == [("k8s.ipvs", "skipped"), ("k8s.kernel_modules", "fixed")]
    assert result["controls"][0]["reason"] == "switched off: kube-proxy uses iptables"
    assert all("ip_vs" not in call for call in module.calls)


@pytest.mark.parametrize(
    ("controls", "params", "message"),
    [
        ([NET, ctl("k8s.bad", ["br netfilter"])], {}, "control 'k8s.bad': 'br netfilter' is not a kernel module name"),
        ([NET, ctl("k8s.bad", ["../evil"])], {}, "is not a kernel module name"),
        ([NET, ctl("k8s.bad", ["-r"])], {}, "control 'k8s.bad': '-r' is not a kernel module name"),
        ([NET, ctl("k8s.bad", ["_overlay"])], {}, "control 'k8s.bad': '_overlay' is not a kernel module name"),
        ([NET, ctl("k8s.bad", [])], {}, "control 'k8s.bad' names no module in 'load'"),
        ([NET, NET], {}, "is given twice"),
        ([NET, ctl("k8s.off", ["ip_vs"], enabled=False)], {}, "switched off without a reason"),
        ([NET], {"path": "/etc/modules-load.d/sub/x.conf"}, r"must be a '\.conf' file \(not hidden\) directly in"),
        ([NET], {"path": "etc/modules-load.d/x.conf"}, "must be a '.conf' file"),
        ([NET], {"path": "/etc/modules-load.d/.hidden.conf"}, r"must be a '\.conf' file \(not hidden\)"),
        ([NET], {"path": "/etc/modules-load.d/x.txt"}, "must be a '.conf' file"),
        (
            [NET],
            {"path": "/usr/lib/modules-load.d/x.conf"},
            "directly in /etc/modules-load.d: systemd-modules-load reads it at every boot",
        ),
        (
            [NET],
            {"path": "/run/modules-load.d/nodeguard-hardening.conf"},
            "directly in /etc/modules-load.d: systemd-modules-load reads it at every boot",
        ),
        ([NET], {"modprobe": None}, "modprobe is not installed on this node"),
    ],
    ids=[
        "space-in-name",
        "path-in-name",
        "option-as-name",
        "underscore-first",
        "empty-load",
        "duplicate-id",
        "no-reason",
        "path-subdirectory",
        "path-relative",
        "path-hidden",
        "path-suffix",
        "path-vendor-dir",
        "path-run",
        "no-modprobe",
    ],
)
def test_rejected_input_changes_nothing(tree, controls, params, message):
    tree.add_conf("# older\noverlay\n")
    before = tree.snapshot()
    module = FakeModule(tree, controls, available=AVAILABLE, **params)
    with pytest.raises(ControlInputError, match=message):
        _kmod.run(module, tree.host)
    assert module.loads == []
    assert module.moves == []
    assert tree.snapshot() == before


@pytest.mark.parametrize("name", ["-r", "-v", "--remove"])
def test_option_like_name_never_reaches_modprobe(tree, name):
    module = FakeModule(tree, [ctl("k8s.bad", [name])], available=AVAILABLE | {name})
    with pytest.raises(ControlInputError, match="is not a kernel module name"):
        _kmod.run(module, tree.host)
    assert module.calls == []
    assert not tree.conf().exists()


def test_name_may_start_with_a_digit(tree):
    module, result = run(tree, [ctl("site.9p", ["9p"])], available={"9p"})
    assert statuses(result) == [("site.9p", "fixed")]
    assert module.loads == [[MODPROBE, "9p"]]
    assert tree.conf().read_text() == expected_file(("site.9p", ["9p"]))


def test_modprobe_failure_raises(tree):
    module = FakeModule(tree, [NET], available=AVAILABLE, load_rc=1)
    with pytest.raises(
        _kmod.KmodApplyError, match="modprobe br_netfilter failed with status 1: modprobe: ERROR: could not insert"
    ):
        _kmod.run(module, tree.host)
    assert not tree.conf().exists()


# --------------------------------------------------------------------------- what differs, in the result


@pytest.mark.parametrize(("check_mode", "status"), [(True, "drift"), (False, "fixed")], ids=["check", "apply"])
def test_line_removed_from_boot_file_is_named(tree, check_mode, status):
    """Loaded now, but a line was removed by hand: the result says which module and which file."""
    tree.load_module("br_netfilter")
    tree.load_module("overlay")
    tree.add_conf(expected_file(("k8s.kernel_modules", ["overlay"])))
    _unused, result = run(tree, [NET], available=AVAILABLE, check_mode=check_mode)
    assert statuses(result) == [("k8s.kernel_modules", status)]
    control = result["controls"][0]
    assert control["differences"] == [{"item": "br_netfilter", "where": PATH, "expected": "listed", "actual": None}]
    assert control["reason"] == f"br_netfilter ({PATH}): absent, expected 'listed'"
    assert tree.conf().read_text() == (expected_file(("k8s.kernel_modules", ["overlay"])) if check_mode else NET_FILE)


def test_module_not_loaded_is_named(tree):
    tree.load_module("overlay")
    tree.add_conf(NET_FILE)
    _unused, result = run(tree, [NET], available=AVAILABLE, check_mode=True)
    assert result["controls"][0]["differences"] == [
        {"item": "br_netfilter", "where": "live", "expected": "loaded", "actual": "not loaded"}
    ]


@pytest.mark.parametrize(("check_mode", "status"), [(True, "drift"), (False, "fixed")], ids=["check", "apply"])
def test_boot_file_mode_opened_is_named_and_closed(tree, check_mode, status):
    tree.load_module("br_netfilter")
    tree.load_module("overlay")
    tree.add_conf(NET_FILE)
    tree.conf().chmod(0o666)
    _unused, result = run(tree, [NET], available=AVAILABLE, check_mode=check_mode)
    assert statuses(result) == [("k8s.kernel_modules", status)]
    assert result["changed"] is True
    assert result["controls"][0]["differences"] == [
        {"item": PATH, "where": "mode", "expected": "0644", "actual": "0666"}
    ]
    assert {
        "before_header": f"mode of {PATH}",
        "after_header": f"mode of {PATH}",
        "before": "0666\n",
        "after": "0644\n",
    } in result["diff"]
    assert stat.S_IMODE(tree.conf().stat().st_mode) == (0o666 if check_mode else 0o644)
    assert tree.conf().read_text() == NET_FILE
