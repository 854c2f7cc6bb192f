"""IngressTls: the serving endpoints' certificate, issued by the country's own CA through `sitekit.pki`.

The certificate and key are wrapped as Pulumi secrets the moment they enter the program, so they are
encrypted in state and never printed. Under `sitekit plan` (offline, possibly before `sitekit keys init`)
the program may fall back to clearly marked placeholders; a real `pulumi up` never does.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from sitekit.spec import Site

PLACEHOLDER = "UNAVAILABLE: placeholder declared by sitekit plan; no certificate was issued"
PREVIEW_PENDING = "PENDING: pulumi preview issues nothing; pulumi up issues this certificate"


class IngressTlsUnavailable(Exception):
    """The certificate cannot be issued (no key hierarchy yet); says what the operator should run."""


@dataclass(frozen=True)
class IngressTlsArgs:
    """Where the Secret goes, the host names it covers, and whether placeholders are acceptable (plan only)."""

    site: Site
    namespace: str
    hosts: tuple[str, ...]
    secret_name: str = "ingress-tls"
    allow_placeholder: bool = False
    depends_on: tuple[pulumi.Resource, ...] = ()


def issue(site: Site, hosts: tuple[str, ...], *, offline_plan: bool = False) -> tuple[str, str]:
    """Ask `sitekit.pki` for a leaf covering `hosts`; raise `IngressTlsUnavailable` if it cannot.

    During a `pulumi preview` or an offline plan (`sitekit plan`, `sitekit access`) nothing is issued or
    written to disk: a stored leaf is reused, or the Secret is declared with a marked pending value that
    `pulumi up` replaces with a real certificate. Only `pulumi up` issues.
    """
    try:
        from sitekit.pki import ingress_tls, stored_ingress_tls  # imported here: optional until keys exist
    except ImportError as exc:
        raise IngressTlsUnavailable(
            f"sitekit.pki.ingress_tls is not available ({exc}); the ingress certificate cannot be issued"
        ) from exc
    preview = pulumi.runtime.is_dry_run() or offline_plan
    try:
        found = stored_ingress_tls(site, list(hosts)) if preview else ingress_tls(site, list(hosts))
    except Exception as exc:  # pki raises UserError when the hierarchy is missing; keep its message
        raise IngressTlsUnavailable(f"cannot issue the ingress certificate for {site.cc}: {exc}") from exc
    if found is None:
        return PREVIEW_PENDING, PREVIEW_PENDING
    return found


class IngressTls(pulumi.ComponentResource):
    """A `kubernetes.io/tls` Secret whose data are Pulumi secrets."""

    secret_name: str
    placeholder: bool

    def __init__(self, name: str, args: IngressTlsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("sitekit:tls:IngressTls", name, None, opts)
        self.secret_name = args.secret_name
        self.placeholder = False
        try:
            fullchain, key = issue(args.site, args.hosts, offline_plan=args.allow_placeholder)
        except IngressTlsUnavailable as exc:
            if not args.allow_placeholder:
                raise
            self.placeholder = True
            fullchain, key = PLACEHOLDER, PLACEHOLDER
            pulumi.log.warn(
                f"ingress TLS: {exc}; the plan declares Secret {args.namespace}/{args.secret_name} "
                "with placeholders marked unavailable"
            )
        k8s.core.v1.Secret(
            f"{name}-secret",
            metadata={
                "name": args.secret_name,
                "namespace": args.namespace,
                "annotations": {"sitekit.io/tls-hosts": ",".join(args.hosts)},
            },
            type="kubernetes.io/tls",
            string_data={"tls.crt": pulumi.Output.secret(fullchain), "tls.key": pulumi.Output.secret(key)},
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.depends_on)),
        )
        self.register_outputs({"secret_name": args.secret_name, "placeholder": self.placeholder})
