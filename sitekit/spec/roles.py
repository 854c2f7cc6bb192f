"""The one map from a spec host's role to its Ansible inventory group.

Render writes the groups, the lab builds its inventory with them, the catalogue maps controls onto them and
the access map reads them; all take them from here (group names cannot contain dashes).
"""

from __future__ import annotations

ROLE_GROUPS: dict[str, str] = {
    "control-plane": "control_plane",
    "gpu-worker": "gpu_workers",
    "storage": "storage",
}


def group_of(role: str) -> str:
    """Inventory group of a host role; a role outside the map gets its name with dashes made underscores."""
    return ROLE_GROUPS.get(role, role.replace("-", "_"))
