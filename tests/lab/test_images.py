"""Image recipes, their cache and the test container image, without booting anything."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile

import pytest
from labvm import guest, image, oci, recipes

BUSYBOX = b"\x7fELF fake busybox"


def members(data: bytes) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return {m.name: m for m in tar.getmembers()}


def read(data: bytes, name: str) -> bytes:
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return tar.extractfile(name).read()


def blob(archive: bytes, descriptor: dict) -> bytes:
    """The blob a descriptor names; its digest and size must match its content."""
    algorithm, _unused, digest = descriptor["digest"].partition(":")
    assert algorithm == "sha256"
    data = read(archive, f"blobs/sha256/{digest}")
    assert hashlib.sha256(data).hexdigest() == digest
    assert len(data) == descriptor["size"]
    return data


def test_archive_is_an_oci_image_layout_with_matching_digests():
    archive = oci.archive(BUSYBOX)
    assert json.loads(read(archive, "oci-layout")) == {"imageLayoutVersion": "1.0.0"}
    index = json.loads(read(archive, "index.json"))
    assert index["schemaVersion"] == 2
    assert index["mediaType"] == "application/vnd.oci.image.index.v1+json"
    # containerd's importer names each image after this annotation: busybox, then the CRI pause image.
    assert [entry["annotations"]["io.containerd.image.name"] for entry in index["manifests"]] == [
        oci.IMAGE_REF,
        oci.PAUSE_REF,
    ]
    expected = {name for name, info in members(archive).items() if info.isfile()}
    found = {"oci-layout", "index.json"}
    layers = set()
    configs = {}
    for entry in index["manifests"]:
        assert entry["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
        assert entry["platform"] == {"architecture": "amd64", "os": "linux"}
        assert entry["annotations"]["org.opencontainers.image.ref.name"] == "latest"
        manifest = json.loads(blob(archive, entry))
        assert manifest["mediaType"] == entry["mediaType"]
        assert manifest["config"]["mediaType"] == "application/vnd.oci.image.config.v1+json"
        assert [layer["mediaType"] for layer in manifest["layers"]] == ["application/vnd.oci.image.layer.v1.tar+gzip"]
        config = json.loads(blob(archive, manifest["config"]))
        assert (config["os"], config["architecture"]) == ("linux", "amd64")
        layer = blob(archive, manifest["layers"][0])
        # The config names the layer by the digest of its uncompressed tar.
        assert config["rootfs"] == {
            "type": "layers",
            "diff_ids": ["sha256:" + hashlib.sha256(gzip.decompress(layer)).hexdigest()],
        }
        configs[entry["annotations"]["io.containerd.image.name"]] = config["config"]
        layers.add(manifest["layers"][0]["digest"])
        found |= {"blobs/sha256/" + d["digest"][7:] for d in (entry, manifest["config"], manifest["layers"][0])}
    # Both images share one layer, stored once; nothing else is in the archive.
    assert len(layers) == 1
    assert found == expected
    assert len(expected) == 2 + 2 * 2 + 1
    assert configs[oci.IMAGE_REF]["Cmd"] == ["/bin/sh"]
    # The pod sandbox's process sleeps in the foreground, whatever command the CRI plugin adds.
    assert configs[oci.PAUSE_REF]["Entrypoint"] == ["/bin/sleep", "2147483647"]
    assert "Cmd" not in configs[oci.PAUSE_REF]


def test_layer_holds_busybox_and_applets_that_link_to_it():
    plain, packed = oci.layer(BUSYBOX)
    assert gzip.decompress(packed) == plain
    names = members(plain)
    assert read(plain, "bin/busybox") == BUSYBOX
    assert names["bin/busybox"].mode == 0o755
    for applet in ("sh", "echo", "sleep", "dmesg"):
        assert names[f"bin/{applet}"].issym()
        assert names[f"bin/{applet}"].linkname == "busybox"
    assert names["tmp"].mode == 0o1777
    assert b"root:x:0:0:" in read(plain, "etc/passwd")


def test_archive_is_reproducible():
    assert oci.archive(BUSYBOX) == oci.archive(BUSYBOX)
    assert oci.archive(BUSYBOX) != oci.archive(BUSYBOX + b"!")


def test_write_puts_the_archive_where_the_import_unit_reads_it(tmp_path):
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin/busybox").write_bytes(BUSYBOX)
    path = oci.write(tmp_path, guest.OCI_ARCHIVE)
    assert path.read_bytes() == oci.archive(BUSYBOX)
    assert f"images import /{guest.OCI_ARCHIVE}\n" in guest.IMPORT_UNIT


def test_recipes_cover_both_releases_and_the_containerd_fixture():
    assert recipes.names() == [
        "debian12",
        "debian12-containerd",
        "debian12-kubelet",
        "debian13",
        "debian13-containerd",
        "debian13-kubelet",
    ]
    assert recipes.DEFAULT_IMAGE == "debian12"
    assert recipes.recipe("debian12")["suite"] == "bookworm"
    assert recipes.recipe("debian13-containerd")["suite"] == "trixie"
    with pytest.raises(SystemExit, match="no image recipe 'debian11'"):
        recipes.recipe("debian11")
    with pytest.raises(SystemExit, match="no image recipe 'debian12-podman'"):
        recipes.recipe("debian12-podman")


@pytest.mark.parametrize("name", recipes.names())
def test_every_recipe_has_what_the_roles_and_the_fixture_need(name):
    recipe = recipes.recipe(name)
    packages = set(recipe["packages"])
    assert {"openssh-server", "python3"} <= packages
    # Each release's own cloud kernel, from its own archive only.
    assert "linux-image-cloud-amd64" in packages
    assert recipes.sources(recipe) == [f"deb {recipe['mirror']} {recipe['suite']} main"]
    assert set(recipes.HARDENING_PACKAGES) <= packages
    assert recipe["containerd"] == name.endswith(("-containerd", "-kubelet"))
    assert (set(recipes.CONTAINER_PACKAGES) <= packages) == recipe["containerd"]
    # The stand-in kubelet reads its configuration with PyYAML; only the kubelet images carry it.
    assert (set(recipes.KUBELET_PACKAGES) <= packages) == name.endswith("-kubelet")


def test_every_recipe_has_its_own_hash():
    hashes = {image.recipe_hash(name) for name in recipes.names()}
    assert len(hashes) == len(recipes.names())
    assert image.recipe_hash("debian13") == image.recipe_hash("debian13")


def test_hash_follows_what_goes_into_the_image(monkeypatch):
    before = image.recipe_hash("debian12")
    monkeypatch.setattr(recipes, "MIRROR", "http://mirror.invalid/debian")
    assert image.recipe_hash("debian12") != before


def test_a_build_prunes_older_builds_of_its_own_recipe_only(tmp_path):
    folders = [
        "debian12-1111111111111111-aaaaaaaa",
        "debian12-2222222222222222-aaaaaaaa",
        "debian12-containerd-3333333333333333-aaaaaaaa",
        "debian13-4444444444444444-aaaaaaaa",
        "debian13-containerd-5555555555555555-aaaaaaaa",
    ]
    for name in folders:
        (tmp_path / name).mkdir()
    removed = image.prune(tmp_path / "debian12-2222222222222222-aaaaaaaa")
    assert [p.name for p in removed] == ["debian12-1111111111111111-aaaaaaaa"]
    assert sorted(p.name for p in tmp_path.iterdir()) == folders[1:]
    assert image.prune(tmp_path / "debian13-containerd-5555555555555555-aaaaaaaa") == []
