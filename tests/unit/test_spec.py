"""The fleet spec: models, merge rules and every fleet-wide check, each with its message asserted."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
import yaml
from spec_edits import edit, problems

from sitekit.spec import load_fleet
from sitekit.spec.merge import merge

ROOT = Path(__file__).resolve().parents[2]


def test_demo_fleet_is_valid() -> None:
    fleet = load_fleet(ROOT / "sites")
    assert fleet.codes() == ["cl", "ee", "ke"]
    ee = fleet.site("ee")
    assert [h.role for h in ee.hosts] == ["control-plane", "gpu-worker", "gpu-worker"]
    assert ee.gpu_capacity == 2 * 4 + 2  # time-sliced host counts replicas
    assert ee.keys.threshold == 2  # from the baseline
    assert fleet.site("ke").keys.threshold == 3  # overlay wins


def test_merge_rules() -> None:
    base = {"a": {"x": 1, "y": 2}, "l": [1, 2], "gone": {"k": 1}}
    over = {"a": {"y": 3, "z": 4}, "l": [9], "gone": None}
    assert merge(base, over) == {"a": {"x": 1, "y": 3, "z": 4}, "l": [9]}
    assert base == {"a": {"x": 1, "y": 2}, "l": [1, 2], "gone": {"k": 1}}, "merge must not modify its inputs"


def test_null_removes_a_baseline_section(fleet_copy: Path) -> None:
    cl = load_fleet(fleet_copy).site("cl")
    assert cl.keys.backend == "file" and cl.keys.pkcs11 is None


def test_bad_cidr_names_file_and_field(fleet_copy: Path) -> None:
    edit(fleet_copy, "ee.yaml", "node_cidr: 10.20.0.0/24", "node_cidr: 10.20.0.0/33")
    found = problems(fleet_copy)
    assert any(p.endswith("ee.yaml: network.node_cidr: Input is not a valid IPv4 network") for p in found), found


def test_unknown_field_is_rejected(fleet_copy: Path) -> None:
    edit(fleet_copy, "ee.yaml", "groups: [ria-ml]}", "groups: [ria-ml], colour: red}")
    assert any("ee.yaml: tenants[1].colour: Extra inputs are not permitted" in p for p in problems(fleet_copy))


def test_foreign_mirror_is_a_residency_violation(fleet_copy: Path) -> None:
    edit(fleet_copy, "ee.yaml", "http://mirror.ee.sovereign.example/debian", "http://deb.debian.org/debian")
    edit(fleet_copy, "ee.yaml", "addresses: [10.20.1.10]", "addresses: [151.101.2.132]")
    found = problems(fleet_copy)
    assert any(
        "ee.yaml: residency.package_mirror.url: host 'deb.debian.org' is outside the country's domains" in p
        for p in found
    ), found
    assert any(
        "ee.yaml: residency.package_mirror.addresses[0]: 151.101.2.132 is outside the country's address ranges" in p
        for p in found
    ), found


def test_overlap_between_countries(fleet_copy: Path) -> None:
    edit(
        fleet_copy,
        "ke.yaml",
        "address_ranges: [10.30.0.0/16, 172.20.0.0/20]",
        "address_ranges: [10.30.0.0/16, 10.20.128.0/20]",
    )
    edit(fleet_copy, "ke.yaml", "operator_networks: [172.20.0.0/24]", "operator_networks: [10.30.250.0/24]")
    found = problems(fleet_copy)
    assert found == [
        f"{fleet_copy / 'ke.yaml'}: residency.address_ranges[1]: 10.20.128.0/20 overlaps 10.20.0.0/16 of EE "
        "(residency.address_ranges[0]); countries never share space"
    ]


def test_overlap_within_a_country(fleet_copy: Path) -> None:
    edit(fleet_copy, "ee.yaml", "service_cidr: 10.20.128.0/20", "service_cidr: 10.20.64.0/20")
    found = problems(fleet_copy)
    want = "ee.yaml: network.service_cidr: 10.20.64.0/20 overlaps network.pod_cidr 10.20.64.0/18"
    assert any(want in p for p in found), found


def test_quota_above_capacity(fleet_copy: Path) -> None:
    edit(fleet_copy, "cl.yaml", "gpu_quota: 2", "gpu_quota: 9")
    assert any(
        "cl.yaml: tenants: tenant GPU quotas add up to 9, above the 4 GPUs the site's hosts provide" in p
        for p in problems(fleet_copy)
    )


def test_threshold_above_custodians(fleet_copy: Path) -> None:
    edit(fleet_copy, "cl.yaml", "threshold: 2", "threshold: 4")
    assert any(
        "cl.yaml: keys.threshold: threshold M=4 is above the number of custodians N=3" in p
        for p in problems(fleet_copy)
    )


def test_duplicate_host_name_and_address(fleet_copy: Path) -> None:
    edit(fleet_copy, "ee.yaml", "name: ee-gpu-2\n    address: 10.20.0.22", "name: ee-gpu-1\n    address: 10.20.0.21")
    found = problems(fleet_copy)
    assert any("ee.yaml: hosts[2].name: host name 'ee-gpu-1' is used more than once" in p for p in found)
    assert any("ee.yaml: hosts[2].address: address 10.20.0.21 is used by more than one host" in p for p in found)


def test_image_from_a_foreign_registry(fleet_copy: Path) -> None:
    edit(fleet_copy, "ee.yaml", "image: registry.ee.sovereign.example/", "image: docker.io/")
    assert any(
        "ee.yaml: models[0].image: image registry 'docker.io' is not the in-country registry" in p
        for p in problems(fleet_copy)
    )


def test_egress_destination_outside_the_country(fleet_copy: Path) -> None:
    edit(
        fleet_copy,
        "ee.yaml",
        "  operator_networks: [10.20.250.0/24]",
        "  operator_networks: [10.20.250.0/24]\n  extra_egress: [{name: s3, cidr: 52.95.0.0/16, ports: [443]}]",
    )
    assert any(
        "ee.yaml: residency.extra_egress[0].cidr: 52.95.0.0/16 is outside the country's address ranges" in p
        for p in problems(fleet_copy)
    )


def test_all_errors_of_a_file_at_once(fleet_copy: Path) -> None:
    edit(fleet_copy, "ee.yaml", "node_cidr: 10.20.0.0/24", "node_cidr: nope")
    edit(fleet_copy, "ee.yaml", "code: EE", "code: ee")
    edit(fleet_copy, "ee.yaml", "gpus_per_replica: 1", "gpus_per_replica: 0")
    found = problems(fleet_copy)
    assert {p.split(": ")[1] for p in found} >= {"network.node_cidr", "identity.code", "models[0].gpus_per_replica"}


def test_field_from_the_baseline_is_attributed_to_the_baseline(fleet_copy: Path) -> None:
    edit(fleet_copy, "baseline.yaml", 'kubernetes_version: "1.30"', 'kubernetes_version: "2.0"')
    found = problems(fleet_copy)
    assert any(p.startswith(f"{fleet_copy / 'baseline.yaml'}: cluster.kubernetes_version") for p in found), found


def test_yaml_errors_name_the_line(fleet_copy: Path) -> None:
    (fleet_copy / "ee.yaml").write_text("identity:\n  code: EE\n  code: FI\n")
    assert any("ee.yaml: line 3, column 3: duplicate key 'code' (first at line 2)" in p for p in problems(fleet_copy))


def test_norway_is_not_false(fleet_copy: Path) -> None:
    text = (fleet_copy / "cl.yaml").read_text().replace("code: CL", "code: NO")
    (fleet_copy / "no.yaml").write_text(text.replace("cl-", "no-"))
    (fleet_copy / "cl.yaml").unlink()
    # YAML 1.1 would load NO as False; site files use 1.2 booleans, so Norway stays Norway.
    assert load_fleet(fleet_copy).site("no").identity.code == "NO"


def test_overlay_file_name_must_be_a_country_code(fleet_copy: Path) -> None:
    (fleet_copy / "estonia.yaml").write_text("identity: {}\n")
    assert any("estonia.yaml: overlay files are named <cc>.yaml" in p for p in problems(fleet_copy))


def test_code_must_match_file_name(fleet_copy: Path) -> None:
    edit(fleet_copy, "ee.yaml", "code: EE", "code: FI")
    assert any("ee.yaml: identity.code: FI does not match the file name" in p for p in problems(fleet_copy))


@pytest.mark.parametrize(
    "text",
    [
        "a: 1\nb: [x, 2, 3.5, true, null, ~, '', NO, yes, =]\nc: {d: {e: f}}\n",
        "code: NO\nflag: True\nwhen: 2024-01-01\n",  # a timestamp: PyYAML's constructor builds it
        "base: &b {x: 1}\nmerged:\n  <<: *b\n  y: 2\n",  # a merge key
        "a: 1\nb: 2\na: 3\n",  # duplicate key: the error names both lines
        "? [1, 2]\n: unhashable\n",
        "! x: 1\n",
        "!!int x\n",
        "a: !!binary aGVsbG8=\n1: one\n1.0: again\n",
        "[" * 300 + "]" * 300,
        "",
        "# only a comment\n",
        "- 0o17\n- 0x1f\n- 1_000\n- .inf\n- -.nan\n- 012\n",
    ],
)
def test_direct_construction_matches_pyyaml(tmp_path: Path, text: str) -> None:
    """read_yaml builds plain documents itself; the data or the error must be what PyYAML's constructor gives."""
    from sitekit.spec import yamlio

    class Reference(yamlio.StrictLoader):
        def construct_document(self, node: yaml.Node) -> object:
            return yaml.constructor.BaseConstructor.construct_document(self, node)

    path = tmp_path / "doc.yaml"
    path.write_text(text)

    def outcome(loader: type[yamlio.StrictLoader]) -> object:
        saved = yamlio.StrictLoader
        yamlio.StrictLoader = loader  # type: ignore[misc]
        try:
            return ("ok", yamlio.read_yaml(path))
        except yamlio.YamlProblem as exc:
            return ("problem", str(exc))
        except Exception as exc:
            return ("error", type(exc).__name__, str(exc))
        finally:
            yamlio.StrictLoader = saved  # type: ignore[misc]

    direct, reference = outcome(yamlio.StrictLoader), outcome(Reference)
    assert repr(direct) == repr(reference)  # repr: NaN is not equal to itself


def test_model_volume_paths_are_checked(fleet_copy: Path) -> None:
    edit(fleet_copy, "baseline.yaml", "mount_point: /srv/models", "mount_point: /srv/model-weights")
    edit(fleet_copy, "baseline.yaml", "tpm2_pcrs: [7]", "tpm2_pcrs: [7, 24]")
    edit(fleet_copy, "ee.yaml", "keys:\n", "keys:\n  model_volume: {device: sdb}\n")
    found = problems(fleet_copy)
    assert any("ee.yaml: keys.model_volume.device: String should match pattern" in p for p in found), found
    assert any("baseline.yaml: keys.model_volume.mount_point: String should match pattern" in p for p in found)
    assert any(
        "baseline.yaml: keys.model_volume.tpm2_pcrs[1]: Input should be less than or equal to 23" in p for p in found
    )


def test_model_volume_renders_for_the_keys_role() -> None:
    from sitekit.render.inventory import all_vars

    ee = load_fleet(ROOT / "sites").site("ee")
    assert all_vars(ee)["sitekit_model_volume"] == {
        "device": "/dev/disk/by-id/virtio-sitekit-models",
        "mount_point": "/srv/models",
        "roles": ["gpu-worker"],
        "tpm2_pcrs": [7],
    }


@pytest.mark.parametrize(
    ("snippet", "reason"),
    [
        ("[1, 2]: x\n", "a key must be a plain value, not a list"),
        ("? [1, 2]: x\n", "a key must be a plain value, not a mapping"),
        ("zz: &b {a: 1}\nyy:\n  <<: *b\n", "YAML merge keys (<<) are not supported in site files"),
    ],
)
def test_odd_yaml_keys_are_spec_errors_not_crashes(fleet_copy: Path, snippet: str, reason: str) -> None:
    path = fleet_copy / "ee.yaml"
    path.write_text(path.read_text() + snippet)
    found = problems(fleet_copy)
    assert any("ee.yaml: line " in p and reason in p for p in found), found


def _in_overlay(problem: str, field: str) -> bool:
    """The problem is attributed to the ee overlay and starts with the field path."""
    where, _, rest = problem.partition(": ")
    return where.endswith("sites/ee.yaml") and rest.startswith(field)


@pytest.mark.parametrize(
    ("backend", "reason"),
    [
        ("https://api.pulumi.com", "the Pulumi Cloud SaaS keeps state outside the country"),
        ("https://app.pulumi.com/acme", "the Pulumi Cloud SaaS keeps state outside the country"),
        ("s3://bucket", "S3 backend without an in-country endpoint (none)"),
        ("s3://bucket?endpoint=s3.eu-north-1.amazonaws.com", "S3 backend without an in-country endpoint"),
        ("s3://bucket?endpoint=objects.ee.sovereign.example.evil.com", "S3 backend without an in-country endpoint"),
        ("gs://bucket", "is not an in-country self-managed backend"),
        ("azblob://container", "is not an in-country self-managed backend"),
        ("file://relative/path", "a file backend needs an absolute path"),
        ("https://pulumi.example.com", "is not an in-country self-managed backend"),
    ],
)
def test_state_backend_outside_the_country_is_refused(fleet_copy: Path, backend: str, reason: str) -> None:
    edit(fleet_copy, "ee.yaml", "state_backend: file:///var/lib/sitekit/pulumi-state/ee", f"state_backend: '{backend}'")
    found = problems(fleet_copy)
    assert any(_in_overlay(p, "deployment.state_backend: ") and reason in p for p in found), found


def test_in_country_backends_are_accepted(fleet_copy: Path) -> None:
    for backend in (
        "s3://state?endpoint=objects.ee.sovereign.example:9000&s3ForcePathStyle=true",
        "https://pulumi.ee.sovereign.example",
        "file:///srv/pulumi",
    ):
        edit(
            fleet_copy,
            "ee.yaml",
            "state_backend: file:///var/lib/sitekit/pulumi-state/ee",
            f"state_backend: '{backend}'",
        )
        load_fleet(fleet_copy)
        edit(
            fleet_copy,
            "ee.yaml",
            f"state_backend: '{backend}'",
            "state_backend: file:///var/lib/sitekit/pulumi-state/ee",
        )


@pytest.mark.parametrize(
    ("provider", "vault", "field", "reason"),
    [
        ("awskms://alias/sitekit", None, "secrets_provider", "awskms is a foreign cloud KMS"),
        ("gcpkms://projects/p/locations/l/keyRings/r/cryptoKeys/k", None, "secrets_provider", "gcpkms is a foreign"),
        ("azurekeyvault://v.vault.azure.net/keys/k", None, "secrets_provider", "azurekeyvault is a foreign"),
        ("hashivault://sitekit-ee", None, "secrets_provider", "needs deployment.vault_address"),
        ("hashivault://sitekit-ee", "https://vault.example.com", "vault_address", "country's own Vault"),
        ("hashivault://sitekit-ee", "http://vault.ee.sovereign.example", "vault_address", "country's own Vault"),
        ("default", None, "secrets_provider", "use hashivault://<transit key>"),
    ],
)
def test_secrets_provider_outside_the_country_is_refused(
    fleet_copy: Path, provider: str, vault: str | None, field: str, reason: str
) -> None:
    extra = f"\n  vault_address: '{vault}'" if vault else ""
    edit(fleet_copy, "ee.yaml", "secrets_provider: passphrase", f"secrets_provider: '{provider}'{extra}")
    found = problems(fleet_copy)
    assert any(_in_overlay(p, f"deployment.{field}: ") and reason in p for p in found), found


def test_tenant_load_balancers_need_the_site_to_allow_them(fleet_copy: Path) -> None:
    edit(fleet_copy, "ee.yaml", "gpu_quota: 2, groups: [ria-ml]", "gpu_quota: 2, groups: [ria-ml], load_balancers: 1")
    found = problems(fleet_copy)
    assert any("tenants[1].load_balancers: 1 LoadBalancer Service(s) for tenant 'ria'" in p for p in found), found


def test_render_names_the_secrets_provider_and_disables_default_providers() -> None:
    from sitekit.render.stack import stack_document

    fleet = load_fleet(Path(__file__).resolve().parents[2] / "sites")
    doc = stack_document(fleet.site("ke"))
    assert doc["secretsprovider"] == "hashivault://sitekit-ke"
    assert doc["config"]["pulumi:disable-default-providers"] == ["kubernetes"]


def test_render_keeps_the_keys_pulumi_stack_init_adds(tmp_path: Path) -> None:
    from sitekit.render.stack import carry_pulumi_keys

    existing = tmp_path / "Pulumi.ee.yaml"
    existing.write_text("config: {}\nencryptionsalt: v1:abc:def\nsecretsprovider: passphrase\n")
    assert carry_pulumi_keys("config: {}\n", existing) == "config: {}\nencryptionsalt: v1:abc:def\n"
    assert carry_pulumi_keys("x\n", tmp_path / "missing.yaml") == "x\n"


def alias_bomb(levels: int = 9, width: int = 9) -> str:
    """`a: &a [x, ...]`, `b: &b [*a, ...]`, ...: `width ** levels` values once expanded ("billion laughs")."""
    names = "abcdefghijklmnopqrstuvwxyz"[:levels]
    lines = [f"{names[0]}: &{names[0]} [{', '.join(['x'] * width)}]"]
    for prev, name in itertools.pairwise(names):
        lines.append(f"{name}: &{name} [{', '.join([f'*{prev}'] * width)}]")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    ("snippet", "field"),
    [
        (alias_bomb(), "b[0]"),
        ("zz: &s scalar\nyy: *s\n", "yy"),  # even a scalar: one rule, no exceptions to remember
        ("zz: &r [*r]\n", "zz[0]"),  # recursive
        ("zz: !!binary aGVsbG8=\nyy: &m {a: 1}\nxx: [*m]\n", "xx[0]"),  # a document PyYAML's constructor builds
    ],
)
def test_yaml_aliases_are_refused_with_the_field(fleet_copy: Path, snippet: str, field: str) -> None:
    path = fleet_copy / "ee.yaml"
    path.write_text(path.read_text() + snippet)
    found = problems(fleet_copy)
    assert any(
        f"ee.yaml: {field}: an alias (*name) of the value anchored at line " in p
        and "YAML aliases are not supported in site files" in p
        for p in found
    ), found


def test_alias_bomb_is_refused_quickly(fleet_copy: Path) -> None:
    import time

    path = fleet_copy / "ee.yaml"
    path.write_text(path.read_text() + alias_bomb())
    start = time.perf_counter()
    found = problems(fleet_copy)
    assert time.perf_counter() - start < 1.0
    assert len(found) == 1, found


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("9" * 5000, "an integer of 5000 characters is too large: site fields take integers below 2**63"),
        ("-" + "9" * 4400, "an integer of 4401 characters is too large"),
        ("0x" + "f" * 30, "integer 0x" + "f" * 30 + " is too large: site fields take integers below 2**63"),
        ("9223372036854775808", "integer 9223372036854775808 is too large"),
    ],
)
def test_huge_integers_are_spec_errors_with_the_field(fleet_copy: Path, value: str, reason: str) -> None:
    line = 1 + (fleet_copy / "ee.yaml").read_text().split("gpu_quota: 2,")[0].count("\n")
    edit(fleet_copy, "ee.yaml", "gpu_quota: 2,", f"gpu_quota: {value},")
    found = problems(fleet_copy)
    assert any(f"ee.yaml: tenants[1].gpu_quota: line {line}, column 42: {reason}" in p for p in found), found


def test_huge_integer_in_a_document_pyyaml_builds(fleet_copy: Path) -> None:
    """The fallback constructor (here for a !!binary value) applies the same bound, naming the line."""
    path = fleet_copy / "ee.yaml"
    line = len(path.read_text().splitlines()) + 2
    path.write_text(path.read_text() + "zz: !!binary aGVsbG8=\nyy: [" + "7" * 5000 + "]\n")
    found = problems(fleet_copy)
    assert any(f"ee.yaml: line {line}, column 6: an integer of 5000 characters is too large" in p for p in found), found


def test_largest_ordinary_integer_still_loads(fleet_copy: Path) -> None:
    """2**63 - 1 passes the loader; the field's own range then judges it."""
    edit(fleet_copy, "ee.yaml", "gpu_quota: 2,", f"gpu_quota: {2**63 - 1},")
    found = problems(fleet_copy)
    assert any("ee.yaml: tenants[1].gpu_quota: Input should be less than or equal to 4096" in p for p in found)


def test_oversized_site_file_is_refused_unread(fleet_copy: Path) -> None:
    from sitekit.spec.yamlio import MAX_FILE_BYTES

    path = fleet_copy / "ee.yaml"
    text = path.read_text()
    path.write_text(text + "#" * (MAX_FILE_BYTES - len(text.encode()) - 1) + "\n")  # exactly the limit: fine
    assert load_fleet(fleet_copy).site("ee")
    path.write_text(text + "#" * (MAX_FILE_BYTES - len(text.encode())) + "\n")
    found = problems(fleet_copy)
    assert found == [f"{path}: file is larger than 256 KiB, far beyond any site file; refused unread"], found


def test_impossible_timestamp_is_a_spec_error(fleet_copy: Path) -> None:
    """`2024-13-01` looks like a YAML timestamp; datetime's ValueError must not escape as a traceback."""
    path = fleet_copy / "ee.yaml"
    path.write_text(path.read_text() + "when: 2024-13-01\n")
    assert any("ee.yaml: unreadable value: month must be in 1..12" in p for p in problems(fleet_copy))


@pytest.mark.parametrize("stem", ["éé", "EE", "e1", "eee"])
def test_overlay_names_follow_the_country_code_rule(fleet_copy: Path, stem: str) -> None:
    """Two ASCII letters, lower case (`str.isalpha` would also take `éé`)."""
    (fleet_copy / f"{stem}.yaml").write_text("identity: {}\n")
    assert any(f"{stem}.yaml: overlay files are named <cc>.yaml" in p for p in problems(fleet_copy))


@pytest.mark.parametrize(
    ("old", "new", "where", "reason"),
    [
        (
            "- name: llama-et",
            "- name: 1llama-et",
            "ee.yaml: models[0].name",
            "'1llama-et' must start with a letter: the model's Service name is a DNS-1035 label",
        ),
        (
            "name: tartu-nlp,",
            f"name: {'t' * 57},",
            "ee.yaml: tenants[0].name",
            "tenant name of 57 characters is too long: its namespace tenant-<name> must be a DNS label of at most 63"
            " characters, so the name at most 56",
        ),
        (
            "groups: [ria-ml]",
            "groups: [ria/ml]",
            "ee.yaml: tenants[1].groups",
            "group 'ria/ml' cannot name its RoleBinding tenant-developer-<group>",
        ),
        (
            "gpu: {model: L40S, count: 2}",
            "gpu: {model: L40S-, count: 2}",
            "ee.yaml: hosts[2].gpu.model",
            "String should match pattern",
        ),
        ("gpu_model: L40S", "gpu_model: L40S SHARED", "ee.yaml: models[0].gpu_model", "String should match pattern"),
        (
            "gpu: {model: L40S, count: 2}",
            f"gpu: {{model: {'L' * 42}, count: 2}}",
            "ee.yaml: hosts[2].gpu.model",
            "String should match pattern",
        ),
        (
            "default_locale: et-EE}",
            "default_locale: et-EE, settings: {'greeting style': formal}}",
            "ee.yaml: models[0].locale.settings",
            "setting name 'greeting style' is not a ConfigMap key",
        ),
        (
            "default_locale: et-EE}",
            "default_locale: et-EE, settings: {big: " + "x" * (64 * 1024) + "}}",
            "ee.yaml: models[0].locale.settings",
            "locale settings take 65547 bytes in the model's locale ConfigMap, above the 65536 allowed"
            " (the API server refuses a ConfigMap over 1 MiB)",
        ),
        (
            "url: https://registry.ee.sovereign.example",
            "url: http://registry.ee.sovereign.example",
            "ee.yaml: residency.container_registry",
            "'http://registry.ee.sovereign.example' must be an https URL: images and charts fetched over plain http"
            " can be swapped in transit",
        ),
        (
            "url: https://charts.ee.sovereign.example/stable",
            "url: http://charts.ee.sovereign.example/stable",
            "ee.yaml: residency.chart_repository",
            "must be an https URL",
        ),
        (
            "ingress_domain: ai.ee.sovereign.example",
            f"ingress_domain: {'a' * 63}.{'b' * 63}.{'c' * 63}.{'d' * 32}.ee.sovereign.example",
            "ee.yaml: models[0].name",
            "its ingress host llama-et.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa... is 254 characters, above the 253 of a DNS"
            " name",
        ),
    ],
)
def test_names_the_api_server_would_refuse(fleet_copy: Path, old: str, new: str, where: str, reason: str) -> None:
    """Each rule keeps a value out that Kubernetes (or a fetch in transit) would reject or betray later."""
    edit(fleet_copy, "ee.yaml", old, new)
    found = problems(fleet_copy)
    assert any(where in p and reason in p for p in found), found


def test_names_at_their_limits_are_valid(fleet_copy: Path) -> None:
    """The longest tenant name, a 41-character GPU model and locale settings just under the bound all load."""
    from sitekit.spec.models import MAX_LOCALE_SETTINGS_BYTES

    gpu = "H" + "1" * 39 + "G"
    edit(fleet_copy, "ee.yaml", "name: tartu-nlp,", f"name: {'t' * 56},")
    edit(fleet_copy, "ee.yaml", "gpu: {model: L40S, count: 2}", f"gpu: {{model: {gpu}, count: 2}}")
    edit(fleet_copy, "ee.yaml", "gpu: {model: L40S, count: 2, ", f"gpu: {{model: {gpu}, count: 2, ")
    edit(fleet_copy, "ee.yaml", "gpu_model: L40S", f"gpu_model: {gpu}")
    big = "x" * (MAX_LOCALE_SETTINGS_BYTES - len('{"big": ""}'))
    edit(fleet_copy, "ee.yaml", "default_locale: et-EE}", f"default_locale: et-EE, settings: {{big: {big}}}}}")
    ee = load_fleet(fleet_copy).site("ee")
    assert len(f"NVIDIA-{ee.hosts[1].gpu.model if ee.hosts[1].gpu else ''}-SHARED") <= 63
    assert len(ee.models[0].locale.settings["big"]) == len(big)


def test_package_mirror_may_stay_http(fleet_copy: Path) -> None:
    """apt checks every package against the signed Release file, so the mirror's transport is not trusted."""
    ee = load_fleet(fleet_copy).site("ee")
    assert ee.residency.package_mirror.url.startswith("http://")


def test_name_prefixes_match_the_stack() -> None:
    """The spec's limits are computed from the prefixes the stack program really uses."""
    from sitekit.policy.conventions import TENANT_PREFIX
    from sitekit.spec import models

    assert models.TENANT_PREFIX == TENANT_PREFIX
    tenant_py = (ROOT / "stacks" / "components" / "tenant.py").read_text()
    assert f'ROLE_NAME = "{models.TENANT_ROLE_BINDING_PREFIX[:-1]}"' in tenant_py
    assert 'f"{ROLE_NAME}-{group}"' in tenant_py


def test_a_group_bound_to_two_tenants_is_refused_naming_both(fleet_copy: Path) -> None:
    """A shared group would carry one tenant's members into the other's namespace: refused on both tenants."""
    edit(fleet_copy, "ee.yaml", "groups: [ria-ml]", "groups: [ria-ml, tartu-nlp-devs]")
    found = problems(fleet_copy)
    assert any(
        "tenants[0].groups[0]: group 'tartu-nlp-devs' is bound to tenant 'tartu-nlp' and to 'ria'" in p for p in found
    ), found
    second = "tenants[1].groups[1]: group 'tartu-nlp-devs' is bound to tenant 'ria' and to 'tartu-nlp'"
    assert any(second in p for p in found), found
    assert not any("ria-ml" in p for p in found), found  # the group only ria holds is fine
