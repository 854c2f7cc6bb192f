"""The fleet spec: models, loading with overlay merge, and fleet-wide checks.

Depends on nothing else in sitekit but `sitekit.errors`, so every other part can import it.
"""

from sitekit.spec.issues import SpecError, SpecIssue
from sitekit.spec.loader import Fleet, canonical_json, load_fleet, resolve_site, site_digest
from sitekit.spec.models import Host, Model, Site, Tenant

__all__ = [
    "Fleet",
    "Host",
    "Model",
    "Site",
    "SpecError",
    "SpecIssue",
    "Tenant",
    "canonical_json",
    "load_fleet",
    "resolve_site",
    "site_digest",
]
