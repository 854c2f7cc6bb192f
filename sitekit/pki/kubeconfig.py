"""Which cluster a kubeconfig reaches, judged by the certificate authority it trusts.

A country's stack must deploy to that country's cluster and nowhere else. Names and contexts are only
labels; what pins a kubeconfig to a cluster is the CA it verifies the API server with. So a kubeconfig is
accepted for a country only if its current context verifies TLS and every CA certificate it trusts is
the country's own root or one of its Kubernetes intermediates (any generation), as `sitekit keys` made
them. Reading the public certificates needs no PIN.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from sitekit.errors import UserError
from sitekit.pki.layout import ROOT, Layout


@dataclass(frozen=True)
class ClusterEndpoint:
    """The current context's API server and the CA certificates it is verified with."""

    context: str
    server: str
    cas: tuple[x509.Certificate, ...]


def country_cluster_cas(cc: str) -> list[x509.Certificate]:
    """The country's root and every generation of its Kubernetes intermediate (public certificates)."""
    layout = Layout.for_country(cc)
    paths = [layout.cert_path(ROOT), *sorted(layout.certs.glob("kubernetes-*.pem"))]
    certs = [x509.load_pem_x509_certificate(p.read_bytes()) for p in paths if p.exists()]
    if not certs:
        raise UserError(f"no key hierarchy for {cc} in {layout.base}: run `sitekit keys init {cc}` first")
    return certs


def _mapping(items: Any, name: str, what: str) -> dict[str, Any]:
    for item in items or []:
        if isinstance(item, dict) and item.get("name") == name and isinstance(item.get(what), dict):
            return dict(item[what])
    raise UserError(f"kubeconfig: no {what} named {name!r}")


def read_endpoint(text: str, base: Path | None = None) -> ClusterEndpoint:
    """The current context's server and CA certificates; refuses a context that skips TLS verification."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise UserError(f"kubeconfig is not valid YAML: {exc}") from None
    if not isinstance(doc, dict) or not doc.get("current-context"):
        raise UserError("kubeconfig has no current-context")
    context_name = str(doc["current-context"])
    context = _mapping(doc.get("contexts"), context_name, "context")
    cluster = _mapping(doc.get("clusters"), str(context.get("cluster")), "cluster")
    server = str(cluster.get("server") or "")
    if not server.startswith("https://"):
        raise UserError(f"kubeconfig context {context_name!r}: server {server!r} is not https")
    if cluster.get("insecure-skip-tls-verify"):
        raise UserError(f"kubeconfig context {context_name!r} skips TLS verification: refused")
    if cluster.get("certificate-authority-data"):
        try:
            pem = base64.b64decode(str(cluster["certificate-authority-data"]), validate=True)
        except (binascii.Error, ValueError):
            raise UserError("kubeconfig: certificate-authority-data is not base64") from None
    elif cluster.get("certificate-authority"):
        path = Path(str(cluster["certificate-authority"]))
        if not path.is_absolute() and base is not None:
            path = base / path
        try:
            pem = path.read_bytes()
        except OSError as exc:
            raise UserError(f"kubeconfig: cannot read certificate-authority {path}: {exc.strerror}") from None
    else:
        raise UserError(f"kubeconfig context {context_name!r} names no certificate authority")
    try:
        cas = tuple(x509.load_pem_x509_certificates(pem))
    except ValueError:
        raise UserError(f"kubeconfig context {context_name!r}: the certificate authority is not PEM") from None
    return ClusterEndpoint(context_name, server, cas)


def check_kubeconfig(cc: str, text: str, base: Path | None = None) -> ClusterEndpoint:
    """The endpoint, if the kubeconfig trusts only the country's own cluster CA; otherwise a `UserError`."""
    endpoint = read_endpoint(text, base)
    own = {c.public_bytes(Encoding.DER) for c in country_cluster_cas(cc)}
    foreign = [c for c in endpoint.cas if c.public_bytes(Encoding.DER) not in own]
    if not endpoint.cas or foreign:
        subject = foreign[0].subject.rfc4514_string() if foreign else "none"
        raise UserError(
            f"kubeconfig context {endpoint.context!r} ({endpoint.server}) trusts a CA that is not {cc}'s own "
            f"Kubernetes CA ({subject}): refusing to deploy {cc}'s stack to another cluster"
        )
    return endpoint
