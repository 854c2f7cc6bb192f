"""sitekit: one typed fleet spec for sovereign AI sites, rendered into Pulumi stacks, Ansible
inventories and host checks."""

__version__ = "0.1.0"
