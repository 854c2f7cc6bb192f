"""`sitekit lab up <cc> --tier cluster`: a real control plane in the country's lab namespace.

etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok run inside the lab namespace (made
here with the lab's own netns code when no lab of the country is up, or joined when one is) and listen on
the lab gateway address; nothing listens in the machine's namespace except the forwarder on 127.0.0.1
(sitekit.cluster.forward), which the country's kubeconfig names. Certificates come from the country's own
intermediates (kubernetes, etcd, front-proxy) through `sitekit.pki`: the CA keys stay in the token, leaf
keys are written 0600 into the cluster folder and go with it on `down`. Every process is recorded (pid and
start time) in the lab's state record before anything waits on it, so `sitekit lab down` removes it all.
See docs/LAB-CLUSTER.md for the design and its reasons.
"""

from __future__ import annotations

import base64
import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from sitekit.atomic import ensure_private_dir, write_private
from sitekit.cluster import binaries
from sitekit.cluster.api import Client
from sitekit.cluster.gpu_labels import gpu_capacity, host_labels
from sitekit.errors import UserError
from sitekit.lab import netns, procs
from sitekit.lab.layout import check_cc, layout_for
from sitekit.lab.procs import ProcRef
from sitekit.lab.state import ClusterRecord, LabState, lab_dir
from sitekit.lab.util import LabError, phase, require_root, require_tools
from sitekit.pki.hierarchy import Hierarchy
from sitekit.spec import Site, load_fleet

API_PORT = 6443
ETCD_PORT = 2379
ETCD_PEER_PORT = 2380
NODE_LEASE_SECONDS = 40
"""Node lease duration kwok renews for every simulated node (a kubelet's default)."""

KWOK_ANNOTATION = "kwok.x-k8s.io/node"
"""kwok manages the nodes carrying this annotation (value `fake`); no taint, so every workload can land."""
ADMIN_USER = "sitekit-lab-admin"
START_TIMEOUT = 120.0
#: Resources of a simulated node besides its GPUs (the spec does not model CPU or memory).
NODE_RESOURCES = {"cpu": "64", "memory": "512Gi", "pods": "110", "ephemeral-storage": "1Ti"}

AUDIT_POLICY: dict[str, Any] = {
    "apiVersion": "audit.k8s.io/v1",
    "kind": "Policy",
    "omitStages": ["RequestReceived"],
    "rules": [
        # Heartbeats of the simulated kubelets and leader leases: frequent and without evidential value.
        {"level": "None", "resources": [{"group": "coordination.k8s.io", "resources": ["leases"]}]},
        {"level": "None", "nonResourceURLs": ["/healthz*", "/readyz*", "/livez*", "/version"]},
        {
            "level": "None",
            "verbs": ["get", "list", "watch"],
            "users": ["system:kube-scheduler", "system:kube-controller-manager"],
        },
        # Never the content of secrets or tokens: who touched them and when is enough.
        {
            "level": "Metadata",
            "resources": [
                {"group": "", "resources": ["secrets", "configmaps", "serviceaccounts/token"]},
                {"group": "authentication.k8s.io", "resources": ["tokenreviews"]},
            ],
        },
        {"level": "Request", "verbs": ["create", "update", "patch", "delete", "deletecollection"]},
        {"level": "Metadata"},
    ],
}


@dataclass
class ClusterResult:
    """What `up_cluster` made and how long each phase took."""

    cc: str
    kubeconfig: Path
    server: str
    timings: dict[str, float] = field(default_factory=dict)
    reused: bool = False


def cluster_dir(cc: str) -> Path:
    """The cluster folder of a country's lab: certificates, configuration, etcd data, logs, kubeconfig."""
    return lab_dir(cc) / "cluster"


def kubeconfig_path(cc: str) -> Path:
    """The country's admin kubeconfig (0600), for pulumi, the tests and the operator."""
    return cluster_dir(cc) / "kubeconfig"


def healthy(state: LabState) -> bool:
    """True if the lab's cluster finished starting and every one of its processes still runs."""
    rec = state.cluster
    return bool(rec and rec.ready and rec.procs and all(r.alive() for r in rec.procs.values()))


def status_lines(cc: str, rec: ClusterRecord) -> list[str]:
    """`sitekit lab status` lines of a cluster."""
    alive = {name: ref.alive() for name, ref in rec.procs.items()}
    state = "up" if rec.ready and all(alive.values()) else ("starting or broken" if not rec.ready else "degraded")
    lines = [f"  cluster: {state}, API https://127.0.0.1:{rec.api_port} (in the lab: {rec.api_address}:{API_PORT})"]
    lines += [f"    {name:<24} {'running' if ok else 'stopped'}" for name, ok in alive.items()]
    lines.append(f"  kubeconfig: {kubeconfig_path(cc)}")
    return lines


# ------------------------------------------------------------------------------------ certificates


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def kubeconfig(name: str, server: str, ca: bytes, cert: bytes, key: bytes, tls_server_name: str | None = None) -> str:
    """A one-context kubeconfig with embedded certificate data (it holds a private key: write it 0600)."""
    cluster: dict[str, Any] = {"server": server, "certificate-authority-data": _b64(ca)}
    if tls_server_name:
        cluster["tls-server-name"] = tls_server_name
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": name, "cluster": cluster}],
        "users": [{"name": name, "user": {"client-certificate-data": _b64(cert), "client-key-data": _b64(key)}}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
        "current-context": name,
    }
    return "# Generated by `sitekit lab up --tier cluster`; do not edit.\n" + yaml.safe_dump(doc, sort_keys=False)


@dataclass(frozen=True)
class Pki:
    """Paths of the cluster's certificates and keys (keys 0600) and of the files holding secrets."""

    folder: Path

    def cert(self, name: str) -> Path:
        """A leaf's certificate chain, or a CA bundle (`*-ca`)."""
        return self.folder / f"{name}.pem"

    def key(self, name: str) -> Path:
        """A leaf's private key."""
        return self.folder / f"{name}.key"


def api_names(site: Site, address: str) -> list[str]:
    """Names of the API server certificate: the in-cluster service name and IP, and the lab address."""
    service_ip = str(next(site.network.service_cidr.hosts()))
    return [f"kubernetes.default.svc.{site.cluster.cluster_domain}", service_ip, address]


def issue_all(site: Site, pki: Pki, address: str, config: Path) -> None:
    """Issue every certificate of the cluster from the country's intermediates, and the other secrets.

    The country's keys must exist (`sitekit keys init <cc>`); the CA keys sign inside the token and never
    leave it. Writes the service-account key pair and the EncryptionConfiguration (data key) too.
    """
    from sitekit.pki.datakeys import encryption_config

    ensure_private_dir(pki.folder)
    with Hierarchy.open(site) as h:
        h.require()
        for purpose in ("kubernetes", "etcd", "front-proxy"):
            write_private(pki.cert(f"{purpose}-ca"), h.ca_bundle(purpose), 0o644)
        leaves: list[tuple[str, str, list[str], Any, str | None, str | None]] = [
            ("apiserver", "kubernetes", api_names(site, address), "server", None, None),
            ("etcd-server", "etcd", [address], "peer", f"etcd {site.cc}", None),
            ("apiserver-etcd-client", "etcd", [], "client", "kube-apiserver-etcd-client", None),
            ("front-proxy-client", "front-proxy", [], "client", "front-proxy-client", None),
            ("controller-manager", "kubernetes", [], "client", "system:kube-controller-manager", None),
            ("scheduler", "kubernetes", [], "client", "system:kube-scheduler", None),
            # kwok plays every node's kubelet at once; no node identity covers that, so it is an admin.
            ("kwok", "kubernetes", [], "client", "sitekit-lab-kwok", "system:masters"),
            ("admin", "kubernetes", [], "client", ADMIN_USER, "system:masters"),
        ]
        for name, purpose, names, profile, cn, org in leaves:
            issued = h.issue(purpose, names, profile, common_name=cn, organization=org)
            write_private(pki.key(name), issued.key_pem)
            write_private(pki.cert(name), issued.fullchain_pem, 0o644)
        write_private(config / "encryption.yaml", encryption_config(h).encode())
    sa = ec.generate_private_key(ec.SECP256R1())
    write_private(
        pki.key("service-account"),
        sa.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
    )
    write_private(
        pki.cert("service-account-pub"),
        sa.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo),
        0o644,
    )


def write_kubeconfigs(cc: str, pki: Pki, config: Path, address: str, port: int, site: Site) -> None:
    """Kubeconfigs of the components (in the lab, to the lab address) and the admin's (through the forwarder)."""
    ca = pki.cert("kubernetes-ca").read_bytes()
    inside = f"https://{address}:{API_PORT}"
    for name in ("controller-manager", "scheduler", "kwok"):
        text = kubeconfig(name, inside, ca, pki.cert(name).read_bytes(), pki.key(name).read_bytes())
        write_private(config / f"{name}.kubeconfig", text.encode())
    admin = kubeconfig(
        f"sitekit-lab-{cc}",
        f"https://127.0.0.1:{port}",
        ca,
        pki.cert("admin").read_bytes(),
        pki.key("admin").read_bytes(),
        tls_server_name=f"kubernetes.default.svc.{site.cluster.cluster_domain}",
    )
    write_private(kubeconfig_path(cc), admin.encode())


# -------------------------------------------------------------------------------------- processes


def _argv(state: LabState, binary: Path, *args: str) -> list[str]:
    assert state.netns is not None
    return ["nsenter", f"--net=/run/netns/{state.netns}", "--", str(binary), *args]


def _start(state: LabState, name: str, argv: list[str], logs: Path, env: dict[str, str] | None = None) -> None:
    """Start one component inside the lab namespace and record it before anything waits on it."""
    assert state.cluster is not None
    with open(logs / f"{name}.log", "ab") as out:
        child = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True, env=env
        )
    ref = ProcRef.of(child.pid)
    if ref is None:
        raise UserError(f"{name} exited at once; see {logs / (name + '.log')}")
    state.cluster.procs[name] = ref
    state.save()


def _start_forwarder(state: LabState, folder: Path, address: str, logs: Path) -> int:
    """Bind 127.0.0.1:<free port> in the machine's namespace and hand it to the forwarder process."""
    assert state.cluster is not None and state.netns is not None
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    port: int = listener.getsockname()[1]
    argv = [
        sys.executable, "-m", "sitekit.cluster.forward", "--fd", str(listener.fileno()),
        "--netns", f"/run/netns/{state.netns}", "--to", f"{address}:{API_PORT}", "--lab", str(folder),
    ]  # fmt: skip
    with open(logs / "forward.log", "ab") as out:
        child = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True,
            pass_fds=(listener.fileno(),), cwd=Path(__file__).resolve().parents[2],
        )  # fmt: skip
    listener.close()
    ref = ProcRef.of(child.pid)
    if ref is None:
        raise UserError(f"the API forwarder exited at once; see {logs / 'forward.log'}")
    state.cluster.procs["forward"] = ref
    state.cluster.api_port = port
    state.save()
    return port


def _wait_tcp(state: LabState, address: str, port: int, name: str, logs: Path) -> None:
    from sitekit.lab import probe

    assert state.netns is not None
    try:
        probe.wait_for(state.netns, [(address, port, "")], START_TIMEOUT)
    except LabError as exc:
        raise UserError(f"{name} did not start: {exc}; see {logs / (name + '.log')}") from exc


def _node(site: Site, name: str) -> dict[str, Any]:
    host = next(h for h in site.hosts if h.name == name)
    resources = dict(NODE_RESOURCES)
    if host.gpu is not None:
        resources |= gpu_capacity(host.gpu)
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": host.name,
            "labels": host_labels(host),
            "annotations": {KWOK_ANNOTATION: "fake", "node.alpha.kubernetes.io/ttl": "0"},
        },
        "status": {
            "capacity": resources,
            "allocatable": resources,
            "addresses": [
                {"type": "InternalIP", "address": str(host.address)},
                {"type": "Hostname", "address": host.name},
            ],
        },
    }


def _node_ready(node: dict[str, Any]) -> bool:
    """Ready, and the controller manager has lifted the not-ready taint (until then nothing schedules)."""
    conditions = node.get("status", {}).get("conditions", [])
    ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)
    return ready and not node.get("spec", {}).get("taints")


def up_cluster(cc: str, sites: Path) -> ClusterResult:
    """Start the control plane of `cc` (idempotent: a healthy cluster is left as is)."""
    from sitekit.lab.lab import _healthy, down

    cc = check_cc(cc)
    require_root()
    require_tools("ip", "nsenter")
    if not sites.is_dir():
        raise UserError(f"no fleet spec folder at {sites} (use --sites)")
    site = load_fleet(sites).site(cc)
    layout = layout_for(cc, site)
    timings: dict[str, float] = {}
    with Hierarchy.open(site) as h:
        h.require()  # before any build or namespace: the operator's first fix is `keys init`
    with phase("binaries", timings):
        bins = binaries.ensure()
    existing = LabState.load(cc)
    if existing is not None and healthy(existing) and _healthy(existing):
        print(f"lab {cc}: the cluster is already up; kubeconfig: {kubeconfig_path(cc)}", file=sys.stderr)
        port = existing.cluster.api_port if existing.cluster else 0
        return ClusterResult(cc, kubeconfig_path(cc), f"https://127.0.0.1:{port}", reused=True)
    if existing is not None and existing.tier != "cluster" and existing.cluster is None and _healthy(existing):
        state = existing  # join the running lab's namespace
    else:
        if existing is not None:
            print(f"lab {cc}: cleaning a previous, incomplete or different lab first", file=sys.stderr)
            down(cc)
        if netns.exists(layout.netns):
            raise UserError(
                f"network namespace {layout.netns} exists but no lab of {cc} in {lab_dir(cc)} recorded it; "
                f"remove it yourself (ip netns delete {layout.netns}) if it is a leftover"
            )
        lab = lab_dir(cc)
        lab.mkdir(parents=True, exist_ok=True)
        os.chmod(lab, 0o700)
        state = LabState(cc=cc, tier="cluster", netns=layout.netns, created_netns_root=not netns.netns_root_mounted())
        state.save()
        with phase("network", timings):
            netns.create(layout.netns, layout.bridge_addresses())
    address = str(layout.gateway.ip)
    state.cluster = ClusterRecord(api_address=address)
    state.save()
    try:
        result = _start_all(state, site, bins, address, timings)
    except BaseException:
        print(
            f"lab {cc}: the cluster is incomplete; its logs are in {cluster_dir(cc)}/logs/ and "
            f"`sitekit lab down {cc}` removes it",
            file=sys.stderr,
        )
        raise
    return result


def _start_all(
    state: LabState, site: Site, bins: dict[str, Path], address: str, timings: dict[str, float]
) -> ClusterResult:
    """Certificates, configuration, then etcd, the API server, the forwarder, the controllers, the nodes."""
    cc = state.cc
    folder = ensure_private_dir(cluster_dir(cc))
    pki, config, logs = Pki(folder / "pki"), ensure_private_dir(folder / "config"), ensure_private_dir(folder / "logs")
    data = ensure_private_dir(folder / "etcd")
    run_dir = ensure_private_dir(folder / "run")
    with phase("certificates", timings):
        issue_all(site, pki, address, config)
    write_private(config / "audit-policy.yaml", yaml.safe_dump(AUDIT_POLICY, sort_keys=False).encode(), 0o644)
    start = time.monotonic()
    with phase("etcd", timings):
        _start(state, "etcd", _argv(
            state, bins["etcd"], f"--name=etcd-{cc}", f"--data-dir={data}",
            f"--listen-client-urls=https://{address}:{ETCD_PORT}", f"--advertise-client-urls=https://{address}:{ETCD_PORT}",
            f"--listen-peer-urls=https://{address}:{ETCD_PEER_PORT}",
            f"--initial-advertise-peer-urls=https://{address}:{ETCD_PEER_PORT}",
            f"--initial-cluster=etcd-{cc}=https://{address}:{ETCD_PEER_PORT}", "--initial-cluster-state=new",
            f"--cert-file={pki.cert('etcd-server')}", f"--key-file={pki.key('etcd-server')}",
            f"--trusted-ca-file={pki.cert('etcd-ca')}", "--client-cert-auth=true",
            f"--peer-cert-file={pki.cert('etcd-server')}", f"--peer-key-file={pki.key('etcd-server')}",
            f"--peer-trusted-ca-file={pki.cert('etcd-ca')}", "--peer-client-cert-auth=true",
            "--log-level=warn",
        ), logs)  # fmt: skip
        _wait_tcp(state, address, ETCD_PORT, "etcd", logs)
    with phase("kube-apiserver", timings):
        _start(state, "kube-apiserver", _argv(
            state, bins["kube-apiserver"], f"--advertise-address={address}", f"--bind-address={address}",
            f"--secure-port={API_PORT}", f"--cert-dir={run_dir}",
            f"--etcd-servers=https://{address}:{ETCD_PORT}", f"--etcd-cafile={pki.cert('etcd-ca')}",
            f"--etcd-certfile={pki.cert('apiserver-etcd-client')}",
            f"--etcd-keyfile={pki.key('apiserver-etcd-client')}",
            f"--tls-cert-file={pki.cert('apiserver')}", f"--tls-private-key-file={pki.key('apiserver')}",
            "--tls-min-version=VersionTLS12", f"--client-ca-file={pki.cert('kubernetes-ca')}",
            f"--service-cluster-ip-range={site.network.service_cidr}",
            f"--service-account-issuer=https://kubernetes.default.svc.{site.cluster.cluster_domain}",
            f"--service-account-key-file={pki.cert('service-account-pub')}",
            f"--service-account-signing-key-file={pki.key('service-account')}",
            "--authorization-mode=Node,RBAC", "--anonymous-auth=false", "--enable-bootstrap-token-auth=false",
            "--enable-admission-plugins=NodeRestriction", "--allow-privileged=true", "--profiling=false",
            f"--encryption-provider-config={config / 'encryption.yaml'}",
            f"--audit-policy-file={config / 'audit-policy.yaml'}", f"--audit-log-path={logs / 'audit.log'}",
            "--audit-log-maxage=7", "--audit-log-maxbackup=3", "--audit-log-maxsize=50",
            f"--requestheader-client-ca-file={pki.cert('front-proxy-ca')}",
            "--requestheader-allowed-names=front-proxy-client", "--requestheader-username-headers=X-Remote-User",
            "--requestheader-group-headers=X-Remote-Group", "--requestheader-extra-headers-prefix=X-Remote-Extra-",
            f"--proxy-client-cert-file={pki.cert('front-proxy-client')}",
            f"--proxy-client-key-file={pki.key('front-proxy-client')}",
        ), logs)  # fmt: skip
        port = _start_forwarder(state, folder, address, logs)
        write_kubeconfigs(cc, pki, config, address, port, site)
        client = Client.from_kubeconfig(kubeconfig_path(cc))
        client.wait("kube-apiserver /readyz", lambda: client.request("GET", "/readyz") == "ok", START_TIMEOUT)
    with phase("controllers", timings):
        component = (f"--cert-dir={run_dir}", "--secure-port=0", "--leader-elect=false")
        kcm = config / "controller-manager.kubeconfig"
        _start(state, "kube-controller-manager", _argv(
            state, bins["kube-controller-manager"], f"--kubeconfig={kcm}",
            f"--authentication-kubeconfig={kcm}", f"--authorization-kubeconfig={kcm}", *component,
            f"--root-ca-file={pki.cert('kubernetes-ca')}",
            f"--service-account-private-key-file={pki.key('service-account')}",
            "--use-service-account-credentials=true", f"--cluster-cidr={site.network.pod_cidr}",
            f"--service-cluster-ip-range={site.network.service_cidr}", "--controllers=*,-csrsigning",
        ), logs)  # fmt: skip
        sched = config / "scheduler.kubeconfig"
        _start(state, "kube-scheduler", _argv(
            state, bins["kube-scheduler"], f"--kubeconfig={sched}", f"--authentication-kubeconfig={sched}",
            f"--authorization-kubeconfig={sched}", *component,
        ), logs)  # fmt: skip
        stages = bins["kwok"].parent
        kwok_config = "---\n".join(p.read_text() for p in sorted(stages.glob("stage-*.yaml")))
        write_private(config / "kwok.yaml", kwok_config.encode(), 0o644)
        _start(state, "kwok", _argv(
            state, bins["kwok"], f"--kubeconfig={config / 'kwok.kubeconfig'}", f"--config={config / 'kwok.yaml'}",
            f"--manage-nodes-with-annotation-selector={KWOK_ANNOTATION}=fake", f"--cidr={site.network.pod_cidr}",
            f"--node-ip={address}",
            # Heartbeats by node lease, as kubelets do: the heartbeat stage updates node status only every
            # ten minutes or so, expecting leases to keep the node Ready. Without them the node controller
            # marks every node NotReady after 40 s and sets each pod's Ready to false, which kwok's pod
            # stages never undo (seen: Deployments never Available under pulumi up).
            f"--node-lease-duration-seconds={NODE_LEASE_SECONDS}",
        ), logs, env={**os.environ, "HOME": str(folder)})  # fmt: skip
    with phase("nodes", timings):
        for host in site.hosts:
            node = _node(site, host.name)
            client.apply(f"/api/v1/nodes/{host.name}", node)  # a create keeps the status it is given
            status = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": host.name}, "status": node["status"]}
            client.apply(f"/api/v1/nodes/{host.name}/status", status)  # an existing node's needs its subresource
        names = [h.name for h in site.hosts]
        client.wait(
            "simulated nodes Ready",
            lambda: all(_node_ready(client.get(f"/api/v1/nodes/{n}")) for n in names),
            START_TIMEOUT,
        )
        client.wait(
            "the default service account (controller manager)",
            lambda: client.get("/api/v1/namespaces/default/serviceaccounts/default"),
            START_TIMEOUT,
        )
    took = time.monotonic() - start
    timings["control plane start"] = took
    assert state.cluster is not None
    state.cluster.ready = True
    if state.tier == "cluster":
        state.ready = True
    state.save()
    print(
        f"lab {cc}: cluster up in {took:.1f} s; {len(site.hosts)} simulated nodes\n"
        f"  export KUBECONFIG={kubeconfig_path(cc)}",
        file=sys.stderr,
    )
    return ClusterResult(cc, kubeconfig_path(cc), f"https://127.0.0.1:{port}", timings)


# -------------------------------------------------------------------------------------- inspection

_ETCD_GET = r"""
import base64, json, ssl, sys, urllib.request
address, ca, cert, key, name = sys.argv[1:6]
ctx = ssl.create_default_context(cafile=ca)
ctx.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
ctx.load_cert_chain(cert, key)
body = json.dumps({"key": base64.b64encode(name.encode()).decode()}).encode()
req = urllib.request.Request(f"https://{address}/v3/kv/range", data=body, method="POST")
with urllib.request.urlopen(req, context=ctx, timeout=10) as resp:
    kvs = json.load(resp).get("kvs", [])
sys.stdout.write(kvs[0]["value"] if kvs else "")
"""


def etcd_get(cc: str, key: str) -> bytes | None:
    """The raw bytes etcd stores under `key` (read inside the lab, as the API server's etcd client).

    For checking encryption at rest: a Secret is stored as `k8s:enc:secretbox:v1:<key id>:...`.
    """
    state = LabState.load(check_cc(cc))
    if state is None or state.cluster is None or state.netns is None:
        raise UserError(f"no lab cluster for {cc}")
    pki = Pki(cluster_dir(cc) / "pki")
    client = (pki.cert("apiserver-etcd-client"), pki.key("apiserver-etcd-client"))
    endpoint = f"{state.cluster.api_address}:{ETCD_PORT}"
    argv = ["nsenter", f"--net=/run/netns/{state.netns}", sys.executable, "-c", _ETCD_GET, endpoint]
    out = subprocess.run(
        [*argv, str(pki.cert("etcd-ca")), str(client[0]), str(client[1]), key],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    return base64.b64decode(out) if out else None


def stop_cluster(state: LabState) -> None:
    """Stop a lab's cluster processes and remove its folder, leaving the rest of the lab as it is."""
    if state.cluster is not None:
        procs.stop(list(state.cluster.procs.values()))
    folder = cluster_dir(state.cc)
    procs.stop(procs.with_arg(str(folder) + "/"))
    shutil.rmtree(folder, ignore_errors=True)
    state.cluster = None
    state.save()
