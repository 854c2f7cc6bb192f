"""sitekit's CrossGuard pack: `pulumi preview -s <cc> --policy-pack policies/`.

Only builds the pack; the rules live in `sitekit.policy` so `sitekit plan` and the tests run the same
functions without starting the policy server that `PolicyPack` starts.
"""

from pulumi_policy import EnforcementLevel, PolicyPack

from sitekit.policy.pack import PACK_NAME, crossguard_policies

PolicyPack(name=PACK_NAME, enforcement_level=EnforcementLevel.MANDATORY, policies=crossguard_policies())
