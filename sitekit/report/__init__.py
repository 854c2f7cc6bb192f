"""`sitekit report`: the fleet view of the evidence `sitekit verify` wrote for every country.

`fleet` is the text and JSON view; the HTML page (`--html`) is `sitekit.fleetpage`.
"""
