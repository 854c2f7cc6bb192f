"""GPU node labels spelled as GPU feature discovery writes them, from the host's spec."""

from __future__ import annotations

from sitekit.cluster.gpu_labels import gfd_labels
from sitekit.paths import repo_root
from sitekit.policy.gpu_labels import gfd_product, product_values
from sitekit.spec import Host, load_fleet


def _host(gpu: dict[str, object]) -> Host:
    return Host.model_validate({"name": "h", "address": "10.0.0.1", "role": "gpu-worker", "gpu": gpu})


def test_whole_gpu_is_vendor_prefixed() -> None:
    assert gfd_product(_host({"model": "L40S", "count": 2})) == "NVIDIA-L40S"


def test_time_sliced_gpu_gets_the_shared_suffix() -> None:
    host = _host({"model": "L40S", "count": 2, "sharing": {"time_slicing": {"replicas": 4}}})
    assert gfd_product(host) == "NVIDIA-L40S-SHARED"
    assert host.gpu is not None
    labels = gfd_labels(host, host.gpu)
    assert labels["nvidia.com/gpu.product"] == "NVIDIA-L40S-SHARED", "the lab's nodes carry what the stack selects"
    assert labels["nvidia.com/gpu.replicas"] == "4"


def test_mig_single_strategy_names_the_profile() -> None:
    host = _host({"model": "H100-SXM5-80GB", "count": 8, "sharing": {"mig": {"profile": "all-1g.10gb"}}})
    assert gfd_product(host) == "NVIDIA-H100-SXM5-80GB-MIG-1g.10gb"


def test_non_gpu_host_has_no_gpu_labels() -> None:
    host = Host.model_validate({"name": "c", "address": "10.0.0.2", "role": "control-plane"})
    assert gfd_product(host) == ""


def test_a_model_selects_every_spelling_its_hosts_carry() -> None:
    ee = load_fleet(repo_root() / "sites").site("ee")
    assert product_values(ee, "L40S") == ("NVIDIA-L40S", "NVIDIA-L40S-SHARED")
    assert product_values(ee, "A100") == ()
