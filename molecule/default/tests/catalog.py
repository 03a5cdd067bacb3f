"""A role's catalog as a scenario's converge saw it: templates rendered with the role's
defaults and the scenario's group variables, controls switched on or off the same way.

The tests read what each control wants from here, so a control changed in the catalog changes
what is verified.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from jinja2.nativetypes import NativeEnvironment

ROOT = Path(__file__).resolve().parents[3]
SCENARIO = Path(__file__).resolve().parents[1] / "molecule.yml"


def _load(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _variables(role: str, scenario: Path) -> dict:
    folder = ROOT / "roles" / role
    group_vars = _load(scenario)["provisioner"]["inventory"]["group_vars"]["all"]
    return {**_load(folder / "vars" / "main.yml"), **_load(folder / "defaults" / "main.yml"), **group_vars}


def _render(value, env: NativeEnvironment, variables: dict):
    if isinstance(value, dict):
        return {key: _render(item, env, variables) for key, item in value.items()}
    if isinstance(value, list):
        return [_render(item, env, variables) for item in value]
    if isinstance(value, str) and "{{" in value:
        # Variables may hold templates themselves: render until nothing is left.
        for _unused in range(5):
            value = env.from_string(value).render(variables)
            if not isinstance(value, str) or "{{" not in value:
                break
        return _render(value, env, variables) if not isinstance(value, str) else value
    return value


def controls(role: str = "system", scenario: Path = SCENARIO) -> list[dict]:
    """Every control of the role's catalog that the scenario switched on, rendered."""
    env = NativeEnvironment()
    # The few Ansible filters the catalogs use.
    env.filters["bool"] = lambda value: value if isinstance(value, bool) else str(value).lower() in ("1", "yes", "true")
    env.filters["dict2items"] = lambda value: [{"key": k, "value": v} for k, v in value.items()]
    env.filters["items2dict"] = lambda value: {item["key"]: item["value"] for item in value}
    env.filters["combine"] = lambda *dicts: {key: value for each in dicts for key, value in each.items()}
    variables = _variables(role, scenario)
    catalog = _render(variables[f"{role}__catalog"], env, variables)
    enabled = set(_render(variables.get("nodeguard_enabled_controls", []), env, variables))
    disabled = set(_render(variables.get("nodeguard_disabled_controls", {}), env, variables))
    return [
        control
        for control in catalog
        if (_render(control.get("default", True), env, variables) is not False or control["id"] in enabled)
        and control["id"] not in disabled
    ]


def spec_for(control: dict, platform: list[str]) -> dict:
    """The control's spec on a node of C(platform) (C(debian-13), C(debian)), as the module picks it."""
    for key in platform:
        if key in (control.get("by_platform") or {}):
            return control["by_platform"][key]
    return control.get("spec")
