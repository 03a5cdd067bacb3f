# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The artifacts family against a loopback HTTP server: verified installs, idempotence, a bad
checksum that installs nothing, the undo of earlier installs, refused input."""

from __future__ import annotations

import hashlib
import stat

import pytest

from ansible_collections.nodeguard.hardening.plugins.module_utils import _download
from ansible_collections.nodeguard.hardening.plugins.module_utils._controls import ControlInputError
from ansible_collections.nodeguard.hardening.plugins.module_utils._sandbox import artifacts
from ansible_collections.nodeguard.hardening.plugins.module_utils._system import engine

from ..download.artifact_server import listing, serving, sha512
from ..system.conftest import control
from .conftest import StdinModule

RUNSC = b"\x7fELF runsc 20240729.0 " * 512
SHIM = b"\x7fELF containerd-shim-runsc-v1 20240729.0 " * 512
CID = "k8s.sandbox.gvisor_release"


@pytest.fixture
def server(monkeypatch):
    with serving(monkeypatch) as running:
        yield running
    _download.discard_backups()


def publish(server, name, data, published=None):
    """The file and its NAME.sha512 as gVisor publishes them ('DIGEST  NAME')."""
    server.add(f"/release/{name}", data)
    digest = hashlib.sha512(published if published is not None else data).hexdigest()
    server.add(f"/release/{name}.sha512", f"{digest}  {name}\n".encode())
    return {
        "name": name,
        "url": server.url(f"/release/{name}"),
        "checksum_url": server.url(f"/release/{name}.sha512"),
        "dest": f"/usr/local/bin/{name}",
        "mode": "0755",
    }


def run(tree, controls, *, check_mode=False):
    module = StdinModule(controls, check_mode=check_mode)
    return engine.run(module, tree.node(module), [artifacts.Artifacts()])


def release(*entries, cid=CID):
    return control(cid, "artifacts", {"artifacts": list(entries)})


def test_a_verified_file_is_installed_and_a_second_run_passes(tree, server):
    entry = publish(server, "runsc", RUNSC)
    result = run(tree, [release(entry)])
    (outcome,) = result["controls"]
    assert outcome["status"] == "fixed"
    dest = tree.file("/usr/local/bin/runsc")
    assert dest.read_bytes() == RUNSC
    assert stat.S_IMODE(dest.stat().st_mode) == 0o755
    assert listing(dest.parent) == ["runsc"]
    assert outcome["differences"] == [
        {"item": "/usr/local/bin/runsc", "where": "file", "expected": "present", "actual": None}
    ]
    assert outcome["expected"] == {"/usr/local/bin/runsc": {"checksum": sha512(RUNSC), "source": entry["url"]}}
    assert outcome["actual"]["/usr/local/bin/runsc"]["digest"] == hashlib.sha512(RUNSC).hexdigest()
    assert result["actions"] == [f"install runsc at /usr/local/bin/runsc from {entry['url']}, verified by sha512"]
    assert result["diff"] == [
        {
            "before_header": "/usr/local/bin/runsc (checksum)",
            "after_header": "/usr/local/bin/runsc (checksum)",
            "before": "",
            "after": sha512(RUNSC) + "\n",
        }
    ]
    assert server.asked("/release/runsc") == 1

    again = run(tree, [release(entry)])
    assert again["controls"][0]["status"] == "pass"
    assert again["changed"] is False
    assert again["actions"] == []
    assert server.asked("/release/runsc") == 1


def test_check_mode_reads_the_checksum_and_downloads_nothing(tree, server):
    entry = publish(server, "runsc", RUNSC)
    before = tree.snapshot()
    result = run(tree, [release(entry)], check_mode=True)
    assert result["controls"][0]["status"] == "drift"
    assert result["changed"] is True
    assert server.asked("/release/runsc.sha512") == 1
    assert server.asked("/release/runsc") == 0
    assert tree.snapshot() == before
    assert not tree.file("/usr/local/bin").exists()


def test_a_file_with_another_digest_is_replaced(tree, server):
    entry = publish(server, "runsc", RUNSC)
    tree.write("/usr/local/bin/runsc", "an older runsc", 0o755)
    result = run(tree, [release(entry)])
    assert result["controls"][0]["status"] == "fixed"
    assert result["controls"][0]["differences"] == [
        {
            "item": "/usr/local/bin/runsc",
            "where": "digest",
            "expected": sha512(RUNSC),
            "actual": sha512(b"an older runsc"),
        }
    ]
    assert tree.file("/usr/local/bin/runsc").read_bytes() == RUNSC
    # The old file is kept beside it until the module ends the run (so the run could still be undone).
    (backup,) = [name for name in listing(tree.file("/usr/local/bin")) if name != "runsc"]
    assert backup.startswith(".runsc.nodeguard-previous-")
    _download.discard_backups()
    assert listing(tree.file("/usr/local/bin")) == ["runsc"]


def test_a_bad_checksum_fails_and_installs_nothing(tree, server):
    entry = publish(server, "runsc", RUNSC, published=b"the build gVisor published")
    with pytest.raises(engine.ApplyError) as error:
        run(tree, [release(entry)])
    message = str(error.value)
    assert message.startswith(f"install runsc at /usr/local/bin/runsc from {entry['url']}, verified by sha512 failed: ")
    assert (
        f"{sha512(RUNSC)}, but {sha512(b'the build gVisor published')} was expected; nothing was installed" in message
    )
    assert message.endswith("nothing had been changed")
    assert not tree.file("/usr/local/bin/runsc").exists()
    # The directories made for it are gone too.
    assert not tree.file("/usr/local").exists()


def test_a_later_failure_takes_back_what_the_run_installed(tree, server):
    good = publish(server, "runsc", RUNSC)
    bad = publish(server, "containerd-shim-runsc-v1", SHIM, published=b"another shim")
    tree.write("/usr/local/bin/runsc", "the runsc before", 0o755)
    with pytest.raises(engine.ApplyError) as error:
        run(tree, [release(good, bad)])
    assert str(error.value).endswith("undid 1 earlier change(s) of this run")
    assert tree.read("/usr/local/bin/runsc") == "the runsc before"
    assert listing(tree.file("/usr/local/bin")) == ["runsc"]


def test_an_unreadable_published_checksum_is_an_error(tree, server):
    entry = publish(server, "runsc", RUNSC)
    entry["checksum_url"] = server.url("/release/missing.sha512")
    result = run(tree, [release(entry)])
    (outcome,) = result["controls"]
    assert outcome["status"] == "error"
    assert outcome["reason"].startswith(
        f"runsc: the published checksum at {entry['checksum_url']} could not be read: the server answered HTTP 404"
    )
    (difference,) = outcome["differences"]
    assert difference["item"] == "runsc" and difference["where"] == entry["checksum_url"]
    assert difference["expected"] == "published checksum"
    # What went wrong is the actual value, so that an audit (drift) says it too.
    assert "the server answered HTTP 404" in difference["actual"]
    assert result["actions"] == []
    assert server.asked("/release/runsc") == 0


def test_a_file_on_the_node_is_installed_from_src(tree, server):
    tree.write("/srv/gvisor/runsc", "runsc from the mirror")
    digest = hashlib.sha512(b"runsc from the mirror").hexdigest()
    entry = {"src": "/srv/gvisor/runsc", "checksum": f"sha512:{digest}", "dest": "/usr/local/bin/runsc"}
    result = run(tree, [release(entry)])
    assert result["controls"][0]["status"] == "fixed"
    assert tree.read("/usr/local/bin/runsc") == "runsc from the mirror"
    assert run(tree, [release(entry)])["controls"][0]["status"] == "pass"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ([{"dest": "/usr/local/bin/runsc"}], "spec must be {artifacts: [files to download and verify]}"),
        ({"artifacts": [], "extra": 1}, "spec must be {artifacts: [files to download and verify]}"),
        ({"artifacts": {"dest": "/usr/local/bin/runsc"}}, "spec must be {artifacts: [files to download and verify]}"),
        ({"artifacts": []}, "spec.artifacts lists no file"),
        ({"artifacts": ["runsc"]}, "artifacts[0] must be a mapping"),
        (
            {"artifacts": [{"url": "https://example.org/runsc", "dest": "/usr/local/bin/runsc"}]},
            "artifacts[0]: give exactly one of checksum",
        ),
        (
            {
                "artifacts": [
                    {
                        "url": "https://example.org/{os}/runsc",
                        "checksum_url": "https://example.org/x.sha512",
                        "dest": "/usr/local/bin/runsc",
                    }
                ]
            },
            "uses {os}",
        ),
    ],
)
def test_bad_input_is_refused_before_anything_is_fetched(tree, spec, message):
    module = StdinModule([control(CID, "artifacts", spec)])
    with pytest.raises(ControlInputError) as error:
        engine.run(module, tree.node(module), [artifacts.Artifacts()])
    assert str(error.value).startswith(f"control {CID!r}: ")
    assert message in str(error.value)


def test_one_dest_is_installed_by_one_control_only(tree, server):
    entry = publish(server, "runsc", RUNSC)
    module = StdinModule([release(entry), release(entry, cid="k8s.sandbox.gvisor_again")])
    with pytest.raises(ControlInputError) as error:
        engine.run(module, tree.node(module), [artifacts.Artifacts()])
    assert str(error.value) == (
        f"control 'k8s.sandbox.gvisor_again': artifacts[0]: /usr/local/bin/runsc is also installed by control {CID!r}"
    )
    assert server.requests == []


def test_a_directory_where_the_file_goes_is_an_error_result(tree, server):
    entry = publish(server, "runsc", RUNSC)
    tree.file("/usr/local/bin/runsc").mkdir(parents=True)
    result = run(tree, [release(entry)])
    assert result["controls"][0]["status"] == "error"
    assert "/usr/local/bin/runsc is a directory" in result["controls"][0]["reason"]
