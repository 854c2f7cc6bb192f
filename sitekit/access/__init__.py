"""The access map: who holds which power over a country's site, derived and never hand-written.

`sitekit access <cc>` reads three sources only: the fleet spec (`sitekit.spec`), the rendered Ansible
inventory (`inventories/<cc>/`, read through Ansible and the roles' own defaults), and the Kubernetes objects
the stack program plans (`sitekit.plan`, under mocks). From them it lists Kubernetes RBAC grants, SSH
principals and sudo per host group, key custody and M-of-N, who can obtain a model volume's recovery key or
the Secrets data key, and every network path out of the cluster; then it raises named findings
(`sitekit.access.findings`). The JSON form is documented in `sitekit.access.schema`.
"""

from __future__ import annotations

from sitekit.access.derive import AccessInputs, derive_map, load_inputs
from sitekit.access.model import AccessMap, Finding

__all__ = ["AccessInputs", "AccessMap", "Finding", "derive_map", "load_inputs"]
