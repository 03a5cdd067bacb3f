"""The README's tables of controls are generated from the catalogs and must be current."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))

import controls_table  # noqa: E402


def test_readme_tables_are_current():
    readme = controls_table.README.read_text(encoding="utf-8")
    wanted = controls_table.updated(readme, controls_table.render(controls_table.role_catalogs()))
    assert readme == wanted, "README.md's tables of controls are stale: run `make docs`"


def test_every_catalog_control_is_in_the_table():
    readme = controls_table.README.read_text(encoding="utf-8")
    table = readme.split(controls_table.BEGIN, 1)[1].split(controls_table.END, 1)[0]
    ids = [c["id"] for controls in controls_table.role_catalogs().values() for c in controls]
    assert ids
    for cid in ids:
        assert f"| `{cid}` |" in table


def test_a_stale_table_is_detected():
    readme = controls_table.README.read_text(encoding="utf-8")
    catalogs = controls_table.role_catalogs()
    role = next(iter(catalogs))
    catalogs[role] = catalogs[role][1:]
    assert controls_table.updated(readme, controls_table.render(catalogs)) != readme
