"""`sitekit plan`: the stack program run under recording mocks, its manifests, and their offline checks.

The program in `stacks/` is run as a program (never imported from here); the checks are strict schema
validation for the site's Kubernetes version, the `sitekit.policy` functions, and a reachability analysis
of the NetworkPolicies.
"""
