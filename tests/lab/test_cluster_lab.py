"""The lab cluster tier end to end: a real control plane per country, judged through its own API.

`sitekit lab up ee --tier cluster` and `... cl --tier cluster` run once for the module in a private
SITEKIT_STATE (keys made first, as an operator would: ee in a SoftHSM2 token, cl with the file backend),
and the tests ask the running API servers what a deployment would meet: admission (PodSecurity, a
LimitRange default), encryption at rest in etcd, the simulated GPU nodes, a Deployment that becomes
Available, the audit log, separate CAs per country. The last test takes both down and checks that no
process, namespace, mount or link is left. The binaries come from the Go build cache (bootstrap builds
them on a fresh clone).
"""

from __future__ import annotations

import ssl
import stat
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from labkit import SITES, lab_ready, machine_snapshot, settled_snapshot, sitekit

from sitekit.cluster.api import ApiError, Client, Kubeconfig
from sitekit.cluster.gpu_labels import gfd_labels, gpu_capacity
from sitekit.spec import load_fleet

pytestmark = [pytest.mark.lab, pytest.mark.slow]

COUNTRIES = ("ee", "cl")


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A private state folder with both countries' keys and clusters; everything is taken down after."""
    reason = lab_ready()
    if reason:
        pytest.skip(reason)
    folder = tmp_path_factory.mktemp("cluster-state")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SITEKIT_STATE", str(folder))
        mp.setenv("SITEKIT_PKCS11_PIN", "lab-pin-2468")
        mp.setenv("SITEKIT_PKCS11_SO_PIN", "lab-so-pin-1357")
        mp.setenv("SITEKIT_KEY_PASSPHRASE", "cluster-lab-passphrase")
        mp.delenv("SOFTHSM2_CONF", raising=False)
        before = machine_snapshot(folder)
        try:
            for cc in COUNTRIES:
                sitekit("keys", "init", cc)
            for cc in COUNTRIES:
                up = sitekit("lab", "up", cc, "--tier", "cluster", check=False)
                if up.returncode == 2 and "exists but no lab" in up.stderr:
                    pytest.skip(f"another lab of that name is running on this machine: {up.stderr.strip()}")
                assert up.returncode == 0, up.stderr
                assert "cluster up in" in up.stderr, up.stderr
            folder.joinpath(".before.yaml").write_text(yaml.safe_dump(before))
            yield folder
        finally:
            sitekit("lab", "down", check=False)


def client(state: Path, cc: str = "ee") -> Client:
    """An API client from the country's kubeconfig, as pulumi or kubectl on the machine would use it."""
    return Client.from_kubeconfig(state / "lab" / cc / "cluster" / "kubeconfig")


def namespace(api: Client, name: str, labels: dict[str, str] | None = None) -> None:
    """Create a namespace (once) and wait until its default service account exists."""
    try:
        api.create("/api/v1/namespaces", {"metadata": {"name": name, "labels": labels or {}}})
    except ApiError as exc:
        if exc.status != 409:
            raise
    api.wait(f"service account in {name}", lambda: api.get(f"/api/v1/namespaces/{name}/serviceaccounts/default"), 60)


def pod(name: str, **spec: Any) -> dict[str, Any]:
    """A minimal Pod (no kubelet pulls the image: kwok plays the node)."""
    container = {"name": "main", "image": "registry.ee.sovereign.example/lab/pause@sha256:" + "0" * 64}
    container.update(spec.pop("container", {}))
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": {"containers": [container], **spec}}


def test_api_reachable_through_kubeconfig(state: Path) -> None:
    """The kubeconfig (0600, on the machine) reaches the lab's API server, built at the spec's minor."""
    path = state / "lab" / "ee" / "cluster" / "kubeconfig"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    config = Kubeconfig.load(path)
    assert config.server.startswith("https://127.0.0.1:")
    version = client(state).get("/version")
    assert version["gitVersion"].startswith("v" + load_fleet(SITES).site("ee").cluster.kubernetes_version + ".")
    # the cluster CA is ee's own Kubernetes intermediate, read from the key hierarchy
    assert config.ca_pem.strip() == (state / "keys" / "ee" / "certs" / "kubernetes-1.pem").read_bytes().strip()


def test_pod_security_rejects_privileged_pod(state: Path) -> None:
    """PodSecurity admission is on: a privileged pod in a `restricted` namespace is refused."""
    api = client(state)
    namespace(api, "psa-restricted", {"pod-security.kubernetes.io/enforce": "restricted"})
    with pytest.raises(ApiError) as err:
        api.create(
            "/api/v1/namespaces/psa-restricted/pods",
            pod("privileged", container={"securityContext": {"privileged": True}}),
        )
    assert err.value.status == 403
    assert "violates PodSecurity" in err.value.body["message"]


def test_limitrange_default_applied(state: Path) -> None:
    """The LimitRanger admission plugin fills a container's missing limits from the namespace default."""
    api = client(state)
    namespace(api, "limits")
    api.create(
        "/api/v1/namespaces/limits/limitranges",
        {
            "metadata": {"name": "defaults"},
            "spec": {"limits": [{"type": "Container", "default": {"cpu": "500m", "memory": "256Mi"}}]},
        },
    )
    created = api.create("/api/v1/namespaces/limits/pods", pod("no-limits"))
    assert created["spec"]["containers"][0]["resources"]["limits"] == {"cpu": "500m", "memory": "256Mi"}


def test_secret_encrypted_in_etcd(state: Path) -> None:
    """A Secret is stored sealed with ee's data key (secretbox), never as plaintext, in etcd itself."""
    from sitekit.cluster.controlplane import etcd_get

    api = client(state)
    marker = "plaintext-marker-7731"
    api.create("/api/v1/namespaces/default/secrets", {"metadata": {"name": "sealed"}, "stringData": {"v": marker}})
    assert api.get("/api/v1/namespaces/default/secrets/sealed")["data"]["v"]  # readable through the API
    raw = etcd_get("ee", "/registry/secrets/default/sealed")
    assert raw is not None
    assert raw.startswith(b"k8s:enc:secretbox:v1:k1:")
    assert marker.encode() not in raw


def test_nodes_carry_gpu_labels_and_capacity(state: Path) -> None:
    """One Ready node per spec host, with the role and GFD labels and the GPUs the device plugin would offer."""
    api = client(state)
    site = load_fleet(SITES).site("ee")
    nodes = {n["metadata"]["name"]: n for n in api.get("/api/v1/nodes")["items"]}
    assert sorted(nodes) == sorted(h.name for h in site.hosts)
    for host in site.hosts:
        node = nodes[host.name]
        labels = node["metadata"]["labels"]
        assert labels["sitekit.io/role"] == host.role
        assert not node["spec"].get("taints"), "our workloads tolerate no kwok taint"
        ready = [c for c in node["status"]["conditions"] if c["type"] == "Ready"]
        assert ready and ready[0]["status"] == "True"
        if host.gpu is None:
            assert "nvidia.com/gpu.present" not in labels
            continue
        for key, value in gfd_labels(host, host.gpu).items():
            assert labels[key] == value
        assert node["status"]["allocatable"]["nvidia.com/gpu"] == gpu_capacity(host.gpu)["nvidia.com/gpu"]
    # time-slicing 4 x 2 L40S on ee-gpu-1, two whole L40S on ee-gpu-2
    assert nodes["ee-gpu-1"]["metadata"]["labels"]["nvidia.com/gpu.product"] == "NVIDIA-L40S-SHARED"
    assert nodes["ee-gpu-1"]["status"]["capacity"]["nvidia.com/gpu"] == "8"
    assert nodes["ee-gpu-2"]["metadata"]["labels"]["nvidia.com/gpu.product"] == "NVIDIA-L40S"
    assert nodes["ee-gpu-2"]["status"]["capacity"]["nvidia.com/gpu"] == "2"


def test_mig_host_labels() -> None:
    """ke's MIG host (single strategy, all-1g.10gb on 8 H100s) advertises 56 slices under nvidia.com/gpu."""
    host = next(h for h in load_fleet(SITES).site("ke").hosts if h.gpu and h.gpu.sharing and h.gpu.sharing.mig)
    assert host.gpu is not None
    labels = gfd_labels(host, host.gpu)
    assert labels["nvidia.com/gpu.product"] == "NVIDIA-H100-SXM5-80GB-MIG-1g.10gb"
    assert labels["nvidia.com/mig.strategy"] == "single"
    assert labels["nvidia.com/gpu.memory"] == "10240"
    assert gpu_capacity(host.gpu) == {"nvidia.com/gpu": "56"}


def test_deployment_available_on_gpu_node(state: Path) -> None:
    """Scheduler, controllers and kwok together: a GPU Deployment becomes Available on the whole-GPU node."""
    api = client(state)
    namespace(api, "serving", {"pod-security.kubernetes.io/enforce": "restricted"})
    labels = {"app": "llama"}
    container = {
        "name": "server",
        "image": "registry.ee.sovereign.example/models/server@sha256:" + "1" * 64,
        "resources": {"limits": {"nvidia.com/gpu": "1", "cpu": "1", "memory": "1Gi"}},
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "runAsNonRoot": True,
            "runAsUser": 1000,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
    }
    api.create(
        "/apis/apps/v1/namespaces/serving/deployments",
        {
            "metadata": {"name": "llama"},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {"nodeSelector": {"nvidia.com/gpu.product": "NVIDIA-L40S"}, "containers": [container]},
                },
            },
        },
    )

    def available() -> bool:
        status = api.get("/apis/apps/v1/namespaces/serving/deployments/llama").get("status", {})
        conds = {c["type"]: c["status"] for c in status.get("conditions", [])}
        return conds.get("Available") == "True" and status.get("availableReplicas") == 2

    api.wait("Deployment llama Available", available, 90)
    pods = api.get("/api/v1/namespaces/serving/pods?labelSelector=app%3Dllama")["items"]
    assert {p["spec"]["nodeName"] for p in pods} == {"ee-gpu-2"}
    assert all(p["status"].get("podIP") for p in pods)


def test_audit_log_has_entries(state: Path) -> None:
    """The API server writes the audit log its policy asks for (secret access at Metadata, no bodies)."""
    log = state / "lab" / "ee" / "cluster" / "logs" / "audit.log"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and b'"secrets"' not in log.read_bytes():
        time.sleep(0.5)
    text = log.read_text()
    assert '"kind":"Event"' in text
    secret_events = [line for line in text.splitlines() if '"resource":"secrets"' in line]
    assert secret_events and all('"level":"Metadata"' in line for line in secret_events)
    assert "plaintext-marker-7731" not in text


def test_other_country_has_its_own_ca(state: Path) -> None:
    """cl's cluster runs beside ee's, trusts only cl's CA, and refuses ee's admin certificate."""
    ee, cl = (Kubeconfig.load(state / "lab" / cc / "cluster" / "kubeconfig") for cc in COUNTRIES)
    assert ee.ca_pem != cl.ca_pem
    assert client(state, "cl").get("/api/v1/nodes")["items"]
    crossed = Client(Kubeconfig(cl.server, cl.ca_pem, ee.cert_pem, ee.key_pem, cl.tls_server_name))
    with pytest.raises((ApiError, ssl.SSLError, ConnectionError)) as err:
        crossed.get("/api/v1/nodes")
    if isinstance(err.value, ApiError):
        assert err.value.status == 401
    wrong_ca = Client(Kubeconfig(cl.server, ee.ca_pem, cl.cert_pem, cl.key_pem, cl.tls_server_name))
    with pytest.raises(ssl.SSLError):
        wrong_ca.get("/version")


def test_status_shows_cluster(state: Path) -> None:
    """`sitekit lab status` names the cluster, its processes and the kubeconfig."""
    out = sitekit("lab", "status", "ee").stdout
    assert "cluster: up" in out
    for name in ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok", "forward"):
        assert name in out


def test_down_leaves_nothing(state: Path) -> None:
    """`down` removes both clusters: no process, namespace, mount, link or folder of them is left."""
    before = yaml.safe_load((state / ".before.yaml").read_text())
    for cc in COUNTRIES:
        sitekit("lab", "down", cc)
        assert not (state / "lab" / cc).exists()
    assert settled_snapshot(state, before) == before
    leftover = subprocess.run(["pgrep", "-af", str(state)], capture_output=True, text=True, check=False).stdout
    assert leftover.strip() == "", leftover
