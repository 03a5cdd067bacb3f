# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filters that turn a node's port sets and the cluster's networks into ufw rules, and check rules
as ufw would before any node is touched."""

from __future__ import annotations

import typing as t

from ansible.errors import AnsibleFilterError

from ansible_collections.nodeguard.hardening.plugins.module_utils._ufw.rules import (
    RuleError,
    canonical_address,
    from_spec,
)

# What a port set entry may say; everything else of a rule comes from the sources it names.
_ENTRY_KEYS = frozenset({"name", "port", "protocol", "from", "action", "interface", "comment"})


def _addresses(name: str, group: str, sources: dict) -> list[str]:
    if group not in sources:
        known = ", ".join(sorted(sources)) or "none"
        raise AnsibleFilterError(f"{name}: no source group {group!r} (known groups: {known})")
    addresses = sources[group]
    if isinstance(addresses, str):
        addresses = [addresses]
    if not isinstance(addresses, list):
        raise AnsibleFilterError(f"{name}: the source group {group!r} must be a list of addresses or networks")
    for address in addresses:
        try:
            canonical_address(address, f"source group {group!r}")
        except RuleError as error:
            raise AnsibleFilterError(f"{name}: {error}") from None
    return addresses


def ufw_port_rules(port_sets: t.Any, sources: t.Any, prefix: str = "nodeguard") -> list[dict]:
    """Rules that open each port set entry to the addresses of the source groups it names.

    C(port_sets) is a list of entries (name, port, protocol, from: a list of group names, and
    optionally action, interface, comment); C(sources) maps each group name to a list of
    addresses or networks. An entry gets one rule per address of its groups, each commented
    "PREFIX: NAME" so a later run knows the rules it made. A group with no addresses opens
    nothing: a port that must stay closed is never opened to "any" by mistake.
    """
    name = "ufw_port_rules"
    if not isinstance(port_sets, list):
        raise AnsibleFilterError(f"{name}: the port sets must be a list of entries, got {type(port_sets).__name__}")
    if not isinstance(sources, dict):
        raise AnsibleFilterError(f"{name}: the sources must map group names to lists of addresses")
    rules: list[dict] = []
    seen: dict[tuple, tuple] = {}
    for index, entry in enumerate(port_sets):
        label = f"{name}: entry {index + 1}"
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str) or not entry["name"]:
            raise AnsibleFilterError(f"{label} needs a name: {entry!r}")
        label = f"{name}: {entry['name']!r}"
        unknown = sorted(set(entry) - _ENTRY_KEYS)
        if unknown:
            raise AnsibleFilterError(f"{label}: unknown key(s) {', '.join(unknown)}")
        groups = entry.get("from")
        if not isinstance(groups, list) or not groups or not all(isinstance(group, str) for group in groups):
            raise AnsibleFilterError(f"{label}: 'from' must list the source groups the port is open to")
        comment = f"{prefix}: {entry.get('comment') or entry['name']}"
        for group in groups:
            for address in _addresses(label, group, sources):
                spec = {key: entry[key] for key in ("port", "protocol", "action", "interface") if key in entry}
                spec.update({"from": address, "comment": comment})
                try:
                    made = from_spec(spec, label)
                except RuleError as error:
                    raise AnsibleFilterError(str(error)) from None
                earlier = seen.get(made[0].slot)
                if earlier is not None:
                    if earlier[1] != (made[0].action, made[0].log):
                        raise AnsibleFilterError(
                            f"{label} and {earlier[0]!r} both make a rule for {made[0].describe(comment=False)}"
                            " with different actions; ufw keeps one rule per port, protocol and address"
                        )
                    continue
                seen[made[0].slot] = (entry["name"], (made[0].action, made[0].log))
                rules.append(spec)
    return rules


def ufw_metadata_rules(
    protected: t.Any, pod_networks: t.Any, allowed: t.Any = None, prefix: str = "nodeguard"
) -> list[dict]:
    """Routed rules that drop what pods send to the metadata addresses, except from ALLOWED.

    The node's own traffic to those addresses is not routed, so it keeps its access. Allowed
    workloads (addresses or networks inside the pod networks) come first, since ufw stops at
    the first rule that matches.
    """
    name = "ufw_metadata_rules"
    allowed = allowed or []
    for what, value in (("protected", protected), ("pod_networks", pod_networks), ("allowed", allowed)):
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise AnsibleFilterError(f"{name}: {what} must be a list of addresses or networks")
    if not protected:
        return []
    if not pod_networks:
        raise AnsibleFilterError(f"{name}: give the cluster's pod networks, the traffic to stop comes from there")

    def version(address: str, what: str) -> int | None:
        try:
            return canonical_address(address, f"{name}: {what}")[1]
        except RuleError as error:
            raise AnsibleFilterError(str(error)) from None

    rules = []
    for target in protected:
        family = version(target, "protected address")
        sources = [source for source in pod_networks if version(source, "pod network") == family]
        if not sources:
            raise AnsibleFilterError(
                f"{name}: {target} is protected but no pod network is of its IP version; add one or drop the address"
            )
        for source in allowed:
            if version(source, "allowed address") == family:
                rules.append(
                    {"route": True, "from": source, "to": target, "comment": f"{prefix}: metadata allowed for {source}"}
                )
        for source in sources:
            rules.append(
                {
                    "route": True,
                    "action": "deny",
                    "log": True,
                    "from": source,
                    "to": target,
                    "comment": f"{prefix}: metadata protected from pods",
                }
            )
    for index, spec in enumerate(rules):
        try:
            from_spec(spec, f"{name}: rule {index + 1}")
        except RuleError as error:
            raise AnsibleFilterError(str(error)) from None
    return rules


def ufw_route_rules(pod_networks: t.Any, service_networks: t.Any = None, prefix: str = "nodeguard") -> list[dict]:
    """Routed rules that let the cluster's traffic through a node whose routed policy denies.

    Pod networks are allowed as source and destination (pods talking to each other across
    nodes, and to the world); service networks as destination (a connection to a ClusterIP
    before kube-proxy rewrites it). They belong after the metadata rules, which must match first.
    """
    name = "ufw_route_rules"
    service_networks = service_networks or []
    rules: list[dict] = []
    for what, networks in (("pod_networks", pod_networks), ("service_networks", service_networks)):
        if not isinstance(networks, list) or not all(isinstance(item, str) for item in networks):
            raise AnsibleFilterError(f"{name}: {what} must be a list of networks (CIDRs)")
        for network in networks:
            try:
                canonical_address(network, f"{name}: {what} entry")
            except RuleError as error:
                raise AnsibleFilterError(str(error)) from None
            if what == "pod_networks":
                rules.append({"route": True, "from": network, "comment": f"{prefix}: pod network {network}"})
            rules.append({"route": True, "to": network, "comment": f"{prefix}: cluster network {network}"})
    return rules


class FilterModule:
    def filters(self) -> dict[str, t.Callable]:
        return {
            "ufw_port_rules": ufw_port_rules,
            "ufw_metadata_rules": ufw_metadata_rules,
            "ufw_route_rules": ufw_route_rules,
        }
