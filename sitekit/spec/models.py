"""The fleet spec's models: one country's site, as a platform and a security team declare it.

Every model is frozen and forbids unknown fields, so a typo in a site file is an error rather than a
silently ignored setting, and every field carries a description that ends up in `sitekit schema`.
Checks that need only one field live here as validators; checks across fields or countries live in
`sitekit.spec.checks` so that all of a file's errors can be reported at once.
"""

from __future__ import annotations

import json
import re
from ipaddress import IPv4Address, IPv4Network
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

_DNS_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_BCP47 = re.compile(r"^[a-z]{2,3}(-[A-Z][a-z]{3})?(-([A-Z]{2}|[0-9]{3}))?$")
_K8S_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_IMAGE_BY_DIGEST = re.compile(r"^(?P<repo>[a-z0-9.-]+(:[0-9]+)?/[a-z0-9._/-]+)@sha256:[0-9a-f]{64}$")
_SEMVER_TAG = re.compile(r"^v?\d+\.\d+\.\d+$")
_K8S_MINOR = re.compile(r"^1\.(2[6-9]|3[0-9])$")
_CONTROL_ID = re.compile(r"^SK-[A-Z]{2,5}-\d{3}$")
# Names the Kubernetes API server would refuse are caught here, with the file and field, rather than at
# `pulumi up`. A Service name is a DNS-1035 label: it must start with a letter.
_DNS1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
# A GPU product as the GPU operator labels nodes (`nvidia.com/gpu.product`); it starts and ends with a letter
# or digit so that `NVIDIA-<model>` and `<...>-SHARED` (time-slicing) stay valid label values of <= 63.
_GPU_MODEL = r"^[A-Za-z0-9][A-Za-z0-9-]{0,39}[A-Za-z0-9]$"
# A ConfigMap data key, as the API server validates it.
_CONFIGMAP_KEY = re.compile(r"^[-._a-zA-Z0-9]{1,253}$")
# A tenant's namespace is `tenant-<name>` and its RoleBindings `tenant-developer-<group>`
# (`sitekit.policy.conventions.TENANT_PREFIX`, `stacks/components/tenant.py`; a unit test keeps them equal).
TENANT_PREFIX = "tenant-"
TENANT_ROLE_BINDING_PREFIX = "tenant-developer-"
# The largest JSON of one model's locale settings: it goes into the locale ConfigMap (`locale.json`), and the
# API server refuses a ConfigMap whose data is over 1 MiB; 64 KiB is far below that and fits a site file.
MAX_LOCALE_SETTINGS_BYTES = 64 * 1024


class _Model(BaseModel):
    """Common configuration: frozen, no unknown fields, validated defaults."""

    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True, str_strip_whitespace=True)


def _text_only(value: object) -> object:
    """Addresses must be written as text: YAML integers and booleans would be read as 0.0.0.1 and the like."""
    if isinstance(value, bool | int | float):
        raise ValueError("write addresses and networks as text, e.g. 10.20.0.11 or 10.20.0.0/24")
    return value


Addr = Annotated[IPv4Address, BeforeValidator(_text_only)]
Net = Annotated[IPv4Network, BeforeValidator(_text_only)]


def _is_hostname(value: str) -> bool:
    labels = value.rstrip(".").split(".")
    return len(labels) >= 2 and all(_DNS_LABEL.match(label) for label in labels)


# A plain mailbox (RFC 5321 dot-atom local part, restricted): it is written into /etc/aliases, where a
# space, comma, quote, `|` or `:include:` would mean another recipient, a command or a file.
_MAIL_ADDRESS = re.compile(
    r"(?P<local>[A-Za-z0-9_%+-]+(?:\.[A-Za-z0-9_%+-]+)*)@"
    r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+"
)


def _is_mail_address(value: str) -> bool:
    m = _MAIL_ADDRESS.fullmatch(value)
    return m is not None and len(m.group("local")) <= 64


Hostname = Annotated[str, Field(min_length=3, max_length=253, description="A DNS name, lower case")]
K8sName = Annotated[str, Field(min_length=1, max_length=63, pattern=_K8S_NAME.pattern)]


def _locale_settings(value: dict[str, str]) -> dict[str, str]:
    """Locale settings the locale ConfigMap can hold: ConfigMap-style keys, and well under its 1 MiB limit."""
    for key in value:
        if not _CONFIGMAP_KEY.match(key):
            raise ValueError(
                f"setting name {key[:80]!r} is not a ConfigMap key: letters, digits, '-', '_' and '.', at most 253"
            )
    size = len(json.dumps(value, sort_keys=True))  # as `locale_data` writes it into locale.json
    if size > MAX_LOCALE_SETTINGS_BYTES:
        raise ValueError(
            f"locale settings take {size} bytes in the model's locale ConfigMap, above the"
            f" {MAX_LOCALE_SETTINGS_BYTES} allowed (the API server refuses a ConfigMap over 1 MiB)"
        )
    return value


LocaleSettings = Annotated[dict[str, str], AfterValidator(_locale_settings)]


def _https_only(endpoint: Endpoint) -> Endpoint:
    """Images and charts come over TLS: over plain http they can be swapped in transit, unnoticed."""
    if urlsplit(endpoint.url).scheme != "https":
        raise ValueError(
            f"{endpoint.url!r} must be an https URL: images and charts fetched over plain http can be swapped in"
            " transit (apt's mirror may be http because apt checks every package against the signed Release file)"
        )
    return endpoint


class Identity(_Model):
    """Who the site belongs to."""

    code: str = Field(
        pattern=r"^[A-Z]{2}$",
        description="ISO 3166-1 alpha-2 country code, upper case (the overlay file is named after it, lower case)",
    )
    name: str = Field(min_length=2, max_length=80, description="The country's name as shown to operators")
    locales: tuple[str, ...] = Field(
        min_length=1,
        description="BCP 47 language tags the country's assistant serves, e.g. et-EE; the first is the default",
    )
    domains: tuple[Hostname, ...] = Field(
        min_length=1,
        description="DNS domains the country controls; every service name and certificate must fall under one",
    )

    security_contact: str | None = Field(
        default=None,
        max_length=254,
        description="E-mail address of the site's security team: root's mail on every host goes there"
        " (/etc/aliases), and `sitekit scan` tailors the mail-alias rule to it. Absent: no alias is written",
    )

    @field_validator("security_contact")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is not None and not _is_mail_address(value):
            raise ValueError(
                f"{value[:80]!r} is not an e-mail address such as 'security@ee.sovereign.example': letters,"
                " digits and . _ % + - before the @, a lower-case DNS domain after it"
            )
        return value

    @field_validator("locales")
    @classmethod
    def _bcp47(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for tag in value:
            if not _BCP47.match(tag):
                raise ValueError(f"{tag!r} is not a BCP 47 language tag such as 'et-EE' or 'sw'")
        return value

    @field_validator("domains")
    @classmethod
    def _domains(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for name in value:
            if not _is_hostname(name.lower()) or name != name.lower():
                raise ValueError(f"{name!r} is not a lower-case DNS domain")
        return value


class Endpoint(_Model):
    """An in-country service reached by URL; its addresses feed egress allow-lists and firewalls."""

    url: str = Field(description="http(s) URL of the service; its host must be under one of the country's domains")
    addresses: tuple[Addr, ...] = Field(
        min_length=1, description="IPv4 addresses the URL's host resolves to, inside the country's ranges"
    )

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{value!r} is not an http(s) URL with a host name")
        if not _is_hostname(parts.hostname):
            raise ValueError(f"{value!r}: host {parts.hostname!r} is not a DNS name")
        return value

    @property
    def host(self) -> str:
        """The URL's host name."""
        return urlsplit(self.url).hostname or ""

    @property
    def port(self) -> int:
        """The URL's port, explicit or by scheme."""
        parts = urlsplit(self.url)
        return parts.port or (443 if parts.scheme == "https" else 80)


class EgressDestination(_Model):
    """One more in-country destination that workloads or hosts may reach."""

    name: K8sName = Field(description="Short name used in policy and firewall comments")
    cidr: Net = Field(description="Destination network, inside the country's ranges")
    ports: tuple[Annotated[int, Field(ge=1, le=65535)], ...] = Field(
        min_length=1, description="TCP ports allowed to that network"
    )


class Residency(_Model):
    """What makes the site sovereign: its own address space, and services it runs in the country."""

    address_ranges: tuple[Net, ...] = Field(
        min_length=1, description="The country's own address ranges; every network and destination must fall inside"
    )
    dns_servers: tuple[Addr, ...] = Field(min_length=1, description="In-country DNS resolvers")
    ntp_servers: tuple[Addr, ...] = Field(min_length=1, description="In-country NTP servers")
    package_mirror: Endpoint = Field(
        description="In-country Debian package mirror the hosts install from; http is allowed because apt verifies"
        " the signed Release file (InRelease or Release.gpg) and every package's hash against it"
    )
    container_registry: Annotated[Endpoint, AfterValidator(_https_only)] = Field(
        description="In-country OCI registry every image must come from; https only (an image fetched over plain"
        " http can be swapped in transit)"
    )
    chart_repository: Annotated[Endpoint, AfterValidator(_https_only)] = Field(
        description="In-country Helm chart repository every chart must come from; https only (a chart fetched over"
        " plain http can be swapped in transit)"
    )
    operator_networks: tuple[Net, ...] = Field(
        min_length=1, description="Networks operators administer hosts from; SSH is allowed only from these"
    )
    extra_egress: tuple[EgressDestination, ...] = Field(
        default=(), description="Other in-country destinations workloads may reach (object storage, identity)"
    )


class Network(_Model):
    """The cluster's own networks."""

    node_cidr: Net = Field(description="Network of the bare-metal hosts")
    pod_cidr: Net = Field(description="Kubernetes pod network")
    service_cidr: Net = Field(description="Kubernetes service network")
    ingress_domain: Hostname = Field(description="Domain under which model endpoints are published")
    allow_public_load_balancer: bool = Field(
        default=False, description="Whether a Service of type LoadBalancer may be declared at all"
    )


class TimeSlicing(_Model):
    """Share each GPU between several pods by time-slicing (no memory isolation)."""

    replicas: int = Field(ge=2, le=48, description="How many pods may share one GPU")


class Mig(_Model):
    """Partition GPUs with Multi-Instance GPU (memory-isolated slices)."""

    profile: str = Field(
        pattern=r"^(all-disabled|all-balanced|all-\d+g\.\d+gb)$",
        description="GPU operator MIG profile, e.g. all-1g.10gb or all-balanced",
    )


class GpuSharing(_Model):
    """At most one sharing scheme per host."""

    time_slicing: TimeSlicing | None = Field(default=None, description="Time-slicing configuration")
    mig: Mig | None = Field(default=None, description="MIG configuration")

    @model_validator(mode="after")
    def _one(self) -> GpuSharing:
        if (self.time_slicing is None) == (self.mig is None):
            raise ValueError("set exactly one of time_slicing or mig")
        return self


class Gpu(_Model):
    """The GPUs in one host."""

    model: str = Field(
        pattern=_GPU_MODEL,
        description="GPU product, e.g. H100-SXM5-80GB or L40S: 2 to 41 letters, digits and inner dashes (a node"
        " label value with the operator's NVIDIA- prefix and -SHARED suffix)",
    )
    count: int = Field(ge=1, le=16, description="Physical GPUs in the host")
    sharing: GpuSharing | None = Field(default=None, description="Optional MIG or time-slicing profile")

    @property
    def schedulable(self) -> int:
        """GPUs Kubernetes can hand out from this host (time-slicing multiplies; MIG is counted as whole GPUs)."""
        if self.sharing and self.sharing.time_slicing:
            return self.count * self.sharing.time_slicing.replicas
        return self.count


Role = Literal["control-plane", "gpu-worker", "storage"]


class Host(_Model):
    """One bare-metal host."""

    name: str = Field(pattern=_K8S_NAME.pattern, max_length=63, description="Host name (also the Kubernetes node name)")
    address: Addr = Field(description="Address on the node network")
    role: Role = Field(description="control-plane, gpu-worker or storage")
    gpu: Gpu | None = Field(default=None, description="GPUs in the host; required for gpu-worker")

    @model_validator(mode="after")
    def _gpu_matches_role(self) -> Host:
        if self.role == "gpu-worker" and self.gpu is None:
            raise ValueError("a gpu-worker host must declare its gpu")
        if self.role != "gpu-worker" and self.gpu is not None:
            raise ValueError(f"a {self.role} host must not declare a gpu")
        return self


class Cluster(_Model):
    """Versions and cluster-wide settings."""

    kubernetes_version: str = Field(pattern=_K8S_MINOR.pattern, description="Kubernetes minor version, e.g. '1.30'")
    gpu_operator_version: str = Field(
        pattern=_SEMVER_TAG.pattern, description="NVIDIA GPU operator chart version, pinned, e.g. v24.9.2"
    )
    ingress_class: K8sName = Field(default="nginx", description="IngressClass of the in-country ingress controller")
    ingress_nginx_version: str = Field(
        default="4.12.1",
        pattern=r"^\d+\.\d+\.\d+$",
        description="ingress-nginx chart version installed for the IngressClass (pinned in sitekit/charts.yaml)",
    )
    metrics_server_version: str = Field(
        default="3.12.2",
        pattern=r"^\d+\.\d+\.\d+$",
        description="metrics-server chart version (the resource-metrics path the model autoscalers read)",
    )
    cluster_domain: Hostname = Field(default="cluster.local", description="Kubernetes cluster DNS domain")


class Deployment(_Model):
    """Where `pulumi up` keeps the country's stack state and what encrypts its secrets: both in the country.

    Pulumi's default (`pulumi login` without a URL) is a SaaS outside the country that would hold the
    site's configuration and its encrypted ingress key; a sovereign site names its own.
    """

    state_backend: str = Field(
        description="Self-managed Pulumi state backend: s3://<bucket>?endpoint=<in-country host>[&...] (an "
        "S3-compatible store inside the country's domains) or file:///<path> (a folder on an in-country host)"
    )
    secrets_provider: str = Field(
        description="hashivault://<transit key> (an in-country Vault, see vault_address) or passphrase (lab only)"
    )
    vault_address: str | None = Field(
        default=None, description="https URL of the in-country Vault whose transit key encrypts stack secrets"
    )


class Locale(_Model):
    """How a model speaks to the country's users."""

    system_prompt_language: str = Field(pattern=r"^[a-z]{2,3}$", description="ISO 639 language of the system prompt")
    default_locale: str = Field(description="BCP 47 tag for dates, numbers and greetings")
    settings: LocaleSettings = Field(
        default_factory=dict,
        description="Extra locale settings passed to the server (in its locale ConfigMap): ConfigMap-style names,"
        f" at most {MAX_LOCALE_SETTINGS_BYTES} bytes as JSON",
    )


class Model(_Model):
    """One model served in the country."""

    name: K8sName = Field(
        description="Name of the model's Deployment, Service, ServiceAccount and ConfigMap <name>-locale, and its"
        " host label <name>.<ingress_domain>: a DNS-1035 label (starts with a letter), at most 63"
    )
    image: str = Field(description="Server image by digest (registry/repo@sha256:...), from the in-country registry")
    gpus_per_replica: int = Field(ge=1, le=8, description="GPUs one replica needs")
    min_replicas: int = Field(ge=1, le=64, description="Replicas kept even when idle")
    max_replicas: int = Field(ge=1, le=64, description="Ceiling for the autoscaler")
    gpu_model: str | None = Field(
        default=None, pattern=_GPU_MODEL, description="Schedule only on hosts with this GPU model (a hosts[].gpu.model)"
    )
    languages: tuple[str, ...] = Field(min_length=1, description="ISO 639 languages the model is served for")
    locale: Locale = Field(description="Locale settings")
    port: int = Field(default=8000, ge=1024, le=65535, description="Port the server listens on in the pod")
    max_model_len: int = Field(default=8192, ge=512, le=1048576, description="Context length passed to the server")

    @field_validator("name")
    @classmethod
    def _service_name(cls, value: str) -> str:
        if not _DNS1035_LABEL.match(value):
            raise ValueError(
                f"{value!r} must start with a letter: the model's Service name is a DNS-1035 label"
                " (lower-case letters, digits and '-', starting with a letter)"
            )
        return value

    @field_validator("image")
    @classmethod
    def _by_digest(cls, value: str) -> str:
        if not _IMAGE_BY_DIGEST.match(value):
            raise ValueError(f"{value!r} is not an image by digest such as registry.example/repo@sha256:<64 hex>")
        return value

    @property
    def image_registry(self) -> str:
        """Registry host of the image (before the first slash)."""
        return self.image.split("/", 1)[0].split(":", 1)[0]

    @model_validator(mode="after")
    def _replicas(self) -> Model:
        if self.min_replicas > self.max_replicas:
            raise ValueError(f"min_replicas {self.min_replicas} is above max_replicas {self.max_replicas}")
        if self.locale.system_prompt_language not in self.languages:
            raise ValueError(
                f"locale.system_prompt_language {self.locale.system_prompt_language!r} is not among languages"
            )
        return self


class Tenant(_Model):
    """A national start-up or agency with its own namespace and GPU quota."""

    name: K8sName = Field(
        description=f"Tenant name: its namespace is {TENANT_PREFIX}<name>, a DNS label of at most 63, so at most"
        f" {63 - len(TENANT_PREFIX)} characters"
    )
    kind: Literal["startup", "agency", "research"] = Field(description="startup, agency or research")
    gpu_quota: int = Field(ge=0, le=4096, description="GPUs the tenant may request at once")
    groups: tuple[str, ...] = Field(
        min_length=1,
        description=f"Identity-provider groups bound to the tenant (RoleBinding {TENANT_ROLE_BINDING_PREFIX}<group>:"
        " no '/' or '%')",
    )
    max_pods: int = Field(default=100, ge=1, le=10000, description="Pods the tenant may run at once")
    max_volume_claims: int = Field(default=20, ge=0, le=1000, description="PersistentVolumeClaims the tenant may hold")
    storage: str = Field(
        default="1Ti",
        pattern=r"^[1-9][0-9]{0,5}(Gi|Ti)$",
        description="Total storage the tenant's volume claims may request, e.g. 500Gi or 2Ti",
    )
    load_balancers: int = Field(
        default=0,
        ge=0,
        le=16,
        description="Services of type LoadBalancer the tenant may create (above 0 only where "
        "network.allow_public_load_balancer is true)",
    )
    node_ports: int = Field(
        default=0, ge=0, le=64, description="Node ports the tenant's Services may open on every host (default none)"
    )

    @field_validator("name")
    @classmethod
    def _namespace_fits(cls, value: str) -> str:
        limit = 63 - len(TENANT_PREFIX)
        if len(value) > limit:
            raise ValueError(
                f"tenant name of {len(value)} characters is too long: its namespace {TENANT_PREFIX}<name> must be"
                f" a DNS label of at most 63 characters, so the name at most {limit}"
            )
        return value

    @field_validator("groups")
    @classmethod
    def _binding_names(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        limit = 253 - len(TENANT_ROLE_BINDING_PREFIX)
        for group in value:
            if not group or "/" in group or "%" in group or len(group) > limit:
                raise ValueError(
                    f"group {group[:80]!r} cannot name its RoleBinding {TENANT_ROLE_BINDING_PREFIX}<group>: a group"
                    f" is 1 to {limit} characters without '/' or '%'"
                )
        return value


class Pkcs11(_Model):
    """Where the country's HSM is reached."""

    module: str = Field(description="Path of the PKCS#11 module (SoftHSM2 in the lab, the HSM vendor's in production)")
    token_label: str = Field(default="", description="Token label; default sitekit-<cc>")


class Custodian(_Model):
    """A person who holds one share of the root key's backup."""

    name: str = Field(min_length=2, description="Full name")
    role: str = Field(min_length=2, description="Function, e.g. security-officer")


class Validity(_Model):
    """How long keys and certificates live."""

    root_ca_days: int = Field(default=3650, ge=365, le=9125, description="Root CA certificate lifetime")
    intermediate_days: int = Field(default=730, ge=30, le=3650, description="Intermediate CA lifetime")
    leaf_days: int = Field(default=90, ge=1, le=397, description="Server and client certificate lifetime")
    ssh_user_cert_hours: int = Field(default=8, ge=1, le=168, description="SSH user certificate lifetime")
    ssh_host_cert_days: int = Field(default=365, ge=1, le=1825, description="SSH host certificate lifetime")
    data_key_days: int = Field(default=180, ge=7, le=730, description="Secrets encryption key lifetime")


class ModelVolume(_Model):
    """The encrypted block device that holds model weights on the hosts of some roles.

    Weights are the country's asset (fine-tuned on its data), so they sit on a LUKS2 volume whose key
    slot is sealed to the host's TPM (it unlocks unattended at boot on that host, never on another
    machine the disk is moved to) and whose recovery key is escrowed, sealed by the country's key
    backend, in the state directory: losing the TPM never loses the data.
    """

    device: str = Field(
        pattern=r"^/dev/[A-Za-z0-9._/:-]+$",
        description="Block device by a stable path (/dev/disk/by-id/...); must be empty or already LUKS2",
    )
    mount_point: str = Field(
        default="/srv/models",
        pattern=r"^(/[a-z0-9_]+)+$",
        description="Where the opened volume is mounted (lower case, no dashes: it names the mount unit)",
    )
    roles: tuple[Role, ...] = Field(default=("gpu-worker",), min_length=1, description="Host roles that get it")
    tpm2_pcrs: tuple[Annotated[int, Field(ge=0, le=23)], ...] = Field(
        default=(7,), description="TPM PCRs the key slot is sealed against (7: Secure Boot policy)"
    )


class Keys(_Model):
    """Key custody and lifetimes."""

    backend: Literal["pkcs11", "file"] = Field(description="pkcs11 (HSM) or file (encrypted PKCS#8 in the state dir)")
    pkcs11: Pkcs11 | None = Field(default=None, description="HSM settings; required for the pkcs11 backend")
    custodians: tuple[Custodian, ...] = Field(min_length=1, description="Holders of the root backup shares (N)")
    threshold: int = Field(ge=1, le=16, description="Shares needed to restore the root (M)")
    validity: Validity = Field(default_factory=Validity, description="Lifetimes")
    rotation_window_days: int = Field(default=30, ge=1, le=365, description="Warn and rotate this long before expiry")
    model_volume: ModelVolume | None = Field(
        default=None, description="TPM-bound LUKS2 volume for model weights; absent: none is managed"
    )

    @model_validator(mode="after")
    def _backend(self) -> Keys:
        if self.backend == "pkcs11" and self.pkcs11 is None:
            raise ValueError("backend pkcs11 needs a pkcs11 section (module path)")
        return self


class Deviation(_Model):
    """A control deliberately not applied as the profile says, with the reason."""

    control: str = Field(pattern=_CONTROL_ID.pattern, description="Control ID from sitekit/controls.yaml")
    reason: str = Field(min_length=20, description="Why, in words an auditor accepts")


class Compliance(_Model):
    """Hardening profile and deliberate deviations."""

    profile: Literal["anssi-bp028-enhanced", "anssi-bp028-intermediary", "cis-level2"] = Field(
        description="Baseline the hardening is measured against"
    )
    deviations: tuple[Deviation, ...] = Field(default=(), description="Controls deliberately changed, with reasons")


class Access(_Model):
    """Who may log in to the hosts."""

    operator_group: str = Field(
        default="sk-operators", pattern=r"^[a-z_][a-z0-9_-]{0,31}$", description="Unix group allowed to log in over SSH"
    )
    admin_principals: tuple[str, ...] = Field(
        min_length=1, description="SSH certificate principals with administrative access on every host"
    )
    role_principals: dict[Role, tuple[str, ...]] = Field(
        default_factory=dict, description="SSH certificate principals accepted per host role"
    )


LOG_PORT = 6514
"""Syslog over TLS (RFC 5425): the collector's port unless the spec names another."""


class Logging(_Model):
    """Where the country's hosts send their logs: one collector of its own, reached over mutual TLS.

    Records never leave the country: the collector is a host of the site (so inside its address ranges),
    clients prove themselves with certificates from the country's logging intermediate, and the host
    firewall opens exactly the path from the site's hosts to the collector's port.
    """

    collector: str = Field(
        pattern=_K8S_NAME.pattern,
        max_length=63,
        description="Name of the host (one of hosts[].name) that collects every host's logs",
    )
    port: int = Field(
        default=LOG_PORT,
        ge=1,
        le=65535,
        description=f"TCP port the collector accepts syslog over TLS on (default {LOG_PORT}, RFC 5425)",
    )


class Site(_Model):
    """One country's sovereign AI site, fully resolved (baseline plus overlay)."""

    identity: Identity = Field(description="Country identity")
    residency: Residency = Field(description="Address space and in-country services")
    network: Network = Field(description="Cluster networks")
    hosts: tuple[Host, ...] = Field(min_length=1, description="Bare-metal inventory")
    cluster: Cluster = Field(description="Versions and cluster settings")
    models: tuple[Model, ...] = Field(default=(), description="Localized model catalog")
    tenants: tuple[Tenant, ...] = Field(default=(), description="Tenants with GPU quotas")
    keys: Keys = Field(description="Key custody")
    compliance: Compliance = Field(description="Hardening profile and deviations")
    access: Access = Field(description="Operator access")
    deployment: Deployment = Field(description="Pulumi state backend and secrets provider, inside the country")
    logging: Logging | None = Field(
        default=None, description="The country's log collector; absent: hosts keep their logs locally only"
    )

    @property
    def cc(self) -> str:
        """Lower-case country code: stack name, inventory folder, overlay file name."""
        return self.identity.code.lower()

    @property
    def gpu_capacity(self) -> int:
        """Schedulable GPUs across the site's hosts."""
        return sum(h.gpu.schedulable for h in self.hosts if h.gpu)

    def host_dns_name(self, host: Host) -> str:
        """The DNS name a host's certificates carry: its name under the country's first domain."""
        return f"{host.name}.{self.identity.domains[0]}"

    def log_collector(self) -> Host | None:
        """The host that collects the country's logs (None when the spec names none, or an unknown host)."""
        if self.logging is None:
            return None
        return next((h for h in self.hosts if h.name == self.logging.collector), None)

    def hosts_by_role(self, role: Role) -> tuple[Host, ...]:
        """Hosts of one role, in spec order."""
        return tuple(h for h in self.hosts if h.role == role)
