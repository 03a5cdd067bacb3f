"""A lab of real Debian nodes as qemu virtual machines, for tests and demos.

Commands (each one step):
  build [--image R ... | --all]
                             build node images (cached; rebuilt when a recipe changes)
  up [--name L] [--nodes N | --image R ...] [--operator]
                             boot N nodes of the default image (or one node per --image),
                             wait for SSH, write an inventory, print its path
                             (--operator: log in as sudo user labop on port 2222)
  status [--name L]          show labs, their nodes and whether they answer
  down [--name L | --prefix P | --all]
                             stop nodes and their switch, remove the lab's state
  inventory [--name L]       print the inventory path of a lab that is up

Images (recipes):
  {recipes}
The -containerd and -kubelet images add containerd, runc and a busybox container image,
{ref}, imported into containerd's k8s.io namespace at boot.

Every node gets an SSH port forwarded on 127.0.0.1 and a second NIC on a private
switch (vde_switch on a unix socket) that all nodes of a lab share; node i has
address 10.77.0.(10+i)/24 there. Nothing touches the host's own network.
"""

from __future__ import annotations

import argparse
import os

from . import lab, oci, recipes
from .host import lab_dir
from .image import build

MAX_NODES = 9


def parser() -> argparse.ArgumentParser:
    known = ", ".join(recipes.names())
    main = argparse.ArgumentParser(
        description=__doc__.format(recipes=known, ref=oci.IMAGE_REF),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = main.add_subparsers(dest="command", required=True)
    p_build = sub.add_parser("build", help="build node images")
    which = p_build.add_mutually_exclusive_group()
    which.add_argument(
        "--image", action="append", help=f"a recipe (repeatable; default {recipes.DEFAULT_IMAGE}): {known}"
    )
    which.add_argument("--all", action="store_true", help="every recipe")
    p_up = sub.add_parser("up", help="boot a lab")
    p_up.add_argument("--name", default="default")
    p_up.add_argument("--nodes", type=int, help=f"that many nodes of the {recipes.DEFAULT_IMAGE} image")
    p_up.add_argument("--image", action="append", help=f"one node of this image, in order (repeatable): {known}")
    p_up.add_argument("--memory", type=int, default=int(os.environ.get("NODELAB_MEMORY", "1024")))
    p_up.add_argument(
        "--operator",
        action="store_true",
        help="reach the nodes as the sudo user labop on guest port 2222 instead of root on port 22",
    )
    p_status = sub.add_parser("status", help="show labs")
    p_status.add_argument("--name")
    p_down = sub.add_parser("down", help="stop a lab")
    group = p_down.add_mutually_exclusive_group()
    group.add_argument("--name", default="default")
    group.add_argument("--all", action="store_true")
    group.add_argument("--prefix", help="every lab whose name starts with this")
    p_inv = sub.add_parser("inventory", help="print the inventory path of a lab that is up")
    p_inv.add_argument("--name", default="default")
    return main


def node_images(args: argparse.Namespace, error) -> list[str]:
    """The image of each node, from --nodes N or the --image list."""
    if args.nodes is not None and args.image:
        error("give --nodes or --image, not both")
    images = args.image or [recipes.DEFAULT_IMAGE] * (1 if args.nodes is None else args.nodes)
    if not 1 <= len(images) <= MAX_NODES:
        error(f"a lab has 1 to {MAX_NODES} nodes")
    for name in images:
        recipes.recipe(name)
    return images


def main(argv: list[str] | None = None) -> int:
    cli = parser()
    args = cli.parse_args(argv)
    if args.command == "build":
        names = args.image or [recipes.DEFAULT_IMAGE]
        for name in names:
            recipes.recipe(name)
        for name in recipes.names() if args.all else names:
            print(build(name), flush=True)
    elif args.command == "up":
        print(lab.up(args.name, node_images(args, cli.error), args.memory, args.operator))
    elif args.command == "status":
        return lab.status(args.name)
    elif args.command == "down":
        if args.prefix:
            lab.down_prefix(args.prefix)
        else:
            lab.down(None if args.all else args.name)
    elif args.command == "inventory":
        path = lab_dir(args.name) / "inventory.yml"
        if not path.exists():
            raise SystemExit(f"nodelab: lab {args.name} is not up")
        print(path)
    return 0
