"""Per-host evidence: `sitekit verify` (testinfra checks from tests/hosts), `sitekit scan` (OpenSCAP).

Everything a check finds is written per host as JSON plus JUnit XML, keyed by the control IDs of
`sitekit/controls.yaml`, so report rows, test ids and Ansible tags all come from the same catalogue.
"""
