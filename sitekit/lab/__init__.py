"""Local lab hosts for rehearsal and tests: real Debian hosts (containers or VMs) on one machine.

`sitekit lab up <cc>` starts one host per spec host, on the spec's own addresses, inside a lab network
namespace with an in-country package mirror; `down` removes everything it created. See `lab.py`.
"""
