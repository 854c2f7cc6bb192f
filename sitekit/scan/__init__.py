"""`sitekit scan`: an external measure of a host with OpenSCAP and the SCAP Security Guide.

`content` fetches the Debian 12 data stream without touching this machine's apt setup; `openscap` runs
the scanner inside the host over SSH and explains every failure.
"""
