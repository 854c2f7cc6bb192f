"""The code the host checks of `tests/hosts` share, and that product code reads the same way.

- `expect`: what a host should look like, from the roles' defaults rendered against its inventory
  variables (the checks' expectations; also the access map's);
- `nft`: the live nftables ruleset (`nft -j list ruleset`) as paths a new connection can take;
- `inventory`: an Ansible inventory read the way Ansible reads it, and how to reach its hosts;
- `catalogue`: the control catalogue as the checks and `sitekit verify` look controls up.

It lives in the package, not in `tests/`, because `sitekit verify`, `sitekit scan` and the access map
read it too, and product code never imports from tests.
"""
