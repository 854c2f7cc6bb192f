"""One country, one cluster: the stack deploys only through its explicit provider, to its own cluster.

A kubeconfig is judged by the CA it trusts (the country's own Kubernetes CA from `sitekit keys`), not by
its context name; every Kubernetes resource of the plan must go through the explicit provider.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from sitekit.errors import UserError
from sitekit.pki.hierarchy import Hierarchy
from sitekit.pki.kubeconfig import check_kubeconfig
from sitekit.plan.program import run_program, stack_config
from sitekit.plan.records import Recorded
from sitekit.plan.runner import provider_errors
from sitekit.spec import Fleet, Site


def _file_backend(site: Site) -> Site:
    return site.model_copy(update={"keys": site.keys.model_copy(update={"backend": "file", "pkcs11": None})})


@pytest.fixture(scope="module")
def two_countries(tmp_path_factory: pytest.TempPathFactory, fleet: Fleet) -> Iterator[dict[str, bytes]]:
    """ee and cl hierarchies (file backend) in one state folder: each country's Kubernetes CA certificate."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SITEKIT_STATE", str(tmp_path_factory.mktemp("state")))
        mp.setenv("SITEKIT_KEY_PASSPHRASE", "unit-test-passphrase")
        cas = {}
        for cc in ("ee", "cl"):
            h = Hierarchy.open(_file_backend(fleet.site(cc)))
            h.init()
            cas[cc] = h.ca_bundle("kubernetes")
        yield cas


def kubeconfig(ca_pem: bytes, *, insecure: bool = False, server: str = "https://10.20.0.11:6443") -> str:
    cluster: dict[str, object] = {"server": server, "certificate-authority-data": base64.b64encode(ca_pem).decode()}
    if insecure:
        cluster["insecure-skip-tls-verify"] = True
    return yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "current-context": "ee-admin",
            "clusters": [{"name": "c", "cluster": cluster}],
            "contexts": [{"name": "ee-admin", "context": {"cluster": "c", "user": "u"}}],
            "users": [{"name": "u", "user": {}}],
        }
    )


def test_own_kubeconfig_is_accepted(two_countries: dict[str, bytes], monkeypatch: pytest.MonkeyPatch) -> None:
    endpoint = check_kubeconfig("ee", kubeconfig(two_countries["ee"]))
    assert endpoint.server == "https://10.20.0.11:6443"


def test_another_countrys_kubeconfig_is_refused_whatever_its_context_is_called(two_countries: dict[str, bytes]) -> None:
    with pytest.raises(UserError, match="not ee's own Kubernetes CA"):
        check_kubeconfig("ee", kubeconfig(two_countries["cl"]))
    mixed = two_countries["ee"] + two_countries["cl"]
    with pytest.raises(UserError, match="not ee's own Kubernetes CA"):
        check_kubeconfig("ee", kubeconfig(mixed))


def test_unverified_or_plaintext_kubeconfig_is_refused(two_countries: dict[str, bytes]) -> None:
    with pytest.raises(UserError, match="skips TLS verification"):
        check_kubeconfig("ee", kubeconfig(two_countries["ee"], insecure=True))
    with pytest.raises(UserError, match="is not https"):
        check_kubeconfig("ee", kubeconfig(two_countries["ee"], server="http://10.20.0.11:8080"))


def test_program_refuses_another_countrys_cluster(
    two_countries: dict[str, bytes], fleet: Fleet, stacks_dir: Path, tmp_path: Path
) -> None:
    path = tmp_path / "kubeconfig"
    path.write_text(kubeconfig(two_countries["cl"]))
    config = stack_config(fleet.site("ee"), offline_plan=False)
    config["sitekit:kubeconfigPath"] = str(path)
    with pytest.raises(Exception, match="refusing to deploy ee's stack to another cluster") as err:
        run_program(stacks_dir, "ee", config)
    assert type(err.value).__name__ == "StackConfigError"


def test_program_without_kubeconfig_names_the_config_key(fleet: Fleet, stacks_dir: Path) -> None:
    with pytest.raises(Exception, match="sitekit:kubeconfigPath"):
        run_program(stacks_dir, "ee", stack_config(fleet.site("ee"), offline_plan=False))


def test_every_kubernetes_resource_of_the_plan_uses_the_explicit_provider(fleet: Fleet, stacks_dir: Path) -> None:
    recording = run_program(stacks_dir, "ee", stack_config(fleet.site("ee")))
    assert provider_errors(recording.resources, "ee") == []
    k8s = [r for r in recording.resources if r.custom and r.type.startswith("kubernetes:")]
    assert len(k8s) > 30


def test_a_resource_on_the_default_provider_fails_the_plan() -> None:
    provider = Recorded(
        "pulumi:providers:kubernetes",
        "cluster-ee",
        "urn:pulumi:ee::sitekit::pulumi:providers:kubernetes::cluster-ee",
        {},
        True,
    )
    good = Recorded(
        "kubernetes:core/v1:Namespace",
        "a",
        "urn:a",
        {},
        True,
        (),
        "urn:pulumi:ee::sitekit::pulumi:providers:kubernetes::cluster-ee::id-1",
    )
    stray = Recorded("kubernetes:core/v1:ConfigMap", "b", "urn:b", {}, True, (), "")
    errors = provider_errors([provider, good, stray], "ee")
    assert errors == [
        "[provider] kubernetes:core/v1:ConfigMap b: not deployed through the explicit provider cluster-ee "
        "(got the default provider)"
    ]
    assert (
        provider_errors([good], "ee")[-1]
        == "[provider] the stack declares no provider cluster-ee for the country's cluster"
    )


def test_program_refuses_a_site_that_fails_residency_even_with_a_matching_digest(
    fleet: Fleet, stacks_dir: Path
) -> None:
    from sitekit.spec import Site, site_digest

    site = fleet.site("ee")
    data = json.loads(stack_config(site)["sitekit:site"])
    data["residency"]["extra_egress"] = [{"name": "world", "cidr": "0.0.0.0/0", "ports": [443]}]
    forged = Site.model_validate(data)
    config = stack_config(forged)  # digest recomputed over the forged site
    assert config["sitekit:specDigest"] == site_digest(forged)
    with pytest.raises(
        Exception, match=r"fails the fleet spec's checks: sitekit:site\.residency\.extra_egress\[0\]\.cidr"
    ):
        run_program(stacks_dir, "ee", config)


def test_kubeconfig_in_the_state_folder_is_used_and_checked(
    two_countries: dict[str, bytes], fleet: Fleet, stacks_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sitekit.paths import kubeconfig_path

    path = kubeconfig_path("ee")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(kubeconfig(two_countries["cl"]))
    try:
        config = stack_config(fleet.site("ee"), offline_plan=False)
        with pytest.raises(Exception, match="refusing to deploy ee's stack to another cluster"):
            run_program(stacks_dir, "ee", config)
    finally:
        path.unlink()
