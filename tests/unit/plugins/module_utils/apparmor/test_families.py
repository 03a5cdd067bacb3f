# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The apparmor families on a temporary tree, with apparmor_parser and the kernel's securityfs
simulated: C(-S) compiles a text to bytes that depend on the text and the mode, C(--replace)
writes the profile's mode and policy hash where the kernel shows them, C(--remove) takes it away.
"""

from __future__ import annotations

import hashlib
import os
import re
import typing as t

import pytest

from ansible_collections.nodeguard.hardening.plugins.module_utils._apparmor import families
from ansible_collections.nodeguard.hardening.plugins.module_utils._controls import ControlInputError
from ansible_collections.nodeguard.hardening.plugins.module_utils._system import engine

from ..system.conftest import FakeModule, Tree, control

DIR = "/etc/nodeguard/apparmor"
UNIT = "/etc/systemd/system/nodeguard-apparmor.service"
WANTS = "/etc/systemd/system/sysinit.target.wants/nodeguard-apparmor.service"


def text(name: str, rule: str = "/tmp/** rw,") -> str:
    return f"#include <tunables/global>\nprofile {name} flags=(attach_disconnected) {{\n  {rule}\n}}\n"


class Kernel:
    """The simulated kernel side: loaded profiles by name, each (mode, raw_sha1)."""

    def __init__(self, root: str) -> None:
        self.root = root
        self.loaded: dict[str, tuple[str, str]] = {}
        self.write()

    def write(self) -> None:
        base = os.path.join(self.root, "apparmor")
        folder = os.path.join(base, "policy", "profiles")
        os.makedirs(folder, exist_ok=True)
        for entry in os.listdir(folder):
            for name in os.listdir(os.path.join(folder, entry)):
                os.unlink(os.path.join(folder, entry, name))
            os.rmdir(os.path.join(folder, entry))
        with open(os.path.join(base, "profiles"), "w", encoding="utf-8") as handle:
            handle.writelines(f"{name} ({mode})\n" for name, (mode, _unused) in sorted(self.loaded.items()))
        for number, (name, (_unused, digest)) in enumerate(sorted(self.loaded.items())):
            entry = os.path.join(folder, f"{name.replace('/', '.')}.{number}")
            os.makedirs(entry)
            for field, value in (("name", name), ("raw_sha1", digest)):
                with open(os.path.join(entry, field), "w", encoding="utf-8") as handle:
                    handle.write(value + "\n")


def compile_bytes(content: str, mode: str) -> bytes:
    return f"{mode}:{content}".encode()


def declared(content: str) -> list[str]:
    return re.findall(r"^profile (\S+)", content, re.M)


class ParserModule(FakeModule):
    """FakeModule whose apparmor_parser compiles, loads and unloads against a Kernel."""

    def __init__(self, controls: list[dict], kernel: Kernel, *, check_mode: bool = False) -> None:
        super().__init__(controls, check_mode=check_mode)
        self.kernel = kernel
        self.fail_load: set[str] = set()
        self.commands["systemctl"] = self.systemctl
        self.tree: Tree | None = None

    def run_command(self, argv, data=None, environ_update=None, encoding="utf-8"):
        argv = [str(a) for a in argv]
        if os.path.basename(argv[0]) != "apparmor_parser":
            return super().run_command(argv, data=data, environ_update=environ_update)
        self.calls.append(argv)
        path = argv[-1]
        with open(path, encoding="utf-8") as handle:
            content = handle.read()
        mode = "complain" if "--complain" in argv else "enforce"
        if "syntax error" in content:
            line = next(n for n, row in enumerate(content.splitlines(), 1) if "syntax error" in row)
            err = f"AppArmor parser error for {path} in profile {path} at line {line}: syntax error, unexpected TOK_ID"
            return 1, b"" if encoding is None else "", err.encode() if encoding is None else err
        if "-S" in argv:
            return 0, compile_bytes(content, mode), b""
        if "--names" in argv:
            return 0, "\n".join(declared(content)) + "\n", ""
        if "--replace" in argv:
            if os.path.basename(path) in self.fail_load:
                return 1, "", "apparmor_parser: Unable to replace the profile"
            digest = hashlib.sha1(compile_bytes(content, mode)).hexdigest()  # nosec B324
            for name in declared(content):
                self.kernel.loaded[name] = (mode, digest)
        elif "--remove" in argv:
            for name in declared(content):
                self.kernel.loaded.pop(name, None)
        self.kernel.write()
        return 0, "", ""

    def systemctl(self, argv):
        assert self.tree is not None
        link = self.tree.file(WANTS)
        if argv[1] == "enable":
            link.parent.mkdir(parents=True, exist_ok=True)
            if not link.is_symlink():
                link.symlink_to(UNIT)
        elif argv[1] == "disable" and link.is_symlink():
            link.unlink()
        return 0, "", ""


CATALOG = [
    control("k8s.apparmor.profile", "apparmor_profile", None, title="profile {name} in {mode} mode"),
    control("k8s.apparmor.retired", "apparmor_retired", None),
    control("k8s.apparmor.boot", "apparmor_boot", None),
]
for item in CATALOG:
    item.pop("by_platform")
    if item["id"] == "k8s.apparmor.profile":
        item["title"] = "profile {name} in {mode} mode"


@pytest.fixture
def lab(tmp_path):
    (tmp_path / "node").mkdir()
    tree = Tree(tmp_path / "node")
    (tree.module_root / "apparmor" / "parameters").mkdir(parents=True)
    (tree.module_root / "apparmor" / "parameters" / "enabled").write_text("Y\n")
    return tree, Kernel(str(tmp_path / "securityfs"))


def wanted(*extra: dict) -> list[dict]:
    return [
        {"name": "deny-write", "content": text("deny-write"), "mode": "enforce", "file": None, "source": "t1"},
        {"name": "web", "content": text("web"), "mode": "complain", "file": None, "source": "t2"},
        *extra,
    ]


def run(lab, profiles: list[dict], *, check_mode: bool = False, fail_load=()) -> tuple[dict, ParserModule]:
    tree, kernel = lab
    module = ParserModule([dict(c) for c in CATALOG], kernel, check_mode=check_mode)
    module.fail_load.update(fail_load)
    module.tree = tree
    checked = families.check_profiles(profiles)
    options = families.Options(
        profiles=checked,
        profile_dir=DIR,
        unit="nodeguard-apparmor.service",
        runtime_units=["containerd.service"],
        securityfs_root=kernel.root,
    )
    module.params["controls"] = families.expand(module.params["controls"], checked)
    node = tree.node(module)
    return engine.run(module, node, families.build(node, options)), module


def statuses(result: dict) -> dict[str, str]:
    return {r["id"]: r["status"] for r in result["controls"]}


def reasons(result: dict) -> dict[str, t.Any]:
    return {r["id"]: r["reason"] for r in result["controls"]}


def test_a_fresh_node_gets_files_loaded_profiles_and_the_boot_unit(lab):
    tree, kernel = lab
    result, _unused = run(lab, wanted())
    assert statuses(result) == {
        "k8s.apparmor.profile.deny-write": "fixed",
        "k8s.apparmor.profile.web": "fixed",
        "k8s.apparmor.retired": "pass",
        "k8s.apparmor.boot": "fixed",
    }
    assert tree.read(f"{DIR}/deny-write") == text("deny-write")
    assert oct(tree.file(f"{DIR}/web").stat().st_mode & 0o777) == "0o644"
    assert {name: mode for name, (mode, _unused) in kernel.loaded.items()} == {
        "deny-write": "enforce",
        "web": "complain",
    }
    unit = tree.read(UNIT)
    assert "Before=sysinit.target containerd.service" in unit
    assert f"ExecStart=-/usr/sbin/apparmor_parser --replace {DIR}/deny-write\n" in unit
    assert f"ExecStart=-/usr/sbin/apparmor_parser --replace --complain {DIR}/web\n" in unit
    assert tree.file(WANTS).is_symlink()
    titles = {r["id"]: r["title"] for r in result["controls"]}
    assert titles["k8s.apparmor.profile.web"] == "profile web in complain mode"


def test_a_second_run_changes_nothing(lab):
    run(lab, wanted())
    result, module = run(lab, wanted())
    assert set(statuses(result).values()) == {"pass"}
    assert result["changed"] is False
    assert not [call for call in module.calls if "--replace" in call or "--remove" in call]


def test_check_mode_on_a_fresh_node_predicts_and_touches_nothing(lab):
    tree, kernel = lab
    before = tree.snapshot()
    result, _unused = run(lab, wanted(), check_mode=True)
    assert statuses(result)["k8s.apparmor.profile.deny-write"] == "drift"
    assert statuses(result)["k8s.apparmor.boot"] == "drift"
    assert result["changed"] is True
    assert tree.snapshot() == before
    assert kernel.loaded == {}


def test_unloaded_complain_edited_and_stray_profiles_drift_then_are_fixed(lab, tmp_path):
    tree, kernel = lab
    run(lab, wanted())
    kernel.loaded.pop("deny-write")
    kernel.loaded["web"] = ("enforce", kernel.loaded["web"][1])
    tree.write(f"{DIR}/web", text("web", "/** w,"))
    tree.write(f"{DIR}/stray", text("stray"))
    kernel.loaded["stray"] = ("enforce", "0" * 40)
    kernel.write()
    audit, _unused = run(lab, wanted(), check_mode=True)
    assert statuses(audit) == {
        "k8s.apparmor.profile.deny-write": "drift",
        "k8s.apparmor.profile.web": "drift",
        "k8s.apparmor.retired": "drift",
        "k8s.apparmor.boot": "pass",
    }
    why = reasons(audit)
    assert "deny-write (loaded in the kernel): absent, expected 'enforce'" in why["k8s.apparmor.profile.deny-write"]
    assert "'enforce', expected 'complain'" in why["k8s.apparmor.profile.web"]
    assert "/** w," in why["k8s.apparmor.profile.web"]
    assert (
        f"{DIR}/stray" in why["k8s.apparmor.retired"] and "stray (loaded in the kernel)" in why["k8s.apparmor.retired"]
    )
    actual = {r["id"]: r["actual"] for r in audit["controls"]}
    assert actual["k8s.apparmor.profile.web"] == {"file": "edited", "loaded": True, "mode": "enforce"}
    fixed, _unused = run(lab, wanted())
    assert statuses(fixed) == {**statuses(audit), **{k: "fixed" for k, v in statuses(audit).items() if v == "drift"}}
    assert tree.read(f"{DIR}/web") == text("web")
    assert tree.read(f"{DIR}/stray") is None
    assert set(kernel.loaded) == {"deny-write", "web"}
    assert kernel.loaded["web"][0] == "complain"


def test_a_profile_loaded_from_another_text_is_reported_by_its_policy_hash(lab):
    _tree, kernel = lab
    run(lab, wanted())
    kernel.loaded["deny-write"] = ("enforce", "f" * 40)
    kernel.write()
    audit, _unused = run(lab, wanted(), check_mode=True)
    assert "loaded policy (raw_sha1)" in reasons(audit)["k8s.apparmor.profile.deny-write"]
    assert statuses(audit)["k8s.apparmor.profile.web"] == "pass"


def test_a_syntax_error_fails_naming_the_installed_file_and_line_and_changes_nothing(lab):
    tree, kernel = lab
    run(lab, wanted())
    before, loaded = tree.snapshot(), dict(kernel.loaded)
    broken = {
        "name": "broken",
        "content": "profile broken {\n  syntax error\n}\n",
        "mode": "enforce",
        "source": "mine.j2",
    }
    with pytest.raises(ControlInputError) as caught:
        run(lab, wanted(broken))
    message = str(caught.value)
    assert "apparmor_parser refused the profile from mine.j2" in message
    assert f"{DIR}/broken in profile" in message and "at line 2" in message
    assert "nodeguard-apparmor-" not in message
    assert tree.snapshot() == before and kernel.loaded == loaded


def test_a_profile_that_declares_another_name_is_refused(lab):
    other = {"name": "mine", "content": text("theirs"), "mode": "enforce", "source": "mine.j2"}
    with pytest.raises(ControlInputError, match="declares the profiles theirs, not 'mine'"):
        run(lab, wanted(other))


def test_a_failed_load_undoes_the_whole_run(lab):
    tree, kernel = lab
    run(lab, wanted())
    before, loaded = tree.snapshot(), dict(kernel.loaded)
    tree_file = tree.file(f"{DIR}/deny-write")
    changed = wanted()
    changed[0]["content"] = text("deny-write", "/var/** rw,")
    changed[1]["content"] = text("web", "/srv/** rw,")
    with pytest.raises(engine.ApplyError, match=r"profile web .*failed.*undid 1 earlier change"):
        run(lab, changed, fail_load={"web"})
    assert tree_file.read_text() == text("deny-write")
    assert tree.snapshot() == before
    assert kernel.loaded == loaded


def test_no_wanted_profile_removes_everything_the_role_installed(lab):
    tree, kernel = lab
    run(lab, wanted())
    result, _unused = run(lab, [])
    assert statuses(result) == {
        "k8s.apparmor.profile": "skipped",
        "k8s.apparmor.retired": "fixed",
        "k8s.apparmor.boot": "fixed",
    }
    assert kernel.loaded == {}
    assert tree.read(UNIT) is None and not tree.file(WANTS).is_symlink()
    assert os.listdir(tree.file(DIR)) == []


def test_apparmor_off_in_the_kernel_is_an_error_for_every_control_and_changes_nothing(lab):
    tree, _kernel = lab
    (tree.module_root / "apparmor" / "parameters" / "enabled").write_text("N\n")
    before = tree.snapshot()
    result, _unused = run(lab, wanted())
    assert set(statuses(result).values()) == {"error"}
    assert "AppArmor is off in the running kernel" in reasons(result)["k8s.apparmor.boot"]
    assert tree.snapshot() == before


@pytest.mark.parametrize(
    ("profiles", "says"),
    [
        ([{"name": "a b", "content": "x"}], "without spaces"),
        ([{"name": "a", "content": "  "}], "content is empty"),
        ([{"name": "a", "content": "x", "mode": "kill"}], "mode must be one of enforce, complain"),
        ([{"name": "a", "content": "x", "file": "../a"}], "plain file name"),
        ([{"name": "a", "content": "x", "file": ".hidden"}], "plain file name"),
        ([{"name": "a", "content": "x"}, {"name": "a", "content": "y", "file": "b"}], "given twice"),
        ([{"name": "a", "content": "x"}, {"name": "b", "content": "y", "file": "a"}], "given to two profiles"),
    ],
)
def test_profile_input_is_checked_before_anything(profiles, says):
    with pytest.raises(ControlInputError, match=says):
        families.check_profiles(profiles)


def test_a_profile_name_with_slashes_gets_a_dotted_file_and_a_valid_control_id():
    checked = families.check_profiles([{"name": "/usr/bin/App", "content": "x"}])
    assert checked[0]["file"] == "usr.bin.App"
    [expanded] = families.expand([dict(CATALOG[0])], checked)
    assert expanded["id"] == "k8s.apparmor.profile.usr-bin-app"


def test_a_failed_load_unloads_what_the_run_loaded_before_it(lab):
    tree, kernel = lab
    run(lab, wanted())
    kernel.loaded.pop("deny-write")
    kernel.write()
    before = tree.snapshot()
    changed = wanted()
    changed[1]["content"] = text("web", "/srv/** rw,")
    with pytest.raises(engine.ApplyError, match=r"undid 1 earlier change"):
        run(lab, changed, fail_load={"web"})
    # deny-write was loaded by the run, then unloaded again: the node is as the run found it.
    assert "deny-write" not in kernel.loaded
    assert tree.snapshot() == before
