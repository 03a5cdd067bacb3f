# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Verified downloads of platform binaries and archives (gVisor's runsc, Kata's static tarball).

An artifact is one file installed at C(dest), or one tar archive unpacked into the directory
C(dest), taken from a URL or from a file already on the node, and accepted only when its digest is
the published one. The flow is C(parse) (all input checked), C(resolve) (placeholders filled for
this node), C(expected_digest) (read only, fine in check mode), C(installed) and C(differences)
(read only), then C(install), which returns an undo callable.

What C(install) replaced is kept in a hidden sibling of C(dest) so that its undo can put it back;
those copies are removed by C(discard_backups()), which a module calls before it exits (it is
also registered with C(atexit), so a caller that forgets leaves nothing behind either).
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import http.client
import json
import os
import posixpath
import re
import secrets
import shutil
import stat
import string
import subprocess
import tarfile
import tempfile
import typing as t
import urllib.error
import zlib
from dataclasses import dataclass, replace
from urllib.parse import unquote, urlsplit, urlunsplit

from ansible.module_utils import urls

from ansible_collections.nodeguard.hardening.plugins.module_utils import _controls as c
from ansible_collections.nodeguard.hardening.plugins.module_utils._files import file_diff

try:
    import lzma

    DECOMPRESS_ERRORS: tuple[type[Exception], ...] = (zlib.error, lzma.LZMAError)
except ImportError:  # Python built without liblzma: .tar.xz then fails as unreadable
    DECOMPRESS_ERRORS = (zlib.error,)

ALGORITHMS = {"sha256": 64, "sha512": 128}
PLACEHOLDERS = ("arch", "goarch", "version")
# os.uname().machine -> ({arch}, {goarch})
MACHINES = {
    "x86_64": ("x86_64", "amd64"),
    "amd64": ("x86_64", "amd64"),
    "aarch64": ("aarch64", "arm64"),
    "arm64": ("aarch64", "arm64"),
}
MARKER = ".nodeguard-artifact.json"
HTTP_AGENT = "nodeguard.hardening-verified_download"
CHUNK = 1024 * 1024
# A published checksum file is a few lines; more than this is not one.
CHECKSUM_FILE_LIMIT = 1024 * 1024
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
# Never written into, at any depth: kernel interfaces.
VIRTUAL_TREES = ("/proc", "/sys", "/dev")
# fmt: off
# Never replaced as a whole by an unpacked archive.
SYSTEM_TREES = frozenset((
    "/bin", "/boot", "/etc", "/home", "/lib", "/lib32", "/lib64", "/libx32", "/media", "/mnt", "/opt", "/root",
    "/run", "/sbin", "/srv", "/tmp", "/usr", "/usr/bin", "/usr/include", "/usr/lib", "/usr/lib64", "/usr/libexec",
    "/usr/local", "/usr/local/bin", "/usr/local/lib", "/usr/local/sbin", "/usr/local/share", "/usr/sbin",
    "/usr/share", "/usr/src", "/var", "/var/cache", "/var/lib", "/var/log", "/var/run", "/var/spool", "/var/tmp",
    "/etc/containerd", "/etc/kubernetes", "/var/lib/containerd", "/var/lib/kubelet",
))
FIELDS = (
    "name", "dest", "url", "src", "checksum", "checksum_url", "algorithm", "version", "mode", "unpack",
    "strip_components",
)
# fmt: on
VERSION_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+~-]*$")
HEX_RE = re.compile(r"^[0-9a-fA-F]+$")
BSD_LINE_RE = re.compile(r"^(SHA256|SHA512) ?\((.+)\) ?= ?([0-9a-fA-F]+)$")
GNU_LINE_RE = re.compile(r"^([0-9a-fA-F]+)\s+\*?(.+)$")


class DownloadError(RuntimeError):
    """A download, checksum or install failed; the message says what and what to do.

    C(result) optionally carries what the module returns with the failure (its controls)."""

    def __init__(self, message: str, result: dict | None = None) -> None:
        super().__init__(message)
        self.result = result or {}


@dataclass(frozen=True)
class Artifact:
    name: str
    dest: str
    url: str = ""
    src: str = ""
    checksum: str = ""
    checksum_url: str = ""
    algorithm: str = ""
    version: str = ""
    mode: int = 0o755
    unpack: bool = False
    strip_components: int = 0

    @property
    def source(self) -> str:
        """Where the artifact comes from, as shown in messages (a URL's password masked)."""
        return shown_url(self.url) if self.url else self.src


# --- input -------------------------------------------------------------------------------------


def parse(spec: dict, where: str) -> Artifact:
    """An Artifact from C(spec) (the module's options, or an entry of another module's list), every
    field checked; C(ControlInputError) says what is wrong and what to give instead."""
    if not isinstance(spec, dict):
        raise c.ControlInputError(f"{where}: an artifact must be a mapping with dest, url or src, and checksum")
    unknown = sorted(set(spec) - set(FIELDS))
    if unknown:
        raise c.ControlInputError(f"{where}: unknown option(s) {', '.join(unknown)}; known are {', '.join(FIELDS)}")
    unpack = _flag(spec, "unpack", where)
    dest = _dest(_text(spec, "dest", where), unpack, where)
    name = _text(spec, "name", where) or posixpath.basename(dest)
    if "\n" in name or not name.strip():
        raise c.ControlInputError(f"{where}: name {name!r} must be a word such as 'runsc' (no new line)")
    version = _text(spec, "version", where)
    if version and not VERSION_RE.match(version):
        raise c.ControlInputError(
            f"{where}: version {version!r} must be a release name such as '3.2.0' or '20240212.0' "
            "(letters, digits, '.', '_', '+', '~', '-'; no '/' or space)"
        )
    url, src = _text(spec, "url", where), _text(spec, "src", where)
    if bool(url) == bool(src):
        raise c.ControlInputError(
            f"{where}: give exactly one of url (to download) or src (a file already on the node); "
            + ("both were given" if url else "neither was given")
        )
    if url:
        _check_url(url, "url", version, where)
    else:
        _placeholders(src, "src", version, where)
        if not src.startswith("/"):
            raise c.ControlInputError(f"{where}: src {src!r} must be an absolute path on the node")
    checksum, checksum_url = _text(spec, "checksum", where), _text(spec, "checksum_url", where)
    algorithm = _text(spec, "algorithm", where).lower()
    if algorithm and algorithm not in ALGORITHMS:
        raise c.ControlInputError(f"{where}: algorithm {algorithm!r} is not known; give sha256 or sha512")
    if bool(checksum) == bool(checksum_url):
        raise c.ControlInputError(
            f"{where}: give exactly one of checksum ('sha256:HEX' or 'sha512:HEX') or checksum_url "
            "(the published checksum file); " + ("both were given" if checksum else "neither was given")
        )
    if checksum:
        checksum = _checksum(checksum, algorithm, where)
    else:
        _check_url(checksum_url, "checksum_url", version, where)
    strip = spec.get("strip_components")
    strip = 0 if strip is None else strip
    if isinstance(strip, bool) or not isinstance(strip, int) or strip < 0:
        raise c.ControlInputError(f"{where}: strip_components {strip!r} must be a whole number, 0 or more")
    if strip and not unpack:
        raise c.ControlInputError(f"{where}: strip_components applies to archives only; set unpack: true or drop it")
    return Artifact(
        name=name,
        dest=dest,
        url=url,
        src=src,
        checksum=checksum,
        checksum_url=checksum_url,
        algorithm=algorithm,
        version=version,
        mode=parse_mode(spec.get("mode"), where),
        unpack=unpack,
        strip_components=strip,
    )


def parse_mode(value: t.Any, where: str) -> int:
    """A mode given as an int (C(0o755), YAML's C(0755)) or an octal string (C("0755"), C("755"))."""
    if value is None or value == "":
        return 0o755
    if isinstance(value, bool):
        raise c.ControlInputError(f"{where}: mode {value!r} must be an octal string such as '0755'")
    if isinstance(value, int):
        mode = value
    elif isinstance(value, str) and re.match(r"^(0o)?[0-7]{1,4}$", value.strip()):
        digits = value.strip()
        mode = int(digits[2:] if digits.startswith("0o") else digits, 8)
    else:
        raise c.ControlInputError(f"{where}: mode {value!r} must be an octal string such as '0755'")
    if not 0 <= mode <= 0o7777:
        raise c.ControlInputError(f"{where}: mode {value!r} is out of range; give an octal string such as '0755'")
    return mode


def _text(spec: dict, key: str, where: str) -> str:
    value = spec.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise c.ControlInputError(f"{where}: {key} must be a string, not {type(value).__name__}")
    return value.strip()


def _flag(spec: dict, key: str, where: str) -> bool:
    value = spec.get(key)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise c.ControlInputError(f"{where}: {key} must be true or false, not {value!r}")
    return value


def _dest(dest: str, unpack: bool, where: str) -> str:
    kind = "directory to unpack into, such as /opt/kata" if unpack else "file to install, such as /usr/local/bin/runsc"
    if not dest.startswith("/"):
        raise c.ControlInputError(f"{where}: dest {dest!r} must be the absolute path of the {kind}")
    parts = [part for part in dest.split("/") if part]
    if any(part in (".", "..") for part in parts) or "{" in dest or "}" in dest:
        raise c.ControlInputError(f"{where}: dest {dest!r} must be a plain absolute path (no '.', '..' or braces)")
    if not parts:
        raise c.ControlInputError(f"{where}: dest must not be '/'; give the {kind}")
    if dest.endswith("/") and not unpack:
        raise c.ControlInputError(f"{where}: dest {dest!r} ends with '/'; give the {kind}")
    normal = "/" + "/".join(parts)
    if any(normal == tree or normal.startswith(tree + "/") for tree in VIRTUAL_TREES):
        raise c.ControlInputError(f"{where}: dest {normal} lies in a kernel interface; give the {kind}")
    if unpack and normal in SYSTEM_TREES:
        raise c.ControlInputError(
            f"{where}: dest {normal} is a system tree that unpacking would replace as a whole; "
            f"give a directory of its own, such as {normal.rstrip('/')}/kata"
        )
    return normal


def _placeholders(text: str, key: str, version: str, where: str) -> set[str]:
    try:
        fields = list(string.Formatter().parse(text))
    except ValueError as exc:
        raise c.ControlInputError(
            f"{where}: {key} {text!r} has unbalanced braces ({exc}); placeholders are {{arch}}, {{goarch}}, {{version}}"
        ) from None
    used = set()
    for _literal, field, spec, conversion in fields:
        if field is None:
            continue
        if field not in PLACEHOLDERS or spec or conversion:
            raise c.ControlInputError(
                f"{where}: {key} {text!r} uses {{{field}}}; the known placeholders are {{arch}} (x86_64, aarch64), "
                "{goarch} (amd64, arm64) and {version}"
            )
        used.add(field)
    if "version" in used and not version:
        raise c.ControlInputError(f"{where}: {key} uses {{version}}; give version too")
    return used


def _check_url(url: str, key: str, version: str, where: str) -> None:
    _placeholders(url, key, version, where)
    parts = urlsplit(url)
    if any(ch.isspace() for ch in url) or parts.scheme not in ("http", "https", "file"):
        raise c.ControlInputError(
            f"{where}: {key} {shown_url(url)!r} must be an http://, https:// or file:// URL without spaces"
        )
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
            raise c.ControlInputError(
                f"{where}: {key} {url!r} must name an absolute path on the node, such as file:///srv/mirror/runsc"
            )
    elif not parts.hostname:
        raise c.ControlInputError(f"{where}: {key} {shown_url(url)!r} names no host")


def _checksum(value: str, algorithm: str, where: str) -> str:
    prefix, _sep, digest = value.partition(":")
    prefix = prefix.strip().lower()
    digest = digest.strip()
    if prefix not in ALGORITHMS or not HEX_RE.match(digest) or len(digest) != ALGORITHMS[prefix]:
        raise c.ControlInputError(
            f"{where}: checksum {value!r} must be 'sha256:' and 64 hex digits or 'sha512:' and 128 hex digits, "
            "as the project publishes it"
        )
    if algorithm and algorithm != prefix:
        raise c.ControlInputError(f"{where}: checksum is a {prefix} digest but algorithm says {algorithm}; drop one")
    return f"{prefix}:{digest.lower()}"


def shown_url(url: str) -> str:
    """The URL with any password replaced, for messages and results."""
    parts = urlsplit(url)
    userinfo, at, host = parts.netloc.rpartition("@")
    if not at or ":" not in userinfo:
        return url
    return urlunsplit(parts._replace(netloc=f"{userinfo.partition(':')[0]}:********@{host}"))


def resolve(artifact: Artifact, machine: str | None = None) -> Artifact:
    """The artifact with {arch}, {goarch} and {version} filled for C(machine) (the node's own by
    default). A machine other than x86_64/amd64 or aarch64/arm64 fails, naming it, when a
    placeholder needs it."""
    texts = {key: getattr(artifact, key) for key in ("url", "src", "checksum_url")}
    used = {field for text in texts.values() for _l, field, _s, _c in string.Formatter().parse(text) if field}
    if not used:
        return artifact
    values = {"version": artifact.version}
    if used & {"arch", "goarch"}:
        machine = machine or os.uname().machine
        if machine not in MACHINES:
            raise c.ControlInputError(
                f"{artifact.name}: this node's machine is {machine!r}; {{arch}} and {{goarch}} are known for "
                "x86_64 (amd64) and aarch64 (arm64) only; give a url or src without them for this node"
            )
        values["arch"], values["goarch"] = MACHINES[machine]
    return replace(artifact, **{key: text.format(**values) for key, text in texts.items() if text})


# --- the published digest ----------------------------------------------------------------------


def expected_digest(module: t.Any, artifact: Artifact, timeout: int = 30) -> tuple[str, str]:
    """(algorithm, lowercase hex) the artifact must have: its C(checksum), or the line of the file
    at C(checksum_url) that names the artifact. Reads only; fine in check mode."""
    if artifact.checksum:
        algorithm, _sep, digest = artifact.checksum.partition(":")
        return algorithm, digest
    url = artifact.checksum_url
    shown = shown_url(url)
    try:
        with _opened(url, timeout) as (reader, _length):
            data = reader.read(CHECKSUM_FILE_LIMIT + 1)
    except (OSError, http.client.HTTPException, urls.ConnectionError) as exc:
        raise DownloadError(
            f"{artifact.name}: reading the published checksum at {shown} failed: {_reason(exc)}; "
            "run the task again, or give checksum directly"
        ) from None
    except DownloadError as exc:
        raise DownloadError(
            f"{artifact.name}: the published checksum at {shown} could not be read: {exc}; "
            "check the URL (and version), or give checksum directly"
        ) from None
    if len(data) > CHECKSUM_FILE_LIMIT:
        raise DownloadError(f"{artifact.name}: {shown} is larger than 1 MiB, not a checksum file; check checksum_url")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise DownloadError(f"{artifact.name}: {shown} is not text, not a checksum file; check checksum_url") from None
    return _pick_digest(artifact, text, shown)


def _pick_digest(artifact: Artifact, text: str, shown: str) -> tuple[str, str]:
    wanted = artifact_basename(artifact)
    entries: list[tuple[str | None, str, str | None]] = []  # (algorithm named by the line, hex, file name)
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        bsd = BSD_LINE_RE.match(line)
        gnu = GNU_LINE_RE.match(line)
        if bsd:
            entries.append((bsd.group(1).lower(), bsd.group(3), bsd.group(2)))
        elif HEX_RE.match(line):
            entries.append((None, line, None))
        elif gnu:
            entries.append((None, gnu.group(1), gnu.group(2).strip()))
        else:
            raise DownloadError(
                f"{artifact.name}: {shown} has a line {line[:80]!r} that is neither a digest nor 'DIGEST  NAME'; "
                "check checksum_url, or give checksum directly"
            )
    named = [entry for entry in entries if entry[2] and posixpath.basename(entry[2].lstrip("*")) == wanted]
    if named:
        if len({entry[1].lower() for entry in named}) > 1:
            raise DownloadError(f"{artifact.name}: {shown} gives different digests for {wanted}; check the mirror")
        tag, digest, _name = named[0]
    elif len(entries) == 1:
        tag, digest, _name = entries[0]
    else:
        names = ", ".join(sorted({entry[2] for entry in entries if entry[2]})) or "no name"
        raise DownloadError(
            f"{artifact.name}: {shown} has {len(entries)} digest line(s) and none for {wanted} (it lists {names}); "
            "check url and checksum_url, or give checksum directly"
        )
    by_length = {length: name for name, length in ALGORITHMS.items()}.get(len(digest))
    algorithm = tag or by_length
    if algorithm is None or ALGORITHMS[algorithm] != len(digest):
        raise DownloadError(
            f"{artifact.name}: the digest in {shown} has {len(digest)} hex digits, neither sha256 (64) nor sha512 (128)"
        )
    if artifact.algorithm and artifact.algorithm != algorithm:
        raise DownloadError(
            f"{artifact.name}: {shown} gives a {algorithm} digest but algorithm says {artifact.algorithm}; "
            "fix algorithm or checksum_url"
        )
    return algorithm, digest.lower()


def artifact_basename(artifact: Artifact) -> str:
    """The file name a checksum file lists the artifact under: the last part of its URL or src."""
    if artifact.url:
        return posixpath.basename(unquote(urlsplit(artifact.url).path))
    return posixpath.basename(artifact.src)


# --- what is on the node -----------------------------------------------------------------------


def node_path(root: str, path: str) -> str:
    return root.rstrip("/") + path if root else path


def installed(artifact: Artifact, algorithm: str, root: str = "") -> dict:
    """What is at dest now, read only: C(present), C(digest) (hex; for an archive the one its marker
    records, None when unknown), C(algorithm) (of that digest), C(mode) ("0755") and C(owner)
    ("0:0", only read when running as root, else None)."""
    path = node_path(root, artifact.dest)
    state: dict[str, t.Any] = {"present": False, "digest": None, "algorithm": algorithm, "mode": None, "owner": None}
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return state
    except OSError as exc:
        raise DownloadError(f"{artifact.name}: {artifact.dest} cannot be read: {exc.strerror}") from None
    state["present"] = True
    state["mode"] = f"{stat.S_IMODE(info.st_mode):04o}"
    if os.geteuid() == 0:
        state["owner"] = f"{info.st_uid}:{info.st_gid}"
    if artifact.unpack:
        marker = _read_marker(os.path.join(path, MARKER)) if stat.S_ISDIR(info.st_mode) else None
        if marker:
            state["digest"], state["algorithm"] = marker["digest"], marker["algorithm"]
            state["source"] = marker.get("source")
        return state
    if stat.S_ISDIR(info.st_mode):
        raise DownloadError(
            f"{artifact.name}: {artifact.dest} is a directory; give the path of the file itself as dest "
            "(or unpack: true to unpack an archive into it)"
        )
    if not stat.S_ISREG(info.st_mode):
        raise DownloadError(f"{artifact.name}: {artifact.dest} is not a regular file; remove it or choose another dest")
    try:
        state["digest"] = file_digest(path, algorithm)
    except OSError as exc:
        raise DownloadError(f"{artifact.name}: {artifact.dest} cannot be read: {exc.strerror}") from None
    return state


def file_digest(path: str, algorithm: str) -> str:
    hasher = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK), b""):
            hasher.update(chunk)
    return hasher.hexdigest()


def _read_marker(path: str) -> dict | None:
    try:
        with open(path, encoding="utf-8") as handle:
            marker = json.load(handle)
    except (OSError, ValueError):
        return None
    if not isinstance(marker, dict):
        return None
    algorithm, digest = marker.get("algorithm"), marker.get("digest")
    if algorithm not in ALGORITHMS or not isinstance(digest, str) or len(digest) != ALGORITHMS[algorithm]:
        return None
    return marker


def differences(artifact: Artifact, expected: tuple[str, str], state: dict) -> list[dict]:
    """What differs between C(state) (from C(installed)) and the artifact, as C(_controls.difference) items."""
    algorithm, digest = expected
    if not state["present"]:
        return [c.difference(artifact.dest, "directory" if artifact.unpack else "file", "present", None)]
    found = []
    actual = f"{state.get('algorithm') or algorithm}:{state['digest']}" if state["digest"] else None
    if actual != f"{algorithm}:{digest}":
        found.append(c.difference(artifact.dest, "digest", f"{algorithm}:{digest}", actual))
    if state["mode"] != f"{artifact.mode:04o}":
        found.append(c.difference(artifact.dest, "mode", f"{artifact.mode:04o}", state["mode"]))
    if state.get("owner") not in (None, "0:0"):
        found.append(c.difference(artifact.dest, "owner", "0:0", state["owner"]))
    return found


# --- installing --------------------------------------------------------------------------------

# Hidden siblings holding what install() replaced, until discard_backups().
_BACKUPS: list[str] = []


def discard_backups() -> None:
    """Remove the copies install() kept of what it replaced; undo can no longer put them back.
    A module calls this before it exits (it also runs at interpreter exit)."""
    while _BACKUPS:
        _remove(_BACKUPS.pop())


atexit.register(discard_backups)


class Undo:
    """Puts back what was at dest before install() or set_attributes(). Runs once; a second call
    does nothing. After discard_backups() a replaced file can no longer be put back."""

    def __init__(self, artifact: Artifact, target: str, restore: t.Callable[[], None], created: list[str]) -> None:
        self.artifact = artifact
        self.target = target
        self._restore = restore
        self._created = created
        self.done = False

    def __call__(self) -> None:
        if self.done:
            return
        self._restore()
        self.done = True
        _remove_created(self._created)


def set_attributes(artifact: Artifact, root: str = "") -> Undo:
    """Give dest the artifact's mode (and owner root:root when running as root) when its content is
    already right; returns the undo that puts the previous mode and owner back."""
    target = node_path(root, artifact.dest)
    try:
        info = os.stat(target)
        os.chmod(target, artifact.mode)
        if os.geteuid() == 0:
            os.chown(target, 0, 0)
    except OSError as exc:
        raise DownloadError(f"{artifact.name}: setting the mode of {artifact.dest} failed: {exc.strerror}") from None

    def restore() -> None:
        os.chmod(target, stat.S_IMODE(info.st_mode))
        if os.geteuid() == 0:
            os.chown(target, info.st_uid, info.st_gid)

    return Undo(artifact, target, restore, [])


def install(
    module: t.Any, artifact: Artifact, expected: tuple[str, str], root: str = "", timeout: int = 60
) -> t.Callable[[], None]:
    """Download (or copy src) beside dest, verify, then put it in place atomically; see the module's
    description. Returns the undo (an C(Undo)); C(discard_backups()) ends its use."""
    algorithm, digest = expected
    target = node_path(root, artifact.dest)
    parent, base = os.path.split(target)
    source = artifact.source
    if artifact.unpack:
        _zstd_for(module, artifact, artifact_basename(artifact).endswith((".zst", ".tzst")))
    elif os.path.isdir(target) and not os.path.islink(target):
        raise DownloadError(f"{artifact.name}: {artifact.dest} is a directory; give the path of the file as dest")
    created = _make_parents(artifact, parent)
    download = staging = None
    done = False
    try:
        fd, download = tempfile.mkstemp(prefix=f".{base}.nodeguard-download-", dir=parent)
        actual = _fetch_into(fd, artifact, root, algorithm, timeout)
        if actual != digest:
            raise DownloadError(
                f"{artifact.name}: {source} has {algorithm}:{actual}, but {algorithm}:{digest} was expected; "
                "nothing was installed. Check that the checksum belongs to this version and architecture, "
                "and that the mirror serves the published file"
            )
        if artifact.unpack:
            staging = tempfile.mkdtemp(prefix=f".{base}.nodeguard-new-", dir=parent)
            _unpack(module, download, staging, artifact)
            _write_marker(staging, artifact, expected)
            _own(staging, artifact.mode)
            _remove(download)
            download = None
            undo = _swap_directory(artifact, staging, target, created)
            staging = None
        else:
            _own(download, artifact.mode)
            undo = _replace_file(module, artifact, download, target, created)
            download = None
        done = True
        return undo
    except OSError as exc:
        raise DownloadError(
            f"{artifact.name}: installing {source} at {artifact.dest} failed: {exc}; nothing was installed"
        ) from None
    finally:
        if download:
            _remove(download)
        if staging:
            _remove(staging)
        if not done:
            _remove_created(created)


def _make_parents(artifact: Artifact, parent: str) -> list[str]:
    """Create the missing directories above dest (0755), returning those created, outermost first."""
    missing = []
    path = parent
    while not os.path.lexists(path):
        missing.append(path)
        path = os.path.dirname(path)
    if not os.path.isdir(path):
        raise DownloadError(f"{artifact.name}: {path} is not a directory, so {artifact.dest} cannot be placed there")
    created: list[str] = []
    try:
        for directory in reversed(missing):
            os.mkdir(directory, 0o755)
            created.append(directory)
            os.chmod(directory, 0o755)
    except OSError as exc:
        _remove_created(created)
        raise DownloadError(f"{artifact.name}: creating {exc.filename} failed: {exc.strerror}") from None
    return created


def _remove_created(created: list[str]) -> None:
    for directory in reversed(created):
        try:
            os.rmdir(directory)
        except OSError:
            break


def _remove(path: str) -> None:
    try:
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            os.unlink(path)
    except FileNotFoundError:
        pass


def _own(path: str, mode: int) -> None:
    if os.geteuid() == 0:
        os.chown(path, 0, 0)
    os.chmod(path, mode)


def _sibling(target: str, tag: str) -> str:
    parent, base = os.path.split(target)
    while True:
        path = os.path.join(parent, f".{base}.nodeguard-{tag}-{secrets.token_hex(4)}")
        if not os.path.lexists(path):
            return path


@contextlib.contextmanager
def _opened(url: str, timeout: int, path: str | None = None) -> t.Iterator[tuple[t.Any, int | None]]:
    """An open URL (http, https, file), or the node's file C(path), to read from, with its
    Content-Length when the server gave one."""
    parts = urlsplit(url)
    length = None
    try:
        if path is not None or parts.scheme == "file":
            handle: t.Any = open(path if path is not None else unquote(parts.path), "rb")  # noqa: SIM115 - closed below
        else:
            # decompress=False: the digest is of the bytes the server sends.
            handle = urls.open_url(url, timeout=timeout, http_agent=HTTP_AGENT, decompress=False)
            given = handle.headers.get("Content-Length")
            length = int(given) if given and given.isdigit() else None
    except urllib.error.HTTPError as exc:
        raise DownloadError(f"the server answered HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        raise DownloadError(str(exc.reason)) from None
    except (OSError, http.client.HTTPException, urls.ConnectionError, ValueError) as exc:
        raise DownloadError(_reason(exc)) from None
    try:
        yield handle, length
    finally:
        handle.close()


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror}" + (f" ({exc.filename})" if exc.filename else "")
    return str(exc) or type(exc).__name__


def _fetch_into(fd: int, artifact: Artifact, root: str, algorithm: str, timeout: int) -> str:
    """Stream the artifact into C(fd), hashing as it goes; the hex digest."""
    hasher = hashlib.new(algorithm)
    received = 0
    source = artifact.source
    path = None if artifact.url else node_path(root, artifact.src)
    with os.fdopen(fd, "wb") as out:
        try:
            with _opened(artifact.url, timeout, path) as (reader, length):
                while True:
                    try:
                        chunk = reader.read(CHUNK)
                    except (OSError, http.client.HTTPException, urls.ConnectionError) as exc:
                        raise DownloadError(
                            f"{artifact.name}: the download from {source} broke off after {received} bytes "
                            f"({_reason(exc)}); nothing was installed; run the task again or check the server"
                        ) from None
                    if not chunk:
                        break
                    hasher.update(chunk)
                    out.write(chunk)
                    received += len(chunk)
        except DownloadError as exc:
            if "nothing was installed" in str(exc):
                raise
            raise DownloadError(f"{artifact.name}: reading {source} failed: {exc}; nothing was installed") from None
        if length is not None and received != length:
            raise DownloadError(
                f"{artifact.name}: the download from {source} broke off after {received} of {length} bytes; "
                "nothing was installed; run the task again or check the server"
            )
        out.flush()
        os.fsync(out.fileno())
    return hasher.hexdigest()


def _replace_file(module: t.Any, artifact: Artifact, download: str, target: str, created: list[str]) -> Undo:
    backup = None
    if os.path.lexists(target):
        # A second name for the file being replaced: the rename below leaves it there untouched.
        backup = _sibling(target, "previous")
        try:
            os.link(target, backup, follow_symlinks=False)
        except OSError:
            shutil.copy2(target, backup, follow_symlinks=False)
        _BACKUPS.append(backup)
    try:
        _selinux_like(module, download, target)
        # A plain rename in the same directory: the file appears with its mode and owner already set
        # (module.atomic_move would give a new file 0666 minus umask until a later chmod).
        os.replace(download, target)
    except OSError:
        if backup:
            _BACKUPS.remove(backup)
            _remove(backup)
        raise
    _sync_directory(os.path.dirname(target))

    def restore() -> None:
        if backup is None:
            _remove(target)
            return
        if backup not in _BACKUPS:
            raise DownloadError(f"{artifact.name}: the previous {artifact.dest} was already discarded; it stays")
        os.replace(backup, target)
        _BACKUPS.remove(backup)

    return Undo(artifact, target, restore, created)


def _sync_directory(path: str) -> None:
    """Make the rename durable (a crash right after the run keeps the new name); best effort, as
    some file systems refuse fsync on a directory."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _selinux_like(module: t.Any, path: str, target: str) -> None:
    """Give C(path) the SELinux context C(target) has (or would get), as atomic_move does."""
    enabled = getattr(module, "selinux_enabled", None)
    if enabled is None or not enabled():
        return
    exists = os.path.exists(target)
    context = module.selinux_context(target) if exists else module.selinux_default_context(target)
    module.set_context_if_different(path, context, False)


def _swap_directory(artifact: Artifact, staging: str, target: str, created: list[str]) -> Undo:
    """Rename the old directory aside and the new one in; undo reverses both."""
    backup = None
    if os.path.lexists(target):
        backup = _sibling(target, "previous")
        os.rename(target, backup)
        _BACKUPS.append(backup)
    try:
        os.rename(staging, target)
    except OSError:
        if backup:
            os.rename(backup, target)
            _BACKUPS.remove(backup)
        raise
    _sync_directory(os.path.dirname(target))

    def restore() -> None:
        if backup is not None and backup not in _BACKUPS:
            raise DownloadError(f"{artifact.name}: the previous {artifact.dest} was already discarded; it stays")
        undone = _sibling(target, "undone")
        os.rename(target, undone)
        if backup is not None:
            os.rename(backup, target)
            _BACKUPS.remove(backup)
        _remove(undone)

    return Undo(artifact, target, restore, created)


def _write_marker(directory: str, artifact: Artifact, expected: tuple[str, str]) -> None:
    path = os.path.join(directory, MARKER)
    record = {
        "name": artifact.name,
        "source": artifact.source,
        "version": artifact.version,
        "algorithm": expected[0],
        "digest": expected[1],
    }
    if os.path.lexists(path):
        _remove(path)
    with open(path, "x", encoding="utf-8") as handle:
        json.dump(record, handle, indent=2, sort_keys=True)
        handle.write("\n")
    _own(path, 0o644)


# --- archives ----------------------------------------------------------------------------------


def _zstd_for(module: t.Any, artifact: Artifact, needed: bool) -> str | None:
    if not needed:
        return None
    finder = getattr(module, "get_bin_path", None)
    path = finder("zstd", required=False) if finder else shutil.which("zstd")
    if not path:
        raise DownloadError(
            f"{artifact.name}: {artifact.source} is compressed with zstd and this node has no zstd command; "
            "install zstd first, or use the .tar.xz or .tar.gz release; nothing was installed"
        )
    return path


def _unpack(module: t.Any, archive: str, staging: str, artifact: Artifact) -> None:
    with open(archive, "rb") as handle:
        zstd = handle.read(4) == ZSTD_MAGIC

    def unreadable(exc: BaseException) -> DownloadError:
        return DownloadError(
            f"{artifact.name}: {artifact.source} is not a readable tar archive ({exc}); unpack takes .tar, .tar.gz, "
            ".tgz, .tar.xz, .tar.bz2 and .tar.zst (with zstd installed); nothing was installed"
        )

    try:
        if not zstd:
            with tarfile.open(archive, mode="r:*") as tar:
                _extract(tar, staging, artifact)
            return
        command = [str(_zstd_for(module, artifact, True)), "-d", "-c", "-q", archive]
        failure = None
        with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
            try:
                with tarfile.open(fileobj=proc.stdout, mode="r|") as tar:
                    _extract(tar, staging, artifact)
            except (tarfile.TarError, EOFError) as exc:
                failure = exc
            finally:
                t.cast(t.IO[bytes], proc.stdout).close()
                errors = t.cast(t.IO[bytes], proc.stderr).read().decode("utf-8", "replace").strip()
                rc = proc.wait()
        if rc != 0:
            raise DownloadError(
                f"{artifact.name}: zstd could not decompress {artifact.source} ({errors or rc}); nothing was installed"
            )
        if failure is not None:
            raise unreadable(failure)
    except (tarfile.TarError, EOFError, ValueError) as exc:
        raise unreadable(exc) from None
    except DECOMPRESS_ERRORS as exc:
        raise DownloadError(
            f"{artifact.name}: {artifact.source} cannot be decompressed ({exc}); nothing was installed"
        ) from None


def _refuse(artifact: Artifact, member: str, why: str) -> DownloadError:
    return DownloadError(
        f"{artifact.name}: the archive from {artifact.source} has a member {member!r} {why}; "
        "the archive was refused and nothing was installed"
    )


def _member_path(artifact: Artifact, name: str) -> str | None:
    """The member's path below dest, after strip_components; None when stripping leaves nothing."""
    if name.startswith("/"):
        raise _refuse(artifact, name, "with an absolute name")
    parts = [part for part in name.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise _refuse(artifact, name, "that climbs out with '..'")
    if len(parts) <= artifact.strip_components:
        return None
    return "/".join(parts[artifact.strip_components :])


def _extract(tar: tarfile.TarFile, staging: str, artifact: Artifact) -> None:
    """Unpack member by member into C(staging), refusing anything that could reach outside it:
    absolute names, '..', links that point outside, device files, members below a link."""
    kinds: dict[str, str] = {}
    links: list[str] = []
    dir_modes: dict[str, int] = {}
    for member in tar:
        rel = _member_path(artifact, member.name)
        if rel is None:
            continue
        path = os.path.join(staging, rel)
        _make_member_parents(artifact, member.name, staging, rel, dir_modes)
        if member.isdir():
            if os.path.islink(path) or (os.path.lexists(path) and not os.path.isdir(path)):
                raise _refuse(artifact, member.name, "that is a directory and also a file")
            if not os.path.isdir(path):
                os.mkdir(path, 0o700)
            dir_modes[rel] = (member.mode & 0o755) | 0o700
            kinds[rel] = "dir"
        elif member.isfile():
            _clear(artifact, member.name, path)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
            with os.fdopen(fd, "wb") as out:
                shutil.copyfileobj(t.cast(t.IO[bytes], tar.extractfile(member)), out, CHUNK)
            os.chmod(path, (member.mode & 0o755) | 0o400)
            os.utime(path, (member.mtime, member.mtime))
            kinds[rel] = "file"
        elif member.issym():
            _check_link(artifact, member, rel)
            _clear(artifact, member.name, path)
            os.symlink(member.linkname, path)
            links.append(rel)
            kinds[rel] = "link"
        elif member.islnk():
            target = _member_path(artifact, member.linkname)
            if target is None or kinds.get(target) != "file":
                raise _refuse(
                    artifact, member.name, f"hard-linked to {member.linkname!r}, not a file unpacked before it"
                )
            _clear(artifact, member.name, path)
            os.link(os.path.join(staging, target), path)
            kinds[rel] = "file"
        else:
            raise _refuse(artifact, member.name, "that is a device file, fifo or other special file")
        if os.geteuid() == 0:
            os.lchown(path, 0, 0)
    for rel in links:
        if _leaves(staging, artifact.dest, rel):
            raise _refuse(artifact, rel, "whose link leads outside the unpacked tree")
    for rel, mode in sorted(dir_modes.items(), reverse=True):
        os.chmod(os.path.join(staging, rel), mode)


def _make_member_parents(artifact: Artifact, name: str, staging: str, rel: str, dir_modes: dict[str, int]) -> None:
    parts = rel.split("/")[:-1]
    for index in range(1, len(parts) + 1):
        sub = "/".join(parts[:index])
        path = os.path.join(staging, sub)
        if os.path.islink(path):
            raise _refuse(artifact, name, f"below the link {sub!r}")
        if not os.path.lexists(path):
            os.mkdir(path, 0o700)
            if os.geteuid() == 0:
                os.lchown(path, 0, 0)
            dir_modes.setdefault(sub, 0o755)
        elif not os.path.isdir(path):
            raise _refuse(artifact, name, f"below {sub!r}, which is a file")


def _clear(artifact: Artifact, name: str, path: str) -> None:
    """A later member of the same name replaces an earlier file or link, as tar does."""
    if os.path.isdir(path) and not os.path.islink(path):
        raise _refuse(artifact, name, "that is a file and also a directory")
    if os.path.lexists(path):
        os.unlink(path)


def _check_link(artifact: Artifact, member: tarfile.TarInfo, rel: str) -> None:
    target = member.linkname
    if not target:
        raise _refuse(artifact, member.name, "that is a link to nothing")
    if target.startswith("/"):
        normal = posixpath.normpath(target)
        if normal != artifact.dest and not normal.startswith(artifact.dest + "/"):
            raise _refuse(artifact, member.name, f"linking outside {artifact.dest} ({target})")
        return
    joined = posixpath.normpath(posixpath.join(posixpath.dirname(rel), target))
    if joined == ".." or joined.startswith("../"):
        raise _refuse(artifact, member.name, f"linking outside {artifact.dest} ({target})")


def _leaves(staging: str, dest: str, rel: str) -> bool:
    """Whether following the link C(rel) the way the kernel would leaves the unpacked tree (links
    through links included); absolute targets count from dest, where the tree will be."""
    pending = rel.split("/")
    resolved: list[str] = []
    hops = 0
    while pending:
        part = pending.pop(0)
        if part in ("", "."):
            continue
        if part == "..":
            if not resolved:
                return True
            resolved.pop()
            continue
        path = os.path.join(staging, *resolved, part)
        if not os.path.islink(path):
            resolved.append(part)
            continue
        hops += 1
        if hops > 40:
            return True
        target = os.readlink(path)
        if target.startswith("/"):
            normal = posixpath.normpath(target)
            if normal != dest and not normal.startswith(dest + "/"):
                return True
            resolved = []
            target = normal[len(dest) :]
        pending = target.split("/") + pending
    return False


# --- the module --------------------------------------------------------------------------------


def control_id(name: str) -> str:
    slug = re.sub(r"[^a-z0-9_-]+", "-", name.lower()).strip("-_")
    return f"artifact.{slug or 'unnamed'}"


def describe_state(state: dict) -> str | None:
    if not state["present"]:
        return None
    digest = f"{state.get('algorithm')}:{state['digest']}" if state["digest"] else "unknown"
    lines = [f"checksum: {digest}", f"mode: {state['mode']}"]
    if state.get("owner") is not None:
        lines.append(f"owner: {state['owner']}")
    return "".join(f"{line}\n" for line in lines)


def ensure(module: t.Any, artifact: Artifact, timeout: int = 60, root: str = "") -> dict:
    """The whole module: read the published digest and what is installed, act on the difference
    (in check mode only report it), and return the module's result. A failure is a DownloadError
    whose C(result) holds the error result; what this run changed is put back first."""
    control = {"id": control_id(artifact.name), "title": f"{artifact.name} at {artifact.dest} is the published file"}
    details = {"source": artifact.source, "version": artifact.version or None, "unpack": artifact.unpack}
    common = {"dest": artifact.dest, "source": artifact.source}

    def failure(message: str, **extra: t.Any) -> DownloadError:
        result = c.make_result(control, c.ERROR, reason=message, details=details, **extra)
        return DownloadError(
            message, c.module_result([control], {control["id"]: result}, changed=False, diff=[], **common)
        )

    try:
        expected = expected_digest(module, artifact, timeout=timeout)
        state = installed(artifact, expected[0], root)
    except DownloadError as exc:
        raise failure(str(exc)) from None
    checksum = f"{expected[0]}:{expected[1]}"
    want = {"checksum": checksum, "mode": f"{artifact.mode:04o}"}
    if os.geteuid() == 0:
        want["owner"] = "0:0"
    found = differences(artifact, expected, state)
    before = describe_state(state)
    actual = state
    if not found:
        status = c.PASS
    elif module.check_mode:
        status = c.DRIFT
    else:
        content = any(d["where"] != "mode" and d["where"] != "owner" for d in found)
        try:
            undo = install(module, artifact, expected, root, timeout) if content else set_attributes(artifact, root)
        except DownloadError as exc:
            raise failure(str(exc), expected=want, actual=state, differences=found) from None
        try:
            actual = installed(artifact, expected[0], root)
            left = differences(artifact, expected, actual)
        except DownloadError as exc:
            left, actual = [c.difference(artifact.dest, "after install", "readable", str(exc))], state
        if left:
            undo()
            message = f"{artifact.name}: {artifact.dest} still differs after the install: {c.describe(left)}; "
            message += "the previous state was put back"
            raise failure(message, expected=want, actual=actual, differences=left)
        status = c.FIXED
    result = c.make_result(control, status, expected=want, actual=actual, details=details, differences=found)
    diff = [file_diff(artifact.dest, before, describe_state({**state, **_wanted_state(expected, artifact)}))]
    return c.module_result(
        [control],
        {control["id"]: result},
        changed=bool(found),
        diff=diff if found else [],
        checksum=checksum,
        **common,
    )


def _wanted_state(expected: tuple[str, str], artifact: Artifact) -> dict:
    return {
        "present": True,
        "algorithm": expected[0],
        "digest": expected[1],
        "mode": f"{artifact.mode:04o}",
        "owner": "0:0" if os.geteuid() == 0 else None,
    }
