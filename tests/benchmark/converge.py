"""Benchmark: per node, wall time and module calls of a converge and of a no-change re-run.

Boots fresh lab nodes (or uses --inventory), runs playbooks/harden.yml twice and prints a table.
With --mitogen (needs `pip install -r requirements/mitogen.txt`) it adds a re-run on mitogen.

Usage: python3 tests/benchmark/converge.py [--nodes N | --inventory FILE] [--mitogen]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LAB = [sys.executable, str(ROOT / "lab" / "nodelab.py")]
# The ansible-playbook of the interpreter running this script, so `.venv/bin/python` suffices.
PLAYBOOK = str(next((p for p in [Path(sys.executable).parent / "ansible-playbook"] if p.exists()), "ansible-playbook"))


def playbook(inventory: str, label: str, extra_env: dict[str, str], workdir: Path) -> dict:
    out = workdir / f"{label}.json"
    env = {
        **os.environ,
        "ANSIBLE_CALLBACK_PLUGINS": str(ROOT / "tests" / "benchmark" / "callback_plugins"),
        "ANSIBLE_CALLBACKS_ENABLED": "module_calls",
        "NODEGUARD_BENCH_OUT": str(out),
        "NODEGUARD_REPORT_DIR": str(workdir / f"reports-{label}"),
        **extra_env,
    }
    started = time.monotonic()
    subprocess.run(
        [PLAYBOOK, "-i", inventory, str(ROOT / "playbooks" / "harden.yml")],
        cwd=ROOT,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    total = time.monotonic() - started
    hosts = json.loads(out.read_text(encoding="utf-8"))
    return {"label": label, "total": total, "hosts": hosts}


def mitogen_env() -> dict[str, str]:
    try:
        import ansible_mitogen  # noqa: PLC0415  (optional)
    except ImportError:
        sys.exit("--mitogen needs: pip install -r requirements/mitogen.txt")
    strategy = Path(ansible_mitogen.__file__).parent / "plugins" / "strategy"
    return {"ANSIBLE_STRATEGY_PLUGINS": str(strategy), "ANSIBLE_STRATEGY": "mitogen_linear"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, default=1)
    parser.add_argument("--inventory")
    parser.add_argument("--mitogen", action="store_true")
    args = parser.parse_args()
    extra = mitogen_env() if args.mitogen else {}
    with tempfile.TemporaryDirectory(prefix="nodeguard-bench-") as tmp:
        workdir = Path(tmp)
        inventory = args.inventory
        if not inventory:
            inventory = subprocess.run(
                [*LAB, "up", "--name", "bench", "--nodes", str(args.nodes)],
                check=True,
                stdout=subprocess.PIPE,
                text=True,
            ).stdout.split()[-1]
        try:
            runs = [playbook(inventory, "converge", {}, workdir), playbook(inventory, "re-run", {}, workdir)]
            if extra:
                runs.append(playbook(inventory, "re-run (mitogen)", extra, workdir))
        finally:
            if not args.inventory:
                subprocess.run([*LAB, "down", "--name", "bench"], check=False)
    print(f"\n{'node':<10} {'run':<18} {'wall s':>7} {'node module calls':>18} {'controller calls':>17} {'changed':>8}")
    for run in runs:
        for host, row in sorted(run["hosts"].items()):
            print(
                f"{host:<10} {run['label']:<18} {row['seconds']:>7.1f} {row['node_calls']:>18} "
                f"{row['controller_calls']:>17} {row['changed']:>8}"
            )
    for run in runs:
        print(f"playbook wall time, {run['label']}: {run['total']:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
