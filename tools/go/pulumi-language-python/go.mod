// Wrapper module for the Python language host's executor script (built by sitekit.gotools).
// Upstream's language host module (github.com/pulumi/pulumi/sdk/python/cmd/pulumi-language-python/v3)
// is not served by the module proxy these machines reach, so sitekit runs its own host
// (sitekit/engine/langhost.py); the script it runs programs with, `pulumi-language-python-exec`, is
// upstream's, taken from the sdk/v3 module at the engine's release (see docs/ENGINE.md).
module sitekit.local/tools/pulumi-language-python

go 1.26.6

require github.com/pulumi/pulumi/sdk/v3 v3.260.0
