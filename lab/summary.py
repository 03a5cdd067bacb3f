"""Before/after summary of two audits: one line per control that was not passing before.

Controls skipped in both audits for the same reason (a whole role that does not apply to the node,
such as the control plane's on a worker) are counted on one line per reason.

Usage: python3 lab/summary.py BEFORE_DIR AFTER_DIR
Exits 1 when the second audit still shows drift or errors, or a report is missing.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def load(folder: Path) -> dict[str, dict]:
    return {
        path.name.removesuffix("-audit.json"): json.loads(path.read_text(encoding="utf-8"))
        for path in sorted(folder.glob("*-audit.json"))
    }


def counts(report: dict) -> str:
    return ", ".join(f"{status} {number}" for status, number in report["summary"].items())


def main(before_dir: str, after_dir: str) -> int:
    before, after = load(Path(before_dir)), load(Path(after_dir))
    if not before or set(before) != set(after):
        print(f"reports missing: before {sorted(before)}, after {sorted(after)}")
        return 1
    failed = False
    for host in sorted(before):
        old = {c["id"]: c for c in before[host]["controls"]}
        new = {c["id"]: c for c in after[host]["controls"]}
        print(f"\n{host}")
        print(f"  before: {counts(before[host])}")
        print(f"  after:  {counts(after[host])}")
        width = max(len(cid) for cid in old)
        still_skipped: dict[str, list[str]] = {}
        for cid, control in old.items():
            if control["status"] == "pass" and new[cid]["status"] == "pass":
                continue
            if control["status"] == new[cid]["status"] == "skipped" and control["reason"] == new[cid]["reason"]:
                still_skipped.setdefault(new[cid]["reason"] or "", []).append(cid)
                if len(still_skipped[new[cid]["reason"] or ""]) > 1:
                    continue
            print(f"  {cid:<{width}}  {control['status']:>7} -> {new[cid]['status']:<7}  {new[cid]['reason'] or ''}")
        for ids in still_skipped.values():
            if len(ids) > 1:
                print(f"  ... and {len(ids) - 1} more skipped for the same reason as {ids[0]}")
        left = after[host]["summary"]["drift"] + after[host]["summary"]["error"]
        failed = failed or left > 0
    print("\nno drift after hardening" if not failed else "\ndrift or errors remain after hardening")
    return 1 if failed else 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2]))
