"""Debian packages a node image lacks, fetched by the host, and a flat apt repository that holds them.

The nodes reach no package archive (see recipes.py). A scenario that must install a package from
the node's own apt sources gets a flat repository on the host, served on loopback (serve.py), and
gives the node the source line `deb [trusted=yes] http://10.0.2.2:PORT/SUITE ./`.

Only the host talks to the mirror (recipes.MIRROR), and every file it takes from there is checked:
InRelease against Debian's archive keyring (gpgv), Packages.xz against the SHA256 in InRelease,
each .deb against the SHA256 in Packages. All three are cached in CACHE/debs/, so a second run
downloads nothing; a cached index is refreshed when the mirror no longer has a package it names.
"""

from __future__ import annotations

import gzip
import hashlib
import lzma
import os
import re
import shutil
import subprocess
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterable
from pathlib import Path

from . import host, recipes

ARCH = "amd64"
COMPONENT = "main"
SUITES = tuple(dict.fromkeys(recipes.SUITES.values()))
INDEX = f"{COMPONENT}/binary-{ARCH}/Packages.xz"
KEYRING = Path(os.environ.get("NODELAB_KEYRING", "/usr/share/keyrings/debian-archive-keyring.gpg"))
TIMEOUT = 60
# Indexes read in this process, by suite and SHA256 of their Packages.xz.
_parsed: dict[tuple[str, str], dict[str, str]] = {}
# apt warns of a Release file without a Date and refuses one dated in its clock's future; a node's
# clock may lag the host's, and with no Valid-Until an old date never expires.
RELEASE = (
    f"Origin: nodeguard-lab\nLabel: nodeguard-lab\nDate: Sat, 01 Jan 2000 00:00:00 UTC\nArchitectures: {ARCH} all\n"
)


def cache_dir() -> Path:
    return host.CACHE / "debs"


def fields(stanza: str) -> dict[str, str]:
    """The fields of one deb822 stanza; a continued field keeps its lines, joined by newlines."""
    found: dict[str, str] = {}
    key = None
    for line in stanza.splitlines():
        if not line.strip():
            continue
        if line[0] in " \t" and key:
            found[key] += "\n" + line
            continue
        key, sep, value = line.partition(":")
        if not sep:
            raise SystemExit(f"nodelab: not a deb822 field line: {line!r}")
        found[key] = value.strip()
    return found


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def download(url: str, dest: Path, digest: str | None = None, size: int | None = None) -> Path:
    """url to dest in one rename, after checking its SHA256 and size where they are known."""
    host.log(f"fetching {url}")
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", dir=dest.parent)
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=TIMEOUT) as answer:
            shutil.copyfileobj(answer, out, 1 << 20)
        got_size = os.path.getsize(tmp)
        if size is not None and got_size != size:
            raise SystemExit(f"nodelab: {url}: {got_size} bytes, the index says {size}")
        if digest is not None and sha256(Path(tmp)) != digest:
            raise SystemExit(f"nodelab: {url}: SHA256 differs from the index's {digest}")
        os.chmod(tmp, 0o644)
        os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return dest


def release(suite: str, refresh: bool = False) -> dict[str, tuple[str, int]]:
    """The SHA256 and size of each index file of a suite, from its InRelease as verified by gpgv."""
    folder = cache_dir() / suite
    verified = folder / "Release"
    if refresh or not verified.exists():
        signed = download(f"{recipes.MIRROR}/dists/{suite}/InRelease", folder / "InRelease")
        if not shutil.which("gpgv") or not KEYRING.exists():
            raise SystemExit(
                f"nodelab: checking {signed} needs gpgv and {KEYRING} (packages gpgv, debian-archive-keyring)"
            )
        tmp = folder / ".Release.tmp"
        tmp.unlink(missing_ok=True)
        checked = subprocess.run(
            ["gpgv", "--keyring", str(KEYRING), "--output", str(tmp), str(signed)],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            check=False,
        )
        if checked.returncode != 0:
            tmp.unlink(missing_ok=True)
            raise SystemExit(f"nodelab: {signed} failed its signature check: {checked.stderr.strip()}")
        os.replace(tmp, verified)
    hashes = {}
    for line in fields(verified.read_text(encoding="utf-8")).get("SHA256", "").splitlines():
        if line.strip():
            digest, size, name = line.split()
            hashes[name] = (digest, int(size))
    return hashes


def index(suite: str, refresh: bool = False) -> dict[str, str]:
    """The stanzas of a suite's main/binary-amd64/Packages as text, by package name (see fields)."""
    if suite not in SUITES:
        raise SystemExit(f"nodelab: no suite {suite!r}; known: {', '.join(SUITES)}")
    hashes = release(suite, refresh)
    if INDEX not in hashes:
        raise SystemExit(f"nodelab: {suite}'s InRelease lists no {INDEX}")
    digest, size = hashes[INDEX]
    cached = cache_dir() / suite / INDEX.replace("/", "_")
    if not (cached.exists() and cached.stat().st_size == size and sha256(cached) == digest):
        download(f"{recipes.MIRROR}/dists/{suite}/{INDEX}", cached, digest, size)
    if (suite, digest) in _parsed:
        return _parsed[suite, digest]
    stanzas = {}
    # Some 60000 stanzas: only the chosen ones are parsed; Package is the archive's first field.
    for stanza in lzma.decompress(cached.read_bytes()).decode("utf-8").split("\n\n"):
        if stanza.startswith("Package: "):
            stanzas.setdefault(stanza[len("Package: ") : stanza.find("\n")].strip(), stanza)
        elif stanza.strip():
            stanzas.setdefault(fields(stanza)["Package"], stanza)
    _parsed[suite, digest] = stanzas
    return stanzas


def unmet(chosen: dict[str, dict[str, str]], present: Iterable[str] = ()) -> dict[str, list[str]]:
    """Each chosen package's Pre-Depends and Depends that neither the chosen packages nor present meet.

    Names only: versions and architecture qualifiers are not compared.
    """
    available = set(present) | set(chosen)
    for stanza in chosen.values():
        available |= {bare(p) for p in stanza.get("Provides", "").split(",") if p.strip()}
    missing: dict[str, list[str]] = {}
    for name, stanza in chosen.items():
        for field in ("Pre-Depends", "Depends"):
            for group in stanza.get(field, "").split(","):
                if group.strip() and not any(bare(alt) in available for alt in group.split("|")):
                    missing.setdefault(name, []).append(" ".join(group.split()))
    return missing


def bare(relation: str) -> str:
    """The package name of a relation such as `libc6 (>= 2.34)` or `python3:any`."""
    return re.split(r"[\s(\[:]", relation.strip(), maxsplit=1)[0]


def fetch(suite: str, packages: list[str], present: Iterable[str] = ()) -> list[Path]:
    """The cached, checked .deb of each named package of a suite; names its unmet dependencies instead."""
    with host.locked(cache_dir() / "fetch.lock"):
        try:
            return _fetch(suite, packages, present, refresh=False)
        except urllib.error.HTTPError as err:
            if err.code != 404:
                raise
            host.log(f"{err.filename} is gone from the mirror; refreshing the {suite} index")
            return _fetch(suite, packages, present, refresh=True)


def _fetch(suite: str, packages: list[str], present: Iterable[str], refresh: bool) -> list[Path]:
    stanzas = index(suite, refresh)
    unknown = [name for name in packages if name not in stanzas]
    if unknown:
        raise SystemExit(f"nodelab: {suite} ({COMPONENT}, {ARCH}) has no package {', '.join(unknown)}")
    chosen = {name: fields(stanzas[name]) for name in packages}
    missing = unmet(chosen, present)
    if missing:
        needs = "; ".join(f"{name} needs {', '.join(deps)}" for name, deps in missing.items())
        raise SystemExit(
            f"nodelab: the {suite} packages depend on packages not fetched: {needs}. "
            "Name each as a package too, or as one the node already has (--assume-installed)"
        )
    debs = []
    for stanza in chosen.values():
        digest, size = stanza["SHA256"], int(stanza["Size"])
        cached = cache_dir() / "pool" / Path(stanza["Filename"]).name
        if not (cached.exists() and cached.stat().st_size == size and sha256(cached) == digest):
            download(f"{recipes.MIRROR}/{stanza['Filename']}", cached, digest, size)
        debs.append(cached)
    return debs


def control(deb: Path) -> str:
    """The control stanza of a .deb file."""
    shown = subprocess.run(
        ["dpkg-deb", "--field", str(deb)], stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False
    )
    if shown.returncode != 0:
        raise SystemExit(f"nodelab: {deb} is not a Debian package: {shown.stderr.strip()}")
    return shown.stdout.strip("\n")


def write_repo(dest: Path, debs: list[Path]) -> Path:
    """A flat apt repository in dest holding exactly these .deb files: NAME.deb, Packages(.gz), Release.

    Other .deb files in dest are removed; each file is replaced in one rename.
    """
    dest.mkdir(parents=True, exist_ok=True)
    stanzas = {}
    for deb in debs:
        text = control(deb)
        found = fields(text)
        version = found["Version"].split(":", 1)[-1]
        filename = f"{found['Package']}_{version}_{found['Architecture']}.deb"
        target = dest / filename
        if not (target.exists() and os.path.samefile(deb, target)):
            tmp = dest / f".{filename}.tmp"
            shutil.copyfile(deb, tmp)
            os.replace(tmp, target)
        stanzas[filename] = f"{text}\nFilename: ./{filename}\nSize: {target.stat().st_size}\nSHA256: {sha256(target)}\n"
    for old in dest.glob("*.deb"):
        if old.name not in stanzas:
            old.unlink()
    packages = "\n".join(stanzas[name] for name in sorted(stanzas)).encode()
    files = {"Packages": packages, "Packages.gz": gzip.compress(packages, mtime=0)}
    sums = "".join(f" {hashlib.sha256(data).hexdigest()} {len(data)} {name}\n" for name, data in files.items())
    files["Release"] = f"{RELEASE}SHA256:\n{sums}".encode()
    for name, data in files.items():
        tmp = dest / f".{name}.tmp"
        tmp.write_bytes(data)
        os.replace(tmp, dest / name)
    return dest


def build(suite: str, packages: list[str], dest: Path, present: Iterable[str] = ()) -> Path:
    """Fetch the packages and write them as a flat repository in dest."""
    return write_repo(dest, fetch(suite, packages, present))
