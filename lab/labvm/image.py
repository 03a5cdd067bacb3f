"""Building node images with mmdebstrap, cached per recipe hash in CACHE/images/."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

from . import guest, oci, recipes
from .access import ssh_key
from .host import CACHE, locked, log, run

REQUIRED_TOOLS = ("mmdebstrap", "mkfs.ext4", "qemu-img")


def recipe_hash(name: str) -> str:
    """Changes with the recipe and with everything written into the image on top of it."""
    recipe = recipes.recipe(name)
    material = json.dumps(recipe, sort_keys=True) + Path(guest.__file__).read_text(encoding="utf-8")
    if recipe["containerd"]:
        material += Path(oci.__file__).read_text(encoding="utf-8")
    return hashlib.sha256(material.encode()).hexdigest()[:16]


def image_dir(name: str = recipes.DEFAULT_IMAGE) -> Path:
    # The image holds the lab key's public half: a new key means a new image.
    pub = ssh_key().with_suffix(".pub").read_bytes()
    return CACHE / "images" / f"{name}-{recipe_hash(name)}-{hashlib.sha256(pub).hexdigest()[:8]}"


def recipe_of(folder: Path) -> str:
    """The recipe name of an image folder (NAME-RECIPEHASH-KEYHASH)."""
    return folder.name.rsplit("-", 2)[0]


def prune(target: Path) -> list[Path]:
    """Remove older builds of target's recipe; other recipes' images stay."""
    removed = []
    for old in target.parent.iterdir():
        if old != target and old.is_dir() and recipe_of(old) == recipe_of(target):
            shutil.rmtree(old, ignore_errors=True)
            removed.append(old)
    return removed


def build(name: str = recipes.DEFAULT_IMAGE) -> Path:
    """Build the node image of a recipe unless it is cached; return its folder."""
    recipe = recipes.recipe(name)
    target = image_dir(name)
    # A finished image appears in one rename, so a cached one needs no wait behind other builds.
    if (target / "base.qcow2").exists():
        return target
    with locked(CACHE / "build.lock"):
        if (target / "base.qcow2").exists():
            return target
        missing = [t for t in REQUIRED_TOOLS if not shutil.which(t)]
        if missing:
            raise SystemExit(f"nodelab: missing tools {missing}: run 'make deps' first")
        log(f"building node image {target.name} (about a minute)")
        work = Path(tempfile.mkdtemp(prefix="nodelab-build-", dir=CACHE))
        try:
            rootfs = work / "rootfs"
            run(
                [
                    "mmdebstrap",
                    "--quiet",
                    f"--variant={recipe['variant']}",
                    "--include=" + ",".join(recipe["packages"]),
                    recipe["suite"],
                    str(rootfs),
                    *recipes.sources(recipe),
                ]
            )
            guest.customise(rootfs, recipe, ssh_key().with_suffix(".pub").read_text(encoding="utf-8"))
            raw = work / "disk.raw"
            run(["mkfs.ext4", "-q", "-F", "-L", "root", "-d", str(rootfs), str(raw), recipe["disk_size"]])
            out = work / "out"
            out.mkdir()
            run(["qemu-img", "convert", "-f", "raw", "-O", "qcow2", str(raw), str(out / "base.qcow2")])
            boot = rootfs / "boot"
            shutil.copy(sorted(boot.glob("vmlinuz-*"))[-1], out / "vmlinuz")
            shutil.copy(sorted(boot.glob("initrd.img-*"))[-1], out / "initrd.img")
            (out / "recipe.json").write_text(json.dumps(recipe, indent=2), encoding="utf-8")
            target.parent.mkdir(parents=True, exist_ok=True)
            os.rename(out, target)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        # A lab still running on a removed image keeps its open backing file until it stops.
        prune(target)
        log("image ready")
        return target
