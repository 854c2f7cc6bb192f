"""`sitekit verify`: run the testinfra checks of `tests/hosts` against an inventory and write evidence.

`runner` runs one pytest per host with the `plugin` (`-p sitekit.verify.plugin`), which records every
check's outcome as a raw row; `evidence` turns them into per-host JSON and JUnit XML keyed by the control
IDs of `sitekit/controls.yaml`, so report rows, test ids and Ansible tags come from the same catalogue.
"""
