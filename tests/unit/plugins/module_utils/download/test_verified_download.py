# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The verified download library: input checks, published digests, what is installed, installs
that verify before they touch dest, archives unpacked safely, undo."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat

import pytest

from ansible_collections.nodeguard.hardening.plugins.module_utils import _download as d
from ansible_collections.nodeguard.hardening.plugins.module_utils._controls import ControlInputError

from .artifact_server import FakeModule, listing, make_tar, serving, sha256, sha512

BINARY = b"\x7fELF runsc build " * 4096
OTHER = b"\x7fELF another build " * 4096
SHA = "sha256:" + "a" * 64


def spec(**changes):
    base = {"dest": "/usr/local/bin/runsc", "url": "https://example.invalid/runsc", "checksum": SHA}
    base.update(changes)
    return {key: value for key, value in base.items() if value is not None}


def artifact(dest, **changes):
    return d.parse(spec(dest=str(dest), **changes), "test")


@pytest.fixture
def server(monkeypatch):
    with serving(monkeypatch) as running:
        yield running


@pytest.fixture(autouse=True)
def no_backups_left():
    yield
    d.discard_backups()


# --- parse ---------------------------------------------------------------------------------------


def test_parse_fills_defaults_and_normalises():
    parsed = d.parse(spec(checksum="SHA512:" + "AB" * 64, dest="/usr/local//bin/runsc"), "where")
    assert parsed == d.Artifact(
        name="runsc",
        dest="/usr/local/bin/runsc",
        url="https://example.invalid/runsc",
        checksum="sha512:" + "ab" * 64,
        mode=0o755,
    )


@pytest.mark.parametrize(
    ("given", "mode"), [("0755", 0o755), ("644", 0o644), ("0o700", 0o700), (0o750, 0o750), (None, 0o755)]
)
def test_parse_mode(given, mode):
    assert d.parse(spec(mode=given), "where").mode == mode


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"dest": "usr/local/bin/runsc"}, "must be the absolute path of the file"),
        ({"dest": "/"}, "must not be '/'"),
        ({"dest": "/opt", "unpack": True}, "system tree"),
        ({"dest": "/usr/local/", "unpack": True}, "system tree"),
        ({"dest": "/proc/sys/kernel/x"}, "kernel interface"),
        ({"dest": "/opt/../etc/runsc"}, "plain absolute path"),
        ({"dest": "/usr/local/bin/"}, "ends with '/'"),
        ({"src": "/srv/runsc"}, "both were given"),
        ({"url": None}, "neither was given"),
        ({"checksum_url": "https://example.invalid/runsc.sha512"}, "both were given"),
        ({"checksum": None}, "give exactly one of checksum"),
        ({"checksum": "sha256:" + "a" * 63}, "64 hex digits"),
        ({"checksum": "sha256:" + "g" * 64}, "64 hex digits"),
        ({"checksum": "md5:" + "a" * 32}, "'sha256:'"),
        ({"checksum": SHA, "algorithm": "sha512"}, "algorithm says sha512"),
        ({"algorithm": "md5"}, "give sha256 or sha512"),
        ({"url": "https://example.invalid/{os}/runsc"}, "uses {os}"),
        ({"url": "https://example.invalid/{arch!r}/runsc"}, "uses {arch}"),
        ({"url": "https://example.invalid/{version}/runsc"}, "give version too"),
        ({"url": "https://example.invalid/{arch/runsc"}, "unbalanced braces"),
        ({"url": "ftp://example.invalid/runsc"}, "http://, https:// or file://"),
        ({"url": "file://mirror/runsc"}, "absolute path on the node"),
        ({"url": "https:///runsc"}, "names no host"),
        ({"url": None, "src": "srv/runsc"}, "absolute path on the node"),
        ({"mode": "rwxr-xr-x"}, "octal string"),
        ({"mode": 0o17777}, "out of range"),
        ({"mode": True}, "octal string"),
        ({"strip_components": -1, "unpack": True}, "0 or more"),
        ({"strip_components": 1}, "archives only"),
        ({"version": "1.0/../x"}, "release name"),
        ({"unpack": "yes"}, "true or false"),
        ({"dest": 7}, "must be a string"),
        ({"sha": "x"}, "unknown option(s) sha"),
    ],
)
def test_parse_refuses_with_a_message_that_says_what_to_give(changes, message):
    with pytest.raises(ControlInputError) as info:
        d.parse(spec(**changes), "artifacts[2]")
    assert str(info.value).startswith("artifacts[2]: ")
    assert message in str(info.value)


def test_parse_masks_a_password_in_the_url():
    parsed = d.parse(spec(url="https://fleet:s3cret@mirror.example.invalid/runsc"), "where")
    assert parsed.source == "https://fleet:********@mirror.example.invalid/runsc"


# --- resolve -------------------------------------------------------------------------------------

TEMPLATED = {
    "url": "https://example.invalid/{version}/{arch}/runsc-{goarch}",
    "checksum": None,
    "checksum_url": "https://example.invalid/{version}/{arch}/runsc.sha512",
    "version": "20240212",
}


@pytest.mark.parametrize(
    ("machine", "arch", "goarch"),
    [
        ("x86_64", "x86_64", "amd64"),
        ("amd64", "x86_64", "amd64"),
        ("aarch64", "aarch64", "arm64"),
        ("arm64", "aarch64", "arm64"),
    ],
)
def test_resolve_fills_the_placeholders(machine, arch, goarch):
    resolved = d.resolve(d.parse(spec(**TEMPLATED), "where"), machine)
    assert resolved.url == f"https://example.invalid/20240212/{arch}/runsc-{goarch}"
    assert resolved.checksum_url == f"https://example.invalid/20240212/{arch}/runsc.sha512"


def test_resolve_names_an_unknown_machine():
    with pytest.raises(ControlInputError, match="'riscv64'"):
        d.resolve(d.parse(spec(**TEMPLATED), "where"), "riscv64")


def test_resolve_without_arch_placeholders_works_on_any_machine():
    parsed = d.parse(spec(url="https://example.invalid/{version}/runsc", version="1.2"), "where")
    assert d.resolve(parsed, "riscv64").url == "https://example.invalid/1.2/runsc"


def test_resolve_defaults_to_this_machine():
    resolved = d.resolve(d.parse(spec(url="https://example.invalid/{arch}/runsc"), "where"))
    assert resolved.url == f"https://example.invalid/{d.MACHINES[os.uname().machine][0]}/runsc"


# --- expected_digest -----------------------------------------------------------------------------


def checksum_url_artifact(server, body, path="/sums", url_path="/rel/runsc", **changes):
    server.add(path, body.encode() if isinstance(body, str) else body)
    return d.parse(spec(url=server.url(url_path), checksum=None, checksum_url=server.url(path), **changes), "t")


def test_expected_digest_of_a_checksum_given_directly_reads_nothing(server):
    assert d.expected_digest(FakeModule(), d.parse(spec(), "t")) == ("sha256", "a" * 64)
    assert server.requests == []


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (hashlib.sha256(BINARY).hexdigest() + "\n", sha256(BINARY)),
        (hashlib.sha512(BINARY).hexdigest().upper() + "  runsc\n", sha512(BINARY)),
        (f"{'b' * 128}  runsc.sha512\n{hashlib.sha512(BINARY).hexdigest()} *runsc\n", sha512(BINARY)),
        (f"# sums\n{'c' * 64}  other\n\n{hashlib.sha256(BINARY).hexdigest()}  ./dist/runsc\n", sha256(BINARY)),
        (f"SHA512 (runsc) = {hashlib.sha512(BINARY).hexdigest()}\n", sha512(BINARY)),
        (f"{hashlib.sha256(BINARY).hexdigest()}  runsc-linux-amd64\n", sha256(BINARY)),
    ],
    ids=["bare", "one-line", "binary-marker", "comment-and-path", "bsd", "single-line-other-name"],
)
def test_expected_digest_from_a_published_checksum_file(server, body, expected):
    algorithm, digest = d.expected_digest(FakeModule(), checksum_url_artifact(server, body))
    assert f"{algorithm}:{digest}" == expected


def test_expected_digest_from_a_file_url(tmp_path):
    sums = tmp_path / "SHA256SUMS"
    sums.write_text(f"{'c' * 64}  kata.tar.xz\n{'d' * 64}  runsc\n")
    parsed = d.parse(spec(url="file:///srv/runsc", checksum=None, checksum_url=f"file://{sums}"), "t")
    assert d.expected_digest(FakeModule(), parsed) == ("sha256", "d" * 64)


@pytest.mark.parametrize(
    ("body", "changes", "message"),
    [
        (f"{'c' * 64}  kata\n{'d' * 64}  runc\n", {}, "none for runsc (it lists kata, runc)"),
        ("c" * 40 + "\n", {}, "40 hex digits"),
        ("c" * 64 + "\n", {"algorithm": "sha512"}, "gives a sha256 digest but algorithm says sha512"),
        ("<html>Not here</html>\n", {}, "neither a digest"),
        (f"{'c' * 64}  runsc\n{'d' * 64}  runsc\n", {}, "different digests"),
        (b"\xff\xfe\x00", {}, "not text"),
    ],
)
def test_expected_digest_refuses_a_checksum_file_it_cannot_use(server, body, changes, message):
    parsed = checksum_url_artifact(server, body, **changes)
    with pytest.raises(d.DownloadError) as info:
        d.expected_digest(FakeModule(), parsed)
    assert message in str(info.value)
    assert server.url("/sums") in str(info.value)


def test_expected_digest_names_the_url_and_the_http_status(server):
    parsed = d.parse(spec(url=server.url("/runsc"), checksum=None, checksum_url=server.url("/missing.sha512")), "t")
    with pytest.raises(d.DownloadError) as info:
        d.expected_digest(FakeModule(), parsed)
    assert server.url("/missing.sha512") in str(info.value)
    assert "HTTP 404" in str(info.value)


def test_expected_digest_names_a_refused_connection():
    parsed = d.parse(spec(checksum=None, checksum_url="http://127.0.0.1:9/runsc.sha512"), "t")
    with pytest.raises(d.DownloadError, match=r"http://127\.0\.0\.1:9/runsc\.sha512 could not be read"):
        d.expected_digest(FakeModule(), parsed, timeout=5)


# --- installed and differences -------------------------------------------------------------------


def test_installed_and_differences_of_a_missing_file(tmp_path):
    parsed = artifact(tmp_path / "bin" / "runsc", checksum=sha256(BINARY))
    state = d.installed(parsed, "sha256")
    assert state["present"] is False
    assert state["digest"] is None
    assert state["mode"] is None
    assert d.differences(parsed, ("sha256", sha256(BINARY)[7:]), state) == [
        {"item": parsed.dest, "where": "file", "expected": "present", "actual": None}
    ]


def test_differences_say_what_differs(tmp_path):
    path = tmp_path / "runsc"
    path.write_bytes(OTHER)
    path.chmod(0o700)
    parsed = artifact(path, checksum=sha512(BINARY))
    state = d.installed(parsed, "sha512")
    assert state == {
        "present": True,
        "digest": hashlib.sha512(OTHER).hexdigest(),
        "algorithm": "sha512",
        "mode": "0700",
        "owner": "0:0" if os.geteuid() == 0 else None,
    }
    assert d.differences(parsed, ("sha512", sha512(BINARY)[7:]), state) == [
        {"item": str(path), "where": "digest", "expected": sha512(BINARY), "actual": sha512(OTHER)},
        {"item": str(path), "where": "mode", "expected": "0755", "actual": "0700"},
    ]


def test_installed_reads_below_root(tmp_path):
    (tmp_path / "usr/local/bin").mkdir(parents=True)
    (tmp_path / "usr/local/bin/runsc").write_bytes(BINARY)
    (tmp_path / "usr/local/bin/runsc").chmod(0o755)
    parsed = d.parse(spec(checksum=sha256(BINARY)), "t")
    state = d.installed(parsed, "sha256", root=str(tmp_path) + "/")
    assert d.differences(parsed, ("sha256", sha256(BINARY)[7:]), state) == []


def test_installed_refuses_a_directory_where_the_file_goes(tmp_path):
    with pytest.raises(d.DownloadError, match="is a directory"):
        d.installed(artifact(tmp_path), "sha256")


def test_installed_archive_digest_comes_from_the_marker(tmp_path):
    dest = tmp_path / "kata"
    parsed = artifact(dest, unpack=True, checksum=sha256(b"x"))
    dest.mkdir(mode=0o755)
    dest.chmod(0o755)
    assert d.installed(parsed, "sha256")["digest"] is None
    assert d.differences(parsed, ("sha256", "e" * 64), d.installed(parsed, "sha256")) == [
        {"item": str(dest), "where": "digest", "expected": "sha256:" + "e" * 64, "actual": None}
    ]
    (dest / d.MARKER).write_text(json.dumps({"source": "x", "algorithm": "sha512", "digest": "f" * 128}))
    state = d.installed(parsed, "sha256")
    assert (state["digest"], state["algorithm"]) == ("f" * 128, "sha512")
    assert d.differences(parsed, ("sha256", "e" * 64), state)[0]["actual"] == "sha512:" + "f" * 128


# --- install: files ------------------------------------------------------------------------------


def file_artifact(server, tmp_path, data=BINARY, digest=None, **changes):
    url = server.add("/rel/runsc", data)
    dest = tmp_path / "node" / "usr" / "local" / "bin" / "runsc"
    parsed = artifact(dest, url=url, checksum=digest or sha512(data), **changes)
    return parsed, dest


def test_install_puts_a_verified_file_in_place(server, tmp_path):
    parsed, dest = file_artifact(server, tmp_path, mode="0750")
    d.install(FakeModule(), parsed, d.expected_digest(FakeModule(), parsed))
    assert dest.read_bytes() == BINARY
    assert stat.S_IMODE(dest.stat().st_mode) == 0o750
    assert stat.S_IMODE(dest.parent.stat().st_mode) == 0o755
    assert listing(dest.parent) == ["runsc"]
    if os.geteuid() == 0:
        assert (dest.stat().st_uid, dest.stat().st_gid) == (0, 0)


def test_wrong_checksum_installs_nothing_and_leaves_nothing(server, tmp_path):
    parsed, dest = file_artifact(server, tmp_path, digest=sha512(OTHER))
    dest.parent.mkdir(parents=True)
    dest.write_bytes(OTHER)
    with pytest.raises(d.DownloadError) as info:
        d.install(FakeModule(), parsed, ("sha512", sha512(OTHER)[7:]))
    message = str(info.value)
    for part in ("runsc", parsed.url, sha512(BINARY), sha512(OTHER), "nothing was installed"):
        assert part in message
    assert listing(dest.parent) == ["runsc"]
    assert dest.read_bytes() == OTHER


def test_wrong_checksum_removes_the_directories_it_created(server, tmp_path):
    parsed, _dest = file_artifact(server, tmp_path, digest=sha512(OTHER))
    with pytest.raises(d.DownloadError, match="nothing was installed"):
        d.install(FakeModule(), parsed, ("sha512", sha512(OTHER)[7:]))
    assert listing(tmp_path) == []


@pytest.mark.parametrize("how", ["broken", "unsized"])
def test_a_download_that_breaks_midway_leaves_nothing(server, tmp_path, how):
    parsed, dest = file_artifact(server, tmp_path)
    getattr(server, how).add("/rel/runsc")
    dest.parent.mkdir(parents=True)
    with pytest.raises(d.DownloadError) as info:
        d.install(FakeModule(), parsed, d.expected_digest(FakeModule(), parsed))
    assert "nothing was installed" in str(info.value)
    if how == "broken":
        assert f"broke off after {len(BINARY) // 2} of {len(BINARY)} bytes" in str(info.value)
    assert server.asked("/rel/runsc") == 1
    assert listing(dest.parent) == []


def test_a_missing_url_fails_naming_the_status(server, tmp_path):
    parsed = artifact(tmp_path / "runsc", url=server.url("/nope"), checksum=sha512(BINARY))
    with pytest.raises(d.DownloadError, match=r"reading http://127\.0\.0\.1:\d+/nope failed: .*HTTP 404"):
        d.install(FakeModule(), parsed, ("sha512", sha512(BINARY)[7:]))
    assert listing(tmp_path) == []


def test_undo_puts_the_previous_file_back_and_discard_drops_the_copy(server, tmp_path):
    parsed, dest = file_artifact(server, tmp_path)
    dest.parent.mkdir(parents=True)
    dest.write_bytes(OTHER)
    dest.chmod(0o700)
    undo = d.install(FakeModule(), parsed, d.expected_digest(FakeModule(), parsed))
    assert dest.read_bytes() == BINARY
    assert len(listing(dest.parent)) == 2  # the hidden copy undo needs
    undo()
    assert dest.read_bytes() == OTHER
    assert stat.S_IMODE(dest.stat().st_mode) == 0o700
    assert listing(dest.parent) == ["runsc"]
    undo()  # a second call does nothing
    assert dest.read_bytes() == OTHER


def test_discard_backups_keeps_the_new_file(server, tmp_path):
    parsed, dest = file_artifact(server, tmp_path)
    dest.parent.mkdir(parents=True)
    dest.write_bytes(OTHER)
    undo = d.install(FakeModule(), parsed, d.expected_digest(FakeModule(), parsed))
    d.discard_backups()
    assert listing(dest.parent) == ["runsc"]
    with pytest.raises(d.DownloadError, match="already discarded"):
        undo()
    assert dest.read_bytes() == BINARY


def test_undo_of_a_first_install_removes_the_file_and_the_directories_made_for_it(server, tmp_path):
    parsed, _dest = file_artifact(server, tmp_path)
    undo = d.install(FakeModule(), parsed, d.expected_digest(FakeModule(), parsed))
    undo()
    assert listing(tmp_path) == []


@pytest.mark.parametrize("name", ["runsc", "run#sc%20 v1?"])
def test_install_from_src_below_root_copies_it(tmp_path, name):
    root = tmp_path / "root"
    (root / "srv").mkdir(parents=True)
    (root / "srv" / name).write_bytes(BINARY)
    parsed = d.parse({"dest": "/usr/bin/runsc", "src": f"/srv/{name}", "checksum": sha256(BINARY)}, "t")
    d.install(FakeModule(), parsed, ("sha256", sha256(BINARY)[7:]), root=str(root))
    assert (root / "usr/bin/runsc").read_bytes() == BINARY
    assert (root / "srv" / name).read_bytes() == BINARY
    assert d.differences(parsed, ("sha256", sha256(BINARY)[7:]), d.installed(parsed, "sha256", str(root))) == []


def test_install_from_a_missing_src_says_so(tmp_path):
    parsed = artifact(tmp_path / "runsc", url=None, src=str(tmp_path / "nope"), checksum=sha256(BINARY))
    with pytest.raises(d.DownloadError, match="No such file"):
        d.install(FakeModule(), parsed, ("sha256", sha256(BINARY)[7:]))
    assert listing(tmp_path) == []


def test_install_from_a_file_url(tmp_path):
    (tmp_path / "mirror").mkdir()
    (tmp_path / "mirror/runsc").write_bytes(BINARY)
    parsed = artifact(tmp_path / "bin/runsc", url=f"file://{tmp_path}/mirror/runsc", checksum=sha256(BINARY))
    d.install(FakeModule(), parsed, ("sha256", sha256(BINARY)[7:]))
    assert (tmp_path / "bin/runsc").read_bytes() == BINARY


def test_set_attributes_and_its_undo(tmp_path):
    path = tmp_path / "runsc"
    path.write_bytes(BINARY)
    path.chmod(0o600)
    undo = d.set_attributes(artifact(path), "")
    assert stat.S_IMODE(path.stat().st_mode) == 0o755
    undo()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


# --- install: archives ---------------------------------------------------------------------------

KATA = [
    {"name": "./", "dir": True},
    {"name": "./opt/", "dir": True},
    {"name": "./opt/kata/", "dir": True},
    {"name": "./opt/kata/bin/", "dir": True},
    {"name": "./opt/kata/bin/kata-runtime", "data": b"runtime", "mode": 0o4775},
    {"name": "./opt/kata/bin/containerd-shim-kata-v2", "hardlink": "./opt/kata/bin/kata-runtime"},
    {"name": "./opt/kata/share/kata-containers/vmlinux-6.1", "data": b"kernel"},
    {"name": "./opt/kata/share/kata-containers/vmlinux.container", "symlink": "vmlinux-6.1"},
    {"name": "./opt/kata/share/defaults", "symlink": "/opt/kata/share/kata-containers"},
    {"name": "./opt/kata/libexec/", "dir": True, "mode": 0o777},
]


def archive_artifact(server, tmp_path, data, name="kata-static-3.2.0-amd64.tar.xz", **changes):
    """An archive for /opt/kata below the root C(tmp_path)."""
    url = server.add(f"/rel/{name}", data)
    changes.setdefault("strip_components", 2)
    parsed = d.parse({"dest": "/opt/kata", "url": url, "checksum": sha256(data), "unpack": True, **changes}, "t")
    return parsed, tmp_path / "opt" / "kata"


def mode_of(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


@pytest.mark.parametrize("compression", ["xz", "gz", "bz2", ""])
def test_unpack_an_archive_into_dest(server, tmp_path, compression):
    data = make_tar(KATA, compression)
    parsed, dest = archive_artifact(server, tmp_path, data)
    d.install(FakeModule(), parsed, ("sha256", sha256(data)[7:]), root=str(tmp_path))
    assert (dest / "bin/kata-runtime").read_bytes() == b"runtime"
    assert mode_of(dest / "bin/kata-runtime") == 0o755  # no setuid, no group write
    assert os.path.samefile(dest / "bin/containerd-shim-kata-v2", dest / "bin/kata-runtime")
    assert (dest / "share/kata-containers/vmlinux.container").read_bytes() == b"kernel"
    assert os.readlink(dest / "share/defaults") == "/opt/kata/share/kata-containers"
    assert mode_of(dest / "libexec") == 0o755
    assert mode_of(dest) == 0o755
    marker = json.loads((dest / d.MARKER).read_text())
    assert marker["source"] == parsed.url
    assert (marker["algorithm"], marker["digest"]) == ("sha256", sha256(data)[7:])
    state = d.installed(parsed, "sha256", root=str(tmp_path))
    assert d.differences(parsed, ("sha256", sha256(data)[7:]), state) == []
    assert listing(dest.parent) == sorted(["kata", *(f"kata/{p}" for p in listing(dest))])


@pytest.mark.skipif(shutil.which("zstd") is None, reason="zstd is not installed")
def test_unpack_a_zstd_archive(server, tmp_path):
    data = make_tar(KATA, "zst")
    parsed, dest = archive_artifact(server, tmp_path, data, name="kata-static-3.2.0-amd64.tar.zst")
    d.install(FakeModule(), parsed, ("sha256", sha256(data)[7:]), root=str(tmp_path))
    assert (dest / "bin/kata-runtime").read_bytes() == b"runtime"


def test_a_zstd_archive_without_zstd_fails_before_downloading(server, tmp_path):
    data = b"\x28\xb5\x2f\xfd not really"
    parsed, _dest = archive_artifact(server, tmp_path, data, name="kata.tar.zst")
    with pytest.raises(d.DownloadError, match="no zstd command; install zstd first"):
        d.install(FakeModule(binaries=False), parsed, ("sha256", sha256(data)[7:]), root=str(tmp_path))
    assert server.requests == []
    assert listing(tmp_path) == []


def test_unpack_replaces_the_old_tree_and_undo_puts_it_back(server, tmp_path):
    data = make_tar(KATA, "gz")
    parsed, dest = archive_artifact(server, tmp_path, data)
    (dest / "bin").mkdir(parents=True)
    (dest / "bin/old-runtime").write_bytes(b"old")
    undo = d.install(FakeModule(), parsed, ("sha256", sha256(data)[7:]), root=str(tmp_path))
    assert not (dest / "bin/old-runtime").exists()
    assert (dest / "bin/kata-runtime").exists()
    undo()
    assert listing(dest) == ["bin", "bin/old-runtime"]
    assert listing(dest.parent) == ["kata", "kata/bin", "kata/bin/old-runtime"]


def test_discard_backups_removes_the_old_tree(server, tmp_path):
    data = make_tar(KATA, "gz")
    parsed, dest = archive_artifact(server, tmp_path, data)
    dest.mkdir(parents=True)
    (dest / "old").write_bytes(b"old")
    d.install(FakeModule(), parsed, ("sha256", sha256(data)[7:]), root=str(tmp_path))
    d.discard_backups()
    assert os.listdir(dest.parent) == ["kata"]


@pytest.mark.parametrize(
    ("members", "why"),
    [
        ([{"name": "./opt/kata/../../../x", "data": b"evil"}], "climbs out with '..'"),
        ([{"name": "../x", "data": b"evil"}], "climbs out with '..'"),
        ([{"name": "/etc/cron.d/evil", "data": b"evil"}], "absolute name"),
        ([{"name": "opt/kata/escape", "symlink": "../../../x"}], "linking outside"),
        ([{"name": "opt/kata/escape", "symlink": "/etc/shadow"}], "linking outside"),
        ([{"name": "opt/kata/hard", "hardlink": "etc/shadow"}], "not a file unpacked before it"),
        ([{"name": "opt/kata/null", "chr": True}], "device file"),
        ([{"name": "opt/kata/pipe", "fifo": True}], "device file"),
        (
            [{"name": "opt/kata/up", "symlink": "."}, {"name": "opt/kata/up/../../../x", "data": b"evil"}],
            "climbs out",
        ),
        ([{"name": "opt/kata/l", "symlink": "."}, {"name": "opt/kata/l/x", "data": b"evil"}], "below the link 'l'"),
        (
            [{"name": "opt/kata/b", "symlink": "."}, {"name": "opt/kata/a", "symlink": "b/.."}],
            "leads outside",
        ),
    ],
)
def test_an_archive_that_could_reach_outside_dest_is_refused_and_nothing_unpacked(server, tmp_path, members, why):
    data = make_tar([{"name": "opt/kata/bin/kata-runtime", "data": b"runtime"}, *members], "gz")
    parsed, _dest = archive_artifact(server, tmp_path, data)
    with pytest.raises(d.DownloadError) as info:
        d.install(FakeModule(), parsed, ("sha256", sha256(data)[7:]), root=str(tmp_path))
    assert why in str(info.value)
    assert "nothing was installed" in str(info.value)
    assert listing(tmp_path) == []
    assert not (tmp_path.parent / "x").exists()


def test_an_archive_with_a_bad_checksum_unpacks_nothing(server, tmp_path):
    data = make_tar(KATA, "gz")
    parsed, dest = archive_artifact(server, tmp_path, data)
    dest.mkdir(parents=True)
    (dest / "old").write_bytes(b"old")
    with pytest.raises(d.DownloadError, match="nothing was installed"):
        d.install(FakeModule(), parsed, ("sha256", "0" * 64), root=str(tmp_path))
    assert listing(dest.parent) == ["kata", "kata/old"]


def test_something_that_is_not_a_tar_archive_is_refused(server, tmp_path):
    parsed, _dest = archive_artifact(server, tmp_path, BINARY, name="kata.tar.gz")
    with pytest.raises(d.DownloadError, match="not a readable tar archive"):
        d.install(FakeModule(), parsed, ("sha256", sha256(BINARY)[7:]), root=str(tmp_path))
    assert listing(tmp_path) == []


# --- ensure (the module's flow) ------------------------------------------------------------------


def test_ensure_in_check_mode_reads_the_checksum_and_downloads_nothing(server, tmp_path):
    body = f"{hashlib.sha512(BINARY).hexdigest()}  runsc\n"
    parsed = checksum_url_artifact(server, body, path="/rel/runsc.sha512")
    server.add("/rel/runsc", BINARY)
    parsed = d.parse({**spec(), "url": parsed.url, "checksum": None, "checksum_url": parsed.checksum_url,
                      "dest": str(tmp_path / "bin/runsc")}, "t")  # fmt: skip
    result = d.ensure(FakeModule(check_mode=True), parsed)
    assert result["changed"] is True
    assert result["controls"][0]["status"] == "drift"
    assert server.asked("/rel/runsc.sha512") == 1
    assert server.asked("/rel/runsc") == 0
    assert listing(tmp_path) == []
