"""The lab's file servers and flat apt repositories, on the host (no node needed).

Servers bind 127.0.0.1 only, log every request, never hold their caller's streams and stop by
name or with `down`; a repository built from .deb files is one apt reads; packages come from the
Debian mirror checked and cached (the mirror test is part of every run: runsc is about 6 MB, once).
"""

from __future__ import annotations

import gzip
import hashlib
import lzma
import os
import shutil
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from labvm import cli, debs, host, lab, serve

ROOT = Path(__file__).resolve().parents[2]
LAB = [sys.executable, str(ROOT / "lab" / "nodelab.py")]
LISTEN = "0A"


@pytest.fixture
def cache(monkeypatch, tmp_path):
    """A cache of its own for the servers, here and in the lab commands the test runs."""
    folder = tmp_path / "cache"
    monkeypatch.setattr(host, "CACHE", folder)
    monkeypatch.setenv("NODELAB_CACHE", str(folder))
    yield folder
    serve.stop_prefix("")


@pytest.fixture
def site(tmp_path) -> Path:
    root = tmp_path / "site"
    (root / "sub").mkdir(parents=True)
    (root / "hello.txt").write_text("hello from the host\n", encoding="utf-8")
    (root / "sub" / "a+b~1.txt").write_text("escaped\n", encoding="utf-8")
    return root


def nodelab(*args: str) -> subprocess.CompletedProcess:
    # Captured output: a server that kept the pipes would keep this call from returning.
    return subprocess.run([*LAB, *args], capture_output=True, text=True, timeout=60, check=False)


def get(port: int, path: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as err:
        return err.code, b""


def listening(pid: int) -> list[str]:
    """The local addresses (hex, as /proc/net shows them) of every socket pid listens on."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        target = os.readlink(fd)
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    found = []
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/net/{table}").read_text(encoding="utf-8").splitlines()[1:]:
            cols = line.split()
            if cols[3] == LISTEN and cols[9] in inodes:
                found.append(cols[1])
    return found


def test_a_server_listens_on_loopback_only_serves_files_and_logs_each_request(cache, site):
    port = serve.start("servetest-files", site)
    pid = serve.state("servetest-files")["pid"]
    assert listening(pid) == [f"0100007F:{port:04X}"]
    assert get(port, "/hello.txt") == (200, b"hello from the host\n")
    assert get(port, "/sub/a%2bb%7e1.txt") == (200, b"escaped\n")
    assert get(port, "/missing.deb")[0] == 404
    logged = [(r["client"], r["method"], r["path"], r["status"]) for r in serve.requests("servetest-files")]
    assert logged == [
        ("127.0.0.1", "GET", "/hello.txt", "200"),
        ("127.0.0.1", "GET", "/sub/a%2bb%7e1.txt", "200"),
        ("127.0.0.1", "GET", "/missing.deb", "404"),
    ]
    shown = nodelab("serve", "log", "--name", "servetest-files")
    assert shown.returncode == 0
    assert [line.split()[2:] for line in shown.stdout.splitlines()] == [
        ["GET", "/hello.txt", "200"],
        ["GET", "/sub/a%2bb%7e1.txt", "200"],
        ["GET", "/missing.deb", "404"],
    ]


def test_serve_start_detaches_prints_the_port_and_stop_is_idempotent(cache, site):
    started = nodelab("serve", "start", "--name", "servetest-cli", "--root", str(site))
    assert started.returncode == 0, started.stderr
    port = int(started.stdout)
    state = serve.state("servetest-cli")
    assert state == {"name": "servetest-cli", "port": port, "root": str(site), "pid": state["pid"]}
    folder = cache / "servers" / "servetest-cli"
    assert (folder / "server.pid").read_text(encoding="utf-8").strip() == str(state["pid"])
    pid = state["pid"]
    # Its own session, /dev/null for stdin, its output in its state folder: none of the caller's streams.
    assert os.getsid(pid) != os.getsid(0)
    assert [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in (0, 1, 2)] == [
        "/dev/null",
        str(folder / "server.log"),
        str(folder / "server.log"),
    ]
    # Started again with the same folder, it is the same server.
    again = nodelab("serve", "start", "--name", "servetest-cli", "--root", str(site))
    assert (again.returncode, again.stdout) == (0, f"{port}\n")
    assert serve.state("servetest-cli")["pid"] == pid
    assert get(port, "/hello.txt")[0] == 200
    for attempt in ("first", "second"):
        stopped = nodelab("serve", "stop", "--name", "servetest-cli")
        assert stopped.returncode == 0, f"{attempt} stop: {stopped.stderr}"
    assert not serve.running("servetest-cli")
    assert not folder.exists()
    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", port), timeout=5):
        pass
    assert nodelab("serve", "log", "--name", "servetest-cli").returncode != 0


def test_a_given_port_is_used_and_a_taken_one_is_a_clear_error(cache, site):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    assert serve.start("servetest-port", site, port) == port
    with pytest.raises(SystemExit, match=rf"server servetest-taken did not start: cannot listen on 127.0.0.1:{port}"):
        serve.start("servetest-taken", site, port)
    assert not (cache / "servers" / "servetest-taken").exists()
    # Another folder replaces the server of that name.
    other = site / "sub"
    assert serve.start("servetest-port", other, port) == port
    assert get(port, "/a%2bb%7e1.txt") == (200, b"escaped\n")


def test_a_server_is_stopped_even_when_its_state_folder_is_gone(cache, site):
    serve.start("servetest-lost", site)
    pid = serve.state("servetest-lost")["pid"]
    shutil.rmtree(cache / "servers" / "servetest-lost")
    assert serve.processes(lambda name: name == "servetest-lost") == {pid: "servetest-lost"}
    assert serve.stop_prefix("servetest-lo") == ["servetest-lost"]
    assert serve.server_of(pid) is None


def test_down_stops_the_servers_of_the_labs_it_stops(cache, site):
    for name in ("servetest-a-1", "servetest-a-2", "servetest-b"):
        serve.start(name, site)
    downed = nodelab("down", "--prefix", "servetest-a-")
    assert downed.returncode == 0, downed.stderr
    assert [serve.running(n) for n in ("servetest-a-1", "servetest-a-2", "servetest-b")] == [False, False, True]
    assert nodelab("down", "--name", "servetest-b").returncode == 0
    assert not serve.running("servetest-b")
    assert sorted(p.name for p in (cache / "servers").iterdir()) == []


def test_down_all_stops_every_server(cache, site, monkeypatch):
    # The labs' part of down --all would stop every lab VM on this machine: only the servers' part runs.
    monkeypatch.setattr(lab, "down", lambda name: None)
    serve.start("servetest-all-1", site)
    serve.start("other-all-2", site)
    assert cli.main(["down", "--all"]) == 0
    assert serve.processes(lambda name: True) == {}


def fake_deb(tmp_path: Path, name: str, version: str, depends: str = "") -> Path:
    tree = tmp_path / f"{name}-tree"
    (tree / "DEBIAN").mkdir(parents=True)
    (tree / "usr" / "bin").mkdir(parents=True)
    (tree / "usr" / "bin" / name).write_text("#!/bin/sh\necho fake\n", encoding="utf-8")
    control = (
        f"Package: {name}\nVersion: {version}\nArchitecture: amd64\nMaintainer: Lab <lab@example.invalid>\n"
        + (f"Depends: {depends}\n" if depends else "")
        + "Section: admin\nPriority: optional\n"
        + "Description: a stand-in package\n A package the lab's tests build.\n .\n Nothing more.\n"
    )
    (tree / "DEBIAN" / "control").write_text(control, encoding="utf-8")
    out = tmp_path / f"{name}.deb"
    host.run(["dpkg-deb", "--root-owner-group", "--build", str(tree), str(out)], stdout=subprocess.DEVNULL)
    return out


def stanzas(text: str) -> list[dict[str, str]]:
    """Packages parsed as apt reads it: stanzas apart by blank lines, continuation lines indented."""
    parsed = []
    for block in text.split("\n\n"):
        fields: dict[str, str] = {}
        key = ""
        for line in block.splitlines():
            if line.startswith((" ", "\t")):
                assert key, line
                fields[key] += "\n" + line[1:]
            else:
                key, sep, value = line.partition(":")
                assert sep and key and " " not in key and key not in fields, line
                fields[key] = value.strip()
        if fields:
            parsed.append(fields)
    return parsed


def test_a_flat_repository_lists_each_deb_with_its_size_and_sha256(tmp_path):
    tool = fake_deb(tmp_path, "lab-tool", "1:2.0-1")
    helper = fake_deb(tmp_path, "lab-helper", "0.5~rc1+b2", depends="lab-tool (>= 2.0)")
    repo = tmp_path / "repo" / "bookworm"
    repo.mkdir(parents=True)
    (repo / "stale_1_amd64.deb").write_bytes(b"left from an earlier build")
    assert debs.write_repo(repo, [tool, helper]) == repo
    packages = (repo / "Packages").read_text(encoding="utf-8")
    parsed = stanzas(packages)
    assert [p["Package"] for p in parsed] == ["lab-helper", "lab-tool"]
    assert [p["Filename"] for p in parsed] == ["./lab-helper_0.5~rc1+b2_amd64.deb", "./lab-tool_2.0-1_amd64.deb"]
    for stanza, deb in zip(parsed, [helper, tool], strict=True):
        served = repo / stanza["Filename"]
        assert served.read_bytes() == deb.read_bytes()
        assert int(stanza["Size"]) == served.stat().st_size
        assert stanza["SHA256"] == hashlib.sha256(served.read_bytes()).hexdigest()
    assert parsed[0]["Depends"] == "lab-tool (>= 2.0)"
    assert parsed[1]["Version"] == "1:2.0-1"
    assert parsed[1]["Description"] == "a stand-in package\nA package the lab's tests build.\n.\nNothing more."
    assert sorted(p.name for p in repo.glob("*.deb")) == ["lab-helper_0.5~rc1+b2_amd64.deb", "lab-tool_2.0-1_amd64.deb"]
    assert gzip.decompress((repo / "Packages.gz").read_bytes()).decode() == packages
    release = stanzas((repo / "Release").read_text(encoding="utf-8"))[0]
    listed = {line.split()[2]: line.split()[:2] for line in release["SHA256"].splitlines() if line.strip()}
    for name in ("Packages", "Packages.gz"):
        data = (repo / name).read_bytes()
        assert listed[name] == [hashlib.sha256(data).hexdigest(), str(len(data))]
    # Built again from the same files, the repository is the same.
    debs.write_repo(repo, [tool, helper])
    assert (repo / "Packages").read_text(encoding="utf-8") == packages


def test_apt_reads_a_served_repository_and_fetches_its_package(cache, tmp_path):
    repo = tmp_path / "www" / "bookworm"
    debs.write_repo(repo, [fake_deb(tmp_path, "lab-tool", "2.0-1")])
    port = serve.start("servetest-apt", repo.parent)
    # apt with folders of its own: the host's apt state stays as it is.
    apt = tmp_path / "apt"
    for sub in ("lists/partial", "cache/archives/partial", "parts", "prefs", "download"):
        (apt / sub).mkdir(parents=True)
    (apt / "sources.list").write_text(f"deb [trusted=yes] http://127.0.0.1:{port}/bookworm ./\n", encoding="utf-8")
    options = [
        f"-oDir::Etc::SourceList={apt / 'sources.list'}",
        f"-oDir::Etc::SourceParts={apt / 'parts'}",
        f"-oDir::Etc::PreferencesParts={apt / 'prefs'}",
        f"-oDir::State::Lists={apt / 'lists'}",
        f"-oDir::Cache={apt / 'cache'}",
        "-oDir::State::status=/dev/null",
        "-oAPT::Sandbox::User=root",
        "-oDebug::NoLocking=1",
    ]

    def run(*command: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*command[:1], *options, *command[1:]],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            stdin=subprocess.DEVNULL,
            cwd=cwd,
        )

    updated = run("apt-get", "update")
    assert updated.returncode == 0, updated.stdout + updated.stderr
    assert "W:" not in updated.stderr and "E:" not in updated.stderr, updated.stderr
    policy = run("apt-cache", "policy", "lab-tool")
    assert "Candidate: 2.0-1" in policy.stdout, policy.stdout
    fetched = run("apt-get", "download", "lab-tool", cwd=apt / "download")
    assert fetched.returncode == 0, fetched.stdout + fetched.stderr
    assert (apt / "download" / "lab-tool_2.0-1_amd64.deb").read_bytes() == (
        repo / "lab-tool_2.0-1_amd64.deb"
    ).read_bytes()
    paths = {(r["path"], r["status"]) for r in serve.requests("servetest-apt")}
    assert {("/bookworm/./Release", "200"), ("/bookworm/./lab-tool_2.0-1_amd64.deb", "200")} <= paths


@pytest.mark.parametrize(
    ("chosen", "present", "missing"),
    [
        ({"runsc": {}}, [], {}),
        ({"a": {"Depends": "libc6 (>= 2.34), b"}}, [], {"a": ["libc6 (>= 2.34)", "b"]}),
        ({"a": {"Depends": "libc6 (>= 2.34), b"}, "b": {}}, ["libc6"], {}),
        ({"a": {"Depends": "x | y:any"}, "b": {"Provides": "y (= 1)"}}, [], {}),
        ({"a": {"Pre-Depends": "dpkg (>= 1.19)", "Depends": "python3:any"}}, ["python3"], {"a": ["dpkg (>= 1.19)"]}),
    ],
)
def test_unmet_dependencies_are_named(chosen, present, missing):
    assert debs.unmet(chosen, present) == missing


def test_a_fake_mirror_on_loopback_checked_hashes_and_a_stale_index(cache, tmp_path, monkeypatch):
    """InRelease's own check (gpgv) stands aside: the index and the pool are the fake mirror's."""
    mirror = tmp_path / "mirror"
    published = {}

    def publish(version: str) -> Path:
        deb = fake_deb(tmp_path / version, "lab-tool", version)
        pool = mirror / "pool" / "main" / "l" / "lab-tool" / f"lab-tool_{version}_amd64.deb"
        pool.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(deb, pool)
        data = deb.read_bytes()
        stanza = f"{debs.control(deb)}\nFilename: {pool.relative_to(mirror)}\nSize: {len(data)}\n"
        stanza += f"SHA256: {hashlib.sha256(data).hexdigest()}\n"
        index = lzma.compress(stanza.encode())
        (mirror / "dists" / "bookworm" / debs.INDEX).parent.mkdir(parents=True, exist_ok=True)
        (mirror / "dists" / "bookworm" / debs.INDEX).write_bytes(index)
        published[version] = {debs.INDEX: (hashlib.sha256(index).hexdigest(), len(index))}
        return pool

    refreshed = []

    def release(suite: str, refresh: bool = False) -> dict:
        refreshed.append(refresh)
        return published["2.1-1" if refresh and "2.1-1" in published else "2.0-1"]

    old = publish("2.0-1")
    port = serve.start("servetest-mirror", mirror)
    monkeypatch.setattr(debs.recipes, "MIRROR", f"http://127.0.0.1:{port}")
    monkeypatch.setattr(debs, "release", release)
    (fetched,) = debs.fetch("bookworm", ["lab-tool"])
    assert fetched.read_bytes() == old.read_bytes()
    # A pool file that is not what the index says is refused, and nothing of it is kept.
    fetched.unlink()
    data = bytearray(old.read_bytes())
    data[-1] ^= 0xFF
    old.write_bytes(bytes(data))
    with pytest.raises(SystemExit, match="SHA256 differs from the index's"):
        debs.fetch("bookworm", ["lab-tool"])
    assert list(fetched.parent.iterdir()) == []
    # The mirror moved on: the package the cached index names is gone, so the index is fetched again.
    old.unlink()
    new = publish("2.1-1")
    (fetched,) = debs.fetch("bookworm", ["lab-tool"])
    assert (fetched.name, fetched.read_bytes()) == (new.name, new.read_bytes())
    assert refreshed[-2:] == [False, True]
    assert ("/pool/main/l/lab-tool/lab-tool_2.0-1_amd64.deb", "404") in {
        (r["path"], r["status"]) for r in serve.requests("servetest-mirror")
    }


def test_runsc_comes_from_the_mirror_checked_and_then_from_the_cache(tmp_path, monkeypatch):
    """The real cache: the first run on a machine downloads bookworm's index and runsc, later runs nothing."""
    repo = debs.build("bookworm", ["runsc"], tmp_path / "bookworm")
    index = debs.fields(debs.index("bookworm")["runsc"])
    (stanza,) = stanzas((repo / "Packages").read_text(encoding="utf-8"))
    assert (stanza["Package"], stanza["Version"]) == ("runsc", index["Version"])
    assert (stanza["Size"], stanza["SHA256"]) == (index["Size"], index["SHA256"])
    deb = repo / stanza["Filename"]
    assert deb.name == Path(index["Filename"]).name
    assert hashlib.sha256(deb.read_bytes()).hexdigest() == index["SHA256"]

    def no_download(url, *args, **kwargs):
        raise AssertionError(f"downloaded {url} again")

    monkeypatch.setattr(debs, "download", no_download)
    assert debs.fetch("bookworm", ["runsc"]) == [host.CACHE / "debs" / "pool" / deb.name]
    with pytest.raises(SystemExit, match=r"containerd needs runc \(>= [^)]*\), libc6 .*--assume-installed"):
        debs.fetch("bookworm", ["containerd"])
    with pytest.raises(SystemExit, match=r"bookworm \(main, amd64\) has no package no-such-package"):
        debs.fetch("bookworm", ["no-such-package"])


def test_repo_and_serve_commands_parse():
    parser = cli.parser()
    args = parser.parse_args(["repo", "--suite", "trixie", "--package", "runsc", "--dir", "/tmp/r"])
    assert (args.suite, args.package, args.assume_installed, args.dir) == ("trixie", ["runsc"], [], Path("/tmp/r"))
    args = parser.parse_args(["serve", "start", "--name", "molecule-x", "--root", "/srv"])
    assert (args.action, args.name, args.root, args.port) == ("start", "molecule-x", Path("/srv"), None)
    assert parser.parse_args(["serve", "stop", "--name", "n"]).action == "stop"
    with pytest.raises(SystemExit):
        parser.parse_args(["repo", "--suite", "buster", "--package", "runsc", "--dir", "/tmp/r"])
    with pytest.raises(SystemExit, match="a server name is"):
        serve.server_dir("../escape")
