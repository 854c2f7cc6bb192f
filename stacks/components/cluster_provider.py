"""The one Kubernetes provider a country's stack deploys through, pinned to the country's own cluster.

Default providers are disabled in every stack file (`pulumi:disable-default-providers`), so a resource
that forgot this provider fails instead of landing in whatever kube context happens to be current. The
kubeconfig comes from the stack config, as a secret value (`pulumi config set --secret sitekit:kubeconfig
"$(cat FILE)"`) or a path (`pulumi config set sitekit:kubeconfigPath FILE`), or else from
`$SITEKIT_STATE/clusters/<cc>/kubeconfig` (never from the machine's current kube context), and is refused unless the CA
it trusts is the country's own Kubernetes CA from `sitekit keys`: Estonia's stack cannot reach Kenya's
cluster even with Kenya's context selected.
"""

from __future__ import annotations

from pathlib import Path

import pulumi
import pulumi_kubernetes as k8s

from components.stack_config import StackConfigError
from sitekit.errors import UserError
from sitekit.paths import kubeconfig_path
from sitekit.pki.kubeconfig import check_kubeconfig
from sitekit.spec import Site

OFFLINE_KUBECONFIG = "offline-plan: no cluster is contacted"


def _checked(cc: str, text: str, base: Path | None) -> str:
    try:
        check_kubeconfig(cc, text, base)
    except UserError as exc:
        raise StackConfigError(str(exc)) from None
    return text


def cluster_provider(site: Site, config: pulumi.Config, offline_plan: bool) -> k8s.Provider:
    """The explicit provider for the country's cluster (under `sitekit plan`, one that is never contacted)."""
    cc = site.cc
    if offline_plan:
        kubeconfig: pulumi.Input[str] = pulumi.Output.secret(OFFLINE_KUBECONFIG)
    else:
        path = config.get("kubeconfigPath")
        secret = config.get_secret("kubeconfig")
        if path and secret is not None:
            raise StackConfigError("set one of sitekit:kubeconfig and sitekit:kubeconfigPath, not both")
        if not path and secret is None and kubeconfig_path(cc).exists():
            path = str(kubeconfig_path(cc))
        if path:
            file = Path(path).expanduser()
            try:
                text = file.read_text()
            except OSError as exc:
                raise StackConfigError(f"sitekit:kubeconfigPath {file}: {exc.strerror}") from None
            kubeconfig = pulumi.Output.secret(_checked(cc, text, file.parent))
        elif secret is not None:
            kubeconfig = secret.apply(lambda text: _checked(cc, text, None))
        else:
            raise StackConfigError(
                f"no kubeconfig for {cc}: put it at {kubeconfig_path(cc)}, or `pulumi config set "
                f"sitekit:kubeconfigPath FILE -s {cc}` (or `--secret sitekit:kubeconfig`); default providers are "
                "disabled, so nothing deploys without it"
            )
    return k8s.Provider(
        f"cluster-{cc}",
        kubeconfig=kubeconfig,
        enable_server_side_apply=True,
        delete_unreachable=False,
    )
