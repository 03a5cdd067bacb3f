# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The execution environment definition in ee/ and the build context `ansible-builder create` writes from it.

No container engine is used: the context (Containerfile and _build/) is checked, not built into an image.
The collection tarball is built into a temporary folder laid out like the repository (ee/ beside .build/),
so that the definition's relative path to `make collection`'s tarball resolves unchanged.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import yaml
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
EE = ROOT / "ee"
DEFINITION = "execution-environment.yml"
# The base image chosen in ee/execution-environment.yml (see the comment there).
BASE_IMAGE = "quay.io/centos/centos:stream9"
# The venv's tools, whether or not the venv is activated.
BIN = Path(sys.executable).parent


def tool(name: str) -> str:
    path = BIN / name
    if path.exists():
        return str(path)
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: pip install -c requirements/constraints.txt -r requirements/dev.txt")
    return found


def run(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        args, cwd=cwd, env={**os.environ, **(env or {})}, capture_output=True, text=True, check=False, timeout=120
    )


def constraints() -> dict[str, str]:
    """Exact versions of requirements/constraints.txt, by canonical package name."""
    pins = {}
    for line in requirement_lines(ROOT / "requirements" / "constraints.txt"):
        name, _sep, version = line.partition("==")
        pins[canonicalize_name(name)] = version.strip()
    return pins


def galaxy() -> dict:
    return yaml.safe_load((ROOT / "galaxy.yml").read_text(encoding="utf-8"))


def tarball_name() -> str:
    meta = galaxy()
    return f"{meta['namespace']}-{meta['name']}-{meta['version']}.tar.gz"


def requirement_lines(path: Path) -> list[str]:
    lines = (line.split("#", 1)[0].strip() for line in path.read_text(encoding="utf-8").splitlines())
    return [line for line in lines if line]


def lay_out(root: Path, tarball: Path | None) -> Path:
    """Copy ee/ to root/ee and the tarball to root/.build, as in the repository; return the definition."""
    shutil.copytree(EE, root / "ee")
    if tarball is not None:
        (root / ".build").mkdir()
        shutil.copy2(tarball, root / ".build" / tarball.name)
    return root / "ee" / DEFINITION


def create(definition: Path, context: Path) -> subprocess.CompletedProcess:
    return run(
        tool("ansible-builder"),
        "create",
        "--file",
        str(definition),
        "--context",
        str(context),
        "--output-filename",
        "Containerfile",
        cwd=definition.parent,
    )


def context_problems(context: Path, ee_dir: Path) -> list[str]:
    """What is wrong with a build context made from the definition in ee_dir (empty: nothing)."""
    problems = []
    pins = constraints()
    build = context / "_build"
    containerfile = (context / "Containerfile").read_text(encoding="utf-8").splitlines()

    # Base image, and a Python that ansible-core 2.19 runs on (3.11 or newer).
    if f'ARG EE_BASE_IMAGE="{BASE_IMAGE}"' not in containerfile:
        problems.append(f"the Containerfile does not start from {BASE_IMAGE}")
    pycmd = [line for line in containerfile if line.startswith("ARG PYCMD=")]
    minor = re.search(r"python3\.(\d+)\"$", pycmd[0]) if pycmd else None
    if minor is None or int(minor.group(1)) < 11:
        problems.append(f"the image's Python is not 3.11 or newer: {pycmd}")

    # ansible-core and ansible-runner, installed by pip at the versions of constraints.txt.
    wanted = {f"ansible-core=={pins['ansible-core']}", f"ansible-runner=={pins['ansible-runner']}"}
    refs = [line for line in containerfile if line.startswith("ARG ANSIBLE_INSTALL_REFS=")]
    found = set(refs[0].split("=", 1)[1].strip('"').split()) if refs else set()
    if found != wanted:
        problems.append(
            f"ansible-core and ansible-runner installed as {sorted(found)}, constraints say {sorted(wanted)}"
        )
    if "RUN $PYCMD -m pip install --no-cache-dir $ANSIBLE_INSTALL_REFS" not in containerfile:
        problems.append("the Containerfile does not pip install ANSIBLE_INSTALL_REFS")

    # Python requirements: the definition's file, every line an exact pin of constraints.txt.
    python_file = build / "requirements.txt"
    if not python_file.is_file():
        problems.append("no _build/requirements.txt")
    else:
        if python_file.read_bytes() != (ee_dir / "requirements.txt").read_bytes():
            problems.append("_build/requirements.txt differs from ee/requirements.txt")
        names = set()
        for line in requirement_lines(python_file):
            try:
                req = Requirement(line)
            except InvalidRequirement:
                problems.append(f"requirements.txt: not a requirement: {line!r}")
                continue
            name = canonicalize_name(req.name)
            names.add(name)
            specs = list(req.specifier)
            if len(specs) != 1 or specs[0].operator != "==":
                problems.append(f"requirements.txt: {line!r} is not an exact pin")
            elif specs[0].version != pins.get(name):
                problems.append(f"requirements.txt: {line!r}, constraints.txt pins {name}=={pins.get(name)}")
        if not {"jinja2", "pyyaml"} <= names:
            problems.append(f"requirements.txt lacks jinja2 or pyyaml: {sorted(names)}")

    # Galaxy requirements: this collection, from the tarball copied into the context.
    galaxy_file = build / "requirements.yml"
    entries = (yaml.safe_load(galaxy_file.read_text(encoding="utf-8")) or {}) if galaxy_file.is_file() else {}
    collections = entries.get("collections") or []
    expected = f"collections/{tarball_name()}"
    if entries.get("roles"):
        problems.append(f"requirements.yml installs roles: {entries['roles']}")
    if collections != [{"name": expected, "type": "file"}]:
        problems.append(f"requirements.yml installs {collections}, not [{{name: {expected}, type: file}}]")
    # The galaxy stage installs from /build, a copy of _build, so the path in requirements.yml is relative to it.
    for step in ("COPY _build /build", "WORKDIR /build"):
        if step not in containerfile:
            problems.append(f"the galaxy stage lacks {step!r}")
    if not any(line.startswith("RUN ") and "ansible-galaxy collection install" in line for line in containerfile):
        problems.append("the Containerfile installs no collection")

    tarball = build / expected
    if not tarball.is_file():
        present = sorted(p.name for p in (build / "collections").glob("*")) if (build / "collections").is_dir() else []
        problems.append(f"{tarball_name()} is not in the context (_build/collections holds {present})")
    else:
        problems.extend(tarball_problems(tarball))

    # System packages: the SSH client (and ssh-agent) the controller side needs.
    bindep = build / "bindep.txt"
    packages = [line.split()[0] for line in requirement_lines(bindep)] if bindep.is_file() else []
    if "openssh-clients" not in packages:
        problems.append(f"openssh-clients is not a system dependency: {packages}")
    return problems


def tarball_problems(tarball: Path) -> list[str]:
    """What in the tarball is not this repository's collection at galaxy.yml's version."""
    problems = []
    meta = galaxy()
    with tarfile.open(tarball) as tar:
        members = set(tar.getnames())
        info = json.load(tar.extractfile("MANIFEST.json"))["collection_info"]
    for key in ("namespace", "name", "version"):
        if info[key] != meta[key]:
            problems.append(f"{tarball.name}: MANIFEST.json {key} {info[key]!r}, galaxy.yml {meta[key]!r}")
    modules = {f"plugins/modules/{p.name}" for p in (ROOT / "plugins" / "modules").glob("*.py")}
    wanted = {"playbooks/audit.yml", "playbooks/harden.yml"} | modules
    if not modules or wanted - members:
        problems.append(f"{tarball.name} lacks {sorted(wanted - members) or 'plugins/modules'}")
    if any(m == "ee" or m.startswith("ee/") for m in members):
        problems.append(f"{tarball.name} holds ee/ (galaxy.yml's build_ignore)")
    return problems


@pytest.fixture(scope="module")
def tarball(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("collection")
    result = run(tool("ansible-galaxy"), "collection", "build", "--output-path", str(out), ".", cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    return out / tarball_name()


@pytest.fixture(scope="module")
def context(tmp_path_factory, tarball) -> Path:
    root = tmp_path_factory.mktemp("ee")
    result = create(lay_out(root, tarball), root / "context")
    assert result.returncode == 0, result.stdout + result.stderr
    return root / "context"


def test_the_context_has_the_pinned_tools_requirements_and_collection(context):
    assert context_problems(context, EE) == []
    assert (context / "_build" / "requirements.txt").read_bytes() == (EE / "requirements.txt").read_bytes()


def test_the_definition_is_version_3_and_tags_the_collection_version():
    definition = yaml.safe_load((EE / DEFINITION).read_text(encoding="utf-8"))
    assert definition["version"] == 3
    assert definition["images"]["base_image"]["name"] == BASE_IMAGE
    # The tarball comes from `make collection`'s output folder.
    assert definition["additional_build_files"] == [
        {"src": "../.build/nodeguard-hardening-*.tar.gz", "dest": "collections"}
    ]
    assert definition["options"]["tags"] == [f"nodeguard-hardening-ee:{galaxy()['version']}"]


def test_the_galaxy_stage_installs_the_collection(context, tmp_path):
    """The galaxy stage's two commands, run on a copy of _build as the image's /build, without a container."""
    build = tmp_path / "build"
    shutil.copytree(context / "_build", build)
    env = {"ANSIBLE_GALAXY_DISABLE_GPG_VERIFY": "1"}
    galaxy_cli = tool("ansible-galaxy")
    roles = run(
        galaxy_cli,
        "role",
        "install",
        "-r",
        "requirements.yml",
        "--roles-path",
        str(tmp_path / "roles"),
        cwd=build,
        env=env,
    )
    assert roles.returncode == 0, roles.stdout + roles.stderr
    collections = tmp_path / "collections"
    installed = run(
        galaxy_cli,
        "collection",
        "install",
        "--offline",
        "-r",
        "requirements.yml",
        "--collections-path",
        str(collections),
        cwd=build,
        env=env,
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
    collection = collections / "ansible_collections" / "nodeguard" / "hardening"
    manifest = json.loads((collection / "MANIFEST.json").read_text(encoding="utf-8"))
    assert manifest["collection_info"]["version"] == galaxy()["version"]
    assert (collection / "playbooks" / "audit.yml").is_file()
    assert (collection / "playbooks" / "harden.yml").is_file()

    # The builder stage's introspection: the collection asks for no Python or system package of its own.
    found = run(
        tool("ansible-builder"),
        "introspect",
        str(collections),
        "--user-pip",
        "requirements.txt",
        "--user-bindep",
        "bindep.txt",
        cwd=build,
    )
    assert found.returncode == 0, found.stdout + found.stderr
    data = yaml.safe_load(found.stdout)
    assert all(line.endswith("# from collection user") for line in data["python"] + data["system"]), data


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new), encoding="utf-8")


def _no_tarball(root: Path) -> None:
    shutil.rmtree(root / ".build")


def _stale_tarball(root: Path) -> None:
    (root / ".build" / tarball_name()).rename(root / ".build" / "nodeguard-hardening-0.0.1.tar.gz")


def _repack(root: Path, *, drop: str = "", version: str = "") -> None:
    """Rewrite the tarball under its own name, less one member or with another version in MANIFEST.json."""
    path = root / ".build" / tarball_name()
    with tarfile.open(path) as old:
        members = [(m, old.extractfile(m).read() if m.isfile() else None) for m in old.getmembers() if m.name != drop]
    with tarfile.open(path, "w:gz") as new:
        for member, data in members:
            content = data
            if member.name == "MANIFEST.json" and version:
                manifest = json.loads(data)
                manifest["collection_info"]["version"] = version
                content = json.dumps(manifest).encode()
                member.size = len(content)
            new.addfile(member, io.BytesIO(content) if content is not None else None)


def _foreign_manifest(root: Path) -> None:
    _repack(root, version="0.0.1")


def _no_harden_playbook(root: Path) -> None:
    _repack(root, drop="playbooks/harden.yml")


def _unpinned_jinja(root: Path) -> None:
    _edit(root / "ee" / "requirements.txt", "jinja2==", "jinja2>=")


def _other_pyyaml(root: Path) -> None:
    _edit(root / "ee" / "requirements.txt", "pyyaml==", "pyyaml==0.0.1\n# ")


def _other_core(root: Path) -> None:
    _edit(root / "ee" / DEFINITION, "ansible-core==", "ansible-core==2.19.0\n    # ")


def _no_runner(root: Path) -> None:
    _edit(root / "ee" / DEFINITION, "  ansible_runner:\n    package_pip:", "  # ansible_runner:\n    # package_pip:")


def _other_base(root: Path) -> None:
    _edit(root / "ee" / DEFINITION, f"name: {BASE_IMAGE}", "name: quay.io/ansible/ansible-runner:latest")


def _other_version(root: Path) -> None:
    _edit(root / "ee" / "requirements.yml", tarball_name(), "nodeguard-hardening-0.0.1.tar.gz")


def _no_galaxy_file(root: Path) -> None:
    (root / "ee" / "requirements.yml").unlink()


def _dest_outside(root: Path) -> None:
    _edit(root / "ee" / DEFINITION, "dest: collections", "dest: ../collections")


@pytest.mark.parametrize(
    ("break_it", "expected"),
    [
        (_no_tarball, "is not in the context"),
        (_stale_tarball, "is not in the context"),
        (_foreign_manifest, "MANIFEST.json version '0.0.1'"),
        (_no_harden_playbook, "lacks ['playbooks/harden.yml']"),
        (_unpinned_jinja, "is not an exact pin"),
        (_other_pyyaml, "constraints.txt pins pyyaml"),
        (_other_core, "ansible-core and ansible-runner installed as"),
        (_no_runner, "ansible-core and ansible-runner installed as"),
        (_other_base, f"does not start from {BASE_IMAGE}"),
        (_other_version, "requirements.yml installs"),
        (_no_galaxy_file, "does not exist"),
        (_dest_outside, "must not be an absolute path"),
    ],
    ids=lambda value: value.__name__.strip("_") if callable(value) else None,
)
def test_a_broken_definition_is_refused_or_caught(tmp_path, tarball, break_it, expected):
    definition = lay_out(tmp_path, tarball)
    break_it(tmp_path)
    result = create(definition, tmp_path / "context")
    if result.returncode != 0:
        # ansible-builder refuses the definition.
        assert expected in result.stdout + result.stderr
    else:
        problems = context_problems(tmp_path / "context", tmp_path / "ee")
        assert any(expected in problem for problem in problems), problems
