# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The containerd_runtime family on a fake node: the main file gains only the import, the drop-in
carries the CRI section's copy with the handlers, versions 2 and 3, the dump check and its undo,
and every refusal before anything is read."""

from __future__ import annotations

import stat

import pytest

from ansible_collections.nodeguard.hardening.plugins.module_utils._controls import ControlInputError
from ansible_collections.nodeguard.hardening.plugins.module_utils._sandbox import containerd, gvisor
from ansible_collections.nodeguard.hardening.plugins.module_utils._system import engine

from ..system.conftest import control
from .conftest import (
    CONFIG,
    CONTAINERD_1,
    CONTAINERD_2,
    CRI,
    CRI_V3,
    DROP_IN,
    FakeContainerd,
    StdinModule,
    calls_of,
    shown,
)

RUNSC_BIN = "/usr/bin/runsc"
SHIM_BIN = "/usr/bin/containerd-shim-runsc-v1"
KATA_BIN = "/opt/kata/bin/containerd-shim-kata-v2"
WRAPPER = "/usr/local/libexec/nodeguard/runsc"
IMPORT_LINE = f'imports = ["{DROP_IN}"]\n'
DUMP_ACTION = "check that containerd config dump shows the handlers"
SANDBOX_IMAGE = 'sandbox_image = "registry.k8s.io/pause:3.9"'

# What `containerd config default` writes, SystemdCgroup switched on for kubeadm, with comments,
# indentation and a plugin section other than the CRI one: all of it must stay as it is.
KUBEADM = f"""\
# containerd's configuration: `containerd config default`, SystemdCgroup set for kubeadm
version = 2
root = "/var/lib/containerd"
state = "/run/containerd"

[grpc]
  address = "/run/containerd/containerd.sock"

[plugins]
  [plugins."io.containerd.grpc.v1.cri"]
    {SANDBOX_IMAGE}
    # keep in step with the kubelet's containerLogMaxSize
    max_container_log_line_size = 16384
    [plugins."io.containerd.grpc.v1.cri".containerd]
      default_runtime_name = "runc"
      snapshotter = "overlayfs"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes]
        [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
          runtime_type = "io.containerd.runc.v2"
          [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
            SystemdCgroup = true
    [plugins."io.containerd.grpc.v1.cri".registry]
      config_path = "/etc/containerd/certs.d"
  [plugins."io.containerd.internal.v1.opt"]
    path = "/opt/containerd"
"""
KUBEADM_IMPORTED = KUBEADM.replace("version = 2\n", "version = 2\n" + IMPORT_LINE, 1)

DROP_IN_HEADER = f"""\
# Runtime handlers of nodeguard.hardening's sandbox role, imported by
# {CONFIG}.
# containerd replaces a whole plugin section from an imported file, so this file carries a
# copy of the CRI plugin's settings from the main configuration with the handlers added.
# It is replaced on every run: change the role's variables, or the main configuration (the
# copy follows it), not this file.
"""
KUBEADM_DROP_IN = f"""\
{DROP_IN_HEADER}version = 2

[plugins."{CRI}"]
sandbox_image = "registry.k8s.io/pause:3.9"
max_container_log_line_size = 16384

[plugins."{CRI}".containerd]
default_runtime_name = "runc"
snapshotter = "overlayfs"

[plugins."{CRI}".containerd.runtimes.runc]
runtime_type = "io.containerd.runc.v2"

[plugins."{CRI}".containerd.runtimes.runc.options]
SystemdCgroup = true

[plugins."{CRI}".containerd.runtimes.runsc]
runtime_type = "io.containerd.runc.v2"

[plugins."{CRI}".containerd.runtimes.runsc.options]
SystemdCgroup = true
BinaryName = "{WRAPPER}"

[plugins."{CRI}".registry]
config_path = "/etc/containerd/certs.d"
"""
WRAPPER_TEXT = gvisor.wrapper("runsc", RUNSC_BIN, {"platform": "ptrace"})
RUNSC_TABLE = {
    "runtime_type": "io.containerd.runc.v2",
    "options": {"SystemdCgroup": True, "BinaryName": WRAPPER},
}
# A section defining the CRI plugin, for files imported beside the drop-in.
SITE_CRI = f'[plugins."{CRI}"]\nsandbox_image = "mirror.example.org/pause:3.9"\n'


def runsc(cid="k8s.sandbox.gvisor_handler", **changes):
    spec = {
        "handler": "runsc",
        "runtime_type": "io.containerd.runc.v2",
        "inherit_options": ["SystemdCgroup"],
        "gvisor": {"binary": RUNSC_BIN, "flags": {"platform": "ptrace"}},
        **changes,
    }
    return control(cid, "containerd_runtime", {key: value for key, value in spec.items() if value is not None})


def kata(cid="k8s.sandbox.kata_handler", **changes):
    spec = {
        "handler": "kata",
        "runtime_type": "io.containerd.kata.v2",
        "settings": {"pod_annotations": ["io.katacontainers.*"], "privileged_without_host_devices": True},
        "binaries": [KATA_BIN],
        **changes,
    }
    return control(cid, "containerd_runtime", spec)


RUNSC = runsc()


class Run:
    """One run of the family: the module (its calls), the fake containerd, the result."""

    def __init__(self, tree, controls, *, check_mode=False, dump="merge", printed=CONTAINERD_1, **options):
        self.module = StdinModule(controls, check_mode=check_mode)
        self.containerd = FakeContainerd(tree, version=printed, mode=dump)
        self.containerd.register(self.module)
        self.family = containerd.ContainerdRuntimes(containerd.Options(**options))
        self.result = engine.run(self.module, tree.node(self.module), [self.family])

    @property
    def statuses(self):
        return [(entry["id"], entry["status"]) for entry in self.result["controls"]]

    @property
    def first(self):
        return self.result["controls"][0]


@pytest.fixture
def node(tree):
    """The tree with gVisor's and Kata's binaries installed."""
    for path in (RUNSC_BIN, SHIM_BIN, KATA_BIN):
        tree.write(path, "#!/bin/sh\n", 0o755)
    return tree


def mode_of(tree, path):
    return stat.S_IMODE(tree.file(path).stat().st_mode)


# -- a kubeadm node --------------------------------------------------------------------------------


def test_kubeadm_config_gains_only_the_import_and_the_drop_in_carries_the_section(node):
    node.write(CONFIG, KUBEADM)
    run = Run(node, [RUNSC])
    assert run.statuses == [("k8s.sandbox.gvisor_handler", "fixed")]
    assert node.read(CONFIG) == KUBEADM_IMPORTED
    assert node.read(DROP_IN) == KUBEADM_DROP_IN
    assert node.read(WRAPPER) == WRAPPER_TEXT
    assert (mode_of(node, CONFIG), mode_of(node, DROP_IN), mode_of(node, WRAPPER)) == (0o644, 0o644, 0o755)
    # The copy is the user's section with the handler added, nothing else.
    user = shown(KUBEADM)["plugins"][CRI]
    user["containerd"]["runtimes"]["runsc"] = RUNSC_TABLE
    assert shown(node.read(DROP_IN)) == {"version": 2, "plugins": {CRI: user}}
    assert run.result["actions"] == [f"write {WRAPPER}", f"write {DROP_IN}", f"write {CONFIG}", DUMP_ACTION]
    assert run.first["differences"] == [
        {"item": "runtime handler runsc", "where": DROP_IN, "expected": RUNSC_TABLE, "actual": None},
        {"item": "imports", "where": CONFIG, "expected": DROP_IN, "actual": "not imported"},
        {"item": "gVisor flags of runsc", "where": WRAPPER, "expected": WRAPPER_TEXT, "actual": None},
    ]
    assert run.first["expected"] == RUNSC_TABLE
    assert run.first["actual"] == RUNSC_TABLE
    assert run.first["details"] == {
        "config": CONFIG,
        "drop_in": DROP_IN,
        "config_version": 2,
        "plugin": CRI,
        "gvisor": {"binary": RUNSC_BIN, "flags": {"platform": "ptrace"}},
    }
    assert [(entry["before_header"], entry["after_header"]) for entry in run.result["diff"]] == [
        (f"{WRAPPER} (absent)", WRAPPER),
        (f"{DROP_IN} (absent)", DROP_IN),
        (CONFIG, CONFIG),
    ]
    # Checked once after the writes, once more when the family looks again.
    assert (
        calls_of(run.module, "containerd")
        == [["/usr/sbin/containerd", "--config", str(node.file(CONFIG)), "config", "dump"]] * 2
    )


def test_a_second_run_changes_nothing(node):
    node.write(CONFIG, KUBEADM)
    Run(node, [RUNSC])
    before = node.snapshot()
    run = Run(node, [RUNSC])
    assert run.statuses == [("k8s.sandbox.gvisor_handler", "pass")]
    assert run.result["changed"] is False
    assert run.result["actions"] == []
    assert run.result["diff"] == []
    assert node.snapshot() == before
    assert run.containerd.dumps == 1


def test_check_mode_predicts_the_changes_and_touches_nothing(node):
    node.write(CONFIG, KUBEADM)
    before = node.snapshot()
    run = Run(node, [RUNSC], check_mode=True)
    assert run.statuses == [("k8s.sandbox.gvisor_handler", "drift")]
    assert run.result["changed"] is True
    assert run.result["actions"] == [f"write {WRAPPER}", f"write {DROP_IN}", f"write {CONFIG}", DUMP_ACTION]
    assert run.result["diff"][2]["after"] == KUBEADM_IMPORTED
    assert node.snapshot() == before
    assert run.module.calls == []
    assert run.module.moves == []


def test_the_main_files_mode_is_kept(node):
    node.write(CONFIG, KUBEADM, 0o600)
    Run(node, [RUNSC])
    assert node.read(CONFIG) == KUBEADM_IMPORTED
    assert mode_of(node, CONFIG) == 0o600


# -- imports ---------------------------------------------------------------------------------------

MAIN_AROUND = (
    "# site configuration\nversion = 2\n{imports}\n"
    '[plugins."io.containerd.internal.v1.opt"]\n  path = "/opt/containerd"\n'
)


@pytest.mark.parametrize(
    ("imports", "after"),
    [
        pytest.param(
            'imports = ["/etc/containerd/site.toml"]\n',
            f'imports = ["/etc/containerd/site.toml", "{DROP_IN}"]\n',
            id="single-line",
        ),
        pytest.param(
            'imports = [\n  "/etc/containerd/site.toml",\n  "/etc/containerd/mirrors.toml",\n]\n',
            f'imports = [\n  "/etc/containerd/site.toml",\n  "/etc/containerd/mirrors.toml",\n  "{DROP_IN}",\n]\n',
            id="multi-line",
        ),
        pytest.param("imports = []\n", IMPORT_LINE, id="empty"),
        pytest.param(
            'imports = ["/etc/containerd/absent.toml"]\n',
            f'imports = ["/etc/containerd/absent.toml", "{DROP_IN}"]\n',
            id="absent-file",
        ),
    ],
)
def test_the_drop_in_is_appended_to_existing_imports(node, imports, after):
    node.write("/etc/containerd/site.toml", '[plugins."io.containerd.internal.v1.opt"]\npath = "/srv/containerd"\n')
    node.write("/etc/containerd/mirrors.toml", '[debug]\nlevel = "info"\n')
    node.write(CONFIG, MAIN_AROUND.format(imports=imports))
    run = Run(node, [RUNSC])
    assert run.statuses == [("k8s.sandbox.gvisor_handler", "fixed")]
    assert node.read(CONFIG) == MAIN_AROUND.format(imports=after)
    assert Run(node, [RUNSC]).statuses == [("k8s.sandbox.gvisor_handler", "pass")]


def test_without_imports_the_line_goes_after_version(node):
    node.write(CONFIG, '# minimal\n\nversion = 2\n\n[debug]\n  level = "info"\n')
    Run(node, [RUNSC])
    assert node.read(CONFIG) == f'# minimal\n\nversion = 2\n{IMPORT_LINE}\n[debug]\n  level = "info"\n'


@pytest.mark.parametrize(
    "imports",
    [
        '["/etc/containerd/conf.d/*.toml"]',
        '["conf.d/*.toml"]',
        '["/etc/containerd/conf.d/9?-nodeguard-*.toml"]',
        f'["/etc/containerd/site.toml", "{DROP_IN}"]',
    ],
)
def test_an_import_that_already_names_the_drop_in_needs_no_edit(node, imports):
    main = f'version = 2\nimports = {imports}\n\n[plugins."{CRI}"]\n  {SANDBOX_IMAGE}\n'
    node.write(CONFIG, main)
    run = Run(node, [RUNSC])
    assert run.statuses == [("k8s.sandbox.gvisor_handler", "fixed")]
    assert run.result["actions"] == [f"write {WRAPPER}", f"write {DROP_IN}", DUMP_ACTION]
    assert node.read(CONFIG) == main
    assert shown(node.read(DROP_IN))["plugins"][CRI]["sandbox_image"] == "registry.k8s.io/pause:3.9"
    assert Run(node, [RUNSC]).statuses == [("k8s.sandbox.gvisor_handler", "pass")]


@pytest.mark.parametrize(
    ("imports", "later"),
    [
        ('["/etc/containerd/conf.d/*.toml"]', "/etc/containerd/conf.d/99-site.toml"),
        (f'["{DROP_IN}", "/etc/containerd/site.toml"]', "/etc/containerd/site.toml"),
    ],
)
def test_an_import_after_the_drop_in_that_replaces_the_cri_section_is_unfixable(node, imports, later):
    node.write(CONFIG, f"version = 2\nimports = {imports}\n")
    node.write(later, SITE_CRI)
    before = node.snapshot()
    run = Run(node, [RUNSC])
    assert run.statuses == [("k8s.sandbox.gvisor_handler", "error")]
    assert run.first["reason"].startswith(
        f"{later} is imported after {DROP_IN} and replaces the CRI section with the handlers; "
        "name the drop-in so that it sorts last: "
    )
    assert {
        "item": f"{CRI} section",
        "where": later,
        "expected": f"not replaced after {DROP_IN}",
        "actual": "replaced",
    } in run.first["differences"]
    assert run.result["actions"] == []
    assert node.snapshot() == before
    assert run.module.calls == []
    assert Run(node, [RUNSC], check_mode=True).statuses == [("k8s.sandbox.gvisor_handler", "drift")]


@pytest.mark.parametrize(
    ("imports", "earlier"),
    [
        ('["/etc/containerd/conf.d/*.toml"]', "/etc/containerd/conf.d/50-site.toml"),
        ('["site.toml"]', "/etc/containerd/site.toml"),
    ],
)
def test_the_copy_comes_from_the_last_file_before_the_drop_in_that_has_the_section(node, imports, earlier):
    node.write(CONFIG, KUBEADM.replace("version = 2\n", f"version = 2\nimports = {imports}\n"))
    node.write(earlier, SITE_CRI)
    run = Run(node, [RUNSC])
    assert run.statuses == [("k8s.sandbox.gvisor_handler", "fixed")]
    section = shown(node.read(DROP_IN))["plugins"][CRI]
    # The imported section replaced the main file's whole section: its runc has no SystemdCgroup.
    assert section == {
        "sandbox_image": "mirror.example.org/pause:3.9",
        "containerd": {
            "runtimes": {
                "runc": {"runtime_type": "io.containerd.runc.v2"},
                "runsc": {"runtime_type": "io.containerd.runc.v2", "options": {"BinaryName": WRAPPER}},
            }
        },
    }


# -- the copy follows the user's section --------------------------------------------------------


def test_a_change_to_the_main_cri_section_makes_the_copy_outdated_and_a_run_renews_it(node):
    node.write(CONFIG, KUBEADM)
    Run(node, [RUNSC])
    edited = node.read(CONFIG).replace("pause:3.9", "pause:3.10")
    node.write(CONFIG, edited)
    check = Run(node, [RUNSC], check_mode=True)
    assert check.statuses == [("k8s.sandbox.gvisor_handler", "drift")]
    assert check.first["differences"] == [
        {
            "item": "copy of the CRI plugin's other settings",
            "where": DROP_IN,
            "expected": f"as in {CONFIG}",
            "actual": "outdated",
        }
    ]
    assert check.result["actions"] == [f"write {DROP_IN}", DUMP_ACTION]
    run = Run(node, [RUNSC])
    assert run.statuses == [("k8s.sandbox.gvisor_handler", "fixed")]
    assert node.read(DROP_IN) == KUBEADM_DROP_IN.replace("pause:3.9", "pause:3.10")
    assert node.read(CONFIG) == edited
    assert Run(node, [RUNSC]).statuses == [("k8s.sandbox.gvisor_handler", "pass")]


def test_a_handler_table_changed_by_hand_is_put_back(node):
    node.write(CONFIG, KUBEADM)
    Run(node, [RUNSC])
    node.write(DROP_IN, node.read(DROP_IN).replace(f'BinaryName = "{WRAPPER}"', 'BinaryName = "/usr/bin/runsc"'))
    run = Run(node, [RUNSC])
    assert run.statuses == [("k8s.sandbox.gvisor_handler", "fixed")]
    assert run.first["differences"] == [
        {
            "item": "runtime handler runsc",
            "where": DROP_IN,
            "expected": RUNSC_TABLE,
            "actual": {
                "runtime_type": "io.containerd.runc.v2",
                "options": {"SystemdCgroup": True, "BinaryName": RUNSC_BIN},
            },
        }
    ]
    assert node.read(DROP_IN) == KUBEADM_DROP_IN


def test_the_default_runtime_is_the_one_inherited_from(node):
    main = f"""\
version = 2
[plugins."{CRI}".containerd]
  default_runtime_name = "crun"
  [plugins."{CRI}".containerd.runtimes.crun]
    runtime_type = "io.containerd.runc.v2"
    [plugins."{CRI}".containerd.runtimes.crun.options]
      BinaryName = "/usr/bin/crun"
      SystemdCgroup = true
"""
    node.write(CONFIG, main)
    run = Run(node, [runsc(inherit_options=["SystemdCgroup", "NoPivotRoot"])])
    assert run.statuses == [("k8s.sandbox.gvisor_handler", "fixed")]
    runtimes = shown(node.read(DROP_IN))["plugins"][CRI]["containerd"]["runtimes"]
    assert sorted(runtimes) == ["crun", "runsc"]
    assert runtimes["runsc"] == RUNSC_TABLE


def test_a_section_without_runtimes_gets_runc_written_out(node):
    node.write(CONFIG, f'version = 2\n[plugins."{CRI}"]\n  {SANDBOX_IMAGE}\n')
    Run(node, [RUNSC])
    section = shown(node.read(DROP_IN))["plugins"][CRI]
    assert section == {
        "sandbox_image": "registry.k8s.io/pause:3.9",
        "containerd": {
            "runtimes": {
                "runc": {"runtime_type": "io.containerd.runc.v2"},
                "runsc": {"runtime_type": "io.containerd.runc.v2", "options": {"BinaryName": WRAPPER}},
            }
        },
    }


def test_two_handlers_share_the_drop_in(node):
    node.write(CONFIG, KUBEADM)
    run = Run(node, [RUNSC, kata()])
    assert run.statuses == [("k8s.sandbox.gvisor_handler", "fixed"), ("k8s.sandbox.kata_handler", "fixed")]
    assert run.result["actions"] == [f"write {WRAPPER}", f"write {DROP_IN}", f"write {CONFIG}", DUMP_ACTION]
    runtimes = shown(node.read(DROP_IN))["plugins"][CRI]["containerd"]["runtimes"]
    assert runtimes["kata"] == {
        "runtime_type": "io.containerd.kata.v2",
        "pod_annotations": ["io.katacontainers.*"],
        "privileged_without_host_devices": True,
    }
    assert runtimes["runsc"] == RUNSC_TABLE
    again = Run(node, [RUNSC, kata()])
    assert again.statuses == [("k8s.sandbox.gvisor_handler", "pass"), ("k8s.sandbox.kata_handler", "pass")]


def test_adding_a_handler_leaves_the_other_handlers_control_passing(node):
    node.write(CONFIG, KUBEADM)
    Run(node, [RUNSC])
    run = Run(node, [RUNSC, kata()])
    assert run.statuses == [("k8s.sandbox.gvisor_handler", "pass"), ("k8s.sandbox.kata_handler", "fixed")]


# -- gVisor's files ------------------------------------------------------------------------------


def test_gvisors_shim_gets_runsc_toml_and_the_options_name_it(node):
    node.write(CONFIG, KUBEADM)
    control_ = runsc(
        runtime_type="io.containerd.runsc.v1",
        binaries=[SHIM_BIN],
        gvisor={"flags": {"platform": "systrap", "net-raw": True}, "config": "/etc/containerd/runsc-gvisor.toml"},
    )
    run = Run(node, [control_])
    assert run.statuses == [("k8s.sandbox.gvisor_handler", "fixed")]
    text = node.read("/etc/containerd/runsc-gvisor.toml")
    assert text == gvisor.shim_config("runsc", {"net-raw": "true", "platform": "systrap"})
    assert shown(text) == {"runsc_config": {"platform": "systrap", "net-raw": "true"}}
    assert mode_of(node, "/etc/containerd/runsc-gvisor.toml") == 0o644
    assert not node.file(WRAPPER).exists()
    assert shown(node.read(DROP_IN))["plugins"][CRI]["containerd"]["runtimes"]["runsc"] == {
        "runtime_type": "io.containerd.runsc.v1",
        "options": {
            "SystemdCgroup": True,
            "TypeUrl": "io.containerd.runsc.v1.options",
            "ConfigPath": "/etc/containerd/runsc-gvisor.toml",
        },
    }


def test_the_shims_config_has_a_default_place(node):
    node.write(CONFIG, KUBEADM)
    Run(node, [runsc(runtime_type="io.containerd.runsc.v1")])
    assert shown(node.read("/etc/containerd/runsc.toml")) == {"runsc_config": {"platform": "ptrace"}}


def test_new_flags_rewrite_only_the_wrapper(node):
    node.write(CONFIG, KUBEADM)
    Run(node, [RUNSC])
    run = Run(node, [runsc(gvisor={"flags": {"platform": "systrap"}})])
    assert run.statuses == [("k8s.sandbox.gvisor_handler", "fixed")]
    assert run.result["actions"] == [f"write {WRAPPER}", DUMP_ACTION]
    assert node.read(WRAPPER) == gvisor.wrapper("runsc", RUNSC_BIN, {"platform": "systrap"})
    assert node.read(DROP_IN) == KUBEADM_DROP_IN


def test_a_wrapper_with_the_wrong_mode_is_written_again(node):
    node.write(CONFIG, KUBEADM)
    Run(node, [RUNSC])
    node.file(WRAPPER).chmod(0o644)
    run = Run(node, [RUNSC])
    assert run.statuses == [("k8s.sandbox.gvisor_handler", "fixed")]
    assert run.first["differences"] == [{"item": WRAPPER, "where": "mode", "expected": "0755", "actual": "0644"}]
    assert mode_of(node, WRAPPER) == 0o755


# -- no main file, versions ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("printed", "version", "plugin"),
    [(CONTAINERD_1, 2, CRI), (CONTAINERD_2, 3, CRI_V3)],
)
def test_without_a_main_file_it_is_created_for_the_installed_containerd(node, printed, version, plugin):
    run = Run(node, [RUNSC], printed=printed)
    assert run.statuses == [("k8s.sandbox.gvisor_handler", "fixed")]
    assert node.read(CONFIG) == f"version = {version}\n{IMPORT_LINE}"
    assert mode_of(node, CONFIG) == 0o644
    assert shown(node.read(DROP_IN)) == {
        "version": version,
        "plugins": {
            plugin: {
                "containerd": {
                    "runtimes": {
                        "runc": {"runtime_type": "io.containerd.runc.v2"},
                        "runsc": {"runtime_type": "io.containerd.runc.v2", "options": {"BinaryName": WRAPPER}},
                    }
                }
            }
        },
    }
    assert run.first["details"]["config_version"] == version
    assert run.first["details"]["plugin"] == plugin
    assert calls_of(run.module, "containerd")[0] == ["/usr/sbin/containerd", "--version"]


def test_a_version_given_needs_no_containerd_to_ask(node):
    module = StdinModule([RUNSC])
    FakeContainerd(node, version="containerd must not be asked").register(module)
    result = engine.run(module, node.node(module), [containerd.ContainerdRuntimes(containerd.Options(version=3))])
    assert result["controls"][0]["status"] == "fixed"
    assert node.read(CONFIG) == f"version = 3\n{IMPORT_LINE}"
    assert ["/usr/sbin/containerd", "--version"] not in module.calls


def test_version_3_keeps_the_handlers_in_the_runtime_plugin(node):
    main = f"""\
version = 3

[plugins."{CRI_V3}".containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"
  [plugins."{CRI_V3}".containerd.runtimes.runc.options]
    SystemdCgroup = true

[plugins."io.containerd.cri.v1.images".pinned_images]
  sandbox = "registry.k8s.io/pause:3.10"
"""
    node.write(CONFIG, main)
    run = Run(node, [RUNSC], printed=CONTAINERD_2)
    assert run.statuses == [("k8s.sandbox.gvisor_handler", "fixed")]
    assert node.read(CONFIG) == main.replace("version = 3\n", "version = 3\n" + IMPORT_LINE)
    assert shown(node.read(DROP_IN)) == {
        "version": 3,
        "plugins": {
            CRI_V3: {
                "containerd": {
                    "runtimes": {
                        "runc": {"runtime_type": "io.containerd.runc.v2", "options": {"SystemdCgroup": True}},
                        "runsc": RUNSC_TABLE,
                    }
                }
            }
        },
    }
    assert Run(node, [RUNSC], printed=CONTAINERD_2).statuses == [("k8s.sandbox.gvisor_handler", "pass")]


@pytest.mark.parametrize(
    ("main", "options", "message"),
    [
        pytest.param(
            '[plugins.cri]\n  sandbox_image = "k8s.gcr.io/pause:3.2"\n',
            {},
            f"{CONFIG} is configuration version 1: only versions 2 (containerd 1.x) and 3 (containerd 2.x) are "
            "handled; convert it with `containerd config migrate`",
            id="no-version",
        ),
        pytest.param("version = 1\n", {}, f"{CONFIG} is configuration version 1: only versions 2", id="version-1"),
        pytest.param("version = 4\n", {}, f"{CONFIG} is configuration version 4: only versions 2", id="version-4"),
        pytest.param(
            "version = 2\n", {"version": 3}, f"{CONFIG} is configuration version 2, not 3 as asked", id="asked-3"
        ),
        pytest.param("version = 2\n[plugins\n", {}, f"{CONFIG} is not valid TOML: ", id="invalid"),
        pytest.param(
            'version = 2\nimports = "/etc/containerd/conf.d"\n',
            {},
            f"{CONFIG}: imports must be a list of paths",
            id="imports-string",
        ),
    ],
)
def test_a_main_file_that_cannot_be_handled_is_an_error_and_nothing_is_written(node, main, options, message):
    node.write(CONFIG, main)
    before = node.snapshot()
    run = Run(node, [RUNSC], **options)
    assert run.statuses == [("k8s.sandbox.gvisor_handler", "error")]
    assert run.first["reason"].startswith(message)
    (difference,) = run.first["differences"]
    assert (difference["item"], difference["where"], difference["expected"]) == (
        "containerd's configuration",
        CONFIG,
        "readable",
    )
    assert difference["actual"].startswith(message)
    assert node.snapshot() == before
    assert run.module.calls == []


@pytest.mark.parametrize(
    ("printed", "rc", "message"),
    [
        ("containerd github.com/containerd/containerd unknown\n", 0, "containerd --version printed no version: "),
        ("", 1, "/usr/sbin/containerd --version failed with status 1"),
    ],
)
def test_an_unreadable_containerd_version_is_an_error(node, printed, rc, message):
    module = StdinModule([RUNSC])
    module.commands["containerd"] = lambda argv: (rc, printed, "segmentation fault" if rc else "")
    result = engine.run(module, node.node(module), [containerd.ContainerdRuntimes(containerd.Options())])
    assert result["controls"][0]["status"] == "error"
    assert result["controls"][0]["reason"].startswith(message)
    assert not node.file(CONFIG).exists()


def test_without_main_file_and_containerd_the_version_is_unknown(node):
    module = StdinModule([RUNSC])
    module.get_bin_path = lambda name, required=False, opt_dirs=None: None
    result = engine.run(module, node.node(module), [containerd.ContainerdRuntimes(containerd.Options())])
    assert result["controls"][0]["status"] == "error"
    assert result["controls"][0]["reason"].startswith(
        "containerd is not installed and there is no configuration to say its version"
    )
    assert module.calls == []


# -- the runtime must be installed ------------------------------------------------------------------


def test_missing_binaries_make_the_control_unfixable(tree):
    tree.write(CONFIG, KUBEADM)
    before = tree.snapshot()
    run = Run(tree, [RUNSC, kata()])
    assert run.statuses == [("k8s.sandbox.gvisor_handler", "error"), ("k8s.sandbox.kata_handler", "error")]
    assert run.first["reason"].startswith(f"{RUNSC_BIN} not installed: install the runtime first: ")
    assert {"item": RUNSC_BIN, "where": "binary", "expected": "installed", "actual": None} in run.first["differences"]
    assert run.result["controls"][1]["reason"].startswith(f"{KATA_BIN} not installed")
    assert run.result["actions"] == []
    assert tree.snapshot() == before
    assert run.module.calls == []
    check = Run(tree, [RUNSC], check_mode=True)
    assert check.statuses == [("k8s.sandbox.gvisor_handler", "drift")]


def test_only_the_control_missing_its_binary_is_unfixable(tree):
    tree.write(CONFIG, KUBEADM)
    tree.write(RUNSC_BIN, "", 0o755)
    run = Run(tree, [RUNSC, kata()])
    assert run.statuses == [("k8s.sandbox.gvisor_handler", "fixed"), ("k8s.sandbox.kata_handler", "error")]
    # The drop-in written for runsc carries kata's table too; containerd starts kata's shim only when a pod asks.
    assert "kata" in shown(tree.read(DROP_IN))["plugins"][CRI]["containerd"]["runtimes"]


# -- containerd config dump ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dump", "message"),
    [
        (
            "main_only",
            f"{DUMP_ACTION} failed: containerd config dump does not show the new settings: "
            f"containerd.runtimes.runsc (containerd config dump, plugin {CRI}): absent",
        ),
        ("fail", f"{DUMP_ACTION} failed: /usr/sbin/containerd --config"),
    ],
)
def test_a_dump_without_the_handler_puts_both_files_back(node, dump, message):
    node.write(CONFIG, KUBEADM)
    before = node.snapshot()
    with pytest.raises(engine.ApplyError) as error:
        Run(node, [RUNSC], dump=dump)
    assert str(error.value).startswith(message)
    assert str(error.value).endswith("undid 3 earlier change(s) of this run")
    assert node.read(CONFIG) == KUBEADM
    assert not node.file(DROP_IN).exists()
    assert not node.file(WRAPPER).exists()
    assert node.snapshot() == before


def test_a_dump_that_is_not_toml_puts_both_files_back(node):
    node.write(CONFIG, KUBEADM)
    before = node.snapshot()
    with pytest.raises(engine.ApplyError, match="containerd config dump is not valid TOML"):
        Run(node, [RUNSC], dump="garbage")
    assert node.snapshot() == before


def test_a_passing_configuration_that_containerd_does_not_show_is_an_error(node):
    node.write(CONFIG, KUBEADM)
    Run(node, [RUNSC])
    before = node.snapshot()
    run = Run(node, [RUNSC], dump="main_only")
    assert run.statuses == [("k8s.sandbox.gvisor_handler", "error")]
    assert run.first["reason"].startswith(
        "containerd does not show the settings of its files; another file may override them: "
        f"containerd.runtimes.runsc (containerd config dump, plugin {CRI}): absent"
    )
    assert run.result["actions"] == []
    assert node.snapshot() == before


def test_a_containerd_that_cannot_dump_a_passing_configuration_is_an_error(node):
    node.write(CONFIG, KUBEADM)
    Run(node, [RUNSC])
    run = Run(node, [RUNSC], dump="fail")
    assert run.statuses == [("k8s.sandbox.gvisor_handler", "error")]
    assert run.first["reason"].startswith("containerd cannot read its configuration: /usr/sbin/containerd --config")


def test_the_dump_check_can_be_switched_off(node):
    node.write(CONFIG, KUBEADM)
    run = Run(node, [RUNSC], dump="main_only", dump_check=False)
    assert run.statuses == [("k8s.sandbox.gvisor_handler", "fixed")]
    assert run.result["actions"] == [f"write {WRAPPER}", f"write {DROP_IN}", f"write {CONFIG}"]
    assert run.module.calls == []


# -- input refused before anything is read ---------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("runsc", "spec must be a mapping with handler and runtime_type"),
        ({"handler": "runsc", "runtime_type": "io.containerd.runc.v2", "handlers": []}, "unknown spec keys handlers"),
        (
            {"handler": "RunSC", "runtime_type": "io.containerd.runc.v2"},
            "handler 'RunSC' is not a RuntimeClass handler name",
        ),
        ({"handler": "run_sc", "runtime_type": "io.containerd.runc.v2"}, "handler 'run_sc' is not a RuntimeClass"),
        ({"runtime_type": "io.containerd.runc.v2"}, "handler None is not a RuntimeClass handler name"),
        ({"handler": "runsc", "runtime_type": "runc"}, "runtime_type 'runc' is not a containerd shim name"),
        (
            {"handler": "runsc", "runtime_type": "io.containerd.runc"},
            "runtime_type 'io.containerd.runc' is not a containerd",
        ),
        (
            {"handler": "runsc", "runtime_type": "io.containerd.runc.v2", "options": ["SystemdCgroup"]},
            "options must be a mapping",
        ),
        (
            {"handler": "runsc", "runtime_type": "io.containerd.runc.v2", "options": {"Root": {"a": 1}}},
            "options.Root must be a string, number, boolean or a list of them",
        ),
        (
            {"handler": "runsc", "runtime_type": "io.containerd.runc.v2", "settings": {"runtime_type": "x"}},
            "give runtime_type as its own spec key, not in settings",
        ),
        (
            {"handler": "runsc", "runtime_type": "io.containerd.runc.v2", "settings": {"options": {}}},
            "settings.options must be a string",
        ),
        (
            {"handler": "runsc", "runtime_type": "io.containerd.runc.v2", "inherit_options": "SystemdCgroup"},
            "inherit_options must list option names",
        ),
        (
            {"handler": "runsc", "runtime_type": "io.containerd.runc.v2", "binaries": ["runsc"]},
            "every binaries entry must be an absolute path, got 'runsc'",
        ),
        (
            {"handler": "runsc", "runtime_type": "io.containerd.runc.v2", "binaries": "/usr/bin/runsc"},
            "binaries must list absolute paths",
        ),
        (
            {"handler": "runsc", "runtime_type": "io.containerd.runc.v2", "gvisor": "ptrace"},
            "gvisor must be a mapping with binary and flags",
        ),
        (
            {
                "handler": "runsc",
                "runtime_type": "io.containerd.runc.v2",
                "gvisor": {"flags": {"systemd-cgroup": True}},
            },
            "runsc's --systemd-cgroup is set by containerd's shim",
        ),
        (
            {
                "handler": "runsc",
                "runtime_type": "io.containerd.runc.v2",
                "gvisor": {"flags": {"--platform": "ptrace"}},
            },
            "'--platform' is not a runsc flag name",
        ),
        (
            {"handler": "runsc", "runtime_type": "io.containerd.runc.v2", "gvisor": {"binary": "runsc"}},
            "gvisor.binary must be an absolute path",
        ),
        (
            {"handler": "runsc", "runtime_type": "io.containerd.runc.v2", "gvisor": {"wrapper": "wrappers/runsc"}},
            "gvisor.wrapper must be an absolute path",
        ),
        (
            {"handler": "runsc", "runtime_type": "io.containerd.kata.v2", "gvisor": {}},
            "gvisor needs runtime_type io.containerd.runsc.v1 (gVisor's shim) or io.containerd.runc.v2",
        ),
    ],
)
def test_bad_input_is_refused_before_anything_is_read(tree, spec, message):
    # A main file that cannot be read: had the family looked at it, the control would be an error result.
    tree.write(CONFIG, "version = 2\n[plugins\n")
    before = tree.snapshot()
    module = StdinModule([control("k8s.sandbox.bad", "containerd_runtime", spec)])
    with pytest.raises(ControlInputError) as error:
        engine.run(module, tree.node(module), [containerd.ContainerdRuntimes(containerd.Options())])
    assert str(error.value).startswith("control 'k8s.sandbox.bad': ")
    assert message in str(error.value)
    assert module.calls == []
    assert tree.snapshot() == before


def test_one_handler_is_wanted_by_one_control_only(tree):
    module = StdinModule([RUNSC, runsc("k8s.sandbox.gvisor_again")])
    with pytest.raises(ControlInputError) as error:
        engine.run(module, tree.node(module), [containerd.ContainerdRuntimes(containerd.Options())])
    assert str(error.value) == (
        "control 'k8s.sandbox.gvisor_again': handler runsc is also wanted by control 'k8s.sandbox.gvisor_handler'"
    )


def test_a_switched_off_control_is_not_looked_at(node):
    node.write(CONFIG, KUBEADM)
    off = {**RUNSC, "enabled": False, "reason": "no gVisor on this pool"}
    run = Run(node, [off])
    assert run.statuses == [("k8s.sandbox.gvisor_handler", "skipped")]
    assert run.first["reason"] == "switched off: no gVisor on this pool"
    assert node.read(CONFIG) == KUBEADM
    assert run.module.calls == []


# -- bugs ------------------------------------------------------------------------------------------


def test_a_main_file_without_a_final_newline_gets_a_valid_import(node):
    node.write(CONFIG, "version = 2")
    Run(node, [RUNSC])
    assert node.read(CONFIG) == f"version = 2\n{IMPORT_LINE}"


def test_a_comment_on_the_imports_line_is_kept(node):
    node.write(CONFIG, 'version = 2\nimports = ["/etc/containerd/site.toml"]  # site additions, see CHG-1234\n')
    Run(node, [RUNSC])
    assert node.read(CONFIG) == (
        f'version = 2\nimports = ["/etc/containerd/site.toml", "{DROP_IN}"]  # site additions, see CHG-1234\n'
    )


def test_a_glob_that_does_not_reach_into_conf_d_gets_the_drop_in_added(node):
    node.write(CONFIG, 'version = 2\nimports = ["/etc/containerd/*.toml"]\n')
    run = Run(node, [RUNSC])
    assert run.statuses == [("k8s.sandbox.gvisor_handler", "fixed")]
    assert node.read(CONFIG) == f'version = 2\nimports = ["/etc/containerd/*.toml", "{DROP_IN}"]\n'
