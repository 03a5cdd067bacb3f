# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""verified_download through AnsibleModule: install, idempotence, check and diff mode, mode-only
fixes, failures that install nothing, input refused before anything is touched."""

from __future__ import annotations

import hashlib
import json
import os
import stat

import pytest
import yaml
from ansible.module_utils.testing import patch_module_args

from ansible_collections.nodeguard.hardening.plugins.module_utils import _download
from ansible_collections.nodeguard.hardening.plugins.modules import verified_download

from ..module_utils.download.artifact_server import listing, make_tar, serving, sha256, sha512

BINARY = b"\x7fELF runsc 20240212 " * 2048
OLD = b"\x7fELF runsc 20231113 " * 2048


def run_main(args, capsys):
    """Run the module; an option given as None is left out, as Ansible leaves out an omitted one."""
    args = {key: value for key, value in args.items() if value is not None}
    with patch_module_args(args), pytest.raises(SystemExit) as exit_info:
        verified_download.main()
    return exit_info.value.code, json.loads(capsys.readouterr().out)


@pytest.fixture
def server(monkeypatch):
    with serving(monkeypatch) as running:
        yield running


@pytest.fixture
def release(server, tmp_path):
    """gVisor's layout: runsc and runsc.sha512 below release/VERSION/ARCH/."""
    arch = _download.MACHINES[os.uname().machine][0]
    server.add(f"/release/20240212/{arch}/runsc", BINARY)
    server.add(f"/release/20240212/{arch}/runsc.sha512", f"{hashlib.sha512(BINARY).hexdigest()}  runsc\n".encode())
    dest = tmp_path / "usr/local/bin/runsc"
    args = {
        "url": server.url("/release/{version}/{arch}/runsc"),
        "checksum_url": server.url("/release/{version}/{arch}/runsc.sha512"),
        "version": "20240212",
        "dest": str(dest),
    }
    return args, dest, f"/release/20240212/{arch}/runsc"


def test_installs_then_changes_nothing_and_downloads_nothing(server, release, capsys):
    args, dest, path = release
    rc, out = run_main(args, capsys)
    assert rc == 0, out
    assert out["changed"] is True
    assert dest.read_bytes() == BINARY
    assert stat.S_IMODE(dest.stat().st_mode) == 0o755
    assert out["dest"] == str(dest)
    assert out["source"] == server.url(path)
    assert out["checksum"] == sha512(BINARY)
    (control,) = out["controls"]
    assert control["id"] == "artifact.runsc"
    assert control["status"] == "fixed"
    assert control["differences"] == [{"item": str(dest), "where": "file", "expected": "present", "actual": None}]
    assert out["summary"]["fixed"] == 1
    assert listing(dest.parent) == ["runsc"]

    rc, out = run_main(args, capsys)
    assert rc == 0, out
    assert out["changed"] is False
    assert out["controls"][0]["status"] == "pass"
    assert out["summary"]["pass"] == 1
    assert server.asked(path) == 1


def test_check_mode_reads_the_checksum_downloads_nothing_and_shows_the_diff(server, release, capsys):
    args, dest, path = release
    rc, out = run_main({**args, "_ansible_check_mode": True, "_ansible_diff": True}, capsys)
    assert rc == 0, out
    assert out["changed"] is True
    assert out["controls"][0]["status"] == "drift"
    assert server.asked(path + ".sha512") == 1
    assert server.asked(path) == 0
    assert not dest.parent.exists()
    (diff,) = out["diff"]
    assert diff["before_header"] == f"{dest} (absent)"
    assert diff["before"] == ""
    assert diff["after"].startswith(f"checksum: {sha512(BINARY)}\nmode: 0755\n")


def test_a_replaced_file_shows_both_digests_in_the_diff(server, release, capsys):
    args, dest, _path = release
    dest.parent.mkdir(parents=True)
    dest.write_bytes(OLD)
    dest.chmod(0o755)
    rc, out = run_main({**args, "_ansible_diff": True}, capsys)
    assert rc == 0, out
    assert dest.read_bytes() == BINARY
    (diff,) = out["diff"]
    assert f"checksum: {sha512(OLD)}" in diff["before"]
    assert f"checksum: {sha512(BINARY)}" in diff["after"]
    assert out["controls"][0]["differences"] == [
        {"item": str(dest), "where": "digest", "expected": sha512(BINARY), "actual": sha512(OLD)}
    ]
    assert listing(dest.parent) == ["runsc"]


def test_only_the_mode_wrong_is_only_a_chmod(server, release, capsys):
    args, dest, path = release
    dest.parent.mkdir(parents=True)
    dest.write_bytes(BINARY)
    dest.chmod(0o600)
    rc, out = run_main({**args, "mode": "0750"}, capsys)
    assert rc == 0, out
    assert out["changed"] is True
    assert stat.S_IMODE(dest.stat().st_mode) == 0o750
    assert out["controls"][0]["differences"] == [
        {"item": str(dest), "where": "mode", "expected": "0750", "actual": "0600"}
    ]
    assert server.asked(path) == 0


def test_a_wrong_checksum_fails_and_installs_nothing(server, release, capsys):
    args, dest, path = release
    dest.parent.mkdir(parents=True)
    dest.write_bytes(OLD)
    published = sha256(b"the build the project published")
    rc, out = run_main({**args, "checksum_url": None, "checksum": published}, capsys)
    assert rc == 1
    assert out["changed"] is False
    for part in ("runsc", server.url(path), sha256(BINARY), published, "nothing was installed"):
        assert part in out["msg"]
    assert out["controls"][0]["status"] == "error"
    assert out["controls"][0]["reason"] == out["msg"]
    assert listing(dest.parent) == ["runsc"]
    assert dest.read_bytes() == OLD


def test_an_unreachable_checksum_url_fails_naming_it(server, release, capsys):
    args, _dest, _path = release
    rc, out = run_main({**args, "checksum_url": server.url("/nope.sha512")}, capsys)
    assert rc == 1
    assert server.url("/nope.sha512") in out["msg"]
    assert "HTTP 404" in out["msg"]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"src": "/srv/runsc"}, "mutually exclusive: url|src|controller_src"),
        ({"checksum": "sha512:abc"}, "mutually exclusive: checksum|checksum_url"),
        ({"checksum_url": None, "checksum": "sha512:abc"}, "128 hex digits"),
        ({"url": "https://example.invalid/{os}/runsc"}, "uses {os}"),
        ({"version": None}, "give version too"),
        ({"mode": "u+x"}, "octal string"),
        ({"timeout": 0}, "1 second or more"),
        ({"url": None, "controller_src": "files/runsc"}, "the action plugin copies over"),
        ({"dest": "/opt", "unpack": True}, "system tree"),
    ],
)
def test_bad_input_fails_before_anything_is_touched(server, release, capsys, changes, message):
    args, dest, _path = release
    rc, out = run_main({**args, **changes}, capsys)
    assert rc == 1
    assert message in out["msg"]
    assert server.requests == []
    assert not dest.parent.exists()


def test_unpacks_an_archive_once(server, tmp_path, capsys):
    data = make_tar(
        [
            {"name": "./opt/kata/bin/kata-runtime", "data": b"runtime", "mode": 0o755},
            {"name": "./opt/kata/share/defaults/kata-containers/configuration.toml", "data": b"[hypervisor.qemu]\n"},
        ],
        "xz",
    )
    url = server.add("/kata-static-3.2.0-amd64.tar.xz", data)
    dest = tmp_path / "opt/kata"
    args = {"url": url, "checksum": sha256(data), "dest": str(dest), "unpack": True, "strip_components": 2}
    rc, out = run_main(args, capsys)
    assert rc == 0, out
    assert out["changed"] is True
    assert out["controls"][0]["id"] == "artifact.kata"
    assert (dest / "bin/kata-runtime").read_bytes() == b"runtime"
    assert json.loads((dest / ".nodeguard-artifact.json").read_text())["digest"] == sha256(data)[7:]
    rc, out = run_main(args, capsys)
    assert rc == 0, out
    assert out["changed"] is False
    assert server.asked("/kata-static-3.2.0-amd64.tar.xz") == 1
    assert os.listdir(tmp_path / "opt") == ["kata"]


def test_name_makes_the_control_id(server, release, capsys):
    args, _dest, _path = release
    rc, out = run_main({**args, "name": "gVisor runsc 2024", "_ansible_check_mode": True}, capsys)
    assert rc == 0, out
    assert out["controls"][0]["id"] == "artifact.gvisor-runsc-2024"


def test_argument_spec_matches_the_documentation():
    documented = yaml.safe_load(verified_download.DOCUMENTATION)["options"]
    spec = verified_download.argument_spec()
    assert set(documented) == set(spec)
    for name, option in spec.items():
        doc = documented[name]
        assert doc["type"] == option["type"], name
        assert doc.get("required", False) == option.get("required", False), name
        assert doc.get("default") == option.get("default"), name
        assert doc.get("choices") == option.get("choices"), name
    for key in ("EXAMPLES", "RETURN"):
        assert yaml.safe_load(getattr(verified_download, key))
