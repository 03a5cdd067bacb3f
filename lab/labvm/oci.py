"""The lab's container images in one OCI layout archive, built from the busybox-static binary of a rootfs.

No registry is reachable, so the containerd fixture ships this archive in the node image and
imports it with `ctr images import` at boot. It holds two images on the same layer:

- IMAGE_REF, busybox: the containers the tests run.
- PAUSE_REF, the pod sandbox ("pause") image of containerd's CRI plugin (its sandbox_image), whose
  process only has to stay up: its entrypoint sleeps.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from pathlib import Path

IMAGE_REF = "localhost/nodelab/busybox:latest"
PAUSE_REF = "localhost/nodelab/pause:latest"
# Applets linked in /bin, so containers can run the usual commands by name.
# dmesg: a gVisor sandbox answers with its own boot messages, a runc container with the node's.
APPLETS = (
    "sh",
    "echo",
    "cat",
    "ls",
    "sleep",
    "id",
    "touch",
    "mkdir",
    "rm",
    "ps",
    "mount",
    "uname",
    "true",
    "false",
    "dmesg",
)
# The pause image's process: 2^31-1 seconds (68 years), the largest signed 32-bit count.
PAUSE_ENTRYPOINT = ["/bin/sleep", "2147483647"]

MEDIA_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
MEDIA_CONFIG = "application/vnd.oci.image.config.v1+json"
MEDIA_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_INDEX = "application/vnd.oci.image.index.v1+json"


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _add(
    tar: tarfile.TarFile,
    name: str,
    data: bytes = b"",
    *,
    mode: int = 0o644,
    kind: bytes = tarfile.REGTYPE,
    link: str = "",
) -> None:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.mtime, info.linkname = kind, mode, 0, link
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    tar.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)


def layer(busybox: bytes) -> tuple[bytes, bytes]:
    """The root filesystem layer: (uncompressed tar, gzip of it). Deterministic for one binary."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for folder in ("bin", "etc", "tmp", "proc", "sys", "dev"):
            _add(tar, folder, kind=tarfile.DIRTYPE, mode=0o1777 if folder == "tmp" else 0o755)
        _add(tar, "bin/busybox", busybox, mode=0o755)
        for applet in APPLETS:
            _add(tar, f"bin/{applet}", kind=tarfile.SYMTYPE, link="busybox")
        _add(tar, "etc/passwd", b"root:x:0:0:root:/:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n")
        _add(tar, "etc/group", b"root:x:0:\nnogroup:x:65534:\n")
    plain = raw.getvalue()
    packed = io.BytesIO()
    with gzip.GzipFile(fileobj=packed, mode="wb", mtime=0) as gz:
        gz.write(plain)
    return plain, packed.getvalue()


def _json(value: dict) -> bytes:
    return json.dumps(value, sort_keys=True).encode()


def _config(plain: bytes, arch: str, settings: dict) -> bytes:
    """An image configuration of the one layer whose uncompressed tar is plain."""
    return _json(
        {
            "architecture": arch,
            "os": "linux",
            "config": settings,
            "rootfs": {"type": "layers", "diff_ids": [_digest(plain)]},
        }
    )


def _manifest(config: bytes, packed: bytes) -> bytes:
    return _json(
        {
            "schemaVersion": 2,
            "mediaType": MEDIA_MANIFEST,
            "config": {"mediaType": MEDIA_CONFIG, "digest": _digest(config), "size": len(config)},
            "layers": [{"mediaType": MEDIA_LAYER, "digest": _digest(packed), "size": len(packed)}],
        }
    )


def images() -> dict[str, dict]:
    """Each image of the archive by reference: its configuration's settings, in archive order."""
    return {
        IMAGE_REF: {"Env": ["PATH=/bin"], "Cmd": ["/bin/sh"], "WorkingDir": "/"},
        PAUSE_REF: {"Env": ["PATH=/bin"], "Entrypoint": PAUSE_ENTRYPOINT, "WorkingDir": "/"},
    }


def archive(busybox: bytes, arch: str = "amd64") -> bytes:
    """An OCI image layout as a tar archive with every image of images(), each named by its
    reference for containerd's importer; the layer blob is stored once. Deterministic."""
    plain, packed = layer(busybox)
    blobs: dict[str, bytes] = {_digest(packed): packed}
    descriptors = []
    for ref, settings in images().items():
        config = _config(plain, arch, settings)
        manifest = _manifest(config, packed)
        blobs[_digest(config)] = config
        blobs[_digest(manifest)] = manifest
        descriptors.append(
            {
                "mediaType": MEDIA_MANIFEST,
                "digest": _digest(manifest),
                "size": len(manifest),
                "platform": {"architecture": arch, "os": "linux"},
                "annotations": {
                    "io.containerd.image.name": ref,
                    "org.opencontainers.image.ref.name": ref.rsplit(":", 1)[1],
                },
            }
        )
    index = _json({"schemaVersion": 2, "mediaType": MEDIA_INDEX, "manifests": descriptors})
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        _add(tar, "oci-layout", json.dumps({"imageLayoutVersion": "1.0.0"}).encode())
        _add(tar, "index.json", index)
        _add(tar, "blobs", kind=tarfile.DIRTYPE, mode=0o755)
        _add(tar, "blobs/sha256", kind=tarfile.DIRTYPE, mode=0o755)
        for digest in sorted(blobs):
            _add(tar, f"blobs/sha256/{digest.split(':', 1)[1]}", blobs[digest])
    return out.getvalue()


def write(rootfs: Path, target: str = "var/lib/nodelab/busybox-oci.tar") -> Path:
    """Build the archive from the rootfs's busybox-static and put it into the rootfs."""
    busybox = (rootfs / "bin" / "busybox").read_bytes()
    path = rootfs / target
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(archive(busybox))
    return path
