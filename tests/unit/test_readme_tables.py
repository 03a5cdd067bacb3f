"""The README's tables of controls are generated from the catalogs and must be current."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))

import controls_table  # noqa: E402


def test_readme_tables_are_current():
    readme = controls_table.README.read_text(encoding="utf-8")
    wanted = controls_table.updated(readme, controls_table.role_catalogs())
    assert readme == wanted, "README.md's tables of controls are stale: run `make docs`"


def test_every_catalog_control_is_in_the_tables():
    readme = controls_table.README.read_text(encoding="utf-8")
    tables = controls_table.tables(readme)
    catalogs = controls_table.role_catalogs()
    assert {"kernel", "system", "access"} <= set(catalogs)
    ids = [c["id"] for controls in catalogs.values() for c in controls]
    assert len(ids) == len(set(ids)), "a control id is in two catalogs"
    for cid in ids:
        assert f"| `{cid}` |" in tables


def test_the_access_role_has_its_own_table():
    readme = controls_table.README.read_text(encoding="utf-8")
    begin, end = controls_table.role_markers("access")
    own = readme.split(begin, 1)[1].split(end, 1)[0]
    common = readme.split(controls_table.BEGIN, 1)[1].split(controls_table.END, 1)[0]
    assert "#### Role `access`" in own and "#### Role `access`" not in common
    assert "`cis.sshd.permit_root_login`" in own and "`cis.sshd.permit_root_login`" not in common
    # Titles show the role's defaults, not the variables that hold them.
    assert "{{" not in own


def test_a_stale_table_is_detected():
    readme = controls_table.README.read_text(encoding="utf-8")
    catalogs = controls_table.role_catalogs()
    for role in catalogs:
        shorter = dict(catalogs)
        shorter[role] = catalogs[role][1:]
        assert controls_table.updated(readme, shorter) != readme, role
